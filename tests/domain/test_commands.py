"""Recognising conversation commands."""

from __future__ import annotations

import pytest

from salon.domain.commands import COMMANDS, parse_command, unavailable_message


@pytest.mark.parametrize("name", ["notes", "online", "code", "image", "diagram", "research"])
def test_spec_commands_are_recognised(name: str) -> None:
    command, rest = parse_command(f"/{name} what is new?")
    assert command is not None and command.name == name and rest == "what is new?"
    assert f"/{name}" in unavailable_message(command)


@pytest.mark.parametrize("q", ["hello", "/unknown thing", "a /online b", "/default hi", ""])
def test_other_text_is_not_a_command(q: str) -> None:
    assert parse_command(q) == (None, q)


def test_command_case_insensitive() -> None:
    command, _ = parse_command("/ONLINE x")
    assert command is not None and command.name == "online"


def test_every_spec_command_listed_once() -> None:
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))
