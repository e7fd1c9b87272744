"""``salon export --all`` (every conversation of an account into one ZIP), and what `serve`
checks before it starts."""

from __future__ import annotations

import json
import socket
import zipfile
from pathlib import Path

import pytest

from tests.test_cli import CHAT_FILE, assert_clean_failure, data_dir, salon

__all__ = ["data_dir"]  # the fixture, shared with tests/test_cli.py


def make_account_with_chats(data_dir: Path, tmp_path: Path, titles: list[str]) -> None:
    assert salon(data_dir, "user", "create", "--email", "ada@example.com", "--name", "Ada",
                 "--password", "correct horse battery").returncode == 0
    documents = []
    for n, title in enumerate(titles):
        document = json.loads(json.dumps(CHAT_FILE))
        document["conversation"]["title"] = title
        document["conversation"]["id"] = f"elsewhere-{n}"  # a different chat each time
        documents.append(document)
    source = tmp_path / "chats.json"
    source.write_text(json.dumps(documents), encoding="utf-8")
    result = salon(data_dir, "import", str(source), "--user", "ada@example.com")
    assert result.returncode == 0, result.stderr


def test_export_all_writes_one_zip(data_dir: Path, tmp_path: Path) -> None:
    make_account_with_chats(data_dir, tmp_path, ["One", "Two", "Two"])
    target = tmp_path / "all.zip"
    result = salon(data_dir, "export", "--all", "--user", "ada@example.com", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert f"Wrote {target}" in result.stdout
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        titles = sorted(json.loads(archive.read(n))["conversation"]["title"] for n in names)
    assert titles == ["One", "Two", "Two"] and len(set(names)) == 3


@pytest.mark.parametrize(("args", "says"), [
    (["export", "--user", "ada@example.com"], "Name one conversation (CHAT_ID) or use --all"),
    (["export", "some-id", "--all", "--user", "ada@example.com"], "or use --all"),
    (["export", "--all", "--user", "ada@example.com", "--format", "docx"],
     "Unknown export format"),
])
def test_export_needs_one_chat_or_all(data_dir: Path, args: list[str], says: str) -> None:
    result = salon(data_dir, *args)
    assert result.returncode == 2
    assert_clean_failure(result, says=says)


def test_an_unwritable_target_leaves_nothing(data_dir: Path, tmp_path: Path) -> None:
    make_account_with_chats(data_dir, tmp_path, ["One"])
    target = tmp_path / "missing-dir" / "all.zip"
    result = salon(data_dir, "export", "--all", "--user", "ada@example.com", "-o", str(target))
    assert result.returncode == 1
    assert_clean_failure(result, says="cannot write")
    assert not target.exists()


def test_serve_refuses_a_redis_that_does_not_answer(data_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = salon(data_dir, "serve", SALON_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    assert result.returncode == 1
    assert_clean_failure(result, says="SALON_REDIS_URL does not answer")
