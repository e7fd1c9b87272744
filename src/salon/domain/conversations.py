"""Conversations and messages: the typed message parts and the pure rules around them.

A message is an ordered list of parts. Parts are plain JSON-able dicts with a ``type``; this module
is the one place that knows which types exist and which fields each may carry, so storage, the
renderer and the share snapshot all agree.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from salon.domain.errors import InvalidInput

Role = Literal["user", "assistant", "system"]
MessageStatus = Literal["complete", "interrupted", "error"]

# type -> fields a part of that type may carry (besides "type").
PART_FIELDS: dict[str, frozenset[str]] = {
    "text": frozenset({"text"}),
    "thought": frozenset({"text"}),
    "tool_call": frozenset({"id", "name", "arguments", "result"}),
    "citation": frozenset({"title", "url", "snippet", "source"}),
    "image": frozenset({"file_id", "name", "media_type", "size", "alt", "url"}),
    "file": frozenset({"file_id", "name", "media_type", "size"}),
    "table": frozenset({"columns", "rows", "caption"}),
    "chart": frozenset({"spec", "title"}),
    "code": frozenset({"language", "code", "output"}),
    "diagram": frozenset({"format", "source"}),
}
PART_TYPES = frozenset(PART_FIELDS)

MAX_TITLE_CHARS = 200
DEFAULT_TITLE = "New chat"


@dataclass(frozen=True)
class Message:
    id: str
    conversation_id: str
    seq: int
    role: Role
    parts: list[dict[str, Any]]
    created_at: datetime
    turn_id: str | None = None
    model: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    status: MessageStatus = "complete"

    @property
    def text(self) -> str:
        return message_text(self.parts)


@dataclass(frozen=True)
class Conversation:
    id: str
    user_id: str
    title: str
    slug: str
    agent_slug: str
    recipe: dict[str, Any]
    file_filters: list[str]
    created_at: datetime
    updated_at: datetime


def validate_part(part: Mapping[str, Any]) -> dict[str, Any]:
    """Return a clean copy of ``part``; raise InvalidInput for unknown types or fields."""
    kind = part.get("type")
    if kind not in PART_TYPES:
        raise InvalidInput(f"Unknown message part type: {kind!r}.")
    unknown = set(part) - PART_FIELDS[str(kind)] - {"type"}
    if unknown:
        raise InvalidInput(f"Unknown field(s) for a {kind} part: {', '.join(sorted(unknown))}.")
    return dict(part)


def message_text(parts: Sequence[Mapping[str, Any]]) -> str:
    """The plain text of a message: its text parts joined (what the Khoj history calls message)."""
    return "\n\n".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


def slice_history(messages: Sequence[Message], n: int | None) -> list[Message]:
    """``n`` > 0: the last n messages; ``n`` < 0: all but the last |n|; None or 0: all."""
    if not n:
        return list(messages)
    if n > 0:
        return list(messages[-n:])
    return list(messages[:n])


# What no database stores as text: NUL (PostgreSQL refuses it) and a lone UTF-16 surrogate
# (JSON's "\ud800" with no partner: not Unicode text, so not encodable as UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_storable(text: str) -> bool:
    """Whether ``text`` can be stored as it is (no NUL, no lone surrogate)."""
    return _UNSTORABLE.search(text) is None


def clean_title(title: str) -> str:
    """Collapse whitespace and control characters; refuse an empty or over-long title."""
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in title).split())
    if not cleaned:
        raise InvalidInput("The title cannot be empty.")
    if len(cleaned) > MAX_TITLE_CHARS:
        raise InvalidInput(f"The title can be at most {MAX_TITLE_CHARS} characters.")
    return cleaned


def title_from_query(q: str) -> str:
    """A conversation's first title: the start of its first question, on one line."""
    words = " ".join(q.split())
    if not words:
        return DEFAULT_TITLE
    if len(words) <= 60:
        return words
    return words[:57].rsplit(" ", 1)[0] + "…"


def slugify(title: str) -> str:
    """ASCII, lowercase, hyphen-separated; never empty."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:80].strip("-") or "chat"
