"""Redis going away, over real HTTP: Salon reaches Redis through a TCP proxy this test takes
down. What needs Redis (sign-in and share changes count attempts there) answers a clear 503
REDIS_UNAVAILABLE, /healthz says so, everything else keeps working, and once Redis is back so
does everything, without a restart. Skipped when Redis does not answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa

from salon.config import Settings
from tests.fakes.tcp_proxy import TcpProxy
from tests.services.test_redis_sharing import REDIS_URL
from tests.web.test_live_server import serve
from tests.web.test_multiworker import redis_answers

PASSWORD = "long enough pw"
# Hang guard only.
CLIENT_TIMEOUT = 30


P = TypeVar("P", bound=TcpProxy)


@contextmanager
def redis_proxy(kind: type[P]) -> Iterator[P]:
    """A ``kind`` of proxy in front of the test Redis (the test is skipped without one)."""
    if not redis_answers():
        pytest.skip(f"Redis at {REDIS_URL} does not answer")
    url = sa.make_url(REDIS_URL)
    with kind(url.host or "127.0.0.1", url.port or 6379) as running:
        yield running


def settings_through(proxy: TcpProxy, **overrides: Any) -> dict[str, Any]:
    """Settings that reach the test Redis through ``proxy``."""
    database = sa.make_url(REDIS_URL).database or "0"
    return {"redis_url": f"redis://{proxy.host_port}/{database}",
            # Sign-ups are counted in Redis per address, and every run comes from 127.0.0.1.
            "signup_limit_per_hour": 100_000, **overrides}


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    with redis_proxy(TcpProxy) as running:
        yield running


@pytest.fixture
def settings_overrides(proxy: TcpProxy) -> dict[str, Any]:
    return settings_through(proxy)


async def what_needs_redis(http: httpx.AsyncClient, email: str, chat_id: str
                           ) -> dict[str, httpx.Response]:
    return {
        "sign-in": await http.post("/api/v1/auths/signin",
                                   json={"email": email, "password": PASSWORD}),
        "sign-in page": await http.post(
            "/login", data={"email": email, "password": PASSWORD},
            headers={"Accept": "text/html", "Origin": str(http.base_url).rstrip("/")}),
        "share change": await http.post(f"/api/v1/chats/{chat_id}/share",
                                        json={"allow_cloning": False}),
        "healthz": await http.get("/healthz"),
    }


async def test_redis_away_answers_503_then_recovers(
    settings: Settings, proxy: TcpProxy, caplog: pytest.LogCaptureFixture,
) -> None:
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    with serve(settings) as base:
        async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT) as http:
            r = await http.post("/api/v1/auths/signup",
                                json={"name": "R", "email": email, "password": PASSWORD})
            http.headers["Authorization"] = f"Bearer {r.json()['token']}"
            r = await http.post("/api/chat", json={"q": "Redis?", "stream": False})
            chat_id = r.json()["conversationId"]

            proxy.down()
            caplog.clear()
            refused = await what_needs_redis(http, email, chat_id)
            for kind, response in refused.items():
                assert response.status_code == 503, (kind, response.text[:300])
                if kind.endswith("page"):
                    assert "Temporarily unavailable" in response.text
                else:
                    assert response.json()["code"] == "REDIS_UNAVAILABLE", kind
            assert refused["sign-in"].headers["retry-after"] == "5"
            assert [r.getMessage() for r in caplog.records if r.exc_info] == []
            # What does not need Redis still works.
            assert (await http.get(f"/api/chat/history?conversation_id={chat_id}")
                    ).status_code == 200

            proxy.up()
            working = await what_needs_redis(http, email, chat_id)
            assert {kind: r.status_code for kind, r in working.items()} == {
                "sign-in": 200, "sign-in page": 303, "share change": 200, "healthz": 200}
