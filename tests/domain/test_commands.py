"""Recognising conversation commands."""

from __future__ import annotations

import pytest

from salon.domain.commands import (
    COMMANDS,
    CannedReply,
    Command,
    canned_reply,
    commands_here,
    help_text,
    parse_command,
    unavailable_message,
)


@pytest.mark.parametrize(
    "name", ["notes", "online", "code", "image", "diagram", "research", "help"])
def test_spec_commands_are_recognised(name: str) -> None:
    command, rest = parse_command(f"/{name} what is new?")
    assert command is not None and command.name == name and rest == "what is new?"
    assert f"/{name}" in unavailable_message(command)


@pytest.mark.parametrize("q", ["hello", "/unknown thing", "a /online b", ""])
def test_other_text_is_not_a_command(q: str) -> None:
    assert parse_command(q) == (None, q)


def test_command_case_insensitive() -> None:
    command, _ = parse_command("/ONLINE x")
    assert command is not None and command.name == "online"


def test_every_spec_command_listed_once() -> None:
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))


def test_diagram_and_help_run_here() -> None:
    for name in ("diagram", "help"):
        command, _ = parse_command(f"/{name}")
        assert command is not None and command.available
    diagram, _ = parse_command("/diagram x")
    assert diagram is not None and canned_reply(diagram) is None


def test_help_lists_usable_commands_and_why_the_others_are_not() -> None:
    text = help_text(COMMANDS)
    usable, _, missing = text.partition("Not available on this server:")
    assert "- `/diagram`: Create a diagram." in usable and "/default" not in text
    assert "- `/online`: Search the web. (not part of this version of Salon yet)" in missing
    help_command, _ = parse_command("/help")
    assert help_command is not None
    assert canned_reply(help_command) == CannedReply("Listing the commands", text)


def test_an_unavailable_command_says_why() -> None:
    unavailable = Command("online", "Search the web.", False, "needs SALON_SEARXNG_URL")
    reply = canned_reply(unavailable)
    assert reply is not None and "(needs SALON_SEARXNG_URL)" in reply.text
    assert reply.status == "/online is not available on this server"


def test_image_runs_where_the_settings_provide_it() -> None:
    image, _ = parse_command("/image a red fox")
    assert image is not None and not image.available
    reply = canned_reply(image, commands_here(set()))
    assert reply is not None and "SALON_IMAGE_BASE_URL and SALON_IMAGE_MODEL" in reply.text
    here = commands_here({"image", "online"})  # only configurable commands turn on
    assert canned_reply(image, here) is None
    assert not next(c for c in here if c.name == "online").available
    text = help_text(here)
    assert "- `/image`: Generate an image." in text.partition("Not available")[0]
    assert canned_reply(Command("help", "", True), here) == CannedReply(
        "Listing the commands", text)
