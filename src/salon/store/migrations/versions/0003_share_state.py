"""Shares: generated ``state`` and ``has_password`` columns, and a narrow dashboard index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# As in store/tables.py when this revision was written.
SHARE_STATE_SQL = (
    "CASE WHEN revoked_at IS NOT NULL OR (max_clones IS NOT NULL AND clones >= max_clones"
    " AND NOT allow_view_after_clone_limit) THEN 2"
    " WHEN max_views IS NOT NULL AND views >= max_views THEN 1 ELSE 0 END"
)
FACET_COLUMNS = ["user_id", "state", "is_public", "has_password", "live", "expires_at",
                 "created_at", "updated_at", "views", "clones", "id", "title"]


HAS_PASSWORD_SQL = "password_hash IS NOT NULL"
STATE_INPUTS = ("revoked_at, max_clones, clones, allow_view_after_clone_limit, max_views, views,"
                " password_hash")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _add_sqlite_columns()
    else:
        op.add_column("shares", sa.Column(
            "state", sa.SmallInteger, sa.Computed(SHARE_STATE_SQL, persisted=True),
            nullable=False))
        op.add_column("shares", sa.Column(
            "has_password", sa.Boolean, sa.Computed(HAS_PASSWORD_SQL, persisted=True),
            nullable=False))
    op.drop_index("ix_shares_user_dashboard", table_name="shares")
    op.create_index("ix_shares_user_facets", "shares", FACET_COLUMNS)


def _add_sqlite_columns() -> None:
    """SQLite can only add VIRTUAL generated columns, which an index cannot cover (every
    count would read the table), so there they are plain columns that triggers keep equal to
    the same expressions, in the statement that changes their inputs."""
    op.execute("ALTER TABLE shares ADD COLUMN state SMALLINT NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE shares ADD COLUMN has_password BOOLEAN NOT NULL DEFAULT 0")
    derive = f"SET state = {SHARE_STATE_SQL}, has_password = {HAS_PASSWORD_SQL}"
    op.execute(f"UPDATE shares {derive}")
    op.execute(f"CREATE TRIGGER shares_state_insert AFTER INSERT ON shares BEGIN "
               f"UPDATE shares {derive} WHERE id = NEW.id; END")
    op.execute(f"CREATE TRIGGER shares_state_update AFTER UPDATE OF {STATE_INPUTS} ON shares "
               f"BEGIN UPDATE shares {derive} WHERE id = NEW.id; END")


def downgrade() -> None:
    op.drop_index("ix_shares_user_facets", table_name="shares")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER shares_state_update")
        op.execute("DROP TRIGGER shares_state_insert")
    op.drop_column("shares", "has_password")
    op.drop_column("shares", "state")
