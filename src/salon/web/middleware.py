"""ASGI middleware: request body limit and default security headers."""

from __future__ import annotations

import contextlib
import re
import secrets

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salon.domain.errors import TooLarge

# Routes anyone may call without an account: sign-in, sign-up and sign-out (API and forms),
# a share's password (API and form) and its clone form. Their bodies are a few short fields.
ANONYMOUS_PATHS = re.compile(
    r"/api/v1/auths/(?:signin|signup|signout)|/(?:login|signup|logout)"
    r"|/api/v1/chats/share/[^/]+/verify|/s/[^/]+/(?:unlock|clone)"
)


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413 before the app reads them (Content-Length), or as
    soon as a streamed body passes it: ``anonymous_max_bytes`` on ``ANONYMOUS_PATHS``, so
    nobody without an account can make the server take in big bodies, else ``max_bytes``.
    The refusal is the app's own error answer: JSON, or the error page for a browser."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, anonymous_max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.anonymous_max_bytes = anonymous_max_bytes

    def limit_for(self, path: str) -> int:
        if ANONYMOUS_PATHS.fullmatch(path.rstrip("/")):
            return min(self.anonymous_max_bytes, self.max_bytes)
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0
        too_large = started = False

        async def limited_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            # Once the body passed the limit, whatever the app answers instead (the framework
            # makes the failed read a 400, or a 500) gives way to the 413.
            nonlocal started
            if too_large:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if too_large and not started:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        from salon.web.errors import salon_error_response  # errors uses this module's headers

        error = TooLarge(f"The request body is larger than {limit} bytes.")
        await salon_error_response(Request(scope), error)(scope, receive, send)


SHARE_PATH_PREFIXES = ("/s/", "/share/", "/shared/", "/api/v1/chats/share/")


def is_share_path(path: str) -> bool:
    """Share links and everything under them: never indexed, never leak the link as Referer."""
    return path.startswith(SHARE_PATH_PREFIXES)


# Our own stylesheets, plus <style> elements that are *empty*: plotly.js (charts.js) adds its
# rules by creating an empty <style> and calling CSSOM insertRule on it, which CSP allows; the
# hash is SHA-256 of the empty string, so no inline style text can ever apply (style
# attributes stay blocked too: hashes never cover them without 'unsafe-hashes').
EMPTY_STYLE_HASH = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
STYLE_SRC = f"'self' {EMPTY_STYLE_HASH}"


def security_headers(nonce: str, *, shared: bool) -> list[tuple[bytes, bytes]]:
    """The headers every response carries unless it sets its own: a CSP whose scripts need
    ``nonce``, nosniff, a referrer policy, no framing; share paths are also never indexed and
    never send the link as Referer."""
    csp = (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src {STYLE_SRC}; "
        "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ).encode()
    headers = [
        (b"content-security-policy", csp),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer" if shared else b"same-origin"),
        (b"x-frame-options", b"DENY"),
    ]
    if shared:
        headers.append((b"x-robots-tag", b"noindex, nofollow"))
    return headers


class SecurityHeadersMiddleware:
    """A CSP nonce per request (``scope["state"]["csp_nonce"]``) and safe default headers.
    Responses that set their own Content-Security-Policy keep it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        shared = is_share_path(scope.get("path", ""))
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in security_headers(nonce, shared=shared)
                            if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
