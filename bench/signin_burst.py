"""Another user's sign-in during a burst of password guesses: figures to read, not a test
(nothing here asserts a time).

    python bench/signin_burst.py    # BENCH_BURST (default 60) guesses, the user BENCH_DELAY
                                    # (default 0.5) seconds after them

For each pool set-up, ``salon serve`` (one worker, production argon2 cost, SQLite, a free
port) gets BENCH_BURST sign-ins with wrong passwords at once, each for its own email from its
own address (``X-Forwarded-For``; the benchmark is the trusted proxy), so no rate limit stops
them and every one costs a hash. While they are in flight another user signs in with the right
password. Printed: how the burst was answered, how long the user waited for the first answer
and until signed in (after ``429 SERVER_BUSY`` the user tries again after ``Retry-After``).
The set-ups are the default bounded pool, and one whose queue holds the whole burst (what an
unbounded queue does: the user waits behind every guess).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from share_page import free_port, launch, server_env, stop_server  # noqa: E402

from salon.config import Settings  # noqa: E402

BURST = int(os.environ.get("BENCH_BURST", "60"))
DELAY = float(os.environ.get("BENCH_DELAY", "0.5"))  # after the burst, before the user
PASSWORD = "the right password"
DEFAULTS = Settings()
SETUPS = {
    f"bounded (workers {DEFAULTS.password_hash_workers}, queue "
    f"{DEFAULTS.password_hash_queue})": {},
    f"queue holds the burst (queue {BURST + 10})": {"SALON_PASSWORD_HASH_QUEUE": str(BURST + 10)},
}


def guess(c: httpx.AsyncClient, n: int) -> asyncio.Task[httpx.Response]:
    return asyncio.create_task(c.post(
        "/api/v1/auths/signin", json={"email": f"guess{n}@example.com", "password": "wrong"},
        headers={"X-Forwarded-For": f"10.9.{n // 250}.{n % 250 + 1}"}))


async def sign_in(c: httpx.AsyncClient, email: str) -> tuple[float, float, int]:
    """Seconds to the first answer, seconds until signed in, and how many tries."""
    began = time.monotonic()
    first = 0.0
    for tries in range(1, 100):
        r = await c.post("/api/v1/auths/signin", json={"email": email, "password": PASSWORD},
                         headers={"X-Forwarded-For": "10.8.0.1"})
        first = first or time.monotonic() - began
        if r.status_code == 200:
            return first, time.monotonic() - began, tries
        await asyncio.sleep(float(r.headers.get("retry-after", "1")))
    raise RuntimeError("the user never got in")


async def measure(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120,
                                 limits=httpx.Limits(max_connections=BURST + 10)) as c:
        email = f"user-{secrets.token_hex(4)}@example.com"
        r = await c.post("/api/v1/auths/signup", json={"name": "User", "email": email,
                                                       "password": PASSWORD})
        r.raise_for_status()
        burst = [guess(c, n) for n in range(BURST)]
        await asyncio.sleep(DELAY)  # the burst has reached the server
        first, signed_in, tries = await sign_in(c, email)
        answers = Counter(f"{r.status_code} {r.json()['code']}"
                          for r in await asyncio.gather(*burst))
    print(f"  burst of {BURST}: " + ", ".join(f"{n}x {a}" for a, n in sorted(answers.items())))
    print(f"  the other user: first answer after {first:.2f} s, signed in after "
          f"{signed_in:.2f} s ({tries} {'try' if tries == 1 else 'tries'})")


def main() -> None:
    for label, extra in SETUPS.items():
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(env="production", data_dir=Path(data_dir), database_url="",
                                llm_provider="none", secret_key=secrets.token_urlsafe(48))
            port = free_port()
            proc, base = launch({**server_env(settings, port), **extra}, port)
            try:
                print(label)
                asyncio.run(measure(base))
            finally:
                stop_server(proc)


if __name__ == "__main__":
    main()
