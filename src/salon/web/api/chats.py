"""Chat resources with Open WebUI's shapes (``/api/v1/chats``) on the same conversation ids."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic.config import JsonDict

from salon.domain.conversations import Conversation, Message
from salon.services import conversations as conv_service
from salon.services import exporting, shares
from salon.web.deps import Ctx, CurrentUser
from salon.web.downloads import DOWNLOAD_HEADERS, content_disposition

router = APIRouter(prefix="/api/v1/chats", tags=["chats"])

PAGE_SIZE = 50


def epoch(conv_time: Any) -> int:
    return int(conv_time.timestamp())


def message_json(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "role": m.role,
        "content": m.text,
        "parts": m.parts,
        "timestamp": epoch(m.created_at),
        "model": m.model,
        "usage": m.usage,
        "status": m.status,
        "turn_id": m.turn_id,
    }


def chat_json(conv: Conversation, messages: list[Message], *,
              share_id: str | None = None) -> dict[str, Any]:
    """The chat in Open WebUI's shape; ``share_id`` is the link of its share (null when not
    shared or the link was revoked), as Open WebUI's share dialog reads it."""
    models = sorted({m.model for m in messages if m.model})
    return {
        "id": conv.id,
        "user_id": conv.user_id,
        "title": conv.title,
        "chat": {
            "title": conv.title,
            "models": models,
            "messages": [message_json(m) for m in messages],
        },
        "recipe": conv.recipe,
        "created_at": epoch(conv.created_at),
        "updated_at": epoch(conv.updated_at),
        "archived": False,
        "pinned": False,
        "meta": {},
        "folder_id": None,
        "share_id": share_id,
    }


@router.get("/")
async def list_chats(
    response: Response, user: CurrentUser, ctx: Ctx,
    page: int = Query(default=1, ge=1, le=100_000),
    page_size: int = Query(default=PAGE_SIZE, ge=1, le=100),
) -> Any:
    """The user's chats, most recently updated first, ``page_size`` a page (total in the
    ``X-Total-Count`` header)."""
    items, total = await conv_service.list_conversations(
        ctx, user, limit=page_size, offset=(page - 1) * page_size
    )
    response.headers["X-Total-Count"] = str(total)
    return [
        {"id": c.id, "title": c.title, "created_at": epoch(c.created_at),
         "updated_at": epoch(c.updated_at)}
        for c in items
    ]


# The formats exporting.check_export_format accepts (FORMAT_NOT_SUPPORTED otherwise).
EXPORT_FORMAT: JsonDict = {"enum": list(exporting.EXPORT_FORMATS)}


@router.get("/{chat_id}/export")
async def export_chat(
    chat_id: str, user: CurrentUser, ctx: Ctx,
    format: str = Query(default="json", max_length=20,
                        json_schema_extra=EXPORT_FORMAT),
) -> Response:
    """Download the conversation as a file. ``format=json``: Salon's own conversation file
    (every message part, times, models, usage, the recipe, files embedded), which
    ``POST /api/v1/chats/import`` reads back."""
    exported = await exporting.export_file(ctx, user, chat_id, format)
    return Response(exported.body, media_type=exported.media_type, headers={
        "Content-Disposition": content_disposition(exported.name, inline=False),
        **DOWNLOAD_HEADERS, "Cache-Control": "no-store"})


@router.get("/{chat_id}")
async def get_chat(chat_id: str, user: CurrentUser, ctx: Ctx) -> Any:
    conv, messages = await conv_service.get_history(ctx, user, chat_id)
    return chat_json(conv, messages, share_id=await shares.get_link(ctx, user, chat_id))


@router.delete("/{chat_id}")
async def delete_chat(chat_id: str, user: CurrentUser, ctx: Ctx) -> Any:
    await conv_service.delete_conversation(ctx, user, chat_id)
    return True
