"""Start-up time and idle memory of ``salon serve``: figures to read, not a test (nothing here
asserts a time).

    python bench/startup.py                   # BENCH_RUNS (default 5) runs

Each run makes a fresh temporary data dir and starts ``salon serve`` there twice (one worker,
production settings, no model, SQLite, a free port): a first start, which migrates the empty
database, then a restart on the database the first one left. Printed for both, as median and
worst over the runs: the time from starting the process to the first 200 from ``/healthz``
(goal: under 1 s), the CPU time the server had used by then (on a busy machine the wall time
is mostly waiting for a core; this is not), and its resident memory (VmRSS)
BENCH_IDLE_SECONDS (default 3) later, while idle (goal: under 120 MB). Then the number of
modules that ``import salon.app`` (the application), ``salon serve`` before it loads the web
stack (``salon.__main__.load_command(["serve"])``) and the other commands (``import
salon.cli``) load, each in a fresh interpreter.

The servers read compiled bytecode as an installed Salon does: from a cache of the benchmark's
own (PYTHONPYCACHEPREFIX, so nothing is written into the source tree, even where
PYTHONDONTWRITEBYTECODE is set) that an unmeasured first start fills.
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live import rss_kb  # noqa: E402  (the other benchmarks')
from share_page import free_port, launch, server_env, stop_server  # noqa: E402

from salon.config import Settings  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "3"))
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class Start:
    seconds: float  # from starting the process to the first healthy answer
    cpu_seconds: float  # the server's CPU time (user and system) by then
    rss_mb: float  # resident memory, idle, IDLE_SECONDS later


def start_once(data_dir: Path, bytecode_dir: Path) -> Start:
    settings = Settings(env="production", data_dir=data_dir, database_url="",
                        llm_provider="none", secret_key=secrets.token_urlsafe(48))
    port = free_port()
    env = server_env(settings, port)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(bytecode_dir)
    began = time.monotonic()
    proc, _ = launch(env, port, poll_seconds=POLL_SECONDS)
    seconds = time.monotonic() - began
    try:
        cpu_seconds = cpu_time(proc.pid)
        time.sleep(IDLE_SECONDS)
        return Start(seconds, cpu_seconds, rss_kb(proc.pid) / 1024)
    finally:
        stop_server(proc)


def cpu_time(pid: int) -> float:
    """Seconds of CPU (user and system) the process has used, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def modules_loaded(code: str) -> int:
    """How many modules a fresh interpreter holds after running ``code``."""
    program = f"import sys; {code}; print(len(sys.modules))"
    return int(subprocess.run([sys.executable, "-c", program], check=True, capture_output=True,
                              text=True).stdout)


def report(label: str, starts: list[Start]) -> None:
    figures = []
    for values, unit, digits in (([s.seconds for s in starts], "s", 2),
                                 ([s.cpu_seconds for s in starts], "s", 2),
                                 ([s.rss_mb for s in starts], "MB", 0)):
        figures += [f"{statistics.median(values):.{digits}f} {unit}".rjust(9),
                    f"{max(values):.{digits}f} {unit}".rjust(9)]
    print(f"  {label:<32} " + " ".join(figures))


def main() -> None:
    print(f"Salon start-up benchmark ({RUNS} runs, {os.cpu_count()} cores). Figures only; "
          "nothing is asserted.")
    first: list[Start] = []
    again: list[Start] = []
    with tempfile.TemporaryDirectory(prefix="salon-bench-") as tmp:
        bytecode = Path(tmp) / "bytecode"
        start_once(Path(tmp) / "warm-up", bytecode)
        for run in range(RUNS):
            first.append(start_once(Path(tmp) / f"run-{run}", bytecode))
            again.append(start_once(Path(tmp) / f"run-{run}", bytecode))
    print(f"\n  {'':<32} {'time to healthy':^19} {'CPU time by then':^19} "
          f"{f'idle RSS after {IDLE_SECONDS:g} s':^19}")
    print(f"  {'':<32} " + " ".join(f"{'median':>9} {'worst':>9}" for _ in range(3)))
    report("first start (migrates new db)", first)
    report("restart (database at head)", again)
    print("  goal: healthy in under 1 s, under 120 MB idle")
    serve = "from salon.__main__ import load_command; load_command(['serve'])"
    print(f"\n  modules loaded by import salon.app: {modules_loaded('import salon.app'):,}; "
          f"by salon serve before the web stack: {modules_loaded(serve):,}; "
          f"by import salon.cli (the other commands): {modules_loaded('import salon.cli'):,}")


if __name__ == "__main__":
    main()
