"""The one table from machine codes to HTTP status, and the handlers that use it.

API requests get ``{"detail": ..., "code": ...}``; page requests get a friendly HTML page with
the same status (``web/pages`` renders it).

Failures of what Salon stands on are not bugs and get a clear ``503`` with ``Retry-After``: the
database away or too slow (``DATABASE_UNAVAILABLE``), Redis away (``REDIS_UNAVAILABLE``), no room
left on the disk (``STORAGE_FULL``). Anything else unexpected is a ``500 INTERNAL_ERROR``. Both
come from ``ErrorResponseMiddleware`` as complete responses on a connection that stays usable.
"""

from __future__ import annotations

import logging
import secrets
import sys
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salon.domain import errors
from salon.store.db import is_storage_full, is_unavailable, is_unstorable_text
from salon.web.access_log import redact_path
from salon.web.middleware import is_share_path, security_headers

log = logging.getLogger(__name__)

STATUS_BY_CLASS: dict[type[errors.SalonError], int] = {
    errors.NotFound: 404,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.Gone: 410,
    errors.Conflict: 409,
    errors.InvalidInput: 422,
    errors.TooLarge: 413,
    errors.RateLimited: 429,
    errors.NotSupported: 501,
    errors.Unavailable: 502,
    errors.Overloaded: 503,
}
# Codes whose status differs from their class's (filled in by features as they need it).
STATUS_BY_CODE: dict[str, int] = {
    "SHARE_LINK_NOT_FOUND": 404,
    "SHARE_LINK_REVOKED": 410,
    "SHARE_LINK_EXPIRED": 410,
    "LOGIN_REQUIRED": 401,
    "PASSWORD_REQUIRED": 401,
    "INVALID_PASSWORD": 401,
    "INTERNAL_ERROR": 500,
    "DATABASE_UNAVAILABLE": 503,
    "REDIS_UNAVAILABLE": 503,
    "STORAGE_FULL": 503,
}
# Seconds a client is asked to wait before trying again after a 503.
RETRY_AFTER_SECONDS = 5
HTTP_CODES: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "NOT_AUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    502: "UPSTREAM_UNAVAILABLE",
}


def status_for(exc: errors.SalonError) -> int:
    if exc.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[exc.code]
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_CLASS:
            return STATUS_BY_CLASS[cls]
    return 400


def error_body(detail: Any, code: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code, **extra}


def is_page_request(request: Request) -> bool:
    """Browsers navigating get HTML; everything under /api and every JSON client gets JSON."""
    if request.url.path.startswith("/api/") or request.url.path == "/healthz":
        return False
    return "text/html" in request.headers.get("accept", "")


def salon_error_response(request: Request, exc: errors.SalonError) -> Response:
    status = status_for(exc)
    headers = {}
    if "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    if status == 401 and not is_page_request(request):
        headers["WWW-Authenticate"] = "Bearer"
    if is_page_request(request):
        from salon.web.pages.render import render_error_page

        return render_error_page(request, status=status, detail=exc.detail, code=exc.code,
                                 headers=headers)
    extra = {k: v for k, v in exc.extra.items() if k in {"retry_after", "resets_at", "field"}}
    return JSONResponse(error_body(exc.detail, exc.code, **extra), status_code=status,
                        headers=headers)


def _validation_messages(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalid")})
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.SalonError)
    async def _salon(request: Request, exc: errors.SalonError) -> Response:
        return salon_error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = _validation_messages(exc)
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        if is_page_request(request):
            return salon_error_response(request, errors.InvalidInput(summary))
        return JSONResponse(
            error_body(f"Invalid request: {summary}", "VALIDATION_ERROR", errors=fields),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, "ERROR")
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404:
            detail = "Not found."
        err = errors.SalonError(detail, code=code)
        if is_page_request(request):
            from salon.web.pages.render import render_error_page

            return render_error_page(request, status=exc.status_code, detail=detail, code=code,
                                     headers=dict(exc.headers or {}))
        return JSONResponse(error_body(err.detail, code), status_code=exc.status_code,
                            headers=dict(exc.headers or {}))


# --- failures nobody handled -----------------------------------------------------------------

def fault_error(exc: BaseException) -> errors.SalonError | None:
    """The 503 for an exception saying a server Salon needs is away, or the disk is full;
    None for anything else (a bug: 500)."""
    if isinstance(exc, BaseExceptionGroup):  # from a task group: the first fault inside
        found = (fault_error(inner) for inner in exc.exceptions)
        return next((fault for fault in found if fault is not None), None)
    if is_storage_full(exc):
        return errors.Unavailable("The server has no room left to store this. Try again "
                                  "later.", code="STORAGE_FULL", retry_after=RETRY_AFTER_SECONDS)
    if is_unavailable(exc):
        return errors.Unavailable("The database is not answering. Try again in a moment.",
                                  code="DATABASE_UNAVAILABLE", retry_after=RETRY_AFTER_SECONDS)
    if _is_redis_failure(exc):
        return errors.Unavailable("A server this needs (Redis) is not answering. Try again in "
                                  "a moment.", code="REDIS_UNAVAILABLE",
                                  retry_after=RETRY_AFTER_SECONDS)
    return None


def _is_redis_failure(exc: BaseException) -> bool:
    # redis is imported only when SALON_REDIS_URL is set: without it, no error comes from it.
    redis_errors = sys.modules.get("redis.exceptions")
    return redis_errors is not None and isinstance(
        exc, redis_errors.ConnectionError | redis_errors.TimeoutError)


def unexpected_error_response(request: Request, exc: Exception) -> Response:
    """The answer to an exception no handler took: a 503 for a fault (one log line), else a
    500 that tells the caller nothing internal (logged with its traceback)."""
    where = f"{request.method} {redact_path(request.url.path)}"
    if is_unstorable_text(exc):  # a NUL in an id or link of the URL, on PostgreSQL
        return salon_error_response(request, errors.InvalidInput(
            "Text must be valid Unicode without NUL characters."))
    fault = fault_error(exc)
    if fault is not None:
        log.warning("%s: 503 %s (%s: %s)", where, fault.code, type(exc).__name__, exc)
        return salon_error_response(request, fault)
    log.error("%s: 500 INTERNAL_ERROR", where, exc_info=exc)
    return salon_error_response(request, errors.SalonError(
        "Something went wrong on the server. Please try again.", code="INTERNAL_ERROR"))


class ErrorResponseMiddleware:
    """Outside every other middleware: an exception nothing answered becomes a complete
    response (``unexpected_error_response``) and goes no further. Starlette's own last
    handler re-raises after answering, and uvicorn then closed the keep-alive connection
    without a ``Connection: close``, so a client's next request on it failed.

    An exception after the response has started is re-raised: the server closes the
    connection, which is how the client learns that this response is cut short. One after
    the response has ended is only logged: the connection is fine."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = {"started": False, "ended": False}

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                state["ended"] = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if state["ended"]:
                log.error("%s %s: failed after its response", scope["method"],
                          redact_path(scope["path"]), exc_info=exc)
                return
            if state["started"]:
                raise
            # The nonce of the page's scripts, when no middleware inside had made one yet.
            nonce = scope.setdefault("state", {}).setdefault("csp_nonce",
                                                             secrets.token_urlsafe(16))
            response = unexpected_error_response(Request(scope), exc)
            for name, value in security_headers(nonce, shared=is_share_path(scope["path"])):
                response.headers.setdefault(name.decode(), value.decode())
            await response(scope, receive, send)
