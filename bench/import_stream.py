"""Streaming import benchmark: figures to read, not a test (nothing here asserts).

    python bench/import_stream.py                  # a ~200 MB ChatGPT-style file
    BENCH_IMPORT_MB=50 python bench/import_stream.py

Writes a ChatGPT-style ``conversations.json`` of about BENCH_IMPORT_MB megabytes (default 200)
in a temporary directory, conversation by conversation (each with an abandoned branch, code
with its output and a hidden system message), then imports it through
``importing.import_file`` on SQLite and prints the time and the peak resident memory of the
process (``ru_maxrss``). Goal: the peak stays under 300 MB whatever the file's size, because
only one conversation is in memory at a time.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from salon.app import build_context, close_context
from salon.config import Settings
from salon.services import auth, importing

MESSAGES = 40  # per conversation, on the current branch
WORDS = ("salon", "share", "branch", "python", "import", "stream", "memory", "answer",
         "question", "markdown", "table", "chart", "model", "token", "budget", "garden")
T0 = 1_714_816_800.0


def paragraph(seed: int, words: int) -> str:
    return " ".join(WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(words))


def node(nid: str, parent: str | None, children: list[str], role: str,
         content: dict[str, Any], at: float, **metadata: Any) -> dict[str, Any]:
    return {"id": nid, "parent": parent, "children": children,
            "message": {"id": nid, "author": {"role": role, "name": None}, "create_time": at,
                        "content": content, "recipient": "all", "metadata": metadata,
                        "status": "finished_successfully", "weight": 1.0, "end_turn": True}}


def conversation(n: int) -> dict[str, Any]:
    """About 110 KB: a hidden system message, MESSAGES on the current path (one answer being
    code with its output), and one regenerated answer off the path."""
    mapping: dict[str, Any] = {"root": {"id": "root", "parent": None, "children": ["sys"],
                                        "message": None}}
    mapping["sys"] = node("sys", "root", ["m0"], "system",
                          {"content_type": "text", "parts": [""]}, T0,
                          is_visually_hidden_from_conversation=True)
    parent = "sys"
    for i in range(MESSAGES):
        nid = f"m{i}"
        role = "user" if i % 2 == 0 else "assistant"
        children = [f"m{i + 1}"] if i + 1 < MESSAGES else []
        content = {"content_type": "text", "parts": [paragraph(n + i, 40 if role == "user"
                                                               else 380)]}
        if i == 5:
            content = {"content_type": "code", "language": "python",
                       "text": "print(sum(range(10)))\n" * 20}
        mapping[nid] = node(nid, parent, children, role, content, T0 + n * 3600 + i,
                            model_slug="gpt-4o" if role == "assistant" else None)
        parent = nid
    mapping["m1"]["children"].append("old")
    mapping["old"] = node("old", "m0", [], "assistant",
                          {"content_type": "text", "parts": [paragraph(n, 300)]}, T0 + 1)
    return {"title": f"Bench conversation {n}", "create_time": T0 + n * 3600,
            "update_time": T0 + n * 3600 + MESSAGES, "current_node": f"m{MESSAGES - 1}",
            "mapping": mapping, "id": f"bench-{n}"}


def write_export(out: TextIO, target_bytes: int) -> int:
    """Writes conversations until the file passes ``target_bytes``; returns how many."""
    out.write("[")
    written, count = 1, 0
    while written < target_bytes:
        text = ("," if count else "") + json.dumps(conversation(count))
        out.write(text)
        written += len(text)
        count += 1
    out.write("]")
    return count


def current_rss_mb() -> float | None:
    """The resident memory now (Linux only): what the process holds before the import."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return None
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")),
               None)
    return None if kib is None else int(kib) / 1024


def peak_rss_mb() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return kib / 1024 / (1024 if sys.platform == "darwin" else 1)


async def bench(directory: Path, megabytes: int) -> None:
    source = directory / "conversations.json"
    started = time.perf_counter()
    with source.open("w", encoding="utf-8") as out:
        count = write_export(out, megabytes * 1024 * 1024)
    size = source.stat().st_size
    print(f"wrote {size / 1e6:,.0f} MB, {count:,} conversations "
          f"({count * MESSAGES:,} messages) in {time.perf_counter() - started:.1f} s")
    # "test": the account's password hash costs 1 MiB, not 64 (it would be the peak here).
    settings = Settings(env="test", data_dir=directory / "data", llm_provider="none")
    ctx = await build_context(settings)
    try:
        user = await auth.create_user(ctx, email="bench@bench.example", name="Bench",
                                      password="bench password 123")
        before = current_rss_mb()
        during: list[float] = []
        started = time.perf_counter()
        report = await importing.import_file(
            ctx, user, source, on_read=lambda _: during.append(current_rss_mb() or 0.0))
        seconds = time.perf_counter() - started
    finally:
        await close_context(ctx)
    print(f"imported {len(report.imported):,} (skipped {len(report.skipped)}, failed "
          f"{len(report.failed)}) in {seconds:.1f} s: {size / 1e6 / seconds:,.1f} MB/s, "
          f"{len(report.imported) / seconds:,.0f} conversations/s")
    print(f"peak RSS: {peak_rss_mb():,.0f} MB (goal < 300 MB)")
    if before is not None and during:
        print(f"RSS just before the import: {before:,.0f} MB, at most {max(during):,.0f} MB "
              f"while importing ({len(during):,} samples)")


def main() -> None:
    megabytes = int(os.environ.get("BENCH_IMPORT_MB", "200"))
    print(f"== streaming import of a ChatGPT-style file of ~{megabytes} MB on SQLite")
    with tempfile.TemporaryDirectory(prefix="salon-bench-import-") as tmp:
        asyncio.run(bench(Path(tmp), megabytes))


if __name__ == "__main__":
    main()
