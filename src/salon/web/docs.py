"""The OpenAPI explorer at ``/docs``, served entirely by Salon (no CDN, CSP-compatible), and
the OpenAPI document at ``/openapi.json`` that clients are generated from.

The document tells the truth about every operation: every error is Salon's ``Error`` shape
(``{"detail", "code"}``, never FastAPI's list of validation errors), and every status an
operation can answer is listed, derived from what the route depends on (storage, a caller, a
body), plus the media types of the routes that answer files, archives or event streams.
An unsupported method gets ``405`` with an ``Allow`` header naming every method of the path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request, routing
from fastapi.dependencies.models import Dependant
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from swagger_ui_bundle import swagger_ui_path

from salon.services.exporting import FORMATS
from salon.web import deps
from salon.web.api.share_qr import MEDIA_TYPES as QR_MEDIA_TYPES

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Salon API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs-assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui-bundle.js" nonce="{nonce}"></script>
<script src="/docs/init.js" nonce="{nonce}"></script>
</body></html>"""

_INIT = """window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
  deepLinking: true, presets: [SwaggerUIBundle.presets.apis]});"""

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": "Every error Salon answers: a human ``detail`` and a machine ``code``.",
    "type": "object",
    "required": ["detail", "code"],
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for people."},
        "code": {"type": "string", "description": "What went wrong, for programs "
                 "(SHARE_LINK_EXPIRED, VALIDATION_ERROR ...)."},
        "field": {"type": "string", "description": "The input at fault, when one is."},
        "errors": {"type": "array", "description": "Each invalid input (422).",
                   "items": {"type": "object", "required": ["field", "message"],
                             "properties": {"field": {"type": "string"},
                                            "message": {"type": "string"}}}},
        "retry_after": {"type": "integer", "description": "Seconds to wait (429, 503)."},
        "resets_at": {"type": "string", "description": "When a limit resets (429)."},
    },
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.",
                                "schema": {"type": "integer"}}}
# What each error status means on Salon's API, with the headers it carries.
ERROR_RESPONSES: dict[int, dict[str, Any]] = {
    400: {"description": "Bad request"},
    401: {"description": "Not signed in (NOT_AUTHENTICATED), a bad token (INVALID_TOKEN), "
          "or the share needs a login or its password (LOGIN_REQUIRED, PASSWORD_REQUIRED)",
          "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}}},
    403: {"description": "Not allowed (FORBIDDEN, CSRF_FAILED, a permission the admin turned "
          "off)"},
    404: {"description": "Not found (or not yours)"},
    405: {"description": "Method not allowed",
          "headers": {"Allow": {"schema": {"type": "string"}}}},
    409: {"description": "Conflict with what is stored (a custom link taken ...)"},
    410: {"description": "Gone: the share link was revoked or has expired"},
    413: {"description": "The request body is too large (PAYLOAD_TOO_LARGE)"},
    422: {"description": "Invalid input (VALIDATION_ERROR and the domain's input codes)"},
    429: {"description": "Too many requests (RATE_LIMITED)", "headers": _RETRY_AFTER},
    503: {"description": "A server Salon needs is away or the disk is full "
          "(DATABASE_UNAVAILABLE, REDIS_UNAVAILABLE, STORAGE_FULL)", "headers": _RETRY_AFTER},
}
_TEXT = {"schema": {"type": "string"}}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
# One server-sent event (OpenAPI 3.1: the schema of an event stream describes each event).
SSE_EVENT = {"schema": {"type": "object", "required": ["data"], "properties": {
    "data": {"type": "string", "contentMediaType": "application/json",
             "description": 'JSON: {"type": "metadata" | "status" | "message" | ..., "data": ...}'},
    "event": {"type": "string"}, "id": {"type": "string"}, "retry": {"type": "integer"}}}}
_FILE = {"image/*": _BINARY, "application/octet-stream": _BINARY}
# Success answers that are not (only) JSON: (method, path) -> (status, media types, keep JSON).
OTHER_CONTENT: dict[tuple[str, str], tuple[str, dict[str, Any], bool]] = {
    ("post", "/api/chat"): ("200", {"text/event-stream": SSE_EVENT,
                                    "application/x-ndjson": _TEXT}, True),
    ("get", "/api/v1/chats/{chat_id}/export"): (
        "200", {fmt.media_type: _BINARY for fmt in FORMATS.values()}, True),
    ("get", "/api/v1/chats/all/export"): ("200", {"application/zip": _BINARY}, False),
    ("get", "/api/v1/chats/{chat_id}/share/qr"): (
        "200", {media: _BINARY for media in QR_MEDIA_TYPES.values()}, False),
    ("get", "/api/v1/chats/share/{share_id}/files.zip"): (
        "200", {"application/zip": _BINARY}, False),
    ("get", "/api/v1/chats/share/{share_id}/files/{index}"): ("200", _FILE, False),
    ("get", "/api/v1/files/{file_id}/content"): ("200", _FILE, False),
}
# Statuses a route answers beyond what its dependencies say.
EXTRA_STATUSES: dict[tuple[str, str], set[int]] = {
    ("get", "/healthz"): {503},
    ("post", "/api/v1/auths/signin"): {401},  # INVALID_CREDENTIALS
    # a browser session is sent to the /logout page, a script using one gets 405
    ("get", "/api/v1/auths/signout"): {303, 405},
}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def install_docs(app: FastAPI) -> None:
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    app.openapi = lambda: salon_openapi(app)  # type: ignore[method-assign]
    app.add_exception_handler(405, method_not_allowed)

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        nonce = str(request.scope.get("state", {}).get("csp_nonce", ""))
        return HTMLResponse(_PAGE.format(nonce=nonce))

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(_INIT, media_type="text/javascript")


# --- the OpenAPI document ---------------------------------------------------------------------

def salon_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document (built once, cached on the app), with Salon's errors and media types."""
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        for method, path, route in api_routes(app):
            operation = schema["paths"][path][method]
            document_errors(operation, error_statuses(route) | EXTRA_STATUSES.get((method, path),
                                                                                   set()))
            if (method, path) in OTHER_CONTENT:
                document_content(operation, *OTHER_CONTENT[method, path])
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["Error"] = ERROR_SCHEMA
        app.openapi_schema = schema
    return app.openapi_schema


def api_routes(app: FastAPI) -> Iterator[tuple[str, str, routing.RouteContext]]:
    """(method, path, route) for every operation in the document."""
    for route in routing.iter_route_contexts(app.routes):
        if isinstance(route.original_route, routing.APIRoute) and route.include_in_schema:
            for method in sorted(route.methods or ()):
                yield method.lower(), str(route.path_format), route


def error_statuses(route: routing.RouteContext) -> set[int]:
    """The error statuses a route can answer, from what it depends on: storage (its data may
    be missing, gone or in conflict, a limit may be reached, the database may be away), a
    caller (who may be unknown or not allowed) and a request body (which may be too large)."""
    calls = dependency_calls(route.dependant)
    statuses = {422}
    if deps.get_ctx in calls:
        statuses |= {400, 404, 409, 410, 429, 503}
    if deps.get_principal in calls:
        statuses |= {401, 403}
    if (route.methods or set()) & WRITE_METHODS:
        statuses.add(413)
    return statuses


def dependency_calls(dependant: Dependant) -> set[Callable[..., Any]]:
    calls: set[Callable[..., Any]] = set()
    for sub in dependant.dependencies:
        if sub.call is not None:
            calls.add(inspect.unwrap(sub.call))
        calls |= dependency_calls(sub)
    return calls


def document_errors(operation: dict[str, Any], statuses: set[int]) -> None:
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses):
        if status < 400:
            responses.setdefault(str(status), {"description": "Redirect",
                                               "headers": {"Location": {"schema":
                                                                        {"type": "string"}}}})
            continue
        responses[str(status)] = {**ERROR_RESPONSES[status], **responses.get(str(status), {}),
                                  "content": {"application/json": {"schema": ERROR_REF}}}
    operation["responses"] = dict(sorted(responses.items()))


def document_content(operation: dict[str, Any], status: str, content: dict[str, Any],
                     keep_json: bool) -> None:
    response = operation["responses"][status]
    json_content = response.get("content", {}) if keep_json else {}
    response["content"] = {**json_content, **content}


# --- 405 Method Not Allowed ---------------------------------------------------------------------

async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """Starlette's 405 names only the methods of the first route matching the path; the path
    may have others on other routes. ``Allow`` lists them all (a route's own 405, for a method
    it has, keeps its header)."""
    assert isinstance(exc, StarletteHTTPException)
    allowed = allowed_methods(request.app, request.url.path)
    headers = dict(exc.headers or {})
    if allowed and request.method not in allowed:
        headers["Allow"] = ", ".join(sorted(allowed))
    handler = request.app.exception_handlers[StarletteHTTPException]
    response: Response = await handler(
        request, StarletteHTTPException(405, exc.detail, headers=headers))
    return response


def allowed_methods(app: FastAPI, path: str) -> set[str]:
    """The methods of the resource at ``path``: the first route (in routing order) whose
    template matches names the resource, and every route with that template adds its methods.
    (``/api/v1/chats/import`` is the import route's, not a chat whose id is "import".)"""
    template: str | None = None
    methods: set[str] = set()
    for route in routing.iter_route_contexts(app.routes):
        regex, route_methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is None or not route_methods or not regex.match(path):
            continue
        template = template or route.path_format
        if route.path_format == template:
            methods |= set(route_methods)
    return methods
