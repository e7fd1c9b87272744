"""In-process sliding-window rate limiter (one worker). Keys are opaque strings."""

from __future__ import annotations

import time
from collections import deque


class RateLimiter:
    """``hit(key, limit, window)`` records an attempt; ``retry_after`` says when to retry."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    def _window(self, key: str, window: float, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._evict(now, window)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - window:
            hits.popleft()
        return hits

    def _evict(self, now: float, window: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - window]:
            del self._hits[key]
        if len(self._hits) >= self._max_keys:
            self._hits.clear()

    def retry_after(self, key: str, *, limit: int, window: float) -> float:
        """Seconds until an attempt is allowed again; 0 when allowed now."""
        now = time.monotonic()
        hits = self._window(key, window, now)
        if len(hits) < limit:
            return 0.0
        return max(0.0, hits[0] + window - now)

    def hit(self, key: str, *, window: float) -> None:
        now = time.monotonic()
        self._window(key, window, now).append(now)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)
