"""A viewer who arrives while an answer is being written starts with its text so far, then the
words written after: nothing lost, nothing twice. For both hubs: the in-process one, and Redis
with the answer written by one worker and watched on another (two hubs on one Redis; skipped
when Redis does not answer)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from salon.services import live, live_redis
from salon.services.live import LiveEvent, LiveHub, Subscription
from salon.services.live_redis import RedisLiveHub
from tests.services.test_redis_sharing import REDIS_URL

Hub = LiveHub | RedisLiveHub
WAIT = 10.0


@pytest.fixture(params=["process", "redis"])
async def hubs(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Hub, Hub]]:
    """(the hub of the worker writing the answer, the hub of the worker the viewer is on)."""
    if request.param == "process":
        hub = LiveHub()
        yield hub, hub
        return
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        pytest.skip(f"Redis at {REDIS_URL} does not answer")
    writer, viewer = RedisLiveHub(client), RedisLiveHub(client)
    await writer.start()
    await viewer.start()
    yield writer, viewer
    await writer.close()
    await viewer.close()
    await client.aclose()


def new_chat() -> str:
    return f"chat-{uuid.uuid4().hex}"


async def sent(writer: Hub, viewer: Hub) -> None:
    """Wait until what ``writer`` published so far reached Redis (its events go out in order:
    a mark published after them reaches a watcher on ``viewer`` once they are out)."""
    mark = new_chat()
    async with viewer.subscribe(mark) as watching:
        writer.publish(mark, "title", {"title": "mark"})
        await next_event(watching)


async def next_event(sub: Subscription) -> LiveEvent:
    return await asyncio.wait_for(sub.watcher.queue.get(), WAIT)


def write(hub: Hub, chat: str, turn_id: str, *words: str) -> None:
    for word in words:
        hub.publish(chat, "token", {"turn_id": turn_id, "text": word})


def store(hub: Hub, chat: str, turn_id: str, seq: int) -> None:
    hub.publish(chat, "turn", {"seq": seq, "title": "Trip", "turn_id": turn_id})


async def text_until_stored(sub: Subscription, turn_id: str) -> list[str]:
    """The pieces of ``turn_id``'s answer the viewer got: its backlog, then live words until
    the answer's ``turn`` event."""
    pieces = [e.data["text"] for e in sub.backlog if e.data.get("turn_id") == turn_id]
    while (event := await next_event(sub)).kind != "turn" or event.data.get("turn_id") != turn_id:
        if event.kind == "token" and event.data["turn_id"] == turn_id:
            pieces.append(event.data["text"])
    return pieces


async def test_a_viewer_arriving_mid_answer_gets_the_text_so_far_then_the_rest(
    hubs: tuple[Hub, Hub]
) -> None:
    writer, viewer = hubs
    chat = new_chat()
    writer.publish(chat, "turn", {"seq": 1, "title": "Trip"})  # the question, unwatched
    write(writer, chat, "t1", "Echo:", " Add", " a")
    await sent(writer, viewer)
    async with viewer.subscribe(chat) as sub:
        assert not sub.gap
        assert [(e.kind, e.data) for e in sub.backlog] == [
            ("token", {"turn_id": "t1", "text": "Echo: Add a"})]
        write(writer, chat, "t1", " day", " in", " Lisbon")
        store(writer, chat, "t1", 2)
        rest = await text_until_stored(sub, "t1")
    assert rest == ["Echo: Add a", " day", " in", " Lisbon"]
    async with viewer.subscribe(chat) as late:  # once it is stored, the page has it
        assert late.backlog == [] and not late.gap


async def test_whenever_viewers_arrive_they_get_every_word_once(hubs: tuple[Hub, Hub]) -> None:
    writer, viewer = hubs
    chat = new_chat()
    words = [f" w{n}" for n in range(300)]
    subscribed: list[asyncio.Event] = []

    async def watch(arrived: asyncio.Event) -> str:
        async with viewer.subscribe(chat) as sub:
            arrived.set()
            return "".join(await text_until_stored(sub, "t1"))

    viewers = []
    for n, word in enumerate(words):
        write(writer, chat, "t1", word)
        if n % 25 == 5:  # the first arrives when nobody watched yet
            subscribed.append(asyncio.Event())
            viewers.append(asyncio.create_task(watch(subscribed[-1])))
        await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in subscribed)), WAIT)
    write(writer, chat, "t1", " end")
    store(writer, chat, "t1", 2)
    texts = await asyncio.wait_for(asyncio.gather(*viewers), WAIT)
    assert texts == ["".join(words) + " end"] * len(viewers)


async def test_a_reconnect_with_the_text_so_fars_id_gets_only_what_follows(
    hubs: tuple[Hub, Hub]
) -> None:
    writer, viewer = hubs
    chat = new_chat()
    write(writer, chat, "t1", "Echo:", " Add")
    await sent(writer, viewer)
    async with viewer.subscribe(chat) as first:
        [so_far] = first.backlog
    write(writer, chat, "t1", " a", " day")
    await sent(writer, viewer)
    async with viewer.subscribe(chat, last_event_id=so_far.id) as again:
        assert not again.gap
        assert [e.data["text"] for e in again.backlog] == [" a", " day"]


async def test_answers_written_at_once_each_come_with_their_own_text(
    hubs: tuple[Hub, Hub]
) -> None:
    writer, viewer = hubs
    chat = new_chat()
    write(writer, chat, "older", "One")
    write(writer, chat, "newer", "Two")
    write(writer, chat, "older", " more")
    write(writer, chat, "gone", "Three")
    store(writer, chat, "gone", 3)
    await sent(writer, viewer)
    async with viewer.subscribe(chat) as sub:
        assert [e.data for e in sub.backlog] == [{"turn_id": "older", "text": "One more"},
                                                 {"turn_id": "newer", "text": "Two"}]


async def test_an_answer_too_long_to_keep_is_not_offered(
    hubs: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer then gets only the words written after it arrived (as before this was
    kept), never a text with a hole in it."""
    for module in (live, live_redis):
        monkeypatch.setattr(module, "ANSWER_KEPT_CHARS", 10)
    writer, viewer = hubs
    chat = new_chat()
    write(writer, chat, "long", "0123456", "789", "A")
    write(writer, chat, "short", "0123456789")
    write(writer, chat, "long", "B")
    await sent(writer, viewer)
    async with viewer.subscribe(chat) as sub:
        assert [e.data for e in sub.backlog] == [{"turn_id": "short", "text": "0123456789"}]
