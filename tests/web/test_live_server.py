"""End to end over real HTTP: Salon under uvicorn on a free port, the fake model behind it."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from salon.app import create_app
from salon.config import Settings

SSE = {"Accept": "text/event-stream"}  # server-sent events (other clients get JSON lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """Salon served by uvicorn in a background thread; yields its base URL."""
    with serve(settings) as base:
        yield base


@contextmanager
def serve(settings: Settings, *, app: Any = None, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` (by default ``create_app(settings)``; pass one to reach its state) on
    ``port`` (by default a free one)."""
    port = port or free_port()
    config = uvicorn.Config(app or create_app(settings), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


async def sign_up(base: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base) as c:
        r = await c.post("/api/v1/auths/signup", json={"name": "E2E", "email": "e2e@example.com",
                                                       "password": "long enough pw"})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['token']}"}


async def read_events(response: httpx.Response, *, stop_after_messages: int | None = None,
                      ) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    messages = 0
    async for line in response.aiter_lines():
        if not line.startswith("data: "):
            continue
        event = json.loads(line[6:])
        events.append(event)
        messages += event["type"] == "message"
        if stop_after_messages is not None and messages >= stop_after_messages:
            break
    return events


async def test_stream_over_http_metadata_first_and_clean_end(live_server: str) -> None:
    auth = await sign_up(live_server)
    async with httpx.AsyncClient(base_url=live_server, headers=auth, timeout=30) as c:
        async with c.stream("POST", "/api/chat", json={"q": "stream me"}, headers=SSE) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            events = await read_events(r)
    types = [e["type"] for e in events]
    assert types[0] == "metadata" and "message" in types
    assert types.index("metadata") < types.index("message")
    assert types[-1] == "end_response" and events[-1]["data"]["status"] == "complete"


@pytest.mark.parametrize("llm_mode", ["/slow"])
async def test_disconnect_mid_stream_keeps_partial_answer(live_server: str) -> None:
    auth = await sign_up(live_server)
    async with httpx.AsyncClient(base_url=live_server, headers=auth, timeout=30) as c:
        async with c.stream("POST", "/api/chat", json={"q": "tell me a long story"},
                            headers=SSE) as r:
            events = await read_events(r, stop_after_messages=3)
        # leaving the block closes the connection mid-answer
        cid = events[0]["data"]["conversationId"]
        partial = "".join(e["data"] for e in events if e["type"] == "message")
        chat = await wait_for_answer(c, cid)
    assert [m["by"] for m in chat] == ["you", "khoj"]
    answer = chat[1]
    assert answer["status"] == "interrupted"
    assert answer["message"].startswith(partial)
    assert len(answer["message"]) < len("Echo: tell me a long story") * 30
    # the conversation goes on normally afterwards
    async with httpx.AsyncClient(base_url=live_server, headers=auth, timeout=60) as c:
        r = await c.post("/api/chat", json={"q": "again", "conversation_id": cid,
                                            "stream": False})
        assert r.status_code == 200 and r.json()["status"] == "ok"


async def wait_for_answer(c: httpx.AsyncClient, cid: str) -> list[dict[str, Any]]:
    for _ in range(100):
        r = await c.get("/api/chat/history", params={"conversation_id": cid})
        chat: list[dict[str, Any]] = r.json()["response"]["chat"]
        if len(chat) == 2:
            return chat
        await asyncio.sleep(0.1)
    raise AssertionError("the interrupted answer was never stored")
