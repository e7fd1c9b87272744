"""What the benchmark scripts share: a scratch PostgreSQL database, made and dropped."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

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


async def on_each_backend(run: Callable[[str, str, Path], Awaitable[None]]) -> None:
    """``run(label, database_url, data_dir)`` on SQLite (``database_url`` empty: the data
    dir's), then on a scratch PostgreSQL database when SALON_BENCH_DATABASE_URL names a server
    (a line says so when it does not, or the server does not answer)."""
    with tempfile.TemporaryDirectory(prefix="salon-bench-") as tmp:
        await run("SQLite", "", Path(tmp) / "sqlite")
        pg_url = os.environ.get("SALON_BENCH_DATABASE_URL", "")
        if not pg_url:
            print("\n(PostgreSQL skipped: set SALON_BENCH_DATABASE_URL to a server URL to "
                  "include it.)")
            return
        try:
            async with scratch_postgres(pg_url) as url:
                await run("PostgreSQL", url, Path(tmp) / "postgresql")
        except Unreachable as exc:
            print(f"\n(PostgreSQL skipped: SALON_BENCH_DATABASE_URL is not reachable: {exc})")
