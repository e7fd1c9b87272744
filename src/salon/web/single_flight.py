"""One piece of work for many concurrent requests that need the same result.

A link shared widely is opened by many viewers in its first second, before its page is in the
cache: each of them rendering it (some 150 ms of CPU each) made the first seconds slow for
everyone. ``SingleFlight.run`` starts the work for the first request of a key;
the others arriving while it runs wait for that result instead of doing the work again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, make: Callable[[], Awaitable[V]]) -> V:
        """``make()``'s result, shared with every caller of the same ``key`` while it runs
        (its error too). A caller that goes away does not stop it for the others."""
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(make())
            self._running[key] = running
            running.add_done_callback(lambda _: self._forget(key, running))
        return await asyncio.shield(running)

    def _forget(self, key: K, done: asyncio.Future[V]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
