"""Cloning a share into the viewer's account, and the anonymous viewer's way there.

``clone_share`` spends a clone, and a view too unless the viewer holds a view grant: both in one
transaction, so a refused clone spends nothing. When a counter refuses, the answer comes from
the share as it is now (revoked, expired, clone limit), never from the copy read before.

An anonymous viewer's "Clone chat" is a form on our page (``press_clone``): it leaves a signed
clone intent in their browser and sends them to log in. Coming back, the page asks "Clone this
chat into your account?" and only their press on that (a CSRF-protected form) clones. Nothing
in a URL ever clones.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from salon.domain import shares as rules
from salon.domain.conversations import Conversation, Message, clean_title, slugify
from salon.domain.errors import Forbidden, Unauthenticated
from salon.domain.shares import Share
from salon.domain.users import User
from salon.services import auth
from salon.services import share_grants as grants
from salon.services.context import AppContext
from salon.services.share_viewing import (
    count_limited_view,
    decide,
    read_content,
    spend_batched_view,
    state_now,
    tell_if_used_up,
)
from salon.store import conversations as conv_repo
from salon.store import shares as repo
from salon.store.db import transaction


def clone_offered_after_login(share: Share, *, now: datetime) -> bool:
    """Whether an anonymous viewer, who was just given the page (and so holds its view), is
    offered "Clone chat" (it sends them to log in first): cloning allowed, under its limit,
    and the link open to them."""
    return (share.allow_cloning and not rules.is_clone_limit_reached(share)
            and rules.is_open(share, now=now, view_granted=True))



async def press_clone(
    ctx: AppContext, link: str, press: str, *, unlock: str | None, grant: str | None,
    client: str | None = None,
) -> tuple[Share, str]:
    """An anonymous viewer pressed "Clone chat" on the share page: the share and a clone
    intent for their browser to keep while they log in. Refused like the page is (nothing is
    spent), with the clone refusal when cloning is not offered, and ``403 CSRF_FAILED`` when
    ``press`` is not the token of this share's page as it is now."""
    access, _ = await decide(ctx, link, viewer=None, unlock=unlock, grant=grant, client=client)
    share = access.share
    if not grants.is_clone_press(ctx, share, press):
        raise Forbidden("This Clone button is out of date: reload the page and press it again.",
                        code="CSRF_FAILED")
    if not clone_offered_after_login(share, now=ctx.now()):
        raise rules.clone_refusal(share, clone_permission=True)
    return share, grants.clone_intent(ctx, share)


def clone_intended(ctx: AppContext, share: Share, intent: str | None) -> bool:
    """Whether a signed-in viewer's browser holds a valid clone intent for this share as it
    is now (pressed on its page before logging in, within ``INTENT_TTL``)."""
    return grants.is_clone_intended(ctx, share, intent)


async def clone_share(
    ctx: AppContext, viewer: User | None, link: str, *, unlock: str | None,
    grant: str | None = None, client: str | None = None,
) -> Conversation:
    """Copy the shared messages (and references to their files, never the owner's other
    files) into a new chat of the viewer's. A clone spends a clone, and a view too unless the
    viewer holds a view grant (both or neither): exactly ``max_clones`` clones ever happen,
    and never more than ``max_views`` viewers get the content. The owner spends nothing."""
    if viewer is None:
        raise Unauthenticated(rules.LOGIN_REQUIRED_DETAIL, code="LOGIN_REQUIRED")
    access, decision = await decide(ctx, link, viewer=viewer, unlock=unlock, grant=grant,
                                    client=client)
    share = access.share
    permission = auth.user_permissions(ctx, viewer)["chat_clone"]
    if not rules.can_clone(share, viewer_id=viewer.id, now=ctx.now(),
                           clone_permission=permission, view_granted=not decision.counts_view):
        raise rules.clone_refusal(share, clone_permission=permission)
    title, _, _, content, recipe = await read_content(ctx, share)
    views: int | None = None
    async with transaction(ctx.engine) as conn:
        if not decision.is_owner:
            views = await _count_clone(conn, ctx, share, with_view=decision.counts_view,
                                       clone_permission=permission)
        conv = await _copy_into(conn, ctx, viewer, title=title, content=content, recipe=recipe)
    if views is not None:
        tell_if_used_up(ctx, share, views)
    elif decision.counts_view:
        spend_batched_view(ctx, share)
    return conv


async def _count_clone(
    conn: Any, ctx: AppContext, share: Share, *, with_view: bool, clone_permission: bool
) -> int | None:
    """Spend a clone, and first the view it needs (``with_view``) when the share has a view
    limit: the view count then, else None. When a counter refuses, the answer comes from the
    share as it is now: a link revoked or ended meanwhile says so, never "clone limit
    reached"."""
    views = None
    if with_view and share.max_views is not None:
        views = await count_limited_view(conn, ctx, share)
    if await repo.count_clone(conn, share.id, now=ctx.now(), view_held=True) is None:
        fresh, ended = await state_now(conn, ctx, share, view_held=True)
        if ended is not None or fresh is None:
            raise ended or rules.share_not_found()
        raise rules.clone_refusal(fresh, clone_permission=clone_permission)
    return views


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
