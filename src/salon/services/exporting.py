"""Conversations out of Salon: the owner's conversation as a file (``domain.salon_json`` for
JSON). Anyone else's conversation is "not found"."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from salon.domain import salon_json
from salon.domain.conversations import Conversation, slugify
from salon.domain.errors import InvalidInput
from salon.domain.users import User
from salon.services.context import AppContext
from salon.services.conversations import get_history
from salon.store import conversations as repo

EXPORT_FORMATS = ("json",)
PLANNED_FORMATS = ("csv", "parquet", "markdown", "pdf", "html")


def check_export_format(fmt: str) -> None:
    if fmt in EXPORT_FORMATS:
        return
    if fmt in PLANNED_FORMATS:
        raise InvalidInput(f"Exporting as {fmt} is not supported yet; use json.",
                           code="FORMAT_NOT_SUPPORTED", field="format")
    raise InvalidInput(f"Unknown export format {fmt!r}; use json.", code="FORMAT_NOT_SUPPORTED",
                       field="format")


async def export_conversation(
    ctx: AppContext, user: User, chat_id: str
) -> tuple[Conversation, dict[str, Any]]:
    """The user's conversation as a Salon file (NotFound for anyone else's)."""
    conv, messages = await get_history(ctx, user, chat_id)
    async with ctx.engine.connect() as conn:
        rows = await repo.list_files(conn, conv.id)
    present = [row for row in rows if ctx.blobs.exists(row["sha256"])]
    bodies = await asyncio.to_thread(lambda: [ctx.blobs.get(r["sha256"]) for r in present])
    files = list(zip(present, bodies, strict=True))
    return conv, salon_json.to_document(conv, messages, files, now=ctx.now())


@dataclass(frozen=True)
class ExportFile:
    """A finished export: the download name, its media type and its bytes."""

    name: str
    media_type: str
    body: bytes


async def export_file(ctx: AppContext, user: User, chat_id: str, fmt: str) -> ExportFile:
    """The user's conversation in ``fmt`` (see ``EXPORT_FORMATS``)."""
    check_export_format(fmt)
    conv, document = await export_conversation(ctx, user, chat_id)
    stem = slugify(conv.title) or "chat"
    body = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    return ExportFile(name=f"{stem}.salon.json", media_type="application/json", body=body)
