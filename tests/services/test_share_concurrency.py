"""Limits stay exact under concurrency, on both databases: through the real app (many requests
at once over ASGI clients), and straight against the store from several engines in several
threads, each with its own event loop and connections."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from salon.config import Settings
from salon.store import shares as repo
from salon.store.db import create_engine, transaction
from salon.store.tables import conversations, shares, users
from tests.factories import UserClient

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SIGNUPS_PER_CLIENT = Settings.model_fields["signup_limit_per_hour"].default  # alice is the first


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [p["text"] for m in messages for p in m["parts"] if p["type"] == "text"]


def error_code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["code"]


async def owner_share(owner: UserClient, chat_id: str) -> dict[str, Any]:
    r = await owner.http.get(f"/api/v1/chats/{chat_id}/share")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# --- views through the app -------------------------------------------------------------------

@pytest.mark.parametrize("live", [False, True], ids=["snapshot", "live"])
async def test_fifty_anonymous_viewers_of_a_five_view_link(
    alice: UserClient, client: httpx.AsyncClient, live: bool
) -> None:
    chat_id = await alice.new_conversation("How many may look?")
    link = (await alice.share(chat_id, max_views=5, live=live))["share_id"]
    url = f"/api/v1/chats/share/{link}"

    responses = await asyncio.gather(*(client.get(url) for _ in range(50)))

    delivered = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(delivered) == 5
    for r in delivered:
        body = r.json()
        assert texts(body["messages"]) == ["How many may look?", "Echo: How many may look?"]
        assert body["share_id"] == link and body["is_owner"] is False
    assert len(refused) == 45
    assert {error_code(r) for r in refused} == {(410, "SHARE_LINK_EXPIRED")}
    stored = await owner_share(alice, chat_id)
    assert (stored["views"], stored["status"]) == (5, "expired")
    # Later viewers are refused too; the owner still sees it and is not counted.
    assert error_code(await client.get(url)) == (410, "SHARE_LINK_EXPIRED")
    mine = await alice.http.get(url)
    assert mine.status_code == 200 and mine.json()["is_owner"] is True
    assert (await owner_share(alice, chat_id))["views"] == 5


async def test_concurrent_viewers_without_a_limit_are_all_counted(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    chat_id = await alice.new_conversation("Count everyone")
    link = (await alice.share(chat_id))["share_id"]
    responses = await asyncio.gather(
        *(client.get(f"/api/v1/chats/share/{link}") for _ in range(30)))
    assert [r.status_code for r in responses] == [200] * 30
    assert (await owner_share(alice, chat_id))["views"] == 30


# --- clones through the app ------------------------------------------------------------------

async def twenty_cloners(
    app: Any, alice: UserClient, make_user: Callable[..., Awaitable[UserClient]]
) -> list[UserClient]:
    """Twenty users besides alice: as many sign-ups as one address may make, and the rest
    added by alice (an admin) and signed in."""
    # One after another: the race under test is the clones, and a burst of sign-ups would be
    # refused by the bounded password-hashing pool (429 SERVER_BUSY), as it should be.
    signed_up = [await make_user() for _ in range(SIGNUPS_PER_CLIENT - 1)]
    r = await alice.http.post("/api/v1/auths/add", json={
        "name": "Added", "email": "added@example.com", "password": "correct horse battery"})
    assert r.status_code == 200, r.text
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anon:
        r = await anon.post("/api/v1/auths/signin", json={
            "email": "added@example.com", "password": "correct horse battery"})
    assert r.status_code == 200, r.text
    body = r.json()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                             headers={"Authorization": f"Bearer {body['token']}"})
    added = UserClient(id=body["id"], email=body["email"], name=body["name"], role=body["role"],
                       token=body["token"], password="correct horse battery", http=http)
    return [*signed_up, added]


async def chat_ids(user: UserClient) -> set[str]:
    r = await user.http.get("/api/v1/chats/", params={"page_size": 100})
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()}


async def race_to_clone(
    alice: UserClient, cloners: list[UserClient], anon: httpx.AsyncClient, *, view_after: bool
) -> None:
    question = f"Clone me (viewable after the limit: {view_after})"
    chat_id = await alice.new_conversation(question)
    link = (await alice.share(chat_id, max_clones=1,
                              allow_view_after_clone_limit=view_after))["share_id"]
    before = await asyncio.gather(*(chat_ids(c) for c in cloners))

    responses = await asyncio.gather(
        *(c.http.post(f"/api/v1/chats/{link}/clone/shared") for c in cloners))

    winners = [i for i, r in enumerate(responses) if r.status_code == 200]
    assert len(winners) == 1, [r.status_code for r in responses]
    winner, clone = cloners[winners[0]], responses[winners[0]].json()
    assert clone["user_id"] == winner.id and clone["title"].startswith("Clone of")
    assert [m["content"] for m in clone["chat"]["messages"]] == [question, f"Echo: {question}"]
    refusals = {error_code(r) for r in responses if r.status_code != 200}
    allowed = {(403, "CLONE_LIMIT_REACHED")}
    if not view_after:  # once the limit is hit the link itself is revoked
        allowed.add((410, "SHARE_LINK_REVOKED"))
    assert refusals and refusals <= allowed, refusals

    after = await asyncio.gather(*(chat_ids(c) for c in cloners))
    new = [(c, a - b) for c, b, a in zip(cloners, before, after, strict=True) if a - b]
    assert new == [(winner, {clone["id"]})]  # exactly one new conversation among all cloners
    stored = await owner_share(alice, chat_id)
    assert (stored["clones"], stored["views"]) == (1, 1)  # a clone without a view's grant is one
    viewed = await anon.get(f"/api/v1/chats/share/{link}")
    if view_after:
        assert stored["status"] == "active"
        assert viewed.status_code == 200 and texts(viewed.json()["messages"])[0] == question
        again = await cloners[winners[0] - 1].http.post(f"/api/v1/chats/{link}/clone/shared")
        assert error_code(again) == (403, "CLONE_LIMIT_REACHED")
    else:
        assert stored["status"] == "revoked"
        assert error_code(viewed) == (410, "SHARE_LINK_REVOKED")
    assert (await owner_share(alice, chat_id))["clones"] == 1


async def test_twenty_cloners_of_a_one_clone_link(
    app: Any, alice: UserClient, make_user: Callable[..., Awaitable[UserClient]],
    client: httpx.AsyncClient,
) -> None:
    cloners = await twenty_cloners(app, alice, make_user)
    try:
        assert len({c.id for c in cloners}) == 20 and alice.id not in {c.id for c in cloners}
        await race_to_clone(alice, cloners, client, view_after=False)
        await race_to_clone(alice, cloners, client, view_after=True)
    finally:
        await cloners[-1].http.aclose()


# --- the store from many engines and threads -------------------------------------------------

async def add_share(db: AsyncEngine, **values: Any) -> str:
    """A user, a conversation and its share (straight into the tables); the share's id."""
    user_id, chat_id, share_pk = (uuid.uuid4().hex for _ in range(3))
    async with transaction(db) as conn:
        await conn.execute(users.insert().values(
            id=user_id, email=f"{user_id}@example.com", name="U", password_hash="x",
            role="user", permissions={}, created_at=NOW, updated_at=NOW))
        await conn.execute(conversations.insert().values(
            id=chat_id, user_id=user_id, title="t", slug="t", agent_slug="salon", recipe={},
            file_filters=[], next_seq=0, created_at=NOW, updated_at=NOW))
        await conn.execute(shares.insert().values({
            "id": share_pk, "share_id": uuid.uuid4().hex, "conversation_id": chat_id,
            "user_id": user_id, "title": "t", "is_public": True, "password_hash": None,
            "live": False, "display_username": False, "allow_cloning": True,
            "expires_at": None, "max_views": None, "max_clones": None,
            "allow_view_after_clone_limit": False, "upto_message_id": None, "views": 0,
            "clones": 0, "revoked_at": None, "content_version": 1, "created_at": NOW,
            "updated_at": NOW, **values}))
    return share_pk


Counter = Callable[..., Awaitable[int | None]]
COUNTERS: dict[str, tuple[Counter, str]] = {
    "views": (repo.count_view, "max_views"),
    "clones": (repo.count_clone, "max_clones"),
}


async def spend(engine: AsyncEngine, counter: Counter, share_pk: str) -> int | None:
    async with transaction(engine) as conn:
        result: int | None = await counter(conn, share_pk, now=NOW)
        return result


async def stored_counts(db: AsyncEngine, share_pk: str) -> tuple[int, int]:
    conn: AsyncConnection
    async with db.connect() as conn:
        share = await repo.get_share(conn, share_pk)
    assert share is not None
    return share.views, share.clones


@pytest.mark.parametrize("kind", sorted(COUNTERS))
async def test_counting_from_several_engines_at_once(
    db: AsyncEngine, database_url: str, kind: str
) -> None:
    counter, limit_column = COUNTERS[kind]
    share_pk = await add_share(db, **{limit_column: 7})
    engines = [create_engine(database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(spend(engines[i % 4], counter, share_pk) for i in range(40)))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(r for r in results if r is not None) == list(range(1, 8))
    assert results.count(None) == 33
    views, clones = await stored_counts(db, share_pk)
    assert (views if kind == "views" else clones) == 7
    assert (clones if kind == "views" else views) == 0


def spend_in_own_loop(
    url: str, counter: Counter, share_pk: str, tasks: int, barrier: threading.Barrier
) -> list[int | None]:
    """In this thread: a new event loop and engine, connections opened first, then (once every
    thread is ready) ``tasks`` counts at once."""

    async def main() -> list[int | None]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:  # connect before the start line
                await conn.close()
            await asyncio.to_thread(barrier.wait)
            return list(await asyncio.gather(
                *(spend(engine, counter, share_pk) for _ in range(tasks))))
        finally:
            await engine.dispose()

    return asyncio.run(main())


@pytest.mark.parametrize("kind", sorted(COUNTERS))
async def test_counting_from_several_threads_each_with_its_own_loop(
    db: AsyncEngine, database_url: str, kind: str
) -> None:
    counter, limit_column = COUNTERS[kind]
    share_pk = await add_share(db, **{limit_column: 7})
    threads = 4
    barrier = threading.Barrier(threads, timeout=60)
    per_thread = await asyncio.gather(*(
        asyncio.to_thread(spend_in_own_loop, database_url, counter, share_pk, 10, barrier)
        for _ in range(threads)))
    results = [r for batch in per_thread for r in batch]
    assert len(results) == 40
    assert sorted(r for r in results if r is not None) == list(range(1, 8))
    views, clones = await stored_counts(db, share_pk)
    assert (views if kind == "views" else clones) == 7
