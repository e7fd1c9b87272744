"""A Redis that accepts connections but never answers, over real HTTP: Salon reaches Redis
through a TCP proxy this test stalls. Requests that need Redis answer 503 REDIS_UNAVAILABLE
after SALON_REDIS_TIMEOUT instead of hanging, and work again once Redis answers. The live
updates' listener, whose connection goes silent for good (a dead network path: no byte, no
close), notices by itself, subscribes again on a new connection, and viewers get events again
without a restart. Skipped when Redis does not answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from salon.config import Settings
from tests.fakes.tcp_proxy import TcpProxy
from tests.web.test_live_server import serve
from tests.web.test_redis_faults import redis_proxy, settings_through
from tests.web.test_share_live import SseEvent, Stream

PASSWORD = "long enough pw"
# Hang guards only: the old code waited for a stalled Redis without end.
CLIENT_TIMEOUT = 20
ATTEMPTS = 40


class FreezingProxy(TcpProxy):
    """``freeze``: the connections open now never carry another byte and never close (a dead
    network path); connections made later work."""

    def __init__(self, target_host: str, target_port: int) -> None:
        super().__init__(target_host, target_port)
        self.generation = 0
        self._thawed: asyncio.Event | None = None

    def freeze(self) -> None:
        self.generation += 1

    def __exit__(self, *exc: object) -> None:
        if self._thawed is not None:  # let the held pipes end, so the loop closes cleanly
            self._loop.call_soon_threadsafe(self._thawed.set)
        super().__exit__(*exc)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        born = self.generation
        if self._thawed is None:
            self._thawed = asyncio.Event()
        while True:
            data = await reader.read(65536)
            if not data:
                writer.close()
                return
            if self.generation != born:
                await self._thawed.wait()
                return
            await self._flowing.wait()
            writer.write(data)
            await writer.drain()


@pytest.fixture
def proxy() -> Iterator[FreezingProxy]:
    with redis_proxy(FreezingProxy) as running:
        yield running


@pytest.fixture
def settings_overrides(proxy: FreezingProxy) -> dict[str, Any]:
    return settings_through(proxy, redis_timeout=0.5)


async def signed_up(http: httpx.AsyncClient) -> str:
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    r = await http.post("/api/v1/auths/signup",
                        json={"name": "R", "email": email, "password": PASSWORD})
    http.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return email


async def test_a_stalled_redis_answers_503_then_recovers(
    settings: Settings, proxy: FreezingProxy
) -> None:
    with serve(settings) as base:
        async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT) as http:
            email = await signed_up(http)
            r = await http.post("/api/chat", json={"q": "Redis?", "stream": False})
            chat_id = r.json()["conversationId"]

            proxy.stall()
            refused = {
                "sign-in": await http.post("/api/v1/auths/signin",
                                           json={"email": email, "password": PASSWORD}),
                "share change": await http.post(f"/api/v1/chats/{chat_id}/share",
                                                json={"allow_cloning": False}),
                "healthz": await http.get("/healthz"),
            }
            for kind, response in refused.items():
                assert response.status_code == 503, (kind, response.text[:300])
                assert response.json()["code"] == "REDIS_UNAVAILABLE", kind

            proxy.up()
            r = await http.post("/api/v1/auths/signin",
                                json={"email": email, "password": PASSWORD})
            assert r.status_code == 200, r.text
            assert (await http.get("/healthz")).status_code == 200


async def test_the_live_listener_reconnects_when_its_connection_goes_silent(
    settings: Settings, proxy: FreezingProxy
) -> None:
    with serve(settings) as base:
        async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT) as owner:
            await signed_up(owner)
            r = await owner.post("/api/chat", json={"q": "first", "stream": False})
            chat_id = r.json()["conversationId"]
            r = await owner.post(f"/api/v1/chats/{chat_id}/share", json={"live": True})
            link = r.json()["share_id"]
            async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT) as viewer, \
                    viewer.stream("GET", f"/s/{link}/events") as response:
                assert response.status_code == 200
                stream = Stream(response)
                await stream.subscribed()
                events: asyncio.Queue[SseEvent | None] = asyncio.Queue()
                reader = asyncio.create_task(read_into(stream, events))
                try:
                    proxy.freeze()  # every Redis connection open now is dead for good
                    turn = await turn_after_asking(owner, chat_id, events)
                finally:
                    reader.cancel()
                assert turn.data["seq"] >= 4


async def read_into(stream: Stream, events: asyncio.Queue[SseEvent | None]) -> None:
    while True:
        event = await stream.next()
        await events.put(event)
        if event is None:
            return


async def turn_after_asking(
    owner: httpx.AsyncClient, chat_id: str, events: asyncio.Queue[SseEvent | None]
) -> SseEvent:
    """Ask again until the viewer gets a ``turn`` event (events published while the listener
    was on its dead connection are lost: the viewer would see them on a reload)."""
    for _ in range(ATTEMPTS):
        r = await owner.post("/api/chat", json={"q": "again", "stream": False,
                                                "conversation_id": chat_id})
        assert r.status_code == 200, r.text
        try:
            while True:
                event = await asyncio.wait_for(events.get(), 1.0)
                assert event is not None, "the viewer's stream ended"
                if event.kind == "turn":
                    return event
        except TimeoutError:
            continue
    raise AssertionError("the viewer never got an event after Redis went silent")
