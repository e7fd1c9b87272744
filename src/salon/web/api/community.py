"""Community sharing: ``POST /api/v1/chats/{chat_id}/share/community`` publishes a snapshot of
the chat to the configured hub; ``POST /api/v1/community/chats`` is the hub's side."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from salon.domain import salon_json
from salon.domain.errors import InvalidInput
from salon.services import community
from salon.web.api.shares import share_json
from salon.web.deps import Ctx, CurrentUser

router = APIRouter(tags=["sharing"])


@router.post("/api/v1/chats/{chat_id}/share/community")
async def share_to_community(chat_id: str, user: CurrentUser, ctx: Ctx) -> Any:
    """Publish a snapshot of your chat to the community hub (``ENABLE_COMMUNITY_SHARING``);
    answers ``{"url"}``, the chat's public link on the hub."""
    return {"url": await community.publish(ctx, user, chat_id)}


# Read by the route itself: documented here (``community.receive`` checks the rest).
COMMUNITY_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["format"],
    "properties": {"format": {"const": salon_json.FORMAT}},
    "description": "One Salon conversation file, as GET /api/v1/chats/{chat_id}/export "
                   "gives."}}}}}


@router.post("/api/v1/community/chats", openapi_extra=COMMUNITY_BODY)
async def receive_community_chat(request: Request, user: CurrentUser, ctx: Ctx) -> Any:
    """On a hub (``SALON_ACCEPT_COMMUNITY_SHARES``): a Salon chat file published by another
    Salon with a token of yours becomes one of your chats with a public snapshot link."""
    try:
        document = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise InvalidInput("The body is not valid JSON.", code="INVALID_JSON") from None
    share = await community.receive(ctx, user, document)
    return {"url": share_json(share, request=request, ctx=ctx)["url"],
            "share_id": share.share_id, "chat_id": share.conversation_id}
