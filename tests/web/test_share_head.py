"""HEAD on a share answers like GET (status and headers) without content and without a view."""

from __future__ import annotations

import httpx

from tests.factories import UserClient


async def test_head_never_spends_a_view(client: httpx.AsyncClient, alice: UserClient) -> None:
    chat_id = await alice.new_conversation("hello")
    share = await alice.share(chat_id, max_views=1)
    link = f"/api/v1/chats/share/{share['share_id']}"
    for _ in range(3):
        r = await client.head(link)
        assert r.status_code == 200 and r.content == b""
        assert r.headers["x-robots-tag"] == "noindex, nofollow"
    assert (await alice.http.get(f"/api/v1/chats/{chat_id}/share")).json()["views"] == 0
    assert (await client.get(link)).status_code == 200  # the one view is still there
    assert (await client.head(link)).status_code == 410  # and now it is spent


async def test_head_follows_the_access_rules(client: httpx.AsyncClient, alice: UserClient) -> None:
    chat_id = await alice.new_conversation("hello")
    share = await alice.share(chat_id, is_public=False)
    assert (await client.head(f"/api/v1/chats/share/{share['share_id']}")).status_code == 401
    assert (await client.head("/api/v1/chats/share/no-such-link")).status_code == 404
