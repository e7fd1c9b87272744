"""Sharing routes with Open WebUI's shapes (``/api/v1/chats/...``) and Khoj's
(``/api/chat/share...``), on one model. Thin: parse, call one service, shape the answer.

This router is included before the chats router, so ``/api/v1/chats/shared`` is not read as a
chat id.
"""

from __future__ import annotations

from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import Field
from pydantic.config import JsonDict
from starlette.background import BackgroundTask

from salon.domain import shares as rules
from salon.domain.errors import InvalidInput
from salon.domain.shares import MAX_LIMIT, Share
from salon.services import conversations as conv_service
from salon.services import share_cloning as cloning
from salon.services import share_files
from salon.services import share_viewing as viewing
from salon.services import shares as share_service
from salon.services.context import AppContext
from salon.store.shares import ShareFilter, SortColumn
from salon.web import cookies
from salon.web.api import share_view
from salon.web.api.chats import chat_json
from salon.web.api.models import Body
from salon.web.deps import (
    Ctx,
    CurrentUser,
    OptionalPrincipal,
    check_same_origin,
    client_key,
)
from salon.web.downloads import DOWNLOAD_HEADERS, content_disposition, file_response
from salon.web.share_grants import grant_from, hand_out

router = APIRouter(prefix="/api/v1/chats", tags=["shares"])
khoj_router = APIRouter(prefix="/api/chat/share", tags=["shares"])

UNLOCK_HEADER = "x-share-unlock"
VIEW_HEADERS = {"Cache-Control": "no-store"}


class ShareOptions(Body):
    """Every option is optional; only the fields sent are changed."""

    share_id: str = Field(default="", max_length=1000)
    visibility: rules.Visibility = Field(
        default="public", description="Who may open the link: anyone (public), logged-in "
        "users (private), or you alone (only_me: the link is revoked for everyone else and "
        "answers 404; sharing again gives a new link).")
    is_public: bool = Field(default=True, description="The older form of visibility: true is "
                            "public, false is private.")
    password: str | None = Field(default=None, max_length=rules.MAX_SHARE_PASSWORD_CHARS)
    current_password: str | None = Field(default=None, max_length=1000)
    live: bool = False
    display_username: bool = False
    allow_cloning: bool = True
    expires_at: str | None = Field(default=None, max_length=64)
    expires_in: int | None = Field(default=None, ge=1, le=rules.MAX_EXPIRES_IN)
    max_views: int = Field(default=0, ge=0, le=MAX_LIMIT)
    max_clones: int = Field(default=0, ge=0, le=MAX_LIMIT)
    allow_view_after_clone_limit: bool = False
    upto_message_id: str | None = Field(default=None, max_length=64)
    update_snapshot: bool = False


class VerifyBody(Body):
    password: str = Field(max_length=1000)


class BulkBody(Body):
    action: Literal["revoke", "reset_stats"]
    chat_ids: list[str] = Field(max_length=share_service.BULK_MAX_IDS)


def _confirm(action: str) -> Any:
    """The confirmation word ``action`` needs (the service refuses any other with
    CONFIRMATION_REQUIRED)."""
    return Field(max_length=32, json_schema_extra={"enum": [share_service.CONFIRM_WORDS[action]]})


class RevokeAllBody(Body):
    confirm: str = _confirm("revoke_all")


class ResetAllBody(Body):
    confirm: str = _confirm("reset_all")


class ClearRevokedBody(Body):
    confirm: str = _confirm("clear_revoked")


class KhojShareBody(Body):
    conversation_id: str = Field(max_length=64)


class KhojForkBody(Body):
    public_conversation_slug: str = Field(max_length=1000)


# --- shaping ---------------------------------------------------------------------------------

def base_url(request: Request, ctx: AppContext) -> str:
    return (ctx.settings.base_url or str(request.base_url)).rstrip("/")


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def share_json(share: Share, *, request: Request, ctx: AppContext) -> dict[str, Any]:
    """The owner's view of a share: every option, the counters, the status and the sentence.
    Never the password or its hash."""
    return {
        "id": share.share_id,  # what Open WebUI's client builds /s/{id} from
        "share_id": share.share_id,
        "url": f"{base_url(request, ctx)}/s/{share.share_id}",
        "chat_id": share.conversation_id,
        "title": share.title,
        "is_public": share.is_public,
        "visibility": share.visibility,
        "has_password": share.has_password,
        "type": share.type,
        "live": share.live,
        "display_username": share.display_username,
        "allow_cloning": share.allow_cloning,
        "expires_at": iso(share.expires_at),
        "max_views": share.max_views or 0,
        "max_clones": share.max_clones or 0,
        "allow_view_after_clone_limit": share.allow_view_after_clone_limit,
        "upto_message_id": share.upto_message_id,
        "views": share.views,
        "clones": share.clones,
        "status": rules.share_status(share, now=ctx.now()),
        "created_at": iso(share.created_at),
        "updated_at": iso(share.updated_at),
        "expiry_summary": rules.expiry_summary(
            expires_at=share.expires_at, max_views=share.max_views,
            max_clones=share.max_clones,
            allow_view_after_clone_limit=share.allow_view_after_clone_limit),
    }


def unlock_from(request: Request, share_id: str) -> str | None:
    return (request.headers.get(UNLOCK_HEADER)
            or request.cookies.get(viewing.unlock_cookie_name(share_id)))


def viewer_keys(request: Request, principal: OptionalPrincipal, link: str) -> dict[str, Any]:
    """What a viewer's request carries for a side path of a share (files, ZIP, live messages):
    who they are, their unlock and view grant for ``link``, and their address."""
    return {"viewer": principal.user if principal else None,
            "unlock": unlock_from(request, link), "grant": grant_from(request),
            "client": client_key(request)}


# What ``parse_bound`` reads: a date or an ISO 8601 time.
DATE_BOUND: JsonDict = {"anyOf": [{"type": "string", "format": "date"},
                        {"type": "string", "format": "date-time", "maxLength": 40}]}


def parse_bound(value: str | None, *, field: str, end: bool = False) -> datetime | None:
    """A dashboard date bound: ``2026-01-31`` (whole day; ``end`` includes it) or a full ISO
    time (naive means UTC)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if end and day == date.max:  # the day after 9999-12-31 does not exist
                return datetime.max.replace(tzinfo=UTC)
            moment = datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a date (2026-01-31) or an ISO 8601 time.",
                           field=field) from None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:  # its zone moves it past either end of the calendar: clamp to it
        return (datetime.max if moment.year == MAXYEAR else datetime.min).replace(tzinfo=UTC)


# --- viewing ---------------------------------------------------------------------------------

@router.get("/share/{share_id}", responses=share_view.VIEW_RESPONSES)
async def get_shared_chat(share_id: str, request: Request, principal: OptionalPrincipal,
                          ctx: Ctx) -> Any:
    """The shared chat as this viewer may see it (spends one view unless you are the owner,
    and hands out that view's grant: cookie and ``X-Share-Grant``). It carries an ``ETag``
    (``If-None-Match`` gets a 304) and is gzipped when ``Accept-Encoding`` allows it."""
    return await answer_view(share_id, request, principal, ctx, head=False)


@router.head("/share/{share_id}", include_in_schema=False)
async def head_shared_chat(share_id: str, request: Request, principal: OptionalPrincipal,
                           ctx: Ctx) -> Response:
    """The same status and headers as GET without the content; never spends a view."""
    return await answer_view(share_id, request, principal, ctx, head=True)


async def answer_view(share_id: str, request: Request, principal: OptionalPrincipal,
                      ctx: AppContext, *, head: bool) -> Response:
    viewer = principal.user if principal else None
    admission = await viewing.admit(ctx, share_id, viewer=viewer,
                                    unlock=unlock_from(request, share_id), count=not head,
                                    client=client_key(request))
    body = await share_view.view_body(ctx, admission, viewer=viewer,
                                      base=base_url(request, ctx))
    response = share_view.view_response(request, body, head=head)
    hand_out(response, request, ctx.settings, admission.share.share_id, admission.grant)
    return response


@router.post("/share/{share_id}/verify")
async def verify_share_password(share_id: str, body: VerifyBody, request: Request,
                                response: Response, principal: OptionalPrincipal,
                                ctx: Ctx) -> Any:
    """Unlock a password-protected share: an HttpOnly cookie for browsers, and the token for
    API clients to send as ``X-Share-Unlock``. Wrong passwords are rate limited."""
    check_same_origin(request)
    share, token = await viewing.verify_share_password(
        ctx, share_id, body.password, viewer=principal.user if principal else None,
        client=client_key(request))
    cookies.set_share_cookie(response, request, ctx.settings,
                             viewing.unlock_cookie_name(share.share_id), token,
                             max_age=int(viewing.UNLOCK_TTL.total_seconds()))
    response.headers.update(VIEW_HEADERS)
    return {"status": "ok", "share_id": share.share_id, "token": token}


@router.get("/share/{share_id}/files.zip")
async def download_share_files(share_id: str, request: Request, principal: OptionalPrincipal,
                               ctx: Ctx) -> Any:
    """Every file of the shared messages as one ZIP (free with the view's grant, else a
    view)."""
    archive = await share_files.build_share_zip(
        ctx, share_id, **viewer_keys(request, principal, share_id))
    response = FileResponse(
        archive.path, media_type="application/zip",
        background=BackgroundTask(archive.path.unlink),
        headers={"Content-Disposition": content_disposition(archive.name, inline=False),
                 **DOWNLOAD_HEADERS, "Cache-Control": "no-store"})
    hand_out(response, request, ctx.settings, share_id, archive.grant)
    return response


@router.get("/share/{share_id}/files/{index}")
async def download_share_file(share_id: str, index: int, request: Request,
                              principal: OptionalPrincipal, ctx: Ctx) -> Any:
    """One file of the shared messages, by its position in the share's ``files`` (free with
    the view's grant, else a view)."""
    found = await share_files.get_share_file(
        ctx, share_id, index, **viewer_keys(request, principal, share_id))
    response = file_response(found.data, name=found.file.name,
                             media_type=found.file.media_type, force_download=True,
                             cache_control="no-store")
    hand_out(response, request, ctx.settings, share_id, found.grant)
    return response


@router.post("/{share_id}/clone/shared")
async def clone_shared_chat(share_id: str, request: Request, user: CurrentUser,
                            ctx: Ctx) -> Any:
    """Copy the shared chat into a new chat of yours (spends a clone, and a view unless you
    send the grant of one as ``X-Share-Grant``)."""
    conv = await cloning.clone_share(ctx, user, share_id, unlock=unlock_from(request, share_id),
                                     grant=grant_from(request), client=client_key(request))
    conv, messages = await conv_service.get_history(ctx, user, conv.id)
    return chat_json(conv, messages)


# --- the dashboard ---------------------------------------------------------------------------

@router.get("/shared")
async def list_shared_chats(
    request: Request, user: CurrentUser, ctx: Ctx,
    page: int = Query(default=1, ge=1, le=1_000_000),
    page_size: int = Query(default=20, ge=1, le=100),
    query: str | None = Query(default=None, max_length=200),
    start: str | None = Query(default=None, max_length=40, json_schema_extra=DATE_BOUND),
    end: str | None = Query(default=None, max_length=40, json_schema_extra=DATE_BOUND),
    visibility: rules.Visibility | None = None,
    password: bool | None = None,
    status: Literal["active", "expired", "revoked"] | None = None,
    type: Literal["snapshot", "live"] | None = None,
    order_by: SortColumn = "created_at",
    direction: Literal["asc", "desc"] = "desc",
) -> Any:
    """Your shares, filtered, sorted and paginated (all in SQL)."""
    f = ShareFilter(query=query.strip() if query else None,
                    start=parse_bound(start, field="start"),
                    end=parse_bound(end, field="end", end=True), visibility=visibility,
                    password=password, status=status, type=type, order_by=order_by,
                    direction=direction, page=page, page_size=page_size)
    items, total = await share_service.list_shares(ctx, user, f)
    return {"items": [share_json(s, request=request, ctx=ctx) for s in items],
            "total": total, "page": page, "page_size": page_size}


@router.get("/shared/meta")
async def shared_chats_meta(user: CurrentUser, ctx: Ctx) -> Any:
    """Totals by status and type, and the id, title and status of every share."""
    return await share_service.shares_meta(ctx, user)


@router.post("/shared/bulk")
async def bulk_shared_action(body: BulkBody, user: CurrentUser, ctx: Ctx) -> Any:
    changed = await share_service.bulk_action(ctx, user, action=body.action,
                                              chat_ids=body.chat_ids)
    return {"status": "ok", "action": body.action, "updated": changed}


@router.delete("/shared/all")
async def revoke_all_shares(body: RevokeAllBody, user: CurrentUser, ctx: Ctx) -> Any:
    """Revoke every link of yours (type "REVOKE" to confirm)."""
    return {"status": "ok", "revoked": await share_service.revoke_all(ctx, user,
                                                                      confirm=body.confirm)}


@router.post("/shared/all/reset_stats")
async def reset_all_share_stats(body: ResetAllBody, user: CurrentUser, ctx: Ctx) -> Any:
    """Views and clones of every share back to zero (type "RESET" to confirm)."""
    return {"status": "ok", "reset": await share_service.reset_all_stats(ctx, user,
                                                                         confirm=body.confirm)}


@router.delete("/shared/revoked")
async def clear_revoked_shares(body: ClearRevokedBody, user: CurrentUser, ctx: Ctx) -> Any:
    """Delete every revoked share: links answer NOT_FOUND, chats become unshared (type
    "CLEAR" to confirm)."""
    return {"status": "ok", "cleared": await share_service.clear_revoked(ctx, user,
                                                                         confirm=body.confirm)}


# --- one chat's share ------------------------------------------------------------------------

@router.post("/{chat_id}/share", responses={
    409: {"description": "Conflict: the chat has no messages to share yet (EMPTY_CONVERSATION), "
          "a custom link is taken (SHARE_ID_TAKEN), or the chat was shared at the same moment "
          "(SHARE_CONFLICT)"}})
async def share_chat(chat_id: str, request: Request, user: CurrentUser, ctx: Ctx,
                     body: ShareOptions | None = None) -> Any:
    """Create the chat's share, or change the options you send (sharing again keeps the
    link, except after "only me", which revoked it). A chat without messages cannot be shared
    (409 EMPTY_CONVERSATION). Sharing again after the link was revoked by hand (deleted, in
    Open WebUI's words) makes a new link. No body at all is Open WebUI's "Copy Link" /
    "Update and Copy Link": create the share, or take a new snapshot of a shared one."""
    changes = ({name: getattr(body, name) for name in body.model_fields_set}
               if body is not None else {"update_snapshot": True})
    share = await share_service.save_share(ctx, user, chat_id, changes)
    return share_json(share, request=request, ctx=ctx)


@router.get("/{chat_id}/share")
async def get_chat_share(chat_id: str, request: Request, user: CurrentUser, ctx: Ctx) -> Any:
    """The chat's share and its settings (404 SHARE_NOT_FOUND when it is not shared)."""
    share = await share_service.get_own_share(ctx, user, chat_id)
    return share_json(share, request=request, ctx=ctx)


@router.delete("/{chat_id}/share")
async def revoke_chat_share(chat_id: str, request: Request, user: CurrentUser,
                            ctx: Ctx) -> Any:
    share = await share_service.revoke_share(ctx, user, chat_id)
    return share_json(share, request=request, ctx=ctx)


@router.post("/{chat_id}/share/restore")
async def restore_chat_share(chat_id: str, request: Request, user: CurrentUser,
                             ctx: Ctx) -> Any:
    share = await share_service.restore_share(ctx, user, chat_id)
    return share_json(share, request=request, ctx=ctx)


@router.post("/{chat_id}/share/rotate")
async def rotate_chat_share(chat_id: str, request: Request, user: CurrentUser,
                            ctx: Ctx) -> Any:
    share = await share_service.rotate_share(ctx, user, chat_id)
    return share_json(share, request=request, ctx=ctx)


@router.post("/{chat_id}/reset_stats")
async def reset_chat_share_stats(chat_id: str, request: Request, user: CurrentUser,
                                 ctx: Ctx) -> Any:
    share = await share_service.reset_share_stats(ctx, user, chat_id)
    return share_json(share, request=request, ctx=ctx)


# --- Khoj's shapes ---------------------------------------------------------------------------

@khoj_router.post("")
async def khoj_share(body: KhojShareBody, request: Request, user: CurrentUser,
                     ctx: Ctx) -> Any:
    """Share a conversation (or bring its revoked link back) and return the link."""
    share = await share_service.share_or_restore(ctx, user, body.conversation_id)
    return {"status": "ok", "url": share_json(share, request=request, ctx=ctx)["url"]}


@khoj_router.post("/fork")
async def khoj_fork(body: KhojForkBody, request: Request, user: CurrentUser,
                    ctx: Ctx) -> Any:
    """Copy a shared conversation into a new conversation of yours (spent like a clone)."""
    link = body.public_conversation_slug
    conv = await cloning.clone_share(ctx, user, link, unlock=unlock_from(request, link),
                                     grant=grant_from(request), client=client_key(request))
    return {"status": "ok", "conversation_id": conv.id,
            "next_url": f"/c/{conv.id}"}  # the chat page of the copy


@khoj_router.delete("")
async def khoj_unshare(user: CurrentUser, ctx: Ctx,
                       public_conversation_slug: str = Query(max_length=1000)) -> Any:
    """Revoke a share by its link."""
    await share_service.revoke_by_link(ctx, user, public_conversation_slug)
    return {"status": "ok"}
