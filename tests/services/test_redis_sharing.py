"""What several workers share through Redis, on a real Redis server: rate limits, live events
(two hubs stand for two worker processes) and stream limits. Also the in-process limiter, with
the same questions.

Redis comes from SALON_TEST_REDIS_URL (default redis://127.0.0.1:6379/15); these tests are
skipped when it does not answer. Every key a test writes is under its own random prefix."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from salon.domain.errors import RateLimited
from salon.services.live import LiveEvent, StreamLease, StreamLimits, Subscription
from salon.services.live_redis import RedisLiveHub
from salon.services.live_redis_limits import RedisStreamLimits
from salon.services.ratelimit import (
    Limit,
    Limiter,
    RateLimiter,
    RedisRateLimiter,
    Reservation,
    reserve_all,
)

REDIS_URL = os.environ.get("SALON_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis_or_none() -> AsyncIterator[Any]:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        yield None
        return
    yield client
    await client.aclose()


@pytest.fixture
def redis(redis_or_none: Any) -> Any:
    if redis_or_none is None:
        pytest.skip(f"Redis at {REDIS_URL} does not answer")
    return redis_or_none


@pytest.fixture(params=["process", "redis"])
def limiter(request: pytest.FixtureRequest, redis_or_none: Any) -> Limiter:
    if request.param == "process":
        return RateLimiter()
    if redis_or_none is None:
        pytest.skip(f"Redis at {REDIS_URL} does not answer")
    return RedisRateLimiter(redis_or_none)


def fresh_key() -> str:
    return f"test:{uuid.uuid4().hex}"


# --- rate limits -------------------------------------------------------------------------------

async def test_a_limit_allows_exactly_limit_attempts(limiter: Limiter) -> None:
    key = fresh_key()
    for _ in range(3):
        assert await limiter.retry_after(key, limit=3, window=60) == 0
        await limiter.hit(key, window=60)
    wait = await limiter.retry_after(key, limit=3, window=60)
    assert 59 < wait <= 60
    await limiter.reset(key)
    assert await limiter.retry_after(key, limit=3, window=60) == 0


async def test_old_attempts_leave_the_window(limiter: Limiter) -> None:
    key = fresh_key()
    await limiter.hit(key, window=0.3)
    await limiter.hit(key, window=0.3)
    assert await limiter.retry_after(key, limit=2, window=0.3) > 0
    await asyncio.sleep(0.4)
    assert await limiter.retry_after(key, limit=2, window=0.3) == 0


async def test_a_burst_of_reservations_gets_exactly_the_limit(limiter: Limiter) -> None:
    key = fresh_key()
    attempts = await asyncio.gather(
        *(limiter.reserve(key, limit=10, window=60) for _ in range(60)))
    granted = [a.token for a in attempts if a.token is not None]
    assert len(granted) == len(set(granted)) == 10
    assert all(59 < a.retry_after <= 60 for a in attempts if a.token is None)
    # Releasing one attempt frees exactly one place; an unknown token frees none.
    await limiter.release(key, granted[0])
    await limiter.release(key, "not a token")
    assert (await limiter.reserve(key, limit=10, window=60)).token is not None
    assert (await limiter.reserve(key, limit=10, window=60)).token is None


async def test_reserve_all_holds_every_limit_or_none(limiter: Limiter) -> None:
    narrow, wide = fresh_key(), fresh_key()
    limits = [Limit(narrow, 5, 60), Limit(wide, 3, 60)]
    results = await asyncio.gather(*(reserve_all(limiter, limits, message="wait {seconds} s")
                                     for _ in range(8)), return_exceptions=True)
    held = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if isinstance(r, RateLimited)]
    assert (len(held), len(refused)) == (3, 5)
    assert all(r.detail == f"wait {r.extra['retry_after']} s" for r in refused)
    # The narrow limit holds only what the wide one let through.
    assert (await limiter.reserve(narrow, limit=3, window=60)).token is None
    assert (await limiter.reserve(narrow, limit=4, window=60)).token is not None
    # Success forgets the narrow limit's failures and gives the wide limit its place back.
    await held[0].succeed()
    assert await limiter.retry_after(narrow, limit=1, window=60) == 0
    assert (await limiter.reserve(wide, limit=3, window=60)).token is not None


async def test_two_workers_count_the_same_attempts(redis: Any) -> None:
    worker_a, worker_b = RedisRateLimiter(redis), RedisRateLimiter(redis)
    key = fresh_key()
    for n in range(10):
        await (worker_a if n % 2 else worker_b).hit(key, window=60)
    assert await worker_a.retry_after(key, limit=10, window=60) > 0
    assert await worker_b.retry_after(key, limit=10, window=60) > 0


# --- live events -------------------------------------------------------------------------------

@pytest.fixture
async def hubs(redis: Any) -> AsyncIterator[tuple[RedisLiveHub, RedisLiveHub]]:
    """Two hubs on the same Redis: two worker processes."""
    one, two = RedisLiveHub(redis), RedisLiveHub(redis)
    await one.start()
    await two.start()
    yield one, two
    await one.close()
    await two.close()


async def next_event(sub: Subscription) -> LiveEvent:
    return await asyncio.wait_for(sub.watcher.queue.get(), 5)


async def test_an_event_published_on_one_worker_reaches_watchers_on_both(
    hubs: tuple[RedisLiveHub, RedisLiveHub]
) -> None:
    one, two = hubs
    chat = f"chat-{uuid.uuid4().hex}"
    async with one.subscribe(chat) as here, two.subscribe(chat) as there:
        one.publish(chat, "turn", {"seq": 4})
        got_here, got_there = await next_event(here), await next_event(there)
    assert got_here == got_there
    assert got_here.kind == "turn" and got_here.data == {"seq": 4} and "-" in got_here.id


async def test_a_reconnect_on_another_worker_gets_what_it_missed_once(
    hubs: tuple[RedisLiveHub, RedisLiveHub]
) -> None:
    one, two = hubs
    chat = f"chat-{uuid.uuid4().hex}"
    async with one.subscribe(chat) as first:
        one.publish(chat, "turn", {"seq": 1})
        seen = await next_event(first)
    for n in (2, 3):
        one.publish(chat, "turn", {"seq": n})
    await asyncio.sleep(0.3)  # sent
    async with two.subscribe(chat, last_event_id=seen.id) as again:
        assert not again.gap
        assert [e.data["seq"] for e in again.backlog] == [2, 3]
        one.publish(chat, "turn", {"seq": 4})
        assert (await next_event(again)).data == {"seq": 4}  # and not 2 or 3 a second time
        assert again.watcher.queue.empty()


@pytest.mark.parametrize("last_id", ["1-1", "garbage", "99999999999999-0"])
async def test_an_unknown_id_is_a_gap(hubs: tuple[RedisLiveHub, RedisLiveHub],
                                      last_id: str) -> None:
    one, _ = hubs
    chat = f"chat-{uuid.uuid4().hex}"
    one.publish(chat, "turn", {"seq": 1})
    await asyncio.sleep(0.3)
    async with one.subscribe(chat, last_event_id=last_id) as again:
        assert again.gap and again.backlog == []


async def test_broadcast_reaches_every_worker(hubs: tuple[RedisLiveHub, RedisLiveHub]) -> None:
    one, two = hubs
    async with two.subscribe(f"chat-{uuid.uuid4().hex}") as elsewhere:
        one.broadcast("access", {})
        assert (await next_event(elsewhere)).kind == "access"


# --- stream limits: leases ---------------------------------------------------------------------

StreamLimitsFactory = Callable[..., StreamLimits | RedisStreamLimits]


@pytest.fixture(params=["process", "redis"])
def stream_limits(request: pytest.FixtureRequest, redis_or_none: Any) -> StreamLimitsFactory:
    """Builds stream limits (``lease_seconds`` passed on): in this process, or in Redis (each
    call a worker of its own)."""
    if request.param == "process":
        return StreamLimits
    if redis_or_none is None:
        pytest.skip(f"Redis at {REDIS_URL} does not answer")
    return lambda **options: RedisStreamLimits(redis_or_none, **options)


def fresh_stream() -> tuple[str, str]:
    """A share and a client nobody else uses."""
    return uuid.uuid4().hex, f"client-{uuid.uuid4().hex}"


async def test_stream_limits_are_shared(redis: Any) -> None:
    worker_a, worker_b = RedisStreamLimits(redis), RedisStreamLimits(redis)
    share, client = fresh_stream()
    await worker_a.open(share, client, per_share=2, per_client=10)
    second = await worker_b.open(share, client, per_share=2, per_client=10)
    with pytest.raises(RateLimited):
        await worker_a.open(share, client, per_share=2, per_client=10)
    await worker_b.close(second)
    await worker_a.open(share, client, per_share=2, per_client=10)


async def test_a_killed_workers_streams_stop_counting_when_their_leases_lapse(
    redis: Any
) -> None:
    share, client = fresh_stream()
    killed = RedisStreamLimits(redis, lease_seconds=0.5)
    for _ in range(2):
        await killed.open(share, client, per_share=10, per_client=2)
    del killed  # its process died: nothing closed, nothing renewed
    survivor = RedisStreamLimits(redis, lease_seconds=0.5)
    with pytest.raises(RateLimited):
        await survivor.open(share, client, per_share=10, per_client=2)
    await asyncio.sleep(0.6)
    for _ in range(2):
        await survivor.open(share, client, per_share=10, per_client=2)


def opener(
    limits: StreamLimits | RedisStreamLimits, *, per_share: int
) -> Callable[[], Awaitable[StreamLease]]:
    """Opens streams of one fresh share, from one fresh client."""
    share, client = fresh_stream()
    return lambda: limits.open(share, client, per_share=per_share, per_client=100)


async def test_a_lease_not_renewed_lapses_and_a_renewed_one_stays(
    stream_limits: StreamLimitsFactory
) -> None:
    limits = stream_limits(lease_seconds=0.5)
    open_stream = opener(limits, per_share=2)
    kept = await open_stream()
    await open_stream()  # never renewed
    for _ in range(4):  # 0.8 s in all: past the first lease
        await asyncio.sleep(0.2)
        await limits.renew(kept)
    third = await open_stream()  # the lapsed place
    with pytest.raises(RateLimited):  # the renewed stream still counts
        await open_stream()
    for lease in (kept, third):
        await limits.close(lease)
    await open_stream()


async def test_a_lapsed_lease_comes_back_only_if_there_is_room(
    stream_limits: StreamLimitsFactory
) -> None:
    limits = stream_limits(lease_seconds=0.3)
    open_stream = opener(limits, per_share=1)
    late = await open_stream()
    await asyncio.sleep(0.4)
    await limits.renew(late)  # lapsed, but the place is free: taken again
    with pytest.raises(RateLimited):
        await open_stream()
    await asyncio.sleep(0.4)
    await open_stream()  # lapsed, and taken by another stream
    with pytest.raises(RateLimited):
        await limits.renew(late)


async def granted(opens: list[Awaitable[StreamLease]]) -> int:
    """How many of these opens, run at once, got a lease (the others were RateLimited)."""
    results = await asyncio.gather(*opens, return_exceptions=True)
    assert all(isinstance(r, StreamLease | RateLimited) for r in results), results
    return sum(isinstance(r, StreamLease) for r in results)


async def test_a_burst_of_opens_gets_exactly_the_limit(
    stream_limits: StreamLimitsFactory
) -> None:
    first = stream_limits()  # in Redis, three workers; in one process, one set of counts
    workers = [first] if isinstance(first, StreamLimits) else [first, *(
        stream_limits() for _ in range(2))]
    share, client = fresh_stream()
    assert await granted([workers[n % len(workers)].open(share, client, per_share=100,
                                                         per_client=5)
                          for n in range(40)]) == 5
    share = uuid.uuid4().hex
    assert await granted([workers[n % len(workers)].open(share, f"{client}-{n}", per_share=7,
                                                         per_client=5)
                          for n in range(40)]) == 7
