"""Accounts: sign-up, sign-in, sessions, API tokens, admin changes to users.

Secrets are random (``secrets``); only their SHA-256 is stored, so a leaked database holds no
usable credential. Passwords are argon2id. Session tokens and API tokens are both accepted as
``Authorization: Bearer``; API tokens carry the ``salon_`` prefix so one lookup suffices.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher

from salon.domain import users as rules
from salon.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from salon.domain.users import User
from salon.services import files as file_service
from salon.services.context import AppContext
from salon.services.ratelimit import Limit, Reservation, reserve_all
from salon.store import shares as share_repo
from salon.store import users as repo
from salon.store.db import transaction

API_TOKEN_PREFIX = "salon_"
MAX_TOKENS_PER_USER = 50
SIGNIN_ATTEMPTS = 10  # failures per email and client
SIGNIN_CLIENT_ATTEMPTS = 50  # failures per client, whatever the email
SIGNIN_WINDOW_SECONDS = 15 * 60
SIGNUP_WINDOW_SECONDS = 60 * 60

# Verified when the email is unknown, so timing does not tell which emails have accounts.
_DUMMY_HASHES: dict[tuple[int, int, int], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = hasher.hash("not a real password, only for timing")
    return _DUMMY_HASHES[key]


@dataclass(frozen=True)
class Principal:
    """Who is calling, and how: a cookie session carries a CSRF token, a bearer token does not."""

    user: User
    via_cookie: bool
    csrf_token: str | None = None


@dataclass(frozen=True)
class NewSession:
    user: User
    token: str
    csrf_token: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def hash_password(ctx: AppContext, password: str) -> str:
    """On the bounded pool (``SERVER_BUSY`` when it is full)."""
    return await ctx.passwords.hash(password)


async def verify_password(ctx: AppContext, password_hash: str, password: str) -> bool:
    """On the bounded pool (``SERVER_BUSY`` when it is full); False for a malformed hash."""
    return await ctx.passwords.verify(password_hash, password)


async def verify_reserved(
    ctx: AppContext, reservation: Reservation, password_hash: str, password: str
) -> bool:
    """Check a password whose attempt ``reservation`` already holds: reserved
    (``ratelimit.reserve_all``) before anything slow, so a burst of parallel guesses is counted
    as it arrives, never after the hashes. A wrong password stays counted; a right one clears
    the failures under the first limit (``Reservation.succeed``); a check the busy pool refused
    gives the attempt back."""
    try:
        ok = await verify_password(ctx, password_hash, password)
    except RateLimited:
        await reservation.release()
        raise
    if ok:
        await reservation.succeed()
    return ok


async def create_user(
    ctx: AppContext, *, email: str, name: str, password: str, role: str | None = None,
    via_signup: bool = False, client: str | None = None,
) -> User:
    """Create an account. The first account is always an admin; open sign-up after that
    only while ``SALON_ENABLE_SIGNUP`` is on (admins and the CLI can always create users).
    Sign-ups from one ``client`` are limited (each costs a password hash)."""
    if client is not None:
        await reserve_all(ctx.limiter, [Limit(f"signup:{client}",
                                              ctx.settings.signup_limit_per_hour,
                                              SIGNUP_WINDOW_SECONDS)],
                          message="Too many sign-ups from your address. Try again later.")
    clean_email = rules.normalize_email(email)
    clean_name = rules.clean_name(name)
    rules.check_password_strength(password)
    if role is not None and role not in rules.ROLES:
        raise InvalidInput(f"Unknown role {role!r}: use admin or user.", field="role")
    password_hash = await hash_password(ctx, password)
    async with transaction(ctx.engine) as conn:
        first = await repo.count_users(conn) == 0
        if via_signup and not first and not ctx.settings.enable_signup:
            raise Forbidden("Sign-up is disabled on this server. Ask an admin for an account.",
                            code="SIGNUP_DISABLED")
        if await repo.get_user_with_hash(conn, clean_email):
            raise Conflict("An account with this email already exists.", code="EMAIL_TAKEN")
        user = User(
            id=str(uuid.uuid4()),
            email=clean_email,
            name=clean_name,
            role="admin" if first else (role or "user"),  # type: ignore[arg-type]
            created_at=ctx.now(),
        )
        await repo.insert_user(conn, user=user, password_hash=password_hash)
    return user


async def sign_in(ctx: AppContext, *, email: str, password: str, client: str) -> NewSession:
    """Check credentials and open a session. Failed attempts are limited per email and client,
    and per client."""
    clean = email.strip().lower()
    reservation = await reserve_all(ctx.limiter, [
        Limit(f"signin:{clean}:{client}", SIGNIN_ATTEMPTS, SIGNIN_WINDOW_SECONDS),
        Limit(f"signin-client:{client}", SIGNIN_CLIENT_ATTEMPTS, SIGNIN_WINDOW_SECONDS),
    ], message="Too many failed sign-in attempts. Try again later.")
    async with ctx.engine.connect() as conn:
        found = await repo.get_user_with_hash(conn, clean)
    ok = await verify_reserved(ctx, reservation, found[1] if found else _dummy_hash(ctx.hasher),
                               password)
    if not found or not ok:
        raise Unauthenticated("The email or password is incorrect.", code="INVALID_CREDENTIALS")
    return await open_session(ctx, found[0])


async def open_session(ctx: AppContext, user: User) -> NewSession:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = ctx.now()
    async with transaction(ctx.engine) as conn:
        await repo.delete_expired_sessions(conn, now=now)
        await repo.insert_session(
            conn,
            token_hash=hash_secret(token),
            user_id=user.id,
            csrf_token=csrf,
            now=now,
            expires_at=now + timedelta(days=ctx.settings.session_days),
        )
    return NewSession(user=user, token=token, csrf_token=csrf)


async def sign_out(ctx: AppContext, token: str) -> None:
    async with transaction(ctx.engine) as conn:
        user_id = await repo.delete_session(conn, hash_secret(token))
    if user_id is not None:
        signed_out(ctx, user_id)


async def authenticate(ctx: AppContext, token: str, *, via_cookie: bool) -> Principal | None:
    """The principal for a session or API token; None if the token is unknown or expired.

    API tokens are refused in cookies (they are meant for programs, never browsers).
    """
    if not token or len(token) > 200:
        return None
    digest = hash_secret(token)
    if token.startswith(API_TOKEN_PREFIX):
        if via_cookie:
            return None
        async with transaction(ctx.engine) as conn:
            user = await repo.get_token_user(conn, digest)
            if user:
                await repo.touch_api_token(conn, digest, now=ctx.now())
        return Principal(user=user, via_cookie=False) if user else None
    async with ctx.engine.connect() as conn:
        found = await repo.get_session_user(conn, digest, now=ctx.now())
    if not found:
        return None
    return Principal(user=found[0], via_cookie=via_cookie, csrf_token=found[1])


async def is_still_signed_in(ctx: AppContext, token: str) -> bool:
    """Whether ``token``, a session or API token that authenticated a long-lived request
    (a live share's stream), still does: not once signed out, expired, revoked or its user
    deleted. One indexed read through the hot path's reader, cheap enough to ask often."""
    digest = hash_secret(token)
    api_token = token.startswith(API_TOKEN_PREFIX)
    if ctx.row_reader is not None:
        return await repo.is_credential_valid(ctx.row_reader, digest, api_token=api_token,
                                              now=ctx.now())
    async with ctx.engine.connect() as conn:
        return await repo.is_credential_valid(conn, digest, api_token=api_token, now=ctx.now())


def signed_out(ctx: AppContext, user_id: str) -> None:
    """Some of the user's sessions or tokens ended: their live streams check theirs now."""
    ctx.live.broadcast("session", {"user_id": user_id})


async def create_api_token(ctx: AppContext, user: User, *, name: str) -> dict[str, Any]:
    """Create a token; its secret is returned once, here, and never again."""
    clean = " ".join(name.split())
    if not clean or len(clean) > 100:
        raise InvalidInput("A token name needs 1 to 100 characters.", field="name")
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = str(uuid.uuid4())
    now = ctx.now()
    async with transaction(ctx.engine) as conn:
        if len(await repo.list_api_tokens(conn, user.id)) >= MAX_TOKENS_PER_USER:
            raise InvalidInput(f"You can have at most {MAX_TOKENS_PER_USER} API tokens.")
        await repo.insert_api_token(
            conn,
            token_id=token_id,
            user_id=user.id,
            name=clean,
            token_hash=hash_secret(secret),
            prefix=secret[: len(API_TOKEN_PREFIX) + 4],
            now=now,
        )
    return {"id": token_id, "name": clean, "prefix": secret[: len(API_TOKEN_PREFIX) + 4],
            "created_at": now, "last_used_at": None, "token": secret}


async def list_api_tokens(ctx: AppContext, user: User) -> list[dict[str, Any]]:
    async with ctx.engine.connect() as conn:
        return await repo.list_api_tokens(conn, user.id)


async def revoke_api_token(ctx: AppContext, user: User, token_id: str) -> None:
    async with transaction(ctx.engine) as conn:
        if not await repo.delete_api_token(conn, token_id=token_id, user_id=user.id):
            raise NotFound("No such API token.", code="TOKEN_NOT_FOUND")
    signed_out(ctx, user.id)


async def has_users(ctx: AppContext) -> bool:
    """Whether anyone has an account yet (the first one becomes the admin)."""
    async with ctx.engine.connect() as conn:
        return await repo.count_users(conn) > 0


async def list_users(ctx: AppContext, actor: User) -> list[User]:
    require_admin(actor)
    async with ctx.engine.connect() as conn:
        return await repo.list_users(conn)


async def add_user(
    ctx: AppContext, actor: User, *, email: str, name: str, password: str, role: str = "user"
) -> User:
    """Admin only: create an account (whether or not open sign-up is on)."""
    require_admin(actor)
    return await create_user(ctx, email=email, name=name, password=password, role=role)


async def delete_user(ctx: AppContext, actor: User, user_id: str) -> None:
    """Admin only: delete another account with everything it owns. The last admin stays."""
    require_admin(actor)
    if user_id == actor.id:
        raise InvalidInput("You cannot delete your own account here.", field="user_id")
    async with transaction(ctx.engine) as conn:
        target = await repo.get_user(conn, user_id)
        if target is None:
            raise NotFound("No such user.", code="USER_NOT_FOUND")
        hashes = await repo.user_blob_hashes(conn, user_id)
        await repo.delete_user(conn, user_id)
    ctx.live.broadcast("access", {})  # live viewers of that user's shares are cut off
    await file_service.forget_unused_blobs(ctx, hashes)


async def change_password(
    ctx: AppContext, user: User, *, current: str, new: str, keep_token: str | None = None
) -> None:
    """Change the caller's password after checking the current one. Every other session ends
    (``keep_token``, the caller's own session, stays); API tokens stay valid."""
    rules.check_password_strength(new)
    reservation = await reserve_all(
        ctx.limiter, [Limit(f"password:{user.id}", SIGNIN_ATTEMPTS, SIGNIN_WINDOW_SECONDS)],
        message="Too many wrong current passwords. Try again later.")
    async with ctx.engine.connect() as conn:
        stored = await repo.get_password_hash(conn, user.id)
    if stored is None or not await verify_reserved(ctx, reservation, stored, current):
        raise InvalidInput("The current password is incorrect.", code="INCORRECT_PASSWORD",
                           field="password")
    new_hash = await hash_password(ctx, new)
    async with transaction(ctx.engine) as conn:
        await repo.update_user(conn, user.id, now=ctx.now(), password_hash=new_hash)
        await repo.delete_other_sessions(
            conn, user.id, keep_token_hash=hash_secret(keep_token) if keep_token else None)
    signed_out(ctx, user.id)


async def update_profile(ctx: AppContext, user: User, *, name: str) -> User:
    clean = rules.clean_name(name)
    async with transaction(ctx.engine) as conn:
        await repo.update_user(conn, user.id, now=ctx.now(), name=clean)
        updated = await repo.get_user(conn, user.id)
    assert updated is not None
    return updated


async def update_user_access(
    ctx: AppContext, actor: User, user_id: str, *, role: str | None = None,
    permissions: dict[str, object] | None = None,
) -> User:
    """Admin only: change a user's role and/or permission overrides."""
    require_admin(actor)
    values: dict[str, Any] = {}
    if role is not None:
        if role not in rules.ROLES:
            raise InvalidInput(f"Unknown role {role!r}: use admin or user.", field="role")
        if user_id == actor.id and role != "admin":
            raise InvalidInput("You cannot remove your own admin role.", field="role")
        values["role"] = role
    if permissions is not None:
        values["permissions"] = rules.validate_permission_overrides(permissions)
    async with transaction(ctx.engine) as conn:
        if not await repo.update_user(conn, user_id, now=ctx.now(), **values):
            raise NotFound("No such user.", code="USER_NOT_FOUND")
        user = await repo.get_user(conn, user_id)
        assert user is not None
        if not user_permissions(ctx, user)["sharing_public_chat"]:
            # The spec: losing the public permission makes every public share logged-in-only
            # at once; the links stay active.
            await share_repo.make_private(conn, user_ids=[user.id], now=ctx.now())
    ctx.live.broadcast("access", {})  # sharing rights may have changed: viewers check again
    return user


def permission_defaults(ctx: AppContext) -> dict[str, bool]:
    s = ctx.settings
    return {
        "chat_share": s.user_permissions_chat_share,
        "sharing_public_chat": s.user_permissions_sharing_public_chat,
        "chat_clone": s.user_permissions_chat_clone,
    }


def user_permissions(ctx: AppContext, user: User) -> dict[str, bool]:
    return rules.effective_permissions(user.permissions, permission_defaults(ctx))


def require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise Forbidden("Only an admin can do that.", code="ADMIN_REQUIRED")
