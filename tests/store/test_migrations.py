"""Migrations go down and up again on both databases, and the dashboard's PostgreSQL indexes
(0004) are there at head and gone below it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from salon.store.db import alembic_config, transaction

POSTGRES_ONLY = {"ix_shares_user_kind", "ix_shares_title_trgm"}


async def migrate(db: AsyncEngine, direction: str, revision: str) -> None:
    def _run(sync_conn: sa.Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        getattr(command, direction)(cfg, revision)

    async with transaction(db) as conn:
        await conn.run_sync(_run)


async def share_indexes(db: AsyncEngine) -> set[str]:
    async with db.connect() as conn:
        names = await conn.run_sync(
            lambda c: {i["name"] for i in sa.inspect(c).get_indexes("shares")})
    return {str(n) for n in names}


async def test_0004_down_and_up(db: AsyncEngine) -> None:
    at_head = await share_indexes(db)
    try:
        await migrate(db, "downgrade", "0003")
        assert not await share_indexes(db) & POSTGRES_ONLY
        assert "ix_shares_user_facets" in await share_indexes(db)
    finally:
        await migrate(db, "upgrade", "head")
    assert await share_indexes(db) == at_head
    if db.dialect.name == "postgresql":
        assert POSTGRES_ONLY <= at_head
    else:
        assert not at_head & POSTGRES_ONLY
