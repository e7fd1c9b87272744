"""Views of shares without a view limit, counted in memory and written in batches.

DESIGN ("The hot path") allows it: a share with no view limit gains nothing from an UPDATE per
view, and a popular link would make every view a write. Views are added here and written at
least every second (``run``), before any owner-facing read or change (``flush``), and when the
app stops (``drain``). A crash can lose about a second of counts, never a limit: shares with a
view limit are always counted by the one conditional UPDATE that enforces it. Stopping loses
none: what cannot be written then (the database away, the disk full) is kept in this process's
``view_journal`` and counted by the next start.

With several workers, each writes its own batch. A write never waits for a share row that
another transaction is writing (``store.shares.add_views``): those views stay here for the next
flush. So two workers' batches cannot deadlock, and an owner's request, which flushes first,
never waits for another worker's batch (its own share's views may then show a second later).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from salon.services.view_journal import ViewJournal, take_orphans
from salon.store import shares as repo
from salon.store.db import transaction

log = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 1.0
DRAIN_SECONDS = 3.0  # how long stopping tries to write the views before it journals them


class ViewBatch:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._pending: Counter[str] = Counter()
        self._lock = asyncio.Lock()
        self._journal: ViewJournal | None = None

    async def open_journal(self, folder: Path) -> None:
        """Keep views that stopping cannot write in a journal in ``folder``, and count again
        those of journals whose process is gone (written by the next flush). Without room
        for a journal, such views would be lost (a warning)."""
        orphans = await asyncio.to_thread(take_orphans, folder)
        if orphans:
            log.info("%d share views kept by a stopped process counted again", orphans.total())
            self._pending.update(orphans)
        try:
            self._journal = await asyncio.to_thread(ViewJournal.create, folder)
        except OSError as exc:
            log.warning("no journal for share views (%s): views not written when the app "
                        "stops would be lost", exc)

    def add(self, share_pk: str) -> None:
        """One view delivered (the caller has decided access, and the share has no limit)."""
        self._pending[share_pk] += 1

    @property
    def pending(self) -> int:
        return sum(self._pending.values())

    async def flush(self) -> None:
        """Write the pending views, except those of shares whose row another transaction is
        writing at this moment (kept for the next flush). Concurrent callers in this process
        wait for the write in progress, so whoever returns from here reads counts that
        include every view added before, unless another worker was writing that share."""
        async with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, Counter()
            try:
                async with transaction(self._engine) as conn:
                    busy = await repo.add_views(conn, batch)
            except BaseException:
                self._pending.update(batch)  # kept for the next flush, never lost
                raise
            self._pending.update({pk: batch[pk] for pk in busy})

    async def drain(self, *, within: float = DRAIN_SECONDS, pause: float = 0.05) -> None:
        """Flush until nothing is pending (when the app stops), trying again every ``pause``
        for ``within`` seconds: rows busy in another worker, a database that fails, a full
        disk. What is left then goes to the journal (counted by the next start), or without
        one is lost (logged); either way nothing is pending afterwards, and the rest of the
        shutdown goes on."""
        clock = asyncio.get_running_loop().time
        deadline, why = clock() + within, "rows busy in another worker"
        while self._pending:
            try:
                await self.flush()
            except Exception as exc:
                why = type(exc).__name__
            if not self._pending or clock() >= deadline:
                break
            await asyncio.sleep(pause)
        await asyncio.to_thread(self._close_journal, why)
        self._pending.clear()  # written, kept or lost: never written twice

    def _close_journal(self, why: str) -> None:
        journal, self._journal = self._journal, None
        left = self.pending
        if journal is None:
            if left:
                log.warning("stopping without writing %d batched share views: %s", left, why)
            return
        if not left:
            journal.close(empty=True)
            return
        try:
            lost = journal.keep(self._pending)
        except OSError as exc:
            log.warning("stopping without writing %d batched share views: %s, and %s", left,
                        why, exc)
            lost = left
        journal.close(empty=lost == left)
        log.warning("%d batched share views kept in %s for the next start (%s)%s",
                    left - lost, journal.path, why, f"; {lost} did not fit" if lost else "")

    async def run(self, interval: float = FLUSH_INTERVAL_SECONDS) -> None:
        """Flush every ``interval`` seconds until cancelled (a failed write is retried)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
            except Exception as exc:  # the database is away: keep the counts, try again
                log.warning("could not write %d batched share views: %s",
                            self.pending, type(exc).__name__)
