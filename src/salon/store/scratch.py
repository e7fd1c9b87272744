"""Scratch files under ``SALON_DATA_DIR/tmp``: request bodies spooled to disk (imports) and
archives being sent (share ZIPs). Each is removed when its request ends; a process killed
meanwhile (``kill -9``, a crash, the machine going down) leaves it behind, so start-up removes
what is old enough that no live request of any worker can still be writing or sending it."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

# Scratch files are written continuously while in use, so their modification time is recent;
# one untouched this long belongs to no request.
ABANDONED_AFTER_SECONDS = 3600.0


def scratch_dir(data_dir: Path) -> Path:
    return data_dir / "tmp"


def remove_abandoned(data_dir: Path, *, now: float | None = None,
                     older_than: float = ABANDONED_AFTER_SECONDS) -> int:
    """Delete scratch files not modified for ``older_than`` seconds; returns how many. Other
    workers' files in use are younger and stay."""
    folder = scratch_dir(data_dir)
    if not folder.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - older_than
    removed = 0
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):  # another worker removed it meanwhile
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed
