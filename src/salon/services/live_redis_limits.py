"""Live stream limits across workers and hosts, through Redis (``SALON_REDIS_URL``): what
``live.StreamLimits`` does for one process, for every process at once."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from salon.domain.errors import RateLimited
from salon.services.live import LEASE_SECONDS, StreamLease, too_many_streams

log = logging.getLogger(__name__)

# Drop the lapsed leases of the share's and the client's sets; if both have room (a lease
# already held counts as room: a renewal), add or renew this lease (scored by its expiry in
# Redis's own milliseconds, the same clock for every host) and let each set live as long as
# its newest lease: 1, else 0. One script, so a burst of opens cannot overshoot a limit.
# KEYS: share set, client set. ARGV: lease id, lease ms, per share, per client.
LEASE_SCRIPT = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ms)
  local held = redis.call('ZCARD', key)
  if redis.call('ZSCORE', key, ARGV[1]) then held = held - 1 end
  if held >= tonumber(ARGV[2 + i]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ms + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2])
end
return 1
"""


class RedisStreamLimits:
    """Open streams per share and per client for every worker: a sorted set of leases per
    share and per client in Redis, each scored by when it lapses. A stream renews its lease
    on its heartbeat; a worker that dies with streams open stops counting them within
    ``lease_seconds``."""

    PREFIX = "salon:live:leases:"

    def __init__(self, redis: Any, *, lease_seconds: float = LEASE_SECONDS) -> None:
        self._redis = redis
        self._script = redis.register_script(LEASE_SCRIPT)
        self.lease_seconds = lease_seconds

    async def open(
        self, share_pk: str, client: str, *, per_share: int, per_client: int
    ) -> StreamLease:
        """A lease for one more stream, or RateLimited when a limit is reached."""
        lease = StreamLease(share_pk, client, per_share=per_share, per_client=per_client)
        await self._hold(lease)
        return lease

    async def renew(self, lease: StreamLease) -> None:
        """Keep the lease another ``lease_seconds``; RateLimited when it lapsed meanwhile and
        others took the place."""
        with _unless_redis_fails("renewed"):
            await self._hold(lease)

    async def close(self, lease: StreamLease) -> None:
        with _unless_redis_fails("given back"):
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in self._keys(lease):
                    pipe.zrem(key, lease.id)
                await pipe.execute()

    async def _hold(self, lease: StreamLease) -> None:
        held = await self._script(keys=self._keys(lease), args=[
            lease.id, int(self.lease_seconds * 1000), lease.per_share, lease.per_client])
        if not held:
            raise too_many_streams()

    def _keys(self, lease: StreamLease) -> list[str]:
        return [f"{self.PREFIX}share:{lease.share_pk}", f"{self.PREFIX}client:{lease.client}"]


@contextlib.contextmanager
def _unless_redis_fails(action: str) -> Iterator[None]:
    """An open stream goes on when Redis does not answer (a warning): its lease lapses by
    itself."""
    try:
        yield
    except RateLimited:
        raise
    except Exception as exc:
        log.warning("live stream lease not %s in Redis: %s", action, type(exc).__name__)
