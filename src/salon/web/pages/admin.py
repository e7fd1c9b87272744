"""The admin's user list: add and delete users, change a user's role and set per-user
permission overrides.

Only admins may see it or post to it (``services.auth`` decides; everyone else gets the 403
page). Deleting asks for confirmation first (``data-confirm``, handled by ``static/app.js``).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from salon.domain.errors import InvalidInput, SalonError
from salon.domain.users import PERMISSION_FLAGS, User
from salon.services import auth
from salon.services import shares as share_service
from salon.services.context import AppContext
from salon.web.deps import Ctx, OptionalPrincipal
from salon.web.errors import status_for
from salon.web.pages.access import FormText, form_principal, to_login
from salon.web.pages.render import redirect, render

router = APIRouter()

PERMISSION_LABELS = {
    "chat_share": "Share chats",
    "sharing_public_chat": "Public share links",
    "chat_clone": "Clone shared chats",
}
# Form value -> override: "default" removes the override (the server-wide setting applies).
OVERRIDE_CHOICES: dict[str, bool | None] = {"default": None, "allow": True, "deny": False}
DELETED_NOTICE = "The account was deleted, with its conversations and files."
SHARING_NOTICES = {
    True: "Sharing is on: share links work again.",
    False: "Sharing is off: no one can create share links and existing links stop working "
           "until you turn it back on. Nothing was deleted.",
}


@dataclass(frozen=True)
class UserRow:
    user: User
    effective: dict[str, bool]


@dataclass(frozen=True)
class NewUserForm:
    """What the "Add user" form shows: empty, or what was typed (never the password)."""

    name: str = ""
    email: str = ""
    role: str = "user"
    error: str | None = None
    invalid: str | None = None  # the field the error is about


def invalid_field(exc: SalonError) -> str | None:
    """The "Add user" field an error is about (a taken email names none)."""
    if exc.code == "EMAIL_TAKEN":
        return "email"
    field = exc.extra.get("field")
    return str(field) if field else None


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
    error: str | None = None, notice: str | None = None, saved: str | None = None,
    added: str | None = None, new: NewUserForm | None = None,
) -> Response:
    """The list; ``saved``/``added`` are user ids to mark as just saved/just added."""
    users = await auth.list_users(ctx, actor)
    rows = [UserRow(user=u, effective=auth.user_permissions(ctx, u)) for u in users]
    return render(request, "admin_users.html", status=status, title="Users", rows=rows,
                  defaults=auth.permission_defaults(ctx), labels=PERMISSION_LABELS,
                  sharing_enabled=await share_service.is_sharing_enabled(ctx),
                  error=error, notice=notice, saved=saved, new=new or NewUserForm(),
                  added=next((u for u in users if u.id == added), None))


@router.get("/admin/users")
async def show_users(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, saved: str | None = None,
    added: str | None = None, deleted: bool = False, sharing: bool | None = None,
) -> Response:
    if principal is None:
        return await to_login(ctx, request)
    notice = DELETED_NOTICE if deleted else None
    if sharing is not None:
        notice = SHARING_NOTICES[sharing]
    return await users_page(request, ctx, principal.user, saved=saved, added=added,
                            notice=notice)


@router.post("/admin/sharing")
async def switch_sharing(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, enabled: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    """Turn sharing on or off for the whole instance."""
    actor = form_principal(request, principal, csrf_token).user
    if enabled not in ("on", "off"):
        raise InvalidInput("Choose on or off.", field="enabled")
    await share_service.set_sharing_enabled(ctx, actor, enabled == "on")
    return redirect(f"/admin/users?sharing={'true' if enabled == 'on' else 'false'}")


@router.post("/admin/users")
async def add_user(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, name: FormText = "",
    email: FormText = "", password: FormText = "", role: FormText = "user",
    csrf_token: FormText = "",
) -> Response:
    """Create an account; its errors are shown in the "Add user" form, typed values kept."""
    actor = form_principal(request, principal, csrf_token).user
    try:
        added = await auth.add_user(ctx, actor, email=email, name=name, password=password,
                                    role=role)
    except SalonError as exc:
        if status_for(exc) == 403:
            raise
        new = NewUserForm(name=name, email=email, role=role, error=exc.detail,
                          invalid=invalid_field(exc))
        return await users_page(request, ctx, actor, status=status_for(exc), new=new)
    return redirect(f"/admin/users?added={added.id}")


@router.post("/admin/users/{user_id}/delete")
async def delete_user(
    user_id: str, request: Request, ctx: Ctx, principal: OptionalPrincipal,
    csrf_token: FormText = "",
) -> Response:
    """Delete an account with everything it owns (the page asked for confirmation)."""
    actor = form_principal(request, principal, csrf_token).user
    try:
        await auth.delete_user(ctx, actor, user_id)
    except SalonError as exc:
        if status_for(exc) in (403, 404):
            raise
        return await users_page(request, ctx, actor, status=status_for(exc), error=exc.detail)
    return redirect("/admin/users?deleted=1")


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
