"""Conversations, their messages and files. Every query is scoped to an owner where a caller
could name another user's row: a missing owner match looks exactly like a missing row."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.conversations import Conversation, Message
from salon.store.tables import conversation_imports, conversations, files, message_quota, messages


def _to_conversation(row: sa.Row[Any]) -> Conversation:
    return Conversation(
        id=row.id,
        user_id=row.user_id,
        title=row.title,
        slug=row.slug,
        agent_slug=row.agent_slug,
        recipe=dict(row.recipe or {}),
        file_filters=list(row.file_filters or []),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _to_message(row: sa.Row[Any]) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        role=row.role,
        parts=list(row.parts or []),
        created_at=row.created_at,
        turn_id=row.turn_id,
        model=row.model,
        usage=dict(row.usage or {}),
        status=row.status,
    )


async def insert_conversation(conn: AsyncConnection, conv: Conversation) -> None:
    await conn.execute(
        conversations.insert().values(
            id=conv.id,
            user_id=conv.user_id,
            title=conv.title,
            slug=conv.slug,
            agent_slug=conv.agent_slug,
            recipe=conv.recipe,
            file_filters=conv.file_filters,
            next_seq=0,
            created_at=conv.created_at,
            updated_at=conv.updated_at,
        )
    )


async def get_conversation(
    conn: AsyncConnection, conversation_id: str, *, user_id: str
) -> Conversation | None:
    query = sa.select(conversations).where(
        conversations.c.id == conversation_id, conversations.c.user_id == user_id
    )
    row = (await conn.execute(query)).first()
    return _to_conversation(row) if row else None


async def get_latest_conversation(conn: AsyncConnection, *, user_id: str) -> Conversation | None:
    query = (
        sa.select(conversations)
        .where(conversations.c.user_id == user_id)
        .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return _to_conversation(row) if row else None


async def list_conversations(
    conn: AsyncConnection, *, user_id: str, limit: int | None = None, offset: int = 0
) -> list[Conversation]:
    query = (
        sa.select(conversations)
        .where(conversations.c.user_id == user_id)
        .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return [_to_conversation(r) for r in await conn.execute(query)]


async def count_conversations(conn: AsyncConnection, *, user_id: str) -> int:
    query = sa.select(sa.func.count()).where(conversations.c.user_id == user_id)
    return int((await conn.execute(query)).scalar_one())


async def update_conversation(
    conn: AsyncConnection, conversation_id: str, *, user_id: str, **values: Any
) -> bool:
    result = await conn.execute(
        conversations.update()
        .where(conversations.c.id == conversation_id, conversations.c.user_id == user_id)
        .values(**values)
    )
    return result.rowcount > 0


async def delete_conversation(conn: AsyncConnection, conversation_id: str, *, user_id: str) -> bool:
    result = await conn.execute(
        conversations.delete().where(
            conversations.c.id == conversation_id, conversations.c.user_id == user_id
        )
    )
    return result.rowcount > 0


async def has_answer(conn: AsyncConnection, conversation_id: str, turn_id: str) -> bool:
    """Whether the turn's answer is stored already."""
    found = await conn.execute(
        sa.select(messages.c.id).where(
            messages.c.conversation_id == conversation_id, messages.c.turn_id == turn_id,
            messages.c.role == "assistant").limit(1))
    return found.first() is not None


async def next_seq(conn: AsyncConnection, conversation_id: str) -> int:
    """Reserve the next message position (one atomic UPDATE ... RETURNING)."""
    result = await conn.execute(
        conversations.update()
        .where(conversations.c.id == conversation_id)
        .values(next_seq=conversations.c.next_seq + 1)
        .returning(conversations.c.next_seq)
    )
    return int(result.scalar_one()) - 1


def _message_row(message: Message) -> dict[str, Any]:
    return {
        "id": message.id, "conversation_id": message.conversation_id, "seq": message.seq,
        "turn_id": message.turn_id, "role": message.role, "parts": message.parts,
        "model": message.model, "usage": message.usage, "status": message.status,
        "created_at": message.created_at,
    }


async def insert_message(conn: AsyncConnection, message: Message) -> None:
    await conn.execute(messages.insert().values(**_message_row(message)))


async def insert_messages(conn: AsyncConnection, batch: list[Message]) -> None:
    """Many messages in one executemany (cloning, importing)."""
    if batch:
        await conn.execute(messages.insert(), [_message_row(m) for m in batch])


async def list_messages(conn: AsyncConnection, conversation_id: str) -> list[Message]:
    query = (
        sa.select(messages)
        .where(messages.c.conversation_id == conversation_id)
        .order_by(messages.c.seq)
    )
    return [_to_message(r) for r in await conn.execute(query)]


async def insert_file(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(files.insert().values(**values))


async def insert_files(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(files.insert(), rows)


async def list_files(conn: AsyncConnection, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's file rows, oldest first."""
    query = (sa.select(files).where(files.c.conversation_id == conversation_id)
             .order_by(files.c.created_at, files.c.id))
    return [dict(r._mapping) for r in await conn.execute(query)]


async def find_import(conn: AsyncConnection, *, user_id: str, fingerprint: str) -> str | None:
    """The conversation an earlier import of the same file made, if it still exists."""
    query = sa.select(conversation_imports.c.conversation_id).where(
        conversation_imports.c.user_id == user_id,
        conversation_imports.c.fingerprint == fingerprint)
    return (await conn.execute(query)).scalar_one_or_none()


async def record_import(conn: AsyncConnection, *, user_id: str, fingerprint: str,
                        conversation_id: str, now: Any) -> None:
    """Raises IntegrityError when the same file was imported meanwhile."""
    await conn.execute(conversation_imports.insert().values(
        user_id=user_id, fingerprint=fingerprint, conversation_id=conversation_id,
        created_at=now))


async def get_file(conn: AsyncConnection, file_id: str, *, user_id: str) -> dict[str, Any] | None:
    query = sa.select(files).where(files.c.id == file_id, files.c.user_id == user_id)
    row = (await conn.execute(query)).first()
    return dict(row._mapping) if row else None


async def conversation_blob_hashes(conn: AsyncConnection, conversation_id: str) -> set[str]:
    query = sa.select(files.c.sha256).where(files.c.conversation_id == conversation_id)
    return {r.sha256 for r in await conn.execute(query)}


async def unreferenced_blobs(conn: AsyncConnection, hashes: set[str]) -> set[str]:
    """Those of ``hashes`` that no file row points at any more."""
    if not hashes:
        return set()
    query = sa.select(files.c.sha256).where(files.c.sha256.in_(hashes)).distinct()
    still_used = {r.sha256 for r in await conn.execute(query)}
    return hashes - still_used


async def take_quota(
    conn: AsyncConnection, *, user_id: str, day: date, limit: int
) -> bool:
    """Count one message against the day's quota; False (and nothing counted) if it is used
    up. The row is created if missing (ON CONFLICT DO NOTHING), then one conditional UPDATE
    counts: exact under any concurrency on both backends."""
    await conn.execute(
        _insert_or_ignore(conn, message_quota).values(user_id=user_id, day=day, count=0)
    )
    updated = await conn.execute(
        message_quota.update()
        .where(message_quota.c.user_id == user_id, message_quota.c.day == day,
               message_quota.c.count < limit)
        .values(count=message_quota.c.count + 1)
    )
    return bool(updated.rowcount)


def _insert_or_ignore(conn: AsyncConnection, table: sa.Table) -> sa.Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect, imported here: a
    server on SQLite never loads PostgreSQL's (some 20 ms of every start)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()

