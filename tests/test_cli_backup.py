"""``salon backup`` and ``salon restore``, run as users run them, against a Salon that is
serving (and writing) meanwhile: the backup is one consistent snapshot with its files, and a
restored Salon serves the same chats and files."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from salon.config import normalize_database_url
from salon.store.db import execute_autocommit
from tests.browser.conftest import SalonServer
from tests.conftest import PG_URL
from tests.fakes.openai_server import FakeOpenAIServer
from tests.test_cli import assert_clean_failure, salon

PASSWORD = "long enough pw"
ATTACHMENT = b"minutes of the meeting: ship on Friday"


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def start(data_dir: Path, model: FakeOpenAIServer, **env: str) -> SalonServer:
    return SalonServer(data_dir=data_dir, llm_base_url=f"{model.url}/v1", env=env).start()


def sign_up(http: httpx.Client) -> None:
    r = http.post("/api/v1/auths/signup",
                  json={"name": "Ada", "email": "ada@example.com", "password": PASSWORD})
    assert r.status_code == 200, r.text
    http.headers["Authorization"] = f"Bearer {r.json()['token']}"


def sign_in(http: httpx.Client) -> None:
    r = http.post("/api/v1/auths/signin", json={"email": "ada@example.com", "password": PASSWORD})
    assert r.status_code == 200, r.text
    http.headers["Authorization"] = f"Bearer {r.json()['token']}"


def chat(http: httpx.Client, q: str, **fields: Any) -> dict[str, Any]:
    r = http.post("/api/chat", json={"q": q, "stream": False, **fields})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


class Writer(threading.Thread):
    """Keeps chatting (two messages a turn) until told to stop."""

    def __init__(self, url: str, token: str, chat_id: str) -> None:
        super().__init__(daemon=True)
        self.chat_id = chat_id
        self.http = httpx.Client(base_url=url, timeout=30,
                                 headers={"Authorization": token})
        self.stopping = threading.Event()
        self.turns = 0

    def run(self) -> None:
        with self.http:
            while not self.stopping.is_set():
                chat(self.http, f"turn {self.turns}", conversation_id=self.chat_id)
                self.turns += 1


def backup_folder(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if p.name.startswith("salon-backup-")]
    return folder


def a_chat_with_a_file(url: str) -> tuple[httpx.Client, str, str]:
    http = httpx.Client(base_url=url, timeout=30)
    sign_up(http)
    body = chat(http, "keep this", files=[{"name": "minutes.txt",
                                           "content": ATTACHMENT.decode()}])
    chat_id = body["conversationId"]
    parts = http.get(f"/api/v1/chats/{chat_id}").json()["chat"]["messages"][0]["parts"]
    file_id = next(p["file_id"] for p in parts if p["type"] == "file")
    return http, chat_id, file_id


def assert_restored(server: SalonServer, chat_id: str, file_id: str) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        sign_in(http)
        chats = http.get("/api/v1/chats/").json()
        assert chat_id in [c["id"] for c in chats]
        messages = http.get(f"/api/v1/chats/{chat_id}").json()["chat"]["messages"]
        assert messages[0]["parts"][0]["text"] == "keep this"
        assert http.get(f"/api/v1/files/{file_id}/content").content == ATTACHMENT


def test_a_backup_taken_while_serving_restores_into_a_working_salon(
    tmp_path: Path, model: FakeOpenAIServer
) -> None:
    live = start(tmp_path / "live", model)
    try:
        http, chat_id, file_id = a_chat_with_a_file(live.url)
        http.close()
        writer = Writer(live.url, http.headers["Authorization"], chat_id)
        writer.start()
        while writer.turns < 3:  # writes are under way
            writer.stopping.wait(0.05)
        result = salon(tmp_path / "live", "backup", str(tmp_path / "out"))
        writer.stopping.set()
        writer.join()
    finally:
        live.stop()
    assert result.returncode == 0, result.stderr
    folder = backup_folder(tmp_path / "out")
    assert str(folder) in result.stdout and "1 files" in result.stdout
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["database"] == "sqlite" and manifest["missing_blobs"] == []
    with sqlite3.connect(folder / "salon.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # One snapshot: every conversation's messages are numbered 0..n-1 without a gap.
        for (cid,) in db.execute("SELECT id FROM conversations"):
            seqs = [s for (s,) in db.execute(
                "SELECT seq FROM messages WHERE conversation_id = ? ORDER BY seq", (cid,))]
            assert seqs == list(range(len(seqs)))
    restored = salon(tmp_path / "restored", "restore", str(folder))
    assert restored.returncode == 0, restored.stderr
    server = start(tmp_path / "restored", model)
    try:
        assert_restored(server, chat_id, file_id)
    finally:
        server.stop()


def backed_up_salon(tmp_path: Path, model: FakeOpenAIServer) -> Path:
    """A Salon with a chat and a file, stopped and backed up; the backup folder."""
    live = start(tmp_path / "live", model)
    try:
        a_chat_with_a_file(live.url)[0].close()
    finally:
        live.stop()
    assert salon(tmp_path / "live", "backup", str(tmp_path / "out")).returncode == 0
    return backup_folder(tmp_path / "out")


def test_restore_never_overwrites_without_force(tmp_path: Path, model: FakeOpenAIServer) -> None:
    folder = backed_up_salon(tmp_path, model)
    other = tmp_path / "other"
    assert salon(other, "db", "upgrade").returncode == 0
    assert_clean_failure(salon(other, "restore", str(folder)), says="pass --force")
    forced = salon(other, "restore", "--force", str(folder))
    assert forced.returncode == 0, forced.stderr
    kept = [p.name for p in other.iterdir() if ".before-restore-" in p.name]
    assert any(name.startswith("salon.db.before-restore-") for name in kept)


@pytest.mark.parametrize(("prepare", "says"), [
    ("nothing", "not a Salon backup"),
    ("newer", "comes from a newer Salon"),
    ("damaged", "do not match their checksums"),
])
def test_a_wrong_or_damaged_backup_is_refused_clearly(
    tmp_path: Path, model: FakeOpenAIServer, prepare: str, says: str
) -> None:
    folder = backed_up_salon(tmp_path, model)
    if prepare == "nothing":
        folder = tmp_path / "live"
    elif prepare == "newer":
        manifest = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps(manifest | {"revision": "9999"}))
    else:
        (body,) = [p for p in (folder / "blobs").rglob("*") if p.is_file()]
        body.write_bytes(b"tampered")
    assert_clean_failure(salon(tmp_path / "fresh", "restore", str(folder)), says=says)


def test_backup_mistakes_are_one_clear_line(tmp_path: Path) -> None:
    assert_clean_failure(salon(tmp_path / "empty", "backup", str(tmp_path / "out")),
                         says="nothing to back up")
    assert salon(tmp_path / "data", "db", "upgrade").returncode == 0
    (tmp_path / "a-file").write_text("x")
    assert_clean_failure(salon(tmp_path / "data", "backup", str(tmp_path / "a-file")),
                         says="is a file")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".salon-backup-")]


# --- PostgreSQL (pg_dump / pg_restore) ------------------------------------------------------------


@pytest.fixture
def two_databases() -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL databases next to the test one, dropped afterwards."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set SALON_TEST_DATABASE_URL to run these")
    admin = normalize_database_url(PG_URL)
    names = [f"salon_backup_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    import asyncio

    for name in names:
        asyncio.run(execute_autocommit(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield tuple(sa.make_url(PG_URL).set(database=n).render_as_string(hide_password=False)
                    for n in names)  # type: ignore[misc]
    finally:
        for name in names:
            asyncio.run(execute_autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_postgresql_backup_and_restore(
    tmp_path: Path, model: FakeOpenAIServer, two_databases: tuple[str, str]
) -> None:
    source, target = two_databases
    live = start(tmp_path / "live", model, SALON_DATABASE_URL=source)
    try:
        http, chat_id, file_id = a_chat_with_a_file(live.url)
        http.close()
    finally:
        live.stop()
    result = salon(tmp_path / "live", "backup", str(tmp_path / "out"), SALON_DATABASE_URL=source)
    assert result.returncode == 0, result.stderr
    folder = backup_folder(tmp_path / "out")
    assert (folder / "salon.pgdump").is_file()
    restored = salon(tmp_path / "restored", "restore", str(folder), SALON_DATABASE_URL=target)
    assert restored.returncode == 0, restored.stderr
    again = salon(tmp_path / "restored", "restore", str(folder), SALON_DATABASE_URL=target)
    assert_clean_failure(again, says="pass --force")
    server = start(tmp_path / "restored", model, SALON_DATABASE_URL=target)
    try:
        assert_restored(server, chat_id, file_id)
    finally:
        server.stop()
