"""Tools: the commands of spec 001 (and, later, model tool calls) that make message parts.

A tool is an async generator of ``ToolEvent``s: any number of ``ToolStatus`` (shown to the
user as ``status`` stream events while it works), then exactly one ``ToolResult``. The chat
service runs tools and stores their results; routes never do. A tool raises
``ProviderError`` when the model fails, as a plain answer would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolStatus:
    """What the tool is doing now, in words for the user."""

    text: str


@dataclass(frozen=True)
class ToolResult:
    """What the answer says (``text``, a short Markdown line) and shows (``parts``, stored
    after the text part). ``error_code`` is set when the tool could not make what was asked:
    ``text`` then says why, and the answer is stored as failed."""

    text: str
    parts: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    error_code: str | None = None


ToolEvent = ToolStatus | ToolResult
