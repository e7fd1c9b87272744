"""The viewer's side of sharing through HTTP: what a shared chat shows (and never shows), the
refusals in the spec's order and words, counting, passwords and their unlocks, the share's files,
privacy headers, cloning, and snapshot versus live. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from salon.services.share_viewing import unlock_cookie_name
from tests.factories import UserClient

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()

SHARE = "/api/v1/chats/share"
UNLOCK = "X-Share-Unlock"

# The spec's words, written out here so a change to them is noticed.
NOT_FOUND_TEXT = ("Oops! The shared link you're trying to access doesn't exist. It might have "
                  "been deleted or there might be a typo in the URL.")
REVOKED_TEXT = "The owner of this chat has revoked this sharing link."
EXPIRED_TEXT = "This shared link has expired and is no longer accessible."

VIEW_KEYS = {"id", "share_id", "title", "type", "status", "created_at", "updated_at",
             "messages", "files", "files_zip_url", "owner", "recipe", "can_clone", "is_owner",
             "chat"}
MESSAGE_KEYS = {"role", "created_at", "model", "status", "parts"}
FILE_KEYS = {"name", "media_type", "size", "url"}


# --- helpers --------------------------------------------------------------------------------------

@pytest.fixture
async def stranger(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A second anonymous client, with its own cookie jar."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def carol(make_user: Any) -> UserClient:
    user: UserClient = await make_user(name="Carol", email="carol@example.com")
    return user


async def view(http: httpx.AsyncClient, share_id: str, **kwargs: Any) -> httpx.Response:
    return await http.get(f"{SHARE}/{share_id}", **kwargs)


async def view_ok(http: httpx.AsyncClient, share_id: str, **kwargs: Any) -> dict[str, Any]:
    r = await view(http, share_id, **kwargs)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def verify(http: httpx.AsyncClient, share_id: str, password: Any) -> httpx.Response:
    return await http.post(f"{SHARE}/{share_id}/verify", json={"password": password})


async def unlock(http: httpx.AsyncClient, share_id: str, password: str) -> str:
    r = await verify(http, share_id, password)
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


def assert_refused(r: httpx.Response, status: int, code: str, detail: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code, body
    if detail is not None:
        assert body["detail"] == detail


async def owner_share(user: UserClient, chat_id: str) -> dict[str, Any]:
    r = await user.http.get(f"/api/v1/chats/{chat_id}/share")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def get_chat(user: UserClient, chat_id: str) -> dict[str, Any]:
    r = await user.http.get(f"/api/v1/chats/{chat_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def revoke(user: UserClient, chat_id: str) -> None:
    r = await user.http.delete(f"/api/v1/chats/{chat_id}/share")
    assert r.status_code == 200, r.text


def move_clock(app: Any, seconds: float) -> None:
    """Stop the app's clock ``seconds`` from now."""
    ctx = app.state.ctx
    moment = ctx.now() + timedelta(seconds=seconds)
    ctx.clock = lambda: moment


async def chat_with_files(user: UserClient, *files: tuple[str, str], image: bool = True,
                          q: str = "look at these") -> str:
    """A one-turn chat whose question carries ``files`` (name, content) and maybe an image."""
    fields: dict[str, Any] = {"files": [{"name": n, "content": c} for n, c in files]}
    if image:
        fields["images"] = [PNG_URL]
    body = await user.chat(q, **fields)
    cid: str = body["conversationId"]
    return cid


async def shared_chat(user: UserClient, *turns: str, **options: Any) -> tuple[str, str]:
    """A chat with ``turns`` shared with ``options``: (chat id, share id)."""
    cid = await user.new_conversation(*(turns or ("hello there",)))
    share_id: str = (await user.share(cid, **options))["share_id"]
    return cid, share_id


def file_ids(chat: dict[str, Any]) -> list[str]:
    return [p["file_id"] for m in chat["chat"]["messages"] for p in m["parts"] if "file_id" in p]


# --- 1. what a viewer gets, and what never leaks --------------------------------------------------

async def test_viewer_json_shape(alice: UserClient, client: httpx.AsyncClient) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"))
    share = await alice.share(cid)
    body = await view_ok(client, share["share_id"])
    assert set(body) == VIEW_KEYS
    assert body["share_id"] == share["share_id"]
    assert body["title"] == share["title"]
    assert body["type"] == "snapshot" and body["status"] == "active"
    assert body["is_owner"] is False
    for moment in (body["created_at"], body["updated_at"]):
        assert datetime.fromisoformat(moment).tzinfo is not None
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"]
    for message in body["messages"]:
        assert set(message) == MESSAGE_KEYS
    assert body["messages"][1]["model"] == "fake-model"
    [answer] = body["messages"][1]["parts"]
    assert answer["type"] == "text" and answer["text"].startswith("Echo: ")
    assert body["messages"][0]["parts"][0] == {"type": "text", "text": "look at these"}


async def test_viewer_json_leaks_nothing_internal(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, app: Any,
    engine: AsyncEngine,
) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"))
    await alice.chat("second turn", conversation_id=cid)
    share = await alice.share(cid, display_username=True)
    owner_chat = await get_chat(alice, cid)
    async with engine.connect() as conn:
        share_pk = (await conn.execute(sa.text("SELECT id FROM shares"))).scalar_one()
        hashes = (await conn.execute(sa.text("SELECT sha256 FROM files"))).scalars().all()
    secrets = [alice.id, alice.email, cid, share_pk, str(app.state.ctx.settings.data_dir),
               *[m["id"] for m in owner_chat["chat"]["messages"]],
               *[m["turn_id"] for m in owner_chat["chat"]["messages"] if m["turn_id"]],
               *file_ids(owner_chat), *hashes]
    assert len(secrets) > 10
    for http, owner in ((client, None), (bob.http, {"name": "Alice"})):
        r = await view(http, share["share_id"])
        assert r.status_code == 200, r.text
        for secret in secrets:
            assert secret not in r.text, secret
        for word in ("sha256", "source", "user_id", "chat_id", "conversation_id", "email",
                     "password", "turn_id", "usage"):
            assert word not in r.text, word
        assert r.json()["owner"] == owner
        assert len(r.json()["files"]) == 2


# --- 2. refusals, in the spec's order and words ---------------------------------------------------

async def test_unknown_link_is_not_found(client: httpx.AsyncClient, bob: UserClient) -> None:
    for http in (client, bob.http):
        assert_refused(await view(http, "no-such-link"), 404, "SHARE_LINK_NOT_FOUND",
                       NOT_FOUND_TEXT)


async def test_revoked_link(alice: UserClient, client: httpx.AsyncClient,
                            bob: UserClient) -> None:
    cid, link = await shared_chat(alice)
    await view_ok(client, link)
    await revoke(alice, cid)
    for http in (client, bob.http):
        assert_refused(await view(http, link), 410, "SHARE_LINK_REVOKED", REVOKED_TEXT)


async def test_expired_by_time(alice: UserClient, client: httpx.AsyncClient, app: Any) -> None:
    move_clock(app, 0)  # stopped, so "59 seconds later" is exact
    _, link = await shared_chat(alice, expires_in=60)
    move_clock(app, 59)
    await view_ok(client, link)
    move_clock(app, 2)
    assert_refused(await view(client, link), 410, "SHARE_LINK_EXPIRED", EXPIRED_TEXT)


async def test_expired_after_one_second(alice: UserClient, client: httpx.AsyncClient,
                                        app: Any) -> None:
    _, link = await shared_chat(alice, expires_in=1)
    move_clock(app, 1)
    assert_refused(await view(client, link), 410, "SHARE_LINK_EXPIRED", EXPIRED_TEXT)


async def test_expired_by_views(alice: UserClient, bob: UserClient,
                                client: httpx.AsyncClient) -> None:
    cid, link = await shared_chat(alice, max_views=2)
    await view_ok(client, link)
    await view_ok(bob.http, link)
    for http in (client, bob.http):
        assert_refused(await view(http, link), 410, "SHARE_LINK_EXPIRED", EXPIRED_TEXT)
    assert (await owner_share(alice, cid))["views"] == 2


async def test_revoked_and_expired_says_revoked(alice: UserClient, client: httpx.AsyncClient,
                                                app: Any) -> None:
    cid, link = await shared_chat(alice, expires_in=60, max_views=1)
    await view_ok(client, link)  # the views are used up too
    await revoke(alice, cid)
    move_clock(app, 120)
    assert_refused(await view(client, link), 410, "SHARE_LINK_REVOKED", REVOKED_TEXT)


async def test_logged_in_only_link(alice: UserClient, bob: UserClient,
                                   client: httpx.AsyncClient) -> None:
    _, link = await shared_chat(alice, is_public=False)
    assert_refused(await view(client, link), 401, "LOGIN_REQUIRED")
    body = await view_ok(bob.http, link)
    assert body["share_id"] == link and body["is_owner"] is False


async def test_password_required_before_unlock(alice: UserClient, bob: UserClient,
                                               client: httpx.AsyncClient) -> None:
    _, link = await shared_chat(alice, password="open sesame")
    for http in (client, bob.http):
        r = await view(http, link)
        assert_refused(r, 401, "PASSWORD_REQUIRED")
        assert "messages" not in r.json() and "title" not in r.json()


# (options, revoked, expected code): every link has a password; the clock then passes the
# expiry of those that have one.
REFUSAL_ORDER = [
    ({"is_public": False}, False, "LOGIN_REQUIRED"),
    ({"is_public": False}, True, "SHARE_LINK_REVOKED"),
    ({"is_public": False, "expires_in": 60}, False, "SHARE_LINK_EXPIRED"),
    ({"expires_in": 60}, False, "SHARE_LINK_EXPIRED"),
    ({"expires_in": 60}, True, "SHARE_LINK_REVOKED"),
    ({"is_public": False, "expires_in": 60, "max_views": 1}, True, "SHARE_LINK_REVOKED"),
    ({}, False, "PASSWORD_REQUIRED"),
]


async def test_refusal_order_for_anonymous(alice: UserClient, client: httpx.AsyncClient,
                                           app: Any) -> None:
    links = []
    for n, (options, revoked, _) in enumerate(REFUSAL_ORDER):
        cid, link = await shared_chat(alice, f"case {n}", password="pw", **options)
        if revoked:
            await revoke(alice, cid)
        links.append(link)
    move_clock(app, 61)
    for link, (_, _, code) in zip(links, REFUSAL_ORDER, strict=True):
        r = await view(client, link)
        assert r.status_code == (410 if code.startswith("SHARE_LINK") else 401), r.text
        assert r.json()["code"] == code


# --- 3. the owner, and counting -------------------------------------------------------------------

async def test_owner_always_sees_own_share_and_is_never_counted(
    alice: UserClient, app: Any
) -> None:
    cid, link = await shared_chat(alice, password="pw", is_public=False, max_views=1,
                                  expires_in=60)
    for _ in range(3):
        body = await view_ok(alice.http, link)
        assert body["is_owner"] is True and body["status"] == "active"
        assert body["recipe"] is not None and body["can_clone"] is True
    assert (await owner_share(alice, cid))["views"] == 0
    move_clock(app, 120)
    assert (await view_ok(alice.http, link))["status"] == "expired"
    await revoke(alice, cid)
    assert (await view_ok(alice.http, link))["status"] == "revoked"
    assert (await owner_share(alice, cid))["views"] == 0


async def test_viewers_are_counted(alice: UserClient, bob: UserClient,
                                   client: httpx.AsyncClient) -> None:
    cid, link = await shared_chat(alice)
    await view_ok(bob.http, link)
    await view_ok(bob.http, link)
    await view_ok(client, link)
    await view_ok(alice.http, link)
    assert (await owner_share(alice, cid))["views"] == 3


async def test_failed_passwords_and_refusals_do_not_count(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, password="pw", is_public=False)
    assert_refused(await view(client, link), 401, "LOGIN_REQUIRED")
    assert_refused(await view(bob.http, link), 401, "PASSWORD_REQUIRED")
    assert_refused(await verify(bob.http, link, "wrong"), 401, "INVALID_PASSWORD")
    assert_refused(await view(bob.http, link, headers={UNLOCK: "1.bogus"}), 401,
                   "PASSWORD_REQUIRED")
    assert (await owner_share(alice, cid))["views"] == 0
    token = await unlock(bob.http, link, "pw")
    assert (await owner_share(alice, cid))["views"] == 0  # unlocking is not viewing
    await view_ok(bob.http, link, headers={UNLOCK: token})
    assert (await owner_share(alice, cid))["views"] == 1


async def test_refusal_after_view_limit_does_not_count(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, max_views=1)
    await view_ok(client, link)
    for _ in range(3):
        assert_refused(await view(client, link), 410, "SHARE_LINK_EXPIRED")
    assert (await owner_share(alice, cid))["views"] == 1


# --- 4. owner name, recipe, can_clone -------------------------------------------------------------

async def test_owner_name_only_for_logged_in_viewers(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, display_username=True)
    assert (await view_ok(client, link))["owner"] is None
    assert (await view_ok(bob.http, link))["owner"] == {"name": "Alice"}
    await alice.share(cid, display_username=False)
    assert (await view_ok(bob.http, link))["owner"] is None


async def test_recipe_only_for_logged_in_viewers(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    _, link = await shared_chat(alice)
    assert (await view_ok(client, link))["recipe"] is None
    recipe = (await view_ok(bob.http, link))["recipe"]
    assert recipe["model"] == "fake-model"


async def test_can_clone_per_viewer_and_option(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice)
    assert (await view_ok(client, link))["can_clone"] is False
    assert (await view_ok(bob.http, link))["can_clone"] is True
    await alice.share(cid, allow_cloning=False)
    assert (await view_ok(bob.http, link))["can_clone"] is False
    assert (await view_ok(client, link))["can_clone"] is False


# --- 5. passwords and unlocks ---------------------------------------------------------------------

async def test_wrong_password(alice: UserClient, client: httpx.AsyncClient) -> None:
    _, link = await shared_chat(alice, password="open sesame")
    r = await verify(client, link, "open sesame!")
    assert_refused(r, 401, "INVALID_PASSWORD")
    assert "set-cookie" not in r.headers
    assert_refused(await view(client, link), 401, "PASSWORD_REQUIRED")


async def test_right_password_sets_cookie_that_unlocks(
    alice: UserClient, client: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    _, link = await shared_chat(alice, password="open sesame")
    r = await verify(client, link, "open sesame")
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    assert r.json()["share_id"] == link and token
    cookies = [c for c in r.headers.get_list("set-cookie") if f"={token};" in c]
    assert len(cookies) == 1
    attributes = [a.strip().lower() for a in cookies[0].split(";")]
    assert "httponly" in attributes and "path=/" in attributes
    body = await view_ok(client, link)  # the cookie, same client
    assert body["messages"]
    assert_refused(await view(stranger, link), 401, "PASSWORD_REQUIRED")


async def test_token_header_unlocks_from_another_client(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    _, link = await shared_chat(alice, password="open sesame")
    token = await unlock(client, link, "open sesame")
    await view_ok(stranger, link, headers={UNLOCK: token})
    await view_ok(bob.http, link, headers={UNLOCK: token})
    assert_refused(await view(stranger, link), 401, "PASSWORD_REQUIRED")


BAD_TOKENS = ["", "x", "1.abc", "9999999999.abc", "9999999999." + "A" * 43, "a" * 500,
              "not.a.token"]


async def test_bad_unlock_tokens_are_refused(alice: UserClient,
                                             stranger: httpx.AsyncClient) -> None:
    cid, link = await shared_chat(alice, password="open sesame")
    for bad in BAD_TOKENS:
        assert_refused(await view(stranger, link, headers={UNLOCK: bad}), 401,
                       "PASSWORD_REQUIRED")
    assert (await owner_share(alice, cid))["views"] == 0


@pytest.mark.parametrize("bad", ["²³.abc", "9999999999.é", "１２.abc"])
async def test_unlock_tokens_with_other_digits_or_letters_are_refused_not_an_error(
    alice: UserClient, stranger: httpx.AsyncClient, bad: str
) -> None:
    """Header bytes arrive as Latin-1 text: digits ``int`` cannot read and letters
    ``hmac.compare_digest`` refuses must be an ordinary refusal."""
    _, link = await shared_chat(alice, password="open sesame")
    for headers in ({UNLOCK: bad.encode("latin-1", "replace")},
                    {"Cookie": f"{unlock_cookie_name(link)}=".encode()
                     + bad.encode("latin-1", "replace")}):
        assert_refused(await view(stranger, link, headers=headers), 401, "PASSWORD_REQUIRED")


async def test_unlock_is_scoped_to_one_share(
    alice: UserClient, client: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    _, link_a = await shared_chat(alice, "chat a", password="same password")
    _, link_b = await shared_chat(alice, "chat b", password="same password")
    r = await verify(client, link_a, "same password")
    token_a = r.json()["token"]
    await view_ok(client, link_a)
    assert_refused(await view(client, link_b), 401, "PASSWORD_REQUIRED")  # A's cookie
    assert_refused(await view(stranger, link_b, headers={UNLOCK: token_a}), 401,
                   "PASSWORD_REQUIRED")
    r_b = await verify(stranger, link_b, "same password")
    token_b = r_b.json()["token"]
    assert token_b != token_a
    name_a = r.headers["set-cookie"].split("=", 1)[0]
    name_b = r_b.headers["set-cookie"].split("=", 1)[0]
    assert name_a != name_b  # one cookie per share
    await view_ok(stranger, link_b)


async def test_unlock_token_ends(alice: UserClient, stranger: httpx.AsyncClient,
                                 app: Any) -> None:
    _, link = await shared_chat(alice, password="pw")
    token = await unlock(stranger, link, "pw")
    move_clock(app, 6 * 86400)
    await view_ok(stranger, link, headers={UNLOCK: token})
    move_clock(app, 2 * 86400)
    assert_refused(await view(stranger, link, headers={UNLOCK: token}), 401,
                   "PASSWORD_REQUIRED")


async def test_password_change_invalidates_unlocks(
    alice: UserClient, client: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, password="old password")
    token = await unlock(client, link, "old password")
    await view_ok(client, link)
    await alice.share(cid, password="new password", current_password="old password")
    assert_refused(await view(client, link), 401, "PASSWORD_REQUIRED")  # the cookie
    assert_refused(await view(stranger, link, headers={UNLOCK: token}), 401,
                   "PASSWORD_REQUIRED")
    assert_refused(await verify(stranger, link, "old password"), 401, "INVALID_PASSWORD")
    new_token = await unlock(stranger, link, "new password")
    await view_ok(stranger, link, headers={UNLOCK: new_token})


async def test_removing_and_re_adding_password_invalidates_unlocks(
    alice: UserClient, client: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, password="pw")
    token = await unlock(client, link, "pw")
    await alice.share(cid, password=None, current_password="pw")
    await view_ok(stranger, link)  # no password any more
    await alice.share(cid, password="pw")  # the same password again
    assert_refused(await view(client, link), 401, "PASSWORD_REQUIRED")
    assert_refused(await view(stranger, link, headers={UNLOCK: token}), 401,
                   "PASSWORD_REQUIRED")


async def test_rotating_the_link_invalidates_unlocks(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, password="pw")
    token = await unlock(client, link, "pw")
    r = await alice.http.post(f"/api/v1/chats/{cid}/share/rotate")
    assert r.status_code == 200, r.text
    new_link = r.json()["share_id"]
    assert new_link != link
    assert_refused(await view(client, link), 404, "SHARE_LINK_NOT_FOUND", NOT_FOUND_TEXT)
    assert_refused(await view(client, new_link, headers={UNLOCK: token}), 401,
                   "PASSWORD_REQUIRED")
    await unlock(client, new_link, "pw")
    await view_ok(client, new_link)


async def test_lockout_after_ten_wrong_passwords(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, link = await shared_chat(alice, "locked", password="right one")
    _, other = await shared_chat(alice, "other", password="right one")
    for _ in range(10):
        assert_refused(await verify(client, link, "wrong"), 401, "INVALID_PASSWORD")
    r = await verify(client, link, "right one")
    assert_refused(r, 429, "RATE_LIMITED")
    assert "set-cookie" not in r.headers
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 61
    assert_refused(await view(client, link), 401, "PASSWORD_REQUIRED")
    await unlock(client, other, "right one")  # another share is not affected
    await view_ok(client, other)


async def test_verify_on_unknown_and_revoked_links(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    assert_refused(await verify(client, "no-such-link", "pw"), 404, "SHARE_LINK_NOT_FOUND",
                   NOT_FOUND_TEXT)
    cid, link = await shared_chat(alice, password="pw")
    await revoke(alice, cid)
    assert_refused(await verify(client, link, "pw"), 410, "SHARE_LINK_REVOKED", REVOKED_TEXT)


async def test_verify_on_logged_in_only_link_needs_login(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, link = await shared_chat(alice, password="pw", is_public=False)
    assert_refused(await verify(client, link, "pw"), 401, "LOGIN_REQUIRED")


MALFORMED_VERIFY = [
    {"password": "pw", "extra": 1},
    {"password": "pw", "share_id": "x"},
    {},
    {"password": None},
    {"password": 1234},
    {"password": ["pw"]},
    {"password": True},
    {"password": "x" * 1001},
]


async def test_verify_malformed_body(alice: UserClient, client: httpx.AsyncClient) -> None:
    cid, link = await shared_chat(alice, password="pw")
    for payload in MALFORMED_VERIFY:
        r = await client.post(f"{SHARE}/{link}/verify", json=payload)
        assert_refused(r, 422, "VALIDATION_ERROR")
        assert "set-cookie" not in r.headers
    assert_refused(await view(client, link), 401, "PASSWORD_REQUIRED")
    await unlock(client, link, "pw")  # none of them counted as a wrong password


async def test_verify_non_json_body(alice: UserClient, client: httpx.AsyncClient) -> None:
    _, link = await shared_chat(alice, password="pw")
    r = await client.post(f"{SHARE}/{link}/verify", content=b"password=pw",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422, r.text


# --- 6. files -------------------------------------------------------------------------------------

async def test_files_listed_and_referenced_by_position(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"))
    link = (await alice.share(cid))["share_id"]
    body = await view_ok(client, link)
    base = f"http://testserver{SHARE}/{link}/files"
    files = body["files"]
    assert [{k: f[k] for k in FILE_KEYS} for f in files] == [
        {"name": "image-1.png", "media_type": "image/png", "size": len(PNG), "url": f"{base}/0"},
        {"name": "notes.txt", "media_type": "text/plain", "size": 10, "url": f"{base}/1"},
    ]
    for f in files:
        assert set(f) <= FILE_KEYS | {"index"}
    assert body["files_zip_url"] == f"{base}.zip"
    parts = body["messages"][0]["parts"]
    assert [(p["type"], p.get("file_id")) for p in parts] == [
        ("text", None), ("image", "0"), ("file", "1")]
    assert parts[2] == {"type": "file", "file_id": "1", "name": "notes.txt",
                        "media_type": "text/plain", "size": 10}


async def test_share_file_download(alice: UserClient, client: httpx.AsyncClient) -> None:
    cid = await chat_with_files(alice, ("Résumé notes.txt", "hello file"),
                                ("page.html", "<script>alert(1)</script>"),
                                ("drawing.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>"))
    link = (await alice.share(cid))["share_id"]
    image = await client.get(f"{SHARE}/{link}/files/0")
    assert image.status_code == 200 and image.content == PNG
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"].startswith("attachment;")
    text = await client.get(f"{SHARE}/{link}/files/1")
    assert text.status_code == 200 and text.content == b"hello file"
    disposition = text.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%20notes.txt" in disposition
    for index, data in ((1, b"hello file"), (2, b"<script>alert(1)</script>"),
                        (3, b"<svg xmlns='http://www.w3.org/2000/svg'/>")):
        r = await client.get(f"{SHARE}/{link}/files/{index}")
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-disposition"].startswith("attachment;")


async def test_share_file_out_of_range(alice: UserClient, client: httpx.AsyncClient) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"))
    link = (await alice.share(cid))["share_id"]
    for index in ("2", "99", "-1", "2147483648"):
        r = await client.get(f"{SHARE}/{link}/files/{index}")
        assert r.status_code == 404, r.text
        assert r.json()["code"] == "FILE_NOT_FOUND"
    r = await client.get(f"{SHARE}/{link}/files/abc")
    assert r.status_code == 422, r.text


async def test_share_files_on_unknown_link(client: httpx.AsyncClient) -> None:
    for path in ("files/0", "files.zip"):
        r = await client.get(f"{SHARE}/no-such-link/{path}")
        assert_refused(r, 404, "SHARE_LINK_NOT_FOUND", NOT_FOUND_TEXT)


async def test_share_files_follow_access_rules(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"))
    link = (await alice.share(cid, password="pw"))["share_id"]
    for path in ("files/1", "files.zip"):
        assert_refused(await client.get(f"{SHARE}/{link}/{path}"), 401, "PASSWORD_REQUIRED")
        assert_refused(await bob.http.get(f"{SHARE}/{link}/{path}"), 401, "PASSWORD_REQUIRED")
    token = await unlock(client, link, "pw")
    r = await client.get(f"{SHARE}/{link}/files/1")  # the cookie
    assert r.status_code == 200 and r.content == b"hello file"
    r = await stranger.get(f"{SHARE}/{link}/files.zip", headers={UNLOCK: token})
    assert r.status_code == 200
    r = await alice.http.get(f"{SHARE}/{link}/files/1")  # the owner needs no password
    assert r.status_code == 200 and r.content == b"hello file"
    await alice.share(cid, is_public=False)
    assert_refused(await stranger.get(f"{SHARE}/{link}/files/1", headers={UNLOCK: token}),
                   401, "LOGIN_REQUIRED")
    await revoke(alice, cid)
    for path in ("files/1", "files.zip"):
        assert_refused(await client.get(f"{SHARE}/{link}/{path}"), 410, "SHARE_LINK_REVOKED")
        assert_refused(await bob.http.get(f"{SHARE}/{link}/{path}", headers={UNLOCK: token}),
                       410, "SHARE_LINK_REVOKED")


async def test_share_zip_has_every_file_with_unique_bare_names(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid = await chat_with_files(alice, ("a.txt", "first a"), ("dir/a.txt", "second a"),
                                ("b.md", "# bee"))
    link = (await alice.share(cid))["share_id"]
    r = await client.get(f"{SHARE}/{link}/files.zip")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        names = archive.namelist()
        contents = {name: archive.read(name) for name in names}
    assert names == ["image-1.png", "a.txt", "a (2).txt", "b.md"]
    assert contents == {"image-1.png": PNG, "a.txt": b"first a", "a (2).txt": b"second a",
                        "b.md": b"# bee"}


async def test_share_zip_without_files(alice: UserClient, client: httpx.AsyncClient) -> None:
    _, link = await shared_chat(alice)
    body = await view_ok(client, link)
    assert body["files"] == [] and body["files_zip_url"] is None
    r = await client.get(f"{SHARE}/{link}/files.zip")
    assert r.status_code == 404 and r.json()["code"] == "FILE_NOT_FOUND"


async def test_files_of_other_chats_are_never_reachable(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    await chat_with_files(alice, ("secret.txt", "top secret"), q="private chat")
    cid = await chat_with_files(alice, ("public.txt", "for everyone"), image=False)
    link = (await alice.share(cid))["share_id"]
    body = await view_ok(client, link)
    assert [f["name"] for f in body["files"]] == ["public.txt"]
    assert (await client.get(f"{SHARE}/{link}/files/0")).content == b"for everyone"
    for index in (1, 2):
        assert (await client.get(f"{SHARE}/{link}/files/{index}")).status_code == 404
    r = await client.get(f"{SHARE}/{link}/files.zip")
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        assert archive.namelist() == ["public.txt"]
        assert archive.read("public.txt") == b"for everyone"
    assert "secret" not in (await view(client, link)).text


async def test_checkpoint_before_the_file_message_has_no_files(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid = await alice.new_conversation("no files yet")
    await alice.chat("now a file", conversation_id=cid,
                     files=[{"name": "late.txt", "content": "late"}])
    messages = (await get_chat(alice, cid))["chat"]["messages"]
    first_answer = messages[1]
    assert first_answer["role"] == "assistant"
    link = (await alice.share(cid, upto_message_id=first_answer["id"]))["share_id"]
    body = await view_ok(client, link)
    assert [m["parts"][0]["text"] for m in body["messages"]] == [
        "no files yet", "Echo: no files yet"]
    assert body["files"] == [] and body["files_zip_url"] is None
    assert (await client.get(f"{SHARE}/{link}/files/0")).status_code == 404
    assert (await client.get(f"{SHARE}/{link}/files.zip")).status_code == 404


# --- 7. privacy headers ---------------------------------------------------------------------------

def assert_private(r: httpx.Response) -> None:
    assert r.headers.get("x-robots-tag") == "noindex, nofollow", (r.status_code, r.url)
    assert r.headers.get("referrer-policy") == "no-referrer", (r.status_code, r.url)


async def test_every_share_response_is_private(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"))
    link = (await alice.share(cid))["share_id"]
    _, locked = await shared_chat(alice, password="pw")
    _, private = await shared_chat(alice, is_public=False)
    ok = await view(client, link)
    assert ok.status_code == 200
    assert "no-store" in ok.headers["cache-control"]
    owner = await view(alice.http, link)
    assert "no-store" in owner.headers["cache-control"]
    responses = [
        ok, owner,
        await view(client, "no-such-link"),
        await view(client, locked),
        await view(client, private),
        await verify(stranger, locked, "wrong"),
        await verify(stranger, locked, "pw"),
        await verify(stranger, "no-such-link", "pw"),
        await client.post(f"{SHARE}/{locked}/verify", json={}),
        await client.get(f"{SHARE}/{link}/files/0"),
        await client.get(f"{SHARE}/{link}/files/1"),
        await client.get(f"{SHARE}/{link}/files/9"),
        await client.get(f"{SHARE}/{link}/files.zip"),
    ]
    await revoke(alice, cid)
    responses += [await view(client, link), await client.get(f"{SHARE}/{link}/files/0")]
    assert sorted({r.status_code for r in responses}) == [200, 401, 404, 410, 422]
    for r in responses:
        assert_private(r)


# --- 8. cloning -----------------------------------------------------------------------------------

async def clone(http: httpx.AsyncClient, link: str, **kwargs: Any) -> httpx.Response:
    return await http.post(f"/api/v1/chats/{link}/clone/shared", **kwargs)


async def clone_ok(user: UserClient, link: str, **kwargs: Any) -> dict[str, Any]:
    r = await clone(user.http, link, **kwargs)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_clone_copies_the_shared_messages_and_files(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"))
    await alice.chat("and a second turn", conversation_id=cid)
    link = (await alice.share(cid))["share_id"]
    shared = await view_ok(client, link)
    alice_files = set(file_ids(await get_chat(alice, cid)))
    body = await clone_ok(bob, link)
    assert body["id"] != cid and body["user_id"] == bob.id
    assert body["title"] == f"Clone of {shared['title']}"
    copied = body["chat"]["messages"]
    assert len(copied) == len(shared["messages"]) == 4
    new_ids: dict[str, str] = {}
    for theirs, mine in zip(shared["messages"], copied, strict=True):
        assert (mine["role"], mine["model"], mine["status"]) == (
            theirs["role"], theirs["model"], theirs["status"])
        assert mine["timestamp"] == int(datetime.fromisoformat(theirs["created_at"]).timestamp())
        assert len(mine["parts"]) == len(theirs["parts"])
        for part, original in zip(mine["parts"], theirs["parts"], strict=True):
            if "file_id" in original:
                new_ids[original["file_id"]] = part["file_id"]
                part = {**part, "file_id": original["file_id"]}
            assert part == original
    assert set(new_ids) == {"0", "1"}
    assert not set(new_ids.values()) & alice_files
    assert len(set(new_ids.values())) == 2
    for position, data in (("0", PNG), ("1", b"hello file")):
        r = await bob.http.get(f"/api/v1/files/{new_ids[position]}/content")
        assert r.status_code == 200 and r.content == data
    for alice_file in alice_files:
        assert (await bob.http.get(f"/api/v1/files/{alice_file}/content")).status_code == 404
    fetched = await get_chat(bob, body["id"])
    assert fetched["chat"]["messages"] == copied
    assert (await owner_share(alice, cid))["clones"] == 1


async def test_clone_needs_login(alice: UserClient, client: httpx.AsyncClient) -> None:
    cid, link = await shared_chat(alice)
    r = await clone(client, link)
    assert r.status_code == 401
    assert (await owner_share(alice, cid))["clones"] == 0


async def test_clone_of_unknown_link(bob: UserClient) -> None:
    assert_refused(await clone(bob.http, "no-such-link"), 404, "SHARE_LINK_NOT_FOUND")


async def test_clone_not_allowed_by_owner(alice: UserClient, bob: UserClient) -> None:
    cid, link = await shared_chat(alice, allow_cloning=False)
    assert_refused(await clone(bob.http, link), 403, "CLONING_NOT_ALLOWED")
    assert (await owner_share(alice, cid))["clones"] == 0


async def test_clone_refused_without_clone_permission(alice: UserClient,
                                                      bob: UserClient) -> None:
    _, link = await shared_chat(alice)
    r = await alice.http.post(f"/api/v1/users/{bob.id}/update",
                              json={"permissions": {"chat_clone": False}})
    assert r.status_code == 200, r.text
    assert (await view_ok(bob.http, link))["can_clone"] is False
    assert_refused(await clone(bob.http, link), 403, "CLONING_DISABLED")


async def test_clone_of_password_share_needs_unlock(alice: UserClient, bob: UserClient) -> None:
    _, link = await shared_chat(alice, password="pw")
    assert_refused(await clone(bob.http, link), 401, "PASSWORD_REQUIRED")
    assert_refused(await clone(bob.http, link, headers={UNLOCK: "1.nope"}), 401,
                   "PASSWORD_REQUIRED")
    token = await unlock(bob.http, link, "pw")
    await clone_ok(bob, link, headers={UNLOCK: token})


async def test_clone_of_revoked_share(alice: UserClient, bob: UserClient) -> None:
    cid, link = await shared_chat(alice)
    await revoke(alice, cid)
    assert_refused(await clone(bob.http, link), 410, "SHARE_LINK_REVOKED")


async def test_clone_limit_revokes_the_link(
    alice: UserClient, bob: UserClient, carol: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, max_clones=1)
    await clone_ok(bob, link)
    assert_refused(await clone(carol.http, link), 410, "SHARE_LINK_REVOKED", REVOKED_TEXT)
    assert_refused(await clone(bob.http, link), 410, "SHARE_LINK_REVOKED")
    assert_refused(await view(client, link), 410, "SHARE_LINK_REVOKED", REVOKED_TEXT)
    assert_refused(await view(carol.http, link), 410, "SHARE_LINK_REVOKED")
    share = await owner_share(alice, cid)
    assert share["clones"] == 1 and share["status"] == "revoked"
    chats = (await carol.http.get("/api/v1/chats/")).json()
    assert chats == []


async def test_clone_limit_with_viewing_allowed(
    alice: UserClient, bob: UserClient, carol: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, max_clones=1, allow_view_after_clone_limit=True)
    await clone_ok(bob, link)
    body = await view_ok(carol.http, link)
    assert body["can_clone"] is False and body["status"] == "active"
    await view_ok(client, link)
    assert_refused(await clone(carol.http, link), 403, "CLONE_LIMIT_REACHED")
    assert_refused(await clone(bob.http, link), 403, "CLONE_LIMIT_REACHED")
    share = await owner_share(alice, cid)
    assert share["clones"] == 1 and share["status"] == "active"


async def test_clone_survives_revoke_and_deletion_of_the_original(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"))
    link = (await alice.share(cid))["share_id"]
    cloned = await clone_ok(bob, link)
    await revoke(alice, cid)
    r = await alice.http.delete(f"/api/v1/chats/{cid}")
    assert r.status_code == 200, r.text
    assert_refused(await view(client, link), 404, "SHARE_LINK_NOT_FOUND")
    kept = await get_chat(bob, cloned["id"])
    assert kept["chat"]["messages"] == cloned["chat"]["messages"]
    new_files = file_ids(kept)
    assert len(new_files) == 2
    contents = [(await bob.http.get(f"/api/v1/files/{f}/content")).content for f in new_files]
    assert contents == [PNG, b"hello file"]


async def test_clone_of_a_snapshot_copies_the_snapshot(alice: UserClient,
                                                       bob: UserClient) -> None:
    cid, link = await shared_chat(alice, "before sharing")
    await alice.chat("after sharing", conversation_id=cid)
    cloned = await clone_ok(bob, link)
    texts = [m["parts"][0]["text"] for m in cloned["chat"]["messages"]]
    assert texts == ["before sharing", "Echo: before sharing"]


# --- 9. snapshot versus live ----------------------------------------------------------------------

async def rename(user: UserClient, chat_id: str, title: str) -> None:
    r = await user.http.patch("/api/chat/title", json={"conversation_id": chat_id,
                                                         "title": title})
    assert r.status_code == 200, r.text


async def test_snapshot_never_shows_later_turns_or_renames(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "first question")
    before = await view_ok(client, link)
    await alice.chat("second question", conversation_id=cid)
    await rename(alice, cid, "A brand new title")
    after = await view_ok(client, link)
    assert after["type"] == "snapshot"
    assert after["title"] == before["title"] != "A brand new title"
    assert after["messages"] == before["messages"]
    assert len(after["messages"]) == 2
    assert "second question" not in (await view(client, link)).text


async def test_live_share_shows_the_chat_as_it_is_now(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "first question", live=True)
    before = await view_ok(client, link)
    assert before["type"] == "live" and len(before["messages"]) == 2
    await alice.chat("second question", conversation_id=cid,
                     files=[{"name": "later.txt", "content": "later"}])
    await rename(alice, cid, "A brand new title")
    after = await view_ok(client, link)
    assert after["title"] == "A brand new title"
    assert [m["parts"][0]["text"] for m in after["messages"]] == [
        "first question", "Echo: first question", "second question",
        "Echo: Attached file later.txt: later second question"]
    assert [f["name"] for f in after["files"]] == ["later.txt"]
    r = await client.get(f"{SHARE}/{link}/files/0")
    assert r.status_code == 200 and r.content == b"later"
