"""Conversation storage on both databases: atomic positions and quota, cascades, times."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncEngine

from salon.domain.conversations import Conversation, Message
from salon.domain.users import User
from salon.store import conversations as repo
from salon.store import users as user_repo
from salon.store.db import transaction

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def make_user(db: AsyncEngine) -> User:
    user = User(id=str(uuid.uuid4()), email=f"{uuid.uuid4().hex}@e.com", name="U", role="user",
                created_at=T0)
    async with transaction(db) as conn:
        await user_repo.insert_user(conn, user=user, password_hash="x")
    return user


async def make_conversation(db: AsyncEngine, user: User) -> Conversation:
    conv = Conversation(id=str(uuid.uuid4()), user_id=user.id, title="t", slug="t",
                        agent_slug="salon", recipe={}, file_filters=[], created_at=T0,
                        updated_at=T0)
    async with transaction(db) as conn:
        await repo.insert_conversation(conn, conv)
    return conv


async def test_concurrent_positions_are_unique(db: AsyncEngine) -> None:
    conv = await make_conversation(db, await make_user(db))

    async def add(i: int) -> int:
        async with transaction(db) as conn:
            seq = await repo.next_seq(conn, conv.id)
            await repo.insert_message(conn, Message(
                id=str(uuid.uuid4()), conversation_id=conv.id, seq=seq, role="user",
                parts=[{"type": "text", "text": str(i)}], created_at=T0))
            return seq

    seqs = await asyncio.gather(*(add(i) for i in range(20)))
    assert sorted(seqs) == list(range(20))
    async with db.connect() as conn:
        stored = await repo.list_messages(conn, conv.id)
    assert [m.seq for m in stored] == list(range(20))


async def test_quota_is_exact_under_concurrency(db: AsyncEngine) -> None:
    user = await make_user(db)
    day = date(2026, 3, 1)

    async def take() -> bool:
        async with transaction(db) as conn:
            return await repo.take_quota(conn, user_id=user.id, day=day, limit=5)

    results = await asyncio.gather(*(take() for _ in range(20)))
    assert results.count(True) == 5
    async with transaction(db) as conn:  # a new day starts again
        assert await repo.take_quota(conn, user_id=user.id, day=day + timedelta(days=1), limit=5)


async def test_times_come_back_aware_utc(db: AsyncEngine) -> None:
    user = await make_user(db)
    paris = timezone(timedelta(hours=1))
    conv = Conversation(id=str(uuid.uuid4()), user_id=user.id, title="t", slug="t",
                        agent_slug="salon", recipe={"model": "m"}, file_filters=["a"],
                        created_at=datetime(2026, 3, 1, 13, 0, tzinfo=paris), updated_at=T0)
    async with transaction(db) as conn:
        await repo.insert_conversation(conn, conv)
    async with db.connect() as conn:
        got = await repo.get_conversation(conn, conv.id, user_id=user.id)
    assert got is not None
    assert got.created_at == T0 and got.created_at.tzinfo is not None
    assert got.recipe == {"model": "m"} and got.file_filters == ["a"]


async def test_owner_scoping_and_cascade(db: AsyncEngine) -> None:
    owner, other = await make_user(db), await make_user(db)
    conv = await make_conversation(db, owner)
    async with transaction(db) as conn:
        await repo.insert_message(conn, Message(
            id=str(uuid.uuid4()), conversation_id=conv.id, seq=0, role="user",
            parts=[], created_at=T0))
        await repo.insert_file(conn, id=str(uuid.uuid4()), user_id=owner.id,
                               conversation_id=conv.id, sha256="a" * 64, name="f",
                               media_type="text/plain", size=1, created_at=T0)
    async with transaction(db) as conn:
        assert await repo.get_conversation(conn, conv.id, user_id=other.id) is None
        assert not await repo.delete_conversation(conn, conv.id, user_id=other.id)
        assert await repo.delete_conversation(conn, conv.id, user_id=owner.id)
    async with db.connect() as conn:
        assert await repo.list_messages(conn, conv.id) == []
        assert await repo.unreferenced_blobs(conn, {"a" * 64}) == {"a" * 64}


async def test_failed_transaction_writes_nothing(db: AsyncEngine) -> None:
    user = await make_user(db)
    conv = Conversation(id=str(uuid.uuid4()), user_id=user.id, title="t", slug="t",
                        agent_slug="salon", recipe={}, file_filters=[], created_at=T0,
                        updated_at=T0)
    try:
        async with transaction(db) as conn:
            await repo.insert_conversation(conn, conv)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with db.connect() as conn:
        assert await repo.get_conversation(conn, conv.id, user_id=user.id) is None
