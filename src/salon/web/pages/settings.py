"""The settings page: the user's API tokens (list, create with the secret shown once, revoke).

Plain forms with the session's CSRF token; ``static/app.js`` only adds the copy button.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from salon.domain.errors import SalonError
from salon.domain.users import User
from salon.services import auth
from salon.services.context import AppContext
from salon.web.deps import Ctx, OptionalPrincipal
from salon.web.errors import status_for
from salon.web.pages.access import FormText, form_principal, to_login
from salon.web.pages.render import redirect, render

router = APIRouter()


async def settings_page(
    request: Request, ctx: AppContext, user: User, *, status: int = 200,
    created: dict[str, Any] | None = None, error: str | None = None, notice: str | None = None,
) -> Response:
    return render(request, "settings.html", status=status, title="Settings",
                  tokens=await auth.list_api_tokens(ctx, user), created=created, error=error,
                  notice=notice)


@router.get("/settings")
async def show_settings(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, revoked: bool = False
) -> Response:
    if principal is None:
        return await to_login(ctx, request)
    notice = "The token was revoked: programs using it can no longer sign in." if revoked else None
    return await settings_page(request, ctx, principal.user, notice=notice)


@router.post("/settings/tokens")
async def create_token(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, name: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    """Create a token and show its secret on this response only (it is never stored)."""
    user = form_principal(request, principal, csrf_token).user
    try:
        created = await auth.create_api_token(ctx, user, name=name)
    except SalonError as exc:  # shown next to the form
        return await settings_page(request, ctx, user, status=status_for(exc), error=exc.detail)
    return await settings_page(request, ctx, user, created=created)


@router.post("/settings/tokens/{token_id}/revoke")
async def revoke_token(
    token_id: str, request: Request, ctx: Ctx, principal: OptionalPrincipal,
    csrf_token: FormText = "",
) -> Response:
    user = form_principal(request, principal, csrf_token).user
    await auth.revoke_api_token(ctx, user, token_id)
    return redirect("/settings?revoked=1")
