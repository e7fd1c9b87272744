"""The hot path for anonymous views (``web.share_fast_path``): it answers exactly what the page
route would, only for requests the cached page may answer, decides access from the database on
every request, and counts every view it delivers.

``ShareFastPath`` is called directly here, in front of a small ASGI app that records whether a
request was passed on, with the real app's context; its answers are compared with the real
app's."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from salon.web.share_fast_path import ShareFastPath
from tests.factories import UserClient
from tests.web.test_share_page import BOT_AGENTS, browser_of, escaped, page, views
from tests.web.test_share_viewing_api import (
    REVOKED_TEXT,
    move_clock,
    owner_share,
    revoke,
    shared_chat,
)


class Answer:
    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.header_list: list[tuple[str, str]] = []
        self.body = b""
        self.passed_on = False


async def through_fast_path(app: Any, path: str, query: bytes = b"", method: str = "GET",
                            **headers: str) -> Answer:
    """``method path`` through ``ShareFastPath`` alone; requests it passes on get a 599."""
    answer = Answer()

    async def rest_of_the_app(scope: Any, receive: Any, send: Any) -> None:
        answer.passed_on = True
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.header_list = [(k.decode(), v.decode()) for k, v in message["headers"]]
            answer.headers = dict(answer.header_list)
        else:
            answer.body += message.get("body", b"")

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
             "query_string": query, "app": app, "http_version": "1.1", "scheme": "http",
             "server": ("testserver", 80), "client": ("127.0.0.1", 1234), "root_path": "",
             "headers": [(k.lower().replace("_", "-").encode(), v.encode())
                         for k, v in headers.items()]}
    await ShareFastPath(rest_of_the_app)(scope, receive, send)
    return answer


def nonce_of(csp: str) -> str:
    match = re.search(r"'nonce-([^']+)'", csp)
    assert match, csp
    return match.group(1)


async def cached_share(alice: UserClient, client: httpx.AsyncClient,
                       **options: Any) -> tuple[str, str]:
    """A shared chat whose page one anonymous viewer has opened (so it is rendered)."""
    cid, link = await shared_chat(alice, "fast and safe", **options)
    assert (await page(client, link)).status_code == 200
    return cid, link


# --- the same answer ---------------------------------------------------------------------------

async def test_it_answers_exactly_what_the_page_route_does(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    move_clock(app, 0)  # the view grant in both answers is signed for the same minute
    _, link = await cached_share(alice, client)
    fast = await through_fast_path(app, f"/s/{link}")
    assert not fast.passed_on and fast.status == 200
    # The same request through the whole app with a query string, which the fast path
    # leaves to the route: the reference answer.
    full = await client.get(f"/s/{link}?from=reference")
    assert full.status_code == 200
    fast_nonce = nonce_of(fast.headers["content-security-policy"])
    full_nonce = nonce_of(full.headers["content-security-policy"])
    assert fast_nonce != full_nonce
    assert fast.body.replace(fast_nonce.encode(), b"N") == full.content.replace(
        full_nonce.encode(), b"N")
    assert f'nonce="{fast_nonce}"'.encode() in fast.body
    expected = sorted((k, v.replace(full_nonce, "N")) for k, v in full.headers.multi_items())
    got = sorted((k, v.replace(fast_nonce, "N")) for k, v in fast.header_list)
    assert got == expected
    assert [k for k, _ in got].count("set-cookie") == 2  # the view grant, for both its paths
    for name, value in (("cache-control", "no-cache"), ("x-robots-tag", "noindex, nofollow"),
                        ("referrer-policy", "no-referrer"), ("vary", "Cookie"),
                        ("x-content-type-options", "nosniff")):
        assert fast.headers[name] == value


async def test_a_matching_etag_is_a_304_and_a_view(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await cached_share(alice, client)
    etag = (await through_fast_path(app, f"/s/{link}")).headers["etag"]
    fast = await through_fast_path(app, f"/s/{link}", If_None_Match=f'W/{etag}, "other"')
    assert not fast.passed_on and fast.status == 304 and fast.body == b""
    assert fast.headers["etag"] == etag and "content-length" not in fast.headers
    other = await through_fast_path(app, f"/s/{link}", If_None_Match='"other"')
    assert other.status == 200 and other.body
    assert await views(alice, cid) == 4  # the rendering view, two 200s and the 304


async def test_every_view_is_counted_and_the_owner_sees_it_at_once(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await cached_share(alice, client)
    for _ in range(25):
        assert (await through_fast_path(app, f"/s/{link}")).status == 200
    # Batched in memory; an owner's read writes them first.
    assert (await owner_share(alice, cid))["views"] == 26
    assert app.state.ctx.view_batch.pending == 0


# --- access is decided on every request ---------------------------------------------------------

async def test_a_revoked_link_is_dead_at_the_next_request(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await cached_share(alice, client)
    assert not (await through_fast_path(app, f"/s/{link}")).passed_on
    await revoke(alice, cid)
    assert (await through_fast_path(app, f"/s/{link}")).passed_on
    r = await page(client, link)
    assert r.status_code == 410 and escaped(REVOKED_TEXT) in r.text


async def test_expiry_passing_ends_the_fast_answer(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, link = await cached_share(alice, client, expires_in=3600)
    assert not (await through_fast_path(app, f"/s/{link}")).passed_on
    move_clock(app, 3601)
    assert (await through_fast_path(app, f"/s/{link}")).passed_on
    assert (await page(client, link)).status_code == 410


async def test_a_new_password_or_a_private_switch_ends_it(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await cached_share(alice, client)
    await alice.share(cid, password="a new secret")
    assert (await through_fast_path(app, f"/s/{link}")).passed_on
    assert (await page(client, link)).status_code == 401
    await alice.share(cid, password=None, current_password="a new secret", is_public=False)
    assert (await through_fast_path(app, f"/s/{link}")).passed_on
    assert (await page(client, link)).status_code == 303  # to the login page


async def test_sharing_switched_off_for_the_instance_ends_it(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, link = await cached_share(alice, client)
    r = await alice.http.post("/api/v1/auths/admin/config", json={"ENABLE_SHARING": False})
    assert r.status_code == 200, r.text
    assert (await through_fast_path(app, f"/s/{link}")).passed_on
    assert (await page(client, link)).status_code == 403


async def test_a_rotated_link_is_gone_and_the_new_one_renders_first(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await cached_share(alice, client)
    r = await alice.http.post(f"/api/v1/chats/{cid}/share/rotate")
    assert r.status_code == 200, r.text
    new_link = r.json()["share_id"]
    assert (await through_fast_path(app, f"/s/{link}")).passed_on
    assert (await page(client, link)).status_code == 404
    assert (await through_fast_path(app, f"/s/{new_link}")).passed_on  # not rendered yet
    assert (await page(client, new_link)).status_code == 200
    assert not (await through_fast_path(app, f"/s/{new_link}")).passed_on


# --- requests it leaves to the app ---------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer salon_something"},
    {"Cookie": "theme=dark; salon_session=abc"},
    {"User_Agent": BOT_AGENTS[0]},
    {"Sec_Purpose": "prefetch"},
    {"Purpose": "prerender"},
])
async def test_signed_in_bots_and_prefetches_go_to_the_app(
    app: Any, alice: UserClient, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    _, link = await cached_share(alice, client)
    assert (await through_fast_path(app, f"/s/{link}", **headers)).passed_on


async def test_other_paths_and_query_strings_go_to_the_app(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, link = await cached_share(alice, client)
    assert (await through_fast_path(app, f"/s/{link}", query=b"clone=1")).passed_on
    for path in (f"/s/{link}/unlock", "/s/", f"/share/{link}", "/s/does-not-exist",
                 f"/api/v1/chats/share/{link}",  # its JSON is not cached yet
                 f"/api/v1/chats/share/{link}/files.zip", "/api/v1/chats/share/"):
        assert (await through_fast_path(app, path)).passed_on, path


# Shares whose views the hot path leaves to the routes.
UNSERVED_OPTIONS = [
    {"max_views": 50},  # counted by the conditional UPDATE that enforces the limit
    {"password": "open sesame"},
    {"is_public": False},
    {"live": True},
]


@pytest.mark.parametrize("options", UNSERVED_OPTIONS)
async def test_shares_it_does_not_serve(
    app: Any, alice: UserClient, client: httpx.AsyncClient, options: dict[str, Any]
) -> None:
    _, link = await shared_chat(alice, "not for the fast path", **options)
    await page(client, link)
    assert (await through_fast_path(app, f"/s/{link}")).passed_on


async def test_a_view_limit_stays_exact_and_the_owner_is_never_counted(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "only three", max_views=3)
    codes = [(await page(client, link)).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 410, 410]
    owner = await browser_of(app, alice)
    try:
        assert (await page(owner, link)).status_code == 200
    finally:
        await owner.aclose()
    assert await views(alice, cid) == 3
