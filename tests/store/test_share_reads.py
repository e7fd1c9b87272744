"""The hot path's storage on both databases: the lean row reader returns exactly what the
SQLAlchemy read returns, and batched views are added (and kept when the write fails)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from salon.services.view_batch import ViewBatch
from salon.store import shares as repo
from salon.store.db import (
    AsyncpgReader,
    RowReader,
    SqliteReader,
    create_engine,
    create_row_reader,
    transaction,
    upgrade_database,
)
from salon.store.tables import instance_config, users
from tests.store.test_shares import EARLIER, NOW, add_share, add_user, stored


async def views_of(db: AsyncEngine, share_pk: str) -> int:
    share = await stored(db, share_pk)
    assert share is not None
    return share.views


@pytest.fixture
async def reader(db: AsyncEngine) -> AsyncIterator[RowReader]:
    made = create_row_reader(db)
    assert made is not None
    yield made
    await made.close()


def test_each_database_gets_its_reader(db: AsyncEngine, tmp_path: Path) -> None:
    made = create_row_reader(db)
    expected = SqliteReader if db.dialect.name == "sqlite" else AsyncpgReader
    assert isinstance(made, expected)
    assert create_row_reader(create_engine("sqlite+aiosqlite:///:memory:")) is None


async def both_reads(db: AsyncEngine, reader: RowReader, link: str) -> tuple[object, object]:
    async with db.connect() as conn:
        through_engine = await repo.get_share_access(conn, link)
    return through_engine, await repo.get_share_access_raw(reader, link)


@pytest.mark.parametrize("values", [
    {},
    {"password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "is_public": False},
    {"expires_at": NOW + timedelta(hours=1), "max_views": 10, "views": 4, "live": True},
    {"revoked_at": NOW, "max_clones": 2, "clones": 2, "allow_view_after_clone_limit": True},
    {"title": "Ünïcødé 🎉 'quotes' \"and\" <tags>", "display_username": True},
])
async def test_the_raw_read_equals_the_engine_read(
    db: AsyncEngine, reader: RowReader, values: dict[str, object]
) -> None:
    owner = await add_user(db)
    async with transaction(db) as conn:
        await conn.execute(users.update().where(users.c.id == owner).values(
            name="Owner Name", permissions={"chat_share": True, "sharing_public_chat": False}))
    share = await add_share(db, owner, **values)
    through_engine, raw = await both_reads(db, reader, share.share_id)
    assert raw == through_engine and raw is not None
    assert raw.owner_name == "Owner Name"
    assert raw.owner_permissions == {"chat_share": True, "sharing_public_chat": False}
    assert raw.share.created_at == EARLIER and raw.share.created_at.tzinfo is not None
    assert raw.sharing_enabled is True


async def test_the_raw_read_sees_the_instance_switch_and_unknown_links(
    db: AsyncEngine, reader: RowReader
) -> None:
    share = await add_share(db, await add_user(db))
    async with transaction(db) as conn:
        await conn.execute(instance_config.insert().values(
            key=repo.SHARING_ENABLED_KEY, value=False))
    through_engine, raw = await both_reads(db, reader, share.share_id)
    assert raw == through_engine and raw is not None and raw.sharing_enabled is False
    assert await repo.get_share_access_raw(reader, "no-such-link") is None
    assert await repo.get_share_access_raw(reader, "'; DROP TABLE shares; --") is None


async def test_the_raw_read_sees_writes_at_once(db: AsyncEngine, reader: RowReader) -> None:
    share = await add_share(db, await add_user(db))
    await repo.get_share_access_raw(reader, share.share_id)  # the connection is open
    async with transaction(db) as conn:
        await repo.update_share(conn, share.id, revoked_at=NOW, updated_at=NOW)
    raw = await repo.get_share_access_raw(reader, share.share_id)
    assert raw is not None and raw.share.revoked_at == NOW


async def test_add_views_adds_to_each_share(db: AsyncEngine) -> None:
    owner = await add_user(db)
    one, two = await add_share(db, owner, views=5), await add_share(db, owner, revoked_at=NOW)
    async with transaction(db) as conn:
        await repo.add_views(conn, {one.id: 3, two.id: 2, "gone-share": 7})
    assert [await views_of(db, s.id) for s in (one, two)] == [8, 2]


# --- the batch -------------------------------------------------------------------------------

async def test_the_batch_writes_every_view_once(db: AsyncEngine) -> None:
    owner = await add_user(db)
    one, two = await add_share(db, owner), await add_share(db, owner)
    batch = ViewBatch(db)
    for _ in range(40):
        batch.add(one.id)
    batch.add(two.id)
    assert batch.pending == 41
    await asyncio.gather(batch.flush(), batch.flush(), batch.flush())
    assert batch.pending == 0
    assert [await views_of(db, s.id) for s in (one, two)] == [40, 1]
    await batch.flush()  # nothing pending: nothing written twice
    assert await views_of(db, one.id) == 40


async def test_views_added_during_a_flush_wait_for_the_next(db: AsyncEngine) -> None:
    share = await add_share(db, await add_user(db))
    batch = ViewBatch(db)
    batch.add(share.id)
    first = asyncio.ensure_future(batch.flush())
    await asyncio.sleep(0)
    batch.add(share.id)
    await first
    await batch.flush()
    assert await views_of(db, share.id) == 2


async def test_a_failed_write_keeps_the_views(tmp_path: Path) -> None:
    """The database file has no tables yet: the write fails, the counts stay pending, and
    the next flush (once the database is there) writes them."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'late.db'}")
    try:
        batch = ViewBatch(engine)
        batch.add("share-1")
        batch.add("share-1")
        with pytest.raises(sa.exc.OperationalError):
            await batch.flush()
        assert batch.pending == 2
        await upgrade_database(engine)
        await batch.flush()
        assert batch.pending == 0
    finally:
        await engine.dispose()


async def test_draining_with_the_database_away_logs_the_lost_views(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'late.db'}")  # no tables
    try:
        batch = ViewBatch(engine)
        batch.add("share-1")
        await batch.drain()  # returns: the app's shutdown goes on
        assert "stopping without writing 1 batched share views" in caplog.text
    finally:
        await engine.dispose()


async def test_the_flusher_writes_within_its_interval(db: AsyncEngine) -> None:
    share = await add_share(db, await add_user(db))
    batch = ViewBatch(db)
    runner = asyncio.ensure_future(batch.run(interval=0.05))
    try:
        batch.add(share.id)
        for _ in range(100):
            await asyncio.sleep(0.05)
            if await views_of(db, share.id) == 1:
                break
        assert await views_of(db, share.id) == 1
    finally:
        runner.cancel()
