"""The Telegram bot: one-time link codes (hashed), linked Telegram accounts, and each
Telegram chat's current conversation.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from salon.store.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_link_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "telegram_links",
        sa.Column("telegram_user_id", sa.BigInteger, primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("telegram_name", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "telegram_chats",
        sa.Column("chat_id", sa.BigInteger, primary_key=True),
        sa.Column("telegram_user_id", sa.BigInteger,
                  sa.ForeignKey("telegram_links.telegram_user_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("conversation_id", sa.String(36),
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False,
                  index=True),
    )


def downgrade() -> None:
    op.drop_table("telegram_chats")
    op.drop_table("telegram_links")
    op.drop_table("telegram_link_codes")
