"""The hot path for viral links: an anonymous ``GET /s/{id}`` of a snapshot page already rendered.

DESIGN ("The hot path: opening a share"): one read of the share row, the same domain decision
as every other request, the view added to the batch (the share has no view limit) with its view
grant (the same token for a minute, so it is signed once), and the cached bytes with this
response's CSP nonce put in. It runs in front of the framework (no routing, no dependency
injection, no template), and answers exactly what ``share_page`` would: same status, body and
headers. Anything else (a client locked out for trying unknown links, a session or bearer
token, a preview bot, a query string, a password, a view limit, a live share, a refusal, a page
not rendered yet) goes on to the app unchanged, which renders and caches the page for the next
viewer.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from salon.services import share_grants as grants
from salon.services import share_viewing as viewing
from salon.services.context import AppContext
from salon.web.deps import SESSION_COOKIE
from salon.web.middleware import security_headers
from salon.web.pages.share_cache import PageBytes, etag_matches, is_cacheable, page_key
from salon.web.pages.share_page import PREVIEW_AGENTS
from salon.web.share_grants import grant_headers

PREFIX = "/s/"
SESSION_MARK = SESSION_COOKIE.encode() + b"="


class ShareFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "GET"
                and scope["path"].startswith(PREFIX) and not scope.get("query_string")):
            link = scope["path"][len(PREFIX):]
            if link and "/" not in link and await self._serve(scope, link, send):
                return
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, link: str, send: Send) -> bool:
        """Answer from the cache and return True, or return False having sent nothing."""
        if_none_match = _anonymous_browser(scope["headers"])
        if if_none_match is None:
            return False
        ctx: AppContext | None = getattr(scope["app"].state, "ctx", None)
        if ctx is None:
            return False
        client = scope.get("client")
        admission = await viewing.admit_anonymous(ctx, link,
                                                  client=client[0] if client else "unknown")
        if admission is None or admission.share.live:
            return False
        share = admission.share
        if not is_cacheable(share):
            return False
        page: PageBytes | None = ctx.share_page_cache.get(page_key(ctx, share))
        if page is None:
            return False
        viewing.spend_batched_view(ctx, share)
        nonce = secrets.token_urlsafe(16)
        secure = ctx.settings.cookie_secure or scope.get("scheme") == "https"  # cookies.is_secure
        grant = _grant_bytes(share.share_id, grants.view_grant(ctx, share), secure)
        headers = [(b"cache-control", b"no-cache"), (b"etag", page.etag.encode()),
                   (b"vary", b"Cookie"), *grant, *security_headers(nonce, shared=True)]
        if etag_matches(if_none_match, page.etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return True
        body = page.with_nonce(nonce)
        headers += [(b"content-length", str(len(body)).encode()),
                    (b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True


@lru_cache(maxsize=1024)
def _grant_bytes(link: str, grant: str, secure: bool) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.encode(), value.encode())
                 for name, value in grant_headers(link, grant, secure=secure))


def _anonymous_browser(headers: Any) -> str | None:
    """The If-None-Match value ("" when absent) for a request that the cached page answers:
    no session, no bearer token, not a link-preview bot or a prefetch. None otherwise."""
    if_none_match = ""
    for name, value in headers:
        if name == b"authorization":
            return None
        if name == b"cookie" and SESSION_MARK in value:
            return None
        if name == b"user-agent" and PREVIEW_AGENTS.search(value.decode("latin-1")):
            return None
        if name in (b"sec-purpose", b"purpose"):
            lowered = value.lower()
            if b"prefetch" in lowered or b"prerender" in lowered:
                return None
        if name == b"if-none-match":
            if_none_match = value.decode("latin-1")
    return if_none_match
