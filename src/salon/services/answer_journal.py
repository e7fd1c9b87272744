"""What an answer has written so far, kept on disk while it is written, so that a process killed
mid-answer (``kill -9``, a crash, the machine losing power) loses at most a second of it.

One small JSON file per answer being written, under ``SALON_DATA_DIR/answers``: rewritten whole
(write, then rename) at most once a ``SAVE_EVERY_SECONDS`` while text arrives, removed once the
answer is stored in the database. At start-up (``stale_entries``) a file left by a process that
is gone is turned into the stored answer, marked interrupted. A file names the host and process
that writes it: on this host a process that no longer runs is gone; a file from another host
(several hosts sharing a data folder) counts as gone once it has not changed for
``OTHER_HOST_STALE_SECONDS``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SAVE_EVERY_SECONDS = 1.0
OTHER_HOST_STALE_SECONDS = 3600.0


@dataclass(frozen=True)
class JournalEntry:
    turn_id: str
    conversation_id: str
    user_id: str
    model: str | None
    text: str
    thought: str
    host: str
    pid: int


def journal_dir(data_dir: Path) -> Path:
    return data_dir / "answers"


class AnswerJournal:
    def __init__(self, data_dir: Path) -> None:
        self.folder = journal_dir(data_dir)
        self.host = socket.gethostname()
        self.pid = os.getpid()

    def _path(self, turn_id: str) -> Path:
        return self.folder / f"{turn_id}.json"

    def save(self, *, turn_id: str, conversation_id: str, user_id: str, model: str | None,
             text: str, thought: str) -> None:
        entry = JournalEntry(turn_id=turn_id, conversation_id=conversation_id, user_id=user_id,
                             model=model, text=text, thought=thought, host=self.host,
                             pid=self.pid)
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(asdict(entry), out, ensure_ascii=False)
            os.replace(tmp, self._path(turn_id))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def remove(self, turn_id: str) -> None:
        self._path(turn_id).unlink(missing_ok=True)

    def stale_entries(self, *, now: float | None = None) -> list[JournalEntry]:
        """The answers whose writing process is gone (see the module's docstring)."""
        if not self.folder.is_dir():
            return []
        moment = time.time() if now is None else now
        found = []
        for path in self.folder.glob("*.json"):
            entry = _read(path)
            if entry is None:
                path.unlink(missing_ok=True)  # a torn or foreign file: nothing to recover
            elif self._is_gone(entry, age=moment - path.stat().st_mtime):
                found.append(entry)
        return found

    def _is_gone(self, entry: JournalEntry, *, age: float) -> bool:
        if entry.host != self.host:
            return age > OTHER_HOST_STALE_SECONDS
        if entry.pid == self.pid:
            return True  # this process starting: nothing of its own is being written yet
        try:
            os.kill(entry.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # runs, as another user
        return False


def _read(path: Path) -> JournalEntry | None:
    with contextlib.suppress(OSError, ValueError, TypeError):
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return JournalEntry(**data)
    return None
