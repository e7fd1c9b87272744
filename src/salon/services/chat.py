"""Sending a message: validate, store the question (``turns``), stream the model's answer,
store it (``answers``).

The question is committed before the model is asked, the answer once it is complete (or
interrupted, or failed): a conversation never holds a half-written row. A client that goes
away mid-answer leaves the partial answer stored with status ``interrupted``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio

from salon.domain.commands import canned_reply
from salon.domain.users import User
from salon.llm.base import Chunk, GenerationParams, ProviderError
from salon.services.answers import Answer, journal_answer, store_answer
from salon.services.commands import server_commands, tool_for
from salon.services.context import AppContext
from salon.services.prompts import prompt_messages
from salon.services.turns import Turn
from salon.tools import ToolResult, ToolStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """One stream event: ``type`` is metadata, status, thought, references, message, error,
    end_llm_response, usage or end_response."""

    type: str
    data: Any


async def stream_answer(
    ctx: AppContext, user: User, turn: Turn
) -> AsyncGenerator[Event, None]:
    """The answer's events. Stores the answer when done, failed or interrupted."""
    conv = turn.conversation
    yield Event("metadata", {"conversationId": conv.id, "turnId": turn.turn_id})
    answer = Answer(model=ctx.provider.name)
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
                    journal_answer(ctx, user, turn, answer)
                yield event
        yield Event("end_llm_response", None)
        yield Event("usage", answer.usage_json())
        await store_answer(ctx, user, turn, answer)
        yield Event("end_response", {"conversationId": conv.id, "turnId": turn.turn_id,
                                     "status": answer.status})
    finally:
        if not answer.stored:
            answer.status = "interrupted" if answer.status == "streaming" else answer.status
            with anyio.CancelScope(shield=True):
                await store_answer(ctx, user, turn, answer)


async def _generate(ctx: AppContext, turn: Turn, answer: Answer) -> AsyncIterator[Event]:
    if turn.command is None or turn.command.name not in ("diagram", "image"):
        yield Event("status", "Generating the answer")
    messages = await prompt_messages(ctx, turn)
    params = GenerationParams(max_tokens=ctx.settings.max_answer_tokens)
    try:
        tool = tool_for(ctx, turn, messages, params)
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
    steps: AsyncIterator[ToolStatus | ToolResult], answer: Answer
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


def _absorb(chunk: Chunk, answer: Answer) -> list[Event]:
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
