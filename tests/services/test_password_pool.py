"""The password pool's threads yield the CPU to requests: they hash at a lower priority."""

from __future__ import annotations

import os
import threading

from argon2 import PasswordHasher

from salon.services.passwords import HASHING_NICENESS, PasswordPool


class PriorityOfHashing(PasswordHasher):
    """A cheap hasher that notes the priority of the thread it hashes in."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.seen: list[int] = []

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return super().hash(password, salt=salt)


async def test_hashing_threads_run_at_a_lower_priority() -> None:
    hasher = PriorityOfHashing()
    pool = PasswordPool(hasher, workers=1, queue=0)
    try:
        await pool.hash("long enough pw")
    finally:
        pool.close()
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert hasher.seen == [min(19, mine + HASHING_NICENESS)]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # not the loop's
