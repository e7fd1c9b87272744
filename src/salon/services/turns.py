"""Starting a turn: validate the message, count it against the daily limit, and store the
question, committed before the model is asked (``chat.stream_answer`` writes the answer)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from salon.domain.commands import Command, parse_command
from salon.domain.conversations import (
    DEFAULT_TITLE,
    Conversation,
    Message,
    clean_title,
    slugify,
    title_from_query,
)
from salon.domain.errors import InvalidInput, RateLimited, TooLarge
from salon.domain.files import MAX_FILES, MAX_IMAGES, DecodedImage, decode_image_data_url
from salon.domain.users import User
from salon.services import conversations as conv_service
from salon.services import files as file_service
from salon.services.context import AppContext
from salon.store import conversations as repo
from salon.store import shares as share_repo
from salon.store.db import transaction

MAX_LOCATION_CHARS = 100


@dataclass(frozen=True)
class Location:
    city: str | None = None
    region: str | None = None
    country: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class ChatRequest:
    q: str
    conversation_id: str | None = None
    create_new: bool = False
    title: str | None = None
    images: list[str] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    location: Location = Location()
    n: int = 5


@dataclass
class Turn:
    conversation: Conversation
    turn_id: str
    question: Message
    command: Command | None
    location: Location


def validate_request(ctx: AppContext, req: ChatRequest) -> list[DecodedImage]:
    """Everything that can be checked before writing; returns the decoded images."""
    if len(req.q) > ctx.settings.max_query_chars:
        raise TooLarge(f"The message is longer than {ctx.settings.max_query_chars} characters.",
                       code="QUERY_TOO_LONG")
    if not req.q.strip() and not req.images and not req.files:
        raise InvalidInput("The message is empty.", field="q")
    if len(req.images) > MAX_IMAGES:
        raise InvalidInput(f"At most {MAX_IMAGES} images per message.", field="images")
    if len(req.files) > MAX_FILES:
        raise InvalidInput(f"At most {MAX_FILES} files per message.", field="files")
    _check_location(req.location)
    if req.title is not None:
        clean_title(req.title)
    return [decode_image_data_url(url, index=i) for i, url in enumerate(req.images)]


def _check_location(loc: Location) -> None:
    for name in ("city", "region", "country", "timezone"):
        value = getattr(loc, name)
        if value is not None and len(value) > MAX_LOCATION_CHARS:
            raise InvalidInput(f"{name} can be at most {MAX_LOCATION_CHARS} characters.",
                               field=name)
    if loc.timezone:
        try:
            ZoneInfo(loc.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"Unknown time zone {loc.timezone!r} (use e.g. America/New_York).",
                               field="timezone") from None


async def start_turn(ctx: AppContext, user: User, req: ChatRequest) -> Turn:
    """Validate, count the message against the daily limit, and store the question."""
    images = validate_request(ctx, req)
    bodies = [image.data for image in images] + [content.encode() for _, content in req.files]
    new_blobs = {sha for sha in map(_sha256, bodies) if not ctx.blobs.exists(sha)}
    try:
        turn = await _store_question(ctx, user, req, images)
    except BaseException:
        await file_service.forget_unused_blobs(ctx, new_blobs)
        raise
    ctx.live.publish(turn.conversation.id, "turn", {"seq": turn.question.seq,
                                                    "title": turn.conversation.title})
    return turn


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _store_question(
    ctx: AppContext, user: User, req: ChatRequest, images: list[DecodedImage]
) -> Turn:
    command, _ = parse_command(req.q)
    now = ctx.now()
    async with transaction(ctx.engine) as conn:
        await _take_quota(ctx, conn, user, now)
        conv = await _conversation_for(ctx, conn, user, req, now)
        parts: list[dict[str, Any]] = [{"type": "text", "text": req.q}] if req.q.strip() else []
        for i, image in enumerate(images):
            parts.append(await file_service.attach_image(
                ctx, conn, user_id=user.id, conversation_id=conv.id, image=image, index=i))
        for i, (name, content) in enumerate(req.files):
            parts.append(await file_service.attach_text_file(
                ctx, conn, user_id=user.id, conversation_id=conv.id, name=name,
                content=content, index=i))
        turn_id = str(uuid.uuid4())
        question = Message(
            id=str(uuid.uuid4()), conversation_id=conv.id, seq=await repo.next_seq(conn, conv.id),
            role="user", parts=parts, created_at=now, turn_id=turn_id,
        )
        await repo.insert_message(conn, question)
        await repo.update_conversation(conn, conv.id, user_id=user.id, updated_at=now)
    return Turn(conversation=conv, turn_id=turn_id, question=question, command=command,
                location=req.location)


async def _take_quota(ctx: AppContext, conn: Any, user: User, now: datetime) -> None:
    limit = ctx.settings.daily_message_limit
    if not limit:
        return
    if not await repo.take_quota(conn, user_id=user.id, day=now.date(), limit=limit):
        resets = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
        raise RateLimited(
            f"You have reached the limit of {limit} messages a day. "
            f"It resets at {resets.isoformat()}.",
            resets_at=resets.isoformat(),
            retry_after=max(1, int((resets - now).total_seconds())),
        )


async def _conversation_for(
    ctx: AppContext, conn: Any, user: User, req: ChatRequest, now: datetime
) -> Conversation:
    if req.conversation_id and not req.create_new:
        conv = await repo.get_conversation(conn, req.conversation_id, user_id=user.id)
        if conv is None:
            raise conv_service.conversation_not_found()
        if conv.title == DEFAULT_TITLE and not await repo.list_messages(conn, conv.id):
            title = clean_title(req.title) if req.title else title_from_query(req.q)
            await repo.update_conversation(conn, conv.id, user_id=user.id, title=title,
                                           slug=slugify(title))
            await share_repo.follow_title(conn, conv.id, title)
            return replace(conv, title=title, slug=slugify(title))
        return conv
    title = clean_title(req.title) if req.title else title_from_query(req.q)
    conv = Conversation(
        id=str(uuid.uuid4()), user_id=user.id, title=title, slug=slugify(title),
        agent_slug=conv_service.DEFAULT_AGENT.slug, recipe={}, file_filters=[],
        created_at=now, updated_at=now,
    )
    await repo.insert_conversation(conn, conv)
    return conv

