"""Who is on a page: anonymous visitors are sent to log in (or to sign up on a fresh server),
and form posts prove they come from our pages with the session's CSRF token."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Form, Request
from fastapi.responses import Response

from salon.domain.errors import Unauthenticated
from salon.services import auth
from salon.services.auth import Principal
from salon.services.context import AppContext
from salon.web.deps import check_csrf
from salon.web.pages.render import login_url, redirect

MAX_NEXT_CHARS = 2000
# A short form field (names, emails, passwords, CSRF tokens).
FormText = Annotated[str, Form(max_length=1000)]


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this site (one leading "/", no scheme, no host, no
    backslash or control character), else "/"."""
    if not value or len(value) > MAX_NEXT_CHARS or not value.startswith("/"):
        return "/"
    if value.startswith("//") or "\\" in value or any(ord(ch) < 33 for ch in value):
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


async def to_login(ctx: AppContext, request: Request) -> Response:
    """Where an anonymous visitor goes: sign-up on a fresh server, else log-in and back."""
    if not await auth.has_users(ctx):
        return redirect("/signup")
    return redirect(login_url(request))


def with_next(path: str, next_url: str) -> str:
    return path if next_url == "/" else f"{path}?next={quote(next_url, safe='')}"


def form_principal(request: Request, principal: Principal | None, csrf_token: str) -> Principal:
    """The signed-in caller of a form post, once the form's CSRF token checks out."""
    if principal is None:
        raise Unauthenticated()
    check_csrf(request, principal, form_token=csrf_token)
    return principal
