"""Password attempts on a share are counted per client; X-Forwarded-For decides the client only
when the request comes through a trusted proxy (the test client connects from 127.0.0.1)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import UserClient


async def wrong_attempts_until_limited(
    client: httpx.AsyncClient, link: str, *, forwarded: list[str]
) -> int | None:
    """How many wrong passwords (each from the next forwarded address) before a 429."""
    for n, address in enumerate(forwarded, start=1):
        r = await client.post(f"/api/v1/chats/share/{link}/verify", json={"password": "nope"},
                              headers={"X-Forwarded-For": address})
        if r.status_code == 429:
            assert r.json()["code"] == "RATE_LIMITED" and int(r.headers["retry-after"]) >= 1
            return n
        assert r.status_code == 401 and r.json()["code"] == "INVALID_PASSWORD"
    return None


async def protected_link(alice: UserClient) -> str:
    chat_id = await alice.new_conversation("a secret")
    share: dict[str, Any] = await alice.share(chat_id, password="open sesame")
    return str(share["share_id"])


@pytest.mark.parametrize("settings_overrides", [{"trusted_proxies": "10.1.2.3"}])
async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    link = await protected_link(alice)
    addresses = [f"203.0.113.{i}" for i in range(1, 16)]
    assert await wrong_attempts_until_limited(client, link, forwarded=addresses) == 11


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    link = await protected_link(alice)
    addresses = [f"203.0.113.{i}" for i in range(1, 16)]
    assert await wrong_attempts_until_limited(client, link, forwarded=addresses) is None
    # one client behind the proxy is still limited on its own
    same = ["198.51.100.7"] * 12
    assert await wrong_attempts_until_limited(client, link, forwarded=same) == 11
