"""``/diagram`` end to end over HTTP against the fake model (real server, real SSE), on both
databases: the stored diagram part, the one retry, the refusals, the share page and ``/help``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import UserClient
from tests.fakes.openai_server import MERMAID, FakeOpenAIServer
from tests.web.test_chat_api import history

QUESTION = "/diagram how a question becomes a shared page"


def diagrams(h: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for m in h["chat"] for p in m["parts"] if p["type"] == "diagram"]


def asked(fake_llm: FakeOpenAIServer, before: int, text: str) -> list[dict[str, Any]]:
    """The model requests since ``before`` that carry ``text`` (the fake model is shared by
    the whole session: a request of another test may arrive late)."""
    return [r for r in fake_llm.requests[before:]
            if any(text in str(m.get("content")) for m in r["messages"])]


@pytest.mark.parametrize("llm_mode", ["/mermaid"])
async def test_diagram_is_stored_as_a_part(alice: UserClient, fake_llm: FakeOpenAIServer) -> None:
    before = len(fake_llm.requests)
    body = await alice.chat(QUESTION)
    assert body["status"] == "ok" and body["response"] == "Here is the diagram."
    requests = asked(fake_llm, before, QUESTION[9:])
    assert len(requests) == 1
    sent = requests[0]["messages"]
    assert "Mermaid" in sent[0]["content"] and sent[-1]["content"] == QUESTION[9:]
    answer = (await history(alice, body["conversationId"]))["chat"][-1]
    assert answer["parts"] == [
        {"type": "text", "text": "Here is the diagram."},
        {"type": "diagram", "format": "mermaid", "source": MERMAID},
    ]


@pytest.mark.parametrize("llm_mode", ["/mermaid"])
async def test_diagram_streams_status_events(alice: UserClient) -> None:
    events = await alice.chat_events(QUESTION)
    statuses = [e["data"] for e in events if e["type"] == "status"]
    assert statuses == ["Writing a Mermaid diagram", "Checking the diagram"]
    assert [e["data"] for e in events if e["type"] == "message"] == ["Here is the diagram."]
    assert events[-1]["data"]["status"] == "complete"


@pytest.mark.parametrize("llm_mode", ["/mermaid-broken"])
async def test_a_broken_diagram_gets_one_retry_with_the_error(
    alice: UserClient, fake_llm: FakeOpenAIServer
) -> None:
    before = len(fake_llm.requests)
    events = await alice.chat_events(QUESTION)
    requests = asked(fake_llm, before, QUESTION[9:])
    assert len(requests) == 2
    retry = requests[1]["messages"]
    assert retry[-2]["role"] == "assistant" and "```mermaid" in retry[-2]["content"]
    assert "never closed" in retry[-1]["content"]  # the checker's reason goes back
    statuses = [e["data"] for e in events if e["type"] == "status"]
    assert any("not valid" in s and "never closed" in s for s in statuses)
    conversation_id = events[0]["data"]["conversationId"]
    assert diagrams(await history(alice, conversation_id)) == [
        {"type": "diagram", "format": "mermaid", "source": MERMAID}]


@pytest.mark.parametrize(("llm_mode", "reason"), [("/mermaid-click", "click"),
                                                  ("/mermaid-html", "HTML")])
async def test_unsafe_diagrams_are_refused_after_the_retry(
    alice: UserClient, fake_llm: FakeOpenAIServer, reason: str
) -> None:
    before = len(fake_llm.requests)
    r = await alice.http.post("/api/chat", json={"q": QUESTION, "stream": False})
    assert r.status_code == 200
    body = r.json()
    assert len(asked(fake_llm, before, QUESTION[9:])) == 2
    assert body["status"] == "error" and body["error"]["code"] == "DIAGRAM_INVALID"
    assert reason in body["error"]["detail"]
    h = await history(alice, body["conversationId"])
    assert diagrams(h) == []
    assert h["chat"][-1]["parts"][0]["text"].startswith("⚠️ The model could not write a diagram")


@pytest.mark.parametrize("llm_mode", ["/mermaid"])
async def test_share_page_shows_the_escaped_source(alice: UserClient,
                                                   client: httpx.AsyncClient) -> None:
    chat_id = (await alice.chat(QUESTION))["conversationId"]
    link = (await alice.share(chat_id))["share_id"]
    page = (await client.get(f"/s/{link}")).text
    assert '<figure class="part part-diagram"><pre class="mermaid-source">' in page
    assert "Share &lt;&amp;&gt; page" in page and "Share <&> page" not in page
    assert "/static/diagrams.js" in page
    shared = (await client.get(f"/api/v1/chats/share/{link}")).json()
    parts = [p for m in shared["messages"] for p in m["parts"]]
    assert {"type": "diagram", "format": "mermaid", "source": MERMAID} in parts


async def test_help_lists_what_this_server_runs(alice: UserClient,
                                                fake_llm: FakeOpenAIServer) -> None:
    before = len(fake_llm.requests)
    events = await alice.chat_events("/help with commands")
    assert asked(fake_llm, before, "with commands") == []  # the model was not asked
    assert [e["data"] for e in events if e["type"] == "status"] == ["Listing the commands"]
    text = "".join(e["data"] for e in events if e["type"] == "message")
    usable, _, missing = text.partition("Not available on this server:")
    assert "`/diagram`: Create a diagram." in usable and "`/help`" in usable
    for name in ("notes", "online", "code", "image", "research"):
        assert f"`/{name}`" in missing and f"`/{name}`" not in usable
    assert "not part of this version of Salon yet" in missing
    options = (await alice.http.get("/api/chat/options")).json()
    assert options["diagram"] == "Create a diagram." and "help" in options
