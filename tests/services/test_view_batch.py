"""Batched view counts with several workers, on both databases: two workers' batches of the same
shares never deadlock and add up exactly, and an owner's request never waits for another
worker's batch."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from salon.services.view_batch import ViewBatch
from salon.store import shares as repo
from salon.store.db import create_engine, transaction
from tests.factories import UserClient
from tests.store.test_shares import add_share, add_user, stored

ROUNDS = 15
SHARES = 40
# Only a hang guard: an owner's call that waits for the other batch never returns at all.
HANG_SECONDS = 30


async def views_of(db: AsyncEngine, share_pk: str) -> int:
    share = await stored(db, share_pk)
    assert share is not None
    return share.views


async def test_two_workers_batches_of_the_same_shares_add_up_without_deadlock(
    database_url: str,
) -> None:
    """Each worker counts views of the same 40 shares, one in the opposite order of the other,
    and both write their batches at the same moment, again and again."""
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        owner = await add_user(engines[0])
        ids = [(await add_share(engines[0], owner)).id for _ in range(SHARES)]
        first, second = ViewBatch(engines[0]), ViewBatch(engines[1])
        for _ in range(ROUNDS):
            for pk in ids:
                first.add(pk)
            for pk in reversed(ids):
                second.add(pk)
                second.add(pk)
            await asyncio.gather(first.flush(), second.flush())
        await asyncio.gather(first.drain(), second.drain())
        assert first.pending == second.pending == 0
        assert {await views_of(engines[0], pk) for pk in ids} == {3 * ROUNDS}
    finally:
        for engine in engines:
            await engine.dispose()


async def test_views_of_a_share_another_worker_is_writing_wait_for_the_next_flush(
    database_url: str,
) -> None:
    """While another worker's batch holds a share's row, this worker's flush writes the other
    shares at once and keeps that one's views, which the next flush writes."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer at a time: no row is ever held by another writer")
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        owner = await add_user(engines[0])
        held, free = [(await add_share(engines[0], owner)).id for _ in range(2)]
        batch = ViewBatch(engines[0])
        batch.add(held)
        batch.add(free)
        async with transaction(engines[1]) as other:
            assert await repo.add_views(other, {held: 10}) == set()
            await asyncio.wait_for(batch.flush(), HANG_SECONDS)
            assert batch.pending == 1
            assert await views_of(engines[0], free) == 1
        await batch.flush()
        assert batch.pending == 0
        assert [await views_of(engines[0], pk) for pk in (held, free)] == [11, 1]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_owner_calls_do_not_wait_for_another_workers_batch(
    database_url: str, app: Any, alice: UserClient, client: httpx.AsyncClient,
) -> None:
    """Another worker's batch holds the row of one of Alice's shares (a transaction not yet
    committed). Her share, revoke, restore and dashboard calls, each of which first writes
    this worker's pending views (including some of that share's), all complete."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer at a time: any open write blocks every writer")
    busy_chat, own_chat = (await alice.new_conversation("busy"),
                           await alice.new_conversation("mine"))
    busy_link = (await alice.share(busy_chat))["share_id"]
    own_link = (await alice.share(own_chat))["share_id"]
    owner = alice.http
    for link in (busy_link, own_link, busy_link):
        assert (await client.get(f"/api/v1/chats/share/{link}")).status_code == 200
    busy_pk = (await stored_by_link(app, busy_link)).id
    other_worker = create_engine(database_url)
    try:
        async with transaction(other_worker) as other:
            await repo.add_views(other, {busy_pk: 100})
            calls = [owner.post(f"/api/v1/chats/{own_chat}/share", json={"allow_cloning": False}),
                     owner.delete(f"/api/v1/chats/{own_chat}/share"),
                     owner.post(f"/api/v1/chats/{own_chat}/share/restore"),
                     owner.get("/api/v1/chats/shared")]
            for call in calls:
                r = await asyncio.wait_for(call, HANG_SECONDS)
                assert r.status_code == 200, r.text
    finally:
        await other_worker.dispose()
    await app.state.ctx.view_batch.drain()
    r = await owner.get(f"/api/v1/chats/{busy_chat}/share")
    assert r.json()["views"] == 102
    r = await owner.get(f"/api/v1/chats/{own_chat}/share")
    assert (r.json()["views"], r.json()["status"]) == (1, "active")


async def stored_by_link(app: Any, link: str) -> Any:
    async with app.state.ctx.engine.connect() as conn:
        access = await repo.get_share_access(conn, link)
    assert access is not None
    return access.share
