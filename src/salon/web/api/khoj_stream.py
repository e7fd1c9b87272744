"""How ``POST /api/chat`` frames its answer, chosen by what the client asks for.

- ``Accept: text/event-stream``: server-sent events, ``data: {"type", "data"}`` each (Salon's
  chat page).
- ``?client=obsidian|desktop|web|android|emacs`` (Khoj's own clients): Khoj's framing, each
  event a JSON ``{"type", "data"}`` followed by Khoj's delimiter ``␃🔚␗``. Its clients split
  the body on the delimiter and ``JSON.parse`` each piece.
- Anything else: one JSON object a line (``application/x-ndjson``), which the spec's Python
  example reads with ``iter_lines`` and ``json.loads``.

Without ``stream`` in the body, Khoj's clients get one JSON body (what Khoj's server does: its
``stream`` defaults to false, and ``khoj.el`` parses the answer as one JSON object); other
clients get a stream, as the spec says.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from salon.services import chat as chat_service

Framing = Literal["sse", "khoj", "ndjson"]

KHOJ_CLIENTS = frozenset({"obsidian", "desktop", "web", "android", "emacs"})
KHOJ_DELIMITER = "\u2403\U0001f51a\u2417"  # ␃🔚␗
MEDIA_TYPES: dict[Framing, str] = {
    "sse": "text/event-stream",
    "khoj": "text/plain; charset=utf-8",  # what Khoj's server sends
    "ndjson": "application/x-ndjson",
}


def is_khoj_client(client: str | None) -> bool:
    return client is not None and client.lower() in KHOJ_CLIENTS


def choose_framing(*, accept: str, client: str | None) -> Framing:
    """An explicit ``text/event-stream`` wins; then Khoj's clients; then JSON lines."""
    if "text/event-stream" in accept.lower():
        return "sse"
    return "khoj" if is_khoj_client(client) else "ndjson"


def wants_stream(stream: bool | None, *, client: str | None) -> bool:
    """``stream`` as sent; when absent, Khoj's clients get one JSON body, others a stream."""
    return stream if stream is not None else not is_khoj_client(client)


def event_json(event_type: str, data: Any) -> str:
    return json.dumps({"type": event_type, "data": data}, ensure_ascii=False)


async def encode(events: AsyncIterator[chat_service.Event], framing: Framing
                 ) -> AsyncIterator[str]:
    async for event in events:
        if framing == "khoj":
            for frame in khoj_frames(event):
                yield frame
        elif framing == "sse":
            yield f"data: {event_json(event.type, event.data)}\n\n"
        else:
            yield f"{event_json(event.type, event.data)}\n"


def khoj_frames(event: chat_service.Event) -> list[str]:
    """An event in Khoj's framing. Messages are typed JSON too, never raw text, so an answer
    that starts with ``{`` is not mistaken for an event. The delimiter's first character is
    written as ``\\u2403`` inside JSON, so a model that writes the delimiter cannot split an
    event. An error also comes as a message, as Khoj's clients show only messages."""
    frames = [event_json(event.type, event.data)]
    if event.type == "error":
        frames.append(event_json("message", f"⚠️ {event.data['detail']}"))
    return [f.replace("\u2403", "\\u2403") + KHOJ_DELIMITER for f in frames]
