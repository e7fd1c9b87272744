"""Batched share views that could not be written when the app stopped, kept for the next start.

Each process keeps one journal file in ``SALON_DATA_DIR/views``, written full of zeros when it
starts (so that writing the counts later, in place, needs no new room on a full disk), and
locked (``flock``) for as long as the process lives. When the app stops with views it could not
write (the database away, the disk full), they go into the journal; a journal with nothing in
it is deleted. A process starting reads and deletes every journal no live process holds (its
writer stopped or was killed), and counts what it held again.

The counts are one JSON object, ``{share id: views}``, at the start of the file, followed by
zeros. What does not fit (more than some thousand shares) is dropped, the smallest counts
first, with a warning.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

JOURNAL_BYTES = 64 * 1024
SUFFIX = ".journal"


class ViewJournal:
    """This process's journal (see the module's docstring). Blocking file work: call it
    from a thread when the event loop must not wait."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def create(cls, folder: Path) -> ViewJournal:
        """A new journal, written full and locked (OSError when there is no room for it)."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.pwrite(fd, bytes(JOURNAL_BYTES), 0)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return cls(path, fd)

    def keep(self, counts: Mapping[str, int]) -> int:
        """Write ``counts`` in place of what the journal held; returns how many views did
        not fit (dropped)."""
        kept = dict(counts)
        body = _encode(kept)
        while len(body) > JOURNAL_BYTES and kept:
            del kept[min(kept, key=kept.__getitem__)]
            body = _encode(kept)
        os.pwrite(self._fd, body.ljust(JOURNAL_BYTES, b"\0"), 0)
        os.fsync(self._fd)
        return sum(counts.values()) - sum(kept.values())

    def close(self, *, empty: bool) -> None:
        """Release the journal; ``empty``: nothing was kept, so the file goes."""
        if empty:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)


def take_orphans(folder: Path) -> Counter[str]:
    """The views in journals no live process holds; those journals are deleted."""
    found: Counter[str] = Counter()
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        with contextlib.suppress(FileNotFoundError):
            found.update(_take(path))
    return found


def _take(path: Path) -> Mapping[str, int]:
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return {}  # a live process's own journal
        raw = os.pread(fd, JOURNAL_BYTES, 0).rstrip(b"\0")
        path.unlink()
    finally:
        os.close(fd)
    return _decode(raw, path)


def _encode(counts: Mapping[str, int]) -> bytes:
    return json.dumps(counts, separators=(",", ":")).encode() if counts else b""


def _decode(raw: bytes, path: Path) -> Mapping[str, int]:
    if not raw:
        return {}
    try:
        counts = json.loads(raw)
    except ValueError:  # cut short by a crash while it was written
        counts = None
    if not isinstance(counts, dict):
        log.warning("share views in %s unreadable: dropped", path.name)
        return {}
    return {str(pk): int(n) for pk, n in counts.items() if isinstance(n, int) and n > 0}
