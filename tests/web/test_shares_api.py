"""Creating, changing and managing one chat's share through the HTTP API: the response shape,
strict input, custom links, expiry, limits, passwords, checkpoints, snapshot vs live, the
management routes, another user's attempts, permissions and the Khoj shapes (both databases)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from salon.domain.shares import EXPIRED_DETAIL, NOT_FOUND_DETAIL, REVOKED_DETAIL
from tests.factories import UserClient

SHARE_FIELDS = {
    "id", "share_id", "url", "chat_id", "title", "is_public", "visibility", "has_password", "type",
    "live",
    "display_username", "allow_cloning", "expires_at", "max_views", "max_clones",
    "allow_view_after_clone_limit", "upto_message_id", "views", "clones", "status",
    "created_at", "updated_at", "expiry_summary",
}
RANDOM_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
MAX_LIMIT = 2_147_483_647


# --- helpers ---------------------------------------------------------------------------------

def share_url(chat_id: str) -> str:
    return f"/api/v1/chats/{chat_id}/share"


def view_url(link: str) -> str:
    return f"/api/v1/chats/share/{link}"


def expect_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is the error ``{detail, code}`` with this status (and code, if given)."""
    assert r.status_code == status, (r.status_code, r.text)
    body: dict[str, Any] = r.json()
    assert isinstance(body.get("detail"), str) and body["detail"]
    assert isinstance(body.get("code"), str) and body["code"]
    if code is not None:
        assert body["code"] == code, body
    return body


async def get_share(user: UserClient, chat_id: str) -> dict[str, Any]:
    r = await user.http.get(share_url(chat_id))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def shared_chat(user: UserClient, *questions: str, **options: Any) -> tuple[str, dict]:
    """A new conversation of ``user`` with one turn per question, shared with ``options``."""
    chat_id = await user.new_conversation(*(questions or ("hello there",)))
    return chat_id, await user.share(chat_id, **options)


async def view(http: httpx.AsyncClient, link: str) -> dict[str, Any]:
    """Open the share as this client and expect the content."""
    r = await http.get(view_url(link))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def texts(shared: dict[str, Any]) -> list[str]:
    """The text of each shared message, in order."""
    return [" ".join(p.get("text", "") for p in m["parts"] if p["type"] == "text")
            for m in shared["messages"]]


async def chat_messages(user: UserClient, chat_id: str) -> list[dict[str, Any]]:
    r = await user.http.get(f"/api/v1/chats/{chat_id}")
    assert r.status_code == 200, r.text
    messages: list[dict[str, Any]] = r.json()["chat"]["messages"]
    return messages


async def clone(user: UserClient, link: str) -> str:
    r = await user.http.post(f"/api/v1/chats/{link}/clone/shared")
    assert r.status_code == 200, r.text
    chat_id: str = r.json()["id"]
    return chat_id


def moment(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None, text
    return value


def move_clock(app: Any, delta: timedelta) -> None:
    """Run the app's clock ``delta`` ahead of real time from now on."""
    app.state.ctx.clock = lambda: datetime.now(UTC) + delta


# --- 1. the share and re-sharing -------------------------------------------------------------

async def test_create_share_response_has_every_field(alice: UserClient) -> None:
    chat_id = await alice.new_conversation("What is a share link?")
    r = await alice.http.post(share_url(chat_id), json={})
    assert r.status_code == 200, r.text
    share = r.json()
    assert set(share) == SHARE_FIELDS
    assert RANDOM_ID.match(share["share_id"])
    assert share["url"].endswith(f"/s/{share['share_id']}")
    assert share["url"].startswith("http")
    assert share["chat_id"] == chat_id
    assert share["title"] == "What is a share link?"
    assert share["is_public"] is True
    assert share["has_password"] is False
    assert share["type"] == "snapshot" and share["live"] is False
    assert share["display_username"] is False
    assert share["allow_cloning"] is True
    assert share["expires_at"] is None
    assert share["max_views"] == 0 and share["max_clones"] == 0
    assert share["allow_view_after_clone_limit"] is False
    assert share["upto_message_id"] is None
    assert share["views"] == 0 and share["clones"] == 0
    assert share["status"] == "active"
    assert moment(share["created_at"]) <= moment(share["updated_at"])
    assert abs(moment(share["created_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert share["expiry_summary"] == "Never expires"
    assert await get_share(alice, chat_id) == share


async def test_password_and_hash_never_in_any_json(alice: UserClient) -> None:
    secret = "Sw0rdfish-in-the-sea"
    chat_id, share = await shared_chat(alice, password=secret)
    assert share["has_password"] is True
    bodies = [
        (await alice.http.post(share_url(chat_id), json={"display_username": True})).text,
        (await alice.http.get(share_url(chat_id))).text,
        (await alice.http.get("/api/v1/chats/shared")).text,
        (await alice.http.get("/api/v1/chats/shared/meta")).text,
        (await alice.http.get(view_url(share["share_id"]))).text,
        (await alice.http.get(f"/api/v1/chats/{chat_id}")).text,
    ]
    for text in bodies:
        assert secret not in text
        assert "argon2" not in text.lower() and "$2b$" not in text and "pbkdf2" not in text
        assert "password_hash" not in text


async def test_sharing_again_keeps_the_link_and_changes_only_sent_fields(
    app: Any, alice: UserClient
) -> None:
    chat_id, first = await shared_chat(alice, display_username=True, max_views=50,
                                       is_public=False)
    move_clock(app, timedelta(minutes=5))
    second = await alice.share(chat_id, allow_cloning=False)
    assert second["share_id"] == first["share_id"] and second["url"] == first["url"]
    assert second["allow_cloning"] is False
    assert second["created_at"] == first["created_at"]
    assert moment(second["updated_at"]) > moment(first["updated_at"])
    changed = {"allow_cloning", "updated_at"}
    assert {k: v for k, v in second.items() if k not in changed} == {
        k: v for k, v in first.items() if k not in changed}
    move_clock(app, timedelta(minutes=10))
    third = await alice.share(chat_id)
    assert third["share_id"] == first["share_id"]
    assert third["is_public"] is False and third["display_username"] is True
    assert third["max_views"] == 50 and third["allow_cloning"] is False
    assert third["created_at"] == first["created_at"]
    r = await alice.http.get("/api/v1/chats/shared")
    assert r.json()["total"] == 1


# --- 2. strict types -------------------------------------------------------------------------

BOOLEAN_FIELDS = ["is_public", "live", "display_username", "allow_cloning",
                  "allow_view_after_clone_limit", "update_snapshot"]
BAD_BODIES: list[Any] = (
    [{field: value} for field in BOOLEAN_FIELDS for value in ("false", "0", 0, None, "true", 1)]
    + [{field: value} for field in ("max_views", "max_clones")
       for value in ("0", None, 1.5, -1, True, MAX_LIMIT + 1, "10", [3])]
    + [{"expires_in": value} for value in (0, -5, "60", 1.5, True)]
    + [{name: value} for name, value in (
        ("owner_id", "someone"), ("views", 0), ("clones", 0), ("chat_id", "x"),
        ("user_id", "someone"), ("id", "x"), ("password_hash", "x"), ("revoked_at", None),
        ("bogus", 1))]
    + [{"share_id": 5}, {"share_id": None}, {"password": 1234}, {"upto_message_id": 3},
       {"expires_at": 1893456000}]
    + [[], "share", 5]
)


async def test_strict_types_are_refused_and_change_nothing(alice: UserClient) -> None:
    chat_id, _ = await shared_chat(alice, max_views=7, display_username=True)
    before = await get_share(alice, chat_id)
    for body in BAD_BODIES:
        r = await alice.http.post(share_url(chat_id), json=body)
        assert r.status_code == 422, (body, r.status_code, r.text)
        assert set(r.json()) >= {"detail", "code"}, body
    assert await get_share(alice, chat_id) == before


async def test_refused_first_share_creates_nothing(alice: UserClient) -> None:
    chat_id = await alice.new_conversation("not shared yet")
    for body in ({"is_public": "false"}, {"max_views": -1}, {"owner_id": "x"},
                 {"share_id": "!!!"}, {"expires_in": 0}):
        expect_error(await alice.http.post(share_url(chat_id), json=body), 422)
    expect_error(await alice.http.get(share_url(chat_id)), 404, "SHARE_NOT_FOUND")
    assert (await alice.http.get("/api/v1/chats/shared")).json()["total"] == 0


async def test_largest_limit_is_accepted(alice: UserClient) -> None:
    _, share = await shared_chat(alice, max_views=MAX_LIMIT, max_clones=MAX_LIMIT)
    assert share["max_views"] == MAX_LIMIT and share["max_clones"] == MAX_LIMIT


# --- 3. custom link ids ----------------------------------------------------------------------

async def test_custom_share_id_is_cleaned(alice: UserClient, client: httpx.AsyncClient) -> None:
    chat_id, share = await shared_chat(alice, share_id="  My trip notes! (2030)?  ")
    assert share["share_id"] == "My-trip-notes-2030"
    assert share["url"].endswith("/s/My-trip-notes-2030")
    shared = await view(client, "My-trip-notes-2030")
    assert texts(shared)[0] == "hello there"
    ok = await alice.share(chat_id, share_id="a.b_c~d-1")
    assert ok["share_id"] == "a.b_c~d-1"
    await view(client, "a.b_c~d-1")


async def test_custom_share_id_length_counts_after_cleaning(alice: UserClient) -> None:
    chat_id = await alice.new_conversation("long ids")
    longest = await alice.share(chat_id, share_id="a" * 144)
    assert longest["share_id"] == "a" * 144
    cleaned_to_140 = await alice.share(chat_id, share_id="b" * 140 + "!!!!!!!!")
    assert cleaned_to_140["share_id"] == "b" * 140


BAD_SHARE_IDS = ["c" * 145, "d" * 140 + " e f g", "!!!", "   ", "/?#", ".", "..", " . ",
                 "shared", "ALL", "Shared", "api", "verify"]


async def test_invalid_custom_share_id_is_422(alice: UserClient) -> None:
    chat_id, _ = await shared_chat(alice)
    before = await get_share(alice, chat_id)
    for bad in BAD_SHARE_IDS:
        r = await alice.http.post(share_url(chat_id), json={"share_id": bad})
        assert r.status_code == 422, (bad, r.status_code, r.text)
        assert set(r.json()) >= {"detail", "code"}
    assert await get_share(alice, chat_id) == before


async def test_taken_share_id_is_409(alice: UserClient, bob: UserClient) -> None:
    await shared_chat(bob, share_id="team-notes")
    chat_id, _ = await shared_chat(alice)
    before = await get_share(alice, chat_id)
    for wanted in ("team-notes", "team notes", "team-notes!"):
        r = await alice.http.post(share_url(chat_id), json={"share_id": wanted})
        expect_error(r, 409, "SHARE_ID_TAKEN")
    assert await get_share(alice, chat_id) == before
    other_chat = await alice.new_conversation("second chat")
    r = await alice.http.post(share_url(other_chat), json={"share_id": "team-notes"})
    expect_error(r, 409, "SHARE_ID_TAKEN")
    expect_error(await alice.http.get(share_url(other_chat)), 404, "SHARE_NOT_FOUND")
    # Its own current id is not "taken".
    mine = await alice.share(chat_id, share_id="alice-notes")
    again = await alice.share(chat_id, share_id="alice-notes")
    assert again["share_id"] == mine["share_id"] == "alice-notes"


async def test_changing_share_id_kills_the_old_link_at_once(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    chat_id, first = await shared_chat(alice, share_id="first-link")
    await view(client, "first-link")
    second = await alice.share(chat_id, share_id="second-link")
    assert second["url"].endswith("/s/second-link")
    body = expect_error(await client.get(view_url("first-link")), 404, "SHARE_LINK_NOT_FOUND")
    assert body["detail"] == NOT_FOUND_DETAIL
    expect_error(await alice.http.get(view_url("first-link")), 404, "SHARE_LINK_NOT_FOUND")
    await view(client, "second-link")
    assert (await get_share(alice, chat_id))["views"] == 2
    # The freed id can be taken by another chat.
    other = await alice.new_conversation("other")
    assert (await alice.share(other, share_id="first-link"))["share_id"] == first["share_id"]


# --- 4. expiry -------------------------------------------------------------------------------

async def test_expiry_inputs_refused(alice: UserClient) -> None:
    chat_id, _ = await shared_chat(alice, expires_in=7200)
    before = await get_share(alice, chat_id)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for body in ({"expires_at": past}, {"expires_at": "2001-01-01T00:00:00Z"},
                 {"expires_at": future, "expires_in": 3600},
                 {"expires_at": "next tuesday"}, {"expires_at": "2030-13-01T00:00:00Z"},
                 {"expires_at": "2030-10-26T25:00:00Z"}, {"expires_at": ""}):
        r = await alice.http.post(share_url(chat_id), json=body)
        assert r.status_code == 422, (body, r.text)
        assert set(r.json()) >= {"detail", "code"}
    assert await get_share(alice, chat_id) == before


async def test_expires_in_sets_expires_at(alice: UserClient) -> None:
    _, share = await shared_chat(alice, expires_in=3600)
    expected = datetime.now(UTC) + timedelta(hours=1)
    assert abs(moment(share["expires_at"]) - expected) < timedelta(minutes=1)
    assert share["expiry_summary"].startswith("Expires on ")
    assert share["status"] == "active"


async def test_expiry_summary_sentence_and_removal(alice: UserClient) -> None:
    chat_id, share = await shared_chat(alice)
    assert share["expiry_summary"] == "Never expires"
    share = await alice.share(chat_id, expires_at="2030-10-26T17:00:00Z", max_views=100)
    assert moment(share["expires_at"]) == datetime(2030, 10, 26, 17, tzinfo=UTC)
    assert share["expiry_summary"] == (
        "Expires on 10/26/2030, 5:00:00 PM or after 100 views")
    share = await alice.share(chat_id, expires_at=None)
    assert share["expires_at"] is None
    assert share["expiry_summary"] == "Expires after 100 views"
    share = await alice.share(chat_id, max_views=0)
    assert share["expiry_summary"] == "Never expires"
    share = await alice.share(chat_id, expires_at="2030-01-02T09:05:03+00:00", max_views=1)
    assert share["expiry_summary"] == "Expires on 1/2/2030, 9:05:03 AM or after 1 view"
    assert (await get_share(alice, chat_id))["expiry_summary"] == share["expiry_summary"]


async def test_expires_at_with_offset_is_the_same_instant(alice: UserClient) -> None:
    chat_id, _ = await shared_chat(alice)
    share = await alice.share(chat_id, expires_at="2030-10-26T19:00:00+02:00")
    assert moment(share["expires_at"]) == datetime(2030, 10, 26, 17, tzinfo=UTC)
    again = await get_share(alice, chat_id)
    assert moment(again["expires_at"]) == moment(share["expires_at"])
    # The sentence is in UTC on both databases, whatever offset the owner sent.
    assert share["expiry_summary"] == again["expiry_summary"] == (
        "Expires on 10/26/2030, 5:00:00 PM")


# --- 5. limits ---------------------------------------------------------------------------------

async def test_view_limit_not_above_count_becomes_count_plus_one(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    chat_id, share = await shared_chat(alice)
    for _ in range(3):
        await view(client, share["share_id"])
    await view(alice.http, share["share_id"])  # the owner is never counted
    assert (await get_share(alice, chat_id))["views"] == 3
    assert (await alice.share(chat_id, max_views=2))["max_views"] == 4
    assert (await alice.share(chat_id, max_views=3))["max_views"] == 4
    assert (await alice.share(chat_id, max_views=1))["max_views"] == 4
    assert (await alice.share(chat_id, max_views=10))["max_views"] == 10
    unlimited = await alice.share(chat_id, max_views=0)
    assert unlimited["max_views"] == 0 and unlimited["status"] == "active"
    assert unlimited["expiry_summary"] == "Never expires"


async def test_clone_limit_not_above_count_becomes_count_plus_one(
    alice: UserClient, bob: UserClient
) -> None:
    chat_id, share = await shared_chat(alice)
    await clone(bob, share["share_id"])
    await clone(bob, share["share_id"])
    assert (await get_share(alice, chat_id))["clones"] == 2
    assert (await alice.share(chat_id, max_clones=1))["max_clones"] == 3
    assert (await alice.share(chat_id, max_clones=2))["max_clones"] == 3
    assert (await alice.share(chat_id, max_clones=5))["max_clones"] == 5
    unlimited = await alice.share(chat_id, max_clones=0)
    assert unlimited["max_clones"] == 0 and unlimited["status"] == "active"


# --- 6. password -------------------------------------------------------------------------------

async def test_password_set_change_remove(alice: UserClient, client: httpx.AsyncClient) -> None:
    chat_id, share = await shared_chat(alice, password="first secret")
    link = share["share_id"]
    assert share["has_password"] is True
    expect_error(await client.get(view_url(link)), 401, "PASSWORD_REQUIRED")

    r = await alice.http.post(share_url(chat_id), json={"password": "second secret"})
    expect_error(r, 422, "CURRENT_PASSWORD_REQUIRED")
    r = await alice.http.post(share_url(chat_id), json={"password": "second secret",
                                                        "current_password": ""})
    expect_error(r, 422, "CURRENT_PASSWORD_REQUIRED")
    r = await alice.http.post(share_url(chat_id), json={"password": "second secret",
                                                        "current_password": "wrong one"})
    expect_error(r, 403, "INVALID_CURRENT_PASSWORD")
    r = await alice.http.post(share_url(chat_id), json={"password": None})
    expect_error(r, 422, "CURRENT_PASSWORD_REQUIRED")
    r = await alice.http.post(share_url(chat_id), json={"password": ""})
    expect_error(r, 422)
    r = await client.post(f"{view_url(link)}/verify", json={"password": "first secret"})
    assert r.status_code == 200, r.text  # nothing above changed the password

    await view(client, link)  # unlocked by the cookie
    changed = await alice.share(chat_id, password="second secret",
                                current_password="first secret")
    assert changed["has_password"] is True
    expect_error(await client.get(view_url(link)), 401, "PASSWORD_REQUIRED")
    r = await client.post(f"{view_url(link)}/verify", json={"password": "first secret"})
    expect_error(r, 401, "INVALID_PASSWORD")
    r = await client.post(f"{view_url(link)}/verify", json={"password": "second secret"})
    assert r.status_code == 200, r.text

    removed = await alice.share(chat_id, password=None, current_password="second secret")
    assert removed["has_password"] is False
    client.cookies.clear()
    await view(client, link)


async def test_empty_password_refused_on_unprotected_share(alice: UserClient) -> None:
    chat_id, _ = await shared_chat(alice)
    expect_error(await alice.http.post(share_url(chat_id), json={"password": ""}), 422)
    assert (await get_share(alice, chat_id))["has_password"] is False
    added = await alice.share(chat_id, password="now set")  # no current password yet: none needed
    assert added["has_password"] is True


# --- 7. checkpoint -----------------------------------------------------------------------------

async def test_upto_message_id_limits_the_snapshot(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    chat_id = await alice.new_conversation("one", "two", "three")
    messages = await chat_messages(alice, chat_id)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    share = await alice.share(chat_id, upto_message_id=messages[3]["id"])
    assert share["upto_message_id"] == messages[3]["id"]
    assert texts(await view(client, share["share_id"])) == ["one", "Echo: one", "two",
                                                            "Echo: two"]
    share = await alice.share(chat_id, upto_message_id=messages[0]["id"])
    assert texts(await view(client, share["share_id"])) == ["one"]
    share = await alice.share(chat_id, upto_message_id=None)
    assert share["upto_message_id"] is None
    assert len(texts(await view(client, share["share_id"]))) == 6

    other_chat = await alice.new_conversation("another chat")
    bob_chat = await bob.new_conversation("bob's chat")
    before = await get_share(alice, chat_id)
    for foreign in ((await chat_messages(alice, other_chat))[0]["id"],
                    (await chat_messages(bob, bob_chat))[1]["id"], "no-such-message"):
        r = await alice.http.post(share_url(chat_id), json={"upto_message_id": foreign})
        expect_error(r, 422)
    assert await get_share(alice, chat_id) == before


# --- 8. snapshot and live ----------------------------------------------------------------------

async def test_snapshot_update_and_live(alice: UserClient, client: httpx.AsyncClient) -> None:
    chat_id, share = await shared_chat(alice, "first turn")
    link = share["share_id"]
    await alice.chat("added later", conversation_id=chat_id)
    assert "added later" not in texts(await view(client, link))
    share = await alice.share(chat_id, update_snapshot=True)
    assert share["type"] == "snapshot"
    assert texts(await view(client, link))[-2:] == ["added later", "Echo: added later"]

    share = await alice.share(chat_id, live=True)
    assert share["type"] == "live" and share["live"] is True
    await alice.chat("live turn", conversation_id=chat_id)
    assert texts(await view(client, link))[-2:] == ["live turn", "Echo: live turn"]

    share = await alice.share(chat_id, live=False)
    assert share["type"] == "snapshot" and share["live"] is False
    await alice.chat("after freezing", conversation_id=chat_id)
    frozen = texts(await view(client, link))
    assert frozen[-2:] == ["live turn", "Echo: live turn"]
    assert "after freezing" not in frozen
    assert share["share_id"] == link


# --- 9. management routes ----------------------------------------------------------------------

async def test_revoke_restore_rotate_reset(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    chat_id, share = await shared_chat(alice)
    link = share["share_id"]
    await view(client, link)
    await view(bob.http, link)

    r = await alice.http.delete(share_url(chat_id))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "revoked" and r.json()["share_id"] == link
    for viewer in (client, bob.http):
        body = expect_error(await viewer.get(view_url(link)), 410, "SHARE_LINK_REVOKED")
        assert body["detail"] == REVOKED_DETAIL
    await view(alice.http, link)  # the owner still sees it
    assert (await get_share(alice, chat_id))["status"] == "revoked"

    r = await alice.http.post(f"{share_url(chat_id)}/restore")
    assert r.status_code == 200 and r.json()["status"] == "active"
    await view(client, link)
    assert (await get_share(alice, chat_id))["views"] == 3

    r = await alice.http.post(f"/api/v1/chats/{chat_id}/reset_stats")
    assert r.status_code == 200
    assert (r.json()["views"], r.json()["clones"]) == (0, 0)
    assert (await get_share(alice, chat_id))["views"] == 0

    r = await alice.http.post(f"{share_url(chat_id)}/rotate")
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert RANDOM_ID.match(rotated["share_id"]) and rotated["share_id"] != link
    assert rotated["url"].endswith(f"/s/{rotated['share_id']}")
    expect_error(await client.get(view_url(link)), 404, "SHARE_LINK_NOT_FOUND")
    await view(client, rotated["share_id"])
    assert (await get_share(alice, chat_id))["share_id"] == rotated["share_id"]


async def test_restore_removes_the_limit_that_ended_the_link(
    app: Any, alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    by_views, share = await shared_chat(alice, max_views=1)
    await view(client, share["share_id"])
    body = expect_error(await client.get(view_url(share["share_id"])), 410, "SHARE_LINK_EXPIRED")
    assert body["detail"] == EXPIRED_DETAIL
    assert (await get_share(alice, by_views))["status"] == "expired"
    restored = (await alice.http.post(f"{share_url(by_views)}/restore")).json()
    assert restored["status"] == "active" and restored["max_views"] == 0
    await view(client, share["share_id"])

    by_clones, cshare = await shared_chat(alice, "clone me", max_clones=1)
    await clone(bob, cshare["share_id"])
    assert (await get_share(alice, by_clones))["status"] == "revoked"
    restored = (await alice.http.post(f"{share_url(by_clones)}/restore")).json()
    assert restored["status"] == "active" and restored["max_clones"] == 0
    await clone(bob, cshare["share_id"])

    by_hand, hshare = await shared_chat(alice, "revoked by hand", expires_in=3 * 3600,
                                        max_views=50)
    await alice.http.delete(share_url(by_hand))
    restored = (await alice.http.post(f"{share_url(by_hand)}/restore")).json()
    assert restored["status"] == "active"
    assert restored["max_views"] == 50 and restored["expires_at"] == hshare["expires_at"]

    by_time, tshare = await shared_chat(alice, "short lived", expires_in=60)
    move_clock(app, timedelta(minutes=2))
    assert (await get_share(alice, by_time))["status"] == "expired"
    expect_error(await client.get(view_url(tshare["share_id"])), 410, "SHARE_LINK_EXPIRED")
    restored = (await alice.http.post(f"{share_url(by_time)}/restore")).json()
    assert restored["status"] == "active" and restored["expires_at"] is None
    assert restored["expiry_summary"] == "Never expires"
    await view(client, tshare["share_id"])
    # The manually revoked one keeps its (still future) expiry two minutes later.
    assert (await get_share(alice, by_hand))["expires_at"] == hshare["expires_at"]


async def test_management_routes_on_unshared_chat_are_404(alice: UserClient) -> None:
    chat_id = await alice.new_conversation("never shared")
    calls = [("GET", share_url(chat_id)), ("DELETE", share_url(chat_id)),
             ("POST", f"{share_url(chat_id)}/restore"), ("POST", f"{share_url(chat_id)}/rotate"),
             ("POST", f"/api/v1/chats/{chat_id}/reset_stats")]
    for method, url in calls:
        expect_error(await alice.http.request(method, url), 404, "SHARE_NOT_FOUND")
    for method, url in calls:
        url = url.replace(chat_id, "no-such-chat")
        body = expect_error(await alice.http.request(method, url), 404)
        assert body["code"] != "SHARE_NOT_FOUND"
    expect_error(await alice.http.post(share_url("no-such-chat"), json={}), 404)
    expect_error(await alice.http.get(share_url(chat_id)), 404, "SHARE_NOT_FOUND")


# --- 10. another user's attempts -----------------------------------------------------------------

async def test_other_users_attempts_are_404_and_change_nothing(
    alice: UserClient, bob: UserClient
) -> None:
    chat_id, share = await shared_chat(alice, share_id="alice-private", password="alice pw",
                                       max_views=9, display_username=True)
    link = share["share_id"]
    before = await get_share(alice, chat_id)
    missing = await bob.http.get(share_url("no-such-chat"))
    attempts = [
        ("POST", share_url(chat_id), {}),
        ("POST", share_url(chat_id), {"is_public": False, "max_views": 0}),
        ("POST", share_url(chat_id), {"password": None, "current_password": "alice pw"}),
        ("GET", share_url(chat_id), None),
        ("DELETE", share_url(chat_id), None),
        ("POST", f"{share_url(chat_id)}/restore", None),
        ("POST", f"{share_url(chat_id)}/rotate", None),
        ("POST", f"/api/v1/chats/{chat_id}/reset_stats", None),
        ("POST", "/api/chat/share", {"conversation_id": chat_id}),
    ]
    for method, url, body in attempts:
        r = await bob.http.request(method, url, json=body)
        assert r.status_code == 404, (method, url, r.status_code, r.text)
        # Exactly what a chat that does not exist answers: nothing reveals alice's chat.
        assert r.json() == missing.json(), (method, url, r.text)
    r = await bob.http.delete("/api/chat/share", params={"public_conversation_slug": link})
    expect_error(r, 404)
    for action in ("revoke", "reset_stats"):
        r = await bob.http.post("/api/v1/chats/shared/bulk",
                                json={"action": action, "chat_ids": [chat_id]})
        assert r.status_code == 200 and r.json()["updated"] == 0, r.text
    for url, confirm in (("/api/v1/chats/shared/all", "REVOKE"),
                         ("/api/v1/chats/shared/revoked", "CLEAR")):
        r = await bob.http.request("DELETE", url, json={"confirm": confirm})
        assert r.status_code == 200, r.text
    r = await bob.http.post("/api/v1/chats/shared/all/reset_stats", json={"confirm": "RESET"})
    assert r.status_code == 200
    assert (await bob.http.get("/api/v1/chats/shared")).json()["total"] == 0
    assert await get_share(alice, chat_id) == before


async def test_anonymous_management_is_401(alice: UserClient, client: httpx.AsyncClient) -> None:
    chat_id, share = await shared_chat(alice)
    before = await get_share(alice, chat_id)
    calls = [
        ("POST", share_url(chat_id), {}), ("GET", share_url(chat_id), None),
        ("DELETE", share_url(chat_id), None), ("POST", f"{share_url(chat_id)}/restore", None),
        ("POST", f"{share_url(chat_id)}/rotate", None),
        ("POST", f"/api/v1/chats/{chat_id}/reset_stats", None),
        ("POST", "/api/v1/chats/shared/bulk", {"action": "revoke", "chat_ids": [chat_id]}),
        ("POST", "/api/chat/share", {"conversation_id": chat_id}),
        ("POST", "/api/chat/share/fork", {"public_conversation_slug": share["share_id"]}),
        ("DELETE", f"/api/chat/share?public_conversation_slug={share['share_id']}", None),
        ("POST", f"/api/v1/chats/{share['share_id']}/clone/shared", None),
    ]
    for method, url, body in calls:
        r = await client.request(method, url, json=body)
        assert r.status_code == 401, (method, url, r.status_code, r.text)
        assert set(r.json()) >= {"detail", "code"}
    assert await get_share(alice, chat_id) == before


# --- 11. permissions ---------------------------------------------------------------------------

@pytest.mark.parametrize("settings_overrides", [{"user_permissions_chat_share": False}])
async def test_sharing_permission_off_refuses_sharing(alice: UserClient, bob: UserClient) -> None:
    for user in (alice, bob):
        chat_id = await user.new_conversation("can I share?")
        r = await user.http.post(share_url(chat_id), json={})
        expect_error(r, 403, "SHARING_DISABLED")
        r = await user.http.post("/api/chat/share", json={"conversation_id": chat_id})
        expect_error(r, 403, "SHARING_DISABLED")
        expect_error(await user.http.get(share_url(chat_id)), 404, "SHARE_NOT_FOUND")


@pytest.mark.parametrize("settings_overrides", [{"user_permissions_sharing_public_chat": False}])
async def test_public_permission_off_gives_logged_in_only_links(
    bob: UserClient, make_user: Any, client: httpx.AsyncClient
) -> None:
    carol = await make_user(name="Carol")
    chat_id, share = await shared_chat(bob)
    assert share["is_public"] is False
    r = await bob.http.post(share_url(chat_id), json={"is_public": True})
    expect_error(r, 403, "PUBLIC_SHARING_DISABLED")
    other = await bob.new_conversation("other")
    r = await bob.http.post(share_url(other), json={"is_public": True})
    expect_error(r, 403, "PUBLIC_SHARING_DISABLED")
    expect_error(await bob.http.get(share_url(other)), 404, "SHARE_NOT_FOUND")
    expect_error(await client.get(view_url(share["share_id"])), 401, "LOGIN_REQUIRED")
    await view(carol.http, share["share_id"])
    assert (await get_share(bob, chat_id))["is_public"] is False


async def test_admin_removing_public_permission_makes_shares_logged_in_only(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    first, s1 = await shared_chat(bob, "one")
    second, s2 = await shared_chat(bob, "two", max_views=100)
    await view(client, s1["share_id"])
    alice_chat, alice_share = await shared_chat(alice, "alice's public one")

    r = await alice.http.post(f"/api/v1/users/{bob.id}/update",
                              json={"permissions": {"sharing_public_chat": False}})
    assert r.status_code == 200, r.text
    for chat_id, share in ((first, s1), (second, s2)):
        now = await get_share(bob, chat_id)
        assert now["is_public"] is False and now["status"] == "active"
        assert now["share_id"] == share["share_id"]
        body = expect_error(await client.get(view_url(share["share_id"])), 401,
                            "LOGIN_REQUIRED")
        assert body["detail"]
        await view(alice.http, share["share_id"])
    r = await bob.http.post(share_url(first), json={"is_public": True})
    expect_error(r, 403, "PUBLIC_SHARING_DISABLED")
    assert (await bob.share(first, display_username=True))["is_public"] is False
    # Other users' shares are untouched.
    assert (await get_share(alice, alice_chat))["is_public"] is True
    await view(client, alice_share["share_id"])


async def test_admin_removing_share_permission_stops_that_user(
    alice: UserClient, bob: UserClient
) -> None:
    chat_id = await bob.new_conversation("bob wants to share")
    r = await alice.http.post(f"/api/v1/users/{bob.id}/update",
                              json={"permissions": {"chat_share": False}})
    assert r.status_code == 200, r.text
    expect_error(await bob.http.post(share_url(chat_id), json={}), 403, "SHARING_DISABLED")
    expect_error(await bob.http.get(share_url(chat_id)), 404, "SHARE_NOT_FOUND")
    await shared_chat(alice)  # alice is not affected


async def test_instance_sharing_switch(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    chat_id, share = await shared_chat(alice)
    link = share["share_id"]
    bob_chat = await bob.new_conversation("bob's")
    r = await alice.http.get("/api/v1/auths/admin/config")
    assert r.status_code == 200 and r.json()["ENABLE_SHARING"] is True

    r = await alice.http.post("/api/v1/auths/admin/config", json={"ENABLE_SHARING": False})
    assert r.status_code == 200 and r.json()["ENABLE_SHARING"] is False
    assert (await alice.http.get("/api/v1/auths/admin/config")).json()["ENABLE_SHARING"] is False
    for viewer in (client, bob.http, alice.http):
        expect_error(await viewer.get(view_url(link)), 403, "SHARING_DISABLED")
    expect_error(await bob.http.post(share_url(bob_chat), json={}), 403, "SHARING_DISABLED")
    expect_error(await alice.http.post(share_url(chat_id), json={"live": True}), 403,
                 "SHARING_DISABLED")
    assert (await get_share(alice, chat_id))["live"] is False  # nothing deleted or changed

    r = await alice.http.post("/api/v1/auths/admin/config", json={"ENABLE_SHARING": True})
    assert r.status_code == 200 and r.json()["ENABLE_SHARING"] is True
    await view(client, link)
    await bob.share(bob_chat)


async def test_instance_switch_needs_admin_and_a_valid_body(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    url = "/api/v1/auths/admin/config"
    expect_error(await bob.http.post(url, json={"ENABLE_SHARING": False}), 403)
    expect_error(await bob.http.get(url), 403)
    expect_error(await client.post(url, json={"ENABLE_SHARING": False}), 401)
    expect_error(await client.get(url), 401)
    for body in ({}, {"ENABLE_SHARING": "false"}, {"ENABLE_SHARING": 0},
                 {"ENABLE_SHARING": None}, {"ENABLE_SHARING": False, "ENABLE_SIGNUP": False},
                 []):
        r = await alice.http.post(url, json=body)
        assert r.status_code == 422, (body, r.text)
        assert set(r.json()) >= {"detail", "code"}
    assert (await alice.http.get(url)).json()["ENABLE_SHARING"] is True
    _, share = await shared_chat(bob)
    await view(client, share["share_id"])


# --- 12. Khoj shapes -----------------------------------------------------------------------------

async def test_khoj_share_returns_the_same_link(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    chat_id = await alice.new_conversation("khoj style")
    r = await alice.http.post("/api/chat/share", json={"conversation_id": chat_id})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"status", "url"} and body["status"] == "ok"
    share = await get_share(alice, chat_id)
    assert body["url"] == share["url"]
    again = (await alice.http.post("/api/chat/share", json={"conversation_id": chat_id})).json()
    assert again == body
    assert (await alice.share(chat_id))["url"] == body["url"]

    await alice.http.delete(share_url(chat_id))
    expect_error(await client.get(view_url(share["share_id"])), 410, "SHARE_LINK_REVOKED")
    r = await alice.http.post("/api/chat/share", json={"conversation_id": chat_id})
    assert r.json() == body
    await view(client, share["share_id"])

    bob_chat = await bob.new_conversation("bob's")
    for conversation_id in ("no-such-conversation", bob_chat):
        r = await alice.http.post("/api/chat/share", json={"conversation_id": conversation_id})
        expect_error(r, 404)
    expect_error(await bob.http.get(share_url(bob_chat)), 404, "SHARE_NOT_FOUND")
    for bad in ({}, {"conversation_id": 5}, {"conversation_id": chat_id, "x": 1}):
        expect_error(await alice.http.post("/api/chat/share", json=bad), 422)


async def test_khoj_fork_and_unshare(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    chat_id, share = await shared_chat(alice, "fork me", "and me")
    link = share["share_id"]
    r = await bob.http.post("/api/chat/share/fork", json={"public_conversation_slug": link})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    forked = body["conversation_id"]
    assert forked and forked != chat_id
    listed = (await bob.http.get("/api/v1/chats/")).json()
    assert forked in [c["id"] for c in listed]
    assert [m["content"] for m in await chat_messages(bob, forked)] == [
        "fork me", "Echo: fork me", "and me", "Echo: and me"]
    expect_error(await alice.http.get(f"/api/v1/chats/{forked}"), 404)
    assert (await get_share(alice, chat_id))["clones"] == 1
    r = await bob.http.post("/api/chat/share/fork",
                            json={"public_conversation_slug": "no-such-link"})
    expect_error(r, 404, "SHARE_LINK_NOT_FOUND")

    r = await alice.http.delete("/api/chat/share", params={"public_conversation_slug": link})
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    body = expect_error(await client.get(view_url(link)), 410, "SHARE_LINK_REVOKED")
    assert body["detail"] == REVOKED_DETAIL
    assert (await get_share(alice, chat_id))["status"] == "revoked"
    r = await bob.http.post("/api/chat/share/fork", json={"public_conversation_slug": link})
    expect_error(r, 410, "SHARE_LINK_REVOKED")
    r = await alice.http.delete("/api/chat/share",
                                params={"public_conversation_slug": "no-such-link"})
    expect_error(r, 404)
    expect_error(await alice.http.delete("/api/chat/share"), 422)
    assert len(await chat_messages(bob, forked)) == 4  # the fork stays bob's


# --- 13. deleting the conversation -------------------------------------------------------------

async def test_deleting_the_conversation_deletes_the_share_but_not_clones(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    chat_id, share = await shared_chat(alice, "soon gone")
    link = share["share_id"]
    cloned = await clone(bob, link)
    r = await alice.http.delete(f"/api/v1/chats/{chat_id}")
    assert r.status_code == 200, r.text
    for viewer in (client, bob.http, alice.http):
        body = expect_error(await viewer.get(view_url(link)), 404, "SHARE_LINK_NOT_FOUND")
        assert body["detail"] == NOT_FOUND_DETAIL
    expect_error(await alice.http.get(share_url(chat_id)), 404)
    assert (await alice.http.get("/api/v1/chats/shared")).json()["total"] == 0
    assert [m["content"] for m in await chat_messages(bob, cloned)] == [
        "soon gone", "Echo: soon gone"]
    assert cloned in [c["id"] for c in (await bob.http.get("/api/v1/chats/")).json()]
    # The freed link id is not resurrected for anyone: a new share gets a new random id.
    again = await alice.new_conversation("new chat")
    assert (await alice.share(again))["share_id"] != link

