"""Sliding-window rate limits. Keys are opaque strings.

``RateLimiter`` keeps the windows in this process (one worker). ``RedisRateLimiter`` keeps them
in Redis (``SALON_REDIS_URL``), so every worker and host counts the same attempts: 10 wrong
passwords are 10 wherever they land. Both answer the same three questions:
``retry_after(key, limit, window)`` (seconds until an attempt is allowed, 0 now), ``hit``
(record an attempt) and ``reset``.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from typing import Any, Protocol


class Limiter(Protocol):
    async def retry_after(self, key: str, *, limit: int, window: float) -> float: ...

    async def hit(self, key: str, *, window: float) -> None: ...

    async def reset(self, key: str) -> None: ...


class RateLimiter:
    """In this process only."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    def _window(self, key: str, window: float, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._evict(now, window)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - window:
            hits.popleft()
        return hits

    def _evict(self, now: float, window: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - window]:
            del self._hits[key]
        if len(self._hits) >= self._max_keys:
            self._hits.clear()

    async def retry_after(self, key: str, *, limit: int, window: float) -> float:
        now = time.monotonic()
        hits = self._window(key, window, now)
        if len(hits) < limit:
            return 0.0
        return max(0.0, hits[0] + window - now)

    async def hit(self, key: str, *, window: float) -> None:
        now = time.monotonic()
        self._window(key, window, now).append(now)

    async def reset(self, key: str) -> None:
        self._hits.pop(key, None)


class RedisRateLimiter:
    """In Redis: one sorted set per key (attempt times as scores), expiring with its window.
    Times are the hosts' clocks, so hosts must keep them in sync (NTP)."""

    PREFIX = "salon:rl:"

    def __init__(self, redis: Any) -> None:
        self._redis = redis

    async def retry_after(self, key: str, *, limit: int, window: float) -> float:
        name = self.PREFIX + key
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, "-inf", now - window)
            pipe.zcard(name)
            pipe.zrange(name, 0, 0, withscores=True)
            _, count, oldest = await pipe.execute()
        if count < limit or not oldest:
            return 0.0
        return max(0.0, float(oldest[0][1]) + window - now)

    async def hit(self, key: str, *, window: float) -> None:
        name = self.PREFIX + key
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(name, {uuid.uuid4().hex: now})
            pipe.pexpire(name, int(window * 1000) + 1000)
            await pipe.execute()

    async def reset(self, key: str) -> None:
        await self._redis.delete(self.PREFIX + key)
