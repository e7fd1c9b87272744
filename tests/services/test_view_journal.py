"""Batched share views survive the app stopping with a full disk: a Salon whose database and
data folder are on a small tmpfs of their own (a private mount namespace, as in
tests/web/test_storage_full.py) fills it, is viewed, and stops; the views it cannot write go to
its journal (written when it started, so keeping them needs no new room), and the next start
counts them. Also the journal's own rules, on a plain folder."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from salon.app import create_app
from salon.config import Settings
from salon.services.view_journal import JOURNAL_BYTES, ViewJournal, take_orphans
from tests.fakes.openai_server import FakeOpenAIServer
from tests.web.test_storage_full import private_tmpfs_wrapper

ROOT = Path(__file__).resolve().parents[2]
VIEWS = 7


def test_a_full_disk_at_the_stop_loses_no_views(tmp_path: Path, fake_llm: FakeOpenAIServer
                                                ) -> None:
    folder = tmp_path / "disk"
    folder.mkdir()
    wrapper = private_tmpfs_wrapper(folder)
    if shutil.which("unshare") is None or subprocess.run(
            [*wrapper, "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a private tmpfs (unshare with user namespaces not allowed)")
    code = ("import asyncio, sys; from tests.services.test_view_journal import stop_and_start;"
            " asyncio.run(stop_and_start(*sys.argv[1:]))")
    run = subprocess.run([*wrapper, sys.executable, "-c", code, str(folder), fake_llm.url],
                         capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["refused"] == "STORAGE_FULL", seen  # the disk was full when it stopped
    assert seen["views"] == VIEWS, (seen, run.stderr[-3000:])


async def stop_and_start(folder: str, llm_url: str) -> None:
    """In the private mount namespace: fill the disk, view, stop; free it, start, count."""
    disk = Path(folder)
    settings = Settings(env="test", data_dir=disk / "data", database_url=f"sqlite:///{disk}/db",
                        llm_provider="openai", llm_base_url=f"{llm_url}/v1",
                        llm_model="fake-model", llm_timeout=5.0)
    app = create_app(settings)
    async with app.router.lifespan_context(app), client_of(app) as http:
        chat_id, link = await shared_chat(http)
        async with app.state.ctx.engine.connect() as conn:  # the next write grows the WAL
            await conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        fill(disk / "filler")
        await view(app, link)
        refused = await http.get(f"/api/v1/chats/{chat_id}/share")  # flushes first: fails
    (disk / "filler").unlink()
    app = create_app(settings)
    async with app.router.lifespan_context(app), client_of(app, token=http.headers) as http:
        r = await http.get(f"/api/v1/chats/{chat_id}/share")
    print(json.dumps({"refused": refused.json().get("code"), "views": r.json()["views"]}))


def client_of(app: object, *, token: httpx.Headers | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                             base_url="http://testserver", headers=token)


async def view(app: object, link: str) -> None:
    async with client_of(app) as anonymous:
        for _ in range(VIEWS):
            r = await anonymous.get(f"/api/v1/chats/share/{link}")
            assert r.status_code == 200, r.text


async def shared_chat(http: httpx.AsyncClient) -> tuple[str, str]:
    r = await http.post("/api/v1/auths/signup", json={
        "name": "V", "email": "views@example.com", "password": "long enough pw"})
    http.headers["Authorization"] = f"Bearer {r.json()['token']}"
    r = await http.post("/api/chat", json={"q": "count me", "stream": False})
    chat_id = r.json()["conversationId"]
    r = await http.post(f"/api/v1/chats/{chat_id}/share", json={})
    return chat_id, r.json()["share_id"]


def fill(path: Path) -> None:
    """Write ``path`` until the disk has no byte left."""
    with path.open("wb", buffering=0) as f:
        for size in (1 << 16, 1 << 10, 1):
            try:
                while True:
                    f.write(bytes(size))
            except OSError as exc:
                assert exc.errno == errno.ENOSPC


# --- the journal itself ----------------------------------------------------------------------

def test_a_journal_is_taken_only_once_its_process_let_go(tmp_path: Path) -> None:
    journal = ViewJournal.create(tmp_path)
    assert journal.path.stat().st_size == JOURNAL_BYTES
    assert journal.keep({"a": 2, "b": 1}) == 0
    assert take_orphans(tmp_path) == {}  # held by a live process (this one)
    journal.close(empty=False)
    assert take_orphans(tmp_path) == {"a": 2, "b": 1}
    assert take_orphans(tmp_path) == {}  # taken once: the file is gone
    assert os.listdir(tmp_path) == []


def test_what_does_not_fit_drops_the_smallest_counts(tmp_path: Path) -> None:
    journal = ViewJournal.create(tmp_path)
    counts = {f"share-{n:05d}": n + 1 for n in range(JOURNAL_BYTES // 10)}
    lost = journal.keep(counts)
    journal.close(empty=False)
    kept = take_orphans(tmp_path)
    assert lost == sum(counts.values()) - sum(kept.values()) > 0
    assert min(kept.values()) > max(set(counts.values()) - set(kept.values()))


def test_an_empty_journal_is_deleted(tmp_path: Path) -> None:
    ViewJournal.create(tmp_path).close(empty=True)
    assert os.listdir(tmp_path) == []


async def test_stopping_normally_writes_every_view(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app), client_of(app) as http:
        chat_id, link = await shared_chat(http)
        await view(app, link)
    assert os.listdir(settings.data_dir / "views") == []  # nothing kept: the journal went
    app = create_app(settings)
    async with app.router.lifespan_context(app), client_of(app, token=http.headers) as http:
        assert (await http.get(f"/api/v1/chats/{chat_id}/share")).json()["views"] == VIEWS
