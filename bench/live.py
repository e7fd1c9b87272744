"""Live share fan-out: figures to read, not a test (nothing here asserts a time).

    python bench/live.py                      # SQLite in a temporary data dir
    BENCH_VIEWERS=500 python bench/live.py    # fewer viewers

``salon serve`` (one worker, production settings) runs with a small fake model server (the
tests' ``tests/fakes/openai_server.py``, real HTTP); a live share of a conversation gets
BENCH_VIEWERS (default 1,000) concurrent anonymous ``/s/{id}/events`` streams, from plain
asyncio connections. Then the owner sends BENCH_MESSAGES (default 5) messages through the API,
one after another. Printed: the delay from the owner's request to each viewer receiving that
message's ``turn`` event (p50 / p95 / p99 / max; goal p99 < 300 ms), how many viewers got
every message, and the server's memory per open stream (resident memory with all streams open
minus before, divided by their number; goal < 50 KB).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from share_page import free_port, launch, stop_server  # noqa: E402  (the other benchmark's)

ROOT = Path(__file__).resolve().parents[1]
VIEWERS = int(os.environ.get("BENCH_VIEWERS", "1000"))
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "5"))
CONNECT_BATCH = 100
START_TIMEOUT = 60.0


@dataclass
class Viewer:
    """One stream: when each turn (by message seq) arrived."""

    arrivals: dict[int, float] = field(default_factory=dict)
    connected: bool = False


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


# --- processes ---------------------------------------------------------------------------------

def start_fake_model() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.openai_server", "--port", "0"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://[\d.]+:\d+", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"the fake model server did not start: {line!r}")
    return proc, match.group(0)


def start_salon(data_dir: Path, model_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "SALON_ENV": "production", "SALON_SECRET_KEY": secrets.token_urlsafe(48),
           "SALON_DATA_DIR": str(data_dir), "SALON_DATABASE_URL": "",
           "SALON_LLM_PROVIDER": "openai", "SALON_LLM_BASE_URL": f"{model_url}/v1",
           "SALON_LLM_MODEL": "fake-model", "SALON_HOST": "127.0.0.1", "SALON_PORT": str(port),
           "SALON_LOG_LEVEL": "warning", "SALON_SIGNUP_LIMIT_PER_HOUR": "10",
           "SALON_LIVE_STREAMS_PER_SHARE": str(VIEWERS + 10),
           "SALON_LIVE_STREAMS_PER_CLIENT": str(VIEWERS + 10)}
    return launch(env, port)


# --- viewers -----------------------------------------------------------------------------------

async def watch(port: int, path: str, viewer: Viewer, stop: asyncio.Event) -> None:
    """A minimal event-stream reader: notes when each ``turn`` event arrives."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
                 .encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"the stream was refused: {status!r}")
    viewer.connected = True
    kind = b""
    try:
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"event: "):
                kind = line[7:].strip()
            elif line.startswith(b"data: ") and kind == b"turn":
                seq = json.loads(line[6:])["seq"]
                viewer.arrivals.setdefault(seq, time.perf_counter())
    finally:
        writer.close()


async def run() -> None:
    with tempfile.TemporaryDirectory(prefix="salon-bench-") as tmp:
        model, model_url = start_fake_model()
        salon, base = start_salon(Path(tmp), model_url)
        try:
            await measure(salon, base)
        finally:
            stop_server(salon)
            model.terminate()
            model.wait(timeout=10)


async def measure(salon: subprocess.Popen[bytes], base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        r = await http.post("/api/v1/auths/signup", json={
            "name": "Owner", "email": "owner@bench.example", "password": "bench password 123"})
        r.raise_for_status()
        http.headers["Authorization"] = f"Bearer {r.json()['token']}"
        chat = await http.post("/api/chat", json={"q": "Let us plan", "stream": False})
        chat_id = chat.json()["conversationId"]
        share = await http.post(f"/api/v1/chats/{chat_id}/share", json={"live": True})
        link = share.json()["share_id"]
        await asyncio.sleep(1.0)
        before = rss_kb(salon.pid)
        viewers = [Viewer() for _ in range(VIEWERS)]
        stop = asyncio.Event()
        port = int(base.rsplit(":", 1)[1])
        tasks = []
        started = time.perf_counter()
        for start in range(0, VIEWERS, CONNECT_BATCH):
            for viewer in viewers[start:start + CONNECT_BATCH]:
                tasks.append(asyncio.create_task(watch(port, f"/s/{link}/events", viewer, stop)))
            while sum(v.connected for v in viewers) < min(VIEWERS, start + CONNECT_BATCH):
                await asyncio.sleep(0.05)
        connect_seconds = time.perf_counter() - started
        await asyncio.sleep(2.0)
        during = rss_kb(salon.pid)
        delays: list[float] = []
        complete = 0
        for n in range(MESSAGES):
            seq = 2 + 2 * n  # the question's position: two messages per turn
            sent = time.perf_counter()
            r = await http.post("/api/chat", json={"q": f"Message {n}", "stream": False,
                                                   "conversation_id": chat_id})
            r.raise_for_status()
            deadline = time.perf_counter() + 10
            while (sum(seq in v.arrivals for v in viewers) < VIEWERS
                   and time.perf_counter() < deadline):
                await asyncio.sleep(0.02)
            got = [v.arrivals[seq] - sent for v in viewers if seq in v.arrivals]
            complete += len(got) == VIEWERS
            delays += got
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    per_stream = (during - before) / VIEWERS
    print(f"\n== SQLite, one worker: {VIEWERS:,} live viewers of one share, "
          f"{MESSAGES} messages")
    print(f"  {VIEWERS:,} streams opened in {connect_seconds:.1f} s")
    if delays:
        ms = [d * 1000 for d in delays]
        print(f"  owner's message -> viewer's turn event: p50 {percentile(ms, .5):.0f} ms"
              f", p95 {percentile(ms, .95):.0f} ms, p99 "
              f"{percentile(ms, .99):.0f} ms, max {max(ms):.0f} ms "
              "(goal: p99 < 300 ms)")
    print(f"  messages every viewer received: {complete} of {MESSAGES} "
          f"({len(delays):,} of {VIEWERS * MESSAGES:,} deliveries)")
    print(f"  server memory: {before / 1024:.0f} MB before, {during / 1024:.0f} MB with the "
          f"streams open: {per_stream:.1f} KB per stream (goal: < 50 KB)")


def main() -> None:
    print("Salon live share benchmark. Figures only; nothing is asserted.")
    asyncio.run(run())


if __name__ == "__main__":
    main()
