"""The OpenAPI explorer is served by Salon itself: no CDN, no inline script."""

from __future__ import annotations

import re

import httpx


async def test_docs_page_uses_only_local_assets(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200
    srcs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert srcs and all(s.startswith("/") for s in srcs)
    assert "<script>" not in r.text
    nonce = re.search(r"'nonce-([^']+)'", r.headers["content-security-policy"])
    assert nonce and f'nonce="{nonce.group(1)}"' in r.text
    for src in srcs:
        assert (await client.get(src)).status_code == 200, src


async def test_openapi_lists_the_chat_api(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/api/chat", "/api/chat/history", "/api/chat/sessions", "/api/v1/auths/signin",
                 "/api/v1/chats/{chat_id}"):
        assert path in paths
