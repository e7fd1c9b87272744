"""Tools: the commands of spec 001 (and, later, model tool calls) that make message parts.

A tool is an async generator of ``ToolEvent``s: any number of ``ToolStatus`` (shown to the
user as ``status`` stream events while it works), then exactly one ``ToolResult``. The chat
service runs tools and stores their results; routes never do. A tool raises
``ProviderError`` when the model fails, as a plain answer would.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from salon.llm.base import ChatMessage, GenerationParams, Provider


@dataclass(frozen=True)
class ToolStatus:
    """What the tool is doing now, in words for the user."""

    text: str


@dataclass(frozen=True)
class MadeFile:
    """A file a tool made: the chat service stores ``data`` as a blob with a file row and
    adds a ``kind`` part (``image`` or ``file``) for it after the result's ``parts``."""

    kind: str
    name: str
    media_type: str
    data: bytes
    alt: str = ""


@dataclass(frozen=True)
class ToolResult:
    """What the answer says (``text``, a short Markdown line) and shows (``parts``, stored
    after the text part, then one part per file of ``files``). ``error_code`` is set when the
    tool could not make what was asked: ``text`` then says why, and the answer is stored as
    failed."""

    text: str
    parts: list[dict[str, Any]] = field(default_factory=list)
    files: list[MadeFile] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    error_code: str | None = None


ToolEvent = ToolStatus | ToolResult


def with_instructions(messages: list[ChatMessage], instructions: str) -> list[ChatMessage]:
    """``messages`` with ``instructions`` appended to the system prompt (one is added first
    when there is none)."""
    if messages and messages[0].role == "system":
        system = messages[0]
        return [replace(system, content=f"{system.content}\n\n{instructions}"), *messages[1:]]
    return [ChatMessage("system", instructions), *messages]


async def complete(
    provider: Provider, messages: list[ChatMessage], params: GenerationParams,
    usage: dict[str, int],
) -> str:
    """The model's whole reply (thoughts left out); its token counts are added to ``usage``."""
    text: list[str] = []
    async for chunk in provider.stream(messages, params):
        text.append(chunk.text)
        for key, value in (chunk.usage or {}).items():
            usage[key] = usage.get(key, 0) + value
    return "".join(text)
