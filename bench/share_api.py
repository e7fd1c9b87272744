"""The share JSON API against the share page, side by side: figures to read, not a test.

    python bench/share_api.py                 # SQLite in a temporary data dir
    SALON_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/share_api.py
                                              # also PostgreSQL, in a scratch database

The same data and server as ``bench/share_page.py`` (a 40-message public snapshot, ``salon
serve``: one worker, production settings, the access log on), and ``wrk`` (Debian's ``wrk``
package) sending anonymous requests. At concurrency 1, 16 and 64, one after another on the same
running server: ``GET /s/{id}`` (the page), ``GET /api/v1/chats/share/{id}`` (the JSON, plain),
the JSON with ``Accept-Encoding: gzip``, and at 64 the JSON revalidated with a matching
``If-None-Match`` (304). Printed: requests per second, p50 / p99 latency, the API's ratio to
the page (goal at 64: >= 0.8, p99 < 50 ms), and the views the share counted against the
requests wrk made (every answer, 304s too, is a view).

BENCH_SECONDS (default 10) and BENCH_LOG_LEVEL (default info) as for ``bench/share_page.py``.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
from _scratch import on_each_backend
from share_page import (
    CONCURRENCY,
    LOG_LEVEL,
    MESSAGES,
    SECONDS,
    Run,
    parse_wrk,
    seed,
    start_server,
    stop_server,
    stored_views,
)

from salon.config import Settings

API = "/api/v1/chats/share/"


def run_wrk(url: str, concurrency: int, *headers: str) -> Run:
    """``wrk`` at ``concurrency`` for BENCH_SECONDS, sending ``headers`` ("Name: value")."""
    command = ["wrk", f"-t{min(2, concurrency)}", f"-c{concurrency}", f"-d{SECONDS}s",
               "--latency", *[arg for header in headers for arg in ("-H", header)], url]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return parse_wrk(concurrency, output)


async def run_backend(label: str, database_url: str, data_dir: Path) -> None:
    settings = Settings(env="production", data_dir=data_dir, database_url=database_url,
                        llm_provider="none", secret_key=secrets.token_urlsafe(48))
    [link] = await seed(settings, 1)
    proc, base = start_server(settings)
    page_url, api_url = f"{base}/s/{link}", f"{base}{API}{link}"
    try:
        page = httpx.get(page_url, timeout=10)
        api = httpx.get(api_url, timeout=10, headers={"Accept-Encoding": "identity"})
        zipped = httpx.get(api_url, timeout=10, headers={"Accept-Encoding": "gzip"})
        for r in (page, api, zipped):
            if r.status_code != 200:
                raise RuntimeError(f"{r.url} answered {r.status_code}: {r.text[:200]}")
        rows: list[tuple[str, Run]] = []
        for c in CONCURRENCY:
            rows.append(("page", run_wrk(page_url, c)))
            rows.append(("API", run_wrk(api_url, c)))
            rows.append(("API gzip", run_wrk(api_url, c, "Accept-Encoding: gzip")))
        # (An older Salon sends no ETag: its "304" row is then 200s.)
        etag = api.headers.get("etag", '"none"')
        rows.append(("API 304", run_wrk(api_url, 64, f"If-None-Match: {etag}")))
    finally:
        stop_server(proc)
    requested = 3 + sum(run.requests for _, run in rows)
    counted = await stored_views(settings, link)
    print(f"\n== {label}: {MESSAGES} messages; page {len(page.content) / 1024:.1f} KB, JSON "
          f"{len(api.content) / 1024:.1f} KB ({int(zipped.headers['content-length']) / 1024:.1f}"
          f" KB as sent with gzip asked); one worker, {SECONDS} s per run, log level {LOG_LEVEL}")
    print(f"  {'what':<9} {'connections':>11}  {'requests':>9}  {'req/s':>8}  {'p50 ms':>7}  "
          f"{'p99 ms':>7}  notes")
    page_rate = {run.concurrency: run.per_second for name, run in rows if name == "page"}
    for name, run in rows:
        ratio = ("" if name == "page"
                 else f"{run.per_second / page_rate[run.concurrency]:.2f}x page")
        goal = ("  goal: >= 0.8x page, p99 < 50 ms"
                if name == "API" and run.concurrency == 64 else "")
        print(f"  {name:<9} {run.concurrency:>11}  {run.requests:>9,}  {run.per_second:>8,.0f}  "
              f"{run.p50_ms:>7.2f}  {run.p99_ms:>7.2f}  {ratio} {run.errors}{goal}")
    in_flight = sum(run.concurrency for _, run in rows)
    verdict = ("every answer counted" if requested <= counted <= requested + in_flight
               else "MISMATCH")
    print(f"  views stored {counted:,} for {requested:,} answers wrk received, up to {in_flight} "
          f"more in flight when runs stopped ({verdict})")


async def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    print("Salon share API against the share page (wrk, anonymous requests). Figures only.")
    await on_each_backend(run_backend)


if __name__ == "__main__":
    asyncio.run(main())
