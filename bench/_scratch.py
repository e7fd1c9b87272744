"""What the benchmark scripts share: a scratch PostgreSQL database, made and dropped."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa

from salon.config import normalize_database_url
from salon.store.db import execute_autocommit


class Unreachable(Exception):
    """The PostgreSQL server named by the benchmark's URL did not answer."""


@asynccontextmanager
async def scratch_postgres(admin_url: str) -> AsyncIterator[str]:
    """A fresh database next to ``admin_url``'s, as a URL; dropped (with its connections)
    afterwards. Raises Unreachable when the server cannot be reached."""
    admin = normalize_database_url(admin_url)
    name = f"salon_bench_{uuid.uuid4().hex[:10]}"
    try:
        await execute_autocommit(admin, f'CREATE DATABASE "{name}"')
    except OSError as exc:
        raise Unreachable(str(exc)) from exc
    try:
        yield sa.make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        await execute_autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
