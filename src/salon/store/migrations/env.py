"""Alembic environment: migrations run on the connection Salon hands over (see store/db.py)."""

from __future__ import annotations

from alembic import context

from salon.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with 'salon db upgrade' (salon.store.db.upgrade_database)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
