"""A full disk: Salon runs (a real server process) with its data folder on a 4 MB tmpfs of its
own (a private mount namespace made by ``unshare``, no root needed where user namespaces are
allowed; the database lives elsewhere). Files sent with chat messages fill it: the upload that
does not fit answers 503 STORAGE_FULL and /healthz says STORAGE_FULL; deleting chats frees the
room and both work again, without a restart."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import SalonServer
from tests.fakes.openai_server import FakeOpenAIServer

TMPFS_SIZE = "4m"
FILE_CHARS = 512 * 1024
MOUNT_DATA_DIR = 'mount -t tmpfs -o size={size} salon-test "$0" && exec "$@"'


def private_tmpfs_wrapper(folder: Path) -> list[str]:
    """A command prefix that runs its command with a fresh tmpfs mounted on ``folder``."""
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
            MOUNT_DATA_DIR.format(size=TMPFS_SIZE), str(folder)]


@pytest.fixture
def server(tmp_path: Path, fake_llm: FakeOpenAIServer) -> Iterator[SalonServer]:
    probe = tmp_path / "probe"
    probe.mkdir()
    if shutil.which("unshare") is None or subprocess.run(
            [*private_tmpfs_wrapper(probe), "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a private tmpfs (unshare with user namespaces not allowed)")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = SalonServer(
        data_dir=data_dir, llm_base_url=f"{fake_llm.url}/v1",
        env={"SALON_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'salon.db'}"},
        wrapper=private_tmpfs_wrapper(data_dir))
    try:
        yield server.start()
    finally:
        server.stop()


async def send_file(http: httpx.AsyncClient) -> httpx.Response:
    """A message with a 512 KB text file of its own (never stored before)."""
    content = secrets.token_hex(FILE_CHARS // 2)
    return await http.post("/api/chat", json={
        "q": "Please keep this", "stream": False,
        "files": [{"name": "notes.txt", "content": content}]})


async def test_a_full_disk_answers_503_storage_full_then_recovers(server: SalonServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        r = await http.post("/api/v1/auths/signup", json={
            "name": "F", "email": "full@example.com", "password": "long enough pw"})
        http.headers["Authorization"] = f"Bearer {r.json()['token']}"
        chats: list[str] = []
        for _ in range(20):  # 4 MB hold fewer than 8 such files
            r = await send_file(http)
            if r.status_code != 200:
                break
            chats.append(r.json()["conversationId"])
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "STORAGE_FULL" and r.headers["retry-after"] == "5"
        assert len(chats) >= 2
        health = await http.get("/healthz")
        assert health.status_code == 503 and health.json()["code"] == "STORAGE_FULL"

        for chat_id in chats:  # their files go with them
            assert (await http.delete(f"/api/v1/chats/{chat_id}")).status_code == 200
        assert (await http.get("/healthz")).status_code == 200
        assert (await send_file(http)).status_code == 200
