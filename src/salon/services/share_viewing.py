"""The viewer's side of sharing: open a share, unlock it with its password (its files are in
``share_files``, cloning in ``share_cloning``). Every entry point goes through ``decide``: one
read of the share, one domain decision.

Unlocks are stateless tokens, an HMAC over the share's internal id, its link and its password
hash: changing or removing the password or rotating the link invalidates every earlier unlock,
on every worker, with nothing stored.

A view is one delivery of the content. The page and the JSON view each spend one and hand out
a view grant (``services.share_grants``); the share's files, ZIP, live messages and a clone are
free to the holder of a valid grant and otherwise spend a view themselves (410 when none is
left), so no side door delivers content uncounted. Callers pass the client's address as
``client``: unknown links are throttled per client (``services.link_scans``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from salon.domain import shares as rules
from salon.domain.errors import Gone, NotFound, SalonError, Unauthenticated
from salon.domain.shares import AccessDecision, Share, SharedFile
from salon.domain.users import User, effective_permissions
from salon.services import auth, link_scans
from salon.services import share_grants as grants
from salon.services.context import AppContext
from salon.services.ratelimit import Limit, reserve_all
from salon.services.shares import live_content, snapshot_content
from salon.store import conversations as conv_repo
from salon.store import shares as repo
from salon.store.db import transaction
from salon.store.shares import ShareAccess

UNLOCK_TTL = timedelta(days=7)
VERIFY_ATTEMPTS = 10  # failed passwords per share and client, a minute
VERIFY_SHARE_CAP = 100  # failed passwords per share from all clients, a minute
VERIFY_WINDOW = 60.0


@dataclass(frozen=True)
class SharedView:
    """What one viewer may see of a share, ready to shape into JSON or a page."""

    share: Share
    status: rules.ShareStatus
    is_owner: bool
    title: str
    created_at: datetime
    updated_at: datetime
    messages: list[dict[str, Any]]
    files: list[SharedFile]
    owner_name: str | None
    recipe: dict[str, Any] | None
    can_clone: bool
    grant: str | None = None  # the view grant this delivery carries (services.share_grants)


# --- unlock tokens ---------------------------------------------------------------------------

def _unlock_mac(ctx: AppContext, share: Share, expires: int) -> str:
    message = f"share-unlock|{share.id}|{share.share_id}|{share.password_hash}|{expires}"
    digest = hmac.new(ctx.settings.secret_key.encode(), message.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def unlock_token(ctx: AppContext, share: Share) -> str:
    expires = int((ctx.now() + UNLOCK_TTL).timestamp())
    return f"{expires}.{_unlock_mac(ctx, share, expires)}"


def is_unlocked(ctx: AppContext, share: Share, token: str | None) -> bool:
    """Whether ``token`` unlocks this share as it is now (constant-time comparison)."""
    if not grants.is_token_shaped(token):
        return False
    expires_text, _, mac = token.partition(".")
    if not expires_text.isdigit() or int(expires_text) < ctx.now().timestamp():
        return False
    return hmac.compare_digest(mac, _unlock_mac(ctx, share, int(expires_text)))


def unlock_cookie_name(share_id: str) -> str:
    """One cookie per share (the link itself may hold characters a cookie name may not)."""
    return "salon_unlock_" + hashlib.sha256(share_id.encode()).hexdigest()[:16]


# --- the decision ----------------------------------------------------------------------------

async def read_access(ctx: AppContext, link: str) -> ShareAccess | None:
    """The one read every viewer's request starts with, through the lean row reader when
    the database has one (``store.db.create_row_reader``)."""
    if ctx.row_reader is not None:
        return await repo.get_share_access_raw(ctx.row_reader, link)
    async with ctx.engine.connect() as conn:
        return await repo.get_share_access(conn, link)


async def _load(ctx: AppContext, link: str, *, client: str | None = None) -> ShareAccess:
    """The share, or 404; an unknown link counts against ``client`` (429 past the limit, and
    for every link while that client is locked out)."""
    if client is not None:
        link_scans.check(ctx, client)
    access = await read_access(ctx, link)
    if access is None:
        if client is not None:
            await link_scans.note_unknown(ctx, client)
        raise rules.share_not_found()
    return access


def _judge(
    ctx: AppContext, access: ShareAccess, *, viewer: User | None, password_ok: bool,
    view_granted: bool = False,
) -> AccessDecision:
    """The domain decision for this viewer; raises its refusal."""
    owner_perms = effective_permissions(access.owner_permissions, auth.permission_defaults(ctx))
    decision = rules.decide_access(
        access.share, viewer_id=viewer.id if viewer else None, now=ctx.now(),
        password_ok=password_ok,
        sharing_enabled=access.sharing_enabled and owner_perms["chat_share"],
        public_allowed=owner_perms["sharing_public_chat"], view_granted=view_granted,
    )
    if decision.error is not None:
        raise decision.error
    return decision


async def decide(
    ctx: AppContext, link: str, *, viewer: User | None, unlock: str | None,
    grant: str | None = None, client: str | None = None,
) -> tuple[ShareAccess, AccessDecision]:
    """The decision; with a valid view ``grant`` it spends no view (``counts_view`` False)."""
    access = await _load(ctx, link, client=client)
    share = access.share
    return access, _judge(ctx, access, viewer=viewer, password_ok=is_unlocked(ctx, share, unlock),
                          view_granted=grants.is_granted(ctx, share, grant))


@dataclass(frozen=True)
class Admission:
    """A viewer let in: the share as read (with its view counted, when one was spent) and the
    view grant that delivery carries (None for the owner and when nothing is delivered)."""

    access: ShareAccess
    share: Share
    is_owner: bool
    grant: str | None = None


async def admit(
    ctx: AppContext, link: str, *, viewer: User | None, unlock: str | None, count: bool = True,
    client: str | None = None,
) -> Admission:
    """The access decision for this viewer (raising its refusal) and the view it spends:
    everything ``open_share`` does except reading the content. One read of the share, and one
    write when a view is spent (never for the owner, nor when ``count`` is False). Every load
    of the page is a view: no grant is taken here."""
    access, decision = await decide(ctx, link, viewer=viewer, unlock=unlock, client=client)
    return await deliver(ctx, access, decision, count=count)


async def deliver(
    ctx: AppContext, access: ShareAccess, decision: AccessDecision, *, count: bool = True
) -> Admission:
    """Spend the view this delivery costs (none for the owner or a grant's holder, nor when
    ``count`` is False) and hand out a fresh grant with it."""
    share = access.share
    if decision.counts_view and count:
        share = await _spend_view(ctx, share)
    grant = grants.view_grant(ctx, share) if count and not decision.is_owner else None
    return Admission(access=access, share=share, is_owner=decision.is_owner, grant=grant)


async def admit_anonymous(ctx: AppContext, link: str, *, client: str) -> Admission | None:
    """The hot path's decision for an anonymous viewer without an unlock: the share if it
    lets them in with no password and has no view limit, its view *not yet* spent (the
    caller spends it with ``spend_batched_view`` once it can deliver, and hands out
    ``grants.view_grant``). None for anything else (a refusal, a password, a view limit, an
    unknown link, a locked-out client), which the full path answers."""
    if ctx.link_scans.retry_after(client):
        return None
    access = await read_access(ctx, link)
    if access is None or access.share.max_views is not None:
        return None
    if access.share.password_hash is not None:
        return None
    try:
        _judge(ctx, access, viewer=None, password_ok=False)
    except SalonError:
        return None
    return Admission(access=access, share=access.share, is_owner=False)


def spend_batched_view(ctx: AppContext, share: Share) -> None:
    """Count one delivered view of a share without a view limit (written within a second)."""
    ctx.view_batch.add(share.id)


async def view_admitted(
    ctx: AppContext, admission: Admission, *, viewer: User | None
) -> SharedView:
    """What an admitted viewer sees (the content read now, or a snapshot's from the cache)."""
    return await _view(ctx, admission.access, admission.share, viewer=viewer,
                       is_owner=admission.is_owner, grant=admission.grant)


async def open_share(
    ctx: AppContext, link: str, *, viewer: User | None, unlock: str | None, count: bool = True,
    client: str | None = None,
) -> SharedView:
    """The share as this viewer may see it. Delivering it to anyone but the owner spends one
    view (``count`` False for requests that deliver nothing, such as HEAD)."""
    admission = await admit(ctx, link, viewer=viewer, unlock=unlock, count=count, client=client)
    return await view_admitted(ctx, admission, viewer=viewer)


async def preview_title(ctx: AppContext, link: str, *, client: str | None = None) -> str | None:
    """The title a link preview (a bot, a prefetch) may show, without spending a view: the
    chat's title when anyone may open the link, None when it needs a login or a password (the
    title may quote the chat). Refusals that end the link (not found, sharing off, revoked,
    expired) are raised as for any viewer."""
    access = await _load(ctx, link, client=client)
    try:
        _judge(ctx, access, viewer=None, password_ok=False)
    except Unauthenticated:
        return None
    return (await read_content(ctx, access.share))[0]


async def watch_access(
    ctx: AppContext, link: str, *, viewer: User | None, unlock: str | None,
    client: str | None = None,
) -> Admission:
    """May this viewer watch the live share now? The page's decision, without spending a
    view (events are not views); a snapshot has nothing to watch (404 SHARE_NOT_LIVE)."""
    access, decision = await decide(ctx, link, viewer=viewer, unlock=unlock, client=client)
    _require_live(access.share)
    return Admission(access=access, share=access.share, is_owner=decision.is_owner)


def _require_live(share: Share) -> None:
    if not share.live:
        raise NotFound("This shared chat is a snapshot: it does not change.",
                       code="SHARE_NOT_LIVE")


async def open_live_messages(
    ctx: AppContext, link: str, *, viewer: User | None, unlock: str | None, grant: str | None,
    client: str | None = None,
) -> SharedView:
    """What a watcher of a live share sees now (its page fetches new turns): free with a
    view grant, else it spends a view."""
    access, decision = await decide(ctx, link, viewer=viewer, unlock=unlock, grant=grant,
                                     client=client)
    _require_live(access.share)
    return await view_admitted(ctx, await deliver(ctx, access, decision), viewer=viewer)


async def _spend_view(ctx: AppContext, share: Share) -> Share:
    """One view: batched for a share without a view limit (access was just decided from the
    database), else the conditional UPDATE that enforces the limit."""
    if share.max_views is None:
        spend_batched_view(ctx, share)
        return replace(share, views=share.views + 1)
    async with transaction(ctx.engine) as conn:
        views = await count_limited_view(conn, ctx, share)
    tell_if_used_up(ctx, share, views)
    return replace(share, views=views)


async def count_limited_view(conn: Any, ctx: AppContext, share: Share) -> int:
    """The conditional UPDATE of a share with a view limit; its refusal as the share is now
    (revoked or expired: the last view went to someone else a moment ago, or it just ended).
    Once committed, ``tell_if_used_up``."""
    views = await repo.count_view(conn, share.id, now=ctx.now())
    if views is None:
        _, ended = await state_now(conn, ctx, share, view_held=False)
        raise ended or Gone(rules.EXPIRED_DETAIL, code="SHARE_LINK_EXPIRED")
    return views


def tell_if_used_up(ctx: AppContext, share: Share, views: int) -> None:
    """When that view was the last, the link just ended: its live viewers are told."""
    if share.max_views is not None and views >= share.max_views:
        ctx.live.publish(share.conversation_id, "access", {})


async def state_now(
    conn: Any, ctx: AppContext, share: Share, *, view_held: bool
) -> tuple[Share | None, SalonError | None]:
    """The share re-read after a counter refused, and why the link is over for this viewer
    now (not found, revoked, expired), None when it is not over."""
    fresh = await repo.get_share(conn, share.id)
    if fresh is None:
        return None, rules.share_not_found()
    return fresh, rules.closed_reason(fresh, now=ctx.now(), view_granted=view_held)


async def _view(
    ctx: AppContext, access: ShareAccess, share: Share, *, viewer: User | None, is_owner: bool,
    grant: str | None,
) -> SharedView:
    title, created, updated, content, recipe = await read_content(ctx, share)
    logged_in = viewer is not None
    clone_ok = viewer is not None and auth.user_permissions(ctx, viewer)["chat_clone"]
    return SharedView(
        share=share, status=rules.share_status(share, now=ctx.now()), is_owner=is_owner,
        title=title, created_at=created, updated_at=updated, messages=content.messages,
        files=content.files,
        owner_name=access.owner_name if share.display_username and logged_in else None,
        recipe=recipe if logged_in else None,
        can_clone=rules.can_clone(share, viewer_id=viewer.id if viewer else None,
                                  now=ctx.now(), clone_permission=clone_ok,
                                  view_granted=grant is not None),
        grant=grant,
    )


def content_size(content: rules.SharedContent) -> int:
    """About how many bytes ``content`` holds: the length of its messages' JSON."""
    return len(json.dumps(content.messages, default=str)) + 200 * len(content.files)


async def read_content(
    ctx: AppContext, share: Share
) -> tuple[str, datetime, datetime, rules.SharedContent, dict[str, Any]]:
    """Title, the chat's created/updated times, the content and the recipe: frozen for a
    snapshot (kept in memory per content version, which never changes), read now for a live
    share."""
    async with ctx.engine.connect() as conn:
        if not share.live:
            snap = await repo.get_snapshot(conn, share.id)
            if snap is None:
                raise rules.share_not_found()
            key = (share.id, share.content_version)
            content = ctx.snapshot_cache.get(key)
            if content is None:
                content = await snapshot_content(conn, share)
                ctx.snapshot_cache.put(key, content, size=content_size(content))
            return (snap["title"], snap["conversation_created_at"],
                    snap["conversation_updated_at"], content, dict(snap["recipe"]))
        conv = await conv_repo.get_conversation(conn, share.conversation_id,
                                                user_id=share.user_id)
        if conv is None:
            raise rules.share_not_found()
        content = await live_content(conn, share, conv)
    return conv.title, conv.created_at, conv.updated_at, content, conv.recipe


# --- passwords -------------------------------------------------------------------------------

async def verify_share_password(
    ctx: AppContext, link: str, password: str, *, viewer: User | None, client: str
) -> tuple[Share, str]:
    """Check the password; on success the share and an unlock token for it alone. Failed
    attempts are limited per share and client, and per share across clients; during a
    lockout even the right password is refused."""
    access = await _load(ctx, link, client=client)
    # Every refusal but the password's (not found, revoked, expired, login) comes first.
    _judge(ctx, access, viewer=viewer, password_ok=True)
    share = access.share
    reservation = await reserve_all(ctx.limiter, [
        Limit(f"share-verify:{share.id}:{client}", VERIFY_ATTEMPTS, VERIFY_WINDOW),
        Limit(f"share-verify:{share.id}", VERIFY_SHARE_CAP, VERIFY_WINDOW),
    ], message="Too many wrong passwords for this link; try again in {seconds} seconds.")
    if share.password_hash is None:
        await reservation.succeed()
    elif not await auth.verify_reserved(ctx, reservation, share.password_hash, password):
        raise Unauthenticated(rules.INVALID_PASSWORD_DETAIL, code="INVALID_PASSWORD")
    return share, unlock_token(ctx, share)
