"""The share viewer page ``/s/{id}`` through HTTP: what each viewer sees, every refusal with the
spec's words and the API's status, the old link shapes, the password form, cloning, link-preview
bots, ETag revalidation and the reuse of a snapshot's rendered page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncEngine

from salon.services.share_viewing import unlock_cookie_name
from salon.web.pages.share_cache import NONCE_PLACEHOLDER
from tests.factories import UserClient
from tests.web.test_share_viewing_api import (
    EXPIRED_TEXT,
    NOT_FOUND_TEXT,
    REVOKED_TEXT,
    chat_with_files,
    owner_share,
    revoke,
    shared_chat,
)

HTML = {"Accept": "text/html"}
BOT_AGENTS = ["facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
              "Twitterbot/1.0", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
              "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
              "TelegramBot (like TwitterBot)", "WhatsApp/2.23.20.0",
              "LinkedInBot/1.0 (compatible; Mozilla/5.0)", "Mastodon/4.2.0 (http.rb/5.1.1)",
              "redditbot/1.0", "Iframely/1.3.1 (+https://iframely.com/docs/about)"]
PASSWORD_TEXT = "This shared chat is password-protected. Enter the password to view it."


@pytest.fixture
async def stranger(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A second anonymous client with its own cookie jar."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as c:
        yield c


async def browser_of(app: Any, user: UserClient) -> httpx.AsyncClient:
    """A client logged in through the login form: a session cookie, like a browser's."""
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    r = await c.post("/login", data={"email": user.email, "password": user.password})
    assert r.status_code == 303, r.text
    return c


@pytest.fixture
async def bob_browser(app: Any, bob: UserClient) -> AsyncIterator[httpx.AsyncClient]:
    c = await browser_of(app, bob)
    yield c
    await c.aclose()


async def page(http: httpx.AsyncClient, link: str, **headers: str) -> httpx.Response:
    return await http.get(f"/s/{link}", headers={**HTML, **headers})


async def page_ok(http: httpx.AsyncClient, link: str, **headers: str) -> str:
    r = await page(http, link, **headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    return r.text


async def views(user: UserClient, chat_id: str) -> int:
    count: int = (await owner_share(user, chat_id))["views"]
    return count


def csrf_of(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, text
    return match.group(1)


def escaped(text: str) -> str:
    return str(escape(text))


# --- what each viewer sees -------------------------------------------------------------------

async def test_anonymous_viewer_sees_the_conversation_only(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "hello there", display_username=True)
    text = await page_ok(client, link)
    assert '<h1 class="share-title">hello there</h1>' in text
    assert "Echo: hello there" in text
    assert 'class="message message-user"' in text and 'class="message message-assistant"' in text
    assert '<meta name="robots" content="noindex, nofollow">' in text
    assert '<meta property="og:title" content="hello there">' in text
    assert '<meta name="twitter:card" content="summary">' in text
    assert "Started <time datetime=" in text
    assert "Alice" not in text and "Chat recipe" not in text  # owner and recipe: logged in only
    assert f'<form method="post" action="/s/{link}/clone" id="clone-login">' in text
    assert 'name="press" value="' in text and "clone=1" not in text
    assert 'id="clone-form"' not in text
    assert await views(alice, cid) == 1


async def test_logged_in_viewer_sees_owner_recipe_and_clone(
    alice: UserClient, bob: UserClient
) -> None:
    cid, link = await shared_chat(alice, "hello there", display_username=True)
    text = await page_ok(bob.http, link)
    assert 'class="share-owner-name">Alice</span>' in text
    assert "<summary>Chat recipe</summary>" in text and "fake-model" in text
    assert 'id="clone-form"' in text
    r = await page(bob.http, link)
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers
    await alice.share(cid, display_username=False, allow_cloning=False)
    text = await page_ok(bob.http, link)
    assert "Alice" not in text and "Chat recipe" in text
    assert 'id="clone-form"' not in text and 'id="clone-login"' not in text


async def test_owner_is_not_counted_and_never_cached(alice: UserClient) -> None:
    cid, link = await shared_chat(alice, "mine", max_views=1)
    for _ in range(3):
        r = await page(alice.http, link)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert await views(alice, cid) == 0


async def test_files_are_listed_and_downloadable(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid = await chat_with_files(alice, ("notes.txt", "hello file"))
    link = (await alice.share(cid))["share_id"]
    text = await page_ok(client, link)
    base = f"/api/v1/chats/share/{link}/files"
    assert f'<a href="{base}/0" download>' in text or f'<a href="{base}/1" download>' in text
    assert "notes.txt</a>" in text and "text/plain" in text and " B · " in text
    assert f'href="{base}.zip" download id="download-all">Download all</a>' in text
    for url in re.findall(rf'href="({re.escape(base)}[^"]*)"', text):
        r = await client.get(url)
        assert r.status_code == 200, url


async def test_live_share_shows_new_turns_on_reload(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "first turn", live=True)
    assert "Echo: first turn" in await page_ok(client, link)
    await alice.chat("second turn", conversation_id=cid)
    text = await page_ok(client, link)
    assert "Echo: second turn" in text and "Shared chat · live" in text


async def test_hostile_title_is_escaped(alice: UserClient, client: httpx.AsyncClient) -> None:
    cid, link = await shared_chat(alice, "hi")
    title = '</title><script>alert(1)</script>"><img src=x onerror=alert(2)>'
    r = await alice.http.patch("/api/chat/title", json={"conversation_id": cid, "title": title})
    assert r.status_code == 200, r.text
    await alice.share(cid, update_snapshot=True)
    text = await page_ok(client, link)
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text


# --- refusals ---------------------------------------------------------------------------------

async def test_error_pages_have_the_spec_words_and_api_status(
    app: Any, alice: UserClient, client: httpx.AsyncClient
) -> None:
    r = await page(client, "no-such-link")
    assert r.status_code == 404 and escaped(NOT_FOUND_TEXT) in r.text
    cid, link = await shared_chat(alice, "soon revoked")
    await revoke(alice, cid)
    r = await page(client, link)
    assert r.status_code == 410 and escaped(REVOKED_TEXT) in r.text
    _, once = await shared_chat(alice, "once", max_views=1)
    await page_ok(client, once)
    r = await page(client, once)
    assert r.status_code == 410 and escaped(EXPIRED_TEXT) in r.text
    assert '<meta name="robots" content="noindex, nofollow">' in r.text
    r = await alice.http.post("/api/v1/auths/admin/config", json={"ENABLE_SHARING": False})
    assert r.status_code == 200, r.text
    r = await page(client, once)
    assert r.status_code == 403 and "Sharing is turned off on this server." in r.text


async def test_login_required_sends_to_login_and_back(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "members", is_public=False)
    r = await page(client, link)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=%2Fs%2F{link}&reason=share"
    assert await views(alice, cid) == 0
    assert "Echo: members" in await page_ok(bob.http, link)


async def test_legacy_links_redirect_to_the_canonical_page(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, link = await shared_chat(alice, "old links")
    for old in (f"/share/chat/{link}", f"/share/{link}", f"/shared/{link}"):
        r = await client.get(old, headers=HTML)
        assert r.status_code == 308 and r.headers["location"] == f"/s/{link}", old
        r = await client.get(old + "?clone=1", headers=HTML)
        assert r.headers["location"] == f"/s/{link}?clone=1"
    r = await client.get(f"/share/{link}", headers=HTML, follow_redirects=True)
    assert r.status_code == 200 and "Echo: old links" in r.text


# --- passwords ----------------------------------------------------------------------------------

async def test_password_form_unlocks_with_the_api_cookie(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "secret plans", password="right one")
    r = await page(client, link)
    assert r.status_code == 401 and escaped(PASSWORD_TEXT) in r.text
    assert f'action="/s/{link}/unlock"' in r.text and "secret plans" not in r.text
    assert r.headers["cache-control"] == "no-store"
    r = await client.post(f"/s/{link}/unlock", data={"password": "wrong"}, headers=HTML)
    assert r.status_code == 401 and "The password is incorrect." in r.text
    assert "set-cookie" not in r.headers
    r = await client.post(f"/s/{link}/unlock", data={"password": "right one"}, headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == f"/s/{link}"
    assert client.cookies.get(unlock_cookie_name(link))
    r = await page(client, link)
    assert r.status_code == 200 and "Echo: secret plans" in r.text
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers
    assert (await client.get(f"/api/v1/chats/share/{link}")).status_code == 200  # same cookie
    assert await views(alice, cid) == 2


async def test_password_lockout_says_when_to_retry(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, link = await shared_chat(alice, "locked", password="right one")
    for _ in range(10):
        r = await client.post(f"/s/{link}/unlock", data={"password": "nope"}, headers=HTML)
        assert r.status_code == 401
    r = await client.post(f"/s/{link}/unlock", data={"password": "right one"}, headers=HTML)
    assert r.status_code == 429 and "set-cookie" not in r.headers
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 61
    assert f"try again in {retry} seconds." in r.text


async def test_unlock_refuses_cross_site_posts(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, link = await shared_chat(alice, "guarded", password="pw")
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Referer": "https://evil.example/page"}):
        r = await client.post(f"/s/{link}/unlock", data={"password": "pw"},
                              headers={**HTML, **headers})
        assert r.status_code == 403 and "set-cookie" not in r.headers, headers
    r = await client.post(f"/s/{link}/unlock", data={"password": "pw"},
                          headers={**HTML, "Origin": "http://testserver",
                                   "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303


# --- cloning ------------------------------------------------------------------------------------

SAME_ORIGIN = {**HTML, "Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
CONFIRM = "Clone this chat into your account?"


def press_of(text: str) -> str:
    match = re.search(r'name="press" value="([^"]+)"', text)
    assert match, text
    return match.group(1)


async def press_clone(http: httpx.AsyncClient, link: str) -> httpx.Response:
    """Open the page anonymously and press its "Clone chat" (the form's own post)."""
    press = press_of(await page_ok(http, link))
    return await http.post(f"/s/{link}/clone", data={"press": press}, headers=SAME_ORIGIN)


async def log_in(http: httpx.AsyncClient, user: UserClient) -> None:
    r = await http.post("/login", data={"email": user.email, "password": user.password},
                        headers=SAME_ORIGIN)
    assert r.status_code == 303, r.text


async def chat_count(user: UserClient) -> int:
    r = await user.http.get("/api/v1/chats/")
    assert r.status_code == 200, r.text
    return len(r.json())


async def test_clone_from_the_page(
    app: Any, alice: UserClient, bob: UserClient, bob_browser: httpx.AsyncClient,
) -> None:
    cid, link = await shared_chat(alice, "clone me")
    text = await page_ok(bob_browser, link)
    token = csrf_of(text)
    r = await bob_browser.post(f"/s/{link}/clone", data={"csrf_token": "forged"}, headers=HTML)
    assert r.status_code == 403
    r = await bob_browser.post(f"/s/{link}/clone", data={"csrf_token": token}, headers=HTML)
    assert r.status_code == 303 and r.headers["location"].startswith("/c/")
    new_id = r.headers["location"].removeprefix("/c/")
    chat = (await bob.http.get(f"/api/v1/chats/{new_id}")).json()
    assert chat["title"] == "Clone of clone me"
    assert (await owner_share(alice, cid))["clones"] == 1


async def test_anonymous_press_logs_in_and_then_asks_before_cloning(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "clone me later")
    r = await press_clone(client, link)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=%2Fs%2F{link}&reason=clone"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("salon_clone_intent=") and f"Path=/s/{link}" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    before = await chat_count(bob)
    await log_in(client, bob)
    text = await page_ok(client, link)  # back from logging in: a question, nothing cloned
    assert CONFIRM in text and 'id="clone-form"' in text and text.count("Clone chat<") == 1
    assert await chat_count(bob) == before and (await owner_share(alice, cid))["clones"] == 0
    assert CONFIRM not in await page_ok(client, link)  # asked once
    r = await client.post(f"/s/{link}/clone", data={"csrf_token": csrf_of(text)},
                          headers=SAME_ORIGIN)
    assert r.status_code == 303 and r.headers["location"].startswith("/c/")
    assert await chat_count(bob) == before + 1
    assert (await owner_share(alice, cid))["clones"] == 1


async def test_a_clone_flag_in_a_url_never_clones(
    alice: UserClient, bob: UserClient, bob_browser: httpx.AsyncClient
) -> None:
    """Another site links a signed-in visitor to the share (or to the login page leading to
    it) with ?clone=1: the page is shown, nothing is cloned, nothing asks to."""
    cid, link = await shared_chat(alice, "not yours to plant")
    before = await chat_count(bob)
    for url in (f"/s/{link}?clone=1", f"/login?next=%2Fs%2F{link}%3Fclone%3D1",
                f"/share/{link}?clone=1"):
        r = await bob_browser.get(url, headers={**HTML, "Sec-Fetch-Site": "cross-site"},
                                  follow_redirects=True)
        assert r.status_code == 200 and "Echo: not yours to plant" in r.text, url
        assert CONFIRM not in r.text
    assert await chat_count(bob) == before
    assert (await owner_share(alice, cid))["clones"] == 0


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Referer": "https://evil.example/page"},
], ids=["origin", "fetch-site", "referer"])
async def test_a_cross_site_press_leaves_no_intent(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """A form on another site posting to the clone route (with or without the page's token)
    is refused: no intent, so logging in afterwards asks nothing and clones nothing."""
    cid, link = await shared_chat(alice, "guarded clone")
    press = press_of(await page_ok(client, link))
    for data in ({}, {"press": press}):
        r = await client.post(f"/s/{link}/clone", data=data, headers={**HTML, **headers})
        assert r.status_code == 403 and "set-cookie" not in r.headers
        assert "Cross-site request refused." in r.text
    before = await chat_count(bob)
    await log_in(client, bob)
    assert CONFIRM not in await page_ok(client, link)
    assert await chat_count(bob) == before
    assert (await owner_share(alice, cid))["clones"] == 0


async def test_a_press_without_the_pages_token_leaves_no_intent(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    _, link = await shared_chat(alice, "token please")
    for data in ({}, {"press": "forged"}, {"press": "é" * 40}, {"press": "x" * 900}):
        r = await client.post(f"/s/{link}/clone", data=data, headers=SAME_ORIGIN)
        assert r.status_code == 403 and "set-cookie" not in r.headers, data
        assert "This Clone button is out of date" in r.text


async def test_an_intent_ends_with_a_new_snapshot(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "first version")
    assert (await press_clone(client, link)).status_code == 303
    await alice.share(cid, update_snapshot=True)
    await log_in(client, bob)
    assert CONFIRM not in await page_ok(client, link)


async def test_clone_limit_reached_while_logging_in_says_so(
    alice: UserClient, bob: UserClient, make_user: Any, client: httpx.AsyncClient
) -> None:
    carol: UserClient = await make_user(name="Carol")
    cid, link = await shared_chat(alice, "one clone", max_clones=1,
                                  allow_view_after_clone_limit=True)
    assert (await press_clone(client, link)).status_code == 303
    r = await carol.http.post(f"/api/v1/chats/{link}/clone/shared")
    assert r.status_code == 200, r.text
    await log_in(client, bob)
    text = await page_ok(client, link)
    assert 'id="clone-form"' not in text and "This chat cannot be cloned any more." in text
    assert 'id="clone-login"' not in await page_ok(carol.http, link)


# --- link previews ------------------------------------------------------------------------------

@pytest.mark.parametrize("agent", BOT_AGENTS)
async def test_link_preview_bot_gets_a_title_card_without_a_view(
    agent: str, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "card title", max_views=1)
    r = await page(client, link, **{"User-Agent": agent})
    assert r.status_code == 200
    assert '<meta property="og:title" content="card title">' in r.text
    assert "Echo:" not in r.text and r.headers["cache-control"] == "no-store"
    assert await views(alice, cid) == 0


async def test_prefetch_and_head_spend_no_view(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "prefetched", max_views=1)
    for headers in ({"Sec-Purpose": "prefetch"}, {"Purpose": "prefetch"},
                    {"Sec-Purpose": "prefetch;prerender"}):
        r = await page(client, link, **headers)
        assert r.status_code == 200 and "Echo:" not in r.text
    r = await client.head(f"/s/{link}")
    assert r.status_code == 200 and r.content == b""
    assert await views(alice, cid) == 0
    await page_ok(client, link)
    r = await page(client, link, **{"User-Agent": "Twitterbot/1.0"})
    assert r.status_code == 410 and escaped(EXPIRED_TEXT) in r.text  # the view is spent


async def test_preview_of_a_protected_share_does_not_leak_its_title(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    for options in ({"password": "pw"}, {"is_public": False}):
        cid, link = await shared_chat(alice, "private plans", **options)
        r = await page(client, link, **{"User-Agent": "Slackbot-LinkExpanding 1.0"})
        assert r.status_code == 200 and "private plans" not in r.text
        assert '<meta property="og:title" content="Shared chat on Salon">' in r.text
        assert await views(alice, cid) == 0
        if options.get("password"):  # unlocked, the page's own tags still hold no title
            await client.post(f"/s/{link}/unlock", data={"password": "pw"})
            text = await page_ok(client, link)
            assert "Echo: private plans" in text
            assert '<meta property="og:title" content="Shared chat on Salon">' in text


# --- caching ------------------------------------------------------------------------------------

async def test_etag_revalidation_counts_and_respects_revocation(
    alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "etag me")
    r = await page(client, link)
    etag = r.headers["etag"]
    assert r.headers["cache-control"] == "no-cache" and etag.startswith('"')
    r = await page(client, link, **{"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    r = await page(client, link, **{"If-None-Match": '"something-else"'})
    assert r.status_code == 200
    assert await views(alice, cid) == 3  # a 304 delivers the content too: it counts
    await revoke(alice, cid)
    r = await page(client, link, **{"If-None-Match": etag})
    assert r.status_code == 410 and escaped(REVOKED_TEXT) in r.text


async def test_snapshot_page_is_rendered_once_per_content_version(
    app: Any, engine: AsyncEngine, alice: UserClient, client: httpx.AsyncClient
) -> None:
    cid, link = await shared_chat(alice, "version one")
    first = await page(client, link)
    second = await page(client, link)
    nonces = [re.search(r"'nonce-([^']+)'", r.headers["content-security-policy"])
              for r in (first, second)]
    one, two = (m.group(1) for m in nonces if m)
    assert one != two and f'nonce="{one}"' in first.text and f'nonce="{two}"' in second.text
    assert first.text.replace(one, "N") == second.text.replace(two, "N")
    assert NONCE_PLACEHOLDER not in first.text
    query = sa.text("SELECT id, content_version FROM shares")
    async with engine.connect() as conn:
        pk, version = (await conn.execute(query)).one()
    cache = app.state.ctx.share_page_cache
    assert cache.get((pk, link, version, True)) is not None
    await alice.chat("version two", conversation_id=cid)
    assert "Echo: version two" not in await page_ok(client, link)  # a snapshot
    await alice.share(cid, update_snapshot=True)
    third = await page(client, link)
    assert "Echo: version two" in third.text and third.headers["etag"] != first.headers["etag"]
    assert cache.get((pk, link, version + 1, True)) is not None
