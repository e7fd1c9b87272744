"""Salon chat files as pure functions: what ``to_document`` writes, ``parse_document`` reads
back the same, whatever the text; and the fingerprint names the content, not the export."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salon.domain import salon_json
from salon.domain.conversations import Conversation, Message
from salon.domain.errors import InvalidInput

T0 = datetime(2025, 5, 4, 10, 0, tzinfo=UTC)
CONV = Conversation(id="c1", user_id="u1", title="A chat", slug="a-chat", agent_slug="salon",
                    recipe={"model": "m"}, file_filters=[], created_at=T0, updated_at=T0)
FILE_ROW = {"id": "f1", "name": "notes.txt", "media_type": "text/plain"}

texts = st.text(max_size=200)
parts = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, texts),
    st.builds(lambda t: {"type": "thought", "text": t}, texts),
    st.builds(lambda c, o: {"type": "code", "language": "python", "code": c, "output": o},
              texts, texts),
    st.builds(lambda t, u: {"type": "citation", "title": t, "url": u, "snippet": t}, texts,
              texts),
    st.builds(lambda rows: {"type": "table", "columns": ["a"], "rows": [[r] for r in rows]},
              st.lists(st.one_of(st.integers(), texts, st.none()), max_size=5)),
    st.just({"type": "file", "file_id": "f1", "name": "notes.txt",
             "media_type": "text/plain", "size": 5}),
)


def message(seq: int, role: str, message_parts: list[dict[str, object]]) -> Message:
    return Message(id=f"m{seq}", conversation_id="c1", seq=seq, role=role,  # type: ignore[arg-type]
                   parts=message_parts, created_at=T0 + timedelta(seconds=seq),
                   turn_id=f"t{seq // 2}", model="m" if role == "assistant" else None,
                   usage={"total_tokens": seq})


@given(st.lists(st.lists(parts, max_size=4), max_size=6))
def test_what_is_written_is_read_back(conversation: list[list[dict[str, object]]]) -> None:
    messages = [message(i, ("user", "assistant")[i % 2], p) for i, p in enumerate(conversation)]
    document = salon_json.to_document(CONV, messages, [(FILE_ROW, b"hello")], now=T0)
    parsed = salon_json.parse_document(json.loads(json.dumps(document)))
    assert parsed.title == CONV.title and parsed.recipe == CONV.recipe
    assert parsed.created_at == T0 and [f.data for f in parsed.files] == [b"hello"]
    assert [(m.role, m.created_at, m.model, m.usage, m.turn_id) for m in parsed.messages] == [
        (m.role, m.created_at, m.model, m.usage, m.turn_id) for m in messages]
    assert [m.parts for m in parsed.messages] == [without_nul(m.parts) for m in messages]


def without_nul(value: object) -> object:
    """``value`` as the database will keep it: NUL characters in text become U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {k: without_nul(v) for k, v in value.items()}
    return value


def test_the_fingerprint_ignores_the_export_time_but_not_the_content() -> None:
    one = salon_json.to_document(CONV, [message(0, "user", [{"type": "text", "text": "hi"}])],
                                 [], now=T0)
    later = {**one, "exported_at": (T0 + timedelta(days=1)).isoformat()}
    other = json.loads(json.dumps(one))
    other["conversation"]["messages"][0]["parts"][0]["text"] = "hello"
    prints = [salon_json.parse_document(d).fingerprint for d in (one, later, other)]
    assert prints[0] == prints[1] != prints[2]


@pytest.mark.parametrize("title", ["", "   ", "\x00\x01"])
def test_an_empty_title_becomes_the_default(title: str) -> None:
    document = salon_json.to_document(CONV, [], [], now=T0)
    document["conversation"]["title"] = title
    assert salon_json.parse_document(document).title == "New chat"


def test_a_long_title_is_cut_to_the_limit() -> None:
    document = salon_json.to_document(CONV, [], [], now=T0)
    document["conversation"]["title"] = "x" * 5_000
    assert salon_json.parse_document(document).title == "x" * 200


@pytest.mark.parametrize("value", [None, "text", 42, [], {"format": "other"}])
def test_anything_else_is_not_a_salon_file(value: object) -> None:
    assert not salon_json.is_document(value)
    with pytest.raises(InvalidInput) as caught:
        salon_json.parse_document(value)
    assert caught.value.code == "UNSUPPORTED_IMPORT_FORMAT"
