"""Page rendering off the event loop, on a bounded number of threads.

Rendering a shared chat of thousands of messages (Markdown, sanitising, highlighting) takes
seconds of CPU: on the event loop it stalled every other request of the process, ``/healthz``
included. Share pages and ``/s/{id}/messages`` are rendered here instead: at most ``workers``
renders run at once and at most ``queue`` more wait for a thread; a request beyond that is
refused at once with ``503 SERVER_BUSY`` (and ``Retry-After``), never queued. The pool is per
server process.

What runs here must be pure rendering: values read on the event loop beforehand (no database,
no request object, no per-request async state), and caches that are safe across threads
(``context.LruCache``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from salon.domain.errors import Overloaded

T = TypeVar("T")
RETRY_AFTER_SECONDS = 1


def server_busy() -> Overloaded:
    return Overloaded("The server is busy showing other pages. Try again in a moment.",
                      retry_after=RETRY_AFTER_SECONDS)


class RenderPool:
    """``run`` calls a function on one of ``workers`` threads, with a bounded wait."""

    def __init__(self, *, workers: int, queue: int) -> None:
        self.workers = workers
        self.queue = queue
        self._limiter = anyio.CapacityLimiter(workers)
        # Renders running or waiting, changed on the event loop only. A caller that goes away
        # still waits for its render's thread to finish (``to_thread`` is not abandoned on
        # cancel), so a client that hangs up frees no slot while its render is running.
        self.pending = 0

    @property
    def running(self) -> int:
        """Renders on a thread now."""
        return int(self._limiter.borrowed_tokens)

    def refuse_if_full(self) -> None:
        """``SERVER_BUSY`` now when ``workers`` renders run and ``queue`` more wait already:
        a request asks before it spends a view on a page it might not get (the pool may still
        fill up before its own render, rarely)."""
        if self.pending >= self.workers + self.queue:
            raise server_busy()

    async def run(self, work: Callable[[], T]) -> T:
        """``work()``'s result, computed on a render thread; ``SERVER_BUSY`` when the pool is
        full (``refuse_if_full``)."""
        self.refuse_if_full()
        self.pending += 1
        try:
            return await anyio.to_thread.run_sync(work, limiter=self._limiter)
        finally:
            self.pending -= 1
