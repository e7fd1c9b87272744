"""Live updates for live shares: what happens to a conversation, told to whoever watches it.

Publishers (the chat service, the share and conversation services) call ``publish`` without
waiting: it never blocks the owner's chat. Each conversation being watched has a channel with
a short replay buffer, so a viewer that reconnects with ``Last-Event-ID`` gets what it missed
and nothing twice. Each watcher has a bounded queue; one that falls too far behind is told to
reload rather than buffered without end.

Event kinds:
- ``turn``: a message was stored (``seq``): viewers fetch the new messages. When the message is
  an answer (stored complete, interrupted or failed), ``turn_id`` names its turn.
- ``token``: a piece of the answer being written (``turn_id``, ``text``).
- ``title``: the conversation was renamed (``title``).
- ``shutdown``: this process is stopping (offered to its own watchers only, never published).
- ``access``: something about who may watch changed (a share was revoked, rotated, made
  private, re-passworded, the conversation deleted, sharing switched off, a user deleted):
  every watcher checks its access again. Published to every channel (``broadcast``) when it is
  not about one conversation.
- ``session``: some of a user's sessions or API tokens ended (``user_id``; signed out,
  password changed, token revoked), broadcast: that user's watchers check theirs again.

The text so far of each answer being written is kept, watched or not, until its ``turn``
event (``answer_change``), at most ``ANSWER_KEPT_CHARS`` of it (an answer that grows past that
is no longer kept) and for ``ANSWER_IDLE_SECONDS`` after its last word (a process that died
mid-answer). A first connection (no ``Last-Event-ID``) starts with it: one ``token`` event per
answer, its whole text so far, taken in the same step as the subscription, so the live words
that follow it are exactly those written after (``so_far_events``).

Event ids are ``<epoch>-<n>``: ``epoch`` is random per channel, so an id from before a restart
(or from another process) is recognised as unknown and the viewer reloads.

This is the in-process hub: one worker. With several workers the same interface is served
through Redis (a later part of this feature).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from salon.domain.errors import RateLimited

REPLAY_EVENTS = 2_000  # per conversation, for reconnecting viewers
QUEUE_EVENTS = 1_000  # per watcher: further behind than this, it is told to reload
KEEP_IDLE_SECONDS = 120.0  # a channel outlives its last watcher this long (reconnects)
LEASE_SECONDS = 45.0  # a stream's place in the limits, renewed by its heartbeat (15 s)
ANSWER_KEPT_CHARS = 1_000_000  # of an answer being written, for viewers who join mid-answer
ANSWER_IDLE_SECONDS = 600.0  # an answer that got no word for this long is no longer kept


@dataclass(frozen=True)
class LiveEvent:
    id: str
    kind: str
    data: dict[str, Any]


# Offered to a process's own watchers when it stops; never published or replayed.
SHUTDOWN = LiveEvent(id="", kind="shutdown", data={})


@dataclass(eq=False)
class Watcher:
    """One open stream: its queue of events, and whether it fell behind."""

    queue: asyncio.Queue[LiveEvent] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_EVENTS))
    lagging: bool = False

    def offer(self, event: LiveEvent) -> None:
        if self.lagging:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagging = True


@dataclass(eq=False)
class _Channel:
    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    counter: int = 0
    recent: deque[LiveEvent] = field(default_factory=lambda: deque(maxlen=REPLAY_EVENTS))
    watchers: set[Watcher] = field(default_factory=set)
    idle_since: float | None = None


@dataclass(eq=False)
class _AnswerSoFar:
    """The text so far of one answer being written (``cut``: it outgrew ANSWER_KEPT_CHARS)."""

    pieces: list[str] = field(default_factory=list)
    size: int = 0
    cut: bool = False
    touched: float = field(default_factory=time.monotonic)

    def add(self, text: str) -> None:
        self.touched = time.monotonic()
        if self.cut or self.size + len(text) > ANSWER_KEPT_CHARS:
            self.cut, self.pieces = True, []
            return
        self.pieces.append(text)
        self.size += len(text)


@dataclass
class Subscription:
    watcher: Watcher
    # What the viewer gets before the live events: what it missed (a reconnect), or the text
    # so far of the answers being written (a first connection).
    backlog: list[LiveEvent]
    # The Last-Event-ID given is not in the replay buffer: the viewer must reload.
    gap: bool


class LiveHub:
    def __init__(self) -> None:
        self._channels: dict[str, _Channel] = {}
        self._answers: dict[str, dict[str, _AnswerSoFar]] = {}  # conversation -> turn -> text
        self._swept = time.monotonic()

    async def start(self) -> None:
        """Nothing to start in one process (``RedisLiveHub`` starts its tasks here)."""

    async def close(self) -> None:
        """Nothing to stop in one process."""

    def publish(self, conversation_id: str, kind: str, data: dict[str, Any]) -> None:
        """Tell the conversation's watchers (only the text so far of an answer is kept when
        nobody watched it lately)."""
        self._sweep()
        self._keep_answer(conversation_id, kind, data)
        channel = self._channels.get(conversation_id)
        if channel is None:
            return
        channel.counter += 1
        event = LiveEvent(id=f"{channel.epoch}-{channel.counter}", kind=kind, data=data)
        channel.recent.append(event)
        for watcher in channel.watchers:
            watcher.offer(event)

    def broadcast(self, kind: str, data: dict[str, Any]) -> None:
        for conversation_id in list(self._channels):
            self.publish(conversation_id, kind, data)

    def stop_watchers(self) -> None:
        """This process is stopping: tell its own watchers (``shutdown``), so their streams end
        with ``reload`` and the viewers reconnect to a worker that stays."""
        for channel in self._channels.values():
            for watcher in channel.watchers:
                watcher.offer(SHUTDOWN)

    @asynccontextmanager
    async def subscribe(
        self, conversation_id: str, *, last_event_id: str | None = None
    ) -> AsyncIterator[Subscription]:
        self._sweep()
        channel = self._channels.setdefault(conversation_id, _Channel())
        watcher = Watcher()
        if last_event_id:
            backlog, gap = _missed(channel, last_event_id)
        else:  # in the same step as the watcher's arrival: no word lost or given twice
            backlog, gap = self._so_far(conversation_id, channel), False
        channel.watchers.add(watcher)
        channel.idle_since = None
        try:
            yield Subscription(watcher=watcher, backlog=backlog, gap=gap)
        finally:
            channel.watchers.discard(watcher)
            if not channel.watchers:
                channel.idle_since = time.monotonic()

    def _keep_answer(self, conversation_id: str, kind: str, data: dict[str, Any]) -> None:
        change = answer_change(kind, data)
        if change is None:
            return
        turn_id, text = change
        answers = self._answers.setdefault(conversation_id, {})
        if text is not None:
            answers.setdefault(turn_id, _AnswerSoFar()).add(text)
            return
        answers.pop(turn_id, None)
        if not answers:
            self._answers.pop(conversation_id, None)

    def _so_far(self, conversation_id: str, channel: _Channel) -> list[LiveEvent]:
        answers = self._answers.get(conversation_id, {})
        return so_far_events(f"{channel.epoch}-{channel.counter}", [
            (turn_id, "".join(answer.pieces)) for turn_id, answer in answers.items()
            if not answer.cut])

    def _sweep(self) -> None:
        """Forget channels nobody has watched for a while, and answers that got no word for
        long (at most every few seconds)."""
        now = time.monotonic()
        if now - self._swept < 5.0:
            return
        self._swept = now
        for key, channel in list(self._channels.items()):
            if channel.idle_since is not None and now - channel.idle_since > KEEP_IDLE_SECONDS:
                del self._channels[key]
        for key, answers in list(self._answers.items()):
            for turn_id, answer in list(answers.items()):
                if now - answer.touched > ANSWER_IDLE_SECONDS:
                    del answers[turn_id]
            if not answers:
                del self._answers[key]

    def watching(self, conversation_id: str) -> int:
        channel = self._channels.get(conversation_id)
        return len(channel.watchers) if channel else 0


@dataclass(frozen=True)
class StreamLease:
    """One open stream's place in the stream limits (``StreamLimits.open``). It lapses
    ``lease_seconds`` after it was taken or last renewed, so a stream whose worker died stops
    counting within that time; the stream renews it on its heartbeat and gives it back with
    ``close``."""

    share_pk: str
    client: str
    per_share: int
    per_client: int
    id: str = field(default_factory=lambda: secrets.token_hex(8))


def too_many_streams() -> RateLimited:
    return RateLimited("Too many live viewers on this link right now; reload the page later "
                       "to see new messages.", retry_after=30)


class StreamLimits:
    """Open streams per share and per client in this process, against their limits: leases
    held by each key, with their expiry (``time.monotonic``). A stream that never got to give
    its lease back (its response never started) stops counting when the lease lapses."""

    def __init__(self, *, lease_seconds: float = LEASE_SECONDS) -> None:
        self.lease_seconds = lease_seconds
        self.by_share: dict[str, dict[str, float]] = {}
        self.by_client: dict[str, dict[str, float]] = {}

    async def open(
        self, share_pk: str, client: str, *, per_share: int, per_client: int
    ) -> StreamLease:
        """A lease for one more stream, or RateLimited when a limit is reached."""
        lease = StreamLease(share_pk, client, per_share=per_share, per_client=per_client)
        self._hold(lease)
        return lease

    async def renew(self, lease: StreamLease) -> None:
        """Keep the lease another ``lease_seconds``; RateLimited when it lapsed meanwhile
        and others took the place."""
        self._hold(lease)

    async def close(self, lease: StreamLease) -> None:
        for held, key in ((self.by_share, lease.share_pk), (self.by_client, lease.client)):
            leases = held.get(key)
            if leases is not None:
                leases.pop(lease.id, None)
                if not leases:
                    del held[key]

    def _hold(self, lease: StreamLease) -> None:
        now = time.monotonic()
        places = ((self.by_share, lease.share_pk, lease.per_share),
                  (self.by_client, lease.client, lease.per_client))
        for held, key, limit in places:
            leases = held.get(key, {})
            if len(leases) >= limit:  # only a full key is worth sweeping
                for lease_id, expiry in list(leases.items()):
                    if expiry <= now:
                        del leases[lease_id]
            if len(leases) - (lease.id in leases) >= limit:
                raise too_many_streams()
        for held, key, _ in places:
            held.setdefault(key, {})[lease.id] = now + self.lease_seconds


def answer_change(kind: str, data: dict[str, Any]) -> tuple[str, str | None] | None:
    """What an event does to the answers being written: ``(turn_id, text)`` for a word of
    one, ``(turn_id, None)`` when its answer was stored (the end of its words), else None."""
    turn_id = data.get("turn_id")
    if not isinstance(turn_id, str):
        return None
    if kind == "token" and isinstance(data.get("text"), str):
        return turn_id, data["text"]
    if kind == "turn":
        return turn_id, None
    return None


def so_far_events(event_id: str, answers: list[tuple[str, str]]) -> list[LiveEvent]:
    """A first connection's start: one ``token`` event per answer being written (``(turn_id,
    text so far)``, oldest first) with the id of the last event its text includes, so that a
    reconnect with that id gets only what was written after."""
    return [LiveEvent(id=event_id, kind="token", data={"turn_id": turn_id, "text": text})
            for turn_id, text in answers if text]


def _missed(channel: _Channel, last_event_id: str | None) -> tuple[list[LiveEvent], bool]:
    """The events after ``last_event_id`` (all is well when there is none)."""
    if not last_event_id:
        return [], False
    epoch, _, number = last_event_id.partition("-")
    if epoch != channel.epoch or not number.isdigit():
        return [], True
    seen = int(number)
    if seen > channel.counter:
        return [], True
    missed = [e for e in channel.recent if int(e.id.rpartition("-")[2]) > seen]
    oldest_kept = channel.counter - len(channel.recent)
    return missed, seen < oldest_kept
