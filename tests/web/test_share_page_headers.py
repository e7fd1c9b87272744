"""Every response on a share's paths carries the privacy and safety headers: noindex, no
referrer, a nonce-based CSP that forbids plugins, <base> and framing, nosniff; and the caching
rule of its kind (no-cache + ETag for public pages seen anonymously, no-store for the rest)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx

from tests.factories import UserClient
from tests.web.test_share_page import HTML, press_of
from tests.web.test_share_viewing_api import chat_with_files, revoke, shared_chat

Call = Callable[[], Awaitable[httpx.Response]]


def assert_share_headers(r: httpx.Response, *, cache: str | None = "no-store",
                         download: bool = False) -> None:
    """``download``: a file's bytes, whose CSP is stricter still (nothing runs at all)."""
    h = r.headers
    assert h["x-robots-tag"] == "noindex, nofollow", r.request.url
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-content-type-options"] == "nosniff"
    csp = h["content-security-policy"]
    if download:
        assert csp == "default-src 'none'; sandbox", csp
        assert h.get("cache-control") == cache
        return
    assert re.search(r"script-src 'self' 'nonce-[A-Za-z0-9_-]{16,}'", csp), csp
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp, csp
    assert "unsafe-inline" not in csp
    if cache is not None:
        assert h.get("cache-control") == cache, (r.request.url, r.status_code)


async def test_page_304_and_head_headers(alice: UserClient, client: httpx.AsyncClient) -> None:
    _, link = await shared_chat(alice, "headers")
    r = await client.get(f"/s/{link}", headers=HTML)
    assert r.status_code == 200
    assert_share_headers(r, cache="no-cache")
    etag = r.headers["etag"]
    again = await client.get(f"/s/{link}", headers={**HTML, "If-None-Match": etag})
    assert again.status_code == 304
    assert_share_headers(again, cache="no-cache")
    head = await client.head(f"/s/{link}")
    assert head.status_code == 200
    assert_share_headers(head, cache="no-cache")


async def test_no_store_kinds(alice: UserClient, bob: UserClient,
                              client: httpx.AsyncClient) -> None:
    _, members = await shared_chat(alice, "members", is_public=False)
    _, locked = await shared_chat(alice, "locked", password="pw")
    _, public = await shared_chat(alice, "public")
    bot = {**HTML, "User-Agent": "Twitterbot/1.0"}
    press = press_of((await client.get(f"/s/{public}", headers=HTML)).text)
    cases: list[tuple[int, Call]] = [
        (200, lambda: bob.http.get(f"/s/{members}", headers=HTML)),  # logged-in only
        (200, lambda: bob.http.get(f"/s/{public}", headers=HTML)),  # a logged-in viewer
        (200, lambda: alice.http.get(f"/s/{public}", headers=HTML)),  # the owner
        (303, lambda: client.get(f"/s/{members}", headers=HTML)),  # login redirect
        (401, lambda: client.get(f"/s/{locked}", headers=HTML)),  # password form
        (401, lambda: client.post(f"/s/{locked}/unlock", data={"password": "no"})),
        (303, lambda: client.post(f"/s/{locked}/unlock", data={"password": "pw"})),
        (200, lambda: client.get(f"/s/{locked}", headers=HTML)),  # unlocked password share
        (200, lambda: client.get(f"/s/{public}", headers=bot)),  # preview card
        (200, lambda: client.get(f"/s/{public}", headers={**HTML, "Sec-Purpose": "prefetch"})),
        (303, lambda: client.post(f"/s/{public}/clone", data={"press": press})),  # log in first
        (403, lambda: client.post(f"/s/{public}/clone")),  # not a press on our page
        (404, lambda: client.get("/s/no-such-link", headers=HTML)),
        (404, lambda: client.head("/s/no-such-link")),
    ]
    for status, call in cases:
        r = await call()
        assert r.status_code == status, (r.request.url, r.text)
        assert_share_headers(r)
        assert "etag" not in r.headers


async def test_gone_and_redirect_headers(alice: UserClient, client: httpx.AsyncClient) -> None:
    cid, link = await shared_chat(alice, "gone soon")
    for old in (f"/share/chat/{link}", f"/share/{link}", f"/shared/{link}"):
        r = await client.get(old, headers=HTML)
        assert r.status_code == 308
        assert_share_headers(r)
    await revoke(alice, cid)
    r = await client.get(f"/s/{link}", headers=HTML)
    assert r.status_code == 410
    assert_share_headers(r)


async def test_sharing_disabled_headers(alice: UserClient, client: httpx.AsyncClient) -> None:
    _, link = await shared_chat(alice, "off")
    r = await alice.http.post("/api/v1/auths/admin/config", json={"ENABLE_SHARING": False})
    assert r.status_code == 200, r.text
    r = await client.get(f"/s/{link}", headers=HTML)
    assert r.status_code == 403
    assert_share_headers(r)


async def test_file_and_zip_headers(alice: UserClient, client: httpx.AsyncClient) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"))
    link = (await alice.share(cid))["share_id"]
    files = f"/api/v1/chats/share/{link}/files"
    for url in (f"{files}/0", f"{files}/1", f"{files}.zip"):
        r = await client.get(url)
        assert r.status_code == 200, url
        assert_share_headers(r, download=True)
    missing = await client.get(f"{files}/99")
    assert missing.status_code == 404
    assert_share_headers(missing, cache=None)
