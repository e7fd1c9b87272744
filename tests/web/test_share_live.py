"""Live shares over real HTTP (Salon under uvicorn): ``/s/{id}/events`` streams new turns and
the answer as it is written, replays what a reconnecting viewer missed, closes with the right
code when access ends, spends no views, and keeps to its limits; ``/s/{id}/messages`` gives the
rendered messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from salon.app import create_app
from salon.config import Settings
from salon.domain import shares as rules
from salon.services.live import StreamLimits
from salon.store.db import create_engine, transaction
from salon.store.tables import sessions
from salon.web.pages.share_live import SESSION_RECHECK_SECONDS
from tests.web.test_live_server import serve, sign_up

WAIT = 10.0


@dataclass
class SseEvent:
    id: str | None
    kind: str
    data: dict[str, Any]


class Stream:
    """An open ``/events`` response, read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self) -> SseEvent | None:
        """The next event (comments and retry lines skipped); None when the stream ended."""
        event_id, kind, data = None, "message", ""
        while True:
            try:
                line = await asyncio.wait_for(anext(self._lines), WAIT)
            except StopAsyncIteration:
                return None
            if line == "":
                if data:
                    return SseEvent(event_id, kind, json.loads(data))
                continue
            field, _, value = line.partition(": ")
            if field == "id":
                event_id = value
            elif field == "event":
                kind = value
            elif field == "data":
                data = value

    async def subscribed(self) -> None:
        """Wait for the stream's first line (``retry:``), which the server sends once the
        viewer is subscribed: events published from then on reach it. (The response's headers
        come before that, so a test that acts on them alone races the subscription.)"""
        line = await asyncio.wait_for(anext(self._lines), WAIT)
        assert line.startswith("retry:"), line

    async def until(self, kind: str) -> list[SseEvent]:
        """Events up to and including the first of ``kind``."""
        seen = []
        while True:
            event = await self.next()
            assert event is not None, f"the stream ended before a {kind} event: {seen}"
            seen.append(event)
            if event.kind == kind:
                return seen


@pytest.fixture
def base(settings: Settings) -> Iterator[str]:
    with serve(settings) as url:
        yield url


@dataclass
class Owner:
    http: httpx.AsyncClient

    async def chat(self, q: str, chat_id: str | None = None) -> str:
        body: dict[str, Any] = {"q": q, "stream": False}
        if chat_id:
            body["conversation_id"] = chat_id
        r = await self.http.post("/api/chat", json=body)
        assert r.status_code == 200, r.text
        return str(r.json()["conversationId"])

    async def share(self, chat_id: str, **options: Any) -> dict[str, Any]:
        r = await self.http.post(f"/api/v1/chats/{chat_id}/share", json=options)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture
async def owner(base: str) -> AsyncIterator[Owner]:
    headers = await sign_up(base)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        yield Owner(http)


@asynccontextmanager
async def watching(base: str, link: str, **headers: str) -> AsyncIterator[Stream]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http, \
            http.stream("GET", f"/s/{link}/events", headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response)
        await stream.subscribed()
        yield stream


async def live_chat(owner: Owner, **options: Any) -> tuple[str, str]:
    chat_id = await owner.chat("first question")
    share = await owner.share(chat_id, live=True, **options)
    return chat_id, share["share_id"]


# --- following the conversation ------------------------------------------------------------------

async def test_new_turns_and_the_answer_arrive_as_they_happen(base: str, owner: Owner) -> None:
    chat_id, link = await live_chat(owner)
    async with watching(base, link) as stream:
        asking = asyncio.create_task(owner.chat("second question", chat_id))
        question = (await stream.until("turn"))[-1]
        assert question.data["seq"] == 2 and question.id
        answer_events = await stream.until("turn")
        await asyncio.wait_for(asking, WAIT)
    tokens = "".join(e.data["text"] for e in answer_events if e.kind == "token")
    assert tokens == "Echo: second question"
    assert answer_events[-1].data["seq"] == 3
    assert len({e.id for e in [question, *answer_events]}) == len(answer_events) + 1
    async with httpx.AsyncClient(base_url=base) as anonymous:
        r = await anonymous.get(f"/s/{link}/messages", params={"after": 2})
        assert r.status_code == 200
        body = r.json()
        assert body["count"] == 4 and body["title"] == "first question"
        assert "second question" in body["messages"] and "first question" not in body[
            "messages"]
        assert "Echo: second question" in body["messages"]
        assert r.headers["cache-control"] == "no-store"


async def test_events_and_fetches_spend_no_views(base: str, owner: Owner) -> None:
    """Events are not views; the page's fetches of new turns are part of its view (its view
    grant), while a fetch by someone who never opened the page is a view of its own."""
    chat_id, link = await live_chat(owner)
    async with httpx.AsyncClient(base_url=base) as anonymous:
        assert (await anonymous.get(f"/s/{link}")).status_code == 200  # the one view
        async with watching(base, link) as stream:
            await owner.chat("more", chat_id)
            await stream.until("turn")
            assert (await anonymous.get(f"/s/{link}/messages")).status_code == 200
    share = (await owner.http.get(f"/api/v1/chats/{chat_id}/share")).json()
    assert share["views"] == 1
    async with httpx.AsyncClient(base_url=base) as newcomer:
        assert (await newcomer.get(f"/s/{link}/messages")).status_code == 200
    share = (await owner.http.get(f"/api/v1/chats/{chat_id}/share")).json()
    assert share["views"] == 2


async def test_a_reconnect_with_last_event_id_misses_nothing_and_repeats_nothing(
    base: str, owner: Owner
) -> None:
    chat_id, link = await live_chat(owner)
    async with watching(base, link) as keeper:  # another viewer stays on throughout
        async with watching(base, link) as first:
            await owner.chat("one", chat_id)  # question seq 2, answer seq 3
            seen = await first.until("turn")  # this viewer leaves after the question
        last = seen[-1].id
        assert last is not None and seen[-1].data["seq"] == 2
        await owner.chat("two", chat_id)  # seq 4 and 5, while the viewer is away
        while (await keeper.until("turn"))[-1].data["seq"] < 5:
            pass
        async with watching(base, link, **{"Last-Event-ID": last}) as again:
            missed = await again.until("turn")
            while missed[-1].data["seq"] < 5:
                missed += await again.until("turn")
    assert [e.data["seq"] for e in missed if e.kind == "turn"] == [3, 4, 5]
    answers = "".join(e.data["text"] for e in missed if e.kind == "token")
    assert answers == "Echo: oneEcho: two"
    ids = [e.id for e in missed]
    assert last not in ids and len(set(ids)) == len(ids)


async def test_an_unknown_last_event_id_asks_for_a_reload(base: str, owner: Owner) -> None:
    _, link = await live_chat(owner)
    async with watching(base, link, **{"Last-Event-ID": "0000-99"}) as stream:
        event = await stream.next()
        assert event is not None and event.kind == "reload"
        assert await stream.next() is None


# --- when access ends ----------------------------------------------------------------------------

async def closed_event(stream: Stream) -> SseEvent:
    event = (await stream.until("closed"))[-1]
    assert await stream.next() is None  # and the stream ends
    return event


async def test_revoking_closes_open_streams_with_the_spec_words(base: str, owner: Owner) -> None:
    chat_id, link = await live_chat(owner)
    async with watching(base, link) as stream:
        assert (await owner.http.delete(f"/api/v1/chats/{chat_id}/share")).status_code == 200
        event = await closed_event(stream)
    assert event.data["code"] == "SHARE_LINK_REVOKED" and event.data["status"] == 410
    assert event.data["detail"] == rules.REVOKED_DETAIL


@pytest.mark.parametrize(("change", "code"), [
    ({"password": "a new secret"}, "PASSWORD_REQUIRED"),
    ({"is_public": False}, "LOGIN_REQUIRED"),
    ({"live": False}, "SHARE_NOT_LIVE"),
    ({"visibility": "only_me"}, "SHARE_LINK_NOT_FOUND"),
])
async def test_changing_the_share_closes_streams_with_the_right_code(
    base: str, owner: Owner, change: dict[str, Any], code: str
) -> None:
    chat_id, link = await live_chat(owner)
    async with watching(base, link) as stream:
        await owner.share(chat_id, **change)
        assert (await closed_event(stream)).data["code"] == code


async def test_rotating_or_deleting_closes_streams(base: str, owner: Owner) -> None:
    chat_id, link = await live_chat(owner)
    async with watching(base, link) as stream:
        assert (await owner.http.post(f"/api/v1/chats/{chat_id}/share/rotate")).status_code == 200
        assert (await closed_event(stream)).data["code"] == "SHARE_LINK_NOT_FOUND"
    chat_id, link = await live_chat(owner)
    async with watching(base, link) as stream:
        assert (await owner.http.delete(f"/api/v1/chats/{chat_id}")).status_code == 200
        assert (await closed_event(stream)).data["code"] == "SHARE_LINK_NOT_FOUND"


async def test_expiry_by_time_closes_the_stream(base: str, owner: Owner) -> None:
    _, link = await live_chat(owner, expires_in=2)
    async with watching(base, link) as stream:
        assert (await closed_event(stream)).data["code"] == "SHARE_LINK_EXPIRED"


async def test_an_unlocked_viewer_may_watch_a_password_share(base: str, owner: Owner) -> None:
    _, link = await live_chat(owner, password="open sesame")
    async with httpx.AsyncClient(base_url=base) as anonymous:
        r = await anonymous.get(f"/s/{link}/events")
        assert r.status_code == 401 and r.json()["code"] == "PASSWORD_REQUIRED"
        r = await anonymous.post(f"/api/v1/chats/share/{link}/verify",
                                 json={"password": "open sesame"})
        token = r.json()["token"]
    async with watching(base, link, **{"X-Share-Unlock": token}):
        pass


# --- when the viewer's own session ends -----------------------------------------------------------

@dataclass
class Viewer:
    """A second account, signed in: its session token and id."""

    token: str
    id: str

    def headers(self, via: str = "bearer", token: str | None = None) -> dict[str, str]:
        secret = token or self.token
        if via == "cookie":
            return {"Cookie": f"salon_session={secret}"}
        return {"Authorization": f"Bearer {secret}"}


async def sign_up_viewer(base: str) -> Viewer:
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.post("/api/v1/auths/signup", json={
            "name": "Viewer", "email": "viewer@example.com", "password": "long enough pw"})
        assert r.status_code == 200, r.text
        return Viewer(token=r.json()["token"], id=r.json()["id"])


async def closed_for_login(stream: Stream) -> None:
    event = await closed_event(stream)
    assert event.data["code"] == "LOGIN_REQUIRED" and event.data["status"] == 401


@pytest.mark.parametrize("via", ["bearer", "cookie"])
async def test_a_viewer_who_signs_out_is_closed_out_of_a_logged_in_only_share(
    base: str, owner: Owner, via: str
) -> None:
    _, link = await live_chat(owner, is_public=False)
    viewer = await sign_up_viewer(base)
    async with watching(base, link, **viewer.headers(via)) as stream, \
            httpx.AsyncClient(base_url=base, headers=viewer.headers()) as other_tab:
        assert (await other_tab.post("/api/v1/auths/signout")).status_code == 200
        await closed_for_login(stream)


async def test_a_deleted_viewer_is_closed_out(base: str, owner: Owner) -> None:
    _, link = await live_chat(owner, is_public=False)
    viewer = await sign_up_viewer(base)
    async with watching(base, link, **viewer.headers()) as stream:
        assert (await owner.http.delete(f"/api/v1/users/{viewer.id}")).status_code == 200
        await closed_for_login(stream)


async def test_a_viewer_whose_session_expired_gets_nothing_more(
    base: str, owner: Owner, settings: Settings
) -> None:
    chat_id, link = await live_chat(owner, is_public=False)
    viewer = await sign_up_viewer(base)
    async with watching(base, link, **viewer.headers("cookie")) as stream:
        engine = create_engine(settings.database_url)
        async with transaction(engine) as conn:
            await conn.execute(sessions.update().where(sessions.c.user_id == viewer.id)
                               .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
        await engine.dispose()
        await asyncio.sleep(SESSION_RECHECK_SECONDS)  # the next event is checked
        await owner.chat("written after the session ended", chat_id)
        seen = await stream.until("closed")
    assert [e.kind for e in seen] == ["closed"] and seen[0].data["code"] == "LOGIN_REQUIRED"


async def test_revoking_the_viewers_api_token_closes_its_stream(base: str, owner: Owner) -> None:
    _, link = await live_chat(owner, is_public=False)
    viewer = await sign_up_viewer(base)
    async with httpx.AsyncClient(base_url=base, headers=viewer.headers()) as http:
        r = await http.post("/api/v1/auths/api_keys", json={"name": "feed reader"})
        assert r.status_code == 201, r.text
        api_token = r.json()
        async with watching(base, link, **viewer.headers(token=api_token["token"])) as stream:
            r = await http.delete(f"/api/v1/auths/api_keys/{api_token['id']}")
            assert r.status_code == 200
            await closed_for_login(stream)


async def test_a_password_change_closes_the_other_sessions_streams(
    base: str, owner: Owner
) -> None:
    _, link = await live_chat(owner, is_public=False)
    viewer = await sign_up_viewer(base)
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.post("/api/v1/auths/signin", json={
            "email": "viewer@example.com", "password": "long enough pw"})
        assert r.status_code == 200, r.text
        laptop = Viewer(token=r.json()["token"], id=viewer.id)
        async with watching(base, link, **viewer.headers()) as stream:
            r = await http.post("/api/v1/auths/update/password", headers=laptop.headers(),
                                json={"password": "long enough pw",
                                      "new_password": "another long pw"})
            assert r.status_code == 200, r.text
            await closed_for_login(stream)


async def test_signing_out_while_watching_a_public_share_goes_on_anonymously(
    base: str, owner: Owner
) -> None:
    chat_id, link = await live_chat(owner)
    viewer = await sign_up_viewer(base)
    async with watching(base, link, **viewer.headers()) as stream, \
            httpx.AsyncClient(base_url=base, headers=viewer.headers()) as other_tab:
        assert (await other_tab.post("/api/v1/auths/signout")).status_code == 200
        await owner.chat("still public", chat_id)
        seen = await stream.until("turn")
    assert "closed" not in [e.kind for e in seen]


# --- refusals at the door ------------------------------------------------------------------------

async def test_snapshots_and_unknown_links_do_not_stream(base: str, owner: Owner) -> None:
    chat_id = await owner.chat("frozen")
    link = (await owner.share(chat_id))["share_id"]
    async with httpx.AsyncClient(base_url=base) as anonymous:
        r = await anonymous.get(f"/s/{link}/events")
        assert r.status_code == 404 and r.json()["code"] == "SHARE_NOT_LIVE"
        r = await anonymous.get("/s/no-such-link/events")
        assert r.status_code == 404 and r.json()["code"] == "SHARE_LINK_NOT_FOUND"
        r = await anonymous.get(f"/s/{link}/messages")
        assert r.status_code == 404 and r.json()["code"] == "SHARE_NOT_LIVE"
        assert r.headers["x-robots-tag"] == "noindex, nofollow"


@pytest.mark.parametrize("settings_overrides", [{"live_streams_per_client": 2}])
async def test_too_many_streams_from_one_client(base: str, owner: Owner) -> None:
    _, link = await live_chat(owner)
    async with watching(base, link), watching(base, link):
        async with httpx.AsyncClient(base_url=base) as anonymous:
            r = await anonymous.get(f"/s/{link}/events")
            assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"
            assert r.headers["retry-after"] == "30"
    async with watching(base, link):  # the closed streams were counted down
        pass


@pytest.mark.parametrize("settings_overrides", [{"live_streams_per_client": 1}])
async def test_an_open_stream_keeps_its_place_by_renewing_its_lease(settings: Settings) -> None:
    app = create_app(settings)
    with serve(settings, app=app) as base:
        # Short leases: the streams' heartbeats come at least three times per lease.
        app.state.ctx.live_streams = StreamLimits(lease_seconds=0.6)
        async with httpx.AsyncClient(base_url=base, headers=await sign_up(base)) as http:
            _, link = await live_chat(Owner(http))
        async with watching(base, link):
            await asyncio.sleep(2.0)  # more than three leases' lifetimes
            async with httpx.AsyncClient(base_url=base) as anonymous:
                r = await anonymous.get(f"/s/{link}/events")
                assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"
        async with watching(base, link):  # given back when the stream ended
            pass


# --- a share cut at a message ---------------------------------------------------------------------

async def checkpoint_share(owner: Owner) -> tuple[str, str, list[dict[str, Any]]]:
    """A live share of a chat, cut at its first answer: (chat id, link, the chat's messages)."""
    chat_id = await owner.chat("first question")
    messages = (await owner.http.get(f"/api/v1/chats/{chat_id}")).json()["chat"]["messages"]
    share = await owner.share(chat_id, live=True, upto_message_id=messages[1]["id"])
    return chat_id, share["share_id"], messages


async def test_a_share_cut_at_a_message_streams_nothing_written_after_it(
    base: str, owner: Owner
) -> None:
    chat_id, link, _ = await checkpoint_share(owner)
    async with watching(base, link) as stream:
        await owner.chat("a private follow-up", chat_id)
        r = await owner.http.patch("/api/chat/title",
                                   json={"conversation_id": chat_id, "title": "Renamed"})
        assert r.status_code == 200
        seen = await stream.until("title")  # the title is on the page; the turns are not
    assert [e.kind for e in seen] == ["title"]
    assert "private follow-up" not in json.dumps([e.data for e in seen])


async def test_a_replay_of_a_share_cut_at_a_message_leaks_nothing(
    base: str, owner: Owner
) -> None:
    chat_id, link, _ = await checkpoint_share(owner)
    async with watching(base, link) as first:
        await owner.http.patch("/api/chat/title",
                               json={"conversation_id": chat_id, "title": "Before"})
        last = (await first.until("title"))[-1].id
    assert last is not None
    await owner.chat("a private follow-up", chat_id)  # while nobody watches
    await owner.http.patch("/api/chat/title", json={"conversation_id": chat_id, "title": "After"})
    async with watching(base, link, **{"Last-Event-ID": last}) as again:
        replayed = await again.until("title")
    assert [(e.kind, e.data["title"]) for e in replayed] == [("title", "After")]


async def test_moving_the_cut_asks_viewers_to_reload(base: str, owner: Owner) -> None:
    chat_id, link, _ = await checkpoint_share(owner)
    await owner.chat("second question", chat_id)
    messages = (await owner.http.get(f"/api/v1/chats/{chat_id}")).json()["chat"]["messages"]
    async with watching(base, link) as stream:
        await owner.share(chat_id, upto_message_id=messages[-1]["id"])
        assert (await stream.until("reload"))[-1].kind == "reload"
    async with httpx.AsyncClient(base_url=base) as anonymous:
        shown = (await anonymous.get(f"/s/{link}/messages")).json()
    assert shown["count"] == 4 and "Echo: second question" in shown["messages"]
