"""Several workers under a mixed load: figures to read, not a test (nothing here asserts a time).

    SALON_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/multiworker.py
    BENCH_SECONDS=20 BENCH_USERS=10 ...               # shorter, fewer users

``salon serve --workers 2`` (production settings) runs on a scratch PostgreSQL database it
creates and drops, with Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/13) and the
tests' fake model server (real HTTP streaming). BENCH_USERS (default 30) simulated users act
for BENCH_SECONDS (default 60), one request after another: they chat, share their chats (some
links with a view limit, some with a password, some live), change, revoke and restore their
links, look at their dashboard, open each other's links as anonymous visitors (the page and
the API; a password link after giving its password, once per user and link) and clone them.

Printed: responses with a 5xx status and requests that timed out (after 10 s), p50 / p95 per
action, and counter drift: for every link, the views and clones the database counted (after a
graceful stop, so every batched view is written) against the deliveries the users received.
Goals: 0 5xx, 0 timeouts, p95 < 1 s, counts exact.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import secrets
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa
from _scratch import Unreachable, scratch_postgres
from live import start_fake_model
from share_page import free_port, launch, stop_server

from salon.store.db import create_engine
from salon.store.tables import shares

SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))
USERS = int(os.environ.get("BENCH_USERS", "30"))
WORKERS = 2
DATABASE_URL = os.environ.get("SALON_BENCH_DATABASE_URL", "")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
REQUEST_TIMEOUT = 10.0
PASSWORD = "bench password 123"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True)
class Link:
    share_id: str
    owner: int
    password: str | None


@dataclass
class Tally:
    """Everything the users saw, and what they received that the server must have counted."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    timeouts: Counter[str] = field(default_factory=Counter)
    broken: Counter[str] = field(default_factory=Counter)  # connection errors, by kind
    views: Counter[str] = field(default_factory=Counter)  # deliveries per link
    clones: Counter[str] = field(default_factory=Counter)


@dataclass
class World:
    base: str
    tally: Tally = field(default_factory=Tally)
    links: list[Link] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(1))


class User:
    def __init__(self, n: int, world: World) -> None:
        self.n = n
        self.world = world
        self.http = httpx.AsyncClient(base_url=world.base, timeout=REQUEST_TIMEOUT)
        self.anon = httpx.AsyncClient(base_url=world.base, timeout=REQUEST_TIMEOUT)
        self.chats: list[str] = []
        self.shared: dict[str, str] = {}  # chat id -> link
        self.unlocks: dict[str, str] = {}  # link -> unlock token (the password given once)

    async def call(self, action: str, client: httpx.AsyncClient, method: str, url: str,
                   **kwargs: object) -> httpx.Response | None:
        tally = self.world.tally
        started = time.perf_counter()
        try:
            r = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException:
            tally.timeouts[action] += 1
            return None
        except httpx.TransportError as exc:
            tally.broken[f"{action}: {type(exc).__name__}"] += 1
            return None
        tally.seconds[action].append(time.perf_counter() - started)
        tally.statuses[action, r.status_code] += 1
        return r

    async def sign_up(self) -> None:
        r = await self.http.post("/api/v1/auths/signup", json={
            "name": f"User {self.n}", "email": f"user{self.n}@bench.example",
            "password": PASSWORD})
        r.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {r.json()['token']}"

    async def act_until(self, deadline: float) -> None:
        actions: list[tuple[Callable[[], Awaitable[None]], int]] = [
            (self.chat, 10), (self.share, 8), (self.revoke, 4), (self.restore, 4),
            (self.dashboard, 5), (self.view_page, 30), (self.view_api, 20), (self.clone, 5)]
        functions, weights = zip(*actions, strict=True)
        while time.perf_counter() < deadline:
            await self.world.rng.choices(functions, weights)[0]()

    # --- the owner's side --------------------------------------------------------------------

    async def chat(self) -> None:
        rng = self.world.rng
        body: dict[str, object] = {"q": f"Question {rng.randrange(10**6)}", "stream": False}
        if self.chats and rng.random() < 0.5:
            body["conversation_id"] = rng.choice(self.chats)
        r = await self.call("chat", self.http, "POST", "/api/chat", json=body)
        if r is not None and r.status_code == 200 and "conversation_id" not in body:
            self.chats.append(r.json()["conversationId"])

    async def share(self) -> None:
        if not self.chats:
            return await self.chat()
        rng = self.world.rng
        chat_id = rng.choice(self.chats)
        new = chat_id not in self.shared
        kind = rng.choice(["plain", "limited", "password", "live"]) if new else "change"
        options: dict[str, dict[str, object]] = {
            "plain": {}, "limited": {"max_views": rng.randrange(5, 30)},
            "password": {"password": PASSWORD}, "live": {"live": True},
            "change": {"allow_cloning": rng.random() < 0.7}}
        r = await self.call("share", self.http, "POST", f"/api/v1/chats/{chat_id}/share",
                            json=options[kind])
        if r is not None and r.status_code == 200 and new:
            link = r.json()["share_id"]
            self.shared[chat_id] = link
            self.world.links.append(Link(link, self.n, PASSWORD if kind == "password" else None))

    async def revoke(self) -> None:
        if self.shared:
            chat_id = self.world.rng.choice(list(self.shared))
            await self.call("revoke", self.http, "DELETE", f"/api/v1/chats/{chat_id}/share")

    async def restore(self) -> None:
        if self.shared:
            chat_id = self.world.rng.choice(list(self.shared))
            await self.call("restore", self.http, "POST",
                            f"/api/v1/chats/{chat_id}/share/restore")

    async def dashboard(self) -> None:
        await self.call("dashboard", self.http, "GET", "/api/v1/chats/shared")

    # --- the visitors' side ------------------------------------------------------------------

    def someone_elses_link(self) -> Link | None:
        others = [link for link in self.world.links if link.owner != self.n]
        return self.world.rng.choice(others) if others else None

    async def unlocked(self, link: Link) -> dict[str, str] | None:
        """Headers to open ``link`` with as a new anonymous visitor (None: not unlocked). A
        password is given once per user and link (its check costs a password hash); every
        visit still spends a view (no view grant is kept)."""
        self.anon.cookies.clear()
        if link.password is None:
            return {}
        if link.share_id not in self.unlocks:
            r = await self.call("verify password", self.anon, "POST",
                                f"/api/v1/chats/share/{link.share_id}/verify",
                                json={"password": link.password})
            self.anon.cookies.clear()
            if r is None or r.status_code != 200:
                return None
            self.unlocks[link.share_id] = r.json()["token"]
        return {"X-Share-Unlock": self.unlocks[link.share_id]}

    async def view_page(self) -> None:
        await self.view("view page", "/s/{}", {"Accept": "text/html"})

    async def view_api(self) -> None:
        await self.view("view API", "/api/v1/chats/share/{}", {})

    async def view(self, action: str, path: str, headers: dict[str, str]) -> None:
        link = self.someone_elses_link()
        if link is None:
            return
        unlock = await self.unlocked(link)
        if unlock is None:
            return
        r = await self.call(action, self.anon, "GET", path.format(link.share_id),
                            headers={**headers, **unlock})
        if r is not None and r.status_code == 200:
            self.world.tally.views[link.share_id] += 1
        elif r is not None and r.status_code == 401:  # the owner changed the link: unlock again
            self.unlocks.pop(link.share_id, None)

    async def clone(self) -> None:
        """A clone delivers the content too: it spends a view as well (no view grant held)."""
        link = self.someone_elses_link()
        if link is None or link.password is not None:
            return
        self.http.cookies.clear()  # no grant from an earlier view or clone
        r = await self.call("clone", self.http, "POST",
                            f"/api/v1/chats/{link.share_id}/clone/shared")
        if r is not None and r.status_code == 200:
            self.world.tally.clones[link.share_id] += 1
            self.world.tally.views[link.share_id] += 1

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.anon.aclose()


# --- running -----------------------------------------------------------------------------------

async def run(database_url: str, data_dir: Path) -> None:
    model, model_url = start_fake_model()
    port = free_port()
    env = {**os.environ, "SALON_ENV": "production", "SALON_SECRET_KEY": secrets.token_urlsafe(48),
           "SALON_DATA_DIR": str(data_dir),
           "SALON_DATABASE_URL": database_url, "SALON_REDIS_URL": REDIS_URL,
           "SALON_LLM_PROVIDER": "openai", "SALON_LLM_BASE_URL": f"{model_url}/v1",
           "SALON_LLM_MODEL": "fake-model", "SALON_HOST": "127.0.0.1", "SALON_PORT": str(port),
           "SALON_LOG_LEVEL": "warning", "SALON_SIGNUP_LIMIT_PER_HOUR": "100000"}
    salon, base = launch(env, port, command=[sys.executable, "-m", "salon", "serve",
                                             "--workers", str(WORKERS)])
    world = World(base)
    users = [User(n, world) for n in range(USERS)]
    try:
        for user in users:  # one at a time: a burst of password hashes is refused (429)
            await user.sign_up()
        deadline = time.perf_counter() + SECONDS
        await asyncio.gather(*(user.act_until(deadline) for user in users))
    finally:
        for user in users:
            await user.aclose()
        stop_server(salon)  # graceful: each worker writes its batched views
        model.terminate()
        model.wait(timeout=10)
    report(world.tally, await stored_counts(database_url))


async def stored_counts(database_url: str) -> dict[str, tuple[int, int]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(shares.c.share_id, shares.c.views,
                                                shares.c.clones))
            return {row.share_id: (row.views, row.clones) for row in rows}
    finally:
        await engine.dispose()


def report(tally: Tally, stored: dict[str, tuple[int, int]]) -> None:
    print(f"\n== PostgreSQL + Redis, {WORKERS} workers: {USERS} users for {SECONDS:g} s "
          f"(load average at the end: {os.getloadavg()[0]:.1f})")
    server_errors = sum(n for (_, status), n in tally.statuses.items() if status >= 500)
    print(f"  requests: {sum(tally.statuses.values()):,}; 5xx: {server_errors} (goal 0); "
          f"timeouts: {sum(tally.timeouts.values())} (goal 0); broken connections: "
          f"{sum(tally.broken.values())} {dict(tally.broken) or ''}")
    print(f"  {'action':<16} {'count':>7} {'p50 ms':>8} {'p95 ms':>8}  statuses")
    for action in sorted(tally.seconds):
        ms = [s * 1000 for s in tally.seconds[action]]
        statuses = ", ".join(f"{status}: {n}" for (name, status), n
                             in sorted(tally.statuses.items()) if name == action)
        timeouts = f", timed out: {tally.timeouts[action]}" if tally.timeouts[action] else ""
        print(f"  {action:<16} {len(ms):>7,} {percentile(ms, .5):>8.1f} "
              f"{percentile(ms, .95):>8.1f}  {statuses}{timeouts}")
    print("  (goal: p95 < 1,000 ms for every action)")
    for name, delivered, index in (("views", tally.views, 0), ("clones", tally.clones, 1)):
        counted = {link: values[index] for link, values in stored.items()}
        wrong = [link for link in counted if counted[link] != delivered[link]]
        print(f"  {name}: {sum(delivered.values()):,} delivered, {sum(counted.values()):,} "
              f"counted, {len(wrong)} of {len(counted)} links differ (goal: exact)")


def main() -> None:
    print("Salon multi-worker benchmark. Figures only; nothing is asserted.")
    if not DATABASE_URL:
        print("Set SALON_BENCH_DATABASE_URL to a PostgreSQL server (several workers need it).")
        return

    async def with_scratch_database() -> None:
        with tempfile.TemporaryDirectory(prefix="salon-bench-") as tmp:
            async with scratch_postgres(DATABASE_URL) as url:
                await run(url, Path(tmp))

    try:
        asyncio.run(with_scratch_database())
    except Unreachable as exc:
        print(f"PostgreSQL at SALON_BENCH_DATABASE_URL is not reachable: {exc}")


if __name__ == "__main__":
    main()
