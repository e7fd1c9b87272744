"""Dashboard counts on PostgreSQL: an index for the visibility / password / type filters, and a
trigram index for the title search.

PostgreSQL's planner reads every row of a user's shares (a sequential scan) to count matches of
``is_public`` / ``has_password`` / ``live`` or of a title substring; with these indexes the
count reads only the matching entries. SQLite's planner handles both from ``ix_shares_user_facets``
(see ``store.shares.list_shares``), so nothing changes there.

The trigram index needs the ``pg_trgm`` extension (shipped with PostgreSQL, trusted, so a
database owner may create it). When it cannot be created, the title search keeps working
without the index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

KIND_COLUMNS = ["user_id", "is_public", "has_password", "live", "state", "expires_at",
                "created_at", "updated_at"]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.create_index("ix_shares_user_kind", "shares", KIND_COLUMNS)
    if _has_trigrams(bind):
        op.execute("CREATE INDEX ix_shares_title_trgm ON shares USING gin (title gin_trgm_ops)")


def _has_trigrams(bind: sa.Connection) -> bool:
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm is not available (%s): the dashboard's title search works "
                    "without its index", type(exc.orig).__name__)
        return False
    return True


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_shares_title_trgm")
    op.drop_index("ix_shares_user_kind", table_name="shares")
