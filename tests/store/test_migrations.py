"""Migrations go down and up again on both databases, and the dashboard's PostgreSQL indexes
(0004) are there at head and gone below it. The start-up check that skips alembic for a
database at head agrees with alembic, and still migrates one that is behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from salon.store.db import (
    MigrationError,
    alembic_config,
    create_engine,
    get_revision,
    head_revision,
    transaction,
    upgrade_database,
)

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


def test_head_revision_is_alembics() -> None:
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_upgrade_applies_pending_migrations(db: AsyncEngine) -> None:
    assert await get_revision(db) == head_revision()
    try:
        await migrate(db, "downgrade", "0003")
        assert await get_revision(db) == "0003"
        await upgrade_database(db)
        assert await get_revision(db) == head_revision()
    finally:
        await migrate(db, "upgrade", "head")


async def test_unknown_revision_is_a_migration_error(db: AsyncEngine) -> None:
    """A database a newer Salon migrated: refused with alembic's reason, never skipped."""
    async with transaction(db) as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        with pytest.raises(MigrationError, match="9999"):
            await upgrade_database(db)
    finally:
        async with transaction(db) as conn:
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = :head"),
                               {"head": head_revision()})


async def test_never_migrated_database_has_no_revision(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        assert await get_revision(engine) is None
        await upgrade_database(engine)
        assert await get_revision(engine) == head_revision()
    finally:
        await engine.dispose()
