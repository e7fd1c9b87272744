"""``salon import`` with other apps' exports, run as users run it: Open WebUI and ChatGPT
files, one line per conversation, failures on stderr, a progress bar only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.domain.test_imports import gpt_conversation, history, owui_chat

PASSWORD = "correct horse battery"


def salon_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment without any SALON_* variable, on a SQLite data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALON_")}
    env.update(SALON_DATA_DIR=str(data_dir), SALON_LLM_PROVIDER="none", COLUMNS="200")
    return env


def salon(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "salon", *args], env=salon_env(data_dir),
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    created = salon(path, "user", "create", "--email", "ada@example.com", "--name", "Ada",
                    "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
    return path


def test_open_webui_and_chatgpt_files_import_line_by_line(data_dir: Path,
                                                          tmp_path: Path) -> None:
    source = tmp_path / "export.json"
    source.write_text(json.dumps([owui_chat(), gpt_conversation()]), encoding="utf-8")
    result = salon(data_dir, "import", str(source), "--user", "ada@example.com")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Imported #0: Branchy (")
    assert lines[1].startswith("Imported #1: Plots and cats (")
    assert lines[2] == "2 imported, 0 skipped, 0 failed."
    assert result.stderr == ""  # no progress bar: stderr is not a terminal
    again = salon(data_dir, "import", str(source), "--user", "ada@example.com")
    assert "0 imported, 2 skipped, 0 failed." in again.stdout


def test_a_broken_conversation_is_reported_and_exits_1(data_dir: Path, tmp_path: Path) -> None:
    broken = owui_chat()
    history(broken)["u1"]["parentId"] = "a3"
    source = tmp_path / "export.json"
    source.write_text(json.dumps([gpt_conversation(), broken]), encoding="utf-8")
    result = salon(data_dir, "import", str(source), "--user", "ada@example.com")
    assert result.returncode == 1
    assert "1 imported, 0 skipped, 1 failed." in result.stdout
    assert "Failed #1: chat.chat.history.messages: the parent links form a cycle" in \
        result.stderr
    assert "Traceback" not in result.stderr


def test_a_big_file_shows_progress_on_a_terminal(data_dir: Path, tmp_path: Path) -> None:
    chats = []
    for i in range(120):  # about 5 MB: over the size that gets a progress bar
        chat = owui_chat()
        chat["id"] = f"chat-{i}"
        history(chat)["a3"]["content"] = f"answer {i} " + "x" * 40_000
        chats.append(chat)
    source = tmp_path / "big.json"
    source.write_text(json.dumps(chats), encoding="utf-8")
    assert source.stat().st_size > 4 * 1024 * 1024
    leader, follower = pty.openpty()
    with subprocess.Popen([sys.executable, "-m", "salon", "import", str(source), "--user",
                           "ada@example.com"], env=salon_env(data_dir), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=follower, text=True) as proc:
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the command is done
                break
            if not chunk:
                break
            shown += chunk
        out, _ = proc.communicate(timeout=120)
    os.close(leader)
    assert proc.returncode == 0, shown
    assert "120 imported, 0 skipped, 0 failed." in out
    assert b"Importing" in shown and b"MB" in shown
