"""Share page throughput: figures to read, not a test (nothing here asserts a time).

    python bench/share_page.py                # SQLite in a temporary data dir
    SALON_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/share_page.py
                                              # also PostgreSQL, in a scratch database it
                                              # creates and drops

A 40-message conversation (about 60 KB of page) is shared as a public snapshot; ``salon serve``
(one worker, production settings) runs on a free port, and ``wrk`` (Debian's ``wrk`` package)
sends anonymous GETs of ``/s/{id}`` at concurrency 1, 16 and 64. Printed: requests per second
and p50 / p99 latency per concurrency (goal at 64: >= 3,000 requests/s, p99 < 50 ms), and the
views the share counted against the requests wrk made (they must agree: every page delivered
is a view).

Set BENCH_SECONDS (default 10) to change how long each run lasts, and BENCH_LOG_LEVEL (default
warning: no access log) to run the server at another SALON_LOG_LEVEL (info writes an access log
line per request).
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from _scratch import Unreachable, scratch_postgres

from salon.app import build_context, close_context
from salon.config import Settings
from salon.domain.conversations import Conversation, Message
from salon.services import auth
from salon.services import shares as share_service
from salon.store import conversations as conv_repo
from salon.store import shares as share_repo
from salon.store.db import transaction

CONCURRENCY = (1, 16, 64)
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
LOG_LEVEL = os.environ.get("BENCH_LOG_LEVEL", "warning")
MESSAGES = 40
START_TIMEOUT = 60.0

QUESTION = "How would I {topic} in Python, and what should I watch out for? ({n})"
ANSWER = """Here is one way to **{topic}**, step by step (answer {n}).

1. Read the input once and keep only what you need.
2. Validate it early: a clear error beats a wrong answer.

```python
from pathlib import Path


def process(path: Path) -> list[str]:
    \"\"\"Lines of ``path`` that are not blank, stripped ({n}).\"\"\"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


if __name__ == "__main__":
    for item in process(Path("input.txt")):
        print(item)
```

Watch out for *encodings* (always name one), very large files (stream them) and the
difference between `None` and an empty list. Sorting costs $O(n \\log n)$.
"""
TOPICS = ("parse a CSV file", "deduplicate records", "merge two sorted lists",
          "read a large log", "retry a flaky request", "cache expensive calls",
          "validate user input", "write a file atomically", "time a function",
          "walk a directory tree")


@dataclass
class Run:
    concurrency: int
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: str


# --- the data -----------------------------------------------------------------------------------

async def seed(settings: Settings) -> str:
    """A user, a 40-message chat and its public snapshot share; returns the link id."""
    ctx = await build_context(settings)
    try:
        user = await auth.create_user(ctx, email="bench@example.com", name="Bench",
                                      password="bench password 123")
        now = ctx.now()
        conv = Conversation(id=str(uuid.uuid4()), user_id=user.id,
                            title="Everyday Python questions", slug="everyday-python",
                            agent_slug="salon", recipe={"model": "bench-model"},
                            file_filters=[], created_at=now, updated_at=now)
        messages = []
        for seq in range(MESSAGES):
            topic, n = TOPICS[(seq // 2) % len(TOPICS)], seq // 2 + 1
            text = (QUESTION if seq % 2 == 0 else ANSWER).format(topic=topic, n=n)
            messages.append(Message(
                id=str(uuid.uuid4()), conversation_id=conv.id, seq=seq,
                role="user" if seq % 2 == 0 else "assistant",
                parts=[{"type": "text", "text": text}],
                created_at=now + timedelta(seconds=seq), turn_id=str(seq // 2),
                model=None if seq % 2 == 0 else "bench-model"))
        async with transaction(ctx.engine) as conn:
            await conv_repo.insert_conversation(conn, conv)
            await conv_repo.insert_messages(conn, messages)
            await conv_repo.update_conversation(conn, conv.id, user_id=user.id,
                                                next_seq=MESSAGES)
        share = await share_service.save_share(ctx, user, conv.id, {"is_public": True})
        return share.share_id
    finally:
        await close_context(ctx)


async def stored_views(settings: Settings, link: str) -> int:
    ctx = await build_context(settings)
    try:
        async with ctx.engine.connect() as conn:
            access = await share_repo.get_share_access(conn, link)
        assert access is not None
        return access.share.views
    finally:
        await close_context(ctx)


# --- the server ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(settings: Settings, port: int) -> dict[str, str]:
    return {**os.environ, "SALON_ENV": "production", "SALON_SECRET_KEY": settings.secret_key,
            "SALON_DATA_DIR": str(settings.data_dir),
            "SALON_DATABASE_URL": settings.database_url, "SALON_LLM_PROVIDER": "none",
            "SALON_HOST": "127.0.0.1", "SALON_PORT": str(port), "SALON_LOG_LEVEL": LOG_LEVEL}


def start_server(settings: Settings) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    return launch(server_env(settings, port), port)


def launch(env: dict[str, str], port: int, *,
           poll_seconds: float = 0.2) -> tuple[subprocess.Popen[bytes], str]:
    """``salon serve`` with ``env`` (which sets SALON_PORT to ``port``), once it is healthy
    (asked every ``poll_seconds``)."""
    proc = subprocess.Popen([sys.executable, "-m", "salon", "serve"], env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL if LOG_LEVEL != "warning" else None)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"salon serve exited with {proc.returncode}")
        if is_healthy(port):
            return proc, f"http://127.0.0.1:{port}"
        time.sleep(poll_seconds)
    proc.kill()
    raise RuntimeError("salon serve did not become healthy in time")


def is_healthy(port: int) -> bool:
    """``GET /healthz`` answers 200. Asked with the standard library's client: making an httpx
    one takes some 50 ms of CPU, which frequent polls would take from the starting server."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """A graceful stop (SIGINT, as Ctrl-C): pending view counts are written on the way out."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- wrk ----------------------------------------------------------------------------------------

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def milliseconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def parse_wrk(concurrency: int, output: str) -> Run:
    """Requests, requests/s and the latency percentiles from ``wrk --latency`` output."""
    total = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if not (total and rate and p50 and p99):
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    errors = []
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors.append(f"{non_2xx.group(1)} non-2xx")
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if socket_errors:
        errors.append(f"socket errors: {socket_errors.group(1)}")
    return Run(concurrency, int(total.group(1)), float(rate.group(1)),
               milliseconds(p50.group(1)), milliseconds(p99.group(1)), "; ".join(errors))


def run_wrk(url: str, concurrency: int) -> Run:
    threads = min(2, concurrency)
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{SECONDS}s", "--latency", url],
        check=True, capture_output=True, text=True).stdout
    return parse_wrk(concurrency, output)


# --- running ------------------------------------------------------------------------------------

async def run_backend(label: str, database_url: str, data_dir: Path) -> None:
    settings = Settings(env="production", data_dir=data_dir, database_url=database_url,
                        llm_provider="none", secret_key=secrets.token_urlsafe(48))
    link = await seed(settings)
    proc, base = start_server(settings)
    url = f"{base}/s/{link}"
    try:
        first = httpx.get(url, timeout=10)
        if first.status_code != 200:
            raise RuntimeError(f"the share page answered {first.status_code}: {first.text[:200]}")
        size = len(first.content)
        runs = [run_wrk(url, c) for c in CONCURRENCY]
    finally:
        stop_server(proc)
    requested = 1 + sum(r.requests for r in runs)
    counted = await stored_views(settings, link)
    print(f"\n== {label}: GET /s/{{id}}, {MESSAGES} messages, {size / 1024:.1f} KB page, "
          f"one worker, {SECONDS} s per run, log level {LOG_LEVEL}")
    print(f"  {'connections':>11}  {'requests':>9}  {'req/s':>8}  {'p50 ms':>7}  {'p99 ms':>7}"
          "  notes")
    for r in runs:
        goal = "  goal: >= 3,000 req/s, p99 < 50 ms" if r.concurrency == 64 else ""
        print(f"  {r.concurrency:>11}  {r.requests:>9,}  {r.per_second:>8,.0f}  "
              f"{r.p50_ms:>7.2f}  {r.p99_ms:>7.2f}  {r.errors}{goal}")
    # A run that stops cuts off requests in flight: the server may have counted those too.
    in_flight = sum(CONCURRENCY)
    verdict = ("every page counted" if requested <= counted <= requested + in_flight
               else "MISMATCH")
    print(f"  views stored {counted:,} for {requested:,} pages wrk received, up to "
          f"{in_flight} more in flight when runs stopped ({verdict})")


async def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    print("Salon share page benchmark (wrk, anonymous GETs). Figures only; nothing is asserted.")
    with tempfile.TemporaryDirectory(prefix="salon-bench-") as tmp:
        await run_backend("SQLite", "", Path(tmp) / "sqlite")
        pg_url = os.environ.get("SALON_BENCH_DATABASE_URL", "")
        if not pg_url:
            print("\n(PostgreSQL skipped: set SALON_BENCH_DATABASE_URL to a server URL to "
                  "include it.)")
            return
        try:
            async with scratch_postgres(pg_url) as url:
                await run_backend("PostgreSQL", url, Path(tmp) / "postgresql")
        except Unreachable as exc:
            print(f"\n(PostgreSQL skipped: SALON_BENCH_DATABASE_URL is not reachable: {exc})")


if __name__ == "__main__":
    asyncio.run(main())
