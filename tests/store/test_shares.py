"""Share storage on both databases: the dashboard's SQL agrees with the domain's status, the
view and clone counters enforce their limits, filters, sorting and pagination, bulk changes stay
inside one user's shares, and deleting a conversation takes its share and snapshot with it."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_args

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from salon.domain.conversations import Message
from salon.domain.shares import STATUSES, Share, share_status
from salon.store import conversations as conv_repo
from salon.store import shares as repo
from salon.store.db import transaction
from salon.store.shares import SORT_COLUMNS, ShareFilter, SortColumn
from salon.store.tables import conversations, messages, shares, users

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
EARLIER = NOW - timedelta(days=3)


# --- rows ------------------------------------------------------------------------------------

def new_id() -> str:
    # No hyphens, so ordering by id is the same under any database collation.
    return uuid.uuid4().hex


async def add_user(db: AsyncEngine) -> str:
    user_id = new_id()
    async with transaction(db) as conn:
        await conn.execute(users.insert().values(
            id=user_id, email=f"{user_id}@example.com", name="U", password_hash="x",
            role="user", permissions={}, created_at=EARLIER, updated_at=EARLIER))
    return user_id


def share_row(user_id: str, **values: Any) -> dict[str, Any]:
    """A full ``shares`` row (an active, public snapshot share unless told otherwise); like
    every real share, last updated no earlier than created."""
    row: dict[str, Any] = {
        "id": new_id(), "share_id": new_id(), "conversation_id": new_id(), "user_id": user_id,
        "title": "A chat", "is_public": True, "password_hash": None, "live": False,
        "display_username": False, "allow_cloning": True, "expires_at": None,
        "max_views": None, "max_clones": None, "allow_view_after_clone_limit": False,
        "upto_message_id": None, "views": 0, "clones": 0, "revoked_at": None,
        "content_version": 1, "created_at": EARLIER, "updated_at": EARLIER,
    }
    row.update(values)
    row["updated_at"] = max(row["updated_at"], row["created_at"])
    return row


async def insert_rows(db: AsyncEngine, rows: Sequence[dict[str, Any]]) -> list[Share]:
    """Each row's conversation, then the rows themselves; returns them as domain shares."""
    chats = [{"id": r["conversation_id"], "user_id": r["user_id"], "title": r["title"],
              "slug": "chat", "agent_slug": "salon", "recipe": {}, "file_filters": [],
              "next_seq": 0, "created_at": EARLIER, "updated_at": EARLIER} for r in rows]
    async with transaction(db) as conn:
        await conn.execute(conversations.insert(), chats)
        await conn.execute(shares.insert(), list(rows))
    return [Share(**r) for r in rows]


async def add_share(db: AsyncEngine, user_id: str, **values: Any) -> Share:
    [share] = await insert_rows(db, [share_row(user_id, **values)])
    return share


async def stored(db: AsyncEngine, share_pk: str) -> Share | None:
    async with db.connect() as conn:
        return await repo.get_share(conn, share_pk)


async def all_pages(db: AsyncEngine, user_id: str, f: ShareFilter) -> tuple[list[Share], int]:
    """Every page of a listing, walked in order; checks each page reports the same total."""
    found: list[Share] = []
    totals: set[int] = set()
    page = 1
    async with db.connect() as conn:
        while True:
            items, total = await repo.list_shares(
                conn, user_id=user_id, f=replace(f, page=page), now=NOW)
            totals.add(total)
            found.extend(items)
            if len(items) < f.page_size:
                break
            page += 1
    assert len(totals) == 1, totals
    total = totals.pop()
    assert total == len(found)
    return found, total


# --- status: SQL agrees with the domain --------------------------------------------------------

EXPIRY_CHOICES = [
    None,
    NOW - timedelta(days=1),
    NOW - US,
    NOW,
    NOW.astimezone(timezone(timedelta(hours=5, minutes=30))),  # the same instant, elsewhere
    NOW + US,
    NOW + timedelta(days=1),
]
REVOKED_CHOICES = [None, NOW - timedelta(hours=1)]


def limit_cases(rng: random.Random) -> list[tuple[int | None, int]]:
    """(limit, count) pairs: no limit, under, exactly reached, above (an old lowered limit)."""
    n = rng.randint(1, 6)
    return [(None, rng.randint(0, 9)), (n, n - 1), (n, n), (n, n + rng.randint(1, 3))]


def status_rows(user_id: str) -> list[dict[str, Any]]:
    """Every combination of the columns status depends on, then seeded random extra rows."""
    rng = random.Random(20260301)
    rows = []
    combos = itertools.product(REVOKED_CHOICES, EXPIRY_CHOICES, range(4), range(4),
                               (False, True))
    for revoked_at, expires_at, view_case, clone_case, view_after in combos:
        max_views, views = limit_cases(rng)[view_case]
        max_clones, clones = limit_cases(rng)[clone_case]
        rows.append(share_row(
            user_id, revoked_at=revoked_at, expires_at=expires_at, max_views=max_views,
            views=views, max_clones=max_clones, clones=clones,
            allow_view_after_clone_limit=view_after))
    for _ in range(60):
        rows.append(share_row(
            user_id, revoked_at=rng.choice(REVOKED_CHOICES + [None, None]),
            expires_at=rng.choice(EXPIRY_CHOICES + [None]),
            max_views=rng.choice([None, 0, 1, 2, 3]), views=rng.randint(0, 4),
            max_clones=rng.choice([None, 0, 1, 2, 3]), clones=rng.randint(0, 4),
            allow_view_after_clone_limit=rng.random() < 0.5))
    return rows


async def test_status_filter_agrees_with_domain(db: AsyncEngine) -> None:
    owner, other = await add_user(db), await add_user(db)
    mine = await insert_rows(db, status_rows(owner))
    theirs = await insert_rows(db, status_rows(other)[:40])
    expected = {s.id: share_status(s, now=NOW) for s in mine}
    assert set(expected.values()) == set(STATUSES)  # the data covers every status
    seen: set[str] = set()
    for status in STATUSES:
        found, _ = await all_pages(db, owner, ShareFilter(status=status, page_size=100))
        ids = [s.id for s in found]
        assert len(ids) == len(set(ids))
        assert set(ids) == {pk for pk, st in expected.items() if st == status}, status
        seen |= set(ids)
    assert seen == set(expected)  # the three filters split the shares exactly
    assert not seen & {s.id for s in theirs}


async def status_by_filter(db: AsyncEngine, owner: str, share_pk: str) -> set[str]:
    """The statuses whose dashboard filter finds the share (exactly one, when correct)."""
    found = set()
    for status in STATUSES:
        shares_found, _ = await all_pages(db, owner, ShareFilter(status=status, page_size=100))
        if any(s.id == share_pk for s in shares_found):
            found.add(status)
    return found


async def test_derived_state_follows_every_kind_of_update(db: AsyncEngine) -> None:
    """The stored state behind the filter (generated on PostgreSQL, trigger-kept on SQLite)
    changes in the same statement as its inputs, whichever statement that is."""
    owner = await add_user(db)
    share = await add_share(db, owner, max_views=2, max_clones=1,
                            allow_view_after_clone_limit=False)
    steps: list[tuple[str, dict[str, Any] | None]] = [
        ("view", None), ("view", None),                                 # views used up
        ("update", {"max_views": None}),                                # limit lifted
        ("clone", None),                                                # clone limit: revoked
        ("update", {"allow_view_after_clone_limit": True}),             # viewable again
        ("update", {"revoked_at": NOW}),                                # revoked by hand
        ("update", {"revoked_at": None, "expires_at": NOW - timedelta(seconds=1)}),
        ("update", {"password_hash": "$argon2id$x"}),
    ]
    for kind, values in steps:
        async with transaction(db) as conn:
            if kind == "view":
                await repo.count_view(conn, share.id, now=NOW)
            elif kind == "clone":
                await repo.count_clone(conn, share.id, now=NOW)
            else:
                await repo.update_share(conn, share.id, **(values or {}))
        current = await stored(db, share.id)
        assert current is not None
        assert await status_by_filter(db, owner, share.id) == {share_status(current, now=NOW)}
    found, _ = await all_pages(db, owner, ShareFilter(password=True))
    assert [s.id for s in found] == [share.id]


async def test_last_update_never_precedes_creation(db: AsyncEngine) -> None:
    owner = await add_user(db)
    share = await add_share(db, owner, created_at=EARLIER, updated_at=EARLIER)
    async with transaction(db) as conn:  # a clock that went backwards
        await repo.update_share(conn, share.id, title="x",
                                updated_at=EARLIER - timedelta(hours=1))
    current = await stored(db, share.id)
    assert current is not None and current.updated_at == EARLIER
    found, _ = await all_pages(db, owner, ShareFilter(start=EARLIER, order_by="updated_at"))
    assert [s.id for s in found] == [share.id]


async def test_share_summaries_carry_the_domain_status(db: AsyncEngine) -> None:
    owner, other = await add_user(db), await add_user(db)
    rows = status_rows(owner)
    base = EARLIER - timedelta(days=1)
    rng = random.Random(7)
    for row in rows:  # distinct creation times in shuffled order: summaries come oldest first
        row["created_at"] = base + timedelta(minutes=rng.randrange(1_000_000))
        row["live"] = rng.random() < 0.5
    mine = await insert_rows(db, rows)
    await insert_rows(db, status_rows(other)[:10])
    async with db.connect() as conn:
        summaries = await repo.share_summaries(conn, user_id=owner, now=NOW)
    oldest_first = sorted(mine, key=lambda s: (s.created_at, s.id))
    assert [x["share_id"] for x in summaries] == [s.share_id for s in oldest_first]
    by_link = {s.share_id: s for s in mine}
    for summary in summaries:
        share = by_link[summary["share_id"]]
        assert summary == {"share_id": share.share_id, "chat_id": share.conversation_id,
                           "title": share.title, "type": share.type,
                           "status": share_status(share, now=NOW)}


async def test_sorting_by_status_orders_by_the_status_string(db: AsyncEngine) -> None:
    owner = await add_user(db)
    mine = await insert_rows(db, status_rows(owner))
    for direction in ("asc", "desc"):
        found, total = await all_pages(
            db, owner, ShareFilter(order_by="status", direction=direction, page_size=100))
        statuses = [share_status(s, now=NOW) for s in found]
        assert total == len(mine)
        assert statuses == sorted(statuses, reverse=direction == "desc")
        assert statuses[0] == ("active" if direction == "asc" else "revoked")


# --- the counters ----------------------------------------------------------------------------

async def spend_view(db: AsyncEngine, share_pk: str, now: datetime = NOW) -> int | None:
    async with transaction(db) as conn:
        return await repo.count_view(conn, share_pk, now=now)


async def spend_clone(db: AsyncEngine, share_pk: str, now: datetime = NOW) -> int | None:
    async with transaction(db) as conn:
        return await repo.count_clone(conn, share_pk, now=now)


@pytest.mark.parametrize("limit", [1, 4])
async def test_count_view_stops_at_the_limit(db: AsyncEngine, limit: int) -> None:
    share = await add_share(db, await add_user(db), max_views=limit)
    results = [await spend_view(db, share.id) for _ in range(limit + 3)]
    assert results == [*range(1, limit + 1), None, None, None]
    after = await stored(db, share.id)
    assert after is not None and after.views == limit
    assert share_status(after, now=NOW) == "expired"


async def test_count_view_without_a_limit_always_counts(db: AsyncEngine) -> None:
    share = await add_share(db, await add_user(db), views=41)
    assert [await spend_view(db, share.id) for _ in range(5)] == [42, 43, 44, 45, 46]


@pytest.mark.parametrize("values", [
    {"revoked_at": NOW - timedelta(minutes=1)},
    {"revoked_at": NOW - timedelta(minutes=1), "max_views": 10, "views": 2},
    {"expires_at": NOW - timedelta(minutes=1)},
    {"expires_at": NOW},
    {"max_views": 3, "views": 3},
    {"max_views": 3, "views": 5},
    {"max_clones": 2, "clones": 2},  # the clone limit revokes the link
], ids=["revoked", "revoked-with-views-left", "expired", "expires-now", "views-used",
        "views-above-limit", "clone-limit"])
async def test_count_view_refuses_shares_that_cannot_be_seen(
    db: AsyncEngine, values: dict[str, Any]
) -> None:
    share = await add_share(db, await add_user(db), **values)
    assert await spend_view(db, share.id) is None
    after = await stored(db, share.id)
    assert after is not None and after.views == share.views


async def test_count_view_just_before_expiry_and_after_clone_limit_kept_viewable(
    db: AsyncEngine,
) -> None:
    user = await add_user(db)
    soon = await add_share(db, user, expires_at=NOW + US)
    assert await spend_view(db, soon.id) == 1
    assert await spend_view(db, soon.id, now=NOW + US) is None
    kept = await add_share(db, user, max_clones=1, clones=1, allow_view_after_clone_limit=True)
    assert await spend_view(db, kept.id) == 1


async def test_count_view_of_an_unknown_share_is_none(db: AsyncEngine) -> None:
    assert await spend_view(db, new_id()) is None


@pytest.mark.parametrize("view_after", [False, True])
async def test_count_clone_stops_at_the_limit(db: AsyncEngine, view_after: bool) -> None:
    share = await add_share(db, await add_user(db), max_clones=2,
                            allow_view_after_clone_limit=view_after)
    assert [await spend_clone(db, share.id) for _ in range(5)] == [1, 2, None, None, None]
    after = await stored(db, share.id)
    assert after is not None and after.clones == 2
    assert share_status(after, now=NOW) == ("active" if view_after else "revoked")
    # Viewing goes on only when the owner allowed it after the clone limit.
    assert (await spend_view(db, share.id) is not None) is view_after


async def test_count_clone_without_a_limit_always_counts(db: AsyncEngine) -> None:
    share = await add_share(db, await add_user(db), clones=7)
    assert [await spend_clone(db, share.id) for _ in range(3)] == [8, 9, 10]


@pytest.mark.parametrize("values", [
    {"allow_cloning": False},
    {"allow_cloning": False, "max_clones": 5},
    {"revoked_at": NOW - timedelta(minutes=1)},
    {"expires_at": NOW},
    {"max_views": 2, "views": 2},
    {"max_clones": 1, "clones": 3, "allow_view_after_clone_limit": True},
], ids=["cloning-off", "cloning-off-with-limit", "revoked", "expired", "views-used",
        "above-limit"])
async def test_count_clone_refusals(db: AsyncEngine, values: dict[str, Any]) -> None:
    share = await add_share(db, await add_user(db), **values)
    assert await spend_clone(db, share.id) is None
    after = await stored(db, share.id)
    assert after is not None and after.clones == share.clones and after.views == share.views


# --- dashboard filters ------------------------------------------------------------------------

FILTER_TITLES = ["Alpha report", "alpha 100% done", "Percent 100 done", "under_score",
                 "underXscore", "back\\slash", "BETA notes", "gamma"]


async def filter_fixture(db: AsyncEngine) -> tuple[str, list[Share], list[Share]]:
    """A user with varied shares and another user whose shares match every filter too."""
    owner, other = await add_user(db), await add_user(db)
    rows = []
    for i, title in enumerate(FILTER_TITLES):
        rows.append(share_row(
            owner, title=title, created_at=EARLIER + timedelta(hours=i),
            is_public=i % 2 == 0, password_hash="hash" if i % 3 == 0 else None,
            live=i % 4 < 2, revoked_at=NOW if i == 5 else None,
            expires_at=NOW - US if i == 6 else None))
    mine = await insert_rows(db, rows)
    theirs = await insert_rows(db, [
        share_row(other, title=title, created_at=EARLIER + timedelta(hours=i),
                  is_public=i % 2 == 1, password_hash="hash" if i % 2 else None, live=i % 2 == 0)
        for i, title in enumerate(FILTER_TITLES)])
    return owner, mine, theirs


def titles(found: Sequence[Share]) -> set[str]:
    return {s.title for s in found}


async def test_filter_query_is_a_literal_case_insensitive_substring(db: AsyncEngine) -> None:
    owner, mine, theirs = await filter_fixture(db)
    cases = {
        "ALPHA": {"Alpha report", "alpha 100% done"},
        "alpha 1": {"alpha 100% done"},
        "100%": {"alpha 100% done"},
        "%": {"alpha 100% done"},
        "0% d": {"alpha 100% done"},
        "_": {"under_score"},
        "r_s": {"under_score"},
        "\\": {"back\\slash"},
        "k\\s": {"back\\slash"},
        "beta": {"BETA notes"},
        "Done": {"alpha 100% done", "Percent 100 done"},
        "nothing like this": set(),
    }
    for query, expected in cases.items():
        found, total = await all_pages(db, owner, ShareFilter(query=query, page_size=100))
        assert titles(found) == expected, query
        assert total == len(expected)
        assert not {s.id for s in found} & {s.id for s in theirs}


async def test_filter_by_creation_window(db: AsyncEngine) -> None:
    owner, mine, _ = await filter_fixture(db)
    start, end = EARLIER + timedelta(hours=2), EARLIER + timedelta(hours=5)
    cases = [
        (ShareFilter(start=start), lambda s: s.created_at >= start),
        (ShareFilter(end=end), lambda s: s.created_at < end),
        (ShareFilter(start=start, end=end), lambda s: start <= s.created_at < end),
        (ShareFilter(start=start + US, end=end + US), lambda s: start < s.created_at <= end),
        (ShareFilter(start=end, end=start), lambda s: False),
    ]
    for f, keep in cases:
        found, _ = await all_pages(db, owner, f)
        assert {s.id for s in found} == {s.id for s in mine if keep(s)}, f


async def test_filter_by_visibility_password_and_type(db: AsyncEngine) -> None:
    owner, mine, _ = await filter_fixture(db)
    cases: list[tuple[ShareFilter, Callable[[Share], bool]]] = [
        (ShareFilter(visibility="public"), lambda s: s.is_public),
        (ShareFilter(visibility="private"), lambda s: not s.is_public),
        (ShareFilter(password=True), lambda s: s.has_password),
        (ShareFilter(password=False), lambda s: not s.has_password),
        (ShareFilter(type="live"), lambda s: s.live),
        (ShareFilter(type="snapshot"), lambda s: not s.live),
        (ShareFilter(visibility="public", password=True, type="snapshot"),
         lambda s: s.is_public and s.has_password and not s.live),
        (ShareFilter(query="done", visibility="private"),
         lambda s: "done" in s.title.lower() and not s.is_public),
        (ShareFilter(status="active", type="live"),
         lambda s: share_status(s, now=NOW) == "active" and s.live),
    ]
    for f, keep in cases:
        found, _ = await all_pages(db, owner, f)
        expected = {s.id for s in mine if keep(s)}
        assert expected and expected != {s.id for s in mine}, f  # each filter really filters
        assert {s.id for s in found} == expected, f


# --- dashboard sorting and pages ---------------------------------------------------------------

def sort_key(column: str) -> Callable[[Share], Any]:
    special: dict[str, Callable[[Share], Any]] = {
        "has_password": lambda s: s.has_password,
        "status": lambda s: share_status(s, now=NOW),
        "type": lambda s: s.type,
    }
    return special.get(column, lambda s: getattr(s, column))


async def sort_fixture(db: AsyncEngine) -> tuple[str, list[Share]]:
    """Many ties in every column (the id decides them); strings are plain lowercase letters,
    so the expected order is the same under any database collation."""
    owner, other = await add_user(db), await add_user(db)
    rng = random.Random(99)
    letters = "abcdefghij"
    rows = []
    for _ in range(37):
        rows.append(share_row(
            owner, title=rng.choice(["apple", "banana", "cherry", "banana split"]),
            share_id="".join(rng.choice(letters) for _ in range(6)),
            created_at=EARLIER + timedelta(hours=rng.randint(0, 5)),
            updated_at=EARLIER + timedelta(minutes=rng.randint(0, 5)),
            is_public=rng.random() < 0.5, password_hash=rng.choice([None, "h"]),
            live=rng.random() < 0.5, views=rng.randint(0, 3), clones=rng.randint(0, 3),
            max_views=rng.choice([None, 3]), max_clones=rng.choice([None, 3]),
            revoked_at=rng.choice([None, None, None, EARLIER])))
    mine = await insert_rows(db, rows)
    await insert_rows(db, [share_row(other, title="apple") for _ in range(5)])
    return owner, mine


async def test_every_sort_column_both_directions_with_id_tie_break(db: AsyncEngine) -> None:
    owner, mine = await sort_fixture(db)
    assert set(SORT_COLUMNS) == set(get_args(SortColumn))
    for column in SORT_COLUMNS:
        key = sort_key(column)
        ascending = [s.id for s in sorted(mine, key=lambda s: (key(s), s.id))]
        assert len({key(s) for s in mine}) > 1, column  # the column really varies
        for direction in ("asc", "desc"):
            f = ShareFilter(order_by=column, direction=direction, page_size=7)
            found, total = await all_pages(db, owner, f)
            expected = ascending if direction == "asc" else ascending[::-1]
            assert [s.id for s in found] == expected, (column, direction)
            assert total == len(mine)


async def test_pagination_totals_and_pages_past_the_end(db: AsyncEngine) -> None:
    owner, mine = await sort_fixture(db)
    async with db.connect() as conn:
        for page_size in (1, 5, 36, 37, 100):
            pages = []
            for page in range(1, len(mine) // page_size + 3):
                items, total = await repo.list_shares(
                    conn, user_id=owner, f=ShareFilter(page=page, page_size=page_size), now=NOW)
                assert total == len(mine)
                pages.append([s.id for s in items])
            flat = [pk for p in pages for pk in p]
            assert len(flat) == len(set(flat)) == len(mine)
            assert all(len(p) == page_size for p in pages[:len(mine) // page_size])
            assert pages[-1] == []
        items, total = await repo.list_shares(
            conn, user_id=owner, f=ShareFilter(query="apple", page=50), now=NOW)
        assert items == [] and total == sum(s.title == "apple" for s in mine)
        nobody, total = await repo.list_shares(conn, user_id=new_id(), f=ShareFilter(), now=NOW)
        assert nobody == [] and total == 0


async def test_listing_round_trips_every_field(db: AsyncEngine) -> None:
    owner = await add_user(db)
    share = await add_share(
        db, owner, title="Everything", is_public=False, password_hash="argon", live=True,
        display_username=True, allow_cloning=False, expires_at=NOW + timedelta(days=2),
        max_views=9, max_clones=4, allow_view_after_clone_limit=True, upto_message_id=new_id(),
        views=3, clones=1, revoked_at=NOW - timedelta(hours=2), content_version=5,
        created_at=EARLIER + timedelta(microseconds=123456), updated_at=NOW)
    async with db.connect() as conn:
        [listed], total = await repo.list_shares(conn, user_id=owner, f=ShareFilter(), now=NOW)
        assert await repo.get_share_by_link(conn, share.share_id) == share
        assert await repo.get_share_by_link(conn, share.share_id, user_id=new_id()) is None
        assert await repo.get_share_for_conversation(
            conn, share.conversation_id, user_id=owner) == share
    assert (listed, total) == (share, 1)


# --- bulk changes ----------------------------------------------------------------------------

async def test_revoke_shares_is_scoped_to_the_user_and_chats(db: AsyncEngine) -> None:
    alice, bob = await add_user(db), await add_user(db)
    a1, a2, a3, a4 = await insert_rows(db, [
        share_row(alice), share_row(alice), share_row(alice, revoked_at=EARLIER),
        share_row(alice, max_clones=1, clones=1)])
    b1 = await add_share(db, bob)
    async with transaction(db) as conn:
        changed = await repo.revoke_shares(
            conn, user_id=alice, now=NOW, chat_ids=[a1.conversation_id, a3.conversation_id,
                                                    b1.conversation_id, new_id()])
    assert changed == 1
    after = {s.id: await stored(db, s.id) for s in (a1, a2, a3, a4, b1)}
    assert after[a1.id] == Share(**{**vars(a1), "revoked_at": NOW, "updated_at": NOW})
    assert after[a2.id] == a2 and after[a3.id] == a3 and after[b1.id] == b1  # untouched
    async with transaction(db) as conn:
        assert await repo.revoke_shares(conn, user_id=alice, now=NOW, chat_ids=[]) == 0
        assert await repo.revoke_shares(conn, user_id=alice, now=NOW) == 2  # a2 and a4
    for s in (a1, a2, a4):
        revoked = await stored(db, s.id)
        assert revoked is not None and revoked.revoked_at == NOW
    assert await stored(db, a3.id) == a3 and await stored(db, b1.id) == b1


async def test_reset_stats_is_scoped_to_the_user_and_chats(db: AsyncEngine) -> None:
    alice, bob = await add_user(db), await add_user(db)
    a1, a2 = await insert_rows(db, [share_row(alice, views=5, clones=2),
                                    share_row(alice, views=3, clones=3, max_clones=3)])
    b1 = await add_share(db, bob, views=7, clones=1)
    async with transaction(db) as conn:
        assert await repo.reset_stats(conn, user_id=alice, now=NOW,
                                      chat_ids=[a1.conversation_id, b1.conversation_id]) == 1
    assert await stored(db, a1.id) == Share(**{**vars(a1), "views": 0, "clones": 0,
                                               "updated_at": NOW})
    assert await stored(db, a2.id) == a2 and await stored(db, b1.id) == b1
    async with transaction(db) as conn:
        assert await repo.reset_stats(conn, user_id=alice, now=NOW) == 2
    reset = await stored(db, a2.id)
    assert reset is not None and (reset.views, reset.clones) == (0, 0)
    assert share_status(reset, now=NOW) == "active"  # the clone limit no longer revokes it
    assert await stored(db, b1.id) == b1


async def test_delete_revoked_removes_only_the_users_revoked_shares(db: AsyncEngine) -> None:
    alice, bob = await add_user(db), await add_user(db)
    by_hand, by_clones, kept_viewable, expired, active = await insert_rows(db, [
        share_row(alice, revoked_at=EARLIER),
        share_row(alice, max_clones=2, clones=2),
        share_row(alice, max_clones=2, clones=2, allow_view_after_clone_limit=True),
        share_row(alice, expires_at=NOW - timedelta(days=1), max_views=1, views=1),
        share_row(alice)])
    bobs = await add_share(db, bob, revoked_at=EARLIER)
    async with transaction(db) as conn:
        await repo.save_snapshot(conn, by_hand.id, **snapshot_values(by_hand))
        assert await repo.delete_revoked(conn, user_id=alice) == 2
    assert await stored(db, by_hand.id) is None and await stored(db, by_clones.id) is None
    for share in (kept_viewable, expired, active, bobs):
        assert await stored(db, share.id) == share
    async with db.connect() as conn:
        assert await repo.get_snapshot(conn, by_hand.id) is None
        assert await conv_repo.get_conversation(  # the chat stays, only unshared
            conn, by_hand.conversation_id, user_id=alice) is not None
    async with transaction(db) as conn:
        assert await repo.delete_revoked(conn, user_id=alice) == 0


async def test_make_private_changes_only_the_given_users_public_shares(db: AsyncEngine) -> None:
    alice, bob, carol = await add_user(db), await add_user(db), await add_user(db)
    a_public, a_private = await insert_rows(db, [share_row(alice),
                                                 share_row(alice, is_public=False)])
    b_public = await add_share(db, bob)
    c_public = await add_share(db, carol, max_views=3, views=1)
    async with transaction(db) as conn:
        assert await repo.make_private(conn, user_ids=[], now=NOW) == 0
        assert await repo.make_private(conn, user_ids=[alice, carol], now=NOW) == 2
    assert await stored(db, a_public.id) == Share(**{**vars(a_public), "is_public": False,
                                                     "updated_at": NOW})
    assert await stored(db, c_public.id) == Share(**{**vars(c_public), "is_public": False,
                                                     "updated_at": NOW})
    assert await stored(db, a_private.id) == a_private
    assert await stored(db, b_public.id) == b_public
    async with db.connect() as conn:
        owners = dict(await repo.owners_with_public_shares(conn))
    assert set(owners) == {bob}


# --- cascades --------------------------------------------------------------------------------

def snapshot_values(share: Share) -> dict[str, Any]:
    return {"conversation_id": share.conversation_id, "upto_seq": None, "title": "Frozen",
            "recipe": {"model": "m"}, "conversation_created_at": EARLIER,
            "conversation_updated_at": EARLIER, "taken_at": NOW}


async def test_deleting_a_conversation_deletes_its_share_and_snapshot(db: AsyncEngine) -> None:
    owner = await add_user(db)
    doomed, kept = await insert_rows(db, [share_row(owner), share_row(owner)])
    async with transaction(db) as conn:
        for share in (doomed, kept):
            await repo.save_snapshot(conn, share.id, **snapshot_values(share))
    async with transaction(db) as conn:
        assert await conv_repo.delete_conversation(conn, doomed.conversation_id, user_id=owner)
    async with db.connect() as conn:
        assert await repo.get_share(conn, doomed.id) is None
        assert await repo.get_share_by_link(conn, doomed.share_id) is None
        assert await repo.get_share_access(conn, doomed.share_id) is None
        assert await repo.get_snapshot(conn, doomed.id) is None
        assert await repo.get_share(conn, kept.id) == kept
        snap = await repo.get_snapshot(conn, kept.id)
    assert snap is not None and snap["title"] == "Frozen" and snap["taken_at"] == NOW
    async with transaction(db) as conn:  # the link id is free again
        assert not await repo.is_share_id_taken(conn, doomed.share_id)
        assert await repo.is_share_id_taken(conn, kept.share_id)


async def test_saving_a_snapshot_replaces_the_previous_one(db: AsyncEngine) -> None:
    share = await add_share(db, await add_user(db))
    async with transaction(db) as conn:
        await repo.save_snapshot(conn, share.id, **snapshot_values(share))
        await repo.save_snapshot(conn, share.id, **{**snapshot_values(share), "title": "Newer"})
    async with db.connect() as conn:
        snap = await repo.get_snapshot(conn, share.id)
    assert snap is not None and snap["title"] == "Newer"
    async with transaction(db) as conn:
        await repo.delete_snapshot(conn, share.id)
        assert await repo.get_snapshot(conn, share.id) is None


async def test_title_search_folds_case_in_every_alphabet(db: AsyncEngine) -> None:
    owner = await add_user(db)
    await insert_rows(db, [share_row(owner, title=title)
                           for title in ("ÉCLAIR au café", "Straße", "Ωmega")])
    async with db.connect() as conn:
        for query, expected in [("éclair", "ÉCLAIR au café"), ("CAFÉ", "ÉCLAIR au café"),
                                ("STRASSE", None), ("straße", "Straße"), ("ωMEGA", "Ωmega")]:
            items, _ = await repo.list_shares(conn, user_id=owner,
                                              f=ShareFilter(query=query), now=NOW)
            assert [s.title for s in items] == ([expected] if expected else []), query


async def add_messages(db: AsyncEngine, conversation_id: str, roles: Sequence[str]) -> None:
    async with transaction(db) as conn:
        await conv_repo.insert_messages(conn, [
            Message(id=new_id(), conversation_id=conversation_id, seq=seq, role=role,  # type: ignore[arg-type]
                    parts=[{"type": "text", "text": f"{role} {seq}"}],
                    created_at=EARLIER + timedelta(seconds=seq), model="m")
            for seq, role in enumerate(roles)])


async def test_a_snapshot_copies_messages_up_to_the_checkpoint(db: AsyncEngine) -> None:
    share = await add_share(db, await add_user(db))
    await add_messages(db, share.conversation_id, ["system", "user", "assistant", "user"])
    async with transaction(db) as conn:
        await repo.save_snapshot(conn, share.id, **{**snapshot_values(share), "upto_seq": 2})
    async with transaction(db) as conn:  # later turns and edits never reach the snapshot
        await conn.execute(messages.update().values(parts=[{"type": "text", "text": "edited"}]))
    async with db.connect() as conn:
        frozen = await repo.snapshot_messages(conn, share.id)
    assert [(m.seq, m.role, m.parts[0]["text"]) for m in frozen] == [
        (1, "user", "user 1"), (2, "assistant", "assistant 2")]
    assert frozen[1].model == "m" and frozen[1].created_at == EARLIER + timedelta(seconds=2)
    async with transaction(db) as conn:
        await repo.save_snapshot(conn, share.id, **snapshot_values(share))  # "update link"
        assert len(await repo.snapshot_messages(conn, share.id)) == 3
        await conv_repo.delete_conversation(conn, share.conversation_id, user_id=share.user_id)
        assert await repo.snapshot_messages(conn, share.id) == []
