"""Migration 0006 (the "only me" visibility) on SQLite and PostgreSQL: it goes down and up
again; shares stored before it keep their visibility (``owner_only`` false), and the columns
the database keeps for the dashboard (``state``, ``has_password``) still follow their inputs."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from salon.store import shares as repo
from salon.store.db import transaction
from salon.store.tables import shares
from tests.store.test_migrations import migrate
from tests.store.test_shares import add_user, insert_rows, share_row


async def share_columns(db: AsyncEngine) -> set[str]:
    async with db.connect() as conn:
        names = await conn.run_sync(
            lambda c: {col["name"] for col in sa.inspect(c).get_columns("shares")})
    return {str(n) for n in names}


async def test_0006_down_and_up_keeps_shares(db: AsyncEngine) -> None:
    assert "owner_only" in await share_columns(db)
    user_id = await add_user(db)
    try:
        await migrate(db, "downgrade", "0005")
        assert "owner_only" not in await share_columns(db)
        [before] = await insert_rows(db, [share_row(user_id, is_public=False, max_views=2)])
    finally:
        await migrate(db, "upgrade", "head")
    assert "owner_only" in await share_columns(db)
    async with transaction(db) as conn:
        share = await repo.get_share(conn, before.id)
        assert share is not None
        assert (share.owner_only, share.visibility) == (False, "private")
        await conn.execute(shares.update().where(shares.c.id == before.id)
                           .values(views=2, password_hash="hash", owner_only=True))
        row = (await conn.execute(sa.select(shares.c.state, shares.c.has_password,
                                            shares.c.owner_only)
                                  .where(shares.c.id == before.id))).one()
    assert tuple(row) == (1, True, True)
