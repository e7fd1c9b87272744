"""Failures over real HTTP (uvicorn): an unexpected error is a complete 500 and the keep-alive
connection it came on answers the next request; a response that fails half-way is cut short
and the next request still works; a write that cannot get its lock within the statement timeout
is a 503 DATABASE_UNAVAILABLE, on both databases."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from salon.app import create_app
from salon.config import Settings
from salon.store.db import create_engine, transaction
from salon.store.tables import shares
from tests.web.test_live_server import serve, sign_up

# Hang guard only: what this module checks either answers or hangs for good.
CLIENT_TIMEOUT = 30
ONE_CONNECTION = httpx.Limits(max_connections=1, max_keepalive_connections=1)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"db_connect_timeout": 1, "db_statement_timeout": 1}


def app_with_bugs(settings: Settings) -> FastAPI:
    """Salon plus two routes of this test only: one raises, one fails after its first bytes."""
    app = create_app(settings)

    async def bug() -> None:
        raise RuntimeError("a bug in a route")

    async def cut_short() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"the first part\n"
            raise RuntimeError("a bug half-way through a response")

        return StreamingResponse(body(), media_type="text/plain")

    app.add_api_route("/api/test-only/bug", bug)
    app.add_api_route("/api/test-only/cut-short", cut_short)
    app.add_api_route("/test-only/bug", bug)
    return app


@pytest.fixture
def base(settings: Settings) -> Iterator[str]:
    with serve(settings, app=app_with_bugs(settings)) as url:
        yield url


def local_address(response: httpx.Response) -> Any:
    """The client end of the connection the response came on."""
    return response.extensions["network_stream"].get_extra_info("client_addr")


async def test_a_500_leaves_the_keep_alive_connection_usable(
    base: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with httpx.AsyncClient(base_url=base, limits=ONE_CONNECTION,
                                 timeout=CLIENT_TIMEOUT) as http:
        failed = await http.get("/api/test-only/bug")
        assert failed.status_code == 500
        assert failed.json() == {"detail": "Something went wrong on the server. Please try "
                                           "again.", "code": "INTERNAL_ERROR"}
        assert failed.headers.get("connection", "keep-alive") != "close"
        page = await http.get("/test-only/bug", headers={"Accept": "text/html"})
        assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
        assert "Something went wrong" in page.text and "RuntimeError" not in page.text
        assert "content-security-policy" in page.headers
        after = await http.get("/healthz")
        assert after.status_code == 200
        assert local_address(page) == local_address(after) == local_address(failed)
    # Logged once each, with the traceback, by Salon (not again by the server).
    logged = [r for r in caplog.records if r.exc_info]
    assert [r.name for r in logged] == ["salon.web.errors", "salon.web.errors"]


async def test_a_response_that_fails_half_way_is_cut_short_and_the_next_request_works(
    base: str,
) -> None:
    async with httpx.AsyncClient(base_url=base, limits=ONE_CONNECTION,
                                 timeout=CLIENT_TIMEOUT) as http:
        async with http.stream("GET", "/api/test-only/cut-short") as response:
            assert response.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                await response.aread()  # never mistaken for a complete body
        assert (await http.get("/healthz")).status_code == 200


async def test_a_write_that_waits_longer_than_the_statement_timeout_is_a_503(
    base: str, settings: Settings,
) -> None:
    """Another connection holds the lock the owner's revoke needs (SQLite: the database's
    write lock; PostgreSQL: the share's row) for longer than the statement timeout."""
    auth = await sign_up(base)
    async with httpx.AsyncClient(base_url=base, headers=auth, limits=ONE_CONNECTION,
                                 timeout=CLIENT_TIMEOUT) as http:
        r = await http.post("/api/chat", json={"q": "locked out", "stream": False})
        chat_id = r.json()["conversationId"]
        assert (await http.post(f"/api/v1/chats/{chat_id}/share", json={})).status_code == 200
        async with hold_write_lock(settings):
            refused = await http.delete(f"/api/v1/chats/{chat_id}/share")
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "DATABASE_UNAVAILABLE"
        assert refused.headers["retry-after"] == "5"
        revoked = await http.delete(f"/api/v1/chats/{chat_id}/share")
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
        assert local_address(revoked) == local_address(refused)


@asynccontextmanager
async def hold_write_lock(settings: Settings) -> AsyncIterator[None]:
    """SQLite: an open BEGIN IMMEDIATE; PostgreSQL: every share row locked FOR UPDATE."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        lite = sqlite3.connect(sa.make_url(url).database or "", isolation_level=None)
        try:
            lite.execute("BEGIN IMMEDIATE")
            yield
        finally:
            lite.close()
        return
    engine = create_engine(url)
    try:
        async with transaction(engine) as conn:
            await conn.execute(sa.select(shares.c.id).with_for_update())
            yield
    finally:
        await engine.dispose()
