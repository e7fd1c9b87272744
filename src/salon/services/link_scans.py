"""Throttling clients that try share links: a lookup of a link that does not exist costs the
client one of ``UNKNOWN_LINKS_PER_MINUTE`` (in ``ctx.limiter``, so shared by every worker with
Redis); past them, the client is locked out and gets ``429`` with ``Retry-After`` for *every*
link until the window lets it try again. Every link, because a lockout that still answered
found links would tell a scanner exactly what it wants (429: no such link, 200: found).

Found links never touch the limiter: the lockout is checked in this process's memory (no I/O),
so valid links cost nothing more and clients that do not scan are never slowed. A worker learns
of a lockout at that client's next unknown link on it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from salon.domain.errors import RateLimited

if TYPE_CHECKING:  # the context holds a LinkScans
    from salon.services.context import AppContext

UNKNOWN_LINKS_PER_MINUTE = 60
WINDOW = 60.0
MAX_LOCKED = 100_000  # clients remembered at once (expired ones are dropped first)


class LinkScans:
    """The clients this process has locked out, each until a time (``time.monotonic``)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may look links up again (0: now)."""
        until = self._until.get(client)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            del self._until[client]
            return 0.0
        return left

    def lock(self, client: str, seconds: float) -> None:
        if len(self._until) >= MAX_LOCKED:
            now = time.monotonic()
            self._until = {k: v for k, v in self._until.items() if v > now}
            if len(self._until) >= MAX_LOCKED:
                self._until.clear()
        self._until[client] = time.monotonic() + seconds


def locked_out(wait: float) -> RateLimited:
    seconds = int(wait) + 1
    return RateLimited("Too many links that do not exist were tried from your address; try "
                       f"again in {seconds} seconds.", retry_after=seconds)


def check(ctx: AppContext, client: str) -> None:
    """Raise the lockout of a client locked out here (memory only: no I/O)."""
    wait = ctx.link_scans.retry_after(client)
    if wait:
        raise locked_out(wait)


async def note_unknown(ctx: AppContext, client: str) -> None:
    """Count an unknown link against ``client``; past the limit, lock it out and raise.
    Recorded before it is checked, so a burst of parallel lookups is counted exactly."""
    key = f"share-unknown:{client}"
    await ctx.limiter.hit(key, window=WINDOW)
    wait = await ctx.limiter.retry_after(key, limit=UNKNOWN_LINKS_PER_MINUTE + 1, window=WINDOW)
    if wait:
        ctx.link_scans.lock(client, wait)
        raise locked_out(wait)
