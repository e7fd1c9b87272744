"""Linking Telegram accounts to Salon accounts, and each Telegram chat's conversation.

A user asks Settings for a one-time code and sends it to the bot (``/link CODE``). The code
is kept only as its SHA-256, works once, and expires after SALON_TELEGRAM_LINK_CODE_MINUTES.
Wrong codes are limited per Telegram account, so codes cannot be guessed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from salon.domain.errors import InvalidInput, RateLimited
from salon.domain.users import User
from salon.services.auth import hash_secret
from salon.services.context import AppContext
from salon.store import telegram as repo
from salon.store import users as user_repo
from salon.store.db import transaction

# No 0/O, 1/I/L: codes are read off one screen and typed on another.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
LINK_ATTEMPTS_PER_HOUR = 10


@dataclass(frozen=True)
class LinkCode:
    code: str
    expires_at: datetime


def normalize_code(text: str) -> str:
    """The code as stored: upper case, without the spaces or dashes people type."""
    return "".join(ch for ch in text.upper() if ch not in " -\t")


async def create_link_code(ctx: AppContext, user: User) -> LinkCode:
    """A new code for ``user`` (their earlier unused code stops working)."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    now = ctx.now()
    expires_at = now + timedelta(minutes=ctx.settings.telegram_link_code_minutes)
    async with transaction(ctx.engine) as conn:
        await repo.insert_link_code(conn, code_hash=hash_secret(code), user_id=user.id,
                                    expires_at=expires_at, now=now)
    return LinkCode(code=code, expires_at=expires_at)


async def link_account(
    ctx: AppContext, *, code: str, telegram_user_id: int, telegram_name: str
) -> User:
    """Use up ``code``: the Telegram account is linked to the code's Salon account (and
    unlinked from any other). Raises InvalidInput (TELEGRAM_CODE_INVALID) for an unknown,
    used or expired code, RateLimited after too many wrong ones."""
    key = f"telegram-link:{telegram_user_id}"
    wait = await ctx.limiter.retry_after(key, limit=LINK_ATTEMPTS_PER_HOUR, window=3600)
    if wait:
        raise RateLimited("Too many wrong codes; try again later.", retry_after=int(wait) + 1)
    now = ctx.now()
    async with transaction(ctx.engine) as conn:
        user_id = await repo.take_link_code(conn, hash_secret(normalize_code(code)), now=now)
        user = await user_repo.get_user(conn, user_id) if user_id else None
        if user is not None:
            await repo.link_account(conn, telegram_user_id=telegram_user_id, user_id=user.id,
                                    telegram_name=telegram_name, now=now)
    if user is None:
        await ctx.limiter.hit(key, window=3600)
        raise InvalidInput("This code is not valid: it was used already, has expired or was "
                           "mistyped. Make a new one in Salon's Settings.",
                           code="TELEGRAM_CODE_INVALID")
    return user


async def get_linked_user(ctx: AppContext, telegram_user_id: int) -> User | None:
    async with ctx.engine.connect() as conn:
        user_id = await repo.get_linked_user_id(conn, telegram_user_id)
        return await user_repo.get_user(conn, user_id) if user_id else None


async def list_linked_accounts(ctx: AppContext, user: User) -> list[str]:
    """The names of the Telegram accounts linked to ``user``, oldest first."""
    async with ctx.engine.connect() as conn:
        return await repo.list_linked_names(conn, user.id)


async def unlink_accounts(ctx: AppContext, user: User) -> int:
    async with transaction(ctx.engine) as conn:
        return await repo.unlink_accounts(conn, user.id)


async def get_chat_conversation(ctx: AppContext, *, chat_id: int,
                                telegram_user_id: int) -> str | None:
    """The conversation the chat continues, None when the next message starts one."""
    async with ctx.engine.connect() as conn:
        return await repo.get_chat_conversation(conn, chat_id=chat_id,
                                                telegram_user_id=telegram_user_id)


async def set_chat_conversation(ctx: AppContext, *, chat_id: int, telegram_user_id: int,
                                conversation_id: str | None) -> None:
    async with transaction(ctx.engine) as conn:
        await repo.set_chat_conversation(conn, chat_id=chat_id,
                                         telegram_user_id=telegram_user_id,
                                         conversation_id=conversation_id)
