"""What every use case needs, built once by the app (or the CLI) and passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

from salon.config import Settings
from salon.llm.base import Provider
from salon.services.ratelimit import RateLimiter
from salon.store.blobs import BlobStore


def utc_now() -> datetime:
    return datetime.now(UTC)


def password_hasher(settings: Settings) -> PasswordHasher:
    """argon2id with the library's recommended cost; the test environment (``SALON_ENV=test``,
    never production) uses a minimal cost so a test suite does not spend minutes hashing."""
    if settings.env == "test":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    blobs: BlobStore
    provider: Provider
    clock: Callable[[], datetime] = utc_now
    limiter: RateLimiter = field(default_factory=RateLimiter)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)

    def now(self) -> datetime:
        return self.clock()
