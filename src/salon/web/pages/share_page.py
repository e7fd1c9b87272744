"""The share viewer page ``/s/{share_id}`` and the old link shapes that redirect to it.

Every request goes through ``share_viewing``'s one access decision, which also spends the view,
exactly as ``GET /api/v1/chats/share/{id}`` does. Then:

- A link-preview bot or a browser prefetch gets a small title card and spends no view (the
  title only when anyone may open the link; a generic one behind a login or a password).
- An anonymous viewer of a snapshot gets page bytes rendered once per (share, link, content
  version, clone offer) and kept on the context; only the CSP nonce is put in per response.
- Public, password-less shares seen anonymously are ``no-cache`` with an ``ETag``; a matching
  ``If-None-Match`` is a 304, but only after the decision (a revoked link is dead at the next
  request) and it counts the view (the content was granted). Everything else is ``no-store``.

Every delivery to anyone but the owner hands out that view's grant (``web.share_grants``).
Pages are rendered on the render pool (``services.render_pool``, ``web.pages.share_render``),
never on the event loop; when the pool is full the page is ``503 SERVER_BUSY``, refused before
the view is spent.

"Clone chat" for an anonymous viewer is a form (``clone_submit``): same origin, with the page's
clone-press token; it leaves a signed clone intent cookie (``/s/{id}`` only, HttpOnly,
SameSite=Lax) and goes to log in, coming back to the plain page. That page then asks "Clone
this chat into your account?" once; only the signed-in viewer's press on it clones. A query
string never clones.

The privacy headers (noindex, no-referrer, CSP, nosniff) come from the security middleware for
every path under ``/s/``, ``/share/`` and ``/shared/``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from salon.domain import shares as rules
from salon.domain.errors import Overloaded, RateLimited, SalonError
from salon.domain.shares import Share
from salon.render.parts import human_size
from salon.services import share_cloning as cloning
from salon.services import share_grants as grants
from salon.services import share_viewing as viewing
from salon.services.context import AppContext
from salon.services.share_viewing import Admission, SharedView
from salon.web import cookies
from salon.web.api.shares import unlock_from
from salon.web.cookies import is_secure
from salon.web.deps import Ctx, OptionalPrincipal, check_same_origin, client_key
from salon.web.errors import status_for
from salon.web.pages.access import FormText, form_principal
from salon.web.pages.error_text import error_context, seems_signed_in
from salon.web.pages.render import page_values, redirect, render
from salon.web.pages.share_cache import (
    PageBytes,
    cached_headers,
    etag_matches,
    is_cacheable,
    page_key,
    render_anonymous,
    with_nonce,
)
from salon.web.pages.share_render import files_url, share_page_html
from salon.web.share_grants import grant_from, hand_out
from salon.web.single_flight import SingleFlight

router = APIRouter()

GENERIC_TITLE = "Shared chat on Salon"
INTENT_COOKIE = "salon_clone_intent"
NO_STORE = {"Cache-Control": "no-store", "Vary": "Cookie"}
RENDERS: SingleFlight[tuple[Any, ...], PageBytes] = SingleFlight()
PREVIEW_AGENTS = re.compile(
    r"facebookexternalhit|facebot|twitterbot|slackbot|slack-imgproxy|discordbot|telegrambot"
    r"|whatsapp|linkedinbot|skypeuripreview|iframely|embedly|redditbot|mastodon|pleroma"
    r"|misskey|bluesky|cardyb|vkshare|pinterest|tumblr|snapchat|viber|line-poker|kakaotalk"
    r"|googlebot|google-inspectiontool|bingbot|applebot|duckduckbot|yandex|baiduspider"
    r"|synapse|matrix|onebox|opengraph|preview",
    re.IGNORECASE,
)


# --- who is asking -----------------------------------------------------------------------------

def is_preview(request: Request) -> bool:
    """A link-preview bot, a crawler or a browser prefetch: it gets the title card."""
    purpose = (request.headers.get("sec-purpose", "") + request.headers.get("purpose", "")).lower()
    if "prefetch" in purpose or "prerender" in purpose:
        return True
    return bool(PREVIEW_AGENTS.search(request.headers.get("user-agent", "")))


def share_path(link: str) -> str:
    return f"/s/{quote(link, safe='')}"


def login_to(link: str, *, reason: str = "share") -> str:
    """The login page, coming back to the share; ``reason`` (a key of the login page's
    ``LOGIN_REASONS``) picks the sentence it shows above the form."""
    return f"/login?next={quote(share_path(link), safe='')}&reason={reason}"


# --- what the page shows -----------------------------------------------------------------------

@dataclass(frozen=True)
class SharedFileRow:
    name: str
    url: str
    size: str
    media_type: str


def file_rows(view: SharedView) -> list[SharedFileRow]:
    files = files_url(view.share.share_id)
    return [SharedFileRow(name=f.name, url=f"{files}/{i}", size=human_size(f.size),
                          media_type=f.media_type) for i, f in enumerate(view.files)]


def recipe_rows(view: SharedView) -> list[tuple[str, str]] | None:
    """The "Chat recipe": the models the answers came from and the chat's parameters; None
    when the viewer may not see it (anonymous)."""
    if view.recipe is None:
        return None
    models = sorted({str(m["model"]) for m in view.messages if m.get("model")})
    same = models == [str(view.recipe.get("model"))]
    rows = [("Models used", ", ".join(models))] if models and not same else []
    for key, value in sorted(view.recipe.items()):
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                               sort_keys=True, default=str)
        rows.append((key.replace("_", " ").capitalize(), text))
    return rows


def preview_title(share: Share, title: str) -> str:
    """What link-preview tags may say: the title only for a share anyone may open."""
    return title if share.is_public and not share.has_password else GENERIC_TITLE


def page_context(
    view: SharedView, *, clone: str | None, clone_refused: bool = False,
    clone_press: str | None = None,
) -> dict[str, Any]:
    """The page's values but its messages (``share_render`` renders them on a render thread).
    ``clone``: "form" (a signed-in viewer's Clone button), "confirm" (the same, asked as a
    question after logging in to clone), "login" (an anonymous viewer's, with the page's
    ``clone_press`` token) or None."""
    link = view.share.share_id
    return {
        "title": view.title, "og_title": preview_title(view.share, view.title),
        "link": link, "path": share_path(link), "live": view.share.live,
        "created_at": view.created_at, "owner_name": view.owner_name,
        "files": file_rows(view),
        "message_count": len(view.messages),
        "zip_url": f"/api/v1/chats/share/{quote(link, safe='')}/files.zip",
        "recipe": recipe_rows(view), "clone": clone, "clone_refused": clone_refused,
        "clone_press": clone_press,
    }


# --- responses ---------------------------------------------------------------------------------

async def anonymous_page(request: Request, ctx: AppContext, admission: Admission) -> Response:
    """For a snapshot, cached bytes; 304 when the browser has them (``ShareFastPath`` serves
    the same answer for the common case without going through the framework)."""
    share = admission.share
    key = page_key(ctx, share)
    offer = key[-1]

    async def render_page() -> PageBytes:
        view = await viewing.view_admitted(ctx, admission, viewer=None)
        context = page_context(view, clone="login" if offer else None,
                               clone_press=grants.clone_press(ctx, share) if offer else None)
        page = await ctx.renders.run(
            partial(render_anonymous, ctx.message_cache, context, view.messages))
        if not share.live:
            ctx.share_page_cache.put(key, page, size=page.size)
        return page

    page: PageBytes | None = None if share.live else ctx.share_page_cache.get(key)
    if page is None:
        # Viewers opening a new link at once wait for one render, not one each.
        page = await (render_page() if share.live else RENDERS.run(key, render_page))
    response: Response
    if not is_cacheable(share):
        response = Response(with_nonce(request, page), media_type="text/html; charset=utf-8",
                            headers=NO_STORE)
    elif etag_matches(request.headers.get("if-none-match"), page.etag):
        response = Response(status_code=304, headers=cached_headers(page))
    else:
        response = Response(with_nonce(request, page), media_type="text/html; charset=utf-8",
                            headers=cached_headers(page))
    hand_out(response, request, ctx.settings, share.share_id, admission.grant)
    return response


async def signed_in_page(
    request: Request, ctx: AppContext, admission: Admission, principal: Any
) -> Response:
    """A logged-in viewer's (or the owner's) page: their name, the recipe, the clone form.
    Never stored by the browser (it holds the session's CSRF token). Coming back from logging
    in to clone (a valid clone intent), the clone form is asked as a question, once."""
    view = await viewing.view_admitted(ctx, admission, viewer=principal.user)
    intent = request.cookies.get(INTENT_COOKIE)
    intended = cloning.clone_intended(ctx, admission.share, intent)
    clone = ("confirm" if intended else "form") if view.can_clone else None
    values = {**page_values(request),
              **page_context(view, clone=clone, clone_refused=intended and not view.can_clone)}
    html = await ctx.renders.run(partial(share_page_html, ctx.message_cache, values,
                                         view.messages))
    response: Response = HTMLResponse(html, headers=NO_STORE)
    if intent is not None:
        forget_intent(response, admission.share.share_id)
    hand_out(response, request, ctx.settings, admission.share.share_id, admission.grant)
    return response


def forget_intent(response: Response, link: str) -> None:
    response.delete_cookie(INTENT_COOKIE, path=share_path(link))


def password_page(
    request: Request, link: str, *, status: int = 401, error: str | None = None,
    retry_after: int | None = None,
) -> Response:
    headers = dict(NO_STORE)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return render(request, "share_password.html", status=status, headers=headers,
                  title="Password required", og_title=GENERIC_TITLE, path=share_path(link),
                  detail=rules.PASSWORD_REQUIRED_DETAIL, error=error)


def refusal_page(request: Request, link: str, exc: SalonError) -> Response:
    """Why this viewer cannot see the share, in the spec's words and the API's status; a
    login first when one is needed, the password form when a password is."""
    if exc.code == "LOGIN_REQUIRED":
        response: Response = redirect(login_to(link))
        response.headers.update(NO_STORE)
        return response
    if exc.code == "PASSWORD_REQUIRED":
        return password_page(request, link)
    status = status_for(exc)
    headers = dict(NO_STORE)
    if "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    return render(request, "share_error.html", status=status, headers=headers,
                  og_title=GENERIC_TITLE,
                  **error_context(status=status, code=exc.code, detail=exc.detail,
                                  signed_in=seems_signed_in(request)))


def preview_card(request: Request, link: str, title: str | None) -> Response:
    return render(request, "share_card.html", headers=NO_STORE, title=title or GENERIC_TITLE,
                  og_title=title or GENERIC_TITLE, path=share_path(link))


# --- routes ------------------------------------------------------------------------------------

@router.get("/s/{share_id}")
async def share_page(
    share_id: str, request: Request, ctx: Ctx, principal: OptionalPrincipal
) -> Response:
    """The shared chat, for whoever may see it (spends a view unless you are the owner)."""
    try:
        if is_preview(request):
            return preview_card(request, share_id, await viewing.preview_title(
                ctx, share_id, client=client_key(request)))
        viewer = principal.user if principal else None
        ctx.renders.refuse_if_full()  # before the view is spent
        admission = await viewing.admit(ctx, share_id, viewer=viewer,
                                        unlock=unlock_from(request, share_id),
                                        client=client_key(request))
    except SalonError as exc:
        return refusal_page(request, share_id, exc)
    try:
        if principal is None:
            return await anonymous_page(request, ctx, admission)
        return await signed_in_page(request, ctx, admission, principal)
    except Overloaded as exc:  # too many pages being rendered (services.render_pool)
        return refusal_page(request, share_id, exc)


@router.head("/s/{share_id}")
async def share_page_head(
    share_id: str, request: Request, ctx: Ctx, principal: OptionalPrincipal
) -> Response:
    """The page's status and caching headers, without content and without spending a view."""
    try:
        admission = await viewing.admit(ctx, share_id,
                                        viewer=principal.user if principal else None,
                                        unlock=unlock_from(request, share_id), count=False,
                                        client=client_key(request))
    except SalonError as exc:
        refused = refusal_page(request, share_id, exc)
        return Response(status_code=refused.status_code, headers=_head_headers(refused))
    cacheable = principal is None and is_cacheable(admission.share)
    headers = {"Cache-Control": "no-cache", "Vary": "Cookie"} if cacheable else NO_STORE
    return Response(headers=headers, media_type="text/html; charset=utf-8")


def _head_headers(response: Response) -> dict[str, str]:
    keep = ("cache-control", "location", "retry-after", "vary")
    return {k: v for k, v in response.headers.items() if k in keep}


@router.post("/s/{share_id}/unlock")
async def unlock_submit(
    share_id: str, request: Request, ctx: Ctx, principal: OptionalPrincipal,
    password: FormText = "",
) -> Response:
    """The password form: on success the same per-share unlock cookie as the API's verify,
    then back to the page; a wrong password or a lockout is said on the form."""
    try:
        check_same_origin(request)
        share, token = await viewing.verify_share_password(
            ctx, share_id, password, viewer=principal.user if principal else None,
            client=client_key(request))
    except RateLimited as exc:
        return password_page(request, share_id, status=429, error=exc.detail,
                             retry_after=exc.extra.get("retry_after"))
    except SalonError as exc:
        if exc.code == "INVALID_PASSWORD":
            return password_page(request, share_id, error=exc.detail)
        return refusal_page(request, share_id, exc)
    response = redirect(share_path(share.share_id))
    cookies.set_share_cookie(response, request, ctx.settings,
                             viewing.unlock_cookie_name(share.share_id), token,
                             max_age=int(viewing.UNLOCK_TTL.total_seconds()))
    response.headers.update(NO_STORE)
    return response


@router.post("/s/{share_id}/clone")
async def clone_submit(
    share_id: str, request: Request, ctx: Ctx, principal: OptionalPrincipal,
    csrf_token: FormText = "", press: FormText = "",
) -> Response:
    """"Clone chat": copy the share into a new chat of the viewer's and open it (a clone, and
    a view unless the viewer holds this view's grant). An anonymous viewer's press (same
    origin, the page's ``press`` token) is remembered in a clone intent cookie while they log
    in; nothing else is."""
    if principal is None:
        return await _press_clone(request, ctx, share_id, press)
    try:
        form_principal(request, principal, csrf_token)
        conv = await cloning.clone_share(ctx, principal.user, share_id,
                                         unlock=unlock_from(request, share_id),
                                         grant=grant_from(request), client=client_key(request))
    except SalonError as exc:
        return refusal_page(request, share_id, exc)
    response = redirect(f"/c/{quote(conv.id, safe='')}")
    forget_intent(response, share_id)
    return response


async def _press_clone(request: Request, ctx: AppContext, share_id: str, press: str) -> Response:
    try:
        check_same_origin(request)
        share, intent = await cloning.press_clone(
            ctx, share_id, press, unlock=unlock_from(request, share_id),
            grant=grant_from(request), client=client_key(request))
    except SalonError as exc:
        return refusal_page(request, share_id, exc)
    response = redirect(login_to(share.share_id, reason="clone"))
    response.headers.update(NO_STORE)
    response.set_cookie(INTENT_COOKIE, intent, max_age=int(grants.INTENT_TTL.total_seconds()),
                        httponly=True, samesite="lax", secure=is_secure(request, ctx.settings),
                        path=share_path(share.share_id))
    return response


def _legacy_redirect(share_id: str, request: Request) -> Response:
    """Old link shapes: permanently to the canonical ``/s/{id}`` (query kept)."""
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(share_path(share_id) + query, status_code=308, headers=NO_STORE)


@router.api_route("/share/chat/{share_id}", methods=["GET", "HEAD"])
async def legacy_share_chat(share_id: str, request: Request) -> Response:
    return _legacy_redirect(share_id, request)


@router.api_route("/share/{share_id}", methods=["GET", "HEAD"])
async def legacy_share(share_id: str, request: Request) -> Response:
    return _legacy_redirect(share_id, request)


@router.api_route("/shared/{share_id}", methods=["GET", "HEAD"])
async def legacy_shared(share_id: str, request: Request) -> Response:
    return _legacy_redirect(share_id, request)
