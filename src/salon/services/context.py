"""What every use case needs, built once by the app (or the CLI) and passed in."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

from salon.config import Settings
from salon.llm.base import Provider
from salon.services.answer_journal import AnswerJournal
from salon.services.link_scans import LinkScans
from salon.services.live import LiveHub, StreamLimits
from salon.services.live_redis import RedisLiveHub, RedisStreamLimits
from salon.services.passwords import PasswordPool
from salon.services.ratelimit import Limiter, RateLimiter
from salon.services.view_batch import ViewBatch
from salon.store.blobs import BlobStore
from salon.store.db import RowReader, create_row_reader


class LruCache:
    """A small least-recently-used map, bounded by entries."""

    def __init__(self, *, max_items: int) -> None:
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._max = max_items

    def get(self, key: Hashable) -> Any:
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: Hashable, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)


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
    limiter: Limiter = field(default_factory=RateLimiter)
    # Clients locked out for trying too many unknown share links (services.link_scans).
    link_scans: LinkScans = field(default_factory=LinkScans)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    # Immutable content only (a snapshot's, keyed by share and content version): never access
    # decisions, which are made from the database on every request.
    snapshot_cache: LruCache = field(default_factory=lambda: LruCache(max_items=32))
    # The rendered share page an anonymous viewer gets for a snapshot (bytes with a nonce
    # placeholder), keyed by share, link, content version and whether cloning is offered.
    share_page_cache: LruCache = field(default_factory=lambda: LruCache(max_items=64))
    # Live updates of conversations to the viewers of their live shares (services.live).
    live: LiveHub | RedisLiveHub = field(default_factory=LiveHub)
    live_streams: StreamLimits | RedisStreamLimits = field(default_factory=StreamLimits)
    # The Redis client when SALON_REDIS_URL is set (shared limits and live updates).
    redis: Any = None
    # Set when the server was told to stop and answers must end (as interrupted) now.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # Views of shares without a view limit, written in batches (services.view_batch).
    view_batch: ViewBatch = field(init=False)
    # What answers being written have said so far, on disk (kept if the process is killed).
    answer_journal: AnswerJournal = field(init=False)
    # The hot path's one-row share reads, outside SQLAlchemy (store.db.create_row_reader).
    row_reader: RowReader | None = field(init=False)
    # Every password hash and check goes through this bounded pool (services.passwords).
    passwords: PasswordPool = field(init=False)

    def __post_init__(self) -> None:
        self.view_batch = ViewBatch(self.engine)
        self.answer_journal = AnswerJournal(self.settings.data_dir)
        self.row_reader = create_row_reader(
            self.engine, connect_timeout=self.settings.db_connect_timeout,
            statement_timeout=self.settings.db_statement_timeout)
        self.passwords = PasswordPool(self.hasher,
                                      workers=self.settings.password_hash_workers,
                                      queue=self.settings.password_hash_queue)

    def now(self) -> datetime:
        return self.clock()
