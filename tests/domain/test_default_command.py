"""``/default`` (Khoj's clients send it for plain chat) is a command: the model never sees it."""

from __future__ import annotations

import pytest

from salon.domain.commands import parse_command


@pytest.mark.parametrize(("q", "rest"), [
    ("/default hi", "hi"), ("  /DEFAULT   what is new? ", "what is new?"), ("/default", ""),
])
def test_default_is_stripped_and_is_plain_chat(q: str, rest: str) -> None:
    assert parse_command(q) == (None, rest)


def test_default_inside_a_message_is_text() -> None:
    assert parse_command("say /default") == (None, "say /default")
