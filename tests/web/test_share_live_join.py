"""A viewer whose ``/s/{id}/events`` stream first connects while an answer is being written
starts with the answer's text so far (one ``token`` event), then gets the words written after
it: nothing lost, nothing twice. Over real HTTP, with the in-process hub and with Redis (skipped
when Redis does not answer); the model is the fake's ``/gated-each/v1``, whose every word waits
for a release. A share cut at a message still shows nothing of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from salon.config import Settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.services.test_redis_sharing import REDIS_URL
from tests.web.test_live_server import serve, sign_up
from tests.web.test_multiworker import redis_answers
from tests.web.test_share_live import WAIT, Owner, SseEvent, Stream, watching

# Each answer: "Echo: <question>", a release per word and one before it ends.
FIRST_QUESTION_RELEASES = len("Echo: first question".split()) + 1


@pytest.fixture
def llm_mode() -> str:
    return "/gated-each"


# The in-process hub, or Redis's (whose sign-up counts outlive a test: no limit for them here).
HUBS = {"process": {}, "redis": {"redis_url": REDIS_URL, "signup_limit_per_hour": 1_000_000}}


@pytest.fixture(params=list(HUBS))
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    if "redis_url" in HUBS[request.param] and not redis_answers():
        pytest.skip(f"Redis at {REDIS_URL} does not answer")
    return HUBS[request.param]


@pytest.fixture
async def salon(settings: Settings) -> AsyncIterator[tuple[str, Owner]]:
    """A served Salon and a signed-up owner on it: (its URL, the owner)."""
    with serve(settings) as base:
        headers = await sign_up(base)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            yield base, Owner(http)


def release(model: FakeOpenAIServer, times: int = 1) -> None:
    for _ in range(times):
        model.release()


async def shared_chat(owner: Owner, model: FakeOpenAIServer, **options: Any) -> tuple[str, str]:
    """A chat with one question and answer, shared live: (chat id, link)."""
    release(model, FIRST_QUESTION_RELEASES)
    chat_id = await owner.chat("first question")
    if "upto_message_id" in options:  # the chat's first answer
        chat = (await owner.http.get(f"/api/v1/chats/{chat_id}")).json()["chat"]
        options["upto_message_id"] = chat["messages"][1]["id"]
    share = await owner.share(chat_id, live=True, **options)
    return chat_id, share["share_id"]


def text(events: list[SseEvent]) -> str:
    return "".join(e.data["text"] for e in events if e.kind == "token")


async def test_a_viewer_joining_mid_answer_gets_it_from_its_first_word(
    salon: tuple[str, Owner], fake_llm: FakeOpenAIServer
) -> None:
    base, owner = salon
    chat_id, link = await shared_chat(owner, fake_llm)
    async with watching(base, link) as early:  # there before the question
        asking = asyncio.create_task(owner.chat("second question", chat_id))
        await early.until("turn")  # the question is stored
        release(fake_llm)
        assert text(await early.until("token")) == "Echo:"  # the first word is written
        async with watching(base, link) as late:
            so_far = await late.next()
            assert so_far is not None and so_far.kind == "token" and so_far.id
            assert so_far.data["text"] == "Echo:"
            release(fake_llm, 3)  # " second", " question", the end
            rest = await late.until("turn")
        await asyncio.wait_for(asking, WAIT)
        seen_early = await early.until("turn")
    assert text([so_far, *rest]) == "Echo: second question" == "Echo:" + text(seen_early)
    assert rest[-1].data["seq"] == 3
    ids = [e.id for e in [so_far, *rest]]
    assert len(set(ids)) == len(ids)


async def test_a_share_cut_at_a_message_shows_no_answer_being_written(
    salon: tuple[str, Owner], fake_llm: FakeOpenAIServer
) -> None:
    base, owner = salon
    chat_id, link = await shared_chat(owner, fake_llm, upto_message_id="first answer")

    async def rename(stream: Stream, title: str) -> list[SseEvent]:
        r = await owner.http.patch("/api/chat/title",
                                   json={"conversation_id": chat_id, "title": title})
        assert r.status_code == 200
        return await stream.until("title")

    async with watching(base, link) as early:
        async with owner.http.stream("POST", "/api/chat", json={
                "q": "a private follow-up", "conversation_id": chat_id}) as asking:
            release(fake_llm)
            async for line in asking.aiter_lines():
                if '"type": "message"' in line or '"type":"message"' in line:
                    break  # the first word is written
            # Renamed after that word: once the title reaches a viewer, so did the word.
            assert [e.kind for e in await rename(early, "Renamed")] == ["title"]
            async with watching(base, link) as late:
                assert [e.kind for e in await rename(late, "Again")] == ["title"]
            release(fake_llm, 4)  # the rest of "Echo: a private follow-up", the end
