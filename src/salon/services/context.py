"""What every use case needs, built once by the app (or the CLI) and passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from salon.config import Settings
from salon.llm.base import Provider
from salon.services.ratelimit import RateLimiter
from salon.store.blobs import BlobStore


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    blobs: BlobStore
    provider: Provider
    clock: Callable[[], datetime] = utc_now
    limiter: RateLimiter = field(default_factory=RateLimiter)

    def now(self) -> datetime:
        return self.clock()
