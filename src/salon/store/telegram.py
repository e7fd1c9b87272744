"""The Telegram bot's rows: link codes, linked accounts, each chat's conversation.
Repositories never commit: the caller's transaction does (``store.db.transaction``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.store.tables import telegram_chats, telegram_link_codes, telegram_links


async def insert_link_code(
    conn: AsyncConnection, *, code_hash: str, user_id: str, expires_at: datetime, now: datetime
) -> None:
    """Store a new code; the user's earlier codes, and everyone's expired ones, go."""
    await conn.execute(telegram_link_codes.delete().where(
        (telegram_link_codes.c.user_id == user_id) | (telegram_link_codes.c.expires_at <= now)))
    await conn.execute(telegram_link_codes.insert().values(
        code_hash=code_hash, user_id=user_id, expires_at=expires_at))


async def take_link_code(conn: AsyncConnection, code_hash: str, *, now: datetime) -> str | None:
    """Use up the code: the user id it was made for, or None when it is unknown, used or
    expired. One DELETE decides, so two uses at once cannot both succeed."""
    row = (await conn.execute(
        sa.select(telegram_link_codes.c.user_id, telegram_link_codes.c.expires_at)
        .where(telegram_link_codes.c.code_hash == code_hash))).first()
    if row is None:
        return None
    deleted = await conn.execute(telegram_link_codes.delete().where(
        telegram_link_codes.c.code_hash == code_hash))
    if deleted.rowcount != 1 or row.expires_at <= now:
        return None
    user_id: str = row.user_id
    return user_id


async def link_account(
    conn: AsyncConnection, *, telegram_user_id: int, user_id: str, telegram_name: str,
    now: datetime,
) -> None:
    """Link (or re-link) the Telegram account; its chats start new conversations."""
    await conn.execute(telegram_links.delete().where(
        telegram_links.c.telegram_user_id == telegram_user_id))
    await conn.execute(telegram_links.insert().values(
        telegram_user_id=telegram_user_id, user_id=user_id, telegram_name=telegram_name[:200],
        created_at=now))


async def unlink_accounts(conn: AsyncConnection, user_id: str) -> int:
    deleted = await conn.execute(telegram_links.delete().where(
        telegram_links.c.user_id == user_id))
    return int(deleted.rowcount or 0)


async def get_linked_user_id(conn: AsyncConnection, telegram_user_id: int) -> str | None:
    user_id: str | None = (await conn.execute(
        sa.select(telegram_links.c.user_id)
        .where(telegram_links.c.telegram_user_id == telegram_user_id))).scalar()
    return user_id


async def list_linked_names(conn: AsyncConnection, user_id: str) -> list[str]:
    rows = await conn.execute(
        sa.select(telegram_links.c.telegram_name).where(telegram_links.c.user_id == user_id)
        .order_by(telegram_links.c.created_at))
    return [str(name) for name in rows.scalars()]


async def get_chat_conversation(
    conn: AsyncConnection, *, chat_id: int, telegram_user_id: int
) -> str | None:
    conversation_id: str | None = (await conn.execute(
        sa.select(telegram_chats.c.conversation_id).where(
            telegram_chats.c.chat_id == chat_id,
            telegram_chats.c.telegram_user_id == telegram_user_id))).scalar()
    return conversation_id


async def set_chat_conversation(
    conn: AsyncConnection, *, chat_id: int, telegram_user_id: int, conversation_id: str | None
) -> None:
    """Point the chat at the conversation (None: forget it, the next message starts one)."""
    await conn.execute(telegram_chats.delete().where(
        telegram_chats.c.chat_id == chat_id,
        telegram_chats.c.telegram_user_id == telegram_user_id))
    if conversation_id is not None:
        await conn.execute(telegram_chats.insert().values(
            chat_id=chat_id, telegram_user_id=telegram_user_id,
            conversation_id=conversation_id))
