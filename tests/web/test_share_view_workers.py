"""The share JSON's cache (``web.api.share_view``, and the hot path) on real servers: one
worker, and two workers on one PostgreSQL database and one Redis. Every worker keeps its own
cache, yet a change made through either worker is answered at the very next request on both:
revoked, expired, a new password, the views used up, new options. Skipped without
SALON_TEST_DATABASE_URL (PostgreSQL) or a Redis server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.web.test_multiworker import owner_on

# The two workers' fixtures (``workers`` needs ``shared_database``).
from tests.web.test_multiworker import shared_database as shared_database
from tests.web.test_multiworker import workers as workers

SHARE = "/api/v1/chats/share"
TURN = "a question long enough to be worth compressing " * 12


@pytest.fixture(params=["one worker", "two workers"])
def bases(request: pytest.FixtureRequest, workers: tuple[str, str]) -> tuple[str, str]:
    """The servers viewers alternate between: the first worker twice, or both."""
    one, two = workers
    return (one, one) if request.param == "one worker" else (one, two)


@pytest.fixture
async def viewer() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
async def owner(bases: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The shares' owner, writing through the second base (with two workers, not the one
    the viewer asks first)."""
    async with await owner_on(bases[1]) as client:
        yield client


async def statuses(viewer: httpx.AsyncClient, bases: tuple[str, str], link: str,
                   times: int = 2) -> list[int]:
    """Each base asked ``times`` (the second answer onwards comes from its cache), as httpx
    asks: gzip accepted."""
    codes = []
    for _ in range(times):
        for base in bases:
            r = await viewer.get(f"{base}{SHARE}/{link}")
            codes.append(r.status_code)
    return codes


async def shared(owner: httpx.AsyncClient, **options: Any) -> tuple[str, str]:
    r = await owner.post("/api/chat", json={"q": TURN, "stream": False})
    chat_id: str = r.json()["conversationId"]
    r = await owner.post(f"/api/v1/chats/{chat_id}/share", json=options)
    assert r.status_code == 200, r.text
    link: str = r.json()["share_id"]
    return chat_id, link


async def seen(owner: httpx.AsyncClient, viewer: httpx.AsyncClient, bases: tuple[str, str],
               **options: Any) -> tuple[str, str]:
    """A chat shared with ``options`` whose JSON every base has answered (and cached)."""
    chat_id, link = await shared(owner, **options)
    assert await statuses(viewer, bases, link) == [200] * 4
    return chat_id, link


async def change(owner: httpx.AsyncClient, chat_id: str, **options: Any) -> None:
    r = await owner.post(f"/api/v1/chats/{chat_id}/share", json=options)
    assert r.status_code == 200, r.text


async def test_revoked_and_restored_on_every_worker_at_once(
    bases: tuple[str, str], viewer: httpx.AsyncClient, owner: httpx.AsyncClient
) -> None:
    chat_id, link = await seen(owner, viewer, bases)
    assert (await owner.delete(f"/api/v1/chats/{chat_id}/share")).status_code == 200
    assert await statuses(viewer, bases, link) == [410] * 4
    assert (await owner.post(f"/api/v1/chats/{chat_id}/share/restore")).status_code == 200
    assert await statuses(viewer, bases, link) == [200] * 4


async def test_a_new_password_and_a_private_switch_on_every_worker(
    bases: tuple[str, str], viewer: httpx.AsyncClient, owner: httpx.AsyncClient
) -> None:
    chat_id, link = await seen(owner, viewer, bases)
    await change(owner, chat_id, password="now secret")
    assert await statuses(viewer, bases, link) == [401] * 4
    await change(owner, chat_id, password=None, current_password="now secret")
    assert await statuses(viewer, bases, link) == [200] * 4
    await change(owner, chat_id, is_public=False)
    assert await statuses(viewer, bases, link) == [401] * 4


async def test_expiry_on_every_worker(
    bases: tuple[str, str], viewer: httpx.AsyncClient, owner: httpx.AsyncClient
) -> None:
    chat_id, link = await seen(owner, viewer, bases)
    await change(owner, chat_id, expires_in=1)
    await asyncio.sleep(1.2)
    assert await statuses(viewer, bases, link) == [410] * 4


async def test_the_view_limit_is_exact_across_workers(
    bases: tuple[str, str], viewer: httpx.AsyncClient, owner: httpx.AsyncClient
) -> None:
    chat_id, link = await shared(owner, max_views=3)
    assert await statuses(viewer, bases, link, times=3) == [200, 200, 200, 410, 410, 410]
    r = await owner.get(f"/api/v1/chats/{chat_id}/share")
    assert r.json()["views"] == 3


async def test_new_content_and_options_on_every_worker(
    bases: tuple[str, str], viewer: httpx.AsyncClient, owner: httpx.AsyncClient
) -> None:
    chat_id, link = await seen(owner, viewer, bases)
    await owner.post("/api/chat", json={"q": "a second turn", "stream": False,
                                        "conversation_id": chat_id})
    await change(owner, chat_id, update_snapshot=True)
    for base in bases:
        body = (await viewer.get(f"{base}{SHARE}/{link}")).json()
        assert len(body["messages"]) == 4 and body["type"] == "snapshot"
    chat = (await owner.get(f"/api/v1/chats/{chat_id}")).json()
    await change(owner, chat_id, upto_message_id=chat["chat"]["messages"][1]["id"])
    for base in bases:
        assert len((await viewer.get(f"{base}{SHARE}/{link}")).json()["messages"]) == 2
    await change(owner, chat_id, live=True)
    for base in bases:
        assert (await viewer.get(f"{base}{SHARE}/{link}")).json()["type"] == "live"
    r = await owner.post(f"/api/v1/chats/{chat_id}/share/rotate")
    new_link = r.json()["share_id"]
    assert await statuses(viewer, bases, link) == [404] * 4
    assert await statuses(viewer, bases, new_link) == [200] * 4
