"""Two Salon server processes on one PostgreSQL database and one Redis: a live viewer connected
to one sees what the owner writes through the other, and wrong passwords count across both.
Skipped without SALON_TEST_DATABASE_URL (PostgreSQL) or a Redis server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from salon.config import normalize_database_url
from salon.store.db import execute_autocommit
from tests.browser.conftest import SalonServer
from tests.conftest import PG_URL
from tests.fakes.openai_server import FakeOpenAIServer
from tests.services.test_redis_sharing import REDIS_URL
from tests.web.test_share_live import Stream

ROOT = Path(__file__).resolve().parents[2]


def redis_answers() -> bool:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
        client.close()
    except Exception:
        return False
    return True


@pytest.fixture(scope="module")
def shared_database() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set SALON_TEST_DATABASE_URL to run these")
    if not redis_answers():
        pytest.skip(f"Redis at {REDIS_URL} does not answer")
    admin = normalize_database_url(PG_URL)
    name = f"salon_workers_{uuid.uuid4().hex[:10]}"
    asyncio.run(execute_autocommit(admin, f'CREATE DATABASE "{name}"'))
    yield sa.make_url(admin).set(database=name).render_as_string(hide_password=False)
    asyncio.run(execute_autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def start_worker(database_url: str, data_dir: Path, llm_url: str) -> SalonServer:
    return SalonServer(data_dir=data_dir, llm_base_url=f"{llm_url}/v1", env={
        "SALON_DATABASE_URL": database_url, "SALON_REDIS_URL": REDIS_URL}).start()


@pytest.fixture(scope="module")
def workers(shared_database: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[str, str]]:
    """Two workers: the first migrates the database, then the second starts."""
    data_dir = tmp_path_factory.mktemp("workers")
    with FakeOpenAIServer() as model:
        one = start_worker(shared_database, data_dir, model.url)
        try:
            two = start_worker(shared_database, data_dir, model.url)
            try:
                yield one.url, two.url
            finally:
                two.stop()
        finally:
            one.stop()


async def owner_on(url: str) -> httpx.AsyncClient:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    r = httpx.post(f"{url}/api/v1/auths/signup",
                   json={"name": "Owner", "email": email, "password": "long enough pw"})
    r.raise_for_status()
    return httpx.AsyncClient(base_url=url, timeout=30,
                             headers={"Authorization": f"Bearer {r.json()['token']}"})


async def test_a_viewer_on_one_worker_sees_what_is_written_through_the_other(
    workers: tuple[str, str]
) -> None:
    one, two = workers
    async with await owner_on(one) as owner:
        r = await owner.post("/api/chat", json={"q": "across workers", "stream": False})
        chat_id = r.json()["conversationId"]
        r = await owner.post(f"/api/v1/chats/{chat_id}/share", json={"live": True})
        link = r.json()["share_id"]
        async with httpx.AsyncClient(base_url=two, timeout=30) as viewer, \
                viewer.stream("GET", f"/s/{link}/events") as response:
            assert response.status_code == 200
            stream = Stream(response)
            await stream.subscribed()
            asking = asyncio.create_task(owner.post("/api/chat", json={
                "q": "through worker one", "stream": False, "conversation_id": chat_id}))
            question = (await stream.until("turn"))[-1]
            answer = await stream.until("turn")
            await asyncio.wait_for(asking, 10)
            assert question.data["seq"] == 2 and answer[-1].data["seq"] == 3
            tokens = "".join(e.data["text"] for e in answer if e.kind == "token")
            assert tokens == "Echo: through worker one"
            # Revoking through worker one closes the stream on worker two.
            assert (await owner.delete(f"/api/v1/chats/{chat_id}/share")).status_code == 200
            closed = (await stream.until("closed"))[-1]
            assert closed.data["code"] == "SHARE_LINK_REVOKED"


async def test_wrong_passwords_count_on_every_worker(workers: tuple[str, str]) -> None:
    one, two = workers
    async with await owner_on(two) as owner:
        r = await owner.post("/api/chat", json={"q": "locked", "stream": False})
        chat_id = r.json()["conversationId"]
        r = await owner.post(f"/api/v1/chats/{chat_id}/share", json={"password": "right one"})
        link = r.json()["share_id"]
    async with httpx.AsyncClient(timeout=30) as guesser:
        for n in range(10):
            base = one if n % 2 else two
            r = await guesser.post(f"{base}/api/v1/chats/share/{link}/verify",
                                   json={"password": f"wrong {n}"})
            assert r.status_code == 401, r.text
        for base in (one, two):
            r = await guesser.post(f"{base}/api/v1/chats/share/{link}/verify",
                                   json={"password": "right one"})
            assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"


def test_several_workers_need_redis(shared_database: str, tmp_path: Path) -> None:
    env = {**os.environ, "SALON_DATA_DIR": str(tmp_path), "SALON_DATABASE_URL": shared_database,
           "SALON_REDIS_URL": ""}
    result = subprocess.run([sys.executable, "-m", "salon", "serve", "--workers", "2"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "needs Redis (set SALON_REDIS_URL)" in result.stderr
    assert "Traceback" not in result.stderr
