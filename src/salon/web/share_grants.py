"""View grants (``services.share_grants``) over HTTP. Every response that delivers a share's
content to anyone but its owner carries a fresh grant two ways:

- an HttpOnly, SameSite=Lax cookie for browsers (Secure over HTTPS, as ``web.cookies``), set
  once for each of the share's own paths:
  ``/s/{id}`` (the page, its live messages, the clone form) and ``/api/v1/chats/share/{id}``
  (the JSON view, the files, the ZIP), so it travels nowhere else;
- the ``X-Share-Grant`` header, for API clients to send back as ``X-Share-Grant`` (the Clone
  and Khoj fork routes, outside those paths, take the header only).
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote

from fastapi import Request, Response

from salon.config import Settings
from salon.services.share_grants import GRANT_TTL
from salon.web.cookies import is_secure

GRANT_COOKIE = "salon_view"
GRANT_HEADER = "x-share-grant"


def grant_from(request: Request) -> str | None:
    """The grant a request carries: the header first, else the cookie of its path."""
    return request.headers.get(GRANT_HEADER) or request.cookies.get(GRANT_COOKIE)


@lru_cache(maxsize=4096)
def grant_headers(link: str, grant: str, *, secure: bool) -> tuple[tuple[str, str], ...]:
    """The response headers that hand out ``grant`` (the same for the page route and the hot
    path, which sends them as bytes)."""
    link_part = quote(link, safe="")
    tail = f"; HttpOnly; Max-Age={int(GRANT_TTL.total_seconds())}; SameSite=lax"
    tail += "; Secure" if secure else ""
    cookies = tuple(("set-cookie", f"{GRANT_COOKIE}={grant}{tail}; Path={path}")
                    for path in (f"/s/{link_part}", f"/api/v1/chats/share/{link_part}"))
    return (*cookies, (GRANT_HEADER, grant))


def hand_out(
    response: Response, request: Request, settings: Settings, link: str, grant: str | None
) -> None:
    """Put ``grant`` (None: nothing, as for the owner) on the ``response`` to ``request``."""
    if grant is None:
        return
    for name, value in grant_headers(link, grant, secure=is_secure(request, settings)):
        response.headers.append(name, value)
