"""Every cookie's name and flags in one place.

Over HTTPS every cookie Salon sets is ``Secure``: a request is HTTPS when the browser used it
directly or, through a proxy listed in SALON_TRUSTED_PROXIES, when the proxy said so with
``X-Forwarded-Proto`` (uvicorn's ProxyHeadersMiddleware folds that into ``request.url``).
SALON_COOKIE_SECURE forces ``Secure`` on whatever the request says. A secure session cookie
is then named ``__Host-salon_session``: the browser only accepts that name with ``Secure``,
``Path=/`` and no ``Domain``, so neither a plain-HTTP page nor a subdomain can plant or
overwrite a session. Reading accepts both names, so sessions begun over plain HTTP (or before
the prefix) keep working.
"""

from __future__ import annotations

from fastapi import Request, Response

from salon.config import Settings

SESSION_COOKIE = "salon_session"
SECURE_SESSION_COOKIE = "__Host-" + SESSION_COOKIE


def is_secure(request: Request, settings: Settings) -> bool:
    """Whether cookies set in answer to ``request`` get the ``Secure`` flag."""
    return settings.cookie_secure or request.url.scheme == "https"


def session_token(request: Request) -> str | None:
    """The session token the browser sent, under either name."""
    return request.cookies.get(SECURE_SESSION_COOKIE) or request.cookies.get(SESSION_COOKIE)


def set_session(response: Response, request: Request, settings: Settings, token: str) -> None:
    """The browser session: HttpOnly (no script reads it), SameSite=Lax (no cross-site
    writes), Secure and ``__Host-`` over HTTPS."""
    secure = is_secure(request, settings)
    response.set_cookie(SECURE_SESSION_COOKIE if secure else SESSION_COOKIE, token,
                        max_age=settings.session_days * 86400, httponly=True, samesite="lax",
                        secure=secure, path="/")


def clear_session(response: Response, request: Request, settings: Settings) -> None:
    """Sign-out: both names go (a ``__Host-`` cookie is only removed by a Secure answer)."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=is_secure(request, settings))
    if SECURE_SESSION_COOKIE in request.cookies or is_secure(request, settings):
        response.delete_cookie(SECURE_SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                               secure=True)


def set_share_cookie(response: Response, request: Request, settings: Settings, name: str,
                     value: str, *, max_age: int) -> None:
    """A cookie a share's viewer carries (its password unlock): HttpOnly, SameSite=Lax,
    Secure over HTTPS."""
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=is_secure(request, settings), path="/")
