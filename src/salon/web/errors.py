"""The one table from machine codes to HTTP status, and the handlers that use it.

API requests get ``{"detail": ..., "code": ...}``; page requests get a friendly HTML page with
the same status (``web/pages`` renders it).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from salon.domain import errors

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
}
# Codes whose status differs from their class's (filled in by features as they need it).
STATUS_BY_CODE: dict[str, int] = {
    "SHARE_LINK_NOT_FOUND": 404,
    "SHARE_LINK_REVOKED": 410,
    "SHARE_LINK_EXPIRED": 410,
    "LOGIN_REQUIRED": 401,
    "PASSWORD_REQUIRED": 401,
    "INVALID_PASSWORD": 401,
}
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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Logged by the server with its traceback; the caller learns nothing internal.
        detail = "Something went wrong on the server. Please try again."
        if is_page_request(request):
            from salon.web.pages.render import render_error_page

            return render_error_page(request, status=500, detail=detail, code="INTERNAL_ERROR")
        return JSONResponse(error_body(detail, "INTERNAL_ERROR"), status_code=500)

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
