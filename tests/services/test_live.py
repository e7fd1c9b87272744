"""The in-process live hub: delivery, replay after a reconnect, gaps, slow watchers."""

from __future__ import annotations

import pytest

from salon.domain.errors import RateLimited
from salon.services import live
from salon.services.live import LiveHub, StreamLimits


async def drain(sub: live.Subscription) -> list[live.LiveEvent]:
    out = []
    while not sub.watcher.queue.empty():
        out.append(sub.watcher.queue.get_nowait())
    return out


async def test_watchers_get_what_is_published_while_they_watch() -> None:
    hub = LiveHub()
    hub.publish("c1", "turn", {"seq": 0})  # nobody watching: nothing kept
    async with hub.subscribe("c1") as one, hub.subscribe("c1") as two:
        assert one.backlog == [] and not one.gap
        hub.publish("c1", "token", {"text": "Hel"})
        hub.publish("c2", "token", {"text": "elsewhere"})
        got_one, got_two = await drain(one), await drain(two)
    assert [e.data for e in got_one] == [{"text": "Hel"}] == [e.data for e in got_two]
    assert hub.watching("c1") == 0


async def test_a_reconnect_gets_what_it_missed_once() -> None:
    hub = LiveHub()
    async with hub.subscribe("c1") as first:
        hub.publish("c1", "turn", {"seq": 1})
        [seen] = await drain(first)
    hub.publish("c1", "turn", {"seq": 2})  # between the two connections
    hub.publish("c1", "token", {"text": "x"})
    async with hub.subscribe("c1", last_event_id=seen.id) as second:
        assert not second.gap
        assert [e.data for e in second.backlog] == [{"seq": 2}, {"text": "x"}]
        hub.publish("c1", "turn", {"seq": 3})
        assert [e.data for e in await drain(second)] == [{"seq": 3}]
    ids = [e.id for e in second.backlog]
    assert len(set(ids + [seen.id])) == 3


@pytest.mark.parametrize("last_id", ["nonsense", "deadbeef-1", "-", "x-y"])
async def test_an_unknown_last_event_id_is_a_gap(last_id: str) -> None:
    hub = LiveHub()
    async with hub.subscribe("c1"):
        hub.publish("c1", "turn", {})
    async with hub.subscribe("c1", last_event_id=last_id) as again:
        assert again.gap and again.backlog == []


async def test_an_id_older_than_the_replay_buffer_is_a_gap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "REPLAY_EVENTS", 3)
    hub = LiveHub()
    async with hub.subscribe("c1") as first:
        hub.publish("c1", "turn", {"n": 0})
        [old] = await drain(first)
        for n in range(1, 6):
            hub.publish("c1", "turn", {"n": n})
    async with hub.subscribe("c1", last_event_id=old.id) as again:
        assert again.gap


async def test_a_slow_watcher_is_marked_lagging_not_buffered_without_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "QUEUE_EVENTS", 5)
    hub = LiveHub()
    async with hub.subscribe("c1") as slow:
        for n in range(20):
            hub.publish("c1", "token", {"n": n})
        assert slow.watcher.lagging and slow.watcher.queue.qsize() == 5


async def test_broadcast_reaches_every_channel() -> None:
    hub = LiveHub()
    async with hub.subscribe("a") as a, hub.subscribe("b") as b:
        hub.broadcast("access", {})
        assert [e.kind for e in await drain(a)] == ["access"] == [e.kind for e in await drain(b)]


async def test_stream_limits_per_share_and_client() -> None:
    limits = StreamLimits()
    first = await limits.open("s1", "1.2.3.4", per_share=2, per_client=5)
    second = await limits.open("s1", "5.6.7.8", per_share=2, per_client=5)
    with pytest.raises(RateLimited):
        await limits.open("s1", "9.9.9.9", per_share=2, per_client=5)
    await limits.close(second)
    await limits.close(second)  # twice changes nothing
    third = await limits.open("s1", "9.9.9.9", per_share=2, per_client=5)
    with pytest.raises(RateLimited):
        await limits.open("s2", "9.9.9.9", per_share=2, per_client=1)
    for lease in (first, third):
        await limits.close(lease)
    assert not limits.by_share and not limits.by_client
