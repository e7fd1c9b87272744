"""``GET /api/v1/chats/share/{id}`` from its cache (``web.api.share_view`` and the hot path in
``web.share_fast_path``): the same answers as the route, ETag and 304, gzip when asked, every
delivery counted, and nothing cached ever outlives a change of the share (revoked, expired,
re-passworded, views used up, options changed). Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
import pytest

from salon.web.api.share_view import accepts_gzip
from tests.factories import UserClient
from tests.web.test_share_fast_path import UNSERVED_OPTIONS, nonce_of, through_fast_path
from tests.web.test_share_page import views
from tests.web.test_share_viewing_api import (
    SHARE,
    assert_refused,
    chat_with_files,
    move_clock,
    revoke,
    shared_chat,
    unlock,
)

PLAIN = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}
# Long enough that its JSON is worth compressing.
TURN = "a question long enough to be worth compressing " * 12


async def get(http: httpx.AsyncClient, link: str, **headers: str) -> httpx.Response:
    """``GET`` the link's JSON, plain unless ``headers`` (``If_None_Match=...``) say else."""
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    return await http.get(f"{SHARE}/{link}", headers={**PLAIN, **sent})


async def cached_view(alice: UserClient, client: httpx.AsyncClient,
                      **options: Any) -> tuple[str, str, httpx.Response]:
    """A shared chat whose JSON one anonymous viewer has fetched (so it is cached)."""
    cid, link = await shared_chat(alice, TURN, **options)
    r = await get(client, link)
    assert r.status_code == 200, r.text
    return cid, link, r


def comparable(headers: list[tuple[str, str]], nonce: str) -> list[tuple[str, str]]:
    return sorted((k, v.replace(nonce, "N")) for k, v in headers if k not in ("date", "server"))


# --- the same answers ----------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "encoding"), [
    ("GET", "identity"), ("GET", "gzip"), ("HEAD", "identity"), ("HEAD", "gzip, br")])
async def test_the_hot_path_answers_exactly_what_the_route_does(
    app: Any, alice: UserClient, client: httpx.AsyncClient, method: str, encoding: str
) -> None:
    move_clock(app, 0)  # the view grant in both answers is signed for the same minute
    _, link, _ = await cached_view(alice, client)
    fast = await through_fast_path(app, f"{SHARE}/{link}", method=method,
                                   Accept_Encoding=encoding, Host="testserver")
    assert not fast.passed_on and fast.status == 200
    # The same request through the whole app with a query string, which the hot path leaves
    # to the route: the reference answer.
    full = await client.request(method, f"{SHARE}/{link}?from=reference",
                                headers={"Accept-Encoding": encoding})
    assert full.status_code == 200
    if method == "HEAD":
        assert fast.body == b"" and full.content == b""
    elif encoding == "gzip":
        assert gzip.decompress(fast.body) == full.content  # httpx decoded it
    else:
        assert fast.body == full.content
    assert comparable(fast.header_list, nonce_of(fast.headers["content-security-policy"])) == \
        comparable(full.headers.multi_items(), nonce_of(full.headers["content-security-policy"]))
    assert fast.headers["cache-control"] == "no-store"
    assert fast.headers["x-robots-tag"] == "noindex, nofollow"
    assert [k for k, _ in fast.header_list].count("set-cookie") == (2 if method == "GET" else 0)


async def test_the_cached_body_is_the_body_built_for_the_request(
    app: Any, alice: UserClient, client: httpx.AsyncClient, bob: UserClient
) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"), q=TURN)
    link = (await alice.share(cid, display_username=True))["share_id"]
    r = await get(client, link)  # built and cached
    first = r.json()
    cache = app.state.ctx.share_view_cache
    assert len(cache) == 1 and cache.size >= 2 * len(r.content)  # bounded by its bytes
    again = (await get(client, link)).json()  # from the cache
    assert first == again
    assert first["files"][0]["url"] == f"http://testserver{SHARE}/{link}/files/0"
    other_host = (await get(client, link, Host="other.example")).json()
    assert other_host["files"][0]["url"] == f"http://other.example{SHARE}/{link}/files/0"
    fast = await through_fast_path(app, f"{SHARE}/{link}", Host="other.example")
    assert not fast.passed_on and json.loads(fast.body) == other_host
    assert (await through_fast_path(app, f"{SHARE}/{link}", Host="third.example")).passed_on
    # A signed-in viewer's answer is theirs, never the anonymous one.
    signed_in = (await get(bob.http, link)).json()
    assert signed_in["owner"] == {"name": "Alice"} and signed_in["recipe"] is not None
    assert signed_in["can_clone"] is True and first["can_clone"] is False
    assert first["owner"] is None and first["recipe"] is None
    assert (await get(client, link)).json() == first


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer salon_something"},
    {"Cookie": "theme=dark; salon_session=abc"},
])
async def test_signed_in_requests_go_to_the_route(
    app: Any, alice: UserClient, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    _, link, _ = await cached_view(alice, client)
    assert (await through_fast_path(app, f"{SHARE}/{link}", **headers)).passed_on
    assert (await through_fast_path(app, f"{SHARE}/{link}", query=b"x=1")).passed_on
    assert (await through_fast_path(app, f"{SHARE}/{link}", method="POST")).passed_on
    # The API has no title card: a link-preview bot gets the JSON like anyone.
    bot = await through_fast_path(app, f"{SHARE}/{link}", User_Agent="Slackbot 1.0")
    assert not bot.passed_on and bot.status == 200


@pytest.mark.parametrize("options", UNSERVED_OPTIONS)
async def test_shares_the_hot_path_leaves_to_the_route(
    app: Any, alice: UserClient, client: httpx.AsyncClient, options: dict[str, Any]
) -> None:
    _, link = await shared_chat(alice, TURN, **options)
    if "password" in options:
        await unlock(client, link, "open sesame")
    await get(client, link)
    assert (await through_fast_path(app, f"{SHARE}/{link}")).passed_on


@pytest.mark.parametrize("settings_overrides", [{"base_url": "https://chat.example/"}])
async def test_links_in_the_body_use_the_configured_base_url(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"), q=TURN)
    link = (await alice.share(cid))["share_id"]
    built = (await get(client, link, Host="any.example")).json()
    assert built["files_zip_url"] == f"https://chat.example{SHARE}/{link}/files.zip"
    fast = await through_fast_path(app, f"{SHARE}/{link}", Host="other.example")
    assert not fast.passed_on and json.loads(fast.body) == built


# --- ETag, 304 and gzip --------------------------------------------------------------------------

async def test_a_matching_etag_is_a_304_and_a_view(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link, first = await cached_view(alice, client)
    etag = first.headers["etag"]
    for served in ("route", "hot path"):
        query = "?route" if served == "route" else ""
        r = await client.get(f"{SHARE}/{link}{query}",
                             headers={**PLAIN, "If-None-Match": f'"other", W/{etag}'})
        assert r.status_code == 304 and r.content == b"", served
        assert r.headers["etag"] == etag and "x-share-grant" in r.headers
        assert "content-encoding" not in r.headers
    fast = await through_fast_path(app, f"{SHARE}/{link}", If_None_Match=etag,
                                   Accept_Encoding="identity")
    assert not fast.passed_on and fast.status == 304
    other = await get(client, link, If_None_Match='"other"')
    assert other.status_code == 200 and other.content == first.content
    assert await views(alice, cid) == 5  # two 200s and three 304s
    # HEAD answers the same 304 and spends nothing.
    assert (await client.head(f"{SHARE}/{link}",
                              headers={**PLAIN, "If-None-Match": etag})).status_code == 304
    assert await views(alice, cid) == 5


async def test_a_signed_in_viewer_gets_an_etag_and_304_too(
    alice: UserClient, bob: UserClient
) -> None:
    cid, link = await shared_chat(alice, TURN)
    first = await get(bob.http, link)
    r = await get(bob.http, link, If_None_Match=first.headers["etag"])
    assert r.status_code == 304
    assert await views(alice, cid) == 2


async def test_gzip_when_asked_decodes_to_the_plain_body(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, link, plain = await cached_view(alice, client)
    assert "content-encoding" not in plain.headers
    async with client.stream("GET", f"{SHARE}/{link}", headers=GZIP) as zipped:
        raw = b"".join([chunk async for chunk in zipped.aiter_raw()])
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert int(zipped.headers["content-length"]) == len(raw) < len(plain.content)
    assert gzip.decompress(raw) == plain.content
    assert zipped.headers["etag"] != plain.headers["etag"]  # another representation
    fast = await through_fast_path(app, f"{SHARE}/{link}", Accept_Encoding="deflate, gzip")
    assert not fast.passed_on and gzip.decompress(fast.body) == plain.content
    refused = await get(client, link, Accept_Encoding="gzip;q=0, *")
    assert "content-encoding" not in refused.headers and refused.content == plain.content


async def test_head_has_the_headers_of_get_and_spends_nothing(
    alice: UserClient, client: httpx.AsyncClient, bob: UserClient
) -> None:
    cid, link = await shared_chat(alice, TURN)
    for http in (client, bob.http):  # built for a signed-in viewer, cached for anonymous
        for encoding in ("identity", "gzip"):
            head = await http.head(f"{SHARE}/{link}", headers={"Accept-Encoding": encoding})
            async with http.stream("GET", f"{SHARE}/{link}",
                                   headers={"Accept-Encoding": encoding}) as r:
                raw = b"".join([chunk async for chunk in r.aiter_raw()])
            assert head.status_code == r.status_code == 200 and head.content == b""
            for name in ("etag", "content-length", "content-type", "cache-control", "vary"):
                assert head.headers[name] == r.headers[name], (name, encoding)
            assert head.headers.get("content-encoding") == r.headers.get("content-encoding")
            assert int(head.headers["content-length"]) == len(raw)
            assert "x-share-grant" not in head.headers and "x-share-grant" in r.headers
    assert await views(alice, cid) == 4  # the GETs only


async def test_the_api_document_names_the_etag_and_the_304(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    responses = document["paths"][SHARE + "/{share_id}"]["get"]["responses"]
    assert {"ETag", "Content-Encoding"} <= set(responses["200"]["headers"])
    assert "304" in responses


@pytest.mark.parametrize(("header", "expected"), [
    ("gzip", True), ("deflate, gzip;q=0.5", True), ("*", True), ("GZIP", True),
    ("", False), ("identity", False), ("br, deflate", False), ("gzip;q=0", False),
    ("gzip;q=0, *", False), ("*;q=0", False), ("gzip;q=nonsense", False),
])
def test_accept_encoding(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


# --- nothing cached outlives a change ------------------------------------------------------------

async def test_a_revoked_link_is_refused_at_the_next_request(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link, _ = await cached_view(alice, client)
    assert not (await through_fast_path(app, f"{SHARE}/{link}")).passed_on
    await revoke(alice, cid)
    assert (await through_fast_path(app, f"{SHARE}/{link}")).passed_on
    assert_refused(await get(client, link), 410, "SHARE_LINK_REVOKED")
    assert (await client.head(f"{SHARE}/{link}")).status_code == 410


async def test_an_expired_link_is_refused(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, link, _ = await cached_view(alice, client, expires_in=3600)
    move_clock(app, 3601)
    assert (await through_fast_path(app, f"{SHARE}/{link}")).passed_on
    assert_refused(await get(client, link), 410, "SHARE_LINK_EXPIRED")


async def test_a_new_password_is_asked_for(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link, first = await cached_view(alice, client)
    await alice.share(cid, password="a new secret")
    assert (await through_fast_path(app, f"{SHARE}/{link}")).passed_on
    assert_refused(await get(client, link), 401, "PASSWORD_REQUIRED")
    token = await unlock(client, link, "a new secret")
    r = await get(client, link, X_Share_Unlock=token)
    assert r.status_code == 200 and r.json()["messages"] == first.json()["messages"]
    await alice.share(cid, password="another one", current_password="a new secret")
    assert_refused(await get(client, link, X_Share_Unlock=token), 401, "PASSWORD_REQUIRED")


async def test_a_view_limit_is_exact(alice: UserClient, client: httpx.AsyncClient,
                                     bob: UserClient) -> None:
    cid, link = await shared_chat(alice, TURN, max_views=3)
    answers = [await get(client, link) for _ in range(5)]
    assert [r.status_code for r in answers] == [200, 200, 200, 410, 410]
    # The last view's answer says the link is now used up.
    assert [r.json()["status"] for r in answers[:3]] == ["active", "active", "expired"]
    assert_refused(answers[3], 410, "SHARE_LINK_EXPIRED")
    assert_refused(await get(bob.http, link), 410, "SHARE_LINK_EXPIRED")
    assert await views(alice, cid) == 3
    await alice.share(cid, max_views=4)
    assert (await get(client, link)).status_code == 200
    assert (await get(client, link)).status_code == 410
    assert await views(alice, cid) == 4


async def test_changed_options_are_answered_at_once(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link, first = await cached_view(alice, client)
    assert len(first.json()["messages"]) == 2
    await alice.chat("a second turn", conversation_id=cid)
    await alice.share(cid, update_snapshot=True)
    assert len((await get(client, link)).json()["messages"]) == 4
    await alice.share(cid, live=True)
    assert (await through_fast_path(app, f"{SHARE}/{link}")).passed_on
    live = (await get(client, link)).json()
    assert live["type"] == "live" and len(live["messages"]) == 4
    await alice.chat("a third turn", conversation_id=cid)
    assert len((await get(client, link)).json()["messages"]) == 6
    await alice.share(cid, live=False)
    snapshot = (await get(client, link)).json()
    assert snapshot["type"] == "snapshot" and len(snapshot["messages"]) == 6
    await alice.share(cid, is_public=False)
    assert_refused(await get(client, link), 401, "LOGIN_REQUIRED")


async def test_a_rotated_link_is_not_found_and_the_new_one_answers(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link, first = await cached_view(alice, client)
    r = await alice.http.post(f"/api/v1/chats/{cid}/share/rotate")
    assert r.status_code == 200, r.text
    new_link = r.json()["share_id"]
    assert_refused(await get(client, link), 404, "SHARE_LINK_NOT_FOUND")
    body = (await get(client, new_link)).json()
    assert body["share_id"] == new_link and body["messages"] == first.json()["messages"]
