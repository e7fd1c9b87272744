"""Share page throughput: figures to read, not a test (nothing here asserts a time).

    python bench/share_page.py                # SQLite in a temporary data dir
    SALON_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/share_page.py
                                              # also PostgreSQL, in a scratch database it
                                              # creates and drops

A 40-message conversation (about 60 KB of page) is shared as two public snapshots;
``salon serve`` (one worker, production settings: the access log is on) runs on a free port, and
``wrk`` (Debian's ``wrk`` package) sends anonymous GETs of ``/s/{id}``. Printed:

- requests per second and p50 / p99 latency at concurrency 1, 16 and 64 (goal at 64: >= 3,000
  requests/s, p99 < 50 ms);
- cold start: then, on the running server, the first 3 s of 64 connections opening a link
  nobody has viewed yet (all of them ask for it before its page is rendered): p99, against the
  same link's next 3 s (goal: cold p99 < 100 ms);
- the ceiling: a bare Starlette handler returning the same bytes, under the same uvicorn
  (access log off), at 64 connections, and Salon's ratio to it (goal: >= 0.4);
- the views the shares counted against the requests wrk made (they must agree: every page
  delivered is a view).

Set BENCH_SECONDS (default 10) to change how long each run lasts, and BENCH_LOG_LEVEL (default
info: an access log line per request) to run the server at another SALON_LOG_LEVEL (warning:
no access log).
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
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from _scratch import on_each_backend

from salon.app import build_context, close_context
from salon.config import Settings
from salon.domain.conversations import Conversation, Message
from salon.domain.users import User
from salon.services import auth
from salon.services import shares as share_service
from salon.services.context import AppContext
from salon.store import conversations as conv_repo
from salon.store import shares as share_repo
from salon.store.db import transaction

CONCURRENCY = (1, 16, 64)
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
LOG_LEVEL = os.environ.get("BENCH_LOG_LEVEL", "info")
COLD_SECONDS = 3
BARE_APP = """
import os
from pathlib import Path
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = Path(os.environ["BENCH_BARE_BODY"]).read_bytes()


async def page(request):
    return Response(BODY, media_type="text/html; charset=utf-8")


app = Starlette(routes=[Route("/s/{link}", page), Route("/healthz", page)])
"""
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

async def seed(settings: Settings, count: int) -> list[str]:
    """A user, ``count`` 40-message chats and their public snapshot shares; the link ids."""
    ctx = await build_context(settings)
    try:
        user = await auth.create_user(ctx, email="bench@example.com", name="Bench",
                                      password="bench password 123")
        return [await seed_share(ctx, user) for _ in range(count)]
    finally:
        await close_context(ctx)


async def seed_share(ctx: AppContext, user: User) -> str:
    """A 40-message chat of ``user`` and its public snapshot share; returns the link id."""
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


def server_env(settings: Settings, port: int, *, log_level: str = "") -> dict[str, str]:
    """The environment of ``salon serve``; ``log_level`` by default BENCH_LOG_LEVEL, else
    warning (no access log) for the other benchmarks, which import this."""
    log_level = log_level or os.environ.get("BENCH_LOG_LEVEL", "warning")
    return {**os.environ, "SALON_ENV": "production", "SALON_SECRET_KEY": settings.secret_key,
            "SALON_DATA_DIR": str(settings.data_dir),
            "SALON_DATABASE_URL": settings.database_url, "SALON_LLM_PROVIDER": "none",
            "SALON_HOST": "127.0.0.1", "SALON_PORT": str(port), "SALON_LOG_LEVEL": log_level}


def start_server(settings: Settings) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    return launch(server_env(settings, port, log_level=LOG_LEVEL), port)


def start_bare(body: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The ceiling: uvicorn serving ``body`` from a bare Starlette handler, with the options
    ``salon serve`` gives it (no access log: the handler does nothing else)."""
    port = free_port()
    code = (f"import uvicorn; uvicorn.run('bench_bare:app', host='127.0.0.1', port={port}, "
            "log_level='warning', access_log=False, server_header=False, proxy_headers=False, "
            "ws='none')")
    (body.parent / "bench_bare.py").write_text(BARE_APP)
    env = {**os.environ, "BENCH_BARE_BODY": str(body),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(body.parent),
                                                       os.environ.get("PYTHONPATH")]))}
    return launch(env, port, command=[sys.executable, "-c", code])


def launch(env: dict[str, str], port: int, *, poll_seconds: float = 0.2,
           command: list[str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``salon serve`` (or ``command``) with ``env`` (which sets SALON_PORT to ``port``), once
    it is healthy (asked every ``poll_seconds``)."""
    quiet = env.get("SALON_LOG_LEVEL", "warning") != "warning"
    proc = subprocess.Popen(command or [sys.executable, "-m", "salon", "serve"], env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL if quiet else None)
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


def run_wrk(url: str, concurrency: int, seconds: int = SECONDS) -> Run:
    threads = min(2, concurrency)
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--latency", url],
        check=True, capture_output=True, text=True).stdout
    return parse_wrk(concurrency, output)


# --- running ------------------------------------------------------------------------------------

async def run_backend(label: str, database_url: str, data_dir: Path) -> None:
    settings = Settings(env="production", data_dir=data_dir, database_url=database_url,
                        llm_provider="none", secret_key=secrets.token_urlsafe(48))
    link, cold_link = await seed(settings, 2)
    proc, base = start_server(settings)
    url, cold_url = f"{base}/s/{link}", f"{base}/s/{cold_link}"
    try:
        first = httpx.get(url, timeout=10)
        if first.status_code != 200:
            raise RuntimeError(f"the share page answered {first.status_code}: {first.text[:200]}")
        size = len(first.content)
        runs = [run_wrk(url, c) for c in CONCURRENCY]
        # A running server; nobody has opened cold_link yet: 64 connections ask for it at once.
        cold = run_wrk(cold_url, 64, COLD_SECONDS)
        warm = run_wrk(cold_url, 64, COLD_SECONDS)
    finally:
        stop_server(proc)
    bare = run_bare(first.content, data_dir)
    requested = 1 + sum(r.requests for r in (*runs, cold, warm))
    counted = await stored_views(settings, link) + await stored_views(settings, cold_link)
    print(f"\n== {label}: GET /s/{{id}}, {MESSAGES} messages, {size / 1024:.1f} KB page, "
          f"one worker, {SECONDS} s per run, log level {LOG_LEVEL}")
    print(f"  cold start, 64 connections: p99 {cold.p99_ms:.2f} ms in the first {COLD_SECONDS} s "
          f"of a link ({cold.per_second:,.0f} req/s{', ' + cold.errors if cold.errors else ''}), "
          f"p99 {warm.p99_ms:.2f} ms in its next {COLD_SECONDS} s  goal: cold p99 < 100 ms")
    print(f"  {'connections':>11}  {'requests':>9}  {'req/s':>8}  {'p50 ms':>7}  {'p99 ms':>7}"
          "  notes")
    for r in runs:
        goal = "  goal: >= 3,000 req/s, p99 < 50 ms" if r.concurrency == 64 else ""
        print(f"  {r.concurrency:>11}  {r.requests:>9,}  {r.per_second:>8,.0f}  "
              f"{r.p50_ms:>7.2f}  {r.p99_ms:>7.2f}  {r.errors}{goal}")
    print(f"  bare Starlette handler, same bytes, 64 connections: {bare.per_second:,.0f} req/s, "
          f"p99 {bare.p99_ms:.2f} ms; Salon's ratio {runs[-1].per_second / bare.per_second:.2f}"
          "  goal: >= 0.4")
    # A run that stops cuts off requests in flight: the server may have counted those too.
    in_flight = sum(CONCURRENCY) + 2 * 64
    verdict = ("every page counted" if requested <= counted <= requested + in_flight
               else "MISMATCH")
    print(f"  views stored {counted:,} for {requested:,} pages wrk received, up to "
          f"{in_flight} more in flight when runs stopped ({verdict})")


def run_bare(body: bytes, data_dir: Path) -> Run:
    """The bare handler's run at 64 connections, serving ``body``."""
    path = data_dir / "bare-page.html"
    path.write_bytes(body)
    proc, base = start_bare(path)
    try:
        return run_wrk(f"{base}/s/bare", 64)
    finally:
        stop_server(proc)


async def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    print("Salon share page benchmark (wrk, anonymous GETs). Figures only; nothing is asserted.")
    await on_each_backend(run_backend)


if __name__ == "__main__":
    asyncio.run(main())
