"""Sliding-window rate limits. Keys are opaque strings.

``RateLimiter`` keeps the windows in this process (one worker). ``RedisRateLimiter`` keeps them
in Redis (``SALON_REDIS_URL``), so every worker and host counts the same attempts: 10 wrong
passwords are 10 wherever they land. Both answer the same questions:
``retry_after(key, limit, window)`` (seconds until an attempt is allowed, 0 now), ``hit``
(record an attempt), ``reserve`` (both in one atomic step), ``release`` (give one reserved
attempt back) and ``reset``.

Work that is slow and guarded by a limit (a password hash) must ``reserve`` before it starts:
checking first and recording after the work lets a burst of parallel attempts all pass the
check before any of them is recorded.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from salon.domain.errors import RateLimited


@dataclass(frozen=True)
class Attempt:
    """The answer to ``reserve``: ``token`` names the recorded attempt (for ``release``), or is
    None when the limit was reached and nothing was recorded (then ``retry_after`` > 0)."""

    token: str | None
    retry_after: float = 0.0


class Limiter(Protocol):
    async def retry_after(self, key: str, *, limit: int, window: float) -> float: ...

    async def hit(self, key: str, *, window: float) -> None: ...

    async def reserve(self, key: str, *, limit: int, window: float) -> Attempt: ...

    async def release(self, key: str, token: str) -> None: ...

    async def reset(self, key: str) -> None: ...


@dataclass(frozen=True)
class Limit:
    key: str
    limit: int
    window: float


@dataclass
class Reservation:
    """One attempt held under several limits (``reserve_all``)."""

    limiter: Limiter
    held: list[tuple[str, str]] = field(default_factory=list)

    async def release(self) -> None:
        """Give every held attempt back (the attempt turned out not to count)."""
        for key, token in self.held:
            await self.limiter.release(key, token)
        self.held.clear()

    async def succeed(self) -> None:
        """The attempt succeeded: the failures counted under the first (narrowest) limit are
        forgotten, and the other limits get this attempt back."""
        if self.held:
            await self.limiter.reset(self.held.pop(0)[0])
        await self.release()


async def reserve_all(limiter: Limiter, limits: Sequence[Limit], *, message: str) -> Reservation:
    """Record one attempt under every limit, each atomically, or raise ``RateLimited`` (with
    ``Retry-After``) holding none when any limit is used up: concurrent callers can never hold
    more than a limit's number of attempts. ``{seconds}`` in ``message`` becomes the wait."""
    reservation = Reservation(limiter)
    for lim in limits:
        attempt = await limiter.reserve(lim.key, limit=lim.limit, window=lim.window)
        if attempt.token is None:
            await reservation.release()
            wait = int(attempt.retry_after) + 1
            raise RateLimited(message.format(seconds=wait), retry_after=wait)
        reservation.held.append((lim.key, attempt.token))
    return reservation


class RateLimiter:
    """In this process only."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        # Per key, the attempts in the window: (time, token), oldest first.
        self._hits: dict[str, deque[tuple[float, str]]] = {}
        self._max_keys = max_keys
        self._tokens = itertools.count()

    def _window(self, key: str, window: float, now: float) -> deque[tuple[float, str]]:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._evict(now, window)
            hits = self._hits[key] = deque()
        while hits and hits[0][0] <= now - window:
            hits.popleft()
        return hits

    def _evict(self, now: float, window: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1][0] <= now - window]:
            del self._hits[key]
        if len(self._hits) >= self._max_keys:
            self._hits.clear()

    async def retry_after(self, key: str, *, limit: int, window: float) -> float:
        now = time.monotonic()
        hits = self._window(key, window, now)
        if len(hits) < limit:
            return 0.0
        return max(0.0, hits[0][0] + window - now)

    async def hit(self, key: str, *, window: float) -> None:
        now = time.monotonic()
        self._window(key, window, now).append((now, str(next(self._tokens))))

    async def reserve(self, key: str, *, limit: int, window: float) -> Attempt:
        # No await between the check and the record: one step for this event loop.
        now = time.monotonic()
        hits = self._window(key, window, now)
        if len(hits) >= limit:
            return Attempt(None, max(0.0, hits[0][0] + window - now))
        token = str(next(self._tokens))
        hits.append((now, token))
        return Attempt(token)

    async def release(self, key: str, token: str) -> None:
        hits = self._hits.get(key)
        if hits is None:
            return
        for hit in hits:
            if hit[1] == token:
                hits.remove(hit)
                return

    async def reset(self, key: str) -> None:
        self._hits.pop(key, None)


class RedisRateLimiter:
    """In Redis: one sorted set per key (attempt times as scores), expiring with its window.
    Times are the hosts' clocks, so hosts must keep them in sync (NTP)."""

    PREFIX = "salon:rl:"
    # Drop the attempts that left the window, then record this one only while fewer than the
    # limit remain: one script, so no other client's attempt can land in between. Answers
    # {1} when recorded, else {0, the oldest attempt's time}.
    RESERVE = """
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
    if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
      redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
      redis.call('PEXPIRE', KEYS[1], ARGV[5])
      return {1}
    end
    return {0, redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]}
    """

    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._reserve = redis.register_script(self.RESERVE)

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

    async def reserve(self, key: str, *, limit: int, window: float) -> Attempt:
        now = time.time()
        token = uuid.uuid4().hex
        answer = await self._reserve(keys=[self.PREFIX + key], args=[
            repr(now), repr(window), limit, token, int(window * 1000) + 1000])
        if answer[0] == 1:
            return Attempt(token)
        return Attempt(None, max(0.0, float(answer[1]) + window - now))

    async def release(self, key: str, token: str) -> None:
        await self._redis.zrem(self.PREFIX + key, token)

    async def reset(self, key: str) -> None:
        await self._redis.delete(self.PREFIX + key)
