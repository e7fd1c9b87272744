"""The Redis clients Salon talks through (``SALON_REDIS_URL``), each bounded in time.

Every command waits at most ``SALON_REDIS_TIMEOUT`` seconds for its connection and at most as
long again for its answer, so a Redis that accepts connections but never answers costs a
request that long (then ``503 REDIS_UNAVAILABLE``, see ``web.errors``), never a hang. A
connection that breaks is tried once more at once (a pooled connection Redis closed while
idle); one that times out is not: the next command gets a new connection.

The live updates' pub/sub listener has a client (a pool) of its own, so that its waiting for
events never holds a connection others need, and its own ways to notice a silent Redis
(``live_redis.RedisLiveHub``).
"""

from __future__ import annotations

from typing import Any


def make_redis_client(url: str, *, timeout: float) -> Any:
    """A ``redis.asyncio`` client for ``url`` whose connects and commands each give up after
    ``timeout`` seconds (``redis.exceptions.TimeoutError``)."""
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    once_if_broken = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
    return aioredis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                             retry=once_if_broken)
