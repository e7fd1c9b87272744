"""The chat page: the sidebar of conversations, one conversation's messages rendered on the
server, and the composer (``static/chat.js`` streams answers from ``POST /api/chat``).

Also the two HTML fragments the script fetches once an answer is complete, so the final answer
is shown by the same renderer as on a reload: the message list and the sidebar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from salon.domain.conversations import Conversation, Message
from salon.domain.users import User
from salon.render import render_message
from salon.services import conversations as conv_service
from salon.services.context import AppContext
from salon.web.deps import Ctx, CurrentUser, OptionalPrincipal
from salon.web.pages.access import to_login
from salon.web.pages.render import render

router = APIRouter()

SIDEBAR_LIMIT = 200


@dataclass(frozen=True)
class MessageView:
    """A message as the page shows it: its parts already rendered to safe HTML."""

    id: str
    role: str
    html: Markup
    status: str
    created_at: datetime


def owner_file_url(file_id: str) -> str:
    """Where the conversation's owner fetches one of their files."""
    return f"/api/v1/files/{quote(file_id, safe='')}/content"


def message_views(messages: Sequence[Message]) -> list[MessageView]:
    return [
        MessageView(id=m.id, role=m.role, status=m.status, created_at=m.created_at,
                    html=render_message(m.parts, file_url=owner_file_url))
        for m in messages if m.role in ("user", "assistant")
    ]


async def sidebar_items(ctx: AppContext, user: User) -> list[Conversation]:
    """The user's conversations for the sidebar, most recently updated first."""
    items, _ = await conv_service.list_conversations(ctx, user, limit=SIDEBAR_LIMIT)
    return items


@router.get("/")
async def new_chat_page(request: Request, ctx: Ctx, principal: OptionalPrincipal) -> Response:
    if principal is None:
        return await to_login(ctx, request)
    return await chat_page(request, ctx, principal.user, None, [])


@router.get("/c/{conversation_id}")
async def conversation_page(
    conversation_id: str, request: Request, ctx: Ctx, principal: OptionalPrincipal
) -> Response:
    """One of the user's conversations; anyone else's (or an unknown id) is a 404 page."""
    if principal is None:
        return await to_login(ctx, request)
    conv, messages = await conv_service.get_history(ctx, principal.user, conversation_id)
    return await chat_page(request, ctx, principal.user, conv, messages)


async def chat_page(
    request: Request, ctx: AppContext, user: User, conv: Conversation | None,
    messages: Sequence[Message],
) -> Response:
    return render(
        request, "chat.html",
        title=conv.title if conv else "New chat",
        conversation=conv,
        conversations=await sidebar_items(ctx, user),
        messages=message_views(messages),
        starters=conv_service.STARTERS,
    )


@router.get("/c/{conversation_id}/messages")
async def messages_fragment(
    conversation_id: str, request: Request, ctx: Ctx, user: CurrentUser
) -> Response:
    """The conversation's rendered message list (HTML fragment for ``chat.js``)."""
    _, messages = await conv_service.get_history(ctx, user, conversation_id)
    return render(request, "_messages.html", messages=message_views(messages))


@router.get("/fragments/sidebar")
async def sidebar_fragment(
    request: Request, ctx: Ctx, user: CurrentUser,
    current: str | None = Query(default=None, max_length=64),
) -> Response:
    """The sidebar's conversation list (HTML fragment for ``chat.js``)."""
    return render(request, "_sidebar.html", conversations=await sidebar_items(ctx, user),
                  current_id=current)
