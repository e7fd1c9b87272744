"""The admin's user list: change a user's role and set per-user permission overrides.

Only admins may see it (``services.auth`` decides; everyone else gets the 403 page).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from salon.domain.errors import InvalidInput, SalonError
from salon.domain.users import PERMISSION_FLAGS, User
from salon.services import auth
from salon.services.context import AppContext
from salon.web.deps import Ctx, OptionalPrincipal
from salon.web.errors import status_for
from salon.web.pages.access import form_principal, to_login
from salon.web.pages.render import redirect, render

router = APIRouter()

PERMISSION_LABELS = {
    "chat_share": "Share chats",
    "sharing_public_chat": "Public share links",
    "chat_clone": "Clone shared chats",
}
# Form value -> override: "default" removes the override (the server-wide setting applies).
OVERRIDE_CHOICES: dict[str, bool | None] = {"default": None, "allow": True, "deny": False}


@dataclass(frozen=True)
class UserRow:
    user: User
    effective: dict[str, bool]


def parse_overrides(form: FormData) -> dict[str, object]:
    """The ``perm_<flag>`` fields as permission overrides (flags left at "default" omitted)."""
    overrides: dict[str, object] = {}
    for flag in PERMISSION_FLAGS:
        choice = str(form.get(f"perm_{flag}", "default"))
        if choice not in OVERRIDE_CHOICES:
            raise InvalidInput(f"Choose default, allow or deny for {PERMISSION_LABELS[flag]}.")
        value = OVERRIDE_CHOICES[choice]
        if value is not None:
            overrides[flag] = value
    return overrides


async def users_page(
    request: Request, ctx: AppContext, actor: User, *, status: int = 200,
    error: str | None = None, saved: str | None = None,
) -> Response:
    users = await auth.list_users(ctx, actor)
    rows = [UserRow(user=u, effective=auth.user_permissions(ctx, u)) for u in users]
    return render(request, "admin_users.html", status=status, title="Users", rows=rows,
                  defaults=auth.permission_defaults(ctx), labels=PERMISSION_LABELS,
                  error=error, saved=saved)


@router.get("/admin/users")
async def show_users(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, saved: str | None = None
) -> Response:
    if principal is None:
        return await to_login(ctx, request)
    return await users_page(request, ctx, principal.user, saved=saved)


@router.post("/admin/users/{user_id}")
async def update_user(
    user_id: str, request: Request, ctx: Ctx, principal: OptionalPrincipal
) -> Response:
    """Save one user's role (absent: unchanged) and permission overrides."""
    form = await request.form()
    actor = form_principal(request, principal, str(form.get("csrf_token", ""))).user
    role = form.get("role")
    try:
        await auth.update_user_access(ctx, actor, user_id, permissions=parse_overrides(form),
                                      role=str(role) if role is not None else None)
    except SalonError as exc:
        if status_for(exc) in (403, 404):
            raise
        return await users_page(request, ctx, actor, status=status_for(exc), error=exc.detail)
    return redirect(f"/admin/users?saved={user_id}")
