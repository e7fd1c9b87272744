"""The dashboard title of a share: a live share follows renames, a snapshot keeps its own."""

from __future__ import annotations

from typing import Any

from tests.factories import UserClient


async def dashboard_titles(user: UserClient) -> dict[str, str]:
    body: dict[str, Any] = (await user.http.get("/api/v1/chats/shared")).json()
    return {item["chat_id"]: item["title"] for item in body["items"]}


async def test_live_title_follows_renames_snapshot_keeps_its_own(alice: UserClient) -> None:
    live_chat = await alice.new_conversation("first question")
    snap_chat = await alice.new_conversation("second question")
    await alice.share(live_chat, live=True)
    await alice.share(snap_chat)
    for chat_id in (live_chat, snap_chat):
        r = await alice.http.patch("/api/chat/title",
                                   json={"conversation_id": chat_id, "title": "Renamed"})
        assert r.status_code == 200, r.text
    titles = await dashboard_titles(alice)
    assert titles == {live_chat: "Renamed", snap_chat: "second question"}
    snap = await alice.share(snap_chat, update_snapshot=True)
    assert snap["title"] == "Renamed"
