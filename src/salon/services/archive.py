"""All of a user's conversations as one ZIP, written as it is sent.

The archive is produced entry by entry: each conversation is exported (``exporting``), added
to the ZIP, and the bytes that makes are handed out before the next one is read, so memory
holds one conversation at a time however many there are. The ZIP is written without seeking
(sizes follow each entry), which every unzip tool reads.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from salon.domain.errors import NotFound
from salon.domain.users import User
from salon.services import exporting
from salon.services.context import AppContext
from salon.services.conversations import list_conversations


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream that keeps what was written until it is taken."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def archive_name(now: datetime) -> str:
    return f"salon-chats-{now:%Y-%m-%d}.zip"


async def chat_ids(ctx: AppContext, user: User) -> list[str]:
    """The user's conversations, most recently updated first."""
    items, _ = await list_conversations(ctx, user)
    return [c.id for c in items]


async def export_archive(
    ctx: AppContext, user: User, fmt: str, *, ids: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AsyncIterator[bytes]:
    """The ZIP's bytes, piece by piece: one entry per conversation in ``fmt`` (checked before
    the first byte). ``progress(done, total)`` is called after each conversation."""
    exporting.check_export_format(fmt)
    if ids is None:
        ids = await chat_ids(ctx, user)
    sink = _Sink()
    used: set[str] = set()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, chat_id in enumerate(ids, 1):
            try:
                exported = await exporting.export_file(ctx, user, chat_id, fmt)
            except NotFound:  # deleted while the archive was being written
                continue
            archive.writestr(_entry_name(exported.name, chat_id, used), exported.body)
            if progress is not None:
                progress(done, len(ids))
            yield sink.take()
    yield sink.take()


def _entry_name(name: str, chat_id: str, used: set[str]) -> str:
    """The export's own name, with the chat's id added when two chats share a title."""
    stem, dot, suffix = name.partition(".")
    candidate = name
    if candidate in used:
        candidate = f"{stem}-{chat_id[:8]}{dot}{suffix}"
    n = 2
    while candidate in used:
        candidate = f"{stem}-{chat_id[:8]}-{n}{dot}{suffix}"
        n += 1
    used.add(candidate)
    return candidate
