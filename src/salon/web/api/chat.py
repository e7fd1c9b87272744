"""The Chat API with Khoj's shapes (``/api/chat...``), so Khoj clients work."""

from __future__ import annotations

import zoneinfo
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import Field
from pydantic.config import JsonDict

from salon.domain.conversations import MAX_TITLE_CHARS, Conversation, Message
from salon.domain.errors import InvalidInput
from salon.domain.files import MAX_FILES, MAX_IMAGES
from salon.domain.usage import usage_cost
from salon.services import chat as chat_service
from salon.services import commands, turns
from salon.services import conversations as conv_service
from salon.services.context import AppContext
from salon.web.api import khoj_stream
from salon.web.api.models import NON_BLANK, VISIBLE, Body
from salon.web.deps import Ctx, CurrentUser

router = APIRouter(prefix="/api/chat", tags=["chat"])


# What domain.conversations.clean_title accepts.
TITLE: JsonDict = {"pattern": VISIBLE, "maxLength": MAX_TITLE_CHARS}
# PNG, JPEG and GIF data URLs as domain.files.decode_image_data_url accepts them: its type, its
# first bytes in base64 and valid base64 after (WebP, and spaces in the data, are accepted too).
IMAGE_DATA_URL = (r"^data:image/(?:png;base64,iVBORw0KGgo[A-Za-z0-9+/]|jpeg;base64,/9j/"
                  r"|gif;base64,R0lGOD[dl]h)(?:[A-Za-z0-9+/]{4})*"
                  r"(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
PLACE: JsonDict = {"maxLength": turns.MAX_LOCATION_CHARS}
MAX_FILTER_NAME_CHARS = 255  # what services.conversations.change_file_filter accepts


def _known_time_zones(schema: JsonDict) -> None:
    """The zones services.turns accepts (read when the document is made, not at import)."""
    schema["enum"] = [*sorted(zoneinfo.available_timezones()), None]


class ChatFile(Body):
    name: str = Field(max_length=1000)
    content: str
    # Khoj's clients describe each attachment too; Salon finds both itself.
    file_type: str | None = Field(default=None, max_length=255)
    size: int | None = Field(default=None, ge=0)


class ChatBody(Body):
    # May be blank when files or images are sent (not documented: the schema says the common case).
    q: str = Field(json_schema_extra={"pattern": NON_BLANK})
    conversation_id: str | None = Field(default=None, max_length=64)
    # Absent: a stream, except for Khoj's clients (``?client=``), which get one JSON body.
    stream: bool | None = None
    n: int = Field(default=5, ge=1, le=50)
    images: list[str] = Field(default_factory=list, json_schema_extra={
        "maxItems": MAX_IMAGES, "items": {"type": "string", "pattern": IMAGE_DATA_URL}})
    files: list[ChatFile] = Field(default_factory=list, json_schema_extra={"maxItems": MAX_FILES})
    create_new: bool = False
    title: str | None = Field(default=None, max_length=1000, json_schema_extra=TITLE)
    city: str | None = Field(default=None, json_schema_extra=PLACE)
    region: str | None = Field(default=None, json_schema_extra=PLACE)
    country: str | None = Field(default=None, json_schema_extra=PLACE)
    country_code: str | None = Field(default=None, max_length=8)
    timezone: str | None = Field(default=None, json_schema_extra=_known_time_zones)
    # Sent by Khoj's own clients; accepted for compatibility, not used by Salon (a
    # conversation keeps the agent it was started with).
    d: float | None = None
    turn_id: str | None = Field(default=None, max_length=64)
    interrupt: bool = False
    agent_slug: str | None = Field(default=None, max_length=64)


class NewSessionBody(Body):
    agent_slug: str | None = Field(default=None, max_length=64)


class TitleBody(Body):
    conversation_id: str = Field(max_length=64)
    title: str = Field(max_length=1000, json_schema_extra=TITLE)


class FileFilterBody(Body):
    conversation_id: str = Field(max_length=64)
    filename: str = Field(max_length=1000, json_schema_extra={
        "pattern": NON_BLANK, "maxLength": MAX_FILTER_NAME_CHARS})


def khoj_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def to_request(body: ChatBody) -> turns.ChatRequest:
    return turns.ChatRequest(
        q=body.q,
        conversation_id=body.conversation_id,
        create_new=body.create_new,
        title=body.title,
        images=list(body.images),
        files=[(f.name, f.content) for f in body.files],
        location=turns.Location(body.city, body.region, body.country, body.timezone),
        n=body.n,
    )


@router.post("")
async def chat(
    body: ChatBody, request: Request, user: CurrentUser, ctx: Ctx,
    client: str | None = Query(default=None, max_length=32),
) -> Response:
    """Send ``q`` and get the answer, streamed or (``stream: false``) as one JSON object.
    Events are ``{"type": ..., "data": ...}``; ``metadata`` comes first and ``end_response``
    last. The stream's framing: server-sent events for ``Accept: text/event-stream``, Khoj's
    ``␃🔚␗``-separated events for Khoj's clients (``?client=obsidian|desktop|web|android|emacs``),
    else one JSON object a line. Without ``stream``, Khoj's clients get one JSON object."""
    turn = await turns.start_turn(ctx, user, to_request(body))
    events = _priced(ctx, chat_service.stream_answer(ctx, user, turn))
    if not khoj_stream.wants_stream(body.stream, client=client):
        return await _collect(events)
    framing = khoj_stream.choose_framing(accept=request.headers.get("accept", ""), client=client)
    return StreamingResponse(
        khoj_stream.encode(events, framing), media_type=khoj_stream.MEDIA_TYPES[framing],
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _priced(
    ctx: AppContext, events: AsyncGenerator[chat_service.Event, None]
) -> AsyncGenerator[chat_service.Event, None]:
    """The events, with a ``cost`` in ``usage`` when the admin priced the model
    (``SALON_MODEL_PRICES``). ``aclosing``: closing this closes the answer at once."""
    async with aclosing(events):
        async for event in events:
            price = ctx.settings.model_prices.get(ctx.provider.name)
            if event.type == "usage" and price is not None:
                cost = usage_cost(event.data, input_price=price.input, output_price=price.output)
                event = chat_service.Event("usage", {**event.data, "cost": cost})
            yield event


async def _collect(events: AsyncGenerator[chat_service.Event, None]) -> Response:
    """Run the stream to its end and answer once. ``aclosing``: if the client goes away, the
    generator is closed at once, so the partial answer is stored right then."""
    text: list[str] = []
    meta: dict[str, Any] = {}
    error: dict[str, Any] | None = None
    usage: dict[str, Any] = {}
    async with aclosing(events):
        async for event in events:
            _absorb_event(event, text, meta, usage)
            if event.type == "error":
                error = event.data
    body: dict[str, Any] = {
        "status": "error" if error else "ok",
        "response": "".join(text) if not error else "".join(text) or error["detail"],
        "conversationId": meta.get("conversationId"),
        "turnId": meta.get("turnId"),
        "usage": usage,
    }
    if error:
        body["error"] = error
    return JSONResponse(body)


def _absorb_event(
    event: chat_service.Event, text: list[str], meta: dict[str, Any], usage: dict[str, Any]
) -> None:
    if event.type == "metadata":
        meta.update(event.data)
    elif event.type == "message":
        text.append(event.data)
    elif event.type == "usage":
        usage.update(event.data)


def history_json(conv: Conversation, messages: list[Message]) -> dict[str, Any]:
    agent = conv_service.get_agent(conv.agent_slug)
    return {
        "status": "ok",
        "response": {
            "conversation_id": conv.id,
            "slug": conv.slug,
            "title": conv.title,
            "agent": {"slug": agent.slug, "name": agent.name, "color": agent.color,
                      "icon": agent.icon},
            "chat": [
                {
                    "message": m.text,
                    "by": "you" if m.role == "user" else "khoj",
                    "created": khoj_time(m.created_at),
                    "turnId": m.turn_id,
                    "status": m.status,
                    "parts": m.parts,
                }
                for m in messages
            ],
        },
    }


@router.get("/history")
async def history(
    user: CurrentUser,
    ctx: Ctx,
    conversation_id: str | None = Query(default=None, max_length=64),
    n: int | None = None,
) -> Any:
    """Messages of a conversation (the most recent one without ``conversation_id``).
    ``n`` > 0: the last n messages; ``n`` < 0: all but the last |n|."""
    conv, messages = await conv_service.get_history(ctx, user, conversation_id, n=n)
    return history_json(conv, messages)


@router.delete("/history")
async def delete_history(
    user: CurrentUser, ctx: Ctx, conversation_id: str | None = Query(default=None, max_length=64)
) -> Any:
    """Delete a conversation; without ``conversation_id``, every conversation of the caller,
    as Khoj's server does (``adelete_conversation_by_user``: "clear chat history")."""
    if conversation_id is None:
        await conv_service.delete_all_conversations(ctx, user)
    else:
        await conv_service.delete_conversation(ctx, user, conversation_id)
    return {"status": "ok", "message": "Conversation history cleared"}


def session_json(conv: Conversation) -> dict[str, Any]:
    """A session as Khoj's server lists it: its clients show ``slug``, which Khoj fills with
    the title (the URL-style slug is not shown anywhere)."""
    agent = conv_service.get_agent(conv.agent_slug)
    return {
        "conversation_id": conv.id,
        "slug": conv.title,
        "title": conv.title,
        "agent_name": agent.name,
        "created": khoj_time(conv.created_at),
        "updated": khoj_time(conv.updated_at),
    }


@router.get("/sessions")
async def sessions(user: CurrentUser, ctx: Ctx, recent: bool = False) -> Any:
    """The user's conversations, most recently updated first (8 with ``recent=true``)."""
    items, _ = await conv_service.list_conversations(ctx, user, limit=8 if recent else None)
    return [session_json(c) for c in items]


@router.post("/sessions")
async def new_session(
    user: CurrentUser, ctx: Ctx, body: NewSessionBody | None = None,
    agent_slug: str | None = Query(default=None, max_length=64),
) -> Any:
    """Start an empty conversation. ``agent_slug`` in the JSON body (or, as Khoj's own clients
    send it, in the query string)."""
    slug = body.agent_slug if body and body.agent_slug else agent_slug
    conv = await conv_service.create_conversation(ctx, user, agent_slug=slug)
    return session_json(conv)


@router.patch("/title")
async def set_title(
    user: CurrentUser, ctx: Ctx, body: TitleBody | None = None,
    conversation_id: str | None = Query(default=None, max_length=64),
    title: str | None = Query(default=None, max_length=1000, json_schema_extra=TITLE),
) -> Any:
    """Rename: ``{"conversation_id", "title"}`` in the JSON body (or both in the query)."""
    target = body.conversation_id if body else conversation_id
    new_title = body.title if body else title
    if target is None or new_title is None:
        raise InvalidInput("Give conversation_id and title (JSON body or query).",
                           field="conversation_id" if target is None else "title")
    conv = await conv_service.rename_conversation(ctx, user, target, new_title)
    return {"status": "ok", "title": conv.title, "slug": conv.slug}


@router.get("/options")
async def options(user: CurrentUser, ctx: Ctx) -> Any:
    """The conversation commands with their descriptions (unavailable ones say so)."""
    return {
        c.name: c.description if c.available else f"{c.description} (not available on this server)"
        for c in commands.server_commands(ctx)
    }


@router.get("/starters")
async def starters(user: CurrentUser) -> Any:
    return {"starter_questions": list(conv_service.STARTERS)}


@router.get("/conversation/file-filters/{conversation_id}")
async def get_file_filters(conversation_id: str, user: CurrentUser, ctx: Ctx) -> Any:
    return await conv_service.get_file_filters(ctx, user, conversation_id)


@router.post("/conversation/file-filters")
async def add_file_filter(body: FileFilterBody, user: CurrentUser, ctx: Ctx) -> Any:
    return await conv_service.change_file_filter(
        ctx, user, body.conversation_id, body.filename, add=True
    )


@router.delete("/conversation/file-filters")
async def remove_file_filter(body: FileFilterBody, user: CurrentUser, ctx: Ctx) -> Any:
    return await conv_service.change_file_filter(
        ctx, user, body.conversation_id, body.filename, add=False
    )

