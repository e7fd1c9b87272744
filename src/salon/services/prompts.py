"""What the model is asked: the system prompt, the earlier turns, the question with its files."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from salon.domain.commands import parse_command
from salon.domain.conversations import message_text
from salon.llm.base import ChatMessage
from salon.services import files as file_service
from salon.services.context import AppContext
from salon.services.turns import Location, Turn
from salon.store import conversations as repo

MAX_FILE_CONTEXT_CHARS = 20_000


async def prompt_messages(ctx: AppContext, turn: Turn) -> list[ChatMessage]:
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
