"""Sharing benchmarks: figures to read, not a test (nothing here asserts a time).

    python bench/shares.py                    # SQLite in a temporary data dir
    SALON_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/shares.py
                                              # also PostgreSQL, in a scratch database it
                                              # creates and drops

Measures, through Salon's own services and store:
  a) share creation for one conversation of 10,000 messages (goal < 300 ms);
  b) the dashboard query over 100,000 shares of one user with a filter and a sort
     (goal < 30 ms p95);
  c) N-of-5N exactness: max_views = 100 and 500 concurrent anonymous viewers; exactly 100 must
     get the content, and the stored count must be 100.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _scratch import Unreachable, scratch_postgres

from salon.app import build_context, close_context
from salon.config import Settings
from salon.domain.conversations import Conversation, Message
from salon.domain.errors import SalonError
from salon.domain.users import User
from salon.services import auth
from salon.services import shares as share_service
from salon.services.context import AppContext
from salon.services.share_viewing import open_share
from salon.store import conversations as conv_repo
from salon.store.db import transaction
from salon.store.shares import ShareFilter
from salon.store.tables import conversations, shares

MESSAGES = 10_000
CREATE_RUNS = 5
UPDATE_RUNS = 10
DASHBOARD_SHARES = 100_000
QUERY_RUNS = 50
MAX_VIEWS = 100
VIEWERS = 5 * MAX_VIEWS
CHUNK = 5_000
WORDS = ("report", "budget", "travel", "recipe", "python", "garden", "meeting", "notes",
         "review", "draft", "ideas", "summary", "plan", "letter", "invoice", "poem")


@dataclass
class Row:
    """One line of the printed table."""

    name: str
    runs: int
    p50_ms: float
    p95_ms: float
    goal: str
    extra: str = ""


# --- timing ------------------------------------------------------------------------------------

def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def timed(
    make_call: Callable[[], Awaitable[Any]], runs: int, *, budget: float = 12.0
) -> tuple[list[float], Any]:
    """Milliseconds of each call, and the last result: ``runs`` calls, or fewer (at least 10)
    when they take more than ``budget`` seconds in all (so a slow query cannot make the whole
    script run for many minutes)."""
    samples: list[float] = []
    result = None
    deadline = time.perf_counter() + budget
    while len(samples) < runs and (len(samples) < 10 or time.perf_counter() < deadline):
        started = time.perf_counter()
        result = await make_call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def row(name: str, samples: list[float], goal: str, extra: str = "") -> Row:
    return Row(name, len(samples), statistics.median(samples), percentile(samples, 0.95),
               goal, extra)


# --- data --------------------------------------------------------------------------------------

async def make_user(ctx: AppContext, name: str) -> User:
    return await auth.create_user(ctx, email=f"{name}@bench.example", name=name.title(),
                                  password="bench password 123")


def conversation_row(user_id: str, title: str, moment: datetime) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "user_id": user_id, "title": title, "slug": "bench",
            "agent_slug": "salon", "recipe": {"model": "bench"}, "file_filters": [],
            "next_seq": 0, "created_at": moment, "updated_at": moment}


async def long_conversation(ctx: AppContext, user: User, n_messages: int) -> str:
    """A conversation of ``n_messages`` messages, inserted in bulk."""
    now = ctx.now()
    conv = Conversation(id=str(uuid.uuid4()), user_id=user.id, title="A very long chat",
                        slug="a-very-long-chat", agent_slug="salon",
                        recipe={"model": "bench"}, file_filters=[], created_at=now,
                        updated_at=now)
    batch = [
        Message(id=str(uuid.uuid4()), conversation_id=conv.id, seq=seq,
                role="user" if seq % 2 == 0 else "assistant",
                parts=[{"type": "text", "text": f"Message {seq}: " + " ".join(
                    WORDS[(seq + k) % len(WORDS)] for k in range(40))}],
                created_at=now + timedelta(milliseconds=seq), turn_id=str(seq // 2))
        for seq in range(n_messages)
    ]
    async with transaction(ctx.engine) as conn:
        await conv_repo.insert_conversation(conn, conv)
        for start in range(0, len(batch), CHUNK):
            await conv_repo.insert_messages(conn, batch[start:start + CHUNK])
        await conn.execute(conversations.update().where(conversations.c.id == conv.id)
                           .values(next_seq=n_messages))
    return conv.id


def share_rows(user_id: str, conv_ids: list[str], now: datetime,
               rng: random.Random) -> Iterator[dict[str, Any]]:
    """Shares in every state: a mix of visibility, passwords, types, limits and revocations."""
    for n, conv_id in enumerate(conv_ids):
        created = now - timedelta(minutes=rng.randrange(365 * 24 * 60))
        max_views = rng.choice([None, None, None, 50, 1000])
        max_clones = rng.choice([None, None, None, None, 5])
        views = rng.randrange(0, 1200)
        clones = rng.randrange(0, 8)
        yield {
            "id": str(uuid.uuid4()), "share_id": f"b{n:07d}{uuid.uuid4().hex[:12]}",
            "conversation_id": conv_id, "user_id": user_id,
            "title": f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {n}",
            "is_public": rng.random() < 0.7,
            "password_hash": "$bench$not-a-real-hash" if rng.random() < 0.2 else None,
            "live": rng.random() < 0.3, "display_username": False, "allow_cloning": True,
            "expires_at": rng.choice([None, None, None, now - timedelta(days=1),
                                      now + timedelta(days=30)]),
            "max_views": max_views, "max_clones": max_clones,
            "allow_view_after_clone_limit": rng.random() < 0.5, "upto_message_id": None,
            "views": views if max_views is None else min(views, max_views),
            "clones": clones if max_clones is None else min(clones, max_clones),
            "revoked_at": now - timedelta(days=2) if rng.random() < 0.1 else None,
            "content_version": 1, "created_at": created,
            "updated_at": created + timedelta(minutes=rng.randrange(0, 600)),
        }


async def many_shares(ctx: AppContext, user: User, count: int) -> float:
    """``count`` conversations and one share each, inserted in bulk; returns seconds taken."""
    started = time.perf_counter()
    rng = random.Random(20260131)
    now = ctx.now()
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        convs = [conversation_row(user.id, f"chat {start + k}", now) for k in range(size)]
        async with transaction(ctx.engine) as conn:
            await conn.execute(conversations.insert(), convs)
            await conn.execute(shares.insert(),
                               list(share_rows(user.id, [c["id"] for c in convs], now, rng)))
    # Steady state, as autovacuum would leave it: planner statistics, and on PostgreSQL the
    # visibility map that lets counts use index-only scans.
    async with ctx.engine.connect() as conn:
        if ctx.engine.dialect.name == "postgresql":
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("VACUUM ANALYZE shares"))
            await conn.execute(sa.text("VACUUM ANALYZE conversations"))
        else:
            await conn.execute(sa.text("ANALYZE"))
            await conn.commit()
    return time.perf_counter() - started


# --- the benchmarks ----------------------------------------------------------------------------

async def bench_share_creation(ctx: AppContext) -> list[Row]:
    user = await make_user(ctx, "creator")
    chat_id = await long_conversation(ctx, user, MESSAGES)

    async def create() -> Any:
        async with transaction(ctx.engine) as conn:  # start from an unshared chat each time
            await conn.execute(shares.delete().where(shares.c.conversation_id == chat_id))
        started = time.perf_counter()
        share = await share_service.save_share(ctx, user, chat_id, {})
        return share, (time.perf_counter() - started) * 1000

    created = [await create() for _ in range(CREATE_RUNS)]
    samples = [ms for _, ms in created]
    update, _ = await timed(
        lambda: share_service.save_share(ctx, user, chat_id, {"update_snapshot": True}),
        UPDATE_RUNS)
    return [row(f"share creation, {MESSAGES:,} messages (new link)", samples, "< 300 ms"),
            row(f"share update_snapshot, {MESSAGES:,} messages", update, "< 300 ms"),
            row("share creation, both together", samples + update, "< 300 ms")]


async def bench_exactness(ctx: AppContext) -> tuple[Row, str]:
    user = await make_user(ctx, "popular")
    chat_id = await long_conversation(ctx, user, 4)
    share = await share_service.save_share(ctx, user, chat_id, {"max_views": MAX_VIEWS})

    async def one_viewer() -> bool:
        try:
            await open_share(ctx, share.share_id, viewer=None, unlock=None)
        except SalonError as exc:
            if exc.code != "SHARE_LINK_EXPIRED":
                raise
            return False
        return True

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(one_viewer() for _ in range(VIEWERS)))
    seconds = time.perf_counter() - started
    stored = (await share_service.get_own_share(ctx, user, chat_id)).views
    got = sum(outcomes)
    verdict = "exact" if got == stored == MAX_VIEWS else "NOT EXACT"
    text = (f"N-of-5N: max_views={MAX_VIEWS}, {VIEWERS} concurrent viewers -> {got} got "
            f"content, stored views {stored} ({verdict}); {VIEWERS / seconds:,.0f} requests/s, "
            f"{got / seconds:,.0f} views/s, {seconds * 1000:,.0f} ms in all")
    ms = seconds * 1000
    return Row(f"N-of-5N, {VIEWERS} concurrent open_share", 1, ms, ms, "= N exactly",
               f"{got}/{MAX_VIEWS} got content, stored {stored}"), text


DASHBOARD_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("status=active, query 'budget', views desc",
     {"status": "active", "query": "budget", "order_by": "views", "direction": "desc"}),
    ("no filter, created_at desc (default)", {}),
    ("public, no password, snapshot; title asc",
     {"visibility": "public", "password": False, "type": "snapshot", "order_by": "title",
      "direction": "asc"}),
    ("status=expired, last 90 days; updated_at asc",
     {"status": "expired", "start": "90d", "order_by": "updated_at", "direction": "asc"}),
    ("status=revoked; status desc, page 20", {"status": "revoked", "order_by": "status",
                                               "page": 20}),
]


async def bench_dashboard(ctx: AppContext) -> tuple[list[Row], str]:
    user = await make_user(ctx, "dashboard")
    seconds = await many_shares(ctx, user, DASHBOARD_SHARES)
    rows = []
    for name, options in DASHBOARD_QUERIES:
        if options.get("start") == "90d":
            options = {**options, "start": ctx.now() - timedelta(days=90)}
        f = ShareFilter(**options)
        samples, (items, total) = await timed(
            functools.partial(share_service.list_shares, ctx, user, f), QUERY_RUNS)
        rows.append(row(f"dashboard: {name}", samples, "< 30 ms p95",
                        f"{total:,} match, {len(items)} on the page"))
    meta_samples, meta = await timed(lambda: share_service.shares_meta(ctx, user), 3)
    rows.append(row("dashboard meta (all 100k summaries)", meta_samples, "-",
                    f"{meta['total']:,} shares"))
    return rows, f"{DASHBOARD_SHARES:,} shares (and their chats) inserted in {seconds:.1f} s"


# --- running -----------------------------------------------------------------------------------

async def run_backend(label: str, database_url: str, data_dir: Path) -> None:
    settings = Settings(env="development", data_dir=data_dir, database_url=database_url,
                        llm_provider="none")
    ctx = await build_context(settings)
    started = time.perf_counter()
    try:
        rows = await bench_share_creation(ctx)
        exact_row, exact_text = await bench_exactness(ctx)
        dash_rows, dash_note = await bench_dashboard(ctx)
    finally:
        await close_context(ctx)
    print_table(label, [*rows, *dash_rows, exact_row])
    print(f"  {dash_note}")
    print(f"  {exact_text}")
    print(f"  ({time.perf_counter() - started:.0f} s for this backend)")


def print_table(label: str, rows: list[Row]) -> None:
    width = max(len(r.name) for r in rows)
    print(f"\n== {label}")
    print(f"  {'benchmark':<{width}}  {'runs':>4}  {'p50 ms':>8}  {'p95 ms':>8}  {'goal':<12}  "
          "notes")
    for r in rows:
        print(f"  {r.name:<{width}}  {r.runs:>4}  {r.p50_ms:>8.1f}  {r.p95_ms:>8.1f}  "
              f"{r.goal:<12}  {r.extra}")
    sys.stdout.flush()


async def run_postgres(admin_url: str, data_dir: Path) -> None:
    """The PostgreSQL run, in a fresh database next to ``admin_url``'s, dropped afterwards."""
    try:
        async with scratch_postgres(admin_url) as url:
            await run_backend("PostgreSQL", url, data_dir)
    except Unreachable as exc:
        print(f"\n(PostgreSQL skipped: SALON_BENCH_DATABASE_URL is not reachable: {exc})")


async def main() -> None:
    print(f"Salon sharing benchmarks ({MESSAGES:,}-message share, {DASHBOARD_SHARES:,}-share "
          f"dashboard, N={MAX_VIEWS} of {VIEWERS} viewers). Figures only; nothing is asserted.")
    with tempfile.TemporaryDirectory(prefix="salon-bench-") as tmp:
        await run_backend("SQLite", "", Path(tmp) / "sqlite")
        pg_url = os.environ.get("SALON_BENCH_DATABASE_URL", "")
        if pg_url:
            await run_postgres(pg_url, Path(tmp) / "postgresql")
        else:
            print("\n(PostgreSQL skipped: set SALON_BENCH_DATABASE_URL to a server URL to "
                  "include it.)")


if __name__ == "__main__":
    asyncio.run(main())
