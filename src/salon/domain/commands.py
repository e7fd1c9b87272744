"""Conversation commands (``/online`` ...) recognised at the start of a query."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, replace

NOT_BUILT = "not part of this version of Salon yet"


@dataclass(frozen=True)
class Command:
    """A command; an unavailable one says why in ``unavailable_reason`` (what to configure,
    or that this version of Salon does not have it)."""

    name: str
    description: str
    available: bool
    unavailable_reason: str = NOT_BUILT


# The spec's commands, plus /help. Unavailable ones answer a clear message.
COMMANDS: tuple[Command, ...] = (
    Command("default", "Chat with the model, using the conversation as context.", True),
    Command("help", "List the commands this server can run.", True),
    Command("notes", "Search only in your notes.", False),
    Command("online", "Search the web.", False),
    Command("code", "Run code to answer questions.", False),
    Command("image", "Generate an image.", False,
            "set SALON_IMAGE_BASE_URL and SALON_IMAGE_MODEL to an OpenAI-compatible images API"),
    Command("diagram", "Create a diagram.", True),
    Command("research", "Perform deep research with multiple iterations.", False),
)
_BY_NAME = {c.name: c for c in COMMANDS}
CONFIGURABLE = frozenset({"image"})  # unavailable until the server's settings provide them


def commands_here(configured: Set[str]) -> tuple[Command, ...]:
    """``COMMANDS`` on a server whose settings provide the ``configured`` ones of
    ``CONFIGURABLE`` (those become available; the others keep the reason saying what to
    set)."""
    return tuple(replace(c, available=True) if c.name in configured & CONFIGURABLE else c
                 for c in COMMANDS)


@dataclass(frozen=True)
class CannedReply:
    """An answer Salon gives itself, without asking the model: ``status`` for the stream's
    status event, ``text`` for the answer."""

    status: str
    text: str


def parse_command(q: str) -> tuple[Command | None, str]:
    """Split a leading ``/command`` off a query. Unknown ``/words`` are ordinary text."""
    stripped = q.lstrip()
    if not stripped.startswith("/"):
        return None, q
    word, _, rest = stripped[1:].partition(" ")
    command = _BY_NAME.get(word.lower())
    if command is None:
        return None, q
    if command.name == "default":  # Khoj's clients send it: plain chat, without the word
        return None, rest.strip()
    return command, rest.strip()


def canned_reply(
    command: Command, commands: tuple[Command, ...] | None = None
) -> CannedReply | None:
    """Salon's own answer to ``command`` (``/help``, or any unavailable command); None when
    the command is to be run. With ``commands`` (this server's, from ``commands_here``),
    ``command`` is taken from them, and ``/help`` lists them."""
    if commands is not None:
        command = next((c for c in commands if c.name == command.name), command)
    if not command.available:
        return CannedReply(f"/{command.name} is not available on this server",
                           unavailable_message(command))
    if command.name == "help":
        return CannedReply("Listing the commands", help_text(commands or COMMANDS))
    return None


def unavailable_message(command: Command) -> str:
    return (
        f"The /{command.name} command ({command.description.rstrip('.').lower()}) is not "
        f"available on this server ({command.unavailable_reason}). Send your message without "
        "the command to chat with the model."
    )


def help_text(commands: tuple[Command, ...]) -> str:
    """Markdown: the commands this server runs, then the others with the reason for each."""
    usable = [c for c in commands if c.available and c.name != "default"]
    missing = [c for c in commands if not c.available]
    lines = ["Start a message with a command to use it, for example `/diagram how DNS works`.",
             "", "Commands this server can run:", ""]
    lines += [f"- `/{c.name}`: {c.description}" for c in usable]
    lines.append("- Any other message is sent to the model, with the conversation as context.")
    if missing:
        lines += ["", "Not available on this server:", ""]
        lines += [f"- `/{c.name}`: {c.description} ({c.unavailable_reason})" for c in missing]
    return "\n".join(lines)
