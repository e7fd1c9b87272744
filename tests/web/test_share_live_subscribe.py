"""``/s/{id}/events`` subscribes its viewer before the response starts: a viewer holding the
headers misses nothing stored from then on. What the stream holds (its subscription and its
place in the stream limits) is given back however the response ends, also when the viewer
leaves before the body began. Driven through the app's ASGI interface, to look at the moment
the response starts."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.factories import UserClient


async def test_the_viewer_is_subscribed_when_the_response_starts_and_released_after(
    app: Any, alice: UserClient
) -> None:
    chat_id = await alice.new_conversation("first question")
    r = await alice.http.post(f"/api/v1/chats/{chat_id}/share", json={"live": True})
    assert r.status_code == 200, r.text
    link = r.json()["share_id"]
    ctx = app.state.ctx
    left = asyncio.Event()
    at_start: list[tuple[int, int]] = []

    async def receive() -> dict[str, Any]:
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            at_start.append((message["status"], ctx.live.watching(chat_id)))
            left.set()  # the viewer leaves before the body begins
            for _ in range(10):
                await asyncio.sleep(0)

    path = f"/s/{link}/events"
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"testserver")],
             "client": ("127.0.0.1", 40000), "server": ("testserver", 80)}
    await asyncio.wait_for(app(scope, receive, send), 10)
    assert at_start == [(200, 1)]
    assert ctx.live.watching(chat_id) == 0
    assert ctx.live_streams.by_client == {} and ctx.live_streams.by_share == {}
