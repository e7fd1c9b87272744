"""What every use case needs, built once by the app (or the CLI) and passed in."""

from __future__ import annotations

import asyncio
import threading
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
from salon.services.live_redis import RedisLiveHub
from salon.services.live_redis_limits import RedisStreamLimits
from salon.services.passwords import PasswordPool
from salon.services.ratelimit import Limiter, RateLimiter
from salon.services.render_pool import RenderPool
from salon.services.view_batch import ViewBatch
from salon.store.blobs import BlobStore
from salon.store.db import RowReader, create_row_reader


class LruCache:
    """A least-recently-used map, bounded by entries (``max_items``) and, when ``max_bytes``
    is given, by the total of the sizes ``put`` was told (an entry alone larger than that is
    not kept). Safe to use from several threads (pages are rendered off the event loop)."""

    def __init__(self, *, max_items: int | None = None, max_bytes: int | None = None) -> None:
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self.size = 0  # the total of the kept entries' sizes

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Any, *, size: int = 0) -> None:
        """Keep ``value`` (about ``size`` bytes), dropping the least recently used entries
        beyond the bounds."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= old[1]
            if self._max_bytes is not None and size > self._max_bytes:
                return
            self._items[key] = (value, size)
            self.size += size
            while self._over():
                self.size -= self._items.popitem(last=False)[1][1]

    def _over(self) -> bool:
        return ((self._max_items is not None and len(self._items) > self._max_items)
                or (self._max_bytes is not None and self.size > self._max_bytes))


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
    # The JSON an anonymous viewer of a snapshot gets from GET /api/v1/chats/share/{id}
    # (web.api.share_view.ViewBody), keyed by share, link, content version, last change,
    # status and base URL; at most SALON_PAGE_CACHE_BYTES.
    share_view_cache: LruCache = field(init=False)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    # Immutable content only (a snapshot's, keyed by share and content version): never access
    # decisions, which are made from the database on every request. At most 64 MiB (of the
    # content's JSON), so a few huge snapshots cannot fill the memory.
    snapshot_cache: LruCache = field(
        default_factory=lambda: LruCache(max_bytes=64 * 1024 * 1024))
    # The rendered share page an anonymous viewer gets for a snapshot (bytes with a nonce
    # placeholder), keyed by share, link, content version and whether cloning is offered;
    # at most SALON_PAGE_CACHE_BYTES.
    share_page_cache: LruCache = field(init=False)
    # Shared messages rendered as their page shows them, keyed by link and content
    # (web.pages.share_render); at most SALON_MESSAGE_CACHE_BYTES.
    message_cache: LruCache = field(init=False)
    # Share pages are rendered on these threads, not on the event loop (services.render_pool).
    renders: RenderPool = field(init=False)
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
        self.share_page_cache = LruCache(max_bytes=self.settings.page_cache_bytes)
        self.share_view_cache = LruCache(max_bytes=self.settings.page_cache_bytes)
        self.message_cache = LruCache(max_bytes=self.settings.message_cache_bytes)
        self.renders = RenderPool(workers=self.settings.render_workers,
                                  queue=self.settings.render_queue)
        self.passwords = PasswordPool(self.hasher,
                                      workers=self.settings.password_hash_workers,
                                      queue=self.settings.password_hash_queue)

    def now(self) -> datetime:
        return self.clock()
