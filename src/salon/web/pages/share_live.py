"""A live share's page follows the conversation: ``/s/{id}/events`` and ``/s/{id}/messages``.

``GET /s/{id}/events`` is a server-sent-events stream with the page's access rules (session,
unlock cookie), spending no view. It sends ``turn`` (a message was stored), ``token`` (a piece
of the answer being written) and ``title`` events, each with an id: reconnecting with
``Last-Event-ID`` replays what was missed. A share cut at a message (``upto_message_id``) shows
nothing written after it, so its stream (and its replay) carries titles only; when the owner
moves the cut, its viewers are told to ``reload``. When access ends (revoked, expired, rotated, made
private, new password, deleted, sharing switched off) the stream sends ``closed`` with the
spec's code and words, and ends. A viewer that fell too far behind gets ``reload``. A comment
line every ``HEARTBEAT_SECONDS`` keeps idle connections open through proxies.

``GET /s/{id}/messages?after=N`` gives the rendered messages from the N-th on and the files
list (JSON with HTML made by the page's own templates), again spending no view.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from salon.domain.errors import SalonError
from salon.domain.users import User
from salon.services import share_viewing as viewing
from salon.services.context import AppContext
from salon.services.live import LiveEvent, Subscription
from salon.web.api.shares import unlock_from
from salon.web.deps import Ctx, OptionalPrincipal, client_key
from salon.web.errors import error_body, status_for
from salon.web.pages.render import render_html
from salon.web.pages.share_page import NO_STORE, file_rows, message_rows

router = APIRouter()

HEARTBEAT_SECONDS = 15.0
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
    client = client_key(request)
    try:
        admission = await viewing.watch_access(ctx, share_id, viewer=viewer, unlock=unlock)
        limits = ctx.settings
        await ctx.live_streams.open(admission.share.id, client,
                                    per_share=limits.live_streams_per_share,
                                    per_client=limits.live_streams_per_client)
    except SalonError as exc:
        return refusal(exc)
    share = admission.share
    last_event_id = request.headers.get("last-event-id")

    async def stream() -> AsyncIterator[str]:
        try:
            async with ctx.live.subscribe(share.conversation_id,
                                          last_event_id=last_event_id) as subscription:
                async for chunk in _events(ctx, share_id, viewer, unlock, subscription,
                                           expires_at=share.expires_at,
                                           checkpoint=share.upto_message_id):
                    yield chunk
        finally:
            await ctx.live_streams.close(share.id, client)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={
        **NO_STORE, "X-Accel-Buffering": "no"})


async def _events(
    ctx: AppContext, link: str, viewer: User | None, unlock: str | None,
    subscription: Subscription, *, expires_at: datetime | None, checkpoint: str | None,
) -> AsyncIterator[str]:
    forwarded = FORWARDED_PAST_CHECKPOINT if checkpoint else FORWARDED
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
        event = pending.pop(0) if pending else await _next(ctx, queue, expires_at)
        if event is None or event.kind == "access":
            ended = await _recheck(ctx, link, viewer, unlock, checkpoint=checkpoint)
            if ended is not None:
                yield ended
                return
            if event is None:
                yield ": keep-alive\n\n"
            continue
        if event.kind in forwarded:
            yield sse(event.kind, event.data, event.id)


async def _next(
    ctx: AppContext, queue: asyncio.Queue[LiveEvent], expires_at: datetime | None
) -> LiveEvent | None:
    """The next event, or None when it is time for a heartbeat (or the link's expiry)."""
    timeout = HEARTBEAT_SECONDS
    if expires_at is not None:
        timeout = max(0.0, min(timeout, (expires_at - ctx.now()).total_seconds() + 0.05))
    try:
        return await asyncio.wait_for(queue.get(), timeout)
    except TimeoutError:
        return None


async def _recheck(
    ctx: AppContext, link: str, viewer: User | None, unlock: str | None, *,
    checkpoint: str | None,
) -> str | None:
    """The ``closed`` event when this viewer may no longer watch, ``reload`` when the share
    now ends at another message (what the page shows changed), else None."""
    try:
        admission = await viewing.watch_access(ctx, link, viewer=viewer, unlock=unlock)
    except SalonError as exc:
        return sse("closed", {"code": exc.code, "detail": exc.detail,
                              "status": status_for(exc)})
    if admission.share.upto_message_id != checkpoint:
        return sse("reload", {"detail": "The shared part of this chat changed: reload the page."})
    return None


@router.get("/s/{share_id}/messages")
async def share_messages(
    share_id: str, request: Request, ctx: Ctx, principal: OptionalPrincipal,
    after: int = Query(default=0, ge=0, le=1_000_000),
) -> Response:
    """The live share's messages from the ``after``-th on, rendered as on the page, with the
    files list and the title: ``{"count", "title", "messages", "files"}``."""
    viewer = principal.user if principal else None
    try:
        admission = await viewing.watch_access(ctx, share_id, viewer=viewer,
                                               unlock=unlock_from(request, share_id))
        view = await viewing.live_messages(ctx, admission, viewer=viewer)
    except SalonError as exc:
        return refusal(exc)
    link = view.share.share_id
    fresh = view.messages[after:] if after <= len(view.messages) else []
    messages = render_html(request, "_share_messages.html", fragment=True,
                           messages=message_rows(link, fresh))
    files = render_html(request, "_share_files.html", files=file_rows(view),
                        zip_url=f"/api/v1/chats/share/{quote(link, safe='')}/files.zip")
    return JSONResponse({"count": len(view.messages), "title": view.title,
                         "messages": messages, "files": files}, headers=NO_STORE)
