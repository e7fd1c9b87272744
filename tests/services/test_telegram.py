"""Linking Telegram accounts: one-time codes (hashed, single use, expiring, limited) and each
Telegram chat's conversation, with a controlled clock, on both databases."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from salon.domain.errors import InvalidInput, RateLimited
from salon.domain.users import User
from salon.services import auth, conversations
from salon.services import telegram as links
from salon.services.context import AppContext
from salon.store.tables import telegram_link_codes

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
TG_USER = 5150


@pytest.fixture
def ctx(app: Any) -> AppContext:
    context: AppContext = app.state.ctx
    context.clock = lambda: T0
    return context


async def make_user(ctx: AppContext, name: str = "Ada") -> User:
    return await auth.create_user(ctx, email=f"{name.lower()}@example.com", name=name,
                                  password="long enough pw")


async def link(ctx: AppContext, code: str, telegram_user_id: int = TG_USER) -> User:
    return await links.link_account(ctx, code=code, telegram_user_id=telegram_user_id,
                                    telegram_name="ada_tg")


async def test_codes_are_stored_hashed_and_work_once(ctx: AppContext) -> None:
    user = await make_user(ctx)
    made = await links.create_link_code(ctx, user)
    assert made.expires_at == T0 + timedelta(minutes=ctx.settings.telegram_link_code_minutes)
    async with ctx.engine.connect() as conn:
        stored = (await conn.execute(sa.select(telegram_link_codes.c.code_hash))).scalars().all()
    assert stored == [hashlib.sha256(made.code.encode()).hexdigest()]
    # Typed in lower case with a space: still the code.
    spaced = f"{made.code[:4].lower()} {made.code[4:]}"
    assert (await link(ctx, spaced)).id == user.id
    assert (await links.get_linked_user(ctx, TG_USER)) == user
    with pytest.raises(InvalidInput) as error:
        await link(ctx, made.code, telegram_user_id=TG_USER + 1)
    assert error.value.code == "TELEGRAM_CODE_INVALID"
    assert await links.get_linked_user(ctx, TG_USER + 1) is None


async def test_codes_expire(ctx: AppContext) -> None:
    made = await links.create_link_code(ctx, await make_user(ctx))
    ctx.clock = lambda: made.expires_at
    with pytest.raises(InvalidInput):
        await link(ctx, made.code)
    assert await links.get_linked_user(ctx, TG_USER) is None


async def test_a_new_code_replaces_the_last(ctx: AppContext) -> None:
    user = await make_user(ctx)
    first = await links.create_link_code(ctx, user)
    second = await links.create_link_code(ctx, user)
    with pytest.raises(InvalidInput):
        await link(ctx, first.code)
    assert (await link(ctx, second.code)).id == user.id


async def test_wrong_codes_are_limited(ctx: AppContext) -> None:
    made = await links.create_link_code(ctx, await make_user(ctx))
    for _ in range(links.LINK_ATTEMPTS_PER_HOUR):
        with pytest.raises(InvalidInput):
            await link(ctx, "WRONG123")
    with pytest.raises(RateLimited):
        await link(ctx, made.code)  # even the right one, until the hour is over


async def test_chat_conversations_and_relinking(ctx: AppContext) -> None:
    ada, bob = await make_user(ctx, "Ada"), await make_user(ctx, "Bob")
    await link(ctx, (await links.create_link_code(ctx, ada)).code)
    conv = await conversations.create_conversation(ctx, ada)
    await links.set_chat_conversation(ctx, chat_id=1, telegram_user_id=TG_USER,
                                      conversation_id=conv.id)
    assert await links.get_chat_conversation(ctx, chat_id=1, telegram_user_id=TG_USER) == conv.id
    # Deleted on the web: the chat's next message starts a new conversation.
    await conversations.delete_conversation(ctx, ada, conv.id)
    assert await links.get_chat_conversation(ctx, chat_id=1, telegram_user_id=TG_USER) is None
    conv = await conversations.create_conversation(ctx, ada)
    await links.set_chat_conversation(ctx, chat_id=1, telegram_user_id=TG_USER,
                                      conversation_id=conv.id)
    # Linked to another account: Ada's conversation is no longer this chat's.
    await link(ctx, (await links.create_link_code(ctx, bob)).code)
    assert (await links.get_linked_user(ctx, TG_USER)) == bob
    assert await links.get_chat_conversation(ctx, chat_id=1, telegram_user_id=TG_USER) is None
    assert await links.list_linked_accounts(ctx, ada) == []
    assert await links.unlink_accounts(ctx, bob) == 1
    assert await links.get_linked_user(ctx, TG_USER) is None
