"""Conversations into Salon: Salon's own JSON file, Open WebUI and ChatGPT exports
(``domain.imports``), read as a stream.

Import takes one conversation or a list of them; each is imported in its own transaction, so a
broken one is reported (with its index and the reason) and the others are imported; one
already imported from the same source object is skipped (its fingerprint is recorded).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa

from salon.domain import imports, salon_json
from salon.domain.conversations import Conversation, Message, slugify
from salon.domain.errors import InvalidInput
from salon.domain.imports import streaming
from salon.domain.users import User
from salon.services.context import AppContext
from salon.services.files import forget_unused_blobs
from salon.store import conversations as repo
from salon.store.db import transaction

log = logging.getLogger(__name__)
MAX_READ_BYTES = 64 * 1024  # the parser's buffer: memory stays flat however large the file
_BOM = b"\xef\xbb\xbf"
CHATS_KEY = "chats"  # Open WebUI's importChats sends {"chats": [{chat, meta, pinned, ...}]}


@dataclass
class ImportReport:
    imported: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"imported": self.imported, "skipped": self.skipped, "failed": self.failed}

    def recognised_any(self) -> bool:
        """Whether any conversation was one we read (even if it then failed)."""
        return bool(self.imported or self.skipped or any("source" in f for f in self.failed))


@dataclass(frozen=True)
class _Outcome:
    """One conversation of the file: parsed, or the problem with it (``ends``: the file stops
    being readable here, so nothing follows)."""

    index: int
    source: imports.Source | None
    parsed: salon_json.ParsedConversation | None = None
    problem: InvalidInput | None = None
    ends: bool = False


def documents_in(payload: object) -> tuple[list[object], bool]:
    """The conversations in an import body (one, a list, or Open WebUI's ``{"chats": [...]}``)
    and whether it was one."""
    if isinstance(payload, dict) and isinstance(payload.get(CHATS_KEY), list):
        payload = payload[CHATS_KEY]
    if isinstance(payload, list):
        return payload, False
    if imports.source_of(payload) is not None:
        return [payload], True
    raise InvalidInput(imports.UNSUPPORTED, code="UNSUPPORTED_IMPORT_FORMAT")


async def import_documents(ctx: AppContext, user: User, payload: object) -> ImportReport:
    """Import every conversation in ``payload`` (already parsed JSON); a single broken one
    raises InvalidInput, in a list each failure is reported by index."""
    documents, single = documents_in(payload)
    now = ctx.now()

    async def outcomes() -> AsyncIterator[_Outcome]:
        for index, value in enumerate(documents):
            yield _examine(index, streaming.TooDeep() if streaming.too_deep(value) else value,
                           now)

    return await _import_all(ctx, user, outcomes(), single=single)


async def import_file(
    ctx: AppContext, user: User, source: Path | BinaryIO, *,
    on_read: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a JSON file read as a stream: a list of conversations (Salon, Open WebUI or
    ChatGPT, recognised one by one) or a single one, holding one conversation in memory at a
    time. ``on_read`` hears the bytes read so far (a progress bar). A file that is not JSON,
    or holds nothing recognisable, is an InvalidInput and nothing is imported; a file that
    breaks off after some conversations keeps those and reports where it broke."""
    if isinstance(source, Path):
        with source.open("rb") as file:
            return await import_file(ctx, user, file, on_read=on_read)
    reader = _Reader(source, on_read)
    items = await asyncio.to_thread(_open_items, reader)
    pending = _read_outcomes(items, ctx.now())

    async def outcomes() -> AsyncIterator[_Outcome]:
        # Parsing runs in a worker thread: a large conversation never stalls other requests.
        while (outcome := await asyncio.to_thread(next, pending, None)) is not None:
            yield outcome

    return await _import_all(ctx, user, outcomes(), single=not items.is_list)


class _Reader:
    """The file as the parser reads it: a leading UTF-8 byte order mark dropped (as
    ``json.loads`` does), each read counted for ``on_read``."""

    def __init__(self, file: BinaryIO, on_read: Callable[[int], None] | None) -> None:
        self._file, self._on_read, self._total = file, on_read, 0

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        if self._total == 0 and data.startswith(_BOM):
            data = data[len(_BOM):]
        self._total += len(data)
        if self._on_read is not None and data:
            self._on_read(self._total)
        return data


def _open_items(reader: _Reader) -> streaming.JsonItems:
    import ijson  # loaded by the first import of a file, not with the server

    try:
        return streaming.JsonItems(_unwrapped(ijson.basic_parse(reader, use_float=True,
                                                                buf_size=MAX_READ_BYTES)))
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise _not_json(exc) from None


def _unwrapped(events: Iterator[streaming.Event]) -> Iterator[streaming.Event]:
    """Open WebUI's ``importChats`` body, ``{"chats": [...]}`` (its first key), read as the
    list it holds (the keys after it are skipped); any other JSON as it is."""
    head = list(itertools.islice(events, 3))
    if head == [("start_map", None), ("map_key", CHATS_KEY), ("start_array", None)]:
        return itertools.chain(head[2:], events)
    return itertools.chain(head, events)


def _read_outcomes(items: streaming.JsonItems, now: datetime) -> Iterator[_Outcome]:
    import ijson

    index = 0
    try:
        for value in items:
            yield _examine(index, value, now)
            index += 1
    except (ijson.JSONError, UnicodeDecodeError) as exc:  # the parser cannot go on after either
        yield _Outcome(index=index, source=None, problem=_not_json(exc, index=index), ends=True)


def _not_json(exc: Exception, *, index: int = 0) -> InvalidInput:
    """Says where the JSON breaks, with the parser's first line (``parse error: premature
    EOF``), never the quoted text around it."""
    said = exc.args[0] if exc.args else ""
    if isinstance(exc, UnicodeDecodeError):
        said = "text that is not UTF-8, or a lone surrogate such as \\udc00"
    if isinstance(said, bytes):
        said = said.decode("utf-8", "replace")
    lines = str(said).strip().splitlines()
    why = lines[0][:200] if lines else "unreadable"
    if index == 0:
        return InvalidInput(f"The file is not valid JSON ({why}).", code="INVALID_JSON")
    return InvalidInput(f"The file is not valid JSON after conversation #{index - 1} ({why}); "
                        "nothing after that was read.", code="INVALID_JSON")


def _examine(index: int, value: object, now: datetime) -> _Outcome:
    if isinstance(value, streaming.TooDeep):
        return _Outcome(index=index, source=None,
                        problem=InvalidInput(value.reason, code="INVALID_JSON"))
    source = imports.source_of(value)
    try:
        parsed = imports.parse_conversation(value, source, now=now)
    except InvalidInput as exc:
        return _Outcome(index=index, source=source, problem=exc)
    return _Outcome(index=index, source=source, parsed=parsed)


async def _import_all(
    ctx: AppContext, user: User, outcomes: AsyncIterator[_Outcome], *, single: bool
) -> ImportReport:
    report = ImportReport()
    async for outcome in outcomes:
        problem = outcome.problem
        if problem is None and outcome.parsed is not None:
            try:
                await _store(ctx, user, outcome, outcome.parsed, report)
            except InvalidInput as refused:  # the database refused it: nothing of it is kept
                problem = refused
        if problem is not None:
            if single:
                raise problem
            report.failed.append(_failure(outcome, problem))
            if outcome.ends:
                break
    if not single:
        _refuse_if_unrecognised(report)
    return report


def _failure(outcome: _Outcome, problem: InvalidInput) -> dict[str, Any]:
    entry: dict[str, Any] = {"index": outcome.index, "reason": problem.detail,
                             "code": problem.code}
    if outcome.source is not None:
        entry["source"] = outcome.source
    return entry


def _refuse_if_unrecognised(report: ImportReport) -> None:
    """A list with no conversation we read is refused as a whole (nothing was imported)."""
    if report.recognised_any():
        return
    if not report.failed:
        raise InvalidInput("The list of conversations to import is empty.",
                           code="UNSUPPORTED_IMPORT_FORMAT")
    broken = next((f for f in report.failed if f["code"] == "INVALID_JSON"), None)
    if broken is not None:
        raise InvalidInput(broken["reason"], code="INVALID_JSON")
    raise InvalidInput(imports.UNSUPPORTED, code="UNSUPPORTED_IMPORT_FORMAT")


async def _store(ctx: AppContext, user: User, outcome: _Outcome,
                 parsed: salon_json.ParsedConversation, report: ImportReport) -> None:
    existing, conv = await _import_one(ctx, user, parsed)
    if existing is not None:
        report.skipped.append({"index": outcome.index, "chat_id": existing,
                               "reason": "This conversation was already imported."})
    elif conv is not None:
        report.imported.append({"index": outcome.index, "chat_id": conv.id,
                                "title": conv.title, "messages": len(parsed.messages),
                                "source": outcome.source})


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
    except sa.exc.DBAPIError as exc:
        # The same file imported a moment ago by another request, or a value the database
        # refuses: that conversation's transaction rolled back, the others are unaffected.
        await forget_unused_blobs(ctx, stored)
        async with ctx.engine.connect() as conn:
            earlier = await repo.find_import(conn, user_id=user.id,
                                             fingerprint=parsed.fingerprint)
        if earlier is None:
            log.warning("import: the database refused a conversation: %s", exc.orig)
            raise InvalidInput("The database refused to store this conversation; nothing of "
                               "it was imported.", code="IMPORT_NOT_STORED") from None
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
