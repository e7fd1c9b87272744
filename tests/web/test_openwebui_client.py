"""Open WebUI's API client against Salon over real HTTP: the requests of
``src/lib/apis/chats/index.ts`` and ``auths/index.ts`` as the client makes them (its method,
headers and body, byte for byte where it matters: the share call sends no body at all), with
the answers read the way its code and its share page (``src/routes/s/[id]/+page.svelte``)
read them. SQLite and PostgreSQL (the ``database_url`` fixture)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from salon.config import Settings
from tests.web.test_live_server import serve

API = "/api/v1"
ORIGIN = "https://owui.example.org"


class ClientError(Exception):
    """What the client throws: ``if (!res.ok) throw await res.json()``."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status, body)
        self.status, self.body = status, body


def owui_fetch(c: httpx.Client, method: str, path: str, token: str = "", *,
               body: Any = None) -> Any:
    """One call as the client writes it: ``Accept`` and ``Content-Type: application/json``
    always, ``authorization: Bearer`` only with a token (``...(token && {...})``), and a
    JSON body only where the client passes one."""
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    content = None if body is None else json.dumps(body).encode()
    r = c.request(method, f"{API}{path}", headers=headers, content=content)
    if not r.is_success:
        raise ClientError(r.status_code, r.json())
    return r.json()


def share_chat_by_id(c: httpx.Client, token: str, chat_id: str) -> Any:
    return owui_fetch(c, "POST", f"/chats/{chat_id}/share", token)


def delete_shared_chat_by_id(c: httpx.Client, token: str, chat_id: str) -> Any:
    return owui_fetch(c, "DELETE", f"/chats/{chat_id}/share", token)


def get_chat_by_id(c: httpx.Client, token: str, chat_id: str) -> Any:
    return owui_fetch(c, "GET", f"/chats/{chat_id}", token)


def get_chat_by_share_id(c: httpx.Client, token: str, share_id: str) -> Any:
    return owui_fetch(c, "GET", f"/chats/share/{share_id}", token)


def import_chats(c: httpx.Client, token: str, chats: list[dict[str, Any]]) -> Any:
    return owui_fetch(c, "POST", "/chats/import", token, body={"chats": chats})


def share_page_messages(chat: dict[str, Any]) -> list[dict[str, Any]]:
    """The share page's reading: ``chat.chat.history`` when present (else the messages
    list), then ``createMessagesList(history, history.currentId)``: parent links from the
    current message up to the root."""
    content = chat["chat"]
    history = content.get("history")
    assert history is not None
    messages: list[dict[str, Any]] = []
    current = history["currentId"]
    while current is not None:
        message = history["messages"][current]
        messages.insert(0, message)
        current = message["parentId"]
    return messages


@pytest.fixture
def base(settings: Settings) -> Iterator[str]:
    with serve(settings) as url:
        yield url


def sign_up(c: httpx.Client, email: str) -> dict[str, Any]:
    """``userSignUp``: its body carries ``profile_image_url``. The client keeps the token
    (``localStorage.token``); its session cookie is dropped, so ``c`` stays anonymous."""
    r = c.post(f"{API}/auths/signup", headers={"Content-Type": "application/json"},
               json={"name": "Ada", "email": email, "password": "long enough pw",
                     "profile_image_url": "/user.png"})
    c.cookies.clear()
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def new_chat(c: httpx.Client, token: str, *questions: str) -> str:
    """A conversation with answered turns (made through Salon's own chat API)."""
    chat_id: str | None = None
    for q in questions:
        r = c.post("/api/chat", headers={"Authorization": f"Bearer {token}"},
                   json={"q": q, "stream": False,
                         **({"conversation_id": chat_id} if chat_id else {})})
        assert r.status_code == 200, r.text
        chat_id = r.json()["conversationId"]
    assert chat_id is not None
    return chat_id


def test_share_flow_as_the_client_makes_it(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        owner = sign_up(c, "ada@example.com")
        token = owner["token"]
        chat_id = new_chat(c, token, "first question")
        assert get_chat_by_id(c, token, chat_id)["share_id"] is None

        # ShareChatModal: shareChatById with no body, then `${origin}/s/${sharedChat.id}`.
        shared = share_chat_by_id(c, token, chat_id)
        link = shared["id"]
        assert link == shared["share_id"]
        assert c.get(f"/s/{link}").status_code == 200
        assert get_chat_by_id(c, token, chat_id)["share_id"] == link

        # The share page, anonymous (localStorage.token is empty: no authorization header).
        r = c.get(f"{API}/chats/share/{link}",
                  headers={"Accept": "application/json", "Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        chat = r.json()
        assert chat["id"] == link  # cloneSharedChatById(token, chat.id)
        assert chat["chat"]["title"] == chat["title"]
        assert isinstance(chat["chat"]["timestamp"], int)  # dayjs(chat.chat.timestamp)
        assert chat["created_at"] and chat["updated_at"]
        page = share_page_messages(chat)
        assert [m["role"] for m in page] == ["user", "assistant"]
        assert page[0]["content"] == "first question"
        assert page[-1]["content"]
        assert [m["id"] for m in chat["chat"]["messages"]] == [m["id"] for m in page]
        # Never the owner's internal ids or e-mail (spec 002/003).
        assert "user_id" not in chat
        for secret in (owner["id"], owner["email"], chat_id):
            assert secret not in r.text

        # "Update and Copy Link" (the same call again) takes a new snapshot on the same link.
        new_chat_turn = c.post("/api/chat", headers={"Authorization": f"Bearer {token}"},
                               json={"q": "second question", "stream": False,
                                     "conversation_id": chat_id})
        assert new_chat_turn.status_code == 200
        assert share_chat_by_id(c, token, chat_id)["id"] == link
        page = share_page_messages(get_chat_by_share_id(c, "", link))
        assert [m["content"] for m in page if m["role"] == "user"] == [
            "first question", "second question"]

        # A viewer with a token clones by chat.id.
        viewer = sign_up(c, "bob@example.com")["token"]
        clone = owui_fetch(c, "POST", f"/chats/{chat['id']}/clone/shared", viewer)
        assert clone["id"] != chat_id


def test_share_again_after_delete_makes_a_new_working_link(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        token = sign_up(c, "ada@example.com")["token"]
        chat_id = new_chat(c, token, "hello")
        first = share_chat_by_id(c, token, chat_id)["id"]

        # "delete this link": the modal reloads the chat when the answer is truthy.
        assert delete_shared_chat_by_id(c, token, chat_id)
        assert get_chat_by_id(c, token, chat_id)["share_id"] is None
        with pytest.raises(ClientError) as gone:
            get_chat_by_share_id(c, "", first)
        assert gone.value.status == 410
        assert gone.value.body["code"] == "SHARE_LINK_REVOKED"

        # Until the chat is shared again, the dashboard restores the old link.
        auth = {"Authorization": f"Bearer {token}"}
        r = c.post(f"{API}/chats/{chat_id}/share/restore", headers=auth)
        assert r.status_code == 200 and r.json()["share_id"] == first
        assert get_chat_by_share_id(c, "", first)["id"] == first
        assert delete_shared_chat_by_id(c, token, chat_id)

        # "and create a new shared link": a new id that works; the old one is gone for good.
        second = share_chat_by_id(c, token, chat_id)["id"]
        assert second != first
        assert get_chat_by_share_id(c, "", second)["id"] == second
        assert get_chat_by_id(c, token, chat_id)["share_id"] == second
        with pytest.raises(ClientError) as unknown:
            get_chat_by_share_id(c, "", first)
        assert unknown.value.status == 404
        # Restoring now changes nothing: the chat's share is the new, working link.
        r = c.post(f"{API}/chats/{chat_id}/share/restore", headers=auth)
        assert r.status_code == 200 and r.json()["share_id"] == second
        assert r.json()["status"] == "active"
        assert r.json()["views"] == 1  # the new link counts from zero: its one view above


def test_import_chats_as_the_client_sends_them(base: str) -> None:
    history = {"currentId": "b", "messages": {
        "a": {"id": "a", "parentId": None, "childrenIds": ["b"], "role": "user",
              "content": "Imported question", "timestamp": 1_700_000_000},
        "b": {"id": "b", "parentId": "a", "childrenIds": [], "role": "assistant",
              "content": "Imported answer", "timestamp": 1_700_000_005, "model": "llama3"}}}
    chats = [
        {"chat": {"title": "From Open WebUI", "models": ["llama3"], "history": history,
                  "messages": list(history["messages"].values()),
                  "timestamp": 1_700_000_000_000},
         "meta": {"tags": ["x"]}, "pinned": False, "folder_id": None,
         "created_at": 1_700_000_000, "updated_at": 1_700_000_005},
        # The legacy export form the client wraps the same way, times unknown.
        {"chat": {"title": "Older", "messages": [
            {"role": "user", "content": "Old question"}]},
         "meta": {}, "pinned": False, "folder_id": None, "created_at": None,
         "updated_at": None},
    ]
    with httpx.Client(base_url=base, timeout=30) as c:
        token = sign_up(c, "ada@example.com")["token"]
        report = import_chats(c, token, chats)
        assert report["failed"] == []
        assert [i["source"] for i in report["imported"]] == ["openwebui", "openwebui"]
        chat = get_chat_by_id(c, token, report["imported"][0]["chat_id"])
        assert chat["title"] == "From Open WebUI"
        assert [m["content"] for m in chat["chat"]["messages"]] == [
            "Imported question", "Imported answer"]
        assert chat["created_at"] == 1_700_000_000
        listed = owui_fetch(c, "GET", "/chats/?page=1", token)
        assert {"From Open WebUI", "Older"} <= {item["title"] for item in listed}
        # The same body again: each chat is recognised as already imported.
        again = import_chats(c, token, chats)
        assert again["imported"] == [] and len(again["skipped"]) == 2


def preflight(c: httpx.Client, origin: str, path: str) -> httpx.Response:
    return c.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})


def test_cors_lets_listed_origins_in_with_credentials(settings: Settings) -> None:
    listed = settings.model_copy(update={"cors_origins": f"{ORIGIN}/, https://other.example"})
    with serve(listed) as base, httpx.Client(base_url=base, timeout=30) as c:
        token = sign_up(c, "ada@example.com")["token"]
        chat_id = new_chat(c, token, "hello")
        r = preflight(c, ORIGIN, f"{API}/chats/{chat_id}/share")
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert r.headers["access-control-allow-credentials"] == "true"
        assert "POST" in r.headers["access-control-allow-methods"]
        assert "authorization" in r.headers["access-control-allow-headers"].lower()

        r = c.post(f"{API}/chats/{chat_id}/share",
                   headers={"Origin": ORIGIN, "authorization": f"Bearer {token}",
                            "Content-Type": "application/json", "Accept": "application/json"})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert r.headers["access-control-allow-credentials"] == "true"
        link = r.json()["id"]
        # The share's hot path (an anonymous view) answers listed origins too.
        r = c.get(f"{API}/chats/share/{link}", headers={"Origin": ORIGIN})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN

        # Any other origin: the preflight is refused and answers carry no CORS headers.
        r = preflight(c, "https://evil.example", f"{API}/chats/{chat_id}/share")
        assert r.status_code == 400
        assert "access-control-allow-origin" not in r.headers
        r = c.get(f"{API}/chats/{chat_id}", headers={
            "Origin": "https://evil.example", "authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers
        assert "access-control-allow-credentials" not in r.headers


def test_cors_is_off_by_default(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        r = preflight(c, ORIGIN, f"{API}/chats/shared")
        assert "access-control-allow-origin" not in r.headers
        r = c.get(f"{API}/chats/shared", headers={"Origin": ORIGIN})
        assert "access-control-allow-origin" not in r.headers


def test_cors_any_origin_never_with_credentials(settings: Settings) -> None:
    anyone = settings.model_copy(update={"cors_origins": "*"})
    with serve(anyone) as base, httpx.Client(base_url=base, timeout=30) as c:
        r = c.get(f"{API}/chats/share/missing", headers={
            "Origin": ORIGIN, "Cookie": "salon_session=x"})
        assert r.headers["access-control-allow-origin"] in ("*", ORIGIN)
        assert "access-control-allow-credentials" not in r.headers
        r = preflight(c, ORIGIN, f"{API}/chats/shared")
        assert r.status_code == 200
        assert "access-control-allow-credentials" not in r.headers


def test_cors_setting_is_either_any_or_a_list(settings: Settings) -> None:
    with pytest.raises(ValueError, match="SALON_CORS_ORIGINS"):
        Settings(**{**settings.model_dump(), "cors_origins": f"*, {ORIGIN}"})
