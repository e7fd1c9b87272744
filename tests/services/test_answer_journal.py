"""The answer journal tells which answers being written belong to a process that is gone."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from salon.services.answer_journal import OTHER_HOST_STALE_SECONDS, AnswerJournal, journal_dir


def save(journal: AnswerJournal, turn_id: str) -> None:
    journal.save(turn_id=turn_id, conversation_id="c", user_id="u", model="m",
                 text="so far", thought="")


def rewrite(path: Path, **fields: object) -> None:
    path.write_text(json.dumps(json.loads(path.read_text()) | fields))


def test_saved_then_removed(tmp_path: Path) -> None:
    journal = AnswerJournal(tmp_path)
    save(journal, "t1")
    save(journal, "t1")  # rewritten whole, one file
    assert [p.name for p in journal_dir(tmp_path).iterdir()] == ["t1.json"]
    journal.remove("t1")
    assert list(journal_dir(tmp_path).iterdir()) == []


def test_an_answer_of_a_running_process_is_not_stale_until_it_is_gone(tmp_path: Path) -> None:
    journal = AnswerJournal(tmp_path)
    save(journal, "t1")
    other = subprocess.Popen(["sleep", "30"])
    try:
        rewrite(journal_dir(tmp_path) / "t1.json", pid=other.pid)
        assert journal.stale_entries() == []
    finally:
        other.kill()
        other.wait()
    (entry,) = journal.stale_entries()
    assert entry.turn_id == "t1" and entry.text == "so far"


def test_another_hosts_answer_is_stale_only_when_long_untouched(tmp_path: Path) -> None:
    journal = AnswerJournal(tmp_path)
    save(journal, "t1")
    path = journal_dir(tmp_path) / "t1.json"
    rewrite(path, host="another-host", pid=1)
    assert journal.stale_entries() == []
    then = time.time() - OTHER_HOST_STALE_SECONDS - 60
    os.utime(path, (then, then))
    assert [e.turn_id for e in journal.stale_entries()] == ["t1"]


def test_a_torn_file_is_dropped(tmp_path: Path) -> None:
    journal = AnswerJournal(tmp_path)
    journal_dir(tmp_path).mkdir(parents=True)
    (journal_dir(tmp_path) / "t9.json").write_text('{"turn_id": "t9", "te')
    assert journal.stale_entries() == []
    assert not (journal_dir(tmp_path) / "t9.json").exists()
