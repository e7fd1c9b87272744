"""The Khoj-shaped Chat API and the Open WebUI-shaped chat resources, on both databases."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.factories import UserClient
from tests.fakes.openai_server import FakeOpenAIServer

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


async def history(user: UserClient, conversation_id: str, **params: Any) -> dict[str, Any]:
    r = await user.http.get("/api/chat/history",
                            params={"conversation_id": conversation_id, **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["response"]
    return body


# --- POST /api/chat ---------------------------------------------------------------------------

async def test_non_streaming_chat_shape(alice: UserClient) -> None:
    body = await alice.chat("What is the capital of France?")
    assert body["status"] == "ok"
    assert body["response"] == "Echo: What is the capital of France?"
    assert body["conversationId"] and body["turnId"]
    h = await history(alice, body["conversationId"])
    assert [(m["by"], m["message"]) for m in h["chat"]] == [
        ("you", "What is the capital of France?"),
        ("khoj", "Echo: What is the capital of France?"),
    ]
    assert h["slug"] == "what-is-the-capital-of-france"
    assert h["agent"] == {"slug": "salon", "name": "Salon", "color": "#7C3AED", "icon": "💬"}


async def test_streaming_events_in_order(alice: UserClient) -> None:
    events = await alice.chat_events("hello there friend")
    types = [e["type"] for e in events]
    assert types[0] == "metadata"
    assert types[-1] == "end_response"
    assert types.index("metadata") < types.index("message")
    assert "usage" in types and types.index("usage") > max(
        i for i, t in enumerate(types) if t == "message")
    text = "".join(e["data"] for e in events if e["type"] == "message")
    assert text == "Echo: hello there friend"
    assert len([t for t in types if t == "message"]) > 1  # streamed in pieces
    meta = events[0]["data"]
    assert events[-1]["data"] == {"conversationId": meta["conversationId"],
                                  "turnId": meta["turnId"], "status": "complete"}
    usage = next(e["data"] for e in events if e["type"] == "usage")
    assert usage["completion_tokens"] > 0


async def test_ndjson_stream_for_line_clients(alice: UserClient) -> None:
    async with alice.http.stream("POST", "/api/chat", json={"q": "hi"},
                                 headers={"Accept": "application/x-ndjson"}) as r:
        lines = [json.loads(line) async for line in r.aiter_lines() if line]
    assert lines[0]["type"] == "metadata" and lines[-1]["type"] == "end_response"


async def test_continue_conversation_sends_history(
    alice: UserClient, fake_llm: FakeOpenAIServer
) -> None:
    cid = await alice.new_conversation("first question", "second question")
    sent = fake_llm.last_request["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "first question"
    h = await history(alice, cid)
    assert len(h["chat"]) == 4


async def test_create_new_and_title(alice: UserClient) -> None:
    cid = await alice.new_conversation("one")
    body = await alice.chat("two", conversation_id=cid, create_new=True, title="My title")
    assert body["conversationId"] != cid
    h = await history(alice, body["conversationId"])
    assert h["title"] == "My title" and h["slug"] == "my-title"


async def test_khoj_client_fields_are_accepted(alice: UserClient) -> None:
    body = await alice.chat("hi", country_code="FR", d=0.18, turn_id="t-1", interrupt=False)
    assert body["status"] == "ok"


async def test_location_and_timezone_reach_the_model(
    alice: UserClient, fake_llm: FakeOpenAIServer
) -> None:
    await alice.chat("where am I?", city="Lyon", region="Rhône", country="France",
                     timezone="Europe/Paris")
    system = fake_llm.last_request["messages"][0]["content"]
    assert "Lyon, Rhône, France" in system and "Europe/Paris" in system


async def test_image_and_file_attachments(alice: UserClient, fake_llm: FakeOpenAIServer) -> None:
    body = await alice.chat("describe", images=[PNG_URL],
                            files=[{"name": "../../etc/notes.txt", "content": "meeting at 10"}])
    user_msg = fake_llm.last_request["messages"][-1]
    content = user_msg["content"]
    assert any(p.get("type") == "image_url" for p in content)
    text = " ".join(p.get("text", "") for p in content if p.get("type") == "text")
    assert "meeting at 10" in text and "notes.txt" in text
    h = await history(alice, body["conversationId"])
    parts = h["chat"][0]["parts"]
    image = next(p for p in parts if p["type"] == "image")
    file = next(p for p in parts if p["type"] == "file")
    assert file["name"] == "notes.txt"  # no path survives
    r = await alice.http.get(f"/api/v1/files/{image['file_id']}/content")
    assert r.status_code == 200 and r.content == PNG
    assert r.headers["content-type"] == "image/png"
    r = await alice.http.get(f"/api/v1/files/{file['file_id']}/content")
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.content == b"meeting at 10"


async def test_files_of_another_user_are_404(alice: UserClient, bob: UserClient) -> None:
    body = await alice.chat("img", images=[PNG_URL])
    part = (await history(alice, body["conversationId"]))["chat"][0]["parts"][1]
    r = await bob.http.get(f"/api/v1/files/{part['file_id']}/content")
    assert r.status_code == 404 and r.json()["code"] == "FILE_NOT_FOUND"


@pytest.mark.parametrize(
    "image",
    [
        "not a data url",
        "data:image/png;base64,!!!notbase64",
        "data:text/html;base64," + base64.b64encode(b"<script>").decode(),
        "data:image/png;base64," + base64.b64encode(b"GIF89a not a png").decode(),
    ],
)
async def test_invalid_image_is_422_and_nothing_written(alice: UserClient, image: str) -> None:
    r = await alice.http.post("/api/chat", json={"q": "x", "stream": False, "images": [image]})
    assert r.status_code == 422
    assert r.json()["code"] == "INVALID_IMAGE"
    assert (await alice.http.get("/api/chat/sessions")).json() == []


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"q": 5},
        {"q": "x", "stream": "false"},
        {"q": "x", "create_new": 1},
        {"q": "x", "files": [{"name": "a"}]},
        {"q": "x", "images": "data:image/png;base64,xx"},
        {"q": "x", "n": "5"},
        {"q": "x", "unknown_field": True},
    ],
)
async def test_malformed_chat_body_is_422(alice: UserClient, payload: dict[str, Any]) -> None:
    r = await alice.http.post("/api/chat", json=payload)
    assert r.status_code == 422
    assert r.json()["code"] == "VALIDATION_ERROR"
    assert r.json()["errors"]


async def test_empty_message_and_bad_timezone_are_422(alice: UserClient) -> None:
    r = await alice.http.post("/api/chat", json={"q": "   ", "stream": False})
    assert r.status_code == 422
    r = await alice.http.post("/api/chat", json={"q": "x", "timezone": "Mars/Olympus"})
    assert r.status_code == 422 and "time zone" in r.json()["detail"]
    assert (await alice.http.get("/api/chat/sessions")).json() == []


async def test_query_over_limit_is_413(alice: UserClient) -> None:
    r = await alice.http.post("/api/chat", json={"q": "x" * 100_001, "stream": False})
    assert r.status_code == 413
    assert r.json()["code"] == "QUERY_TOO_LONG"
    assert (await alice.http.get("/api/chat/sessions")).json() == []


async def test_another_users_conversation_is_404_and_unchanged(
    alice: UserClient, bob: UserClient
) -> None:
    cid = await alice.new_conversation("private")
    r = await bob.http.post("/api/chat", json={"q": "hijack", "conversation_id": cid,
                                               "stream": False})
    assert r.status_code == 404 and r.json()["code"] == "CONVERSATION_NOT_FOUND"
    for method, url, kwargs in [
        ("GET", "/api/chat/history", {"params": {"conversation_id": cid}}),
        ("DELETE", "/api/chat/history", {"params": {"conversation_id": cid}}),
        ("PATCH", "/api/chat/title", {"json": {"conversation_id": cid, "title": "mine"}}),
        ("GET", f"/api/chat/conversation/file-filters/{cid}", {}),
        ("POST", "/api/chat/conversation/file-filters",
         {"json": {"conversation_id": cid, "filename": "a.md"}}),
        ("GET", f"/api/v1/chats/{cid}", {}),
        ("DELETE", f"/api/v1/chats/{cid}", {}),
    ]:
        r = await bob.http.request(method, url, **kwargs)
        assert r.status_code == 404, (method, url, r.text)
    h = await history(alice, cid)
    assert len(h["chat"]) == 2 and h["title"] == "private"


async def test_failed_request_leaves_no_blob_behind(
    alice: UserClient, bob: UserClient, settings: Any
) -> None:
    cid = await alice.new_conversation("private")
    r = await bob.http.post("/api/chat", json={"q": "x", "conversation_id": cid, "stream": False,
                                               "images": [PNG_URL]})
    assert r.status_code == 404
    assert not [p for p in settings.blob_dir.rglob("*") if p.is_file()]


async def test_deleting_a_conversation_removes_its_blobs(alice: UserClient, settings: Any) -> None:
    body = await alice.chat("img", images=[PNG_URL])
    assert [p for p in settings.blob_dir.rglob("*") if p.is_file()]
    await alice.http.delete(f"/api/v1/chats/{body['conversationId']}")
    assert not [p for p in settings.blob_dir.rglob("*") if p.is_file()]


async def test_unknown_conversation_is_404(alice: UserClient) -> None:
    r = await alice.http.post("/api/chat", json={"q": "x", "conversation_id": "nope",
                                                 "stream": False})
    assert r.status_code == 404


async def test_commands_answer_not_available(alice: UserClient, fake_llm: FakeOpenAIServer) -> None:
    before = len(fake_llm.requests)
    body = await alice.chat("/online latest AI news")
    assert "not available on this server" in body["response"]
    assert len(fake_llm.requests) == before  # the model was not asked
    options = (await alice.http.get("/api/chat/options")).json()
    assert set(options) >= {"notes", "online", "code", "image", "diagram", "research"}
    assert "not available" in options["online"]


async def test_starters(alice: UserClient) -> None:
    body = (await alice.http.get("/api/chat/starters")).json()
    assert len(body["starter_questions"]) >= 3


@pytest.mark.parametrize("settings_overrides", [{"daily_message_limit": 2}])
async def test_daily_message_limit(alice: UserClient) -> None:
    cid = await alice.new_conversation("one", "two")
    r = await alice.http.post("/api/chat", json={"q": "three", "conversation_id": cid,
                                                 "stream": False})
    assert r.status_code == 429
    body = r.json()
    assert body["code"] == "RATE_LIMITED" and body["resets_at"]
    assert int(r.headers["retry-after"]) > 0
    await alice.http.delete("/api/chat/history", params={"conversation_id": cid})
    r = await alice.http.post("/api/chat", json={"q": "four", "stream": False})
    assert r.status_code == 429  # deleting does not give messages back


# --- provider failures ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("llm_mode", "code"),
    [("/fail-500", "LLM_UNAVAILABLE"), ("/fail-401", "LLM_AUTH_FAILED"),
     ("/malformed", "LLM_BAD_RESPONSE"), ("/truncated", "LLM_BAD_RESPONSE"),
     ("/hang", "LLM_TIMEOUT")],
)
@pytest.mark.parametrize("settings_overrides", [{"llm_timeout": 1.0}])
async def test_provider_failure_is_an_error_event_not_a_500(alice: UserClient, code: str) -> None:
    events = await alice.chat_events("will this work?")
    types = [e["type"] for e in events]
    assert types[0] == "metadata" and types[-1] == "end_response"
    error = next(e["data"] for e in events if e["type"] == "error")
    assert error["code"] == code
    assert events[-1]["data"]["status"] == "error"
    h = await history(alice, events[0]["data"]["conversationId"])
    assert h["chat"][-1]["by"] == "khoj" and h["chat"][-1]["status"] == "error"
    assert error["detail"] in h["chat"][-1]["message"]


# --- history, sessions, titles, filters ---------------------------------------------------------

async def test_history_n_slicing_and_latest(alice: UserClient) -> None:
    await alice.new_conversation("older")
    cid = await alice.new_conversation("a", "b")
    last2 = await history(alice, cid, n=2)
    assert [m["message"] for m in last2["chat"]] == ["b", "Echo: b"]
    all_but_1 = await history(alice, cid, n=-1)
    assert [m["message"] for m in all_but_1["chat"]] == ["a", "Echo: a", "b"]
    r = await alice.http.get("/api/chat/history")
    assert r.json()["response"]["conversation_id"] == cid


async def test_history_without_conversations_is_404(alice: UserClient) -> None:
    r = await alice.http.get("/api/chat/history")
    assert r.status_code == 404


async def test_sessions_recent_and_order(alice: UserClient) -> None:
    ids = []
    for _ in range(10):
        r = await alice.http.post("/api/chat/sessions", json={})
        assert r.status_code == 200
        ids.append(r.json()["conversation_id"])
    await alice.chat("bump", conversation_id=ids[0])
    all_sessions = (await alice.http.get("/api/chat/sessions")).json()
    assert len(all_sessions) == 10 and all_sessions[0]["conversation_id"] == ids[0]
    recent = (await alice.http.get("/api/chat/sessions", params={"recent": "true"})).json()
    assert len(recent) == 8
    assert set(recent[0]) >= {"conversation_id", "slug", "agent_name", "created", "updated"}


async def test_new_session_agent(alice: UserClient) -> None:
    r = await alice.http.post("/api/chat/sessions", json={"agent_slug": "khoj"})
    assert r.status_code == 200 and r.json()["agent_name"] == "Salon"
    r = await alice.http.post("/api/chat/sessions", json={"agent_slug": "nope"})
    assert r.status_code == 404 and r.json()["code"] == "AGENT_NOT_FOUND"


async def test_set_title(alice: UserClient) -> None:
    cid = await alice.new_conversation("q")
    r = await alice.http.patch("/api/chat/title",
                               json={"conversation_id": cid, "title": "  Project   plan "})
    assert r.status_code == 200 and r.json()["title"] == "Project plan"
    assert (await history(alice, cid))["title"] == "Project plan"
    for bad in ["", "   ", "x" * 201]:
        r = await alice.http.patch("/api/chat/title", json={"conversation_id": cid, "title": bad})
        assert r.status_code == 422


async def test_khoj_query_string_forms(alice: UserClient) -> None:
    r = await alice.http.post("/api/chat/sessions", params={"agent_slug": "khoj"})
    assert r.status_code == 200
    cid = r.json()["conversation_id"]
    r = await alice.http.patch("/api/chat/title", params={"conversation_id": cid, "title": "Q"})
    assert r.status_code == 200 and r.json()["title"] == "Q"
    r = await alice.http.patch("/api/chat/title", params={"conversation_id": cid})
    assert r.status_code == 422 and r.json()["field"] == "title"


async def test_delete_history(alice: UserClient) -> None:
    cid = await alice.new_conversation("bye")
    r = await alice.http.delete("/api/chat/history", params={"conversation_id": cid})
    assert r.status_code == 200
    r = await alice.http.get("/api/chat/history", params={"conversation_id": cid})
    assert r.status_code == 404
    r = await alice.http.delete("/api/chat/history", params={"conversation_id": cid})
    assert r.status_code == 404


async def test_file_filters(alice: UserClient) -> None:
    cid = await alice.new_conversation("q")
    url = "/api/chat/conversation/file-filters"
    assert (await alice.http.get(f"{url}/{cid}")).json() == []
    r = await alice.http.post(url, json={"conversation_id": cid, "filename": "notes.md"})
    assert r.json() == ["notes.md"]
    await alice.http.post(url, json={"conversation_id": cid, "filename": "notes.md"})
    await alice.http.post(url, json={"conversation_id": cid, "filename": "b.md"})
    assert (await alice.http.get(f"{url}/{cid}")).json() == ["notes.md", "b.md"]
    r = await alice.http.request("DELETE", url, json={"conversation_id": cid,
                                                      "filename": "notes.md"})
    assert r.json() == ["b.md"]
    r = await alice.http.post(url, json={"conversation_id": cid, "filename": ""})
    assert r.status_code == 422


# --- Open WebUI-shaped chat resources ----------------------------------------------------------

async def test_owui_chats_list_get_delete(alice: UserClient) -> None:
    ids = [await alice.new_conversation(f"q{i}") for i in range(3)]
    r = await alice.http.get("/api/v1/chats/", params={"page": 1, "page_size": 2})
    assert r.status_code == 200 and r.headers["x-total-count"] == "3"
    assert [c["id"] for c in r.json()] == [ids[2], ids[1]]
    page2 = (await alice.http.get("/api/v1/chats/", params={"page": 2, "page_size": 2})).json()
    assert [c["id"] for c in page2] == [ids[0]]
    chat = (await alice.http.get(f"/api/v1/chats/{ids[0]}")).json()
    assert chat["title"] == "q0"
    assert [m["role"] for m in chat["chat"]["messages"]] == ["user", "assistant"]
    assert chat["chat"]["models"] == ["fake-model"]
    assert (await alice.http.delete(f"/api/v1/chats/{ids[0]}")).json() is True
    assert (await alice.http.get(f"/api/v1/chats/{ids[0]}")).status_code == 404
    r = await alice.http.get("/api/v1/chats/", params={"page": 0})
    assert r.status_code == 422


async def test_every_route_needs_credentials(client: httpx.AsyncClient) -> None:
    for method, url in [("POST", "/api/chat"), ("GET", "/api/chat/history"),
                        ("GET", "/api/chat/sessions"), ("POST", "/api/chat/sessions"),
                        ("PATCH", "/api/chat/title"), ("GET", "/api/chat/options"),
                        ("GET", "/api/chat/starters"), ("GET", "/api/v1/chats/"),
                        ("GET", "/api/v1/chats/x"), ("DELETE", "/api/v1/chats/x"),
                        ("GET", "/api/chat/conversation/file-filters/x"),
                        ("GET", "/api/v1/files/x/content")]:
        r = await client.request(method, url)
        assert r.status_code == 401, (method, url)
        assert r.json()["code"] == "NOT_AUTHENTICATED"
