"""A view limit holds on every path that delivers a share's content: a counted view (the page or
the JSON view) grants its viewer that view's files, ZIP, live messages and a clone for a few
minutes, bound to the share's link and content version; every other request for them spends a
view (410 when none is left). On SQLite and PostgreSQL, through the real app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from salon.services.share_grants import GRANT_STEP, GRANT_TTL
from salon.web.share_grants import GRANT_COOKIE
from tests.factories import UserClient
from tests.web.test_share_viewing_api import (
    SHARE,
    assert_refused,
    chat_with_files,
    move_clock,
    owner_share,
    shared_chat,
)

GRANT = "X-Share-Grant"
SIDE_PATHS = ("files/0", "files/1", "files.zip")


def anonymous(app: Any) -> httpx.AsyncClient:
    """Another anonymous client, with its own cookie jar."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def stranger(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with anonymous(app) as c:
        yield c


async def shared_files(alice: UserClient, **options: Any) -> tuple[str, str]:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"))
    return cid, (await alice.share(cid, **options))["share_id"]


async def counts(alice: UserClient, cid: str) -> tuple[int, int]:
    share = await owner_share(alice, cid)
    return share["views"], share["clones"]


async def view_grant(http: httpx.AsyncClient, link: str) -> str:
    """View the share once through the JSON API; its grant."""
    r = await http.get(f"{SHARE}/{link}")
    assert r.status_code == 200, r.text
    grant: str = r.headers[GRANT]
    return grant


def clone(http: httpx.AsyncClient, link: str, **headers: str) -> Any:
    return http.post(f"/api/v1/chats/{link}/clone/shared", headers=headers)


# --- files, ZIP and live messages --------------------------------------------------------------

@pytest.mark.parametrize("via", ["page", "api"])
async def test_one_view_grants_its_files_and_nothing_more(
    alice: UserClient, client: httpx.AsyncClient, stranger: httpx.AsyncClient, via: str
) -> None:
    cid, link = await shared_files(alice, max_views=1)
    r = await client.get(f"/s/{link}" if via == "page" else f"{SHARE}/{link}")
    assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    assert sorted(c.rsplit("Path=", 1)[1] for c in cookies) == [
        f"/api/v1/chats/share/{link}", f"/s/{link}"]
    assert all(c.startswith(f"{GRANT_COOKIE}=") and "HttpOnly" in c and "SameSite=lax" in c
               for c in cookies)
    for path in SIDE_PATHS * 2:  # with the cookie, as a browser sends it
        r = await client.get(f"{SHARE}/{link}/{path}")
        assert r.status_code == 200, (path, r.text)
    for path in SIDE_PATHS:  # anyone else: the one view is spent
        assert_refused(await stranger.get(f"{SHARE}/{link}/{path}"), 410, "SHARE_LINK_EXPIRED")
    assert await counts(alice, cid) == (1, 0)


async def test_the_grant_header_serves_api_clients(
    alice: UserClient, client: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    cid, link = await shared_files(alice, max_views=1)
    grant = await view_grant(client, link)
    r = await stranger.get(f"{SHARE}/{link}/files/1", headers={GRANT: grant})
    assert r.status_code == 200 and r.content == b"hello file"
    assert r.headers[GRANT]  # a fresh grant comes back with every delivery
    assert await counts(alice, cid) == (1, 0)


async def test_a_side_path_without_a_grant_spends_a_view_and_grants_the_rest(
    app: Any, alice: UserClient, client: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    cid, link = await shared_files(alice, max_views=2)
    r = await client.get(f"{SHARE}/{link}/files/1")  # no view before: this one spends it
    assert r.status_code == 200 and await counts(alice, cid) == (1, 0)
    for path in SIDE_PATHS:  # its grant covers the rest
        assert (await client.get(f"{SHARE}/{link}/{path}")).status_code == 200
    assert await counts(alice, cid) == (1, 0)
    assert (await stranger.get(f"{SHARE}/{link}/files.zip")).status_code == 200
    assert await counts(alice, cid) == (2, 0)
    async with anonymous(app) as third:
        assert_refused(await third.get(f"{SHARE}/{link}/files/0"), 410, "SHARE_LINK_EXPIRED")
    assert await counts(alice, cid) == (2, 0)


async def test_live_messages_need_the_pages_view(
    alice: UserClient, client: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "watch me", live=True, max_views=1)
    assert (await client.get(f"/s/{link}")).status_code == 200
    await alice.chat("and a second turn", conversation_id=cid)
    r = await client.get(f"/s/{link}/messages", params={"after": 2})
    assert r.status_code == 200 and "Echo: and a second turn" in r.json()["messages"]
    r = await stranger.get(f"/s/{link}/messages")
    assert_refused(r, 410, "SHARE_LINK_EXPIRED")
    assert await counts(alice, cid) == (1, 0)


async def test_a_grant_ends_with_a_new_snapshot_and_with_a_new_link(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_files(alice, max_views=1)
    grant = await view_grant(client, link)
    assert (await client.get(f"{SHARE}/{link}/files/1", headers={GRANT: grant})).is_success
    await alice.share(cid, update_snapshot=True)  # version N+1: the grant for N is refused
    for path in SIDE_PATHS:
        assert_refused(await client.get(f"{SHARE}/{link}/{path}", headers={GRANT: grant}),
                       410, "SHARE_LINK_EXPIRED")
    cid, link = await shared_files(alice, max_views=2)
    grant = await view_grant(client, link)
    new_link = (await alice.http.post(f"/api/v1/chats/{cid}/share/rotate")).json()["share_id"]
    await view_grant(client, new_link)  # the last view
    assert_refused(await client.get(f"{SHARE}/{new_link}/files/1", headers={GRANT: grant}),
                   410, "SHARE_LINK_EXPIRED")


async def test_a_grant_is_for_one_share_and_a_few_minutes(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, one = await shared_files(alice, max_views=1)
    _, other = await shared_files(alice, max_views=1)
    grant = await view_grant(client, one)
    await view_grant(client, other)
    assert (await client.get(f"{SHARE}/{other}/files/1", headers={GRANT: grant})).status_code \
        == 410
    move_clock(app, (GRANT_TTL.total_seconds() + GRANT_STEP) + 1)
    assert (await client.get(f"{SHARE}/{one}/files/1", headers={GRANT: grant})).status_code \
        == 410


@pytest.mark.parametrize("grant", [
    "garbage", "1.2", "9999999999.AAAA", "²³.abc", "9999999999.é", "9" * 200, ".", "",
])
async def test_forged_grants_are_refused_never_an_error(
    app: Any, alice: UserClient, client: httpx.AsyncClient, grant: str
) -> None:
    cid, link = await shared_files(alice, max_views=1)
    await view_grant(client, link)
    async with anonymous(app) as other:
        for path in SIDE_PATHS:
            sent = grant.encode("latin-1")  # as a client may send it
            for headers in ({GRANT: sent}, {"Cookie": GRANT_COOKIE.encode() + b"=" + sent}):
                r = await other.get(f"{SHARE}/{link}/{path}", headers=headers)
                assert_refused(r, 410, "SHARE_LINK_EXPIRED")
    assert await counts(alice, cid) == (1, 0)


async def test_the_owner_spends_nothing_and_gets_no_grant(alice: UserClient) -> None:
    cid, link = await shared_files(alice, max_views=1)
    for path in ("", *(f"/{p}" for p in SIDE_PATHS)):
        r = await alice.http.get(f"{SHARE}/{link}{path}")
        assert r.status_code == 200 and GRANT not in r.headers
        assert GRANT_COOKIE not in r.headers.get("set-cookie", "")
    assert (await clone(alice.http, link)).status_code == 200
    assert await counts(alice, cid) == (0, 0)


async def test_links_without_a_limit_count_side_paths_the_same_way(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_files(alice)
    for path in SIDE_PATHS:  # the first spends a view; its grant covers the others
        assert (await client.get(f"{SHARE}/{link}/{path}")).status_code == 200
    assert await counts(alice, cid) == (1, 0)
    assert (await client.get(f"/s/{link}")).status_code == 200  # every page load is a view
    assert (await client.get(f"{SHARE}/{link}/files/0")).status_code == 200
    assert await counts(alice, cid) == (2, 0)


async def test_grants_are_secure_cookies_over_https(app: Any, alice: UserClient) -> None:
    _, link = await shared_files(alice)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://testserver") as tls:
        for path in (f"/s/{link}", f"{SHARE}/{link}", f"{SHARE}/{link}/files/0"):
            cookies = (await tls.get(path)).headers.get_list("set-cookie")
            assert len(cookies) == 2 and all(c.endswith("; Secure") or "; Secure;" in c
                                             for c in cookies), cookies


# --- clones and forks ---------------------------------------------------------------------------

async def test_clones_without_a_grant_spend_views(alice: UserClient, bob: UserClient) -> None:
    cid, link = await shared_chat(alice, "clone me", max_views=1)
    results = [await clone(bob.http, link) for _ in range(3)]
    assert [r.status_code for r in results] == [200, 410, 410]
    for r in results[1:]:
        assert_refused(r, 410, "SHARE_LINK_EXPIRED")
    assert await counts(alice, cid) == (1, 1)


async def test_clones_with_the_views_grant_spend_only_clones(
    alice: UserClient, bob: UserClient
) -> None:
    cid, link = await shared_chat(alice, "clone me", max_views=1, max_clones=2,
                                  allow_view_after_clone_limit=True)
    grant = await view_grant(bob.http, link)
    results = [await clone(bob.http, link, **{GRANT: grant}) for _ in range(3)]
    assert [r.status_code for r in results] == [200, 200, 403]
    assert_refused(results[2], 403, "CLONE_LIMIT_REACHED")
    assert await counts(alice, cid) == (1, 2)


async def test_a_refused_clone_spends_no_view(alice: UserClient, bob: UserClient) -> None:
    cid, link = await shared_chat(alice, "one clone", max_views=5, max_clones=1,
                                  allow_view_after_clone_limit=True)
    assert (await clone(bob.http, link)).status_code == 200
    assert_refused(await clone(bob.http, link), 403, "CLONE_LIMIT_REACHED")
    assert await counts(alice, cid) == (1, 1)


async def test_khoj_fork_spends_like_a_clone(alice: UserClient, bob: UserClient) -> None:
    cid, link = await shared_chat(alice, "fork me", max_views=1)
    body = {"public_conversation_slug": link}
    results = [await bob.http.post("/api/chat/share/fork", json=body) for _ in range(3)]
    assert [r.status_code for r in results] == [200, 410, 410]
    assert await counts(alice, cid) == (1, 1)
    cid, link = await shared_chat(alice, "fork me", max_views=1)
    grant = await view_grant(bob.http, link)
    r = await bob.http.post("/api/chat/share/fork", json={"public_conversation_slug": link},
                            headers={GRANT: grant})
    assert r.status_code == 200 and await counts(alice, cid) == (1, 1)


async def test_the_page_clone_form_uses_the_pages_grant(
    app: Any, alice: UserClient, bob: UserClient
) -> None:
    cid, link = await shared_chat(alice, "the last view", max_views=1)
    async with anonymous(app) as browser:
        r = await browser.post("/login", data={"email": bob.email, "password": bob.password})
        assert r.status_code == 303
        text = (await browser.get(f"/s/{link}")).text
        assert 'id="clone-form"' in text  # the last view still offers its clone
        token = text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        r = await browser.post(f"/s/{link}/clone", data={"csrf_token": token})
        assert r.status_code == 303 and r.headers["location"].startswith("/c/")
    assert await counts(alice, cid) == (1, 1)


async def test_parallel_clones_without_grants_stay_within_the_view_limit(
    alice: UserClient, bob: UserClient
) -> None:
    cid, link = await shared_chat(alice, "rush", max_views=3)
    results = await asyncio.gather(*(clone(bob.http, link) for _ in range(20)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] * 3 + [410] * 17
    assert {r.json()["code"] for r in results if r.status_code == 410} == {"SHARE_LINK_EXPIRED"}
    assert await counts(alice, cid) == (3, 3)
