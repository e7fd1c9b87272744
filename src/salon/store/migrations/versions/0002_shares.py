"""Shares, their snapshots, and instance-wide switches.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from salon.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
# As created by this revision (0003 replaces it with a narrower index).
DASHBOARD_COLUMNS = ("user_id", "revoked_at", "max_clones", "clones",
                     "allow_view_after_clone_limit", "expires_at", "max_views", "views",
                     "is_public", "live", "created_at", "updated_at", "share_id", "title",
                     "password_hash", "id")


def upgrade() -> None:
    op.create_table(
        "shares",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("share_id", sa.String(144), nullable=False),
        sa.Column("conversation_id", sa.String(36),
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("is_public", sa.Boolean, nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("live", sa.Boolean, nullable=False),
        sa.Column("display_username", sa.Boolean, nullable=False),
        sa.Column("allow_cloning", sa.Boolean, nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("max_views", sa.Integer, nullable=True),
        sa.Column("max_clones", sa.Integer, nullable=True),
        sa.Column("allow_view_after_clone_limit", sa.Boolean, nullable=False),
        sa.Column("upto_message_id", sa.String(36), nullable=True),
        sa.Column("views", sa.Integer, nullable=False, server_default="0"),
        sa.Column("clones", sa.Integer, nullable=False, server_default="0"),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("content_version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("share_id", name="uq_shares_share_id"),
        sa.UniqueConstraint("conversation_id", name="uq_shares_conversation_id"),
    )
    op.create_index("ix_shares_user_created", "shares", ["user_id", "created_at"])
    op.create_index("ix_shares_user_updated", "shares", ["user_id", "updated_at"])
    op.create_index("ix_shares_user_title", "shares", ["user_id", "title"])
    op.create_index("ix_shares_user_views", "shares", ["user_id", "views"])
    op.create_index("ix_shares_user_clones", "shares", ["user_id", "clones"])
    op.create_index("ix_shares_user_link", "shares", ["user_id", "share_id"])
    op.create_index("ix_shares_user_dashboard", "shares", list(DASHBOARD_COLUMNS))
    op.create_table(
        "share_snapshots",
        sa.Column("share_pk", sa.String(36), sa.ForeignKey("shares.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("recipe", JSON, nullable=False),
        sa.Column("conversation_created_at", UTCDateTime(), nullable=False),
        sa.Column("conversation_updated_at", UTCDateTime(), nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "share_snapshot_messages",
        sa.Column("share_pk", sa.String(36), sa.ForeignKey("shares.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("parts", JSON, nullable=False),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "instance_config",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", JSON, nullable=False),
    )


def downgrade() -> None:
    for table in ("instance_config", "share_snapshot_messages", "share_snapshots", "shares"):
        op.drop_table(table)
