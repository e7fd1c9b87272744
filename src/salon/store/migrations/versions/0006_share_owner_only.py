"""Shares: ``owner_only``, the "only me" visibility (spec 004's Private: the link is revoked for
everyone but the owner). Existing shares keep their visibility (false).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("shares", sa.Column("owner_only", sa.Boolean, nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("shares", "owner_only")
