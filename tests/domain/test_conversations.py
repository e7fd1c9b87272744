"""Pure rules of conversations: history slicing, titles, slugs, parts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salon.domain.conversations import (
    MAX_TITLE_CHARS,
    Message,
    clean_title,
    message_text,
    slice_history,
    slugify,
    title_from_query,
    validate_part,
)
from salon.domain.errors import InvalidInput

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def msgs(count: int) -> list[Message]:
    return [Message(id=str(i), conversation_id="c", seq=i, role="user",
                    parts=[{"type": "text", "text": str(i)}], created_at=T0)
            for i in range(count)]


@pytest.mark.parametrize(
    ("count", "n", "expected"),
    [(5, None, [0, 1, 2, 3, 4]), (5, 0, [0, 1, 2, 3, 4]), (5, 2, [3, 4]), (5, -2, [0, 1, 2]),
     (5, 10, [0, 1, 2, 3, 4]), (5, -10, []), (0, 3, [])],
)
def test_slice_history_table(count: int, n: int | None, expected: list[int]) -> None:
    assert [m.seq for m in slice_history(msgs(count), n)] == expected


@given(count=st.integers(0, 30), n=st.integers(1, 40))
def test_slice_history_positive_and_negative_partition(count: int, n: int) -> None:
    all_messages = msgs(count)
    last = slice_history(all_messages, n)
    rest = slice_history(all_messages, -n)
    assert rest + last == all_messages
    assert len(last) == min(n, count)


@given(st.text(max_size=300))
def test_clean_title_is_printable_trimmed_or_refused(raw: str) -> None:
    try:
        title = clean_title(raw)
    except InvalidInput:
        cleaned = " ".join("".join(c if c.isprintable() else " " for c in raw).split())
        assert not cleaned or len(cleaned) > MAX_TITLE_CHARS
        return
    assert title == title.strip() and "  " not in title
    assert all(ch.isprintable() for ch in title) and 0 < len(title) <= MAX_TITLE_CHARS


@given(st.text(max_size=500))
def test_slugify_is_url_safe_and_never_empty(title: str) -> None:
    slug = slugify(title)
    assert slug and len(slug) <= 80
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in slug)
    assert not slug.startswith("-") and not slug.endswith("-")


def test_title_from_query() -> None:
    assert title_from_query("  hello\n world ") == "hello world"
    long = title_from_query("word " * 40)
    assert len(long) <= 60 and long.endswith("…")
    assert title_from_query("   ") == "New chat"


def test_validate_part_refuses_unknown_type_and_fields() -> None:
    assert validate_part({"type": "text", "text": "x"}) == {"type": "text", "text": "x"}
    with pytest.raises(InvalidInput):
        validate_part({"type": "script", "text": "x"})
    with pytest.raises(InvalidInput):
        validate_part({"type": "text", "text": "x", "onclick": "y"})


def test_message_text_joins_text_parts_only() -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "thought", "text": "hidden"},
             {"type": "text", "text": "b"}]
    assert message_text(parts) == "a\n\nb"
