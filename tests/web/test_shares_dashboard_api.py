"""The Shared chats dashboard through the API: the list (filters, sorting, pagination), the
meta summary, bulk actions and the danger zone, on both databases.

A fixed, hand-moved clock (``app.state.ctx.clock``) gives every share a distinct, known
creation time and lets a share expire by time without waiting.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import UserClient

SHARED = "/api/v1/chats/shared"
START = datetime(2026, 1, 30, 8, 0, tzinfo=UTC)
SORT_COLUMNS = ("title", "created_at", "updated_at", "share_id", "is_public", "has_password",
                "views", "clones", "status", "type")


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.current = moment


@pytest.fixture
def clock(app: Any) -> Clock:
    fixed = Clock(START)
    app.state.ctx.clock = fixed
    return fixed


# --- helpers ---------------------------------------------------------------------------------

async def shared_chat(user: UserClient, clock: Clock, title: str, **options: Any) -> dict[str, Any]:
    """A new one-turn chat titled ``title``, shared with ``options``; the clock then moves on a
    minute so every share has its own creation time."""
    chat_id = (await user.chat(title, title=title))["conversationId"]
    share = await user.share(chat_id, **options)
    clock.advance(minutes=1)
    return share


async def listing(user: UserClient, **params: Any) -> dict[str, Any]:
    r = await user.http.get(SHARED, params={"page_size": 100, **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def listed_ids(user: UserClient, **params: Any) -> list[str]:
    return [item["share_id"] for item in (await listing(user, **params))["items"]]


async def own_share(user: UserClient, chat_id: str) -> dict[str, Any]:
    r = await user.http.get(f"/api/v1/chats/{chat_id}/share")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def view(client: httpx.AsyncClient, share_id: str) -> httpx.Response:
    return await client.get(f"/api/v1/chats/share/{share_id}")


async def clone(user: UserClient, share_id: str) -> httpx.Response:
    return await user.http.post(f"/api/v1/chats/{share_id}/clone/shared")


async def meta(user: UserClient) -> dict[str, Any]:
    r = await user.http.get(f"{SHARED}/meta")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def snapshot_state(user: UserClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """Everything the dashboard shows of a user's shares, to compare before and after."""
    return await listing(user, order_by="share_id", direction="asc"), await meta(user)


async def danger(user: UserClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return await user.http.request(method, f"{SHARED}/{path}", **kwargs)


def assert_error(r: httpx.Response, status: int, *codes: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["detail"] and isinstance(body["detail"], str)
    assert body["code"] in codes, body
    return body


async def status_zoo(user: UserClient, bob: UserClient, client: httpx.AsyncClient,
                     clock: Clock) -> dict[str, dict[str, Any]]:
    """One share in each state, reached the way users reach it; returned by name, refreshed."""
    made = {
        "active": await shared_chat(user, clock, "zoo active"),
        "revoked": await shared_chat(user, clock, "zoo revoked"),
        "expired_views": await shared_chat(user, clock, "zoo expired by views", max_views=2),
        "expired_time": await shared_chat(user, clock, "zoo expired by time", expires_in=3600),
        "clone_limit": await shared_chat(user, clock, "zoo clone limit", max_clones=1,
                                         allow_view_after_clone_limit=False),
    }
    r = await user.http.delete(f"/api/v1/chats/{made['revoked']['chat_id']}/share")
    assert r.status_code == 200, r.text
    for _ in range(2):
        assert (await view(client, made["expired_views"]["share_id"])).status_code == 200
    assert (await clone(bob, made["clone_limit"]["share_id"])).status_code == 200
    clock.advance(hours=2)  # past the hour of "expired by time", nothing else has a time limit
    return {name: await own_share(user, s["chat_id"]) for name, s in made.items()}


async def sort_zoo(user: UserClient, bob: UserClient, client: httpx.AsyncClient,
                   clock: Clock) -> list[dict[str, Any]]:
    """Eight shares that differ in every sortable column (titles and link ids are lowercase
    ASCII so that any database collation orders them like Python)."""
    specs: list[tuple[str, dict[str, Any]]] = [
        ("alpha", {}),
        ("bravo", {"is_public": False, "live": True}),
        ("charlie", {"password": "pw-charlie"}),
        ("delta", {"live": True}),
        ("echo", {"max_views": 1}),
        ("foxtrot", {"max_clones": 1}),
        ("golf", {"live": True, "password": "pw-golf", "is_public": False}),
        ("hotel", {"expires_in": 3600}),
    ]
    made = {}
    for title, options in specs:
        made[title] = await shared_chat(user, clock, title, share_id=f"{title[::-1]}x", **options)
    for _ in range(3):
        assert (await view(client, made["alpha"]["share_id"])).status_code == 200
    assert (await view(client, made["echo"]["share_id"])).status_code == 200
    assert (await view(client, made["delta"]["share_id"])).status_code == 200
    assert (await user.http.delete(f"/api/v1/chats/{made['delta']['chat_id']}/share")
            ).status_code == 200
    clock.advance(minutes=1)
    assert (await clone(bob, made["foxtrot"]["share_id"])).status_code == 200
    for _ in range(2):
        assert (await clone(bob, made["bravo"]["share_id"])).status_code == 200
    await user.share(made["alpha"]["chat_id"], display_username=True)  # alpha updated last
    clock.advance(hours=2)  # hotel expires
    return [await own_share(user, s["chat_id"]) for s in made.values()]


def sort_key(column: str) -> Callable[[dict[str, Any]], Any]:
    if column in ("created_at", "updated_at"):
        return lambda item: datetime.fromisoformat(item[column])
    return lambda item: item[column]


# --- the list: shape, defaults, pagination ---------------------------------------------------

async def test_list_shape_items_match_share_json(alice: UserClient, clock: Clock) -> None:
    shares = [await shared_chat(alice, clock, f"chat number {n}") for n in range(3)]
    body = await alice.http.get(SHARED)
    assert body.status_code == 200, body.text
    page = body.json()
    assert set(page) == {"items", "total", "page", "page_size"}
    assert (page["total"], page["page"], page["page_size"]) == (3, 1, 20)
    # Newest first, and each item is exactly the share JSON the share endpoints give.
    assert [i["share_id"] for i in page["items"]] == [s["share_id"] for s in reversed(shares)]
    for item, created in zip(page["items"], reversed(shares), strict=True):
        assert item == created
        assert item == await own_share(alice, item["chat_id"])
    assert set(page["items"][0]) == set(shares[0])


async def test_empty_dashboard_for_a_user_without_shares(alice: UserClient) -> None:
    r = await alice.http.get(SHARED)
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "total": 0, "page": 1, "page_size": 20}
    assert await meta(alice) == {"total": 0, "by_status": {"active": 0, "expired": 0,
                                                           "revoked": 0},
                                 "by_type": {"snapshot": 0, "live": 0}, "items": []}


async def test_dashboard_requires_login(client: httpx.AsyncClient) -> None:
    for method, path, kwargs in [
        ("GET", SHARED, {}),
        ("GET", f"{SHARED}/meta", {}),
        ("POST", f"{SHARED}/bulk", {"json": {"action": "revoke", "chat_ids": []}}),
        ("DELETE", f"{SHARED}/all", {"json": {"confirm": "REVOKE"}}),
        ("POST", f"{SHARED}/all/reset_stats", {"json": {"confirm": "RESET"}}),
        ("DELETE", f"{SHARED}/revoked", {"json": {"confirm": "CLEAR"}}),
    ]:
        r = await client.request(method, path, **kwargs)
        assert r.status_code == 401, (path, r.text)


async def test_page_size_bounds(alice: UserClient, clock: Clock) -> None:
    await shared_chat(alice, clock, "only one")
    ok = await alice.http.get(SHARED, params={"page_size": 100})
    assert ok.status_code == 200 and ok.json()["page_size"] == 100
    for params in ({"page_size": 101}, {"page_size": 0}, {"page": 0}, {"page": -1},
                   {"page": "two"}, {"page_size": "1.5"}):
        assert_error(await alice.http.get(SHARED, params=params), 422, "VALIDATION_ERROR")


async def test_pagination_walks_every_share_once(alice: UserClient, clock: Clock) -> None:
    """Also with many equal sort keys (type, is_public): pages never repeat or skip."""
    made = [await shared_chat(alice, clock, f"page walk {n}", is_public=n % 3 == 0)
            for n in range(7)]
    for order_by, direction in itertools.product(("created_at", "type", "is_public"),
                                                 ("asc", "desc")):
        seen: list[str] = []
        for page in (1, 2, 3):
            r = await alice.http.get(SHARED, params={"page": page, "page_size": 3,
                                                     "order_by": order_by,
                                                     "direction": direction})
            body = r.json()
            assert (body["total"], body["page"], body["page_size"]) == (7, page, 3)
            assert len(body["items"]) == (3 if page < 3 else 1)
            seen += [i["share_id"] for i in body["items"]]
        assert len(seen) == len(set(seen)) == 7
        assert set(seen) == {s["share_id"] for s in made}
        past = (await alice.http.get(SHARED, params={"page": 4, "page_size": 3})).json()
        assert past["items"] == [] and past["total"] == 7
        assert seen == await listed_ids(alice, order_by=order_by, direction=direction)


# --- filters ---------------------------------------------------------------------------------

async def test_query_is_a_case_insensitive_literal_substring(
    alice: UserClient, clock: Clock
) -> None:
    titles = ["Weekly Report", "weekly notes", "100% done", "100 percent", "snake_case tips",
              "snakeXcase", "Other things", "Café Über Alles"]
    ids = {t: (await shared_chat(alice, clock, t))["share_id"] for t in titles}

    async def found(query: str) -> set[str]:
        return {ids_by[i] for i in await listed_ids(alice, query=query)}

    ids_by = {v: k for k, v in ids.items()}
    assert await found("WEEKLY") == {"Weekly Report", "weekly notes"}
    assert await found("rEpOrT") == {"Weekly Report"}
    assert await found("%") == {"100% done"}
    assert await found("100%") == {"100% done"}
    assert await found("_") == {"snake_case tips"}
    assert await found("e_c") == {"snake_case tips"}
    assert await found("\\") == set()
    assert await found("no such title") == set()
    assert await found("thing") == {"Other things"}
    assert await found("ÜBER") == {"Café Über Alles"}  # every alphabet, not only ASCII
    assert await found("café ü") == {"Café Über Alles"}
    assert await found("  report  ") == {"Weekly Report"}  # surrounding spaces ignored
    body = await listing(alice, query="weekly", page_size=1)
    assert body["total"] == 2 and len(body["items"]) == 1
    too_long = await alice.http.get(SHARED, params={"query": "x" * 201})
    assert_error(too_long, 422, "VALIDATION_ERROR")


async def test_start_and_end_dates(alice: UserClient, clock: Clock) -> None:
    moments = {
        "jan30": datetime(2026, 1, 30, 10, 0, tzinfo=UTC),
        "jan31-early": datetime(2026, 1, 31, 0, 0, tzinfo=UTC),
        "jan31-late": datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC),
        "feb01": datetime(2026, 2, 1, 0, 0, tzinfo=UTC),
        "feb02": datetime(2026, 2, 2, 12, 0, tzinfo=UTC),
    }
    ids = {}
    for name, moment in moments.items():
        clock.set(moment)
        ids[(await shared_chat(alice, clock, f"dated {name}"))["share_id"]] = name

    async def found(**params: str) -> set[str]:
        return {ids[i] for i in await listed_ids(alice, **params)}

    assert await found(start="2026-01-31", end="2026-01-31") == {"jan31-early", "jan31-late"}
    assert await found(end="2026-01-31") == {"jan30", "jan31-early", "jan31-late"}
    assert await found(start="2026-02-01") == {"feb01", "feb02"}
    assert await found(start="2026-02-03") == set()
    assert await found(start="2026-01-31T12:00:00Z", end="2026-02-01T06:00:00+00:00") == {
        "jan31-late", "feb01"}
    assert await found(start="2026-01-31T23:59:59") == {"jan31-late", "feb01", "feb02"}
    # Another zone: 2026-02-01T01:00+02:00 is 2026-01-31T23:00Z.
    assert await found(start="2026-02-01T01:00:00+02:00", end="2026-01-31") == {"jan31-late"}
    for params in ({"start": "yesterday"}, {"end": "2026-02-30"}, {"start": "2026-13-01"},
                   {"end": "2026-01-31T25:00:00"}, {"start": "31/01/2026"}, {"end": ""}):
        assert_error(await alice.http.get(SHARED, params=params), 422, "VALIDATION_ERROR")


async def test_visibility_password_and_type_filters(alice: UserClient, clock: Clock) -> None:
    made = {
        "public": await shared_chat(alice, clock, "public snapshot"),
        "private": await shared_chat(alice, clock, "private snapshot", is_public=False),
        "locked": await shared_chat(alice, clock, "public locked live", password="s3cret",
                                    live=True),
        "private-live": await shared_chat(alice, clock, "private live", is_public=False,
                                          live=True),
    }
    names = {s["share_id"]: n for n, s in made.items()}

    async def found(**params: str) -> set[str]:
        return {names[i] for i in await listed_ids(alice, **params)}

    assert await found(visibility="public") == {"public", "locked"}
    assert await found(visibility="private") == {"private", "private-live"}
    assert await found(password="true") == {"locked"}
    assert await found(password="false") == {"public", "private", "private-live"}
    assert await found(type="live") == {"locked", "private-live"}
    assert await found(type="snapshot") == {"public", "private"}
    for item in (await listing(alice, type="live"))["items"]:
        assert item["type"] == "live" and item["live"] is True
    for item in (await listing(alice, password="true"))["items"]:
        assert item["has_password"] is True


async def test_status_filter_matches_each_way_of_ending(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, clock: Clock
) -> None:
    zoo = await status_zoo(alice, bob, client, clock)
    expected = {"active": "active", "revoked": "revoked", "expired_views": "expired",
                "expired_time": "expired", "clone_limit": "revoked"}
    assert {name: s["status"] for name, s in zoo.items()} == expected
    names = {s["share_id"]: n for n, s in zoo.items()}
    for status in ("active", "expired", "revoked"):
        body = await listing(alice, status=status)
        assert {names[i["share_id"]] for i in body["items"]} == {
            n for n, st in expected.items() if st == status}
        assert body["total"] == len(body["items"])
        assert all(i["status"] == status for i in body["items"])
    # The view limit really ended the link, and the counters are the stored ones.
    assert zoo["expired_views"]["views"] == 2
    assert zoo["clone_limit"]["clones"] == 1


async def test_unknown_filter_values_are_refused(alice: UserClient, clock: Clock) -> None:
    await shared_chat(alice, clock, "something")
    for params in ({"visibility": "everyone"}, {"visibility": "PUBLIC"}, {"status": "deleted"},
                   {"status": "Active"}, {"type": "both"}, {"order_by": "owner_id"},
                   {"order_by": "password_hash"}, {"order_by": "id"}, {"direction": "up"},
                   {"direction": "DESC"}, {"password": "maybe"}):
        body = assert_error(await alice.http.get(SHARED, params=params), 422,
                            "VALIDATION_ERROR")
        assert set(body) >= {"detail", "code"}


async def test_filters_combine(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, clock: Clock
) -> None:
    zoo = await status_zoo(alice, bob, client, clock)
    extra = await shared_chat(alice, clock, "zoo private active", is_public=False, live=True)
    other = await shared_chat(alice, clock, "unrelated active")
    names = {s["share_id"]: n for n, s in zoo.items()} | {extra["share_id"]: "private",
                                                         other["share_id"]: "unrelated"}

    async def found(**params: str) -> set[str]:
        return {names[i] for i in await listed_ids(alice, **params)}

    assert await found(query="ZOO", status="active") == {"active", "private"}
    assert await found(query="zoo", status="active", visibility="public") == {"active"}
    assert await found(query="zoo", status="active", type="live") == {"private"}
    assert await found(query="by", status="expired") == {"expired_views", "expired_time"}
    assert await found(query="zoo", status="revoked", password="false") == {
        "revoked", "clone_limit"}
    assert await found(query="zoo", status="revoked", type="live") == set()
    assert await found(status="active", start="2026-01-30", end="2026-01-30") == {
        "active", "private", "unrelated"}
    assert await found(status="active", start="2026-01-31") == set()
    assert await found(status="expired", query="views", end="2026-01-30") == {"expired_views"}
    body = await listing(alice, query="zoo", status="expired", order_by="views",
                         direction="desc")
    assert [names[i["share_id"]] for i in body["items"]] == ["expired_views", "expired_time"]


# --- sorting ---------------------------------------------------------------------------------

async def test_sort_by_every_column_both_ways(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, clock: Clock
) -> None:
    shares = await sort_zoo(alice, bob, client, clock)
    # The zoo really differs in every column.
    for column in SORT_COLUMNS:
        assert len({str(s[column]) for s in shares}) > 1, column
    statuses = {s["title"]: s["status"] for s in shares}
    assert statuses["delta"] == statuses["foxtrot"] == "revoked"
    assert statuses["echo"] == statuses["hotel"] == "expired"
    everything = {s["share_id"] for s in shares}
    for column in SORT_COLUMNS:
        for direction in ("asc", "desc"):
            items = (await listing(alice, order_by=column, direction=direction))["items"]
            assert {i["share_id"] for i in items} == everything
            key = sort_key(column)
            expected = sorted((key(s) for s in shares), reverse=direction == "desc")
            assert [key(i) for i in items] == expected, (column, direction)
    # Columns without ties give one exact order.
    for column in ("title", "share_id", "created_at", "updated_at"):
        items = (await listing(alice, order_by=column, direction="asc"))["items"]
        ordered = sorted(shares, key=sort_key(column))
        assert [i["share_id"] for i in items] == [s["share_id"] for s in ordered], column
    newest_update = (await listing(alice, order_by="updated_at"))["items"][0]
    assert newest_update["title"] == "alpha"


# --- only your own ---------------------------------------------------------------------------

async def test_lists_only_the_callers_shares(
    alice: UserClient, bob: UserClient, make_user: Any, clock: Clock
) -> None:
    alice_ids = {(await shared_chat(alice, clock, f"alice chat {n}"))["share_id"]
                 for n in range(3)}
    bob_share = await shared_chat(bob, clock, "bob chat 0")
    carol = await make_user(name="Carol")
    assert set(await listed_ids(alice)) == alice_ids
    assert await listed_ids(bob) == [bob_share["share_id"]]
    assert await listed_ids(bob, query="alice") == []
    for status in ("active", "expired", "revoked"):
        assert not set(await listed_ids(bob, status=status)) & alice_ids
    bob_meta = await meta(bob)
    assert bob_meta["total"] == 1
    assert [i["share_id"] for i in bob_meta["items"]] == [bob_share["share_id"]]
    assert (await listing(carol))["total"] == 0
    assert (await meta(carol))["items"] == []


# --- meta ------------------------------------------------------------------------------------

async def test_meta_counts_and_items(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, clock: Clock
) -> None:
    zoo = await status_zoo(alice, bob, client, clock)
    live = await shared_chat(alice, clock, "a live one", live=True)
    body = await meta(alice)
    assert body["total"] == 6
    assert body["by_status"] == {"active": 2, "expired": 2, "revoked": 2}
    assert body["by_type"] == {"snapshot": 5, "live": 1}
    everything = [*zoo.values(), await own_share(alice, live["chat_id"])]
    assert len(body["items"]) == 6
    by_id = {i["share_id"]: i for i in body["items"]}
    for share in everything:
        item = by_id[share["share_id"]]
        assert set(item) >= {"share_id", "chat_id", "title", "type", "status"}
        assert (item["chat_id"], item["title"], item["type"], item["status"]) == (
            share["chat_id"], share["title"], share["type"], share["status"])
    # The counts agree with the filtered lists.
    for status, count in body["by_status"].items():
        assert (await listing(alice, status=status))["total"] == count
    for kind, count in body["by_type"].items():
        assert (await listing(alice, type=kind))["total"] == count
    assert (await listing(alice))["total"] == body["total"]


# --- bulk actions ----------------------------------------------------------------------------

async def test_bulk_revoke_touches_only_the_callers_shares(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, clock: Clock
) -> None:
    a1 = await shared_chat(alice, clock, "alice one")
    a2 = await shared_chat(alice, clock, "alice two")
    a3 = await shared_chat(alice, clock, "alice three")
    b1 = await shared_chat(bob, clock, "bob one")
    r = await alice.http.post(f"{SHARED}/bulk", json={
        "action": "revoke", "chat_ids": [a1["chat_id"], a2["chat_id"], b1["chat_id"],
                                         "no-such-chat"]})
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 2
    statuses = {i["share_id"]: i["status"] for i in (await listing(alice))["items"]}
    assert statuses == {a1["share_id"]: "revoked", a2["share_id"]: "revoked",
                        a3["share_id"]: "active"}
    assert (await own_share(bob, b1["chat_id"]))["status"] == "active"
    assert (await view(client, b1["share_id"])).status_code == 200
    gone = await view(client, a1["share_id"])
    assert_error(gone, 410, "SHARE_LINK_REVOKED")
    # Revoking again changes nothing that is already revoked.
    again = await alice.http.post(f"{SHARED}/bulk", json={
        "action": "revoke", "chat_ids": [a1["chat_id"], a2["chat_id"]]})
    assert again.json()["updated"] == 0
    # Bob cannot revoke Alice's shares either.
    r = await bob.http.post(f"{SHARED}/bulk", json={"action": "revoke",
                                                     "chat_ids": [a3["chat_id"]]})
    assert r.status_code == 200 and r.json()["updated"] == 0
    assert (await own_share(alice, a3["chat_id"]))["status"] == "active"


async def test_bulk_reset_stats(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, clock: Clock
) -> None:
    a1 = await shared_chat(alice, clock, "alice counted")
    a2 = await shared_chat(alice, clock, "alice kept")
    b1 = await shared_chat(bob, clock, "bob counted")
    for share in (a1, a2, b1):
        for _ in range(2):
            assert (await view(client, share["share_id"])).status_code == 200
    assert (await clone(bob, a1["share_id"])).status_code == 200
    r = await alice.http.post(f"{SHARED}/bulk", json={
        "action": "reset_stats", "chat_ids": [a1["chat_id"], b1["chat_id"]]})
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 1
    reset = await own_share(alice, a1["chat_id"])
    assert (reset["views"], reset["clones"]) == (0, 0)
    kept = await own_share(alice, a2["chat_id"])
    assert kept["views"] == 2
    assert (await own_share(bob, b1["chat_id"]))["views"] == 2


async def test_bulk_refuses_malformed_requests(alice: UserClient, clock: Clock) -> None:
    share = await shared_chat(alice, clock, "stays as it is")
    before = await snapshot_state(alice)
    for body in (
        {"action": "delete", "chat_ids": [share["chat_id"]]},
        {"action": "REVOKE", "chat_ids": [share["chat_id"]]},
        {"action": "revoke", "chat_ids": share["chat_id"]},
        {"action": "revoke", "chat_ids": {"id": share["chat_id"]}},
        {"action": "revoke", "chat_ids": [share["chat_id"], 7]},
        {"action": "revoke", "chat_ids": [share["chat_id"]] + ["x"] * 1000},
        {"action": "revoke"},
        {"chat_ids": [share["chat_id"]]},
        {"action": "revoke", "chat_ids": [share["chat_id"]], "user_id": "someone"},
    ):
        r = await alice.http.post(f"{SHARED}/bulk", json=body)
        assert_error(r, 422, "VALIDATION_ERROR")
    assert await snapshot_state(alice) == before
    exactly = await alice.http.post(f"{SHARED}/bulk", json={
        "action": "revoke", "chat_ids": ["x"] * 999 + [share["chat_id"]]})
    assert exactly.status_code == 200, exactly.text  # 1000 ids are still fine
    assert exactly.json()["updated"] == 1
    assert (await own_share(alice, share["chat_id"]))["status"] == "revoked"


# --- the danger zone -------------------------------------------------------------------------

async def test_revoke_all(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, clock: Clock
) -> None:
    mine = [await shared_chat(alice, clock, f"alice {n}", **opts)
            for n, opts in enumerate([{}, {"is_public": False}, {"password": "pw"}])]
    theirs = await shared_chat(bob, clock, "bob keeps his")
    r = await danger(alice, "DELETE", "all", json={"confirm": "REVOKE"})
    assert r.status_code == 200, r.text
    assert r.json()["revoked"] == 3
    for share in mine:
        assert_error(await view(client, share["share_id"]), 410, "SHARE_LINK_REVOKED")
        assert (await own_share(alice, share["chat_id"]))["status"] == "revoked"
    assert (await meta(alice))["by_status"] == {"active": 0, "expired": 0, "revoked": 3}
    assert (await view(client, theirs["share_id"])).status_code == 200
    assert (await own_share(bob, theirs["chat_id"]))["status"] == "active"


async def test_reset_all_stats(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, clock: Clock
) -> None:
    mine = [await shared_chat(alice, clock, f"alice {n}") for n in range(2)]
    theirs = await shared_chat(bob, clock, "bob's counts stay")
    for share in (*mine, theirs):
        assert (await view(client, share["share_id"])).status_code == 200
        assert (await clone(bob if share is not theirs else alice, share["share_id"])
                ).status_code == 200
    before = await own_share(bob, theirs["chat_id"])
    # A view, then a clone by someone without that view's grant (it spends a view too).
    assert (before["views"], before["clones"]) == (2, 1)
    r = await danger(alice, "POST", "all/reset_stats", json={"confirm": "RESET"})
    assert r.status_code == 200, r.text
    assert r.json()["reset"] == 2
    for item in (await listing(alice))["items"]:
        assert (item["views"], item["clones"]) == (0, 0)
    kept = await own_share(bob, theirs["chat_id"])
    assert (kept["views"], kept["clones"]) == (2, 1)


async def test_clear_revoked(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, clock: Clock
) -> None:
    kept = await shared_chat(alice, clock, "alice kept")
    cleared = await shared_chat(alice, clock, "alice cleared")
    bobs = await shared_chat(bob, clock, "bob revoked but kept")
    for user, share in ((alice, cleared), (bob, bobs)):
        r = await user.http.delete(f"/api/v1/chats/{share['chat_id']}/share")
        assert r.status_code == 200, r.text
    r = await danger(alice, "DELETE", "revoked", json={"confirm": "CLEAR"})
    assert r.status_code == 200, r.text
    assert r.json()["cleared"] == 1
    assert await listed_ids(alice) == [kept["share_id"]]
    assert_error(await view(client, cleared["share_id"]), 404, "SHARE_LINK_NOT_FOUND")
    assert_error(await view(alice.http, cleared["share_id"]), 404, "SHARE_LINK_NOT_FOUND")
    # The chat is still there, just no longer shared.
    chat = await alice.http.get(f"/api/v1/chats/{cleared['chat_id']}")
    assert chat.status_code == 200, chat.text
    unshared = await alice.http.get(f"/api/v1/chats/{cleared['chat_id']}/share")
    assert_error(unshared, 404, "SHARE_NOT_FOUND")
    # Sharing it again makes a new link; the old one stays dead.
    again = await alice.share(cleared["chat_id"])
    assert again["share_id"] != cleared["share_id"]
    assert again["status"] == "active" and (again["views"], again["clones"]) == (0, 0)
    assert (await view(client, again["share_id"])).status_code == 200
    assert_error(await view(client, cleared["share_id"]), 404, "SHARE_LINK_NOT_FOUND")
    # Bob's revoked share was not Alice's to clear.
    assert (await own_share(bob, bobs["chat_id"]))["status"] == "revoked"
    assert_error(await view(client, bobs["share_id"]), 410, "SHARE_LINK_REVOKED")


async def test_clear_revoked_removes_shares_revoked_by_the_clone_limit(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, clock: Clock
) -> None:
    limited = await shared_chat(alice, clock, "one clone only", max_clones=1,
                                allow_view_after_clone_limit=False)
    viewable = await shared_chat(alice, clock, "still viewable", max_clones=1,
                                 allow_view_after_clone_limit=True)
    for share in (limited, viewable):
        assert (await clone(bob, share["share_id"])).status_code == 200
    assert (await own_share(alice, limited["chat_id"]))["status"] == "revoked"
    assert (await own_share(alice, viewable["chat_id"]))["status"] == "active"
    r = await danger(alice, "DELETE", "revoked", json={"confirm": "CLEAR"})
    assert r.status_code == 200, r.text
    assert r.json()["cleared"] == 1
    assert await listed_ids(alice) == [viewable["share_id"]]
    assert_error(await view(client, limited["share_id"]), 404, "SHARE_LINK_NOT_FOUND")
    assert_error(await alice.http.get(f"/api/v1/chats/{limited['chat_id']}/share"), 404,
                 "SHARE_NOT_FOUND")
    # Bob's clone is his and survives.
    bob_chats = (await bob.http.get("/api/v1/chats/")).json()
    assert "Clone of one clone only" in {c["title"] for c in bob_chats}


DANGER_ROUTES = [("DELETE", "all", "REVOKE"), ("POST", "all/reset_stats", "RESET"),
                 ("DELETE", "revoked", "CLEAR")]


async def test_danger_zone_refuses_without_the_right_word(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, clock: Clock
) -> None:
    await status_zoo(alice, bob, client, clock)
    viewed = await shared_chat(alice, clock, "viewed once")
    assert (await view(client, viewed["share_id"])).status_code == 200
    before = await snapshot_state(alice)
    assert before[1]["by_status"]["revoked"] == 2 and before[1]["by_status"]["active"] == 2
    wrong_words = {"all": ["revoke", "RESET", "CLEAR", "", " REVOKE", "REVOKE "],
                   "all/reset_stats": ["reset", "REVOKE", ""],
                   "revoked": ["clear", "REVOKE", ""]}
    for method, path, word in DANGER_ROUTES:
        for wrong in wrong_words[path]:
            r = await danger(alice, method, path, json={"confirm": wrong})
            assert_error(r, 422, "CONFIRMATION_REQUIRED", "VALIDATION_ERROR")
        for kwargs in ({}, {"json": {}}, {"json": {"confirm": word, "extra": True}},
                       {"json": {"confirm": word, "user_id": bob.id}},
                       {"json": {"confirm": None}}, {"json": {"confirm": [word]}},
                       {"json": [word]}, {"content": b"REVOKE"},
                       {"content": b"{not json", "headers": {"content-type":
                                                              "application/json"}}):
            r = await danger(alice, method, path, **kwargs)
            assert_error(r, 422, "CONFIRMATION_REQUIRED", "VALIDATION_ERROR")
        assert await snapshot_state(alice) == before, (method, path)
    wrong = await danger(alice, "DELETE", "all", json={"confirm": "revoke"})
    assert wrong.json()["code"] == "CONFIRMATION_REQUIRED"
    assert "REVOKE" in wrong.json()["detail"]
    assert (await view(client, viewed["share_id"])).status_code == 200


async def test_bob_danger_zone_never_touches_alice(
    alice: UserClient, bob: UserClient, client: httpx.AsyncClient, clock: Clock
) -> None:
    await status_zoo(alice, bob, client, clock)
    before = await snapshot_state(alice)
    bob_share = await shared_chat(bob, clock, "bob's own")
    assert (await view(client, bob_share["share_id"])).status_code == 200
    for method, path, word in DANGER_ROUTES:
        r = await danger(bob, method, path, json={"confirm": word})
        assert r.status_code == 200, r.text
    assert await snapshot_state(alice) == before
    assert await listed_ids(bob) == []  # revoked, then cleared
    assert_error(await view(client, bob_share["share_id"]), 404, "SHARE_LINK_NOT_FOUND")


# --- secrets ---------------------------------------------------------------------------------

async def test_dashboard_never_exposes_password_hashes(alice: UserClient, clock: Clock) -> None:
    await shared_chat(alice, clock, "locked one", password="hunter2-very-secret")
    await shared_chat(alice, clock, "locked two", password="another-secret", live=True)
    pages = [await alice.http.get(SHARED, params=params) for params in (
        {}, {"password": "true"}, {"order_by": "has_password"}, {"query": "locked"})]
    pages.append(await alice.http.get(f"{SHARED}/meta"))
    for r in pages:
        assert r.status_code == 200, r.text
        text = r.text.lower()
        for secret in ("argon2", "$argon", "hunter2-very-secret", "another-secret",
                       "password_hash"):
            assert secret not in text
    items = (await listing(alice))["items"]
    assert all(i["has_password"] is True for i in items)
