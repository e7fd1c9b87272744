"""Request-scoped dependencies: the app context, who is calling, CSRF protection."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from salon.domain.errors import Forbidden, Unauthenticated
from salon.domain.users import User
from salon.services import auth
from salon.services.auth import Principal
from salon.services.context import AppContext
from salon.web import cookies
from salon.web.cookies import SESSION_COOKIE as SESSION_COOKIE

CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def get_principal(request: Request, ctx: Ctx) -> Principal | None:
    """The caller, from ``Authorization: Bearer`` first, else the session cookie. Cached per
    request. A bearer header that is present but wrong is an error, never a silent fallback."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    principal: Principal | None = None
    token = bearer_token(request)
    if token is not None:
        principal = await auth.authenticate(ctx, token, via_cookie=False)
        if principal is None:
            raise Unauthenticated("The bearer token is invalid or has been revoked.",
                                  code="INVALID_TOKEN")
    elif cookie := cookies.session_token(request):
        principal = await auth.authenticate(ctx, cookie, via_cookie=True)
    request.state.principal = principal
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(get_principal)]


def check_csrf(request: Request, principal: Principal, *, form_token: str | None = None) -> None:
    """Cookie-authenticated writes must prove they come from our pages: same origin, and the
    session's CSRF token in the ``X-CSRF-Token`` header or the form."""
    if not principal.via_cookie or request.method in SAFE_METHODS:
        return
    check_same_origin(request)
    sent = request.headers.get(CSRF_HEADER) or form_token or ""
    if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
        raise Forbidden("Missing or invalid CSRF token. Reload the page and try again.",
                        code="CSRF_FAILED")


def check_same_origin(request: Request) -> None:
    """Refuse a cross-site browser write: Sec-Fetch-Site when the browser sends it (pages with
    a no-referrer policy post with ``Origin: null``), else Origin, else Referer must match our
    host. Clients that send none of them (API tools) are not browsers and pass."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site != "same-origin":
            raise Forbidden("Cross-site request refused.", code="CSRF_FAILED")
        return
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return
    host = request.headers.get("host", "")
    if urlsplit(origin).netloc != host:
        raise Forbidden("Cross-site request refused.", code="CSRF_FAILED")


async def require_principal(request: Request, principal: OptionalPrincipal) -> Principal:
    if principal is None:
        raise Unauthenticated()
    check_csrf(request, principal)
    return principal


async def require_user(principal: Annotated[Principal, Depends(require_principal)]) -> User:
    return principal.user


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
CurrentUser = Annotated[User, Depends(require_user)]


def set_session_cookie(response: Response, request: Request, ctx: AppContext,
                       token: str) -> None:
    """The browser session cookie (``cookies.set_session``: Secure and ``__Host-`` over
    HTTPS)."""
    cookies.set_session(response, request, ctx.settings, token)


def current_session_token(request: Request, principal: Principal) -> str | None:
    """The session token the caller authenticated with (cookie or bearer); None for API
    tokens, which are not sessions."""
    if principal.via_cookie:
        return cookies.session_token(request)
    token = bearer_token(request)
    return None if token is None or token.startswith(auth.API_TOKEN_PREFIX) else token


def client_key(request: Request) -> str:
    """The client address for rate limits: the connection's peer, or the X-Forwarded-For
    address when the peer is one of ``SALON_TRUSTED_PROXIES`` (the app's proxy middleware)."""
    return request.client.host if request.client else "unknown"
