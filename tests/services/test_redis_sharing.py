"""What several workers share through Redis, on a real Redis server: rate limits, live events
(two hubs stand for two worker processes) and stream limits. Also the in-process limiter, with
the same questions.

Redis comes from SALON_TEST_REDIS_URL (default redis://127.0.0.1:6379/15); these tests are
skipped when it does not answer. Every key a test writes is under its own random prefix."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from salon.domain.errors import RateLimited
from salon.services.live import LiveEvent, Subscription
from salon.services.live_redis import RedisLiveHub, RedisStreamLimits
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


async def test_stream_limits_are_shared(redis: Any) -> None:
    worker_a, worker_b = RedisStreamLimits(redis), RedisStreamLimits(redis)
    share, client = uuid.uuid4().hex, f"10.0.0.{uuid.uuid4().int % 250}"
    await worker_a.open(share, client, per_share=2, per_client=10)
    await worker_b.open(share, client, per_share=2, per_client=10)
    with pytest.raises(RateLimited):
        await worker_a.open(share, client, per_share=2, per_client=10)
    await worker_b.close(share, client)
    await worker_a.open(share, client, per_share=2, per_client=10)
    for worker in (worker_a, worker_b):
        await worker.close(share, client)
