"""Conversations out of Salon: the owner's conversation as a file, in one of
``EXPORT_FORMATS`` (``domain.salon_json`` for JSON, ``salon.exports`` for the others). Anyone
else's conversation is "not found"."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from salon.domain import salon_json
from salon.domain.conversations import Conversation, Message, slugify
from salon.domain.errors import InvalidInput
from salon.domain.users import User
from salon.exports.common import Files, Writer
from salon.exports.csv import write_csv
from salon.exports.html import write_html
from salon.exports.markdown import write_markdown
from salon.exports.parquet import write_parquet
from salon.exports.pdf import write_pdf
from salon.services.context import AppContext
from salon.services.conversations import get_history
from salon.store import conversations as repo


@dataclass(frozen=True)
class ExportFormat:
    """How one format is written: its writer, file name ending and media type.
    ``with_files``: the writer needs the files' bytes (loading them is the slow part)."""

    write: Writer
    suffix: str
    media_type: str
    with_files: bool = False


FORMATS: dict[str, ExportFormat] = {
    "csv": ExportFormat(write_csv, ".csv", "text/csv; charset=utf-8"),
    "parquet": ExportFormat(write_parquet, ".parquet", "application/vnd.apache.parquet"),
    "markdown": ExportFormat(write_markdown, ".md", "text/markdown; charset=utf-8"),
    "html": ExportFormat(write_html, ".html", "text/html; charset=utf-8", with_files=True),
    "pdf": ExportFormat(write_pdf, ".pdf", "application/pdf", with_files=True),
}
EXPORT_FORMATS = ("json", *FORMATS)


def check_export_format(fmt: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"Unknown export format {fmt[:40]!r}; use one of "
                           f"{', '.join(EXPORT_FORMATS)}.", code="FORMAT_NOT_SUPPORTED",
                           field="format")


async def load_conversation(
    ctx: AppContext, user: User, chat_id: str, *, with_files: bool = True
) -> tuple[Conversation, list[Message], Files]:
    """The user's conversation, its messages and (with ``with_files``) its stored files as
    (files row, bytes); NotFound for anyone else's."""
    conv, messages = await get_history(ctx, user, chat_id)
    if not with_files:
        return conv, messages, []
    async with ctx.engine.connect() as conn:
        rows = await repo.list_files(conn, conv.id)
    present = [row for row in rows if ctx.blobs.exists(row["sha256"])]
    bodies = await asyncio.to_thread(lambda: [ctx.blobs.get(r["sha256"]) for r in present])
    return conv, messages, list(zip(present, bodies, strict=True))


async def export_conversation(
    ctx: AppContext, user: User, chat_id: str
) -> tuple[Conversation, dict[str, Any]]:
    """The user's conversation as a Salon file (NotFound for anyone else's)."""
    conv, messages, files = await load_conversation(ctx, user, chat_id)
    return conv, salon_json.to_document(conv, messages, files, now=ctx.now())


@dataclass(frozen=True)
class ExportFile:
    """A finished export: the download name, its media type and its bytes."""

    name: str
    media_type: str
    body: bytes


async def export_file(ctx: AppContext, user: User, chat_id: str, fmt: str) -> ExportFile:
    """The user's conversation in ``fmt`` (see ``EXPORT_FORMATS``). The writers run in a
    worker thread: a long chat's PDF takes seconds, which must not stall other requests."""
    check_export_format(fmt)
    if fmt == "json":
        conv, document = await export_conversation(ctx, user, chat_id)
        body = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
        return ExportFile(name=f"{stem(conv)}.salon.json", media_type="application/json",
                          body=body)
    spec = FORMATS[fmt]
    conv, messages, files = await load_conversation(ctx, user, chat_id,
                                                    with_files=spec.with_files)
    body = await asyncio.to_thread(spec.write, conv, messages, files)
    return ExportFile(name=stem(conv) + spec.suffix, media_type=spec.media_type, body=body)


def stem(conv: Conversation) -> str:
    return slugify(conv.title) or "chat"

