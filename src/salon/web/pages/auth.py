"""Log-in, sign-up and log-out pages: plain forms that work without JavaScript.

After signing in the browser goes to ``next``, but only when it is a path on this site: the
login page must never become an open redirect.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from salon.domain.errors import SalonError
from salon.services import auth
from salon.web import cookies
from salon.web.deps import (
    Ctx,
    OptionalPrincipal,
    check_csrf,
    check_same_origin,
    client_key,
    set_session_cookie,
)
from salon.web.errors import status_for
from salon.web.pages.access import FormText, safe_next, with_next
from salon.web.pages.render import redirect, render

router = APIRouter()

NextField = Annotated[str, Form(alias="next", max_length=2000)]
NextQuery = Annotated[str, Query(alias="next")]
ReasonField = Annotated[str, Form(max_length=20)]
# Why a page sent the visitor to log in (``?reason=``): the sentence shown above the form.
# Only these keys are known; any other value shows nothing (the query is never shown).
LOGIN_REASONS = {
    "share": "Sign in to view this shared chat.",
    "clone": "Sign in to clone this shared chat into your account.",
}


def login_form(
    request: Request, ctx: Ctx, *, target: str, reason: str, status: int = 200, email: str = "",
    error: str | None = None,
) -> Response:
    """The login page; ``reason`` picks the sentence above the form (unknown: none)."""
    known = reason if reason in LOGIN_REASONS else ""
    return render(request, "login.html", status=status, title="Log in", next=target,
                  email=email, error=error, reason=known, reason_text=LOGIN_REASONS.get(known),
                  signup_open=ctx.settings.enable_signup)


@router.get("/login")
async def login_page(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, next_url: NextQuery = "/",
    reason: str = "",
) -> Response:
    target = safe_next(next_url)
    if principal is not None:
        return redirect(target)
    if not await auth.has_users(ctx):
        return redirect(with_next("/signup", target))
    return login_form(request, ctx, target=target, reason=reason)


@router.post("/login")
async def login_submit(
    request: Request, ctx: Ctx, email: FormText = "", password: FormText = "",
    next_url: NextField = "/", reason: ReasonField = "",
) -> Response:
    """Sign in and go on to ``next`` (303). A refusal re-renders the form with the API's
    status; nothing was changed, so a reload that posts it again is harmless."""
    check_same_origin(request)
    target = safe_next(next_url)
    try:
        new = await auth.sign_in(ctx, email=email, password=password, client=client_key(request))
    except SalonError as exc:  # shown on the form, with the status the API would give
        return login_form(request, ctx, target=target, reason=reason, status=status_for(exc),
                          email=email, error=exc.detail)
    return signed_in_redirect(request, ctx, target, new.token)


def signed_in_redirect(request: Request, ctx: Ctx, target: str, token: str) -> Response:
    """Go on to ``target`` with the new session's cookie set."""
    response = redirect(target)
    set_session_cookie(response, request, ctx, token)
    return response


async def signup_form(
    request: Request, ctx: Ctx, *, target: str, status: int = 200, name: str = "",
    email: str = "", error: str | None = None,
) -> Response:
    first = not await auth.has_users(ctx)
    return render(request, "signup.html", status=status, title="Sign up", next=target,
                  name=name, email=email, error=error, first=first,
                  signup_open=first or ctx.settings.enable_signup)


@router.get("/signup")
async def signup_page(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, next_url: NextQuery = "/"
) -> Response:
    target = safe_next(next_url)
    if principal is not None:
        return redirect(target)
    return await signup_form(request, ctx, target=target)


@router.post("/signup")
async def signup_submit(
    request: Request, ctx: Ctx, name: FormText = "", email: FormText = "",
    password: FormText = "", next_url: NextField = "/",
) -> Response:
    check_same_origin(request)
    target = safe_next(next_url)
    try:
        user = await auth.create_user(ctx, email=email, name=name, password=password,
                                      via_signup=True, client=client_key(request))
    except SalonError as exc:
        return await signup_form(request, ctx, target=target, status=status_for(exc), name=name,
                                 email=email, error=exc.detail)
    new = await auth.open_session(ctx, user)
    return signed_in_redirect(request, ctx, target, new.token)


@router.get("/logout")
async def logout_page(request: Request, principal: OptionalPrincipal) -> Response:
    """"Log out?" and a button. Following a link, from this site or any other, never ends a
    session by itself: only the form's POST does, with the session's CSRF token."""
    if principal is None:
        return redirect("/login")
    return render(request, "logout.html", title="Log out")


@router.post("/logout")
async def logout(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, csrf_token: FormText = ""
) -> Response:
    """End this browser's session. Needs the session's CSRF token, so no other site can log
    a visitor out."""
    if principal is None:
        return redirect("/login")
    check_csrf(request, principal, form_token=csrf_token)
    if principal.via_cookie and (token := cookies.session_token(request)):
        await auth.sign_out(ctx, token)
    response = redirect("/login")
    cookies.clear_session(response, request, ctx.settings)
    return response
