"""A live share's page follows the conversation: ``/s/{id}/events`` and ``/s/{id}/messages``.

``GET /s/{id}/events`` is a server-sent-events stream with the page's access rules (session,
unlock cookie), spending no view. It sends ``turn`` (a message was stored), ``token`` (a piece
of the answer being written) and ``title`` events, each with an id: reconnecting with
``Last-Event-ID`` replays what was missed, and a first connection starts with the text so far
of any answer being written (one ``token`` event each, ``live.so_far_events``). A share cut at
a message (``upto_message_id``) shows nothing written after it, so its stream (and its replay)
carries titles only; when the owner moves the cut, its viewers are told to ``reload``. When
access ends (revoked, expired, rotated, made private, new password, deleted, sharing switched
off, or the viewer's own session ended: signed out, expired, token revoked, account deleted)
the stream sends ``closed`` with the spec's code and words, and ends. A viewer that fell too
far behind gets ``reload``. A comment line every ``HEARTBEAT_SECONDS`` keeps idle connections
open through proxies; that heartbeat also renews the stream's lease in the stream limits
(``live.StreamLease``).

``GET /s/{id}/messages?after=N`` gives the rendered messages from the N-th on and the files
list (JSON with HTML made by the page's own templates, on the render pool: ``503
SERVER_BUSY`` when it is full), again spending no view.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from salon.domain.errors import Overloaded, SalonError
from salon.domain.users import User
from salon.services import auth
from salon.services import share_viewing as viewing
from salon.services.context import AppContext
from salon.services.live import SHUTDOWN, LiveEvent, StreamLease, Subscription
from salon.web import cookies
from salon.web.api.shares import unlock_from, viewer_keys
from salon.web.deps import Ctx, OptionalPrincipal, bearer_token, client_key
from salon.web.errors import error_body, status_for
from salon.web.pages.share_page import NO_STORE, file_rows
from salon.web.pages.share_render import messages_update
from salon.web.share_grants import hand_out

router = APIRouter()

HEARTBEAT_SECONDS = 15.0  # also renews the stream's lease (live.LEASE_SECONDS)
SESSION_RECHECK_SECONDS = 1.0
RETRY_MS = 3000
FORWARDED = ("turn", "token", "title")
# Every turn and token is written after the last stored message, so after any checkpoint.
FORWARDED_PAST_CHECKPOINT = ("title",)


def refusal(exc: SalonError) -> JSONResponse:
    headers = dict(NO_STORE)
    if "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    return JSONResponse(error_body(exc.detail, exc.code), status_code=status_for(exc),
                        headers=headers)


def sse(kind: str, data: dict[str, Any], event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("/s/{share_id}/events")
async def share_events(
    share_id: str, request: Request, ctx: Ctx, principal: OptionalPrincipal
) -> Response:
    """The live share's events (see the module's docstring)."""
    viewer = principal.user if principal else None
    unlock = unlock_from(request, share_id)
    try:
        admission = await viewing.watch_access(ctx, share_id, viewer=viewer, unlock=unlock,
                                               client=client_key(request))
        limits = ctx.settings
        lease = await ctx.live_streams.open(admission.share.id, client_key(request),
                                            per_share=limits.live_streams_per_share,
                                            per_client=limits.live_streams_per_client)
    except SalonError as exc:
        return refusal(exc)
    share = admission.share
    watch = _Watch(ctx, share_id, unlock=unlock, viewer=viewer, lease=lease,
                   credential=_credential(request) if viewer else None,
                   expires_at=share.expires_at, checkpoint=share.upto_message_id)
    held = AsyncExitStack()
    held.push_async_callback(ctx.live_streams.close, lease)
    try:
        # Subscribed before the response starts: whatever is stored once the viewer has the
        # headers reaches it.
        subscription = await held.enter_async_context(ctx.live.subscribe(
            share.conversation_id, last_event_id=request.headers.get("last-event-id")))
    except BaseException:
        await held.aclose()
        raise
    return EventStream(_events(watch, subscription), held)


class EventStream(StreamingResponse):
    """The events response. What it ``holds`` (the subscription, the stream's lease) is given
    back when the response ends, however it ends: also when the viewer leaves before the body
    began, which a ``finally`` in the body itself would miss (it never ran)."""

    def __init__(self, events: AsyncIterator[str], holds: AsyncExitStack) -> None:
        super().__init__(events, media_type="text/event-stream",
                         headers={**NO_STORE, "X-Accel-Buffering": "no"})
        self.holds = holds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.holds.aclose()


def _credential(request: Request) -> str | None:
    """The token the viewer was authenticated with, as ``deps.get_principal`` reads it."""
    return bearer_token(request) or cookies.session_token(request)


async def _events(watch: _Watch, subscription: Subscription) -> AsyncIterator[str]:
    forwarded = FORWARDED_PAST_CHECKPOINT if watch.checkpoint else FORWARDED
    yield f"retry: {RETRY_MS}\n\n"
    if subscription.gap:
        yield sse("reload", {"detail": "Some updates were missed: reload to catch up."})
        return
    pending = list(subscription.backlog)
    queue = subscription.watcher.queue
    while True:
        if subscription.watcher.lagging:
            yield sse("reload", {"detail": "Too many updates to catch up: reload the page."})
            return
        event = pending.pop(0) if pending else await _next(queue, watch.seconds_to_heartbeat())
        if event is SHUTDOWN:  # this worker is stopping: the viewer reconnects to another
            yield sse("reload", {"detail": "This server is restarting: reconnecting."})
            return
        ended = await watch.check(event)
        if ended is not None:
            yield ended
            return
        if event is None:
            yield ": keep-alive\n\n"
        elif event.kind in forwarded:
            yield sse(event.kind, event.data, event.id)


async def _next(queue: asyncio.Queue[LiveEvent], timeout: float) -> LiveEvent | None:
    """The next event, or None when it is time for a heartbeat."""
    try:
        return await asyncio.wait_for(queue.get(), timeout)
    except TimeoutError:
        return None


class _Watch:
    """One open stream's viewer, checked again as the stream goes on.

    - The heartbeat (every ``HEARTBEAT_SECONDS``, or a third of the stream limits' lease if
      that is shorter, and at the link's expiry; when events never stop, before the next
      event once it is due) checks the viewer's session and the share, and renews the
      stream's lease in the stream limits.
    - An ``access`` event checks the session and the share; a ``session`` event about this
      viewer's user checks the session at once.
    - Before any other event the viewer's session is checked, at most once a
      ``SESSION_RECHECK_SECONDS`` (one indexed read): a signed-out viewer gets at most that
      much more. A viewer whose session ended watches on as anonymous, which a logged-in-only
      share refuses (``closed`` ``LOGIN_REQUIRED``).
    """

    def __init__(
        self, ctx: AppContext, link: str, *, unlock: str | None, viewer: User | None,
        credential: str | None, lease: StreamLease, expires_at: datetime | None,
        checkpoint: str | None,
    ) -> None:
        self.ctx, self.link, self.unlock, self.lease = ctx, link, unlock, lease
        self.viewer, self.credential = viewer, credential
        self.expires_at, self.checkpoint = expires_at, checkpoint
        # At least three heartbeats in a lease's life, so one late heartbeat loses nothing.
        self.every = min(HEARTBEAT_SECONDS, ctx.live_streams.lease_seconds / 3)
        now = time.monotonic()
        self.session_checked = now  # the request was just authenticated
        self.heartbeat_at = now + self.every

    def seconds_to_heartbeat(self) -> float:
        wait = self.heartbeat_at - time.monotonic()
        if self.expires_at is not None:
            wait = min(wait, (self.expires_at - self.ctx.now()).total_seconds() + 0.05)
        return max(0.0, wait)

    async def check(self, event: LiveEvent | None) -> str | None:
        """The ``closed`` or ``reload`` event that ends the stream, else None."""
        if event is None or self.seconds_to_heartbeat() == 0.0:
            self.heartbeat_at = time.monotonic() + self.every
            try:
                await self.ctx.live_streams.renew(self.lease)
            except SalonError as exc:
                return closed(exc)
            await self._session_ended(now=True)
            return await self._recheck()
        if event.kind == "access":
            await self._session_ended(now=True)
            return await self._recheck()
        mine = (event.kind == "session" and self.viewer is not None
                and event.data.get("user_id") == self.viewer.id)
        if await self._session_ended(now=mine):
            return await self._recheck()
        return None

    async def _session_ended(self, *, now: bool) -> bool:
        """Check the viewer's session (``now``, else when due): True when it ended, and the
        viewer watches on as anonymous."""
        if self.credential is None:
            return False
        moment = time.monotonic()
        if not now and moment - self.session_checked < SESSION_RECHECK_SECONDS:
            return False
        self.session_checked = moment
        if await auth.is_still_signed_in(self.ctx, self.credential):
            return False
        self.viewer = self.credential = None
        return True

    async def _recheck(self) -> str | None:
        """``closed`` when this viewer may no longer watch, ``reload`` when the share now ends
        at another message (what the page shows changed)."""
        try:
            admission = await viewing.watch_access(self.ctx, self.link, viewer=self.viewer,
                                                   unlock=self.unlock)
        except SalonError as exc:
            return closed(exc)
        expires_at = admission.share.expires_at  # perhaps changed; past it for an owner
        self.expires_at = expires_at if expires_at and expires_at > self.ctx.now() else None
        if admission.share.upto_message_id != self.checkpoint:
            return sse("reload",
                       {"detail": "The shared part of this chat changed: reload the page."})
        return None


def closed(exc: SalonError) -> str:
    return sse("closed", {"code": exc.code, "detail": exc.detail, "status": status_for(exc)})


@router.get("/s/{share_id}/messages")
async def share_messages(
    share_id: str, request: Request, ctx: Ctx, principal: OptionalPrincipal,
    after: int = Query(default=0, ge=0, le=1_000_000),
) -> Response:
    """The live share's messages from the ``after``-th on, rendered as on the page, with the
    files list and the title: ``{"count", "title", "messages", "files"}``. Free with the
    page's view grant, else a view."""
    try:
        ctx.renders.refuse_if_full()  # before a view is spent
        view = await viewing.open_live_messages(
            ctx, share_id, **viewer_keys(request, principal, share_id))
    except SalonError as exc:
        return refusal(exc)
    link = view.share.share_id
    fresh = view.messages[after:] if after <= len(view.messages) else []
    try:
        messages, files = await ctx.renders.run(
            partial(messages_update, ctx.message_cache, link, fresh, file_rows(view)))
    except Overloaded as exc:  # too many pages being rendered (services.render_pool)
        return refusal(exc)
    response = JSONResponse({"count": len(view.messages), "title": view.title,
                             "messages": messages, "files": files}, headers=NO_STORE)
    hand_out(response, request, ctx.settings, link, view.grant)
    return response
