"""Conversations into Salon: Salon's own JSON file (``domain.salon_json``).

Import takes one file or a list of them; each conversation is imported in its own transaction,
so a broken one is reported (with its index and the reason) and the others are imported; one
already imported from the same file is skipped.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from salon.domain import salon_json
from salon.domain.conversations import Conversation, Message, slugify
from salon.domain.errors import InvalidInput
from salon.domain.users import User
from salon.services.context import AppContext
from salon.services.files import forget_unused_blobs
from salon.store import conversations as repo
from salon.store.db import transaction


@dataclass
class ImportReport:
    imported: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"imported": self.imported, "skipped": self.skipped, "failed": self.failed}


def documents_in(payload: object) -> tuple[list[object], bool]:
    """The conversation files in an import body (one, or a list) and whether it was one."""
    if isinstance(payload, list):
        if not payload:
            raise InvalidInput("The list of conversations to import is empty.",
                               code="UNSUPPORTED_IMPORT_FORMAT")
        return payload, False
    if salon_json.is_document(payload):
        return [payload], True
    raise InvalidInput(
        f'Salon imports its own conversation files ("format": "{salon_json.FORMAT}"), one or '
        "a list of them. Open WebUI and ChatGPT exports are not supported yet.",
        code="UNSUPPORTED_IMPORT_FORMAT")


async def import_documents(ctx: AppContext, user: User, payload: object) -> ImportReport:
    """Import every conversation in ``payload``; a single broken file raises InvalidInput,
    in a list each failure is reported by index."""
    documents, single = documents_in(payload)
    report = ImportReport()
    for index, document in enumerate(documents):
        try:
            parsed = salon_json.parse_document(document)
        except InvalidInput as exc:
            if single:
                raise
            report.failed.append({"index": index, "reason": exc.detail, "code": exc.code})
            continue
        existing, conv = await _import_one(ctx, user, parsed)
        if existing is not None:
            report.skipped.append({"index": index, "chat_id": existing,
                                   "reason": "This conversation was already imported."})
        elif conv is not None:
            report.imported.append({"index": index, "chat_id": conv.id, "title": conv.title,
                                    "messages": len(parsed.messages)})
    return report


async def _import_one(
    ctx: AppContext, user: User, parsed: salon_json.ParsedConversation
) -> tuple[str | None, Conversation | None]:
    """(id of the earlier import, None) or (None, the new conversation)."""
    async with ctx.engine.connect() as conn:
        earlier = await repo.find_import(conn, user_id=user.id, fingerprint=parsed.fingerprint)
    if earlier is not None:
        return earlier, None
    stored: set[str] = set()
    try:
        async with transaction(ctx.engine) as conn:
            conv = await _write(ctx, conn, user, parsed, stored)
        return None, conv
    except sa.exc.IntegrityError:  # the same file, imported a moment ago by another request
        await forget_unused_blobs(ctx, stored)
        async with ctx.engine.connect() as conn:
            earlier = await repo.find_import(conn, user_id=user.id,
                                             fingerprint=parsed.fingerprint)
        if earlier is None:
            raise
        return earlier, None
    except BaseException:
        await forget_unused_blobs(ctx, stored)
        raise


async def _write(
    ctx: AppContext, conn: Any, user: User, parsed: salon_json.ParsedConversation,
    stored: set[str],
) -> Conversation:
    conv = Conversation(id=str(uuid.uuid4()), user_id=user.id, title=parsed.title,
                        slug=slugify(parsed.title), agent_slug="salon", recipe=parsed.recipe,
                        file_filters=[], created_at=parsed.created_at,
                        updated_at=max(parsed.updated_at, parsed.created_at))
    await repo.insert_conversation(conn, conv)
    await repo.record_import(conn, user_id=user.id, fingerprint=parsed.fingerprint,
                             conversation_id=conv.id, now=ctx.now())
    new_ids: dict[str, str] = {}
    rows = []
    for entry in parsed.files:
        sha = await asyncio.to_thread(ctx.blobs.put, entry.data)
        stored.add(sha)
        new_ids[entry.id] = str(uuid.uuid4())
        rows.append({"id": new_ids[entry.id], "user_id": user.id, "conversation_id": conv.id,
                     "sha256": sha, "name": entry.name, "media_type": entry.media_type,
                     "size": len(entry.data), "created_at": ctx.now()})
    await repo.insert_files(conn, rows)
    turns: dict[str, str] = {}
    messages = [
        Message(id=str(uuid.uuid4()), conversation_id=conv.id, seq=seq, role=m.role,
                parts=_relinked(m.parts, new_ids), created_at=m.created_at,
                turn_id=None if m.turn_id is None else turns.setdefault(m.turn_id,
                                                                        str(uuid.uuid4())),
                model=m.model, usage=m.usage, status=m.status)
        for seq, m in enumerate(parsed.messages)
    ]
    if messages:
        await repo.insert_messages(conn, messages)
    await repo.update_conversation(conn, conv.id, user_id=user.id, next_seq=len(messages))
    return conv


def _relinked(parts: Sequence[dict[str, Any]], new_ids: dict[str, str]) -> list[dict[str, Any]]:
    return [{**p, "file_id": new_ids[p["file_id"]]} if "file_id" in p else dict(p)
            for p in parts]
