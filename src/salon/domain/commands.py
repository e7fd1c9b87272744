"""Conversation commands (``/online`` ...) recognised at the start of a query."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    available: bool


# The spec's commands. None is implemented on this server yet; each answers a clear message.
COMMANDS: tuple[Command, ...] = (
    Command("default", "Chat with the model, using the conversation as context.", True),
    Command("notes", "Search only in your notes.", False),
    Command("online", "Search the web.", False),
    Command("code", "Run code to answer questions.", False),
    Command("image", "Generate an image.", False),
    Command("diagram", "Create a diagram.", False),
    Command("research", "Perform deep research with multiple iterations.", False),
)
_BY_NAME = {c.name: c for c in COMMANDS}


def parse_command(q: str) -> tuple[Command | None, str]:
    """Split a leading ``/command`` off a query. Unknown ``/words`` are ordinary text."""
    stripped = q.lstrip()
    if not stripped.startswith("/"):
        return None, q
    word, _, rest = stripped[1:].partition(" ")
    command = _BY_NAME.get(word.lower())
    if command is None or command.name == "default":
        return None, q
    return command, rest.strip()


def unavailable_message(command: Command) -> str:
    return (
        f"The /{command.name} command ({command.description.rstrip('.').lower()}) is not "
        "available on this server. Send your message without the command to chat with the model."
    )
