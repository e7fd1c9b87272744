"""Two of the spec's sharing rules through the real app on SQLite and PostgreSQL: restoring a
link that a limit ended (time, views, clones) makes it permanent, every expiry setting gone
(spec 002), while a link revoked by hand keeps its limits; and a chat without messages cannot
be shared (409 EMPTY_CONVERSATION, documented in the OpenAPI document)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from salon.domain.shares import EMPTY_CONVERSATION_DETAIL
from tests.factories import UserClient

SHARE = "/api/v1/chats/share"
LIMITS = {"expires_in": 3 * 3600, "max_views": 2, "max_clones": 5}


def share_url(chat_id: str) -> str:
    return f"/api/v1/chats/{chat_id}/share"


async def restore(user: UserClient, chat_id: str) -> dict[str, Any]:
    r = await user.http.post(f"{share_url(chat_id)}/restore")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def is_permanent(share: dict[str, Any]) -> bool:
    return (share["status"] == "active" and share["expires_at"] is None
            and share["max_views"] == 0 and share["max_clones"] == 0
            and share["expiry_summary"] == "Never expires")


async def test_restoring_after_the_views_ran_out_removes_every_expiry_setting(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid = await alice.new_conversation("popular")
    link = (await alice.share(cid, **LIMITS))["share_id"]
    for _ in range(2):
        assert (await client.get(f"{SHARE}/{link}")).status_code == 200
    assert (await client.get(f"{SHARE}/{link}")).json()["code"] == "SHARE_LINK_EXPIRED"
    restored = await restore(alice, cid)
    assert is_permanent(restored), restored
    for _ in range(3):  # no view limit any more
        assert (await client.get(f"{SHARE}/{link}")).status_code == 200


async def test_restoring_after_the_time_ran_out_removes_every_expiry_setting(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid = await alice.new_conversation("short lived")
    link = (await alice.share(cid, expires_in=60, max_views=50, max_clones=5))["share_id"]
    app.state.ctx.clock = lambda: datetime.now(UTC) + timedelta(minutes=2)
    assert (await client.get(f"{SHARE}/{link}")).json()["code"] == "SHARE_LINK_EXPIRED"
    restored = await restore(alice, cid)
    assert is_permanent(restored), restored
    assert (await client.get(f"{SHARE}/{link}")).status_code == 200


async def test_restoring_after_the_clones_ran_out_removes_every_expiry_setting(
    alice: UserClient, bob: UserClient
) -> None:
    cid = await alice.new_conversation("clone me")
    link = (await alice.share(cid, expires_in=3600, max_views=50, max_clones=1))["share_id"]
    assert (await bob.http.post(f"/api/v1/chats/{link}/clone/shared")).status_code == 200
    assert (await alice.http.get(share_url(cid))).json()["status"] == "revoked"
    assert is_permanent(await restore(alice, cid))


async def test_a_link_revoked_by_hand_keeps_its_limits(alice: UserClient) -> None:
    cid = await alice.new_conversation("revoked by hand")
    before = await alice.share(cid, **LIMITS)
    assert (await alice.http.delete(share_url(cid))).status_code == 200
    restored = await restore(alice, cid)
    assert restored["status"] == "active"
    assert (restored["expires_at"], restored["max_views"], restored["max_clones"]) == (
        before["expires_at"], 2, 5)


async def empty_chat(user: UserClient) -> str:
    r = await user.http.post("/api/chat/sessions")
    assert r.status_code == 200, r.text
    chat_id: str = r.json()["conversation_id"]
    return chat_id


@pytest.mark.parametrize("body", [{}, {"visibility": "only_me"}, {"live": True}])
async def test_an_empty_chat_cannot_be_shared(alice: UserClient, body: dict[str, Any]) -> None:
    cid = await empty_chat(alice)
    r = await alice.http.post(share_url(cid), json=body)
    assert r.status_code == 409, r.text
    assert r.json() == {"detail": EMPTY_CONVERSATION_DETAIL, "code": "EMPTY_CONVERSATION"}
    r = await alice.http.post("/api/chat/share", json={"conversation_id": cid})
    assert r.status_code == 409 and r.json()["code"] == "EMPTY_CONVERSATION"
    assert (await alice.http.get(share_url(cid))).json()["code"] == "SHARE_NOT_FOUND"
    assert (await alice.http.get("/api/v1/chats/shared")).json()["total"] == 0
    # Once it has a message, it can.
    await alice.chat("now there is something", conversation_id=cid)
    assert (await alice.share(cid, **body))["chat_id"] == cid


async def test_the_openapi_document_names_the_empty_chat_refusal(
    client: httpx.AsyncClient
) -> None:
    doc = (await client.get("/openapi.json")).json()
    conflict = doc["paths"]["/api/v1/chats/{chat_id}/share"]["post"]["responses"]["409"]
    assert "EMPTY_CONVERSATION" in conflict["description"]
    assert conflict["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    visibility = doc["components"]["schemas"]["ShareOptions"]["properties"]["visibility"]
    assert visibility["enum"] == ["public", "private", "only_me"]
