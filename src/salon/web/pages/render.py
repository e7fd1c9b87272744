"""Template rendering for pages: one Jinja environment, autoescaped, with the CSP nonce.

Every page gets ``user`` (or None), ``nonce`` (for its ``<script type="module">`` tags) and
``csrf_token`` (the session's, for forms and the ``<meta name="csrf-token">`` the scripts read).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from salon.services.auth import Principal
from salon.web.pages.error_text import error_context, seems_signed_in

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
# 401s with these codes send a browser to the login page and back, instead of an error page.
LOGIN_CODES = frozenset({"NOT_AUTHENTICATED", "LOGIN_REQUIRED"})


def format_when(value: datetime | None) -> str:
    """A timestamp for people: ``2025-03-01 14:05 UTC``."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


@cache
def _environment() -> Environment:
    """The one Jinja environment, made (and Jinja loaded) for the first page, not at start."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "xml"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = format_when
    return env


def csp_nonce(request: Request) -> str:
    state = request.scope.get("state", {})
    return str(state.get("csp_nonce", ""))


def current_principal(request: Request) -> Principal | None:
    """The principal ``deps.get_principal`` found for this request (None if it did not run)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal


def page_values(request: Request) -> dict[str, Any]:
    """What every page reads from its request: ``user``, ``nonce`` and ``csrf_token``."""
    principal = current_principal(request)
    return {"user": principal.user if principal else None, "nonce": csp_nonce(request),
            "csrf_token": (principal.csrf_token or "") if principal else ""}


def render_html(request: Request, template: str, **context: Any) -> str:
    return render_template(template, request=request, **{**page_values(request), **context})


def render_template(template: str, /, **context: Any) -> str:
    """``template`` with ``context`` only (no request unless given one): what a render thread
    calls (``services.render_pool``). Jinja's environment and templates are safe to share
    between threads; the values must not change while it runs."""
    return _environment().get_template(template).render(**context)


def template_macro(template: str, name: str) -> Callable[..., Markup]:
    """A macro of ``template``, to call from Python (it returns escaped HTML)."""
    macro: Callable[..., Markup] = getattr(_environment().get_template(template).module, name)
    return macro


def render(
    request: Request, template: str, *, status: int = 200,
    headers: dict[str, str] | None = None, **context: Any,
) -> HTMLResponse:
    """A page (or fragment) from ``template``; pages are never cached (they hold a CSRF token)."""
    response = HTMLResponse(render_html(request, template, **context), status_code=status,
                            headers=headers)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def login_url(request: Request) -> str:
    """The login page, with ``next`` bringing the browser back to this page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login" if here == "/" else f"/login?next={quote(here, safe='')}"


def redirect(url: str) -> RedirectResponse:
    """A 303: after a form post the browser follows it with GET."""
    return RedirectResponse(url, status_code=303)


def render_error_page(
    request: Request, *, status: int, detail: str, code: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """The friendly error page for a browser. A page that needs a signed-in user sends an
    anonymous visitor to log in (and back) instead."""
    if status == 401 and code in LOGIN_CODES and request.method in ("GET", "HEAD"):
        return redirect(login_url(request))
    return render(request, "error.html", status=status, headers=headers,
                  **error_context(status=status, code=code, detail=detail,
                                  signed_in=seems_signed_in(request)))
