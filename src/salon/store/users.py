"""Users, browser sessions and API tokens. Repositories never commit: the caller's
transaction does (``store.db.transaction``)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.users import User
from salon.store.db import RowReader
from salon.store.tables import api_tokens, files, sessions, users


def _to_user(row: sa.Row[Any]) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        permissions=dict(row.permissions or {}),
    )


async def insert_user(conn: AsyncConnection, *, user: User, password_hash: str) -> None:
    await conn.execute(
        users.insert().values(
            id=user.id,
            email=user.email,
            name=user.name,
            password_hash=password_hash,
            role=user.role,
            permissions=user.permissions,
            created_at=user.created_at,
            updated_at=user.created_at,
        )
    )


async def count_users(conn: AsyncConnection) -> int:
    return int((await conn.execute(sa.select(sa.func.count()).select_from(users))).scalar_one())


async def get_user(conn: AsyncConnection, user_id: str) -> User | None:
    row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()
    return _to_user(row) if row else None


async def get_user_with_hash(conn: AsyncConnection, email: str) -> tuple[User, str] | None:
    row = (await conn.execute(sa.select(users).where(users.c.email == email))).first()
    return (_to_user(row), row.password_hash) if row else None


async def list_users(conn: AsyncConnection) -> list[User]:
    rows = await conn.execute(sa.select(users).order_by(users.c.created_at, users.c.id))
    return [_to_user(r) for r in rows]


async def update_user(conn: AsyncConnection, user_id: str, *, now: datetime, **values: Any) -> bool:
    result = await conn.execute(
        users.update().where(users.c.id == user_id).values(updated_at=now, **values)
    )
    return result.rowcount > 0


async def get_password_hash(conn: AsyncConnection, user_id: str) -> str | None:
    query = sa.select(users.c.password_hash).where(users.c.id == user_id)
    value: str | None = (await conn.execute(query)).scalar_one_or_none()
    return value


async def count_admins(conn: AsyncConnection) -> int:
    query = sa.select(sa.func.count()).select_from(users).where(users.c.role == "admin")
    return int((await conn.execute(query)).scalar_one())


async def delete_user(conn: AsyncConnection, user_id: str) -> bool:
    """Delete an account; its sessions, tokens, conversations and file rows go with it."""
    result = await conn.execute(users.delete().where(users.c.id == user_id))
    return result.rowcount > 0


async def user_blob_hashes(conn: AsyncConnection, user_id: str) -> set[str]:
    query = sa.select(files.c.sha256).where(files.c.user_id == user_id).distinct()
    return {r.sha256 for r in await conn.execute(query)}


async def delete_other_sessions(
    conn: AsyncConnection, user_id: str, *, keep_token_hash: str | None
) -> None:
    query = sessions.delete().where(sessions.c.user_id == user_id)
    if keep_token_hash:
        query = query.where(sessions.c.token_hash != keep_token_hash)
    await conn.execute(query)


async def insert_session(
    conn: AsyncConnection,
    *,
    token_hash: str,
    user_id: str,
    csrf_token: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        sessions.insert().values(
            token_hash=token_hash,
            user_id=user_id,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def get_session_user(
    conn: AsyncConnection, token_hash: str, *, now: datetime
) -> tuple[User, str] | None:
    """The user and CSRF token of a live session; None if unknown or expired."""
    query = (
        sa.select(users, sessions.c.csrf_token)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > now)
    )
    row = (await conn.execute(query)).first()
    return (_to_user(row), row.csrf_token) if row else None


async def delete_session(conn: AsyncConnection, token_hash: str) -> str | None:
    """End a session: the id of the user it was for, None if there was no such session."""
    query = sessions.delete().where(sessions.c.token_hash == token_hash).returning(
        sessions.c.user_id)
    user_id: str | None = (await conn.execute(query)).scalar_one_or_none()
    return user_id


# A credential's row, for a long-lived request asking again whether its caller is still
# signed in: a session's expiry (by primary key), or an API token's user (a unique index).
_SESSION_EXPIRY = sa.select(sessions.c.expires_at).where(
    sessions.c.token_hash == sa.bindparam("token_hash"))
_API_TOKEN_OWNER = sa.select(api_tokens.c.user_id).where(
    api_tokens.c.token_hash == sa.bindparam("token_hash"))


async def is_credential_valid(
    source: AsyncConnection | RowReader, token_hash: str, *, api_token: bool, now: datetime
) -> bool:
    """Whether the session (unexpired) or API token with this hash still exists; a deleted
    user's are gone with them. One indexed read, through the hot path's reader if given."""
    query = _API_TOKEN_OWNER if api_token else _SESSION_EXPIRY
    if isinstance(source, AsyncConnection):
        value = (await source.execute(query, {"token_hash": token_hash})).scalar_one_or_none()
    else:
        sql, process = _compiled(query, source.dialect)
        row = await source.fetch_one(sql, (token_hash,))
        value = None if row is None else process(row[0]) if process else row[0]
    return value is not None and (api_token or value > now)


@functools.lru_cache(maxsize=16)
def _compiled(query: sa.Select[Any], dialect: sa.Dialect) -> tuple[str, Any]:
    """A one-column, one-parameter query's SQL for ``dialect`` and its column's result
    processor (a session's expiry comes back as an aware datetime on every backend)."""
    column = query.selected_columns[0]
    return (str(query.compile(dialect=dialect)),
            column.type.dialect_impl(dialect).result_processor(dialect, None))


async def delete_expired_sessions(conn: AsyncConnection, *, now: datetime) -> None:
    await conn.execute(sessions.delete().where(sessions.c.expires_at <= now))


async def insert_api_token(
    conn: AsyncConnection,
    *,
    token_id: str,
    user_id: str,
    name: str,
    token_hash: str,
    prefix: str,
    now: datetime,
) -> None:
    await conn.execute(
        api_tokens.insert().values(
            id=token_id,
            user_id=user_id,
            name=name,
            token_hash=token_hash,
            prefix=prefix,
            created_at=now,
        )
    )


async def get_token_user(conn: AsyncConnection, token_hash: str) -> User | None:
    query = (
        sa.select(users)
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(api_tokens.c.token_hash == token_hash)
    )
    row = (await conn.execute(query)).first()
    return _to_user(row) if row else None


async def touch_api_token(conn: AsyncConnection, token_hash: str, *, now: datetime) -> None:
    await conn.execute(
        api_tokens.update().where(api_tokens.c.token_hash == token_hash).values(last_used_at=now)
    )


async def list_api_tokens(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    query = (
        sa.select(
            api_tokens.c.id,
            api_tokens.c.name,
            api_tokens.c.prefix,
            api_tokens.c.created_at,
            api_tokens.c.last_used_at,
        )
        .where(api_tokens.c.user_id == user_id)
        .order_by(api_tokens.c.created_at.desc(), api_tokens.c.id)
    )
    return [dict(r._mapping) for r in await conn.execute(query)]


async def delete_api_token(conn: AsyncConnection, *, token_id: str, user_id: str) -> bool:
    result = await conn.execute(
        api_tokens.delete().where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
    )
    return result.rowcount > 0
