"""Sending a message: validate, store the question, stream the model's answer, store it.

The question is committed before the model is asked, the answer once it is complete (or
interrupted, or failed): a conversation never holds a half-written row. A client that goes
away mid-answer leaves the partial answer stored with status ``interrupted``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio

from salon.domain.commands import Command, canned_reply, commands_here, parse_command
from salon.domain.conversations import (
    DEFAULT_TITLE,
    Conversation,
    Message,
    clean_title,
    message_text,
    slugify,
    title_from_query,
)
from salon.domain.errors import InvalidInput, RateLimited, TooLarge
from salon.domain.files import MAX_FILES, MAX_IMAGES, DecodedImage, decode_image_data_url
from salon.domain.users import User
from salon.llm.base import ChatMessage, Chunk, GenerationParams, ProviderError
from salon.services import conversations as conv_service
from salon.services import files as file_service
from salon.services import web_fetch
from salon.services.answer_journal import SAVE_EVERY_SECONDS
from salon.services.context import AppContext
from salon.store import conversations as repo
from salon.store import shares as share_repo
from salon.store.db import transaction
from salon.tools import MadeFile, ToolResult, ToolStatus
from salon.tools.diagram import write_diagram
from salon.tools.image import image_api, make_image

logger = logging.getLogger(__name__)

MAX_FILE_CONTEXT_CHARS = 20_000
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


@dataclass(frozen=True)
class Event:
    """One stream event: ``type`` is metadata, status, thought, references, message, error,
    end_llm_response, usage or end_response."""

    type: str
    data: Any


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


async def stream_answer(
    ctx: AppContext, user: User, turn: Turn
) -> AsyncGenerator[Event, None]:
    """The answer's events. Stores the answer when done, failed or interrupted."""
    conv = turn.conversation
    yield Event("metadata", {"conversationId": conv.id, "turnId": turn.turn_id})
    answer = _Answer(model=ctx.provider.name)
    try:
        canned = (canned_reply(turn.command, server_commands(ctx)) if turn.command is not None
                  else None)
        if canned is not None:
            answer.text = canned.text
            answer.status = "complete"
            answer.model = None
            yield Event("status", canned.status)
            yield Event("message", answer.text)
        else:
            async for event in _generate(ctx, turn, answer):
                if event.type == "message":  # live viewers see the answer as it is written
                    ctx.live.publish(conv.id, "token", {"turn_id": turn.turn_id,
                                                        "text": event.data})
                    _journal(ctx, user, turn, answer)
                yield event
        yield Event("end_llm_response", None)
        yield Event("usage", answer.usage_json())
        await _store_answer(ctx, user, turn, answer)
        yield Event("end_response", {"conversationId": conv.id, "turnId": turn.turn_id,
                                     "status": answer.status})
    finally:
        if not answer.stored:
            answer.status = "interrupted" if answer.status == "streaming" else answer.status
            with anyio.CancelScope(shield=True):
                await _store_answer(ctx, user, turn, answer)


@dataclass
class _Answer:
    model: str | None
    text: str = ""
    thought: str = ""
    status: str = "streaming"
    usage: dict[str, int] = field(default_factory=dict)
    stored: bool = False
    journaled_at: float = 0.0
    made: list[dict[str, Any]] = field(default_factory=list)  # a tool's parts, after the text
    files: list[MadeFile] = field(default_factory=list)  # a tool's files, stored after those

    def usage_json(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.usage.get("prompt_tokens", 0),
            "completion_tokens": self.usage.get("completion_tokens", 0),
            "total_tokens": self.usage.get("total_tokens", 0),
        }

    def parts(self) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        if self.thought:
            parts.append({"type": "thought", "text": self.thought})
        parts.append({"type": "text", "text": self.text})
        return parts + self.made


def server_commands(ctx: AppContext) -> tuple[Command, ...]:
    """The commands with this server's settings (``/image`` needs an images API)."""
    return commands_here({"image"} if image_api(ctx.settings) else set())


def _tool(ctx: AppContext, turn: Turn, messages: list[ChatMessage],
          params: GenerationParams) -> AsyncIterator[ToolStatus | ToolResult] | None:
    """The tool the turn's command runs (None: a plain answer)."""
    name = turn.command.name if turn.command is not None else None
    api = image_api(ctx.settings)
    if name == "diagram":
        return write_diagram(ctx.provider, messages, params)
    if name == "image" and api is not None:
        fetch_url = functools.partial(
            web_fetch.fetch, limits=web_fetch.limits(ctx.settings),
            allow=web_fetch.allow_list(ctx.settings), accept="image/*")
        return make_image(ctx.provider, messages, params, api=api, fetch_url=fetch_url)
    return None


async def _generate(ctx: AppContext, turn: Turn, answer: _Answer) -> AsyncIterator[Event]:
    if turn.command is None or turn.command.name not in ("diagram", "image"):
        yield Event("status", "Generating the answer")
    messages = await _prompt(ctx, turn)
    params = GenerationParams(max_tokens=ctx.settings.max_answer_tokens)
    try:
        tool = _tool(ctx, turn, messages, params)
        if tool is not None:
            async for event in _until_stopping(ctx.stopping, _tool_events(tool, answer)):
                yield event
            return
        async for chunk in _until_stopping(ctx.stopping, ctx.provider.stream(messages, params)):
            for event in _absorb(chunk, answer):
                yield event
    except ServerStopping:
        answer.status = "interrupted"
        yield Event("status", "The server is restarting: the answer was interrupted.")
        return
    except ProviderError as exc:
        logger.warning("model provider %r failed: %s: %s", ctx.provider.name, exc.code, exc.detail)
        answer.status = "error"
        answer.text = (answer.text + "\n\n" if answer.text else "") + f"⚠️ {exc.detail}"
        yield Event("error", {"detail": exc.detail, "code": exc.code})
        return
    answer.status = "complete"


async def _tool_events(
    steps: AsyncIterator[ToolStatus | ToolResult], answer: _Answer
) -> AsyncIterator[Event]:
    """A tool's statuses as events; its result becomes the answer (complete, or failed with
    an ``error`` event when the tool could not make what was asked)."""
    async for step in steps:
        if isinstance(step, ToolStatus):
            yield Event("status", step.text)
            continue
        answer.made, answer.files, answer.usage = step.parts, step.files, dict(step.usage)
        if step.error_code is None:
            answer.text, answer.status = step.text, "complete"
            yield Event("message", step.text)
        else:
            answer.text, answer.status = f"⚠️ {step.text}", "error"
            yield Event("error", {"detail": step.text, "code": step.error_code})


class ServerStopping(Exception):
    """The server was told to stop and the grace time for answers is nearly over."""


T = TypeVar("T")


async def _until_stopping(stopping: asyncio.Event, chunks: AsyncIterator[T]) -> AsyncIterator[T]:
    """The model's chunks until ``stopping`` is set, then ``ServerStopping``: the answer ends as
    interrupted, stored with what was written, its response complete (not cut off when the
    server's grace time runs out), even while the model is silent."""
    stop = asyncio.ensure_future(stopping.wait())
    try:
        while not stopping.is_set():
            following = asyncio.ensure_future(anext(chunks))
            await asyncio.wait((following, stop), return_when=asyncio.FIRST_COMPLETED)
            if not following.done():
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await following
                break
            try:
                yield following.result()
            except StopAsyncIteration:
                return
        raise ServerStopping()
    finally:
        stop.cancel()
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


def _absorb(chunk: Chunk, answer: _Answer) -> list[Event]:
    events = []
    if chunk.thought:
        answer.thought += chunk.thought
        events.append(Event("thought", chunk.thought))
    if chunk.text:
        answer.text += chunk.text
        events.append(Event("message", chunk.text))
    if chunk.usage:
        answer.usage = dict(chunk.usage)
    return events


def _journal(ctx: AppContext, user: User, turn: Turn, answer: _Answer) -> None:
    """Keep what the answer says so far on disk (at most once a second), so that a process
    killed now loses at most that second (``recover_interrupted_answers``)."""
    moment = time.monotonic()
    if moment - answer.journaled_at < SAVE_EVERY_SECONDS:
        return
    answer.journaled_at = moment
    try:
        ctx.answer_journal.save(turn_id=turn.turn_id, conversation_id=turn.conversation.id,
                                user_id=user.id, model=answer.model, text=answer.text,
                                thought=answer.thought)
    except OSError as exc:  # a full disk must not end the answer itself
        logger.warning("could not keep the answer being written on disk: %s", exc)


async def recover_interrupted_answers(ctx: AppContext) -> int:
    """Store, as interrupted, the answers a process was writing when it was killed (from the
    answer journal); returns how many. Run at start-up. Live viewers are told, as of any stored
    answer (with Redis, the killed process's words so far are then no longer offered)."""
    recovered = 0
    for entry in ctx.answer_journal.stale_entries():
        async with transaction(ctx.engine) as conn:
            conv = await repo.get_conversation(conn, entry.conversation_id, user_id=entry.user_id)
            stored = None
            if conv is not None and not await repo.has_answer(conn, conv.id, entry.turn_id):
                answer = _Answer(model=entry.model, text=entry.text, thought=entry.thought,
                                 status="interrupted")
                stored = _answer_message(conv.id, entry.turn_id, answer, created_at=ctx.now(),
                                         seq=await repo.next_seq(conn, conv.id))
                await repo.insert_message(conn, stored)
                recovered += 1
        ctx.answer_journal.remove(entry.turn_id)
        if conv is not None and stored is not None:
            ctx.live.publish(conv.id, "turn", {"seq": stored.seq, "title": conv.title,
                                               "turn_id": entry.turn_id})
    return recovered


def _answer_message(conversation_id: str, turn_id: str, answer: _Answer, *, seq: int,
                    created_at: datetime) -> Message:
    return Message(
        id=str(uuid.uuid4()), conversation_id=conversation_id, seq=seq, role="assistant",
        parts=answer.parts(), created_at=created_at, turn_id=turn_id, model=answer.model,
        usage=answer.usage_json(), status=answer.status,  # type: ignore[arg-type]
    )


async def _store_answer(ctx: AppContext, user: User, turn: Turn, answer: _Answer) -> None:
    now = ctx.now()
    recipe = {"model": answer.model or ctx.provider.name,
              "parameters": {"max_tokens": ctx.settings.max_answer_tokens},
              "agent": turn.conversation.agent_slug}
    async with transaction(ctx.engine) as conn:
        if await repo.get_conversation(conn, turn.conversation.id, user_id=user.id) is None:
            answer.stored = True  # deleted meanwhile: nothing to store into
            ctx.answer_journal.remove(turn.turn_id)
            return
        files = [await _attach_made(ctx, conn, user.id, turn.conversation.id, made)
                 for made in answer.files]  # stored again if this transaction fails
        message = _answer_message(turn.conversation.id, turn.turn_id, answer,
                                  seq=await repo.next_seq(conn, turn.conversation.id),
                                  created_at=now)
        message = replace(message, parts=[*message.parts, *files])
        await repo.insert_message(conn, message)
        await repo.update_conversation(conn, turn.conversation.id, user_id=user.id,
                                       updated_at=now, recipe=recipe)
    answer.stored = True
    if answer.journaled_at:
        ctx.answer_journal.remove(turn.turn_id)
    ctx.live.publish(turn.conversation.id, "turn", {"seq": message.seq,
                                                    "title": turn.conversation.title,
                                                    "turn_id": turn.turn_id})


async def _attach_made(ctx: AppContext, conn: Any, user_id: str, conversation_id: str,
                       made: MadeFile) -> dict[str, Any]:
    """Store a file a tool made (blob and file row); returns its part."""
    fields = await file_service.attach_bytes(
        ctx, conn, user_id=user_id, conversation_id=conversation_id, name=made.name,
        media_type=made.media_type, data=made.data)
    return {"type": made.kind, **fields, "alt": made.alt}


async def _prompt(ctx: AppContext, turn: Turn) -> list[ChatMessage]:
    """System prompt (date, place, time zone), earlier turns, then the question with files."""
    async with ctx.engine.connect() as conn:
        history = await repo.list_messages(conn, turn.conversation.id)
    out = [ChatMessage("system", system_prompt(ctx.now(), turn.location))]
    for msg in history:
        if msg.id == turn.question.id:
            continue
        if msg.role in ("user", "assistant") and msg.status != "error" and msg.text:
            out.append(ChatMessage(msg.role, msg.text))
    out.append(await _question_message(ctx, turn))
    return out


async def _question_message(ctx: AppContext, turn: Turn) -> ChatMessage:
    _, query = parse_command(message_text(turn.question.parts))
    images: list[str] = []
    context: list[str] = []
    for part in turn.question.parts:
        if part["type"] in ("image", "file"):
            row, data = await file_service.read_file(
                ctx, user_id=turn.conversation.user_id, file_id=part["file_id"])
            if part["type"] == "image":
                import base64

                images.append(f"data:{row['media_type']};base64,{base64.b64encode(data).decode()}")
            else:
                text = data.decode("utf-8", "replace")[:MAX_FILE_CONTEXT_CHARS]
                context.append(f"Attached file {row['name']}:\n{text}")
    content = "\n\n".join([*context, query]) if context else query
    return ChatMessage("user", content, images=tuple(images))


def system_prompt(now: datetime, loc: Location) -> str:
    # Short on purpose: the embedded 135M model answers more questions right with this line
    # than with a longer persona (bench/local_model.py), and big models lose nothing by it.
    lines = ["You are Salon, a helpful assistant. Answer the question briefly and correctly."]
    local = now.astimezone(ZoneInfo(loc.timezone)) if loc.timezone else now
    lines.append(f"The current date and time is {local.strftime('%A, %d %B %Y, %H:%M')}"
                 f" ({loc.timezone or 'UTC'}).")
    place = ", ".join(p for p in (loc.city, loc.region, loc.country) if p)
    if place:
        lines.append(f"The user is in {place}.")
    return "\n".join(lines)
