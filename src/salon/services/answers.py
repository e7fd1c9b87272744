"""The answer being written, and storing it: kept on disk while it is written (the answer
journal), stored whole once complete, failed or interrupted, and stored as interrupted at
start-up when a process was killed while writing it."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from salon.domain.conversations import Message
from salon.domain.users import User
from salon.services import files as file_service
from salon.services.answer_journal import SAVE_EVERY_SECONDS
from salon.services.context import AppContext
from salon.services.turns import Turn
from salon.store import conversations as repo
from salon.store.db import transaction
from salon.tools import MadeFile

logger = logging.getLogger(__name__)


@dataclass
class Answer:
    """An answer as it is written (its model, text, thought, status, usage, and the parts and
    files a tool made); ``stored`` once a message row holds it."""

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


def journal_answer(ctx: AppContext, user: User, turn: Turn, answer: Answer) -> None:
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
                answer = Answer(model=entry.model, text=entry.text, thought=entry.thought,
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


def _answer_message(conversation_id: str, turn_id: str, answer: Answer, *, seq: int,
                    created_at: datetime) -> Message:
    return Message(
        id=str(uuid.uuid4()), conversation_id=conversation_id, seq=seq, role="assistant",
        parts=answer.parts(), created_at=created_at, turn_id=turn_id, model=answer.model,
        usage=answer.usage_json(), status=answer.status,  # type: ignore[arg-type]
    )


async def store_answer(ctx: AppContext, user: User, turn: Turn, answer: Answer) -> None:
    """Store the answer, with the files its tool made, in one transaction (nothing when the
    conversation was deleted meanwhile), then tell live viewers; marks it ``stored``."""
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
