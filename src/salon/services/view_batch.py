"""Views of shares without a view limit, counted in memory and written in batches.

DESIGN ("The hot path") allows it: a share with no view limit gains nothing from an UPDATE per
view, and a popular link would make every view a write. Views are added here and written at
least every second (``run``), before any owner-facing read or change (``flush``), and when the
app stops (``drain``). A crash can lose about a second of counts, never a limit: shares with a
view limit are always counted by the one conditional UPDATE that enforces it.

With several workers, each writes its own batch. A write never waits for a share row that
another transaction is writing (``store.shares.add_views``): those views stay here for the next
flush. So two workers' batches cannot deadlock, and an owner's request, which flushes first,
never waits for another worker's batch (its own share's views may then show a second later).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncEngine

from salon.store import shares as repo
from salon.store.db import transaction

log = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 1.0


class ViewBatch:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._pending: Counter[str] = Counter()
        self._lock = asyncio.Lock()

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

    async def drain(self, *, attempts: int = 50, pause: float = 0.02) -> None:
        """Flush until nothing is pending (when the app stops): rows busy in another worker
        are tried again after ``pause``, up to ``attempts`` times. A database that fails now
        costs these counts (logged), never the rest of the shutdown."""
        for _ in range(attempts):
            try:
                await self.flush()
            except Exception as exc:
                log.warning("stopping without writing %d batched share views: %s",
                            self.pending, type(exc).__name__)
                return
            if not self._pending:
                return
            await asyncio.sleep(pause)

    async def run(self, interval: float = FLUSH_INTERVAL_SECONDS) -> None:
        """Flush every ``interval`` seconds until cancelled (a failed write is retried)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
            except Exception as exc:  # the database is away: keep the counts, try again
                log.warning("could not write %d batched share views: %s",
                            self.pending, type(exc).__name__)
