"""Scratch files a killed process left behind are removed at the next start; files other
workers are still using stay."""

from __future__ import annotations

import os
import time
from pathlib import Path

from salon.app import build_context, close_context
from salon.config import Settings
from salon.store.scratch import ABANDONED_AFTER_SECONDS, remove_abandoned, scratch_dir


def leave(folder: Path, name: str, *, age: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"x" * 1024)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_only_files_untouched_for_an_hour_are_removed(tmp_path: Path) -> None:
    folder = scratch_dir(tmp_path)
    old = leave(folder, "import-abc.json", age=ABANDONED_AFTER_SECONDS + 60)
    busy = leave(folder, "share-def.zip", age=5)
    assert remove_abandoned(tmp_path) == 1
    assert not old.exists() and busy.exists()


def test_no_scratch_folder_is_fine(tmp_path: Path) -> None:
    assert remove_abandoned(tmp_path / "nothing-here") == 0


async def test_starting_salon_removes_what_a_killed_import_left(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path / "data", llm_provider="none")
    folder = scratch_dir(settings.data_dir)
    killed = leave(folder, "import-killed.json", age=2 * ABANDONED_AFTER_SECONDS)
    running = leave(folder, "import-running.json", age=1)
    ctx = await build_context(settings)
    await close_context(ctx)
    assert not killed.exists() and running.exists()
