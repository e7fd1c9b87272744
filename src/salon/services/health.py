"""What ``/healthz`` answers: the first thing Salon stands on that does not work right now (the
database, Redis when configured, room to write in the data folder), or None.

A load balancer takes a server that fails these out of rotation; each failure has the code the
requests themselves answer with (503 ``DATABASE_UNAVAILABLE``, ``REDIS_UNAVAILABLE``,
``STORAGE_FULL``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from salon.services.context import AppContext
from salon.store.db import ping

# Less free space than this in the data folder counts as full: an upload would fail.
MIN_FREE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class HealthProblem:
    code: str
    detail: str


async def find_problem(ctx: AppContext) -> HealthProblem | None:
    try:
        await ping(ctx.engine)
    except Exception as exc:  # the database is down: say so, with the reason's class
        return HealthProblem("DATABASE_UNAVAILABLE", type(exc).__name__)
    if ctx.redis is not None:
        try:
            await ctx.redis.ping()
        except Exception as exc:
            return HealthProblem("REDIS_UNAVAILABLE", type(exc).__name__)
    room = await asyncio.to_thread(storage_problem, ctx.settings.data_dir)
    if room is not None:
        return HealthProblem("STORAGE_FULL", room)
    return None


def storage_problem(folder: Path) -> str | None:
    """Why files cannot be written in ``folder`` now (less than MIN_FREE_BYTES free, or a
    one-byte file cannot be written), or None."""
    try:
        free = shutil.disk_usage(folder).free
        if free < MIN_FREE_BYTES:
            return f"{free} bytes free"
        handle, name = tempfile.mkstemp(dir=folder, prefix=".salon-health-")
        try:
            os.write(handle, b"\n")
        finally:
            os.close(handle)
            os.unlink(name)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None
