"""A shared chat as Open WebUI's share page (``/s/{id}``) reads it: the ``chat`` object of
``GET /api/v1/chats/share/{id}``, with its ``messages`` list and its ``history`` tree.

Built only from what a viewer may see (``SharedView``): message ids are positions in the
shared chat ("1", "2", ...), never the stored ids, and there is no owner id or e-mail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from salon.domain.conversations import message_text
from salon.services.share_viewing import SharedView


def shared_chat(view: SharedView) -> dict[str, Any]:
    """``title``, ``models``, ``timestamp`` (milliseconds, as Open WebUI stores it), the
    messages in order, and the same messages as a one-branch ``history`` ending at the last."""
    messages = _messages(view.messages)
    return {
        "title": view.title,
        "models": sorted({m["model"] for m in messages if m.get("model")}),
        "timestamp": int(view.created_at.timestamp() * 1000),
        "messages": messages,
        "history": {"messages": {m["id"]: m for m in messages},
                    "currentId": messages[-1]["id"] if messages else None},
    }


def _messages(shared: list[dict[str, Any]]) -> list[dict[str, Any]]:
    count = len(shared)
    return [
        {
            "id": str(i),
            "parentId": str(i - 1) if i > 1 else None,
            "childrenIds": [str(i + 1)] if i < count else [],
            "role": m["role"],
            "content": message_text(m["parts"]),
            "timestamp": int(datetime.fromisoformat(m["created_at"]).timestamp()),
            "model": m.get("model"),
            "done": True,
        }
        for i, m in enumerate(shared, start=1)
    ]
