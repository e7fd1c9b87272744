"""The hot path for viral links: anonymous GETs of a snapshot already rendered, the page
``GET /s/{id}`` and the JSON ``GET /api/v1/chats/share/{id}`` (and its HEAD).

DESIGN ("The hot path: opening a share"): one read of the share row, the same domain decision
as every other request, the view added to the batch (the share has no view limit) with its view
grant (the same token for a minute, so it is signed once), and the cached bytes: the page with
this response's CSP nonce put in, or the view's JSON (gzipped when asked). It runs in front of
the framework (no routing, no dependency injection, no template), and answers exactly what
``share_page`` or ``get_shared_chat`` would: same status, body and headers. Anything else (a
client locked out for trying unknown links, a session or bearer token, for the page a preview
bot, a query string, a password, a view limit, a live share, a refusal, content not cached yet)
goes on to the app unchanged, which renders and caches the content for the next viewer.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from salon.domain.shares import Share
from salon.services import share_grants as grants
from salon.services import share_viewing as viewing
from salon.services.context import AppContext
from salon.web.api.share_view import MEDIA_TYPE, VIEW_HEADERS, ViewBody, view_key
from salon.web.deps import SESSION_COOKIE
from salon.web.middleware import security_headers
from salon.web.pages.share_cache import PageBytes, etag_matches, is_cacheable, page_key
from salon.web.pages.share_page import PREVIEW_AGENTS
from salon.web.share_grants import grant_headers

PREFIX = "/s/"
API_PREFIX = "/api/v1/chats/share/"
SESSION_MARK = SESSION_COOKIE.encode() + b"="
API_HEADERS = tuple((name.lower().encode(), value.encode())
                    for name, value in VIEW_HEADERS.items())


class ShareFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("query_string"):
            if await self._serve(scope, send):
                return
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, send: Send) -> bool:
        """Answer from the cache and return True, or return False having sent nothing."""
        path, method = scope["path"], scope["method"]
        if method == "GET" and path.startswith(PREFIX):
            link = path[len(PREFIX):]
            return is_link(link) and await serve_page(scope, link, send)
        if method in ("GET", "HEAD") and path.startswith(API_PREFIX):
            link = path[len(API_PREFIX):]
            return is_link(link) and await serve_view(scope, link, send, head=method == "HEAD")
        return False


def is_link(text: str) -> bool:
    return bool(text) and "/" not in text


async def serve_page(scope: Scope, link: str, send: Send) -> bool:
    sent = _anonymous(scope["headers"], page=True)
    admitted = None if sent is None else await _admitted(scope, link)
    if sent is None or admitted is None:
        return False
    ctx, share = admitted
    if not is_cacheable(share):
        return False
    page: PageBytes | None = ctx.share_page_cache.get(page_key(ctx, share))
    if page is None:
        return False
    nonce = secrets.token_urlsafe(16)
    headers = [(b"cache-control", b"no-cache"), (b"etag", page.etag.encode()),
               (b"vary", b"Cookie"), *_deliver(ctx, scope, share),
               *security_headers(nonce, shared=True)]
    if etag_matches(sent[0], page.etag):
        await _answer(send, 304, headers, b"")
        return True
    body = page.with_nonce(nonce)
    headers += [(b"content-length", str(len(body)).encode()),
                (b"content-type", b"text/html; charset=utf-8")]
    await _answer(send, 200, headers, body)
    return True


async def serve_view(scope: Scope, link: str, send: Send, *, head: bool) -> bool:
    """The JSON view as ``share_view.view_response`` answers it; HEAD spends no view and
    hands out no grant, as its route."""
    sent = _anonymous(scope["headers"], page=False)
    admitted = None if sent is None else await _admitted(scope, link)
    if sent is None or admitted is None:
        return False
    ctx, share = admitted
    key = view_key(ctx, share, base=_base_url(ctx, scope, sent[2]))
    body: ViewBody | None = ctx.share_view_cache.get(key)
    if body is None:
        return False
    content, encoding, etag = body.encoded(sent[1])
    headers = [*API_HEADERS, (b"etag", etag.encode()),
               *(() if head else _deliver(ctx, scope, share)),
               *security_headers(secrets.token_urlsafe(16), shared=True)]
    if etag_matches(sent[0], etag):
        await _answer(send, 304, headers, b"")
        return True
    if encoding is not None:
        headers.append((b"content-encoding", encoding.encode()))
    headers += [(b"content-length", str(len(content)).encode()),
                (b"content-type", MEDIA_TYPE.encode())]
    await _answer(send, 200, headers, b"" if head else content)
    return True


async def _admitted(scope: Scope, link: str) -> tuple[AppContext, Share] | None:
    """The app's context and the snapshot share an anonymous viewer without a password may
    see with no view limit (its view not yet spent), else None."""
    ctx: AppContext | None = getattr(scope["app"].state, "ctx", None)
    if ctx is None:
        return None
    client = scope.get("client")
    admission = await viewing.admit_anonymous(ctx, link,
                                              client=client[0] if client else "unknown")
    if admission is None or admission.share.live:
        return None
    return ctx, admission.share


def _deliver(ctx: AppContext, scope: Scope, share: Share) -> tuple[tuple[bytes, bytes], ...]:
    """Spend the view of a delivery; the headers that hand out its grant."""
    viewing.spend_batched_view(ctx, share)
    secure = ctx.settings.cookie_secure or scope.get("scheme") == "https"  # cookies.is_secure
    return _grant_bytes(share.share_id, grants.view_grant(ctx, share), secure)


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]],
                  body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@lru_cache(maxsize=1024)
def _grant_bytes(link: str, grant: str, secure: bool) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.encode(), value.encode())
                 for name, value in grant_headers(link, grant, secure=secure))


def _anonymous(headers: Any, *, page: bool) -> tuple[str, str, bytes | None] | None:
    """The If-None-Match and Accept-Encoding values ("" when absent) and the Host header of a
    request that the cache answers: no session, no bearer token; for the page, not a
    link-preview bot or a prefetch (they get the title card). None otherwise."""
    if_none_match = accept_encoding = ""
    host = None
    for name, value in headers:
        if name == b"authorization":
            return None
        if name == b"cookie" and SESSION_MARK in value:
            return None
        if name == b"if-none-match":
            if_none_match = value.decode("latin-1")
        elif name == b"accept-encoding":
            accept_encoding = value.decode("latin-1")
        elif name == b"host":
            host = value
        elif page and _is_preview(name, value):
            return None
    return if_none_match, accept_encoding, host


def _base_url(ctx: AppContext, scope: Scope, host: bytes | None) -> str:
    """``shares.base_url`` for this request, as the route computes it."""
    if ctx.settings.base_url:
        return ctx.settings.base_url.rstrip("/")
    root_path = scope.get("app_root_path", scope.get("root_path", ""))
    return _request_base(scope.get("scheme", "http"), host, tuple(scope.get("server") or ()),
                         root_path)


@lru_cache(maxsize=256)
def _request_base(scheme: str, host: bytes | None, server: tuple[Any, ...],
                  root_path: str) -> str:
    """Starlette's base URL of a request with these parts (made once for each)."""
    scope = {"type": "http", "scheme": scheme, "server": server or None,
             "root_path": root_path, "path": "/", "query_string": b"",
             "headers": [(b"host", host)] if host is not None else []}
    return str(Request(scope).base_url).rstrip("/")


def _is_preview(name: bytes, value: bytes) -> bool:
    if name == b"user-agent":
        return PREVIEW_AGENTS.search(value.decode("latin-1")) is not None
    if name in (b"sec-purpose", b"purpose"):
        lowered = value.lower()
        return b"prefetch" in lowered or b"prerender" in lowered
    return False
