"""Trying link ids is throttled per client: past ``UNKNOWN_LINKS_PER_MINUTE`` unknown links a
client gets 429 with ``Retry-After`` for every link (so a 429 never tells a hit from a miss),
while found links never touch the limiter and other clients are not slowed. Custom ids need 4
characters. Through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from salon.services.link_scans import UNKNOWN_LINKS_PER_MINUTE
from tests.factories import UserClient
from tests.web.test_share_viewing_api import SHARE, assert_refused, shared_chat

HTML = {"Accept": "text/html"}
LIMIT = UNKNOWN_LINKS_PER_MINUTE


def client_at(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def scanner(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_at(app, "203.0.113.7") as c:
        yield c


@pytest.fixture
async def bystander(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_at(app, "198.51.100.20") as c:
        yield c


def unknown() -> str:
    return "guess-" + uuid.uuid4().hex[:10]


def assert_throttled(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["retry-after"]) <= 61
    if r.headers["content-type"].startswith("application/json"):
        assert r.json()["code"] == "RATE_LIMITED" and r.json()["detail"]
    else:
        assert "Too many links that do not exist were tried" in r.text


async def test_unknown_links_are_throttled_per_client(
    alice: UserClient, scanner: httpx.AsyncClient, bystander: httpx.AsyncClient
) -> None:
    _, link = await shared_chat(alice, "the real one")
    assert (await bystander.get(f"/s/{link}", headers=HTML)).status_code == 200  # rendered
    answers = []
    for n in range(100):  # the page, the JSON view and a file, in turn
        path = (f"/s/{unknown()}", f"{SHARE}/{unknown()}", f"{SHARE}/{unknown()}/files/0")[n % 3]
        answers.append(await scanner.get(path, headers=HTML))
    assert [r.status_code for r in answers] == [404] * LIMIT + [429] * (100 - LIMIT)
    for r in answers[LIMIT:]:
        assert_throttled(r)
    # Locked out for every link: a found one answers the same 429 (a scanner learns nothing),
    # the hot path included; everybody else is served as before.
    for path in (f"/s/{link}", f"{SHARE}/{link}", f"/s/{unknown()}"):
        assert_throttled(await scanner.get(path, headers=HTML))
    assert (await bystander.get(f"/s/{link}", headers=HTML)).status_code == 200
    assert (await bystander.get(f"{SHARE}/{unknown()}")).status_code == 404


async def test_found_links_never_count(
    alice: UserClient, scanner: httpx.AsyncClient
) -> None:
    _, link = await shared_chat(alice, "popular")
    for _ in range(3 * LIMIT):
        assert (await scanner.get(f"{SHARE}/{link}")).status_code == 200
    for _ in range(LIMIT):
        assert_refused(await scanner.get(f"{SHARE}/{unknown()}"), 404, "SHARE_LINK_NOT_FOUND")
    assert_throttled(await scanner.get(f"{SHARE}/{unknown()}"))


async def test_a_parallel_burst_of_unknown_links_is_held_to_the_limit(
    scanner: httpx.AsyncClient,
) -> None:
    answers = await asyncio.gather(*(scanner.get(f"/s/{unknown()}", headers=HTML)
                                     for _ in range(300)))
    statuses = [r.status_code for r in answers]
    assert set(statuses) == {404, 429} and statuses.count(404) <= LIMIT


async def test_every_viewer_path_is_throttled(scanner: httpx.AsyncClient) -> None:
    for _ in range(LIMIT):
        assert (await scanner.get(f"{SHARE}/{unknown()}")).status_code == 404
    link = unknown()
    for method, path in (("GET", f"/s/{link}"), ("HEAD", f"/s/{link}"),
                         ("GET", f"{SHARE}/{link}/files.zip"), ("GET", f"/s/{link}/messages"),
                         ("GET", f"/s/{link}/events"), ("POST", f"/s/{link}/clone"),
                         ("POST", f"{SHARE}/{link}/verify")):
        r = await scanner.request(method, path, headers=HTML, json={"password": "x"})
        assert r.status_code == 429, (method, path, r.status_code)


@pytest.mark.parametrize("custom", ["abc", " a b ", "x!y", "~~~"])
async def test_custom_ids_need_four_characters(alice: UserClient, custom: str) -> None:
    chat_id = await alice.new_conversation("short link")
    r = await alice.http.post(f"/api/v1/chats/{chat_id}/share", json={"share_id": custom})
    assert_refused(r, 422, "VALIDATION_ERROR",
                   "The custom link needs at least 4 characters (a shorter one is easy to guess).")
    ok = await alice.http.post(f"/api/v1/chats/{chat_id}/share", json={"share_id": "abcd"})
    assert ok.status_code == 200 and ok.json()["share_id"] == "abcd"
