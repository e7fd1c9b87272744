"""The owner's side of sharing: create and change a share, take snapshots, revoke, restore,
rotate, reset, the dashboard, and the instance-wide switches. (Viewing and cloning are in
``services/share_viewing.py``.)

Every function takes the acting user and scopes by owner in the query itself: another user's
chat or share looks exactly like a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain import links
from salon.domain import shares as rules
from salon.domain.conversations import Conversation, Message, is_storable
from salon.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from salon.domain.shares import Share, SharedFile
from salon.domain.users import User
from salon.services import auth
from salon.services.context import AppContext
from salon.services.conversations import conversation_not_found
from salon.services.ratelimit import Limit, reserve_all
from salon.store import conversations as conv_repo
from salon.store import shares as repo
from salon.store.db import transaction
from salon.store.shares import ShareFilter

SHARE_WRITES_PER_MINUTE = 120
CURRENT_PASSWORD_ATTEMPTS = 10
BULK_MAX_IDS = 1000
CONFIRM_WORDS = {"revoke_all": "REVOKE", "reset_all": "RESET", "clear_revoked": "CLEAR"}

# The options a share request may change, as the API names them.
OPTION_FIELDS = frozenset({
    "share_id", "is_public", "visibility", "password", "current_password", "live",
    "display_username", "allow_cloning", "expires_at", "expires_in", "max_views", "max_clones",
    "allow_view_after_clone_limit", "upto_message_id", "update_snapshot",
})


@dataclass(frozen=True)
class ShareDefaults:
    live: bool = False
    display_username: bool = False
    allow_cloning: bool = True
    allow_view_after_clone_limit: bool = False


def share_not_shared() -> NotFound:
    return NotFound("This chat is not shared.", code="SHARE_NOT_FOUND")


def tell_watchers(ctx: AppContext, chat_id: str | None = None) -> None:
    """After a change to who may see a share: its live viewers (all of them without
    ``chat_id``) check their access again, and are cut off at once if it ended."""
    if chat_id is None:
        ctx.live.broadcast("access", {})
    else:
        ctx.live.publish(chat_id, "access", {})


async def is_sharing_enabled(ctx: AppContext) -> bool:
    async with ctx.engine.connect() as conn:
        return await repo.get_config(conn, repo.SHARING_ENABLED_KEY) is not False


async def set_sharing_enabled(ctx: AppContext, actor: User, enabled: bool) -> None:
    """Admin only: turn sharing on or off for the whole instance. Off, existing links stop
    serving (SHARING_DISABLED) until it is back on; nothing is deleted."""
    auth.require_admin(actor)
    async with transaction(ctx.engine) as conn:
        await repo.set_config(conn, repo.SHARING_ENABLED_KEY, enabled)
    tell_watchers(ctx)


async def require_can_share(ctx: AppContext, user: User) -> dict[str, bool]:
    """The user's permissions, after refusing when sharing is off for them or the instance."""
    perms = auth.user_permissions(ctx, user)
    if not perms["chat_share"] or not await is_sharing_enabled(ctx):
        raise rules.sharing_disabled()
    wait = await ctx.limiter.retry_after(f"share-write:{user.id}", limit=SHARE_WRITES_PER_MINUTE,
                                   window=60)
    if wait:
        raise RateLimited("Too many sharing changes; try again shortly.",
                          retry_after=int(wait) + 1)
    await ctx.limiter.hit(f"share-write:{user.id}", window=60)
    return perms


async def get_own_share(ctx: AppContext, user: User, chat_id: str) -> Share:
    await ctx.view_batch.flush()  # owners see every view delivered so far
    async with ctx.engine.connect() as conn:
        if await conv_repo.get_conversation(conn, chat_id, user_id=user.id) is None:
            raise conversation_not_found()
        share = await repo.get_share_for_conversation(conn, chat_id, user_id=user.id)
    if share is None:
        raise share_not_shared()
    return share


async def save_share(
    ctx: AppContext, user: User, chat_id: str, changes: Mapping[str, Any]
) -> Share:
    """Create the chat's share or change the options named in ``changes`` (one share per
    chat: sharing again returns the same link)."""
    await ctx.view_batch.flush()  # owners see every view delivered so far
    unknown = set(changes) - OPTION_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown share option(s): {', '.join(sorted(unknown))}.")
    perms = await require_can_share(ctx, user)
    now = ctx.now()
    async with ctx.engine.connect() as conn:
        conv = await conv_repo.get_conversation(conn, chat_id, user_id=user.id)
        if conv is None:
            raise conversation_not_found()
        existing = await repo.get_share_for_conversation(conn, chat_id, user_id=user.id)
        if existing is None and not await repo.has_shareable_messages(conn, chat_id):
            raise rules.empty_conversation()
        if "upto_message_id" in changes and changes["upto_message_id"] is not None:
            await _check_checkpoint(conn, conv, str(changes["upto_message_id"]))
    values = _option_values(existing, changes, now=now, public_allowed=perms["sharing_public_chat"])
    if existing is not None and existing.revoked_at is not None and "share_id" not in changes:
        values = {**_new_link_values(existing, now=now), **values}
        changes = {**changes, "update_snapshot": True}
    values.update(await _password_values(ctx, user, existing, changes))
    share = await _write_share(ctx, conv, existing, values, changes=changes, now=now)
    tell_watchers(ctx, chat_id)
    return share


def _new_link_values(share: Share, *, now: datetime) -> dict[str, Any]:
    """Sharing a chat whose link was revoked by hand (Open WebUI's "delete this link") makes
    a new link, as Open WebUI does: a new id with its own counters and a new snapshot, the
    options kept (those a limit had ended are removed, as by restoring). The old link then
    answers NOT_FOUND and can no longer be restored: the chat has one share, the new one."""
    return {**rules.restored_values(share, now=now), "share_id": links.new_share_id(),
            "views": 0, "clones": 0}


async def get_link(ctx: AppContext, user: User, chat_id: str) -> str | None:
    """The link of the user's chat while it has not been revoked by hand (Open WebUI's
    ``share_id``, null once the link is deleted); None when it is not shared."""
    async with ctx.engine.connect() as conn:
        share = await repo.get_share_for_conversation(conn, chat_id, user_id=user.id)
    return share.share_id if share is not None and share.revoked_at is None else None


async def _check_checkpoint(conn: AsyncConnection, conv: Conversation, message_id: str) -> None:
    if await repo.message_seq(conn, conv.id, message_id) is None:
        raise InvalidInput("upto_message_id is not a message of this chat.",
                           field="upto_message_id")


def _option_values(
    existing: Share | None, changes: Mapping[str, Any], *, now: datetime, public_allowed: bool
) -> dict[str, Any]:
    """The column values ``changes`` asks for, validated (the password is separate)."""
    values: dict[str, Any] = {}
    for name in ("live", "display_username", "allow_cloning", "allow_view_after_clone_limit",
                 "upto_message_id"):
        if name in changes:
            values[name] = changes[name]
    if "share_id" in changes:
        values["share_id"] = links.validate_share_id(str(changes["share_id"]))
    visibility = _visibility(existing, changes, public_allowed=public_allowed)
    if visibility == "public" and not public_allowed:
        raise Forbidden("Your account may only create links for logged-in users.",
                        code="PUBLIC_SHARING_DISABLED")
    values.update(rules.visibility_values(visibility))
    left_only_me = existing is not None and existing.owner_only and visibility != "only_me"
    if left_only_me and "share_id" not in changes:
        # Switching to "only me" revoked the link (spec 004): sharing again makes a new one.
        values["share_id"] = links.new_share_id()
    if "expires_at" in changes or "expires_in" in changes:
        values["expires_at"] = rules.expiry_from(
            now=now, expires_at=parse_time(changes.get("expires_at"), field="expires_at"),
            expires_in=changes.get("expires_in"))
    for limit, count in (("max_views", "views"), ("max_clones", "clones")):
        if limit in changes:
            current = getattr(existing, count) if existing else 0
            values[limit] = rules.adjust_limit(int(changes[limit]), current=current)
    return values


def _visibility(
    existing: Share | None, changes: Mapping[str, Any], *, public_allowed: bool
) -> rules.Visibility:
    """The visibility asked for: ``visibility``, or the older ``is_public`` (true: public,
    false: logged-in users); neither keeps the share's, and a new share is public when the
    owner may share publicly."""
    asked: rules.Visibility | None = changes.get("visibility")
    if "is_public" in changes:
        is_public = bool(changes["is_public"])
        if asked is None:
            asked = "public" if is_public else "private"
        elif is_public != (asked == "public"):
            raise InvalidInput(f'is_public contradicts visibility "{asked}"; send only '
                               "visibility.", field="is_public")
    if asked is not None:
        return asked
    if existing is not None:
        return existing.visibility
    return "public" if public_allowed else "private"


def parse_time(value: object, *, field: str) -> datetime | None:
    """An ISO 8601 time (``Z`` allowed) or None; anything else is a 422 naming the field."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidInput(f"{field} must be an ISO 8601 date and time.", field=field)
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{field} must be an ISO 8601 date and time, e.g. "
                           "2030-01-31T17:00:00Z.", field=field) from None


async def _password_values(
    ctx: AppContext, user: User, existing: Share | None, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Set, change or remove the share password; changing or removing an existing one needs
    the current password (attempts rate limited per share)."""
    if "password" not in changes:
        return {}
    new = changes["password"]
    if new is not None and not 1 <= len(new) <= rules.MAX_SHARE_PASSWORD_CHARS:
        raise InvalidInput(f"A share password needs 1 to {rules.MAX_SHARE_PASSWORD_CHARS} "
                           "characters (use null to remove it).", field="password")
    if existing is not None and existing.password_hash is not None:
        await _check_current_password(ctx, existing, changes.get("current_password"))
    return {"password_hash": None if new is None else await auth.hash_password(ctx, new)}


async def _check_current_password(ctx: AppContext, share: Share, given: object) -> None:
    if not isinstance(given, str) or not given:
        raise InvalidInput("Enter the current password to change or remove it.",
                           code="CURRENT_PASSWORD_REQUIRED", field="current_password")
    reservation = await reserve_all(
        ctx.limiter, [Limit(f"share-current-password:{share.id}", CURRENT_PASSWORD_ATTEMPTS,
                            15 * 60)],
        message="Too many wrong passwords; try again later.")
    assert share.password_hash is not None
    if not await auth.verify_reserved(ctx, reservation, share.password_hash, given):
        raise Forbidden("The current password is incorrect.", code="INVALID_CURRENT_PASSWORD",
                        field="current_password")


async def _write_share(
    ctx: AppContext, conv: Conversation, existing: Share | None, values: dict[str, Any], *,
    changes: Mapping[str, Any], now: datetime,
) -> Share:
    try:
        async with transaction(ctx.engine) as conn:
            if "share_id" in values and values["share_id"] != (existing and existing.share_id):
                if await repo.is_share_id_taken(conn, values["share_id"]):
                    raise share_id_taken()
            if existing is None:
                share_pk = str(uuid.uuid4())
                defaults = ShareDefaults()
                row = {"live": defaults.live, "display_username": defaults.display_username,
                       "allow_cloning": defaults.allow_cloning,
                       "allow_view_after_clone_limit": defaults.allow_view_after_clone_limit,
                       "share_id": links.new_share_id(), "password_hash": None,
                       "expires_at": None, "max_views": None, "max_clones": None,
                       "upto_message_id": None, **values}
                await repo.insert_share(conn, id=share_pk, conversation_id=conv.id,
                                        user_id=conv.user_id, title=conv.title, views=0,
                                        clones=0, revoked_at=None, content_version=1,
                                        created_at=now, updated_at=now, **row)
            else:
                share_pk = existing.id
                await repo.update_share(conn, share_pk, title=conv.title, updated_at=now,
                                        **values)
            share = await repo.get_share(conn, share_pk)
            assert share is not None
            if _needs_snapshot(existing, share, changes):
                share = await take_snapshot(conn, share, conv, now=now)
            elif share.live and existing is not None and not existing.live:
                await repo.delete_snapshot(conn, share.id)
    except IntegrityError:
        raise Conflict("The chat was shared at the same moment; try again.",
                       code="SHARE_CONFLICT") from None
    return share


def share_id_taken() -> Conflict:
    return Conflict("That custom link is already taken; choose another.",
                    code="SHARE_ID_TAKEN", field="share_id")


def _needs_snapshot(existing: Share | None, share: Share, changes: Mapping[str, Any]) -> bool:
    if share.live:
        return False
    if existing is None or existing.live or changes.get("update_snapshot") is True:
        return True
    return "upto_message_id" in changes and changes["upto_message_id"] != existing.upto_message_id


async def take_snapshot(
    conn: AsyncConnection, share: Share, conv: Conversation, *, now: datetime
) -> Share:
    """Freeze the chat as it is now: its messages up to the checkpoint (copied inside the
    database), title, recipe and times. The content version moves on, so caches of the older
    snapshot are never served for the new one."""
    upto_seq: int | None = None
    if share.upto_message_id is not None:
        found = await repo.message_seq(conn, conv.id, share.upto_message_id)
        upto_seq = -1 if found is None else found  # an unknown checkpoint shares nothing
    await repo.save_snapshot(
        conn, share.id, conversation_id=conv.id, upto_seq=upto_seq, title=conv.title,
        recipe=conv.recipe, conversation_created_at=conv.created_at,
        conversation_updated_at=conv.updated_at, taken_at=now,
    )
    await repo.update_share(conn, share.id, content_version=share.content_version + 1)
    return replace(share, content_version=share.content_version + 1)


async def live_content(
    conn: AsyncConnection, share: Share, conv: Conversation
) -> rules.SharedContent:
    """What viewers of a live share see: the chat now, cut at the checkpoint."""
    messages = rules.cut_messages(await conv_repo.list_messages(conn, conv.id),
                                  upto_message_id=share.upto_message_id)
    return await _allow_listed(conn, conv.id, messages)


async def snapshot_content(conn: AsyncConnection, share: Share) -> rules.SharedContent:
    """What viewers of a snapshot see: the frozen messages, through the same allow-list."""
    messages = await repo.snapshot_messages(conn, share.id)
    return await _allow_listed(conn, share.conversation_id, messages)


async def _allow_listed(
    conn: AsyncConnection, conversation_id: str, messages: list[Message]
) -> rules.SharedContent:
    files_by_id = {
        row["id"]: SharedFile(file_id=row["id"], name=row["name"], media_type=row["media_type"],
                              size=row["size"], sha256=row["sha256"])
        for row in await repo.conversation_files(conn, conversation_id)
    }
    return rules.shared_content(messages, files_by_id=files_by_id)


# --- revoke, restore, rotate, reset ----------------------------------------------------------

async def _change_own_share(
    ctx: AppContext, user: User, chat_id: str,
    values_for: Callable[[Share, datetime], dict[str, Any]],
) -> Share:
    """Apply ``values_for(share, now)`` to the user's share of ``chat_id`` in one transaction."""
    await ctx.view_batch.flush()  # owners see every view delivered so far
    now = ctx.now()
    async with transaction(ctx.engine) as conn:
        if await conv_repo.get_conversation(conn, chat_id, user_id=user.id) is None:
            raise conversation_not_found()
        share = await repo.get_share_for_conversation(conn, chat_id, user_id=user.id)
        if share is None:
            raise share_not_shared()
        values = values_for(share, now)
        if values:
            await repo.update_share(conn, share.id, updated_at=now, **values)
        updated = await repo.get_share(conn, share.id)
    assert updated is not None
    tell_watchers(ctx, chat_id)
    return updated


async def revoke_share(ctx: AppContext, user: User, chat_id: str) -> Share:
    return await _change_own_share(
        ctx, user, chat_id, lambda s, now: {} if s.revoked_at else {"revoked_at": now})


async def restore_share(ctx: AppContext, user: User, chat_id: str) -> Share:
    """Active again; when a limit had ended the link (time, views or clones), every expiry
    setting is removed: the link is permanent until new ones are set (spec 002)."""
    return await _change_own_share(
        ctx, user, chat_id,
        lambda s, now: rules.restored_values(s, now=now)
        if rules.share_status(s, now=now) != "active" else {})


async def rotate_share(ctx: AppContext, user: User, chat_id: str) -> Share:
    """A new random link; the old one answers NOT_FOUND at once and earlier unlocks end."""
    await require_can_share(ctx, user)
    return await _change_own_share(
        ctx, user, chat_id, lambda s, now: {"share_id": links.new_share_id()})


async def reset_share_stats(ctx: AppContext, user: User, chat_id: str) -> Share:
    return await _change_own_share(ctx, user, chat_id, lambda s, now: {"views": 0, "clones": 0})


# --- the dashboard and bulk actions ---------------------------------------------------------

async def list_shares(ctx: AppContext, user: User, f: ShareFilter) -> tuple[list[Share], int]:
    if f.query is not None and not is_storable(f.query):
        raise InvalidInput("query must be text without NUL characters.", field="query")
    await ctx.view_batch.flush()  # owners see every view delivered so far
    async with ctx.engine.connect() as conn:
        return await repo.list_shares(conn, user_id=user.id, f=f, now=ctx.now())


async def shares_meta(ctx: AppContext, user: User) -> dict[str, Any]:
    """Totals by status and by type, and the id, title and status of every share."""
    await ctx.view_batch.flush()  # owners see every view delivered so far
    async with ctx.engine.connect() as conn:
        items = await repo.share_summaries(conn, user_id=user.id, now=ctx.now())
    by_status = {s: 0 for s in rules.STATUSES}
    by_type = {k: 0 for k in rules.TYPES}
    for item in items:
        by_status[item["status"]] += 1
        by_type[item["type"]] += 1
    return {"total": len(items), "by_status": by_status, "by_type": by_type, "items": items}


async def bulk_action(
    ctx: AppContext, user: User, *, action: Literal["revoke", "reset_stats"],
    chat_ids: Sequence[str],
) -> int:
    """Revoke or reset the shares of the given chats (others' chats are silently not matched);
    returns how many shares changed."""
    await ctx.view_batch.flush()  # owners see every view delivered so far
    if len(chat_ids) > BULK_MAX_IDS:
        raise InvalidInput(f"At most {BULK_MAX_IDS} chats at once.", field="chat_ids")
    async with transaction(ctx.engine) as conn:
        if action == "reset_stats":
            return await repo.reset_stats(conn, user_id=user.id, now=ctx.now(),
                                          chat_ids=chat_ids)
        changed = await repo.revoke_shares(conn, user_id=user.id, now=ctx.now(),
                                           chat_ids=chat_ids)
    for chat_id in chat_ids:
        tell_watchers(ctx, chat_id)
    return changed


def check_confirmation(action: str, confirm: object) -> None:
    word = CONFIRM_WORDS[action]
    if confirm != word:
        raise InvalidInput(f'Type "{word}" to confirm; nothing was changed.',
                           code="CONFIRMATION_REQUIRED", field="confirm")


async def revoke_all(ctx: AppContext, user: User, *, confirm: object) -> int:
    check_confirmation("revoke_all", confirm)
    async with transaction(ctx.engine) as conn:
        changed = await repo.revoke_shares(conn, user_id=user.id, now=ctx.now())
    tell_watchers(ctx)
    return changed


async def reset_all_stats(ctx: AppContext, user: User, *, confirm: object) -> int:
    check_confirmation("reset_all", confirm)
    await ctx.view_batch.flush()  # owners see every view delivered so far
    async with transaction(ctx.engine) as conn:
        return await repo.reset_stats(conn, user_id=user.id, now=ctx.now())


async def clear_revoked(ctx: AppContext, user: User, *, confirm: object) -> int:
    """Delete every revoked share (their links answer NOT_FOUND; the chats become unshared)."""
    check_confirmation("clear_revoked", confirm)
    async with transaction(ctx.engine) as conn:
        return await repo.delete_revoked(conn, user_id=user.id)  # streams closed at revoking


# --- permissions -----------------------------------------------------------------------------

async def enforce_public_permission(ctx: AppContext) -> int:
    """Make the public shares of every user who may no longer share publicly logged-in-only
    (at start-up, after the instance default changed). Returns how many shares changed."""
    defaults = auth.permission_defaults(ctx)
    async with transaction(ctx.engine) as conn:
        owners = await repo.owners_with_public_shares(conn)
        barred = [uid for uid, overrides in owners
                  if not overrides.get("sharing_public_chat",
                                       defaults["sharing_public_chat"])]
        changed = await repo.make_private(conn, user_ids=barred, now=ctx.now())
    tell_watchers(ctx)
    return changed


# --- Khoj's shapes -----------------------------------------------------------------------------

async def share_or_restore(ctx: AppContext, user: User, chat_id: str) -> Share:
    """Khoj's "share": the chat's link, created with the defaults if needed, and working
    (a revoked or ended link is restored)."""
    async with ctx.engine.connect() as conn:
        existing = await repo.get_share_for_conversation(conn, chat_id, user_id=user.id)
    if existing is None:
        return await save_share(ctx, user, chat_id, {})
    await require_can_share(ctx, user)
    return await restore_share(ctx, user, chat_id)


async def revoke_by_link(ctx: AppContext, user: User, link: str) -> Share:
    async with ctx.engine.connect() as conn:
        share = await repo.get_share_by_link(conn, link, user_id=user.id)
    if share is None:
        raise share_not_shared()
    return await revoke_share(ctx, user, share.conversation_id)
