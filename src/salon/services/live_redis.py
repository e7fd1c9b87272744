"""Live updates across workers and hosts, through Redis (``SALON_REDIS_URL``); the stream limits
are in ``live_redis_limits``.

``RedisLiveHub`` does what ``live.LiveHub`` does, for every process at once:

- ``publish`` never waits: events go to an outbox that one task per process sends, in order,
  with a small script that appends the event to the conversation's Redis stream (bounded, and
  expiring when nobody writes to it) and publishes it with its stream id, in one round trip.
- One pub/sub listener per process hands events to the process's own watchers; event ids are
  the stream ids (``<ms>-<n>``), the same on every worker.
- A reconnecting viewer's ``Last-Event-ID`` is looked up in the stream: if it is still there,
  what follows it is replayed; if not (trimmed, expired, or made up), the viewer reloads. The
  watcher is registered before the replay is read, and events up to the replay's last id are
  skipped, so nothing is missed or shown twice.
- The text so far of each answer being written is kept in Redis (a string per answer, appended
  by the same script that publishes its words, so it is exactly the words up to that event's
  id; dropped when the answer's ``turn`` comes, expiring like the stream). A first connection
  (no ``Last-Event-ID``) reads it, with the stream's last id, in one script once its watcher is
  registered, starts with it and skips the events up to that id: the words that follow are
  those written after, whichever worker writes the answer.
- ``broadcast`` (access changes that are not about one conversation) goes to every watcher of
  every process.

If Redis is unreachable or stalls, events are dropped with a warning (the owner's chat never
waits; what was queued when a send failed goes with it, so a silent Redis cannot hold a backlog
or the shutdown); viewers see the new messages on their next reload. The listener has a client
of its own (``redis_client``) and asks a Redis that has been silent for ``timeout`` seconds for
a pong: without any answer ``timeout`` seconds later, it drops the connection and subscribes
again on a new one, by itself once Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from salon.services.live import (
    ANSWER_KEPT_CHARS,
    REPLAY_EVENTS,
    SHUTDOWN,
    LiveEvent,
    Subscription,
    Watcher,
    answer_change,
    so_far_events,
)

log = logging.getLogger(__name__)

STREAM_PREFIX = "salon:live:stream:"
CHANNEL_PREFIX = "salon:live:events:"
ALL_CHANNEL = "salon:live:all"
ANSWERS_PREFIX = "salon:live:answers:"  # per conversation: its answers being written
ANSWER_PREFIX = "salon:live:answer:"  # <conversation>:<turn>: that answer's text so far
STREAM_TTL_SECONDS = 600  # a conversation's events stay replayable this long after the last
OUTBOX_EVENTS = 10_000
STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")

# Append to the stream, keep it bounded and expiring, keep the text so far of an answer being
# written (KEYS[3]: its conversation's answers, turn -> first event id or 'cut' once it outgrew
# ARGV[4] bytes; KEYS[4]: its text; ARGV[5..7]: 'token' or 'stored', turn, text), publish with
# its id: one round trip.
PUBLISH_SCRIPT = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[5] == 'token' then
  redis.call('HSETNX', KEYS[3], ARGV[6], id)
  if redis.call('HGET', KEYS[3], ARGV[6]) ~= 'cut' then
    if redis.call('STRLEN', KEYS[4]) + #ARGV[7] > tonumber(ARGV[4]) then
      redis.call('HSET', KEYS[3], ARGV[6], 'cut')
      redis.call('DEL', KEYS[4])
    else
      redis.call('APPEND', KEYS[4], ARGV[7])
      redis.call('EXPIRE', KEYS[4], ARGV[3])
    end
  end
  redis.call('EXPIRE', KEYS[3], ARGV[3])
elseif ARGV[5] == 'stored' then
  redis.call('HDEL', KEYS[3], ARGV[6])
  redis.call('DEL', KEYS[4])
end
redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[2])
return id
"""

# The conversation's last event id and its answers being written: {first id, turn, text}
# (KEYS: stream, answers; ARGV[1]: the prefix of its answers' text keys). Nothing without a
# stream (expired: nothing is being written).
SO_FAR_SCRIPT = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 then return {} end
local turns = redis.call('HGETALL', KEYS[2])
local found = {}
for i = 1, #turns, 2 do
  local text = redis.call('GET', ARGV[1] .. turns[i])
  if text then table.insert(found, {turns[i + 1], turns[i], text}) end
end
return {last[1][1], found}
"""


def _order(event_id: str) -> tuple[int, int]:
    ms, _, n = event_id.partition("-")
    return int(ms), int(n)


@dataclass(eq=False)
class _LocalWatcher(Watcher):
    """A watcher that ignores events already given to it by the replay (or the text so far)."""

    after: tuple[int, int] = (0, 0)

    def offer_newer(self, event: LiveEvent) -> None:
        if event.id and _order(event.id) <= self.after:
            return
        self.offer(event)

    def skip_upto(self, after: tuple[int, int]) -> None:
        """Ignore the events up to ``after`` from now on, and those already queued: the
        listener hands events over while the replay is read."""
        self.after = after
        queued = [self.queue.get_nowait() for _ in range(self.queue.qsize())]
        for event in queued:
            if not event.id or _order(event.id) > after:
                self.queue.put_nowait(event)


class RedisLiveHub:
    def __init__(self, redis: Any, *, listener: Any = None, timeout: float = 2.0) -> None:
        """``listener``: the client the pub/sub listener uses (``redis`` when None);
        ``timeout``: the silence after which Redis is asked for a pong, and then the wait
        for any answer before the listener reconnects."""
        self._redis = redis
        self._listener = listener if listener is not None else redis
        self._timeout = timeout
        self._script = redis.register_script(PUBLISH_SCRIPT)
        self._so_far_script = redis.register_script(SO_FAR_SCRIPT)
        self._outbox: deque[tuple[str | None, str, dict[str, Any]]] = deque(maxlen=OUTBOX_EVENTS)
        self._wake = asyncio.Event()
        self._watchers: dict[str, set[_LocalWatcher]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()

    # -- life -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._send()), asyncio.create_task(self._listen())]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), 5)

    async def close(self) -> None:
        await self._flush_outbox()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._listener is not self._redis:
            await self._listener.aclose()

    # -- publishing -------------------------------------------------------------------------

    def publish(self, conversation_id: str, kind: str, data: dict[str, Any]) -> None:
        self._outbox.append((conversation_id, kind, data))
        self._wake.set()

    def broadcast(self, kind: str, data: dict[str, Any]) -> None:
        self._outbox.append((None, kind, data))
        self._wake.set()

    async def _send(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush_outbox()

    async def _flush_outbox(self) -> None:
        while self._outbox:
            conversation_id, kind, data = self._outbox.popleft()
            payload = json.dumps({"kind": kind, "data": data}, ensure_ascii=False)
            try:
                if conversation_id is None:
                    await self._redis.publish(ALL_CHANNEL, payload)
                else:
                    keys, args = _publish_call(conversation_id, kind, data, payload)
                    await self._script(keys=keys, args=args)
            except Exception as exc:  # Redis is away: drop it, never hold up a chat
                log.warning("%d live events not sent through Redis: %s",
                            len(self._outbox) + 1, type(exc).__name__)
                self._outbox.clear()  # each would wait as long for a Redis that stalls

    # -- receiving ----------------------------------------------------------------------------

    async def _listen(self) -> None:
        while True:
            try:
                async with self._listener.pubsub() as pubsub:
                    await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                    await pubsub.subscribe(ALL_CHANNEL)
                    self._listening.set()
                    await self._receive(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live updates lost their Redis connection (%s); retrying",
                            type(exc).__name__)
                await asyncio.sleep(1.0)

    async def _receive(self, pubsub: Any) -> None:
        """Dispatch messages until the connection fails, or stays silent ``timeout`` seconds
        after a ping that followed ``timeout`` seconds of silence (TimeoutError)."""
        clock = asyncio.get_running_loop().time
        heard, pinged = clock(), False
        while True:
            message = await pubsub.get_message(timeout=self._timeout)
            if message is not None:
                heard, pinged = clock(), False
                self._dispatch(message)
            elif clock() - heard < self._timeout:
                continue
            elif pinged:
                raise TimeoutError("Redis stopped answering the live updates' listener")
            else:
                await pubsub.ping()
                pinged = True

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") not in ("pmessage", "message"):
            return
        channel = _text(message["channel"])
        body = _text(message["data"])
        if channel == ALL_CHANNEL:
            event = _event("", body)
            for watchers in self._watchers.values():
                for watcher in watchers:
                    watcher.offer_newer(event)
            return
        event_id, _, payload = body.partition(" ")
        event = _event(event_id, payload)
        for watcher in self._watchers.get(channel.removeprefix(CHANNEL_PREFIX), ()):
            watcher.offer_newer(event)

    def stop_watchers(self) -> None:
        """This process is stopping: its own watchers get ``shutdown`` (other workers' do not)."""
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.offer(SHUTDOWN)

    # -- watching -----------------------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(
        self, conversation_id: str, *, last_event_id: str | None = None
    ) -> AsyncIterator[Subscription]:
        watcher = _LocalWatcher()
        watchers = self._watchers.setdefault(conversation_id, set())
        watchers.add(watcher)  # first, so nothing published from now on is missed
        try:
            if last_event_id:
                backlog, gap = await self._missed(conversation_id, last_event_id)
            else:  # read once the watcher is registered: events up to its id are skipped
                backlog, gap = await self._so_far(conversation_id), False
            if backlog:
                watcher.skip_upto(_order(backlog[-1].id))
            elif last_event_id and not gap:
                watcher.skip_upto(_order(last_event_id))
            yield Subscription(watcher=watcher, backlog=backlog, gap=gap)
        finally:
            watchers.discard(watcher)
            if not watchers:
                self._watchers.pop(conversation_id, None)

    async def _missed(
        self, conversation_id: str, last_event_id: str | None
    ) -> tuple[list[LiveEvent], bool]:
        if not last_event_id:
            return [], False
        if not STREAM_ID.match(last_event_id):
            return [], True
        key = STREAM_PREFIX + conversation_id
        try:
            if not await self._redis.xrange(key, last_event_id, last_event_id):
                return [], True  # trimmed, expired or unknown: the viewer reloads
            entries = await self._redis.xrange(key, f"({last_event_id}", "+")
        except Exception as exc:  # Redis is away or stalls: the viewer reloads to catch up
            log.warning("live updates not replayed from Redis: %s", type(exc).__name__)
            return [], True
        return [_event(_text(entry_id), _text(fields[b"e"] if b"e" in fields else fields["e"]))
                for entry_id, fields in entries], False

    async def _so_far(self, conversation_id: str) -> list[LiveEvent]:
        """The text so far of the conversation's answers being written, as of the stream's
        last event (``live.so_far_events``); none when Redis fails (a warning: the viewer
        gets the words written from now on)."""
        try:
            found = await self._so_far_script(
                keys=[STREAM_PREFIX + conversation_id, ANSWERS_PREFIX + conversation_id],
                args=[f"{ANSWER_PREFIX}{conversation_id}:"])
        except Exception as exc:
            log.warning("answers being written not read from Redis: %s", type(exc).__name__)
            return []
        if not found:
            return []
        last_id, answers = found
        answers = sorted(answers, key=lambda answer: _order(_text(answer[0])))
        return so_far_events(_text(last_id), [(_text(turn_id), _text(text))
                                              for _, turn_id, text in answers])

    def watching(self, conversation_id: str) -> int:
        return len(self._watchers.get(conversation_id, ()))


def _publish_call(
    conversation_id: str, kind: str, data: dict[str, Any], payload: str
) -> tuple[list[str], list[Any]]:
    """The publish script's keys and arguments for one event of a conversation, with what it
    does to an answer being written (``live.answer_change``)."""
    keys = [STREAM_PREFIX + conversation_id, CHANNEL_PREFIX + conversation_id,
            ANSWERS_PREFIX + conversation_id]
    args: list[Any] = [REPLAY_EVENTS, payload, STREAM_TTL_SECONDS, ANSWER_KEPT_CHARS]
    change = answer_change(kind, data)
    if change is not None:
        turn_id, text = change
        keys.append(f"{ANSWER_PREFIX}{conversation_id}:{turn_id}")
        args += ["token" if text is not None else "stored", turn_id, text or ""]
    return keys, args


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _event(event_id: str, payload: str) -> LiveEvent:
    body = json.loads(payload)
    return LiveEvent(id=event_id, kind=str(body["kind"]), data=dict(body["data"]))
