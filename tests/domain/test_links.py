"""Share link ids: the random default and the rules for a custom id."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salon.domain.errors import InvalidInput
from salon.domain.links import (
    COMMON_IDS,
    MAX_SHARE_ID_CHARS,
    MIN_SHARE_ID_CHARS,
    RESERVED_IDS,
    clean_share_id,
    is_guessable_share_id,
    new_share_id,
    validate_share_id,
)

ALLOWED = re.compile(r"[A-Za-z0-9\-._~]*")
# Route words next to share ids in the API (/api/v1/chats/shared/meta, .../bulk, .../all,
# .../revoked, .../share/{id}/verify, .../files.zip): these must never be link ids.
ROUTE_WORDS = {"shared", "share", "meta", "bulk", "all", "revoked", "verify", "files.zip",
               "clone", "restore", "rotate"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("my-chat", "my-chat"),
        ("my chat", "my-chat"),
        ("  my   chat  ", "my-chat"),
        ("a\tb\nc", "a-b-c"),
        ("a\u00a0b", "a-b"),  # a non-breaking space is a space too
        ("A-Z_a.z~09", "A-Z_a.z~09"),
        ("hello!world?", "helloworld"),
        ("50%off#1&x=2", "50off1x2"),
        ("a/b\\c", "abc"),
        ("../../etc", "....etc"),
        ("<script>alert(1)</script>", "scriptalert1script"),
        ("café-ünïcode", "caf-ncode"),
        ("日本語", ""),
        ("emoji 🎉 party", "emoji--party"),
        ("ａｂｃ", ""),  # full-width letters are not ASCII letters
        ("", ""),
        ("   ", ""),
    ],
)
def test_clean_share_id(raw: str, expected: str) -> None:
    assert clean_share_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("my chat", "my-chat"), ("Quarterly Report 2024!", "Quarterly-Report-2024"),
     ("a" * MAX_SHARE_ID_CHARS, "a" * MAX_SHARE_ID_CHARS), ("abcd", "abcd"), ("....", "...."),
     ("apis", "apis"), ("shared-notes", "shared-notes"), ("my-api", "my-api"), ("~~~~", "~~~~"),
     (" a b c ", "a-b-c")],
)
def test_validate_share_id_accepts(raw: str, expected: str) -> None:
    assert validate_share_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "!!!", "日本語", "🎉", "a" * (MAX_SHARE_ID_CHARS + 1), "a b" * 100, ".", "..",
     " . ", "..\u3000"],
)
def test_validate_share_id_refuses(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_share_id(raw)
    assert info.value.extra.get("field") == "share_id"
    assert info.value.detail


@pytest.mark.parametrize("raw", ["x", "ab", "abc", "...", "~", " a b ", "a!b!c!", "x\u00e9yz"])
def test_custom_ids_shorter_than_four_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_share_id(raw)
    assert info.value.detail == ("The custom link needs at least 4 characters (a shorter one "
                                 "is easy to guess).")
    assert info.value.extra.get("field") == "share_id"


@pytest.mark.parametrize(
    ("cleaned", "guessable"),
    [("abcd", True), ("my-notes", True), ("Password", True), ("QWERTYUIOP", True),
     ("12345678", True), ("2024-01-31", True), ("0.1.2.3.4.5", True), ("1234567", True),
     ("abcdefg", True), ("trip-2030-lisbon", False), ("Quarterly-Report-2024", False),
     ("a1b2c3d4", False), ("passwords", False), (new_share_id(), False)],
)
def test_easy_to_guess_custom_ids(cleaned: str, guessable: bool) -> None:
    assert is_guessable_share_id(cleaned) is guessable
    validate_share_id(cleaned)  # allowed all the same (the dialog warns)


def test_common_ids_are_lower_case_allowed_and_long_enough_to_matter() -> None:
    for word in COMMON_IDS:
        assert word == word.lower() and validate_share_id(word) == word
        assert len(word) >= 8  # shorter ones are guessable by their length alone


def test_the_length_limit_is_144() -> None:
    assert MAX_SHARE_ID_CHARS == 144


@pytest.mark.parametrize("word", sorted(RESERVED_IDS | ROUTE_WORDS))
@pytest.mark.parametrize("spelling", [str, str.upper, str.title, lambda w: f"  {w} "])
def test_reserved_words_are_refused_in_any_case(word: str, spelling: object) -> None:
    assert callable(spelling)
    with pytest.raises(InvalidInput):
        validate_share_id(spelling(word))


@pytest.mark.parametrize("raw", ["a!p?i", "s%hared", "<meta>", "Files.ZIP!", "nu\u0308ll"])
def test_a_reserved_word_left_after_cleaning_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        validate_share_id(raw)


def test_new_share_ids_are_22_url_safe_characters_and_valid_as_they_are() -> None:
    ids = [new_share_id() for _ in range(300)]
    for link in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", link)
        assert validate_share_id(link) == link
        assert clean_share_id(link) == link
    assert len(set(ids)) == len(ids)


@given(st.text(max_size=300))
def test_cleaned_ids_only_hold_allowed_characters_and_cleaning_is_idempotent(raw: str) -> None:
    cleaned = clean_share_id(raw)
    assert ALLOWED.fullmatch(cleaned)
    assert clean_share_id(cleaned) == cleaned


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=200) | st.text(max_size=200))
def test_a_valid_id_is_the_cleaned_id_or_refused(raw: str) -> None:
    cleaned = clean_share_id(raw)
    try:
        link = validate_share_id(raw)
    except InvalidInput:
        assert (len(cleaned) < MIN_SHARE_ID_CHARS or len(cleaned) > MAX_SHARE_ID_CHARS
                or cleaned.lower() in RESERVED_IDS)
        return
    assert link == cleaned and MIN_SHARE_ID_CHARS <= len(link) <= MAX_SHARE_ID_CHARS
    assert link not in {".", ".."} and link.lower() not in RESERVED_IDS | ROUTE_WORDS
    assert validate_share_id(link) == link
