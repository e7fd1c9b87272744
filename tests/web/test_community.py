"""Community sharing between two Salons: this app publishes to a hub, a second Salon served
over real HTTP (its own SQLite database) that imports the chat and gives it a public link.
Also: the switches on both sides, a wrong token, a hub that is down, and another user's chat."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from salon.config import Settings, normalize_database_url
from tests.factories import UserClient
from tests.web.test_live_server import serve
from tests.web.test_share_viewing_api import chat_with_files

PUBLISH = "/api/v1/chats/{}/share/community"


@dataclass
class Hub:
    url: str
    token: str


@pytest.fixture(params=["accepting"])
def hub(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Hub]:
    """A second Salon, accepting community shares unless the test says "refusing"."""
    db = tmp_path / "hub.db"
    shutil.copy(sqlite_template, db)
    hub_settings = Settings(
        env="test", data_dir=tmp_path / "hub-data", llm_provider="none",
        database_url=normalize_database_url(f"sqlite:///{db}"),
        accept_community_shares=request.param == "accepting")
    with serve(hub_settings) as base:
        r = httpx.post(f"{base}/api/v1/auths/signup", json={
            "name": "Community", "email": "hub@example.com", "password": "hub password 123"})
        r.raise_for_status()
        yield Hub(url=base, token=r.json()["token"])


@pytest.fixture
def publish_token(hub: Hub) -> str:
    """The token this app publishes with: the hub account's (parametrise to change it)."""
    return hub.token


@pytest.fixture
def settings_overrides(hub: Hub, publish_token: str) -> dict[str, Any]:
    return {"enable_community_sharing": True, "community_url": hub.url,
            "community_token": publish_token}


async def publish(user: UserClient, chat_id: str) -> httpx.Response:
    return await user.http.post(PUBLISH.format(chat_id))


def link_of(url: str) -> str:
    return url.rsplit("/s/", 1)[1]


async def test_a_published_chat_is_public_on_the_hub(alice: UserClient, hub: Hub) -> None:
    chat_id = await chat_with_files(alice, ("plan.txt", "step one"), q="community plans")
    r = await publish(alice, chat_id)
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    assert url.startswith(f"{hub.url}/s/")
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        seen = await anonymous.get(f"/api/v1/chats/share/{link_of(url)}")
        assert seen.status_code == 200, seen.text
        body = seen.json()
        texts = [p.get("text") for m in body["messages"] for p in m["parts"]]
        assert texts[0] == "community plans" and "Echo: Attached file plan.txt" in texts[-1]
        [shared_file] = [f for f in body["files"] if f["name"] == "plan.txt"]
        got = await anonymous.get(shared_file["url"].replace(hub.url, ""))
        assert got.status_code == 200 and got.content == b"step one"
        page = await anonymous.get(url.replace(hub.url, ""))
        assert page.status_code == 200 and "community plans" in page.text
    again = await publish(alice, chat_id)
    assert again.status_code == 200 and again.json()["url"] == url  # the same link


async def test_publishing_nobody_elses_chat(alice: UserClient, bob: UserClient) -> None:
    chat_id = await alice.new_conversation("mine only")
    r = await publish(bob, chat_id)
    assert r.status_code == 404 and r.json()["code"] == "CONVERSATION_NOT_FOUND"


@pytest.mark.parametrize("hub", ["refusing"], indirect=True)
async def test_a_hub_that_does_not_accept_says_so(alice: UserClient) -> None:
    chat_id = await alice.new_conversation("not wanted")
    r = await publish(alice, chat_id)
    assert r.status_code == 502
    assert r.json() == {"detail": "The community hub refused the chat: This server does not "
                                  "accept community shares.", "code": "COMMUNITY_REFUSED"}


@pytest.mark.parametrize("publish_token", ["salon_not-a-real-token"])
async def test_a_wrong_token_is_refused_by_the_hub(alice: UserClient) -> None:
    chat_id = await alice.new_conversation("bad token")
    r = await publish(alice, chat_id)
    assert r.status_code == 502 and r.json()["code"] == "COMMUNITY_REFUSED"
    assert "hub@example.com" not in r.text


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("settings_overrides", [
    {"enable_community_sharing": True, "community_url": closed_port_url(),
     "community_token": "salon_x"},
])
async def test_a_hub_that_is_down(alice: UserClient) -> None:
    chat_id = await alice.new_conversation("nobody home")
    r = await publish(alice, chat_id)
    assert r.status_code == 502 and r.json()["code"] == "COMMUNITY_UNAVAILABLE"
    assert "127.0.0.1" not in r.json()["detail"]


@pytest.mark.parametrize("settings_overrides", [{}])
async def test_off_by_default(alice: UserClient, client: httpx.AsyncClient) -> None:
    chat_id = await alice.new_conversation("private")
    r = await publish(alice, chat_id)
    assert r.status_code == 403 and r.json()["code"] == "COMMUNITY_SHARING_DISABLED"
    page = await alice.http.get(f"/c/{chat_id}", headers={"Accept": "text/html"})
    assert "Share to community" not in page.text
    r = await alice.http.post("/api/v1/community/chats", json={"format": "salon.conversation"})
    assert r.status_code == 403 and r.json()["code"] == "COMMUNITY_UPLOADS_DISABLED"
    r = await client.post("/api/v1/community/chats", json={})
    assert r.status_code == 401


async def test_the_dialog_offers_it_when_on(alice: UserClient) -> None:
    chat_id = await alice.new_conversation("offer it")
    page = await alice.http.get(f"/c/{chat_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Share to community" in page.text


async def test_the_hub_takes_only_one_salon_chat_file(hub: Hub) -> None:
    headers = {"Authorization": f"Bearer {hub.token}"}
    async with httpx.AsyncClient(base_url=hub.url, headers=headers) as http:
        for body in ([], {"title": "x"}, [{"format": "salon.conversation"}]):
            r = await http.post("/api/v1/community/chats", json=body)
            assert r.status_code == 422, r.text
        r = await http.post("/api/v1/community/chats", content=b"{nope",
                            headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["code"] == "INVALID_JSON"


def test_a_hub_address_must_be_http() -> None:
    with pytest.raises(ValidationError, match="SALON_COMMUNITY_URL"):
        Settings(enable_community_sharing=True, community_url="ftp://hub", community_token="t")


@pytest.mark.parametrize("settings_overrides", [
    {"enable_community_sharing": True},
    {"enable_community_sharing": True, "community_url": "https://hub.example"},
])
async def test_on_without_a_hub_says_what_is_missing(alice: UserClient) -> None:
    chat_id = await alice.new_conversation("where to")
    r = await publish(alice, chat_id)
    assert r.status_code == 403 and r.json()["code"] == "COMMUNITY_SHARING_NOT_CONFIGURED"
    assert "SALON_COMMUNITY_URL and SALON_COMMUNITY_TOKEN" in r.json()["detail"]
    page = await alice.http.get(f"/c/{chat_id}", headers={"Accept": "text/html"})
    assert "Share to community" not in page.text


async def test_a_chat_the_hub_revoked_stays_revoked_when_published_again(
    alice: UserClient, hub: Hub
) -> None:
    chat_id = await alice.new_conversation("taken down")
    url = (await publish(alice, chat_id)).json()["url"]
    hub_account = {"Authorization": f"Bearer {hub.token}"}
    async with httpx.AsyncClient(base_url=hub.url, headers=hub_account) as hub_http:
        r = await hub_http.delete("/api/chat/share",
                                  params={"public_conversation_slug": link_of(url)})
        assert r.status_code == 200, r.text
        again = await publish(alice, chat_id)
        assert again.status_code == 410, again.text
        assert again.json()["code"] == "COMMUNITY_CHAT_REVOKED"
        assert "took this chat down" in again.json()["detail"]
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        gone = await anonymous.get(f"/api/v1/chats/share/{link_of(url)}")
        assert gone.status_code == 410 and gone.json()["code"] == "SHARE_LINK_REVOKED"
    # A chat that changed since is a new document: a new link; the revoked one stays dead.
    await alice.chat("one more turn", conversation_id=chat_id)
    changed = await publish(alice, chat_id)
    assert changed.status_code == 200, changed.text
    assert changed.json()["url"] != url
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        assert (await anonymous.get(f"/api/v1/chats/share/{link_of(url)}")).status_code == 410
