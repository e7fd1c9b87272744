"""Password hashing on a bounded pool: a burst of sign-ins cannot take every thread and every
megabyte (argon2id uses 64 MiB per hash), nor make other people's sign-ins wait behind it.

At most ``workers`` hashes run at once and at most ``queue`` more wait for a thread; a request
beyond that is refused at once with ``429 SERVER_BUSY`` (and ``Retry-After``), never queued.
The pool is per server process.

Its threads run at a lower CPU priority (``HASHING_NICENESS``; argon2's own threads inherit it):
a hash takes some 0.2 s of CPU, and when hashes keep the cores busy, the requests being answered
(an owner's share change, a page) get the CPU first instead of queuing behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from salon.domain.errors import RateLimited

T = TypeVar("T")


HASHING_NICENESS = 10


def _yield_to_requests() -> None:
    """Lower this hashing thread's priority (Linux sets it per thread; elsewhere, or where
    it is not allowed, the thread keeps the process's)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                       os.getpriority(os.PRIO_PROCESS, 0) + HASHING_NICENESS)


def server_busy() -> RateLimited:
    return RateLimited("The server is busy checking other passwords. Try again in a moment.",
                       code="SERVER_BUSY", retry_after=1)


class PasswordPool:
    """``hash`` and ``verify`` run on ``workers`` threads of their own, with a bounded wait."""

    def __init__(self, hasher: PasswordHasher, *, workers: int, queue: int) -> None:
        self.hasher = hasher
        self.workers = workers
        self.queue = queue
        self._executor = ThreadPoolExecutor(max_workers=workers, initializer=_yield_to_requests,
                                            thread_name_prefix="salon-password")
        # Hashes running or waiting. Changed on the event loop only: when a job leaves its
        # thread (or is cancelled before it starts), not when its caller stops waiting, so a
        # client that hangs up does not free a thread that is still hashing.
        self.pending = 0

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        def _verify() -> bool:
            try:
                return self.hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await self._run(_verify)

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        if self.pending >= self.workers + self.queue:
            raise server_busy()
        loop = asyncio.get_running_loop()
        job: Future[T] = self._executor.submit(work, *args)
        self.pending += 1
        job.add_done_callback(lambda _: self._done(loop))
        return await asyncio.wrap_future(job)

    def _done(self, loop: asyncio.AbstractEventLoop) -> None:
        if not loop.is_closed():  # a closed loop's pool has nobody left to count for
            loop.call_soon_threadsafe(self._release_slot)

    def _release_slot(self) -> None:
        self.pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
