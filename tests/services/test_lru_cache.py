"""``context.LruCache``: bounded by entries, or by the bytes its entries were said to take,
evicting the least recently used first."""

from __future__ import annotations

import threading

from salon.services.context import LruCache


def test_bytes_bound_evicts_the_least_recently_used() -> None:
    cache = LruCache(max_bytes=100)
    cache.put("a", "A", size=40)
    cache.put("b", "B", size=40)
    assert cache.get("a") == "A"  # now more recent than b
    cache.put("c", "C", size=40)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")
    assert cache.size == 80 and len(cache) == 2


def test_an_entry_larger_than_the_bound_is_not_kept_and_evicts_nothing() -> None:
    cache = LruCache(max_bytes=100)
    cache.put("a", "A", size=60)
    cache.put("huge", "H", size=101)
    assert cache.get("huge") is None and cache.get("a") == "A" and cache.size == 60


def test_replacing_an_entry_counts_its_new_size_only() -> None:
    cache = LruCache(max_bytes=100)
    cache.put("a", "A", size=60)
    cache.put("a", "A2", size=30)
    cache.put("b", "B", size=70)
    assert (cache.get("a"), cache.get("b"), cache.size) == ("A2", "B", 100)
    cache.put("a", "A3", size=200)  # too big now: dropped, not kept at its old size
    assert (cache.get("a"), cache.size) == (None, 70)


def test_entries_bound_still_holds() -> None:
    cache = LruCache(max_items=2)
    for key in "abc":
        cache.put(key, key.upper())
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (None, "B", "C", 2)


def test_threads_putting_at_once_keep_the_count_exact() -> None:
    cache = LruCache(max_bytes=1000)

    def fill(offset: int) -> None:
        for n in range(2000):
            cache.put((offset, n % 50), n, size=7)
            cache.get((offset, (n * 7) % 50))

    threads = [threading.Thread(target=fill, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.size == 7 * len(cache) and cache.size <= 1000
