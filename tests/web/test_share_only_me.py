"""The "only me" visibility (spec 004's Private) through the real app on SQLite and
PostgreSQL: switching a shared chat to it revokes the link for everyone but the owner on every
path that serves a share (404 SHARE_LINK_NOT_FOUND, whatever they held: an account, a
password unlock, a view grant); the owner still sees it; sharing again gives a new link. The
API's ``visibility`` beside the older ``is_public``, and the dashboard's filter."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from salon.domain.shares import NOT_FOUND_DETAIL
from tests.factories import UserClient
from tests.web.test_dashboard_page import titles
from tests.web.test_share_view_grants import anonymous
from tests.web.test_share_viewing_api import SHARE, chat_with_files, unlock

GRANT = "X-Share-Grant"
ORIGIN = {"Origin": "http://testserver"}


def share_url(chat_id: str) -> str:
    return f"/api/v1/chats/{chat_id}/share"


def not_found(r: httpx.Response, what: str) -> None:
    assert r.status_code == 404, (what, r.status_code, r.text[:300])
    if r.content and r.headers.get("content-type", "").startswith("application/json"):
        body = r.json()
        assert body["code"] == "SHARE_LINK_NOT_FOUND", (what, body)
        assert body["detail"] == NOT_FOUND_DETAIL


async def every_path(http: httpx.AsyncClient, link: str, *, grant: str | None = None,
                     logged_in: bool) -> dict[str, httpx.Response]:
    """What this client gets on each path that serves the share ``link``."""
    headers = {GRANT: grant} if grant else {}
    answers = {
        "page": await http.get(f"/s/{link}", headers=headers),
        "page HEAD": await http.head(f"/s/{link}"),
        "Open WebUI path": await http.get(f"/share/chat/{link}", follow_redirects=True),
        "Khoj path": await http.get(f"/shared/{link}", follow_redirects=True),
        "short path": await http.get(f"/share/{link}", follow_redirects=True),
        "JSON view": await http.get(f"{SHARE}/{link}", headers=headers),
        "JSON view HEAD": await http.head(f"{SHARE}/{link}"),
        "verify": await http.post(f"{SHARE}/{link}/verify", json={"password": "pw-secret"},
                                  headers=ORIGIN),
        "unlock form": await http.post(f"/s/{link}/unlock", data={"password": "pw-secret"},
                                       headers=ORIGIN),
        "file": await http.get(f"{SHARE}/{link}/files/0", headers=headers),
        "ZIP": await http.get(f"{SHARE}/{link}/files.zip", headers=headers),
        "live events": await http.get(f"/s/{link}/events", headers=headers),
        "live messages": await http.get(f"/s/{link}/messages", headers=headers),
    }
    if not logged_in:  # "Clone chat" pressed before logging in
        answers["clone form"] = await http.post(f"/s/{link}/clone", data={"press": "x"},
                                                headers=ORIGIN)
    if logged_in:
        answers["clone"] = await http.post(f"/api/v1/chats/{link}/clone/shared",
                                           headers=headers)
        answers["Khoj fork"] = await http.post("/api/chat/share/fork",
                                               json={"public_conversation_slug": link},
                                               headers=headers)
    return answers


async def test_only_me_refuses_every_path_to_everyone_but_the_owner(
    app: Any, alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"))
    link = (await alice.share(cid, live=True, password="pw-secret"))["share_id"]
    # Before: bob and an anonymous viewer unlock it and hold a view's grant.
    await unlock(client, link, "pw-secret")
    await unlock(bob.http, link, "pw-secret")
    r = await bob.http.get(f"{SHARE}/{link}")
    assert r.status_code == 200, r.text
    grant = r.headers[GRANT]
    assert (await client.get(f"{SHARE}/{link}")).status_code == 200

    changed = await alice.share(cid, visibility="only_me")
    assert (changed["visibility"], changed["is_public"], changed["share_id"]) == (
        "only_me", False, link)
    assert changed["status"] == "active"

    for who, http, logged_in in (("anonymous", client, False), ("bob", bob.http, True)):
        for what, answer in (await every_path(http, link, grant=grant,
                                              logged_in=logged_in)).items():
            not_found(answer, f"{who}: {what}")
    async with anonymous(app) as stranger:
        for what, answer in (await every_path(stranger, link, logged_in=False)).items():
            not_found(answer, f"stranger: {what}")
    counted = (await alice.http.get(share_url(cid))).json()
    assert (counted["views"], counted["clones"]) == (2, 0)  # the refusals spent nothing

    # The owner still sees it, everywhere, uncounted.
    own = await alice.http.get(f"{SHARE}/{link}")
    assert own.status_code == 200 and own.json()["messages"]
    assert (await alice.http.get(f"/s/{link}")).status_code == 200
    assert (await alice.http.get(f"{SHARE}/{link}/files/0")).status_code == 200
    assert (await alice.http.get(f"/s/{link}/messages")).status_code == 200
    assert (await alice.http.get(share_url(cid))).json()["views"] == 2


async def test_sharing_again_after_only_me_gives_a_new_link(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    cid = await alice.new_conversation("private for a while")
    old = (await alice.share(cid))["share_id"]
    await alice.share(cid, visibility="only_me")
    again = await alice.share(cid, visibility="public")
    assert again["visibility"] == "public" and again["is_public"] is True
    assert again["share_id"] != old
    not_found(await client.get(f"{SHARE}/{old}"), "the old link")
    assert (await client.get(f"{SHARE}/{again['share_id']}")).status_code == 200
    # Another change keeps the new link; logged-in users only through the older field.
    kept = await alice.share(cid, is_public=False)
    assert (kept["share_id"], kept["visibility"]) == (again["share_id"], "private")
    assert (await client.get(f"{SHARE}/{kept['share_id']}")).json()["code"] == "LOGIN_REQUIRED"
    assert (await bob.http.get(f"{SHARE}/{kept['share_id']}")).status_code == 200
    # Leaving "only me" with a custom link of one's own choice uses that link.
    await alice.share(cid, visibility="only_me")
    custom = await alice.share(cid, visibility="private", share_id="my-chosen-link")
    assert custom["share_id"] == "my-chosen-link"


async def test_visibility_and_is_public_together(alice: UserClient) -> None:
    cid = await alice.new_conversation("both fields")
    created = await alice.share(cid, visibility="only_me", is_public=False)
    assert created["visibility"] == "only_me"
    for body in ({"visibility": "only_me", "is_public": True},
                 {"visibility": "public", "is_public": False},
                 {"visibility": "private", "is_public": True}):
        r = await alice.http.post(share_url(cid), json=body)
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "VALIDATION_ERROR" and r.json()["field"] == "is_public"
    r = await alice.http.post(share_url(cid), json={"visibility": "nobody"})
    assert r.status_code == 422, r.text
    assert (await alice.http.get(share_url(cid))).json()["visibility"] == "only_me"


@pytest.mark.parametrize("settings_overrides", [{"user_permissions_sharing_public_chat": False}])
async def test_only_me_needs_no_public_permission(bob: UserClient) -> None:
    cid = await bob.new_conversation("private chat")
    assert (await bob.share(cid))["visibility"] == "private"  # the default without it
    assert (await bob.share(cid, visibility="only_me"))["visibility"] == "only_me"
    r = await bob.http.post(share_url(cid), json={"visibility": "public"})
    assert r.status_code == 403 and r.json()["code"] == "PUBLIC_SHARING_DISABLED"


@pytest.mark.parametrize(("visibility", "expected"), [
    ("public", ["public chat"]), ("private", ["users chat"]), ("only_me", ["my chat"]),
])
async def test_dashboard_filters_by_visibility(
    alice: UserClient, visibility: str, expected: list[str]
) -> None:
    for title, chosen in (("public chat", "public"), ("users chat", "private"),
                          ("my chat", "only_me")):
        await alice.share(await alice.new_conversation(title), visibility=chosen)
    r = await alice.http.get("/api/v1/chats/shared", params={"visibility": visibility})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["title"] for i in items] == expected
    assert [i["visibility"] for i in items] == [visibility]
    page = await alice.http.get("/shared", params={"visibility": visibility})
    assert page.status_code == 200
    assert titles(page.text) == expected
    assert ("<td>Only me</td>" in page.text) == (visibility == "only_me")
