"""Share pages are rendered off the event loop, on a bounded pool (``services.render_pool``):
a big live share being rendered does not hold up other requests, and beyond the pool's bound
a page is refused with ``503 SERVER_BUSY``. Rendered messages are kept per link and content
(``web.pages.share_render``): an edited message is rendered anew, a checkpoint still hides
what follows it, and a share's file links never show up on another's page."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from salon.app import create_app
from salon.config import Settings
from salon.domain.conversations import Message
from salon.services.context import LruCache
from salon.store import conversations as conv_repo
from salon.store.db import create_engine, transaction
from salon.store.tables import messages as messages_table
from salon.web.pages.share_render import message_articles
from tests.factories import UserClient
from tests.web.test_live_server import serve, sign_up

WAIT = 30.0
BIG = 3000  # messages: seconds of rendering
ANSWER = """Here is **answer {n}**, with a list and some code:

1. read the input once;
2. validate it early.

```python
def process(path):
    return [line.strip() for line in open(path) if line.strip()]  # {n}
```
"""


@dataclass
class Rendering:
    """A big live share whose page is being rendered for a first viewer (``page``)."""

    link: str
    ctx: Any  # the served app's context
    page: asyncio.Task[httpx.Response]
    other: httpx.AsyncClient  # another client of the same server
    owner: httpx.AsyncClient  # the share owner's


async def add_messages(settings: Settings, conversation_id: str, count: int) -> None:
    """``count`` more messages in the conversation, written directly (fast)."""
    engine = create_engine(settings.database_url)
    now = datetime.now(UTC)
    batch = [Message(id=str(uuid.uuid4()), conversation_id=conversation_id, seq=100 + n,
                     role="user" if n % 2 == 0 else "assistant",
                     parts=[{"type": "text", "text": ANSWER.format(n=n)}],
                     created_at=now + timedelta(seconds=n)) for n in range(count)]
    try:
        async with transaction(engine) as conn:
            await conv_repo.insert_messages(conn, batch)
    finally:
        await engine.dispose()


@asynccontextmanager
async def rendering_big_share(settings: Settings) -> AsyncIterator[Rendering]:
    """A server (in this process, to see its render pool) with a public live share of
    ``BIG`` messages, once an anonymous viewer's page of it is being rendered."""
    app = create_app(settings)
    with serve(settings, app=app) as base:
        headers = await sign_up(base)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=WAIT) as owner, \
                httpx.AsyncClient(base_url=base, timeout=WAIT) as viewer, \
                httpx.AsyncClient(base_url=base, timeout=WAIT) as other:
            r = await owner.post("/api/chat", json={"q": "first question", "stream": False})
            chat_id = r.json()["conversationId"]
            await add_messages(settings, chat_id, BIG)
            r = await owner.post(f"/api/v1/chats/{chat_id}/share", json={"live": True})
            assert r.status_code == 200, r.text
            link, ctx = r.json()["share_id"], app.state.ctx
            page = asyncio.create_task(viewer.get(f"/s/{link}"))
            await until_rendering(ctx)
            yield Rendering(link, ctx, page, other, owner)


async def until_rendering(ctx: Any) -> None:
    """Wait until a render is running on the pool."""
    for _ in range(int(WAIT / 0.01)):
        if ctx.renders.running:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no render started")


async def test_healthz_answers_while_a_big_live_share_is_rendered(settings: Settings) -> None:
    async with rendering_big_share(settings) as big:
        health = await big.other.get("/healthz")
        # /healthz was answered while the page was still being rendered.
        still_rendering = big.ctx.renders.running == 1 and not big.page.done()
        shown = await big.page
    assert health.status_code == 200
    assert still_rendering
    assert shown.status_code == 200
    assert shown.text.count('<article class="message') == BIG + 2


@pytest.mark.parametrize("settings_overrides", [{"render_workers": 1, "render_queue": 0}])
async def test_beyond_the_render_bound_pages_are_refused_as_busy(settings: Settings) -> None:
    async with rendering_big_share(settings) as big:
        page = await big.other.get(f"/s/{big.link}")
        update = await big.other.get(f"/s/{big.link}/messages", params={"after": 0})
        assert (await big.page).status_code == 200
        again = await big.other.get(f"/s/{big.link}/messages", params={"after": BIG})
    assert page.status_code == 503 and page.headers["retry-after"] == "1"
    assert "busy" in page.text and page.headers["cache-control"] == "no-store"
    assert update.status_code == 503 and update.headers["retry-after"] == "1"
    assert update.json()["code"] == "SERVER_BUSY" and update.json()["detail"]
    assert again.status_code == 200  # the pool is free again


@pytest.mark.parametrize("settings_overrides", [{"render_workers": 1, "render_queue": 0}])
async def test_a_page_refused_as_busy_spends_no_view(settings: Settings) -> None:
    async with rendering_big_share(settings) as big:
        r = await big.owner.post("/api/chat", json={"q": "limited", "stream": False})
        chat_id = r.json()["conversationId"]
        r = await big.owner.post(f"/api/v1/chats/{chat_id}/share",
                                 json={"live": True, "max_views": 1})
        limited = r.json()["share_id"]
        busy = await big.other.get(f"/s/{limited}")
        views_then = (await big.owner.get(f"/api/v1/chats/{chat_id}/share")).json()["views"]
        await big.page
        shown = await big.other.get(f"/s/{limited}")
    assert busy.status_code == 503 and views_then == 0
    assert shown.status_code == 200 and "Echo: limited" in shown.text


# --- rendered messages kept per link and content -----------------------------------------------

async def live_share(user: UserClient, **options: Any) -> tuple[str, str, list[dict[str, Any]]]:
    chat_id = await user.new_conversation("first question", "second question")
    r = await user.http.post(f"/api/v1/chats/{chat_id}/share", json={"live": True, **options})
    assert r.status_code == 200, r.text
    messages = (await user.http.get(f"/api/v1/chats/{chat_id}")).json()["chat"]["messages"]
    return chat_id, r.json()["share_id"], messages


async def test_an_edited_message_is_rendered_anew(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, link, messages = await live_share(alice)
    before = (await client.get(f"/s/{link}/messages")).json()["messages"]
    page_before = (await client.get(f"/s/{link}")).text
    async with transaction(app.state.ctx.engine) as conn:
        await conn.execute(messages_table.update()
                           .where(messages_table.c.id == messages[1]["id"])
                           .values(parts=[{"type": "text", "text": "A *regenerated* answer"}]))
    after = (await client.get(f"/s/{link}/messages")).json()["messages"]
    page_after = (await client.get(f"/s/{link}")).text
    assert "Echo: first question" in before and "Echo: first question" in page_before
    for shown in (after, page_after):
        assert "A <em>regenerated</em> answer" in shown
        assert "Echo: first question" not in shown
        assert "Echo: second question" in shown  # unchanged, from the cache


async def test_a_checkpoint_hides_messages_already_rendered(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    chat_id, link, messages = await live_share(alice)
    assert "Echo: second question" in (await client.get(f"/s/{link}")).text  # now cached
    r = await alice.http.post(f"/api/v1/chats/{chat_id}/share",
                              json={"upto_message_id": messages[1]["id"]})
    assert r.status_code == 200, r.text
    page = (await client.get(f"/s/{link}")).text
    update = (await client.get(f"/s/{link}/messages")).json()
    assert "Echo: first question" in page and "Echo: first question" in update["messages"]
    assert "second question" not in page and "second question" not in update["messages"]
    assert update["count"] == 2


def test_a_message_rendered_for_one_share_is_never_served_for_another() -> None:
    cache = LruCache(max_bytes=1 << 20)
    message = {"role": "assistant", "status": "complete", "parts": [
        {"type": "text", "text": "Here is the file."},
        {"type": "file", "file_id": "0", "name": "notes.txt", "media_type": "text/plain",
         "size": 12}]}
    first = message_articles(cache, "link-one", [message])
    second = message_articles(cache, "link-two", [message])
    assert "/api/v1/chats/share/link-one/files/0" in first and "link-two" not in first
    assert "/api/v1/chats/share/link-two/files/0" in second and "link-one" not in second
    assert len(cache) == 2


@pytest.mark.parametrize("settings_overrides", [{"page_cache_bytes": 0,
                                                 "message_cache_bytes": 0}])
async def test_caches_without_room_keep_nothing_and_pages_still_show(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    chat_id = await alice.new_conversation("a question")
    r = await alice.http.post(f"/api/v1/chats/{chat_id}/share", json={})
    link = r.json()["share_id"]
    pages = [await client.get(f"/s/{link}") for _ in range(2)]
    assert [p.status_code for p in pages] == [200, 200]
    assert all("Echo: a question" in p.text for p in pages)
    bodies = [await client.get(f"/api/v1/chats/share/{link}") for _ in range(2)]
    assert [b.status_code for b in bodies] == [200, 200]
    assert bodies[0].json() == bodies[1].json()
    ctx = app.state.ctx
    assert len(ctx.share_page_cache) == 0 and len(ctx.message_cache) == 0
    assert len(ctx.share_view_cache) == 0


async def test_pages_are_kept_within_their_byte_bound(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    links = []
    for n in range(3):
        chat_id = await alice.new_conversation(f"question {n}")
        links.append((await alice.http.post(f"/api/v1/chats/{chat_id}/share", json={}))
                     .json()["share_id"])
    ctx = app.state.ctx
    for link in links:
        assert (await client.get(f"/s/{link}")).status_code == 200
    assert len(ctx.share_page_cache) == 3
    assert 0 < ctx.share_page_cache.size <= app.state.ctx.settings.page_cache_bytes
