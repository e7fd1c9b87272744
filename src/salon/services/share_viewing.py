"""The viewer's side of sharing: open a share, unlock it with its password, download its files,
clone it. Every entry point goes through ``_decide``: one read of the share, one domain decision.

Unlocks are stateless tokens, an HMAC over the share's internal id, its link and its password
hash: changing or removing the password or rotating the link invalidates every earlier unlock,
on every worker, with nothing stored.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from salon.domain import shares as rules
from salon.domain.conversations import Conversation, Message, clean_title, slugify
from salon.domain.errors import Gone, NotFound, SalonError, Unauthenticated
from salon.domain.files import unique_names
from salon.domain.shares import AccessDecision, Share, SharedFile
from salon.domain.users import User, effective_permissions
from salon.services import auth
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
    if not token or len(token) > 128:
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


async def _load(ctx: AppContext, link: str) -> ShareAccess:
    access = await read_access(ctx, link)
    if access is None:
        raise rules.share_not_found()
    return access


def _judge(
    ctx: AppContext, access: ShareAccess, *, viewer: User | None, password_ok: bool
) -> AccessDecision:
    """The domain decision for this viewer; raises its refusal."""
    owner_perms = effective_permissions(access.owner_permissions, auth.permission_defaults(ctx))
    decision = rules.decide_access(
        access.share, viewer_id=viewer.id if viewer else None, now=ctx.now(),
        password_ok=password_ok,
        sharing_enabled=access.sharing_enabled and owner_perms["chat_share"],
        public_allowed=owner_perms["sharing_public_chat"],
    )
    if decision.error is not None:
        raise decision.error
    return decision


async def _decide(
    ctx: AppContext, link: str, *, viewer: User | None, unlock: str | None
) -> tuple[ShareAccess, AccessDecision]:
    access = await _load(ctx, link)
    password_ok = is_unlocked(ctx, access.share, unlock)
    return access, _judge(ctx, access, viewer=viewer, password_ok=password_ok)


@dataclass(frozen=True)
class Admission:
    """A viewer let in: the share as read (with its view counted, when one was spent)."""

    access: ShareAccess
    share: Share
    is_owner: bool


async def admit(
    ctx: AppContext, link: str, *, viewer: User | None, unlock: str | None, count: bool = True
) -> Admission:
    """The access decision for this viewer (raising its refusal) and the view it spends:
    everything ``open_share`` does except reading the content. One read of the share, and one
    write when a view is spent (never for the owner, nor when ``count`` is False)."""
    access, decision = await _decide(ctx, link, viewer=viewer, unlock=unlock)
    share = access.share
    if decision.counts_view and count:
        share = await _spend_view(ctx, share)
    return Admission(access=access, share=share, is_owner=decision.is_owner)


async def admit_anonymous(ctx: AppContext, link: str) -> Admission | None:
    """The hot path's decision for an anonymous viewer without an unlock: the share if it
    lets them in with no password and has no view limit, its view *not yet* spent (the
    caller spends it with ``spend_batched_view`` once it can deliver). None for anything
    else (a refusal, a password, a view limit), which the full path answers."""
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
                       is_owner=admission.is_owner)


async def open_share(
    ctx: AppContext, link: str, *, viewer: User | None, unlock: str | None, count: bool = True
) -> SharedView:
    """The share as this viewer may see it. Delivering it to anyone but the owner spends one
    view (``count`` False for requests that deliver nothing, such as HEAD)."""
    admission = await admit(ctx, link, viewer=viewer, unlock=unlock, count=count)
    return await view_admitted(ctx, admission, viewer=viewer)


async def preview_title(ctx: AppContext, link: str) -> str | None:
    """The title a link preview (a bot, a prefetch) may show, without spending a view: the
    chat's title when anyone may open the link, None when it needs a login or a password (the
    title may quote the chat). Refusals that end the link (not found, sharing off, revoked,
    expired) are raised as for any viewer."""
    access = await _load(ctx, link)
    try:
        _judge(ctx, access, viewer=None, password_ok=False)
    except Unauthenticated:
        return None
    return (await _content(ctx, access.share))[0]


async def watch_access(
    ctx: AppContext, link: str, *, viewer: User | None, unlock: str | None
) -> Admission:
    """May this viewer watch the live share now? The page's decision, without spending a
    view (events are not views); a snapshot has nothing to watch (404 SHARE_NOT_LIVE)."""
    access, decision = await _decide(ctx, link, viewer=viewer, unlock=unlock)
    if not access.share.live:
        raise NotFound("This shared chat is a snapshot: it does not change.",
                       code="SHARE_NOT_LIVE")
    return Admission(access=access, share=access.share, is_owner=decision.is_owner)


async def live_messages(
    ctx: AppContext, admission: Admission, *, viewer: User | None
) -> SharedView:
    """What a watcher of a live share sees now (no view spent)."""
    return await _view(ctx, admission.access, admission.share, viewer=viewer,
                       is_owner=admission.is_owner)


def clone_offered_after_login(share: Share, *, now: datetime) -> bool:
    """Whether an anonymous viewer is offered "Clone chat" (it sends them to log in first):
    cloning allowed, under its limit, and the link active."""
    return (share.allow_cloning and not rules.is_clone_limit_reached(share)
            and rules.share_status(share, now=now) == "active")


async def _spend_view(ctx: AppContext, share: Share) -> Share:
    """One view: batched for a share without a view limit (access was just decided from the
    database), else the conditional UPDATE that enforces the limit."""
    if share.max_views is None:
        spend_batched_view(ctx, share)
        return replace(share, views=share.views + 1)
    async with transaction(ctx.engine) as conn:
        views = await repo.count_view(conn, share.id, now=ctx.now())
    if views is None:  # the last view went to someone else a moment ago, or it just ended
        raise Gone(rules.EXPIRED_DETAIL, code="SHARE_LINK_EXPIRED")
    if views >= share.max_views:  # the link just ended: its live viewers are told
        ctx.live.publish(share.conversation_id, "access", {})
    return replace(share, views=views)


async def _view(
    ctx: AppContext, access: ShareAccess, share: Share, *, viewer: User | None, is_owner: bool
) -> SharedView:
    title, created, updated, content, recipe = await _content(ctx, share)
    logged_in = viewer is not None
    clone_ok = viewer is not None and auth.user_permissions(ctx, viewer)["chat_clone"]
    return SharedView(
        share=share, status=rules.share_status(share, now=ctx.now()), is_owner=is_owner,
        title=title, created_at=created, updated_at=updated, messages=content.messages,
        files=content.files,
        owner_name=access.owner_name if share.display_username and logged_in else None,
        recipe=recipe if logged_in else None,
        can_clone=rules.can_clone(share, viewer_id=viewer.id if viewer else None,
                                  now=ctx.now(), clone_permission=clone_ok),
    )


async def _content(
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
                ctx.snapshot_cache.put(key, content)
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
    access = await _load(ctx, link)
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


# --- files -----------------------------------------------------------------------------------

async def get_share_file(
    ctx: AppContext, link: str, index: int, *, viewer: User | None, unlock: str | None
) -> tuple[SharedFile, bytes]:
    """One file of the shared messages (same access rules as the share; not a view)."""
    access, _ = await _decide(ctx, link, viewer=viewer, unlock=unlock)
    files = (await _content(ctx, access.share))[3].files
    if not 0 <= index < len(files) or not ctx.blobs.exists(files[index].sha256):
        raise NotFound("This shared chat has no such file.", code="FILE_NOT_FOUND")
    found = files[index]
    return found, await asyncio.to_thread(ctx.blobs.get, found.sha256)


async def build_share_zip(
    ctx: AppContext, link: str, *, viewer: User | None, unlock: str | None
) -> tuple[str, Path]:
    """Every file of the share in one ZIP (bare, de-duplicated names), written to a temporary
    file so memory stays bounded; the caller deletes it. Returns (download name, path)."""
    access, _ = await _decide(ctx, link, viewer=viewer, unlock=unlock)
    files = [f for f in (await _content(ctx, access.share))[3].files
             if ctx.blobs.exists(f.sha256)]
    if not files:
        raise NotFound("This shared chat has no files.", code="FILE_NOT_FOUND")
    tmp_dir = ctx.settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    names = unique_names([f.name for f in files])

    def _write() -> Path:
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="share-", suffix=".zip")
        with open(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as archive:
            for entry, item in zip(names, files, strict=True):
                archive.write(ctx.blobs.path_for(item.sha256), arcname=entry)
        return Path(name)

    title = access.share.title if not access.share.live else "shared-chat"
    return f"{slugify(title)}-files.zip", await asyncio.to_thread(_write)


# --- cloning ---------------------------------------------------------------------------------

async def clone_share(
    ctx: AppContext, viewer: User | None, link: str, *, unlock: str | None
) -> Conversation:
    """Copy the shared messages (and references to their files, never the owner's other
    files) into a new chat of the viewer's. Exactly ``max_clones`` clones ever happen."""
    if viewer is None:
        raise Unauthenticated(rules.LOGIN_REQUIRED_DETAIL, code="LOGIN_REQUIRED")
    access, decision = await _decide(ctx, link, viewer=viewer, unlock=unlock)
    share = access.share
    permission = auth.user_permissions(ctx, viewer)["chat_clone"]
    if not rules.can_clone(share, viewer_id=viewer.id, now=ctx.now(),
                           clone_permission=permission):
        raise rules.clone_refusal(share, clone_permission=permission)
    title, _, _, content, recipe = await _content(ctx, share)
    async with transaction(ctx.engine) as conn:
        if not decision.is_owner and await repo.count_clone(conn, share.id,
                                                           now=ctx.now()) is None:
            raise rules.clone_refusal(share, clone_permission=permission)
        return await _copy_into(conn, ctx, viewer, title=title, content=content, recipe=recipe)


async def _copy_into(
    conn: Any, ctx: AppContext, viewer: User, *, title: str, content: rules.SharedContent,
    recipe: dict[str, Any],
) -> Conversation:
    now = ctx.now()
    clone_title = clean_title(f"Clone of {title}"[:200])
    conv = Conversation(id=str(uuid.uuid4()), user_id=viewer.id, title=clone_title,
                        slug=slugify(clone_title), agent_slug="salon", recipe=recipe,
                        file_filters=[], created_at=now, updated_at=now)
    await conv_repo.insert_conversation(conn, conv)
    new_ids = [str(uuid.uuid4()) for _ in content.files]
    await conv_repo.insert_files(conn, [
        {"id": new_id, "user_id": viewer.id, "conversation_id": conv.id, "sha256": f.sha256,
         "name": f.name, "media_type": f.media_type, "size": f.size, "created_at": now}
        for new_id, f in zip(new_ids, content.files, strict=True)
    ])
    messages = [
        Message(id=str(uuid.uuid4()), conversation_id=conv.id, seq=seq, role=m["role"],
                parts=[_relink(p, new_ids) for p in m["parts"]],
                created_at=datetime.fromisoformat(m["created_at"]), model=m.get("model"),
                status=m.get("status", "complete"))
        for seq, m in enumerate(content.messages)
    ]
    await conv_repo.insert_messages(conn, messages)
    await conv_repo.update_conversation(conn, conv.id, user_id=viewer.id,
                                        next_seq=len(messages))
    return conv


def _relink(part: dict[str, Any], new_ids: list[str]) -> dict[str, Any]:
    """A shared part's file position back to a file id, now the cloner's own file row."""
    if "file_id" not in part:
        return dict(part)
    index = int(part["file_id"])
    return {**part, "file_id": new_ids[index]}
