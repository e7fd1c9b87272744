"""Shares: rows, snapshots, the atomic view and clone counters, and the dashboard queries.

Counting is one conditional UPDATE that enforces the limit (``... WHERE views < max_views``), so
under any concurrency exactly ``max_views`` deliveries happen, on SQLite and PostgreSQL alike.
Filtering, sorting and counting for the dashboard happen in SQL; ``status_case`` mirrors
``domain.shares.share_status`` (a test proves they agree).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.conversations import Message
from salon.domain.shares import Share, ShareStatus, ShareType, Visibility
from salon.store.db import RowReader
from salon.store.tables import (
    STATE_ACTIVE,
    STATE_REVOKED,
    STATE_VIEWS_USED,
    files,
    instance_config,
    messages,
    share_snapshot_messages,
    share_snapshots,
    shares,
    users,
)

t = shares.c

SORT_COLUMNS = ("title", "created_at", "updated_at", "share_id", "is_public", "has_password",
                "views", "clones", "status", "type")
SortColumn = Literal["title", "created_at", "updated_at", "share_id", "is_public",
                     "has_password", "views", "clones", "status", "type"]
SHARING_ENABLED_KEY = "sharing_enabled"


@dataclass(frozen=True)
class ShareFilter:
    """The dashboard's question: which of a user's shares, in which order, which page."""

    query: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    visibility: Visibility | None = None
    password: bool | None = None
    status: ShareStatus | None = None
    type: ShareType | None = None
    order_by: SortColumn = "created_at"
    direction: Literal["asc", "desc"] = "desc"
    page: int = 1
    page_size: int = 20


@dataclass(frozen=True)
class ShareAccess:
    """Everything opening a share needs, from one primary-key read: the share, its owner's
    name and permission overrides, and whether sharing is switched on for the instance."""

    share: Share
    owner_name: str
    owner_permissions: dict[str, bool]
    sharing_enabled: bool


def to_share(row: Any) -> Share:
    return Share(
        id=row.id, share_id=row.share_id, conversation_id=row.conversation_id,
        user_id=row.user_id, title=row.title, is_public=row.is_public,
        password_hash=row.password_hash, live=row.live, display_username=row.display_username,
        allow_cloning=row.allow_cloning, expires_at=row.expires_at, max_views=row.max_views,
        max_clones=row.max_clones, allow_view_after_clone_limit=row.allow_view_after_clone_limit,
        upto_message_id=row.upto_message_id, views=row.views, clones=row.clones,
        revoked_at=row.revoked_at, created_at=row.created_at, updated_at=row.updated_at,
        content_version=row.content_version, owner_only=row.owner_only,
    )


# --- status in SQL -------------------------------------------------------------------------

def revoked_clause() -> sa.ColumnElement[bool]:
    return t.state == STATE_REVOKED


def _expired_by_time(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(t.expires_at.is_not(None), t.expires_at <= now)


def expired_clause(now: datetime) -> sa.ColumnElement[bool]:
    """Expired and not revoked (revoked wins, as in ``domain.shares.share_status``). Said
    as "state is 0 or 1, and ..." so an index on (user_id, state, ...) answers it as one
    range instead of two."""
    return sa.and_(t.state.in_((STATE_ACTIVE, STATE_VIEWS_USED)),
                   sa.or_(t.state == STATE_VIEWS_USED, _expired_by_time(now)))


def active_clause(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(t.state == STATE_ACTIVE, _not_expired_by_time(now))


def _not_expired_by_time(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(t.expires_at.is_(None), t.expires_at > now)


def open_clause(now: datetime, *, view_held: bool) -> sa.ColumnElement[bool]:
    """``domain.shares.is_open``: active, or for a viewer holding a view, also with its views
    used up."""
    if not view_held:
        return active_clause(now)
    return sa.and_(t.state.in_((STATE_ACTIVE, STATE_VIEWS_USED)), _not_expired_by_time(now))


def status_case(now: datetime) -> sa.ColumnElement[str]:
    return sa.case((revoked_clause(), "revoked"), (expired_clause(now), "expired"),
                   else_="active")


def status_clause(status: ShareStatus, now: datetime) -> sa.ColumnElement[bool]:
    if status == "revoked":
        return revoked_clause()
    if status == "expired":
        return expired_clause(now)
    return active_clause(now)


# --- single shares -------------------------------------------------------------------------

async def insert_share(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(shares.insert().values(**values))


async def get_share(conn: AsyncConnection, share_pk: str) -> Share | None:
    row = (await conn.execute(sa.select(shares).where(t.id == share_pk))).first()
    return to_share(row) if row else None


async def get_share_for_conversation(
    conn: AsyncConnection, conversation_id: str, *, user_id: str
) -> Share | None:
    query = sa.select(shares).where(t.conversation_id == conversation_id, t.user_id == user_id)
    row = (await conn.execute(query)).first()
    return to_share(row) if row else None


async def get_share_by_link(
    conn: AsyncConnection, share_id: str, *, user_id: str | None = None
) -> Share | None:
    query = sa.select(shares).where(t.share_id == share_id)
    if user_id is not None:
        query = query.where(t.user_id == user_id)
    row = (await conn.execute(query)).first()
    return to_share(row) if row else None


def _access_query(share_id: str | sa.BindParameter[str]) -> sa.Select[Any]:
    enabled = (sa.select(instance_config.c.value)
               .where(instance_config.c.key == SHARING_ENABLED_KEY).scalar_subquery())
    return (
        sa.select(shares, users.c.name.label("owner_name"),
                  users.c.permissions.label("owner_permissions"), enabled.label("enabled"))
        .join(users, users.c.id == t.user_id)
        .where(t.share_id == share_id)
    )


def _to_access(row: Any) -> ShareAccess | None:
    if row is None:
        return None
    return ShareAccess(share=to_share(row), owner_name=row.owner_name,
                       owner_permissions=dict(row.owner_permissions or {}),
                       sharing_enabled=row.enabled is not False)


async def get_share_access(conn: AsyncConnection, share_id: str) -> ShareAccess | None:
    """The hot path's one read: share row + owner + the instance switch (a scalar subquery)."""
    return _to_access((await conn.execute(_access_query(share_id))).first())


class _CompiledRead:
    """``_access_query`` compiled once for a dialect, with each column's own result
    processor (dates, booleans, JSON come back exactly as through SQLAlchemy)."""

    def __init__(self, dialect: sa.Dialect) -> None:
        query = _access_query(sa.bindparam("share_id"))
        compiled = query.compile(dialect=dialect)
        self.sql = str(compiled)
        # Positional parameters: the link, and the constants the query binds itself.
        order = compiled.positiontup or []
        self._params = [compiled.params[name] for name in order]
        self._link_at = order.index("share_id")
        self.names = [str(c.key) for c in query.selected_columns]
        self.processors = [c.type.dialect_impl(dialect).result_processor(dialect, None)
                           for c in query.selected_columns]

    def params(self, share_id: str) -> tuple[Any, ...]:
        values = list(self._params)
        values[self._link_at] = share_id
        return tuple(values)

    def row(self, values: Sequence[Any]) -> SimpleNamespace:
        return SimpleNamespace(**{
            name: process(value) if process is not None else value
            for name, process, value in zip(self.names, self.processors, values, strict=True)})


_READS: dict[tuple[str, str], _CompiledRead] = {}


def _compiled_read(dialect: sa.Dialect) -> _CompiledRead:
    key = (dialect.name, dialect.driver)
    if key not in _READS:
        _READS[key] = _CompiledRead(dialect)
    return _READS[key]


async def get_share_access_raw(reader: RowReader, share_id: str) -> ShareAccess | None:
    """``get_share_access`` on the hot path's reader: the same query and the same result,
    without building and compiling a statement or opening a transaction per request."""
    read = _compiled_read(reader.dialect)
    values = await reader.fetch_one(read.sql, read.params(share_id))
    return None if values is None else _to_access(read.row(values))


async def has_shareable_messages(conn: AsyncConnection, conversation_id: str) -> bool:
    """Whether the conversation has a message a share would show (any but a system one)."""
    query = sa.select(sa.literal(1)).where(messages.c.conversation_id == conversation_id,
                                           messages.c.role != "system").limit(1)
    return (await conn.execute(query)).first() is not None


async def is_share_id_taken(conn: AsyncConnection, share_id: str) -> bool:
    query = sa.select(sa.literal(1)).where(t.share_id == share_id)
    return (await conn.execute(query)).first() is not None


async def update_share(conn: AsyncConnection, share_pk: str, **values: Any) -> None:
    """Set columns; an ``updated_at`` never goes below ``created_at`` (the dashboard's date
    filter relies on it, whatever the clock did)."""
    if isinstance(values.get("updated_at"), datetime):
        moment = values["updated_at"]
        values["updated_at"] = sa.case((t.created_at > moment, t.created_at), else_=moment)
    await conn.execute(shares.update().where(t.id == share_pk).values(**values))


async def follow_title(conn: AsyncConnection, conversation_id: str, title: str) -> None:
    """A live share shows the conversation's current title (a snapshot keeps its own)."""
    await conn.execute(shares.update().where(t.conversation_id == conversation_id,
                                             t.live.is_(True)).values(title=title))


async def count_view(conn: AsyncConnection, share_pk: str, *, now: datetime) -> int | None:
    """Spend one view: the new count, or None when the share may not be seen any more (view
    limit used up, expired or revoked meanwhile). One statement, exact under concurrency."""
    result = await conn.execute(
        shares.update()
        .where(t.id == share_pk, active_clause(now))
        .values(views=t.views + 1)
        .returning(t.views)
    )
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


ADD_VIEWS_CHUNK = 500


async def add_views(conn: AsyncConnection, counts: Mapping[str, int]) -> set[str]:
    """Add views already delivered (the batched counter of shares without a view limit):
    unconditional, since each was a delivery while the share was open. Returns the shares
    *not* written because another transaction is writing their row right now (another
    worker's batch, an owner's change): add those again later. Unknown shares are dropped.

    Never waits for a row lock (PostgreSQL's ``FOR UPDATE SKIP LOCKED``; SQLite has one
    writer at a time), so batches written by several workers at once cannot deadlock and
    nobody waits for them. One statement per 500 shares, in id order."""
    busy: set[str] = set()
    ids = sorted(counts)
    for start in range(0, len(ids), ADD_VIEWS_CHUNK):
        chunk = ids[start:start + ADD_VIEWS_CHUNK]
        free = (sa.select(t.id).where(t.id.in_(chunk)).order_by(t.id)
                .with_for_update(skip_locked=True))
        added = sa.case({pk: counts[pk] for pk in chunk}, value=t.id)
        result = await conn.execute(shares.update().where(t.id.in_(free))
                                    .values(views=t.views + added).returning(t.id))
        missed = set(chunk) - set(result.scalars())
        if missed:  # locked by someone else, or deleted: only the first are kept
            existing = await conn.execute(sa.select(t.id).where(t.id.in_(missed)))
            busy.update(existing.scalars())
    return busy


async def count_clone(
    conn: AsyncConnection, share_pk: str, *, now: datetime, view_held: bool = False
) -> int | None:
    """Spend one clone (None when cloning is off, the limit is used up, or the share is no
    longer open to this cloner: ``view_held`` when they hold a view, so used-up views do not
    stop them). One statement, exact under concurrency."""
    under_limit = sa.or_(t.max_clones.is_(None), t.clones < t.max_clones)
    result = await conn.execute(
        shares.update()
        .where(t.id == share_pk, t.allow_cloning.is_(True), under_limit,
               open_clause(now, view_held=view_held))
        .values(clones=t.clones + 1)
        .returning(t.clones)
    )
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


# --- snapshots -----------------------------------------------------------------------------

async def save_snapshot(
    conn: AsyncConnection, share_pk: str, *, conversation_id: str, upto_seq: int | None,
    **header: Any,
) -> None:
    """Freeze the chat's messages (up to ``upto_seq``, without system messages) in one
    INSERT ... SELECT, replacing an earlier snapshot."""
    await delete_snapshot(conn, share_pk)
    await conn.execute(share_snapshots.insert().values(share_pk=share_pk, **header))
    m = messages.c
    source = sa.select(sa.literal(share_pk), m.seq, m.role, m.parts, m.model, m.status,
                       m.created_at).where(m.conversation_id == conversation_id,
                                           m.role != "system")
    if upto_seq is not None:
        source = source.where(m.seq <= upto_seq)
    snap = share_snapshot_messages.c
    await conn.execute(share_snapshot_messages.insert().from_select(
        [snap.share_pk, snap.seq, snap.role, snap.parts, snap.model, snap.status,
         snap.created_at], source))


async def delete_snapshot(conn: AsyncConnection, share_pk: str) -> None:
    await conn.execute(share_snapshot_messages.delete()
                       .where(share_snapshot_messages.c.share_pk == share_pk))
    await conn.execute(share_snapshots.delete().where(share_snapshots.c.share_pk == share_pk))


async def get_snapshot(conn: AsyncConnection, share_pk: str) -> dict[str, Any] | None:
    query = sa.select(share_snapshots).where(share_snapshots.c.share_pk == share_pk)
    row = (await conn.execute(query)).first()
    return dict(row._mapping) if row else None


async def snapshot_messages(conn: AsyncConnection, share_pk: str) -> list[Message]:
    snap = share_snapshot_messages.c
    query = sa.select(share_snapshot_messages).where(snap.share_pk == share_pk).order_by(snap.seq)
    return [
        Message(id=str(r.seq), conversation_id=share_pk, seq=r.seq, role=r.role,
                parts=list(r.parts or []), created_at=r.created_at, model=r.model,
                status=r.status)
        for r in await conn.execute(query)
    ]


async def message_seq(conn: AsyncConnection, conversation_id: str, message_id: str) -> int | None:
    """The position of a (non-system) message of the conversation: a share checkpoint."""
    query = sa.select(messages.c.seq).where(messages.c.conversation_id == conversation_id,
                                            messages.c.id == message_id,
                                            messages.c.role != "system")
    value = (await conn.execute(query)).scalar_one_or_none()
    return None if value is None else int(value)


async def conversation_files(conn: AsyncConnection, conversation_id: str) -> list[dict[str, Any]]:
    query = sa.select(files.c.id, files.c.name, files.c.media_type, files.c.size,
                      files.c.sha256).where(files.c.conversation_id == conversation_id)
    return [dict(r._mapping) for r in await conn.execute(query)]


# --- the dashboard -------------------------------------------------------------------------

def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def title_contains(text: str, dialect: str) -> sa.ColumnElement[bool]:
    """Case-insensitive substring match, for every alphabet (SQLite's own folds ASCII only)."""
    pattern = _like_pattern(text.lower())
    if dialect == "sqlite":
        if text.isascii():  # SQLite's LIKE folds ASCII itself, in C
            return t.title.like(pattern, escape="\\")
        return sa.func.salon_lower(t.title).like(pattern, escape="\\")
    return t.title.ilike(pattern, escape="\\")


def _filters(
    user_id: str, f: ShareFilter, now: datetime, dialect: str, *, counting: bool = False
) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [t.user_id == user_id]
    if f.query:
        where.append(title_contains(f.query, dialect))
    created_at: sa.ColumnElement[datetime] = t.created_at
    if counting and dialect == "sqlite":
        # SQLite would walk a date index and read each row from the table; written as
        # "+created_at" the bound is checked inside the covering facets index instead.
        created_at = sa.literal_column("+shares.created_at", type_=t.created_at.type)
    if f.start is not None:
        where.append(created_at >= f.start)
        if not counting:
            # updated_at never precedes created_at, so the same bound holds for it: stated,
            # it lets "recent shares by last update" walk the updated_at index from the bound.
            where.append(t.updated_at >= f.start)
    if f.end is not None:
        where.append(created_at < f.end)
    if f.visibility is not None:  # an "only me" share is never public (is_public False)
        where.append(t.is_public == (f.visibility == "public"))
        if f.visibility != "public":
            where.append(t.owner_only == (f.visibility == "only_me"))
    if f.password is not None:
        where.append(t.has_password == f.password)
    if f.status is not None:
        where.append(status_clause(f.status, now))
    if f.type is not None:
        where.append(t.live == (f.type == "live"))
    return where


def _sort_key(column: SortColumn, now: datetime) -> sa.ColumnElement[Any]:
    special: dict[str, sa.ColumnElement[Any]] = {
        "status": status_case(now),
        "type": sa.case((t.live.is_(True), "live"), else_="snapshot"),
    }
    return special[column] if column in special else t[column]


def _is_fixed_by(f: ShareFilter) -> bool:
    """Whether the filter leaves every match the same sort key (then only the id orders)."""
    fixed = {"status": f.status, "type": f.type, "is_public": f.visibility,
             "has_password": f.password}
    return fixed.get(f.order_by) is not None


def _order(f: ShareFilter, now: datetime) -> list[sa.ColumnElement[Any]]:
    keys = [t.id] if _is_fixed_by(f) else [_sort_key(f.order_by, now), t.id]
    return [k.asc() if f.direction == "asc" else k.desc() for k in keys]


async def list_shares(
    conn: AsyncConnection, *, user_id: str, f: ShareFilter, now: datetime
) -> tuple[list[Share], int]:
    """One page of a user's shares and how many match in all."""
    where = _filters(user_id, f, now, conn.dialect.name)
    order = _order(f, now)
    # The page's ids first (answered from the covering index), then only those rows.
    page_ids = (sa.select(t.id).where(*where).order_by(*order)
                .limit(f.page_size).offset((f.page - 1) * f.page_size))
    ids = [r.id for r in await conn.execute(page_ids)]
    counted = _filters(user_id, f, now, conn.dialect.name, counting=True)
    total = sa.select(sa.func.count()).select_from(shares).where(*counted)
    count = int((await conn.execute(total)).scalar_one())
    if not ids:
        return [], count
    rows = {r.id: to_share(r) for r in await conn.execute(sa.select(shares).where(t.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows], count


async def share_summaries(
    conn: AsyncConnection, *, user_id: str, now: datetime
) -> list[dict[str, Any]]:
    """Id, chat, title, type and status of every share of a user (oldest first)."""
    query = (
        sa.select(t.share_id, t.conversation_id, t.title, t.live,
                  status_case(now).label("status"))
        .where(t.user_id == user_id).order_by(t.created_at, t.id)
    )
    return [
        {"share_id": r.share_id, "chat_id": r.conversation_id, "title": r.title,
         "type": "live" if r.live else "snapshot", "status": r.status}
        for r in await conn.execute(query)
    ]


def _owned(user_id: str, chat_ids: Sequence[str] | None) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [t.user_id == user_id]
    if chat_ids is not None:
        where.append(t.conversation_id.in_(list(chat_ids)))
    return where


async def revoke_shares(
    conn: AsyncConnection, *, user_id: str, now: datetime, chat_ids: Sequence[str] | None = None
) -> int:
    """Revoke by hand (those not revoked yet); returns how many changed."""
    result = await conn.execute(
        shares.update().where(*_owned(user_id, chat_ids), t.revoked_at.is_(None))
        .values(revoked_at=now, updated_at=now)
    )
    return int(result.rowcount)


async def reset_stats(
    conn: AsyncConnection, *, user_id: str, now: datetime, chat_ids: Sequence[str] | None = None
) -> int:
    result = await conn.execute(
        shares.update().where(*_owned(user_id, chat_ids)).values(views=0, clones=0,
                                                                 updated_at=now)
    )
    return int(result.rowcount)


async def delete_revoked(conn: AsyncConnection, *, user_id: str) -> int:
    """Remove every revoked share of a user (their links answer NOT_FOUND; the chats stay)."""
    result = await conn.execute(shares.delete().where(t.user_id == user_id, revoked_clause()))
    return int(result.rowcount)


async def make_private(conn: AsyncConnection, *, user_ids: Sequence[str], now: datetime) -> int:
    """Turn the public shares of these users into logged-in-only ones (links stay active)."""
    if not user_ids:
        return 0
    result = await conn.execute(
        shares.update().where(t.user_id.in_(list(user_ids)), t.is_public.is_(True))
        .values(is_public=False, updated_at=now)
    )
    return int(result.rowcount)


async def owners_with_public_shares(conn: AsyncConnection) -> list[tuple[str, dict[str, bool]]]:
    """(user id, permission overrides) of every user with a public share."""
    query = (sa.select(users.c.id, users.c.permissions).where(
        users.c.id.in_(sa.select(t.user_id).where(t.is_public.is_(True)))))
    return [(r.id, dict(r.permissions or {})) for r in await conn.execute(query)]


# --- instance switches ---------------------------------------------------------------------

async def get_config(conn: AsyncConnection, key: str) -> Any:
    query = sa.select(instance_config.c.value).where(instance_config.c.key == key)
    return (await conn.execute(query)).scalar_one_or_none()


async def set_config(conn: AsyncConnection, key: str, value: Any) -> None:
    await conn.execute(instance_config.delete().where(instance_config.c.key == key))
    await conn.execute(instance_config.insert().values(key=key, value=value))
