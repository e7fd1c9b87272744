"""PostgreSQL going away, over real HTTP: Salon talks to the database through a TCP proxy this
test takes down or stalls. Every kind of request answers a clear 503 DATABASE_UNAVAILABLE
within the timeouts (the API as JSON with Retry-After, pages as a friendly page, /healthz too),
logged in one line without a traceback; once the database is back, the same requests work
without a restart. Skipped without SALON_TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from salon.config import Settings
from tests.conftest import _truncate
from tests.fakes.tcp_proxy import TcpProxy, proxy_in_front_of
from tests.web.test_live_server import serve, sign_up

# Hang guard only: a request that waited for the database would never come back.
CLIENT_TIMEOUT = 30


@pytest.fixture
def proxy(pg_database: str) -> Iterator[TcpProxy]:
    with proxy_in_front_of(pg_database) as running:
        yield running


@pytest.fixture
def database_url(pg_database: str, proxy: TcpProxy) -> str:
    """This module's database: the session's PostgreSQL one, emptied, through the proxy."""
    asyncio.run(_truncate(pg_database))
    url = sa.make_url(pg_database).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"db_connect_timeout": 1, "db_statement_timeout": 1}


async def requests_of_every_kind(base: str, auth: dict[str, str], link: str, chat_id: str
                                 ) -> dict[str, httpx.Response]:
    """The API (signed in and anonymous), a page through the app, the share page's hot path
    and /healthz."""
    html = {"Accept": "text/html"}
    async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT) as http:
        return {
            "api": await http.get("/api/v1/chats/", headers=auth),
            "api change": await http.post(f"/api/v1/chats/{chat_id}/share", headers=auth,
                                          json={"allow_cloning": False}),
            "anonymous api": await http.get(f"/api/v1/chats/share/{link}"),
            "page": await http.get(f"/s/{link}?from=test", headers=html),
            "hot path page": await http.get(f"/s/{link}", headers=html),
            "healthz": await http.get("/healthz"),
        }


async def shared_chat(base: str, auth: dict[str, str]) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=base, headers=auth, timeout=CLIENT_TIMEOUT) as http:
        r = await http.post("/api/chat", json={"q": "Still there?", "stream": False})
        chat_id = r.json()["conversationId"]
        r = await http.post(f"/api/v1/chats/{chat_id}/share", json={})
        link = r.json()["share_id"]
        # Rendered once, so the next anonymous view takes the hot path.
        assert (await http.get(f"/s/{link}", headers={"Accept": "text/html"})).status_code == 200
    return chat_id, link


def assert_unavailable(responses: dict[str, httpx.Response]) -> None:
    for kind, r in responses.items():
        assert r.status_code == 503, (kind, r.status_code, r.text[:300])
        if kind.endswith("page"):
            assert r.headers["content-type"].startswith("text/html"), kind
            assert "Temporarily unavailable" in r.text and "Traceback" not in r.text, kind
        else:
            assert r.json()["code"] == "DATABASE_UNAVAILABLE", kind
        if kind != "healthz":
            assert r.headers["retry-after"] == "5", kind


def assert_working(responses: dict[str, httpx.Response]) -> None:
    assert {kind: r.status_code for kind, r in responses.items()} == {
        kind: 200 for kind in responses}


@pytest.mark.parametrize("fault", ["down", "stall"])
async def test_the_database_away_answers_503_then_recovers(
    settings: Settings, proxy: TcpProxy, fault: str, caplog: pytest.LogCaptureFixture,
) -> None:
    with serve(settings) as base:
        auth = await sign_up(base)
        chat_id, link = await shared_chat(base, auth)
        assert_working(await requests_of_every_kind(base, auth, link, chat_id))

        proxy.down() if fault == "down" else proxy.stall()
        caplog.clear()
        assert_unavailable(await requests_of_every_kind(base, auth, link, chat_id))
        assert [r.getMessage() for r in caplog.records if r.exc_info] == []
        assert any("503 DATABASE_UNAVAILABLE" in r.getMessage() for r in caplog.records)

        proxy.up()
        assert_working(await requests_of_every_kind(base, auth, link, chat_id))
