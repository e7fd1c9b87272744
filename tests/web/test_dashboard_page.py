"""The Shared chats dashboard page ``/shared`` through the ASGI app: who sees it, what each
query string lists (filters, sorting, pages, bad values), and the form posts (row, bulk and
danger-zone actions) with their CSRF and ownership checks.

A hand-moved clock gives every share its own creation time (one day apart, so the date filters
have something to cut) and lets a share expire by time without waiting.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.factories import UserClient
from tests.web.test_shares_dashboard_api import START, Clock, clock

__all__ = ["clock"]  # the fixture, shared with the dashboard API tests

HTML = {"Accept": "text/html"}
HOSTILE_TITLE = '</title><script>alert(1)</script><img src=x onerror="alert(2)">'


# --- helpers ---------------------------------------------------------------------------------

async def log_in(client: httpx.AsyncClient, user: UserClient) -> str:
    """Sign ``client`` in with the login form; returns the session's CSRF token."""
    r = await client.post("/login", data={"email": user.email, "password": user.password})
    assert r.status_code == 303, r.text
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">',
                      (await client.get("/shared", headers=HTML)).text)
    assert match, "no CSRF token on the dashboard"
    return match.group(1)


async def shared_chat(user: UserClient, clock: Clock, title: str, **options: Any) -> dict[str, Any]:
    """A new chat titled ``title`` shared with ``options``; the clock then moves on a day."""
    chat_id = (await user.chat(title, title=title))["conversationId"]
    share = await user.share(chat_id, **options)
    clock.advance(days=1)
    return share


async def dashboard(client: httpx.AsyncClient, query: str = "") -> httpx.Response:
    r = await client.get(f"/shared{query}", headers=HTML)
    assert r.headers["content-type"].startswith("text/html")
    return r


def titles(html: str) -> list[str]:
    """The titles of the table's rows, in order."""
    return re.findall(r'class="title-cell"><a href="/c/[^"]+">([^<]*)</a>', html)


async def own_share(user: UserClient, chat_id: str) -> dict[str, Any]:
    r = await user.http.get(f"/api/v1/chats/{chat_id}/share")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def view(client: httpx.AsyncClient, share_id: str) -> None:
    r = await client.get(f"/api/v1/chats/share/{share_id}")
    assert r.status_code == 200, r.text


async def zoo(alice: UserClient, client: httpx.AsyncClient, clock: Clock) -> dict[str, Any]:
    """Five shares that differ in every filter, created a day apart from 2026-01-30."""
    made = {
        "alpha": await shared_chat(alice, clock, "alpha report"),               # 01-30
        "bravo": await shared_chat(alice, clock, "bravo notes", is_public=False,
                                   live=True),                                    # 01-31
        "charlie": await shared_chat(alice, clock, "charlie report",
                                     password="pw-charlie"),                      # 02-01
        "delta": await shared_chat(alice, clock, "delta plan"),                  # 02-02
        "echo": await shared_chat(alice, clock, "echo plan", expires_in=3600),   # 02-03
    }
    r = await alice.http.delete(f"/api/v1/chats/{made['delta']['chat_id']}/share")
    assert r.status_code == 200, r.text
    await view(client, made["alpha"]["share_id"])
    clock.advance(hours=2)  # "echo" (an hour) has expired
    return made


# --- who sees what -----------------------------------------------------------------------------

async def test_anonymous_visitor_goes_to_log_in_and_back(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    r = await client.get("/shared?status=active", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fshared%3Fstatus%3Dactive"


async def test_lists_only_the_callers_shares_never_cached(
    client: httpx.AsyncClient, alice: UserClient, bob: UserClient, clock: Clock
) -> None:
    await shared_chat(alice, clock, "alice one")
    await shared_chat(bob, clock, "bob secret")
    await shared_chat(alice, clock, "alice two")
    await log_in(client, alice)
    r = await dashboard(client)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert titles(r.text) == ["alice two", "alice one"]  # newest first by default
    assert "bob secret" not in r.text
    assert '<a href="/shared" aria-current="page">Shared chats</a>' in r.text
    assert "2 shared chats" in r.text
    # The sidebar lists the conversations as draggable chat links.
    assert re.search(r'<a href="/c/[^"]+" data-id="[^"]+"\s*>alice two</a>', r.text)


async def test_rows_show_every_column(
    client: httpx.AsyncClient, alice: UserClient, clock: Clock
) -> None:
    chat_id = (await alice.chat("columns", title="columns"))["conversationId"]
    share = await alice.share(chat_id, is_public=False, password="pw", live=True, max_views=10,
                              max_clones=3, expires_in=7200)
    await log_in(client, alice)
    html = (await dashboard(client)).text
    row = re.search(r"<tr data-chat-id=.*?</tr>", html, re.S)
    assert row
    cells = [re.sub(r"<[^>]+>", "", c).strip()
             for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row.group(0), re.S)][1:11]
    assert cells[0] == "columns"
    assert cells[1] == cells[2] == "2026-01-30 08:00 UTC"
    assert cells[3] == f"http://testserver/s/{share['share_id']}"
    assert cells[4:] == ["No", "Yes", "0 / 10", "0 / 3", "Active", "Live"]
    expires = (START + timedelta(hours=2)).isoformat(timespec="milliseconds")
    assert f'data-expires-at="{expires}"' in row.group(0)


async def test_hostile_titles_are_escaped(
    client: httpx.AsyncClient, alice: UserClient, clock: Clock
) -> None:
    await shared_chat(alice, clock, HOSTILE_TITLE)
    await log_in(client, alice)
    html = (await dashboard(client)).text
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- filters, sorting, pages -------------------------------------------------------------------

@pytest.mark.parametrize(("query", "expected"), [
    ("", ["echo plan", "delta plan", "charlie report", "bravo notes", "alpha report"]),
    ("?query=report", ["charlie report", "alpha report"]),
    ("?query=PLAN", ["echo plan", "delta plan"]),
    ("?start=2026-01-31&end=2026-02-01", ["charlie report", "bravo notes"]),
    ("?start=2026-02-02", ["echo plan", "delta plan"]),
    ("?visibility=private", ["bravo notes"]),
    ("?visibility=public", ["echo plan", "delta plan", "charlie report", "alpha report"]),
    ("?password=true", ["charlie report"]),
    ("?password=false", ["echo plan", "delta plan", "bravo notes", "alpha report"]),
    ("?status=active", ["charlie report", "bravo notes", "alpha report"]),
    ("?status=expired", ["echo plan"]),
    ("?status=revoked", ["delta plan"]),
    ("?type=live", ["bravo notes"]),
    ("?type=snapshot&query=report&status=active", ["charlie report", "alpha report"]),
    ("?order_by=title&direction=asc",
     ["alpha report", "bravo notes", "charlie report", "delta plan", "echo plan"]),
    ("?order_by=views&direction=desc&page_size=10", ["alpha report"]),  # first row only
])
async def test_query_string_filters_and_sorts(
    client: httpx.AsyncClient, alice: UserClient, clock: Clock, query: str,
    expected: list[str],
) -> None:
    await zoo(alice, client, clock)
    await log_in(client, alice)
    r = await dashboard(client, query)
    assert r.status_code == 200
    shown = titles(r.text)
    assert (shown[:1] if "views" in query else shown) == expected
    for name in ("query", "status", "visibility", "type"):  # the form shows the filter
        value = parse_qs(query.lstrip("?")).get(name)
        if value and name == "query":
            assert f'value="{value[0]}"' in r.text
        elif value:
            assert f'<option value="{value[0]}" selected>' in r.text


async def test_sort_headers_toggle_and_carry_the_filters(
    client: httpx.AsyncClient, alice: UserClient, clock: Clock
) -> None:
    await zoo(alice, client, clock)
    await log_in(client, alice)
    html = (await dashboard(client, "?status=active&order_by=title&direction=asc&page=1")).text
    assert titles(html) == ["alpha report", "bravo notes", "charlie report"]
    title_head = re.search(r'<th scope="col" aria-sort="ascending"><a class="sort-link" '
                           r'href="([^"]+)">Title</a>', html.replace("&amp;", "&"))
    assert title_head, "the sorted column carries aria-sort"
    assert parse_qs(urlsplit(title_head.group(1)).query) == {
        "status": ["active"], "order_by": ["title"], "direction": ["desc"]}
    views_head = re.search(r'<th scope="col"><a class="sort-link" href="([^"]+)">Views</a>',
                           html.replace("&amp;", "&"))
    assert views_head
    assert parse_qs(urlsplit(views_head.group(1)).query)["direction"] == ["asc"]
    html = (await dashboard(client, "?status=active&order_by=title&direction=desc")).text
    assert titles(html) == ["charlie report", "bravo notes", "alpha report"]
    assert 'aria-sort="descending"><a class="sort-link"' in html


async def test_pagination_and_page_size(
    client: httpx.AsyncClient, alice: UserClient, clock: Clock
) -> None:
    for n in range(12):
        await shared_chat(alice, clock, f"chat {n:02d}")
    await log_in(client, alice)
    first = (await dashboard(client, "?order_by=title&direction=asc&page_size=10")).text
    assert titles(first) == [f"chat {n:02d}" for n in range(10)]
    assert "Showing 1–10 of 12 shared chats" in first and "Page 1 of 2" in first
    assert 'rel="next" href="/shared?order_by=title&amp;direction=asc&amp;page=2&amp;' \
           'page_size=10"' in first
    assert 'rel="prev"' not in first
    second = (await dashboard(client, "?order_by=title&direction=asc&page=2&page_size=10")).text
    assert titles(second) == ["chat 10", "chat 11"]
    assert "Showing 11–12 of 12" in second and 'rel="next"' not in second
    assert '<option value="10" selected>' in second
    default = (await dashboard(client, "?order_by=title&direction=asc")).text
    assert len(titles(default)) == 12 and "Page 1 of 1" in default
    past = await dashboard(client, "?page=5&page_size=10")
    assert past.status_code == 200 and "Nothing on this page" in past.text


@pytest.mark.parametrize("query", [
    "?status=bogus", "?page=-1", "?page=abc", "?page_size=7", "?page_size=1000",
    "?start=not-a-date", "?end=2026-13-45", "?order_by=password_hash", "?direction=sideways",
    "?visibility=everyone", "?password=maybe", "?type=video", "?query=" + "x" * 201,
])
async def test_bad_query_values_are_ignored_with_a_notice(
    client: httpx.AsyncClient, alice: UserClient, clock: Clock, query: str
) -> None:
    await zoo(alice, client, clock)
    await log_in(client, alice)
    valid = "&visibility=private" if "type=" in query else "&type=live"
    r = await dashboard(client, query + valid)
    assert r.status_code == 200
    notice = re.search(r'id="ignored-notice">([^<]*)<', r.text)
    assert notice and "were not understood and were ignored" in notice.group(1)
    assert query.lstrip("?").split("=")[0] + " &#34;" in notice.group(1)
    assert titles(r.text) == ["bravo notes"]  # the valid filter still applies


async def test_empty_states(client: httpx.AsyncClient, alice: UserClient, clock: Clock) -> None:
    await log_in(client, alice)
    html = (await dashboard(client)).text
    assert "No shared chats yet" in html and "No shares match" not in html
    await shared_chat(alice, clock, "only one")
    html = (await dashboard(client, "?query=nothing-like-this")).text
    assert "No shares match these filters" in html and "No shared chats yet" not in html
    assert titles(html) == []


async def test_done_notices_come_from_our_table_only(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    await log_in(client, alice)
    assert "Revoked 2 shared chats." in (await dashboard(client, "?done=revoke&n=2")).text
    html = (await dashboard(client, "?done=%3Cb%3Eowned%3C/b%3E&n=1")).text
    assert "owned" not in html


# --- actions -----------------------------------------------------------------------------------

async def post_action(client: httpx.AsyncClient, csrf: str, action: str, chat_ids: list[str],
                      back: str = "") -> httpx.Response:
    return await client.post("/shared/actions", headers=HTML, data={
        "csrf_token": csrf, "action": action, "chat_ids": chat_ids, "back": back})


async def test_row_actions_revoke_restore_reset_and_return_to_the_same_page(
    client: httpx.AsyncClient, alice: UserClient, clock: Clock
) -> None:
    made = await zoo(alice, client, clock)
    alpha = made["alpha"]["chat_id"]
    csrf = await log_in(client, alice)
    r = await post_action(client, csrf, "revoke", [alpha], back="status=active&page_size=10")
    assert r.status_code == 303
    assert r.headers["location"] == "/shared?status=active&page_size=10&done=revoke&n=1"
    assert (await own_share(alice, alpha))["status"] == "revoked"
    html = (await dashboard(client, "?status=active&page_size=10&done=revoke&n=1")).text
    assert "Revoked 1 shared chat." in html and "alpha report" not in titles(html)

    r = await post_action(client, csrf, "restore", [alpha])
    assert r.status_code == 303 and r.headers["location"] == "/shared?done=restore&n=1"
    assert (await own_share(alice, alpha))["status"] == "active"
    assert (await own_share(alice, alpha))["views"] == 1
    r = await post_action(client, csrf, "reset_stats", [alpha])
    assert r.status_code == 303
    assert (await own_share(alice, alpha))["views"] == 0


async def test_bulk_revoke_and_reset_selected(
    client: httpx.AsyncClient, alice: UserClient, clock: Clock
) -> None:
    made = await zoo(alice, client, clock)
    chosen = [made["alpha"]["chat_id"], made["charlie"]["chat_id"]]
    csrf = await log_in(client, alice)
    r = await post_action(client, csrf, "reset_stats", chosen)
    assert r.headers["location"] == "/shared?done=reset_stats&n=2"
    assert (await own_share(alice, chosen[0]))["views"] == 0
    r = await post_action(client, csrf, "revoke", chosen)
    assert r.headers["location"] == "/shared?done=revoke&n=2"
    for chat_id in chosen:
        assert (await own_share(alice, chat_id))["status"] == "revoked"
    assert (await own_share(alice, made["bravo"]["chat_id"]))["status"] == "active"


@pytest.mark.parametrize(("action", "chat_ids", "message"), [
    ("revoke", [], "Select at least one shared chat first."),
    ("explode", ["x"], "Unknown action."),
    ("restore", ["a", "b"], "Restore one link at a time."),
])
async def test_bad_action_forms_show_the_page_with_the_reason(
    client: httpx.AsyncClient, alice: UserClient, clock: Clock, action: str,
    chat_ids: list[str], message: str,
) -> None:
    await shared_chat(alice, clock, "kept")
    csrf = await log_in(client, alice)
    r = await post_action(client, csrf, action, chat_ids, back="query=kep")
    assert r.status_code == 422
    assert message in r.text and titles(r.text) == ["kept"]


async def test_actions_need_the_csrf_token(
    client: httpx.AsyncClient, alice: UserClient, clock: Clock
) -> None:
    share = await shared_chat(alice, clock, "guarded")
    await log_in(client, alice)
    for token in ("", "forged"):
        r = await post_action(client, token, "revoke", [share["chat_id"]])
        assert r.status_code == 403 and "CSRF" in r.text
        r = await client.post("/shared/danger", headers=HTML, data={
            "csrf_token": token, "action": "revoke_all", "confirm": "REVOKE"})
        assert r.status_code == 403
    assert (await own_share(alice, share["chat_id"]))["status"] == "active"


async def test_anonymous_form_posts_are_refused(
    client: httpx.AsyncClient, alice: UserClient, clock: Clock
) -> None:
    share = await shared_chat(alice, clock, "guarded")
    r = await post_action(client, "", "revoke", [share["chat_id"]])
    assert r.status_code == 401
    assert (await own_share(alice, share["chat_id"]))["status"] == "active"


async def test_another_users_chats_in_a_form_change_nothing(
    client: httpx.AsyncClient, alice: UserClient, bob: UserClient, clock: Clock
) -> None:
    theirs = await shared_chat(bob, clock, "bob's")
    await view(client, theirs["share_id"])
    csrf = await log_in(client, alice)
    for action in ("revoke", "reset_stats"):
        r = await post_action(client, csrf, action, [theirs["chat_id"]])
        assert r.status_code == 303 and r.headers["location"].endswith("n=0")
    r = await post_action(client, csrf, "restore", [theirs["chat_id"]])
    assert r.status_code == 404
    after = await own_share(bob, theirs["chat_id"])
    assert (after["status"], after["views"]) == ("active", 1)


async def danger(client: httpx.AsyncClient, csrf: str, action: str, word: str,
                 back: str = "") -> httpx.Response:
    return await client.post("/shared/danger", headers=HTML, data={
        "csrf_token": csrf, "action": action, "confirm": word, "back": back})


@pytest.mark.parametrize(("action", "word"), [
    ("revoke_all", "REVOKE"), ("reset_all", "RESET"), ("clear_revoked", "CLEAR")])
async def test_danger_zone_needs_its_word(
    client: httpx.AsyncClient, alice: UserClient, bob: UserClient, clock: Clock, action: str,
    word: str,
) -> None:
    made = await zoo(alice, client, clock)
    bobs = await shared_chat(bob, clock, "bob's", expires_in=10)
    await bob.http.delete(f"/api/v1/chats/{bobs['chat_id']}/share")
    csrf = await log_in(client, alice)
    before = (await dashboard(client, "?order_by=title&direction=asc")).text
    for wrong in ("", word.lower(), "YES", "REVOKE" if word != "REVOKE" else "CLEAR"):
        r = await danger(client, csrf, action, wrong, back="order_by=title&direction=asc")
        assert r.status_code == 422
        assert f"Type &#34;{word}&#34; to confirm; nothing was changed." in r.text
        assert titles(r.text) == titles(before)
    assert (await own_share(alice, made["alpha"]["chat_id"]))["views"] == 1
    r = await danger(client, csrf, action, word, back="order_by=title&direction=asc")
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"/shared?order_by=title&direction=asc&done={action}")
    after = (await dashboard(client, "?order_by=title")).text
    if action == "revoke_all":
        assert re.findall(r"data-status=\"(\w+)\"", after) == ["revoked"] * 5
    elif action == "reset_all":
        assert (await own_share(alice, made["alpha"]["chat_id"]))["views"] == 0
    else:
        assert "delta plan" not in titles(after) and len(titles(after)) == 4
    assert (await own_share(bob, bobs["chat_id"]))["status"] == "revoked"  # bob's untouched


async def test_unknown_danger_action_is_refused(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    csrf = await log_in(client, alice)
    r = await danger(client, csrf, "delete_everything", "REVOKE")
    assert r.status_code == 422 and "Unknown action." in r.text
