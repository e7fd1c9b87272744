"""Accounts API, with Open WebUI's shapes (``/api/v1/auths``) so its clients work."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import Field, JsonValue
from pydantic.config import JsonDict

from salon import __version__
from salon.domain import users
from salon.domain.users import User
from salon.services import auth
from salon.services import shares as share_service
from salon.web import cookies
from salon.web.api.models import EMAIL as EMAIL_PATTERN
from salon.web.api.models import NON_BLANK, Body
from salon.web.deps import (
    Ctx,
    CurrentPrincipal,
    CurrentUser,
    OptionalPrincipal,
    check_csrf,
    check_same_origin,
    client_key,
    current_session_token,
    set_session_cookie,
)

router = APIRouter(prefix="/api/v1", tags=["auth"])


# What the services accept (domain.users), documented; they check it with their own messages.
NAME: JsonDict = {"pattern": NON_BLANK, "maxLength": users.MAX_NAME_CHARS}
EMAIL: JsonDict = {"pattern": EMAIL_PATTERN, "maxLength": users.MAX_EMAIL_CHARS}
NEW_PASSWORD: JsonDict = {"minLength": users.MIN_PASSWORD_CHARS,
                          "maxLength": users.MAX_PASSWORD_CHARS}
ROLES: list[JsonValue] = [*sorted(users.ROLES)]


class SignupBody(Body):
    name: str = Field(max_length=1000, json_schema_extra=NAME)
    email: str = Field(max_length=1000, json_schema_extra=EMAIL)
    password: str = Field(max_length=1000, json_schema_extra=NEW_PASSWORD)
    # Open WebUI's client sends an avatar URL; accepted for compatibility, not stored yet.
    profile_image_url: str | None = Field(default=None, max_length=1000)


class SigninBody(Body):
    email: str = Field(max_length=1000)
    password: str = Field(max_length=1000)


class AddUserBody(Body):
    name: str = Field(max_length=1000, json_schema_extra=NAME)
    email: str = Field(max_length=1000, json_schema_extra=EMAIL)
    password: str = Field(max_length=1000, json_schema_extra=NEW_PASSWORD)
    role: str = Field(default="user", max_length=16, json_schema_extra={"enum": ROLES})
    profile_image_url: str | None = Field(default=None, max_length=1000)


class PasswordBody(Body):
    password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000, json_schema_extra=NEW_PASSWORD)


class ProfileBody(Body):
    name: str = Field(max_length=1000, json_schema_extra=NAME)
    profile_image_url: str | None = Field(default=None, max_length=1000)


class TokenBody(Body):
    name: str = Field(max_length=1000, json_schema_extra={"pattern": NON_BLANK, "maxLength": 100})


class UserUpdateBody(Body):
    role: str | None = Field(default=None, json_schema_extra={"enum": [*ROLES, None]})
    permissions: dict[str, bool] | None = Field(default=None, json_schema_extra={
        "properties": {flag: {"type": "boolean"} for flag in users.PERMISSION_FLAGS},
        "additionalProperties": False})


def user_json(ctx: Ctx, user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "permissions": auth.user_permissions(ctx, user),
        "created_at": user.created_at,
    }


def session_json(ctx: Ctx, new: auth.NewSession) -> dict[str, Any]:
    return {"token": new.token, "token_type": "Bearer", **user_json(ctx, new.user)}


@router.post("/auths/signup")
async def signup(body: SignupBody, request: Request, response: Response, ctx: Ctx) -> Any:
    """Create an account (the first one becomes admin) and sign it in."""
    check_same_origin(request)
    user = await auth.create_user(ctx, email=body.email, name=body.name, password=body.password,
                                  via_signup=True, client=client_key(request))
    new = await auth.open_session(ctx, user)
    set_session_cookie(response, request, ctx, new.token)
    return session_json(ctx, new)


@router.post("/auths/signin")
async def signin(body: SigninBody, request: Request, response: Response, ctx: Ctx) -> Any:
    """Sign in: returns a bearer token and also sets the browser session cookie."""
    check_same_origin(request)
    new = await auth.sign_in(ctx, email=body.email, password=body.password,
                             client=client_key(request))
    set_session_cookie(response, request, ctx, new.token)
    return session_json(ctx, new)


@router.get("/auths/signout")
@router.post("/auths/signout")
async def signout(
    request: Request, response: Response, ctx: Ctx, principal: OptionalPrincipal
) -> Any:
    """End the current session (cookie or session bearer token). API tokens are revoked on the
    tokens API instead. A browser session (the cookie) ends only by POST with its CSRF token:
    a GET, which any site can make a browser send, ends nothing; a browser is sent to the
    ``/logout`` page that asks, a script gets 405."""
    if principal is not None and principal.via_cookie:
        if request.method == "GET":
            if "text/html" in request.headers.get("accept", ""):  # a browser navigating
                return RedirectResponse("/logout", status_code=303)
            raise HTTPException(405, "A browser session signs out with POST and its CSRF "
                                "token (X-CSRF-Token).", headers={"Allow": "POST"})
        check_csrf(request, principal)
    token = current_session_token(request, principal) if principal else None
    if token:
        await auth.sign_out(ctx, token)
    cookies.clear_session(response, request, ctx.settings)
    return {"status": True}


@router.get("/auths/")
async def current_user(principal: CurrentPrincipal, ctx: Ctx) -> Any:
    body = user_json(ctx, principal.user)
    if principal.csrf_token:
        body["csrf_token"] = principal.csrf_token
    return body


@router.post("/auths/add")
async def add_user(body: AddUserBody, user: CurrentUser, ctx: Ctx) -> Any:
    """Admin only: create an account, even with open sign-up turned off."""
    added = await auth.add_user(ctx, user, email=body.email, name=body.name,
                                password=body.password, role=body.role)
    return user_json(ctx, added)


@router.post("/auths/update/password")
async def update_password(
    body: PasswordBody, request: Request, principal: CurrentPrincipal, ctx: Ctx
) -> Any:
    """Change the caller's password (the current one is required). Other sessions end."""
    await auth.change_password(ctx, principal.user, current=body.password, new=body.new_password,
                               keep_token=current_session_token(request, principal))
    return {"status": True}


@router.post("/auths/update/profile")
async def update_profile(body: ProfileBody, user: CurrentUser, ctx: Ctx) -> Any:
    return user_json(ctx, await auth.update_profile(ctx, user, name=body.name))


@router.get("/auths/api_keys")
async def list_tokens(user: CurrentUser, ctx: Ctx) -> Any:
    return await auth.list_api_tokens(ctx, user)


@router.post("/auths/api_keys", status_code=201)
async def create_token(body: TokenBody, user: CurrentUser, ctx: Ctx) -> Any:
    """Create an API token. The secret (``token``) is shown in this response only."""
    return await auth.create_api_token(ctx, user, name=body.name)


@router.delete("/auths/api_keys/{token_id}")
async def revoke_token(token_id: str, user: CurrentUser, ctx: Ctx) -> Any:
    await auth.revoke_api_token(ctx, user, token_id)
    return {"status": True}


@router.get("/users/")
async def list_users(user: CurrentUser, ctx: Ctx) -> Any:
    """Admin only: every account with its role and effective permissions."""
    return [user_json(ctx, u) for u in await auth.list_users(ctx, user)]


@router.delete("/users/{user_id}")
async def delete_user(user_id: str, user: CurrentUser, ctx: Ctx) -> Any:
    """Admin only: delete an account and everything it owns."""
    await auth.delete_user(ctx, user, user_id)
    return True


@router.post("/users/{user_id}/update")
async def update_user(user_id: str, body: UserUpdateBody, user: CurrentUser, ctx: Ctx) -> Any:
    """Admin only: set a user's role and/or per-user permission overrides."""
    updated = await auth.update_user_access(
        ctx, user, user_id, role=body.role,
        permissions=dict(body.permissions) if body.permissions is not None else None,
    )
    return user_json(ctx, updated)




class AdminConfigBody(Body):
    ENABLE_SHARING: bool


async def admin_config_json(ctx: Ctx) -> dict[str, Any]:
    s = ctx.settings
    return {
        "ENABLE_SHARING": await share_service.is_sharing_enabled(ctx),
        "ENABLE_SIGNUP": s.enable_signup,
        "ENABLE_COMMUNITY_SHARING": s.enable_community_sharing,
        "USER_PERMISSIONS": auth.permission_defaults(ctx),
    }


@router.get("/auths/admin/config")
async def get_admin_config(user: CurrentUser, ctx: Ctx) -> Any:
    """Admin only: the instance's switches (``ENABLE_SHARING`` changes at run time; the others
    come from the environment)."""
    auth.require_admin(user)
    return await admin_config_json(ctx)


@router.post("/auths/admin/config")
async def update_admin_config(body: AdminConfigBody, user: CurrentUser, ctx: Ctx) -> Any:
    """Admin only: turn sharing on or off for the whole instance. Off, every share link stops
    serving (403 SHARING_DISABLED) until it is back on; nothing is deleted."""
    await share_service.set_sharing_enabled(ctx, user, body.ENABLE_SHARING)
    return await admin_config_json(ctx)


# --- Khoj's clients ask these at start ----------------------------------------------------------

@router.get("/user")
async def khoj_user(user: CurrentUser) -> Any:
    """The signed-in account as Khoj's server describes it: Obsidian checks its server URL and
    API key with it, and its settings show the e-mail. ``is_active``: every feature this
    server has is open to every account (no subscription)."""
    return {"email": user.email, "username": user.name, "photo": None, "is_active": True,
            "has_documents": False, "khoj_version": __version__}


@router.get("/user/name")
async def khoj_user_name(user: CurrentUser) -> Any:
    """The account's display name (``{"name"}``)."""
    return {"name": user.name}
