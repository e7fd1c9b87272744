"""The sharing rules with a fixed clock: status, the access decision and its order, cloning,
limits, expiry, restoring, the expiry sentence, and the allow-listed cut a viewer sees."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salon.domain.conversations import PART_FIELDS, Message
from salon.domain.errors import Forbidden, Gone, InvalidInput, NotFound, Unauthenticated
from salon.domain.shares import (
    MAX_EXPIRES_IN,
    MAX_LIMIT,
    PUBLIC_PART_FIELDS,
    Share,
    SharedFile,
    adjust_limit,
    can_clone,
    clone_refusal,
    cut_messages,
    decide_access,
    expiry_from,
    expiry_summary,
    format_when,
    public_part,
    restored_values,
    share_status,
    shared_content,
)

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
OWNER = "user-owner"
STRANGER = "user-stranger"
VIEWERS = {"anonymous": None, "stranger": STRANGER, "owner": OWNER}

# The spec's words ("Troubleshooting Shared Links"), written out here on purpose.
SPEC_MESSAGES = {
    "SHARE_LINK_NOT_FOUND": "Oops! The shared link you're trying to access doesn't exist. It "
                            "might have been deleted or there might be a typo in the URL.",
    "SHARE_LINK_REVOKED": "The owner of this chat has revoked this sharing link.",
    "SHARE_LINK_EXPIRED": "This shared link has expired and is no longer accessible.",
}
ERROR_CLASSES = {
    "SHARE_LINK_NOT_FOUND": NotFound, "SHARING_DISABLED": Forbidden,
    "SHARE_LINK_REVOKED": Gone, "SHARE_LINK_EXPIRED": Gone,
    "LOGIN_REQUIRED": Unauthenticated, "PASSWORD_REQUIRED": Unauthenticated,
}


def make_share(**overrides: Any) -> Share:
    """An active, public, password-less share without limits, owned by OWNER."""
    values: dict[str, Any] = {
        "id": "row-1", "share_id": "the-link", "conversation_id": "conv-1", "user_id": OWNER,
        "title": "A chat", "is_public": True, "password_hash": None, "live": False,
        "display_username": False, "allow_cloning": True, "expires_at": None,
        "max_views": None, "max_clones": None, "allow_view_after_clone_limit": False,
        "upto_message_id": None, "views": 0, "clones": 0, "revoked_at": None,
        "created_at": NOW - timedelta(days=3), "updated_at": NOW - timedelta(days=1),
    }
    values.update(overrides)
    return Share(**values)


def oracle_status(share: Share, now: datetime) -> str:
    """The spec's status, written independently of the code under test."""
    clone_limit = share.max_clones is not None and share.clones >= share.max_clones
    if share.revoked_at is not None or (clone_limit and not share.allow_view_after_clone_limit):
        return "revoked"
    by_time = share.expires_at is not None and share.expires_at <= now
    by_views = share.max_views is not None and share.views >= share.max_views
    return "expired" if by_time or by_views else "active"


# --- share_status --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "active"),
        ({"revoked_at": NOW - HOUR}, "revoked"),
        ({"revoked_at": NOW + HOUR}, "revoked"),  # set at all means revoked
        ({"max_clones": 3, "clones": 2}, "active"),
        ({"max_clones": 3, "clones": 3}, "revoked"),
        ({"max_clones": 3, "clones": 4}, "revoked"),
        ({"max_clones": 3, "clones": 3, "allow_view_after_clone_limit": True}, "active"),
        ({"max_clones": 1, "clones": 9, "allow_view_after_clone_limit": True}, "active"),
        ({"expires_at": None}, "active"),
        ({"expires_at": NOW - HOUR}, "expired"),
        ({"expires_at": NOW - SECOND}, "expired"),
        ({"expires_at": NOW}, "expired"),  # the boundary: at expires_at it is over
        ({"expires_at": NOW + SECOND}, "active"),
        ({"expires_at": NOW + timedelta(microseconds=1)}, "active"),
        ({"expires_at": NOW.astimezone(timezone(timedelta(hours=2)))}, "expired"),
        ({"expires_at": (NOW + SECOND).astimezone(timezone(timedelta(hours=-5)))}, "active"),
        ({"max_views": 5, "views": 4}, "active"),
        ({"max_views": 5, "views": 5}, "expired"),
        ({"max_views": 5, "views": 6}, "expired"),
        ({"max_views": None, "views": 10**9}, "active"),
        ({"max_clones": None, "clones": 10**9}, "active"),
        ({"revoked_at": NOW - HOUR, "expires_at": NOW - HOUR}, "revoked"),
        ({"revoked_at": NOW - HOUR, "max_views": 1, "views": 1}, "revoked"),
        ({"max_clones": 1, "clones": 1, "expires_at": NOW - HOUR}, "revoked"),
        ({"max_clones": 1, "clones": 1, "allow_view_after_clone_limit": True,
          "expires_at": NOW}, "expired"),
        ({"max_clones": 1, "clones": 1, "allow_view_after_clone_limit": True,
          "max_views": 2, "views": 2}, "expired"),
        ({"expires_at": NOW + HOUR, "max_views": 2, "views": 2}, "expired"),
        ({"expires_at": NOW - HOUR, "max_views": 2, "views": 0}, "expired"),
    ],
)
def test_share_status_table(overrides: dict[str, Any], expected: str) -> None:
    assert share_status(make_share(**overrides), now=NOW) == expected


REVOKED = {"no": None, "yes": NOW - HOUR}
CLONES = {"unlimited": {}, "under": {"max_clones": 2, "clones": 1},
          "reached": {"max_clones": 2, "clones": 2}}
TIMES = {"none": None, "past": NOW - HOUR, "now": NOW, "future": NOW + HOUR}
VIEWS = {"unlimited": {}, "under": {"max_views": 3, "views": 2},
         "reached": {"max_views": 3, "views": 3}}
STATUS_MATRIX = [
    pytest.param(revoked, clones, allow_view, when, views,
                 id=f"revoked={revoked}-clones={clones}-viewable={allow_view}-time={when}"
                    f"-views={views}")
    for revoked, clones, allow_view, when, views in itertools.product(
        REVOKED, CLONES, [False, True], TIMES, VIEWS)
]


@pytest.mark.parametrize(("revoked", "clones", "allow_view", "when", "views"), STATUS_MATRIX)
def test_share_status_full_matrix(
    revoked: str, clones: str, allow_view: bool, when: str, views: str
) -> None:
    share = make_share(revoked_at=REVOKED[revoked], allow_view_after_clone_limit=allow_view,
                       expires_at=TIMES[when], **CLONES[clones], **VIEWS[views])
    if revoked == "yes" or (clones == "reached" and not allow_view):
        expected = "revoked"
    elif when in ("past", "now") or views == "reached":
        expected = "expired"
    else:
        expected = "active"
    assert share_status(share, now=NOW) == expected


moments = st.one_of(
    st.sampled_from([NOW - HOUR, NOW - SECOND, NOW, NOW + SECOND, NOW + HOUR]),
    st.integers(-10**8, 10**8).map(lambda s: NOW + timedelta(seconds=s)),
)


@st.composite
def shares(draw: st.DrawFn) -> Share:
    return make_share(
        is_public=draw(st.booleans()),
        password_hash=draw(st.sampled_from([None, "argon2-hash"])),
        live=draw(st.booleans()),
        allow_cloning=draw(st.booleans()),
        expires_at=draw(st.none() | moments),
        max_views=draw(st.none() | st.integers(1, 5)),
        views=draw(st.integers(0, 7)),
        max_clones=draw(st.none() | st.integers(1, 5)),
        clones=draw(st.integers(0, 7)),
        allow_view_after_clone_limit=draw(st.booleans()),
        revoked_at=draw(st.none() | moments),
    )


@given(share=shares())
def test_share_status_agrees_with_the_spec_for_any_share(share: Share) -> None:
    assert share_status(share, now=NOW) == oracle_status(share, NOW)


@given(share=shares(), later=st.integers(0, 10**9))
def test_an_ended_share_never_comes_back_as_time_passes(share: Share, later: int) -> None:
    before = share_status(share, now=NOW)
    after = share_status(share, now=NOW + timedelta(seconds=later))
    if before != "active":
        assert after == before


# --- decide_access --------------------------------------------------------------------------

STATES: dict[str, tuple[dict[str, Any], str]] = {
    "active": ({}, "active"),
    "active-under-limits": ({"expires_at": NOW + SECOND, "max_views": 5, "views": 4,
                             "max_clones": 2, "clones": 1}, "active"),
    "clone-limit-but-viewable": ({"max_clones": 2, "clones": 2,
                                  "allow_view_after_clone_limit": True}, "active"),
    "revoked-by-hand": ({"revoked_at": NOW - HOUR}, "revoked"),
    "revoked-by-clones": ({"max_clones": 2, "clones": 2}, "revoked"),
    "expired-by-time": ({"expires_at": NOW - SECOND}, "expired"),
    "expires-exactly-now": ({"expires_at": NOW}, "expired"),
    "expired-by-views": ({"max_views": 3, "views": 3}, "expired"),
    "revoked-and-expired": ({"revoked_at": NOW - HOUR, "expires_at": NOW - HOUR,
                             "max_views": 1, "views": 1}, "revoked"),
}


def expected_outcome(state: str, viewer: str, *, is_public: bool, has_password: bool,
                     password_ok: bool, sharing_enabled: bool, public_allowed: bool) -> str:
    """The spec's order, as a table would state it: an error code, "OWNER" or "VIEW"."""
    status = STATES[state][1]
    if not sharing_enabled:
        return "SHARING_DISABLED"
    if viewer == "owner":
        return "OWNER"
    if status == "revoked":
        return "SHARE_LINK_REVOKED"
    if status == "expired":
        return "SHARE_LINK_EXPIRED"
    if viewer == "anonymous" and not (is_public and public_allowed):
        return "LOGIN_REQUIRED"
    if has_password and not password_ok:
        return "PASSWORD_REQUIRED"
    return "VIEW"


ACCESS_MATRIX = [
    pytest.param(state, viewer, *flags,
                 id=f"{state}-{viewer}-public={flags[0]}-pw={flags[1]}-pwok={flags[2]}"
                    f"-enabled={flags[3]}-publicallowed={flags[4]}")
    for state, viewer in itertools.product(STATES, VIEWERS)
    for flags in itertools.product([True, False], repeat=5)
]


@pytest.mark.parametrize(
    ("state", "viewer", "is_public", "has_password", "password_ok", "sharing_enabled",
     "public_allowed"),
    ACCESS_MATRIX,
)
def test_decide_access_matrix(
    state: str, viewer: str, is_public: bool, has_password: bool, password_ok: bool,
    sharing_enabled: bool, public_allowed: bool,
) -> None:
    share = make_share(is_public=is_public, password_hash="hash" if has_password else None,
                       **STATES[state][0])
    decision = decide_access(share, viewer_id=VIEWERS[viewer], now=NOW, password_ok=password_ok,
                             sharing_enabled=sharing_enabled, public_allowed=public_allowed)
    expected = expected_outcome(state, viewer, is_public=is_public, has_password=has_password,
                                password_ok=password_ok, sharing_enabled=sharing_enabled,
                                public_allowed=public_allowed)
    if expected == "OWNER":
        assert decision.allowed and decision.is_owner and not decision.counts_view
        assert decision.error is None
    elif expected == "VIEW":
        assert decision.allowed and decision.counts_view and not decision.is_owner
        assert decision.error is None
    else:
        assert not decision.allowed and not decision.counts_view and not decision.is_owner
        assert decision.error is not None and decision.error.code == expected
        assert isinstance(decision.error, ERROR_CLASSES[expected])
        if expected in SPEC_MESSAGES:
            assert decision.error.detail == SPEC_MESSAGES[expected]


@pytest.mark.parametrize("viewer", list(VIEWERS.values()))
@pytest.mark.parametrize("flags", list(itertools.product([True, False], repeat=3)))
def test_a_missing_share_is_not_found_whatever_else(
    viewer: str | None, flags: tuple[bool, bool, bool]
) -> None:
    password_ok, sharing_enabled, public_allowed = flags
    decision = decide_access(None, viewer_id=viewer, now=NOW, password_ok=password_ok,
                             sharing_enabled=sharing_enabled, public_allowed=public_allowed)
    assert not decision.allowed and not decision.counts_view
    assert isinstance(decision.error, NotFound)
    assert decision.error.code == "SHARE_LINK_NOT_FOUND"
    assert decision.error.detail == SPEC_MESSAGES["SHARE_LINK_NOT_FOUND"]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [({"revoked_at": NOW - HOUR}, "SHARE_LINK_REVOKED"),
     ({"expires_at": NOW}, "SHARE_LINK_EXPIRED"),
     ({"max_views": 1, "views": 1}, "SHARE_LINK_EXPIRED")],
)
def test_the_spec_messages_for_revoked_and_expired(overrides: dict[str, Any], code: str) -> None:
    decision = decide_access(make_share(**overrides), viewer_id=None, now=NOW, password_ok=False)
    assert decision.error is not None
    assert (decision.error.code, decision.error.detail) == (code, SPEC_MESSAGES[code])


def test_the_defaults_are_sharing_on_and_public_allowed() -> None:
    decision = decide_access(make_share(), viewer_id=None, now=NOW, password_ok=False)
    assert decision.allowed and decision.counts_view


def test_a_public_share_whose_owner_lost_the_public_permission_is_logged_in_only() -> None:
    share = make_share(is_public=True)
    anonymous = decide_access(share, viewer_id=None, now=NOW, password_ok=True,
                              public_allowed=False)
    stranger = decide_access(share, viewer_id=STRANGER, now=NOW, password_ok=True,
                             public_allowed=False)
    assert anonymous.error is not None and anonymous.error.code == "LOGIN_REQUIRED"
    assert stranger.allowed and stranger.counts_view


@given(share=st.none() | shares(), viewer=st.sampled_from(list(VIEWERS.values())),
       password_ok=st.booleans(), sharing_enabled=st.booleans(), public_allowed=st.booleans())
def test_the_refusal_order_holds_for_any_share(
    share: Share | None, viewer: str | None, password_ok: bool, sharing_enabled: bool,
    public_allowed: bool,
) -> None:
    decision = decide_access(share, viewer_id=viewer, now=NOW, password_ok=password_ok,
                             sharing_enabled=sharing_enabled, public_allowed=public_allowed)
    code = decision.error.code if decision.error else None
    assert decision.allowed == (decision.error is None)
    assert not (decision.counts_view and not decision.allowed)
    if share is None:
        assert code == "SHARE_LINK_NOT_FOUND"
        return
    if not sharing_enabled:
        assert code == "SHARING_DISABLED"
        return
    if viewer == OWNER:
        assert decision.allowed and decision.is_owner and not decision.counts_view
        return
    status = oracle_status(share, NOW)
    if status == "revoked":  # wins over expired, login and password
        assert code == "SHARE_LINK_REVOKED"
    elif status == "expired":
        assert code == "SHARE_LINK_EXPIRED"
    elif viewer is None and not (share.is_public and public_allowed):
        assert code == "LOGIN_REQUIRED"
    elif share.has_password and not password_ok:
        assert code == "PASSWORD_REQUIRED"
    else:
        assert decision.allowed
    if decision.allowed:  # a non-owner who gets the content always spends a view
        assert decision.counts_view and not decision.is_owner
        assert share_status(share, now=NOW) == "active"


@given(share=shares(), viewer=st.sampled_from([STRANGER, OWNER]), password_ok=st.booleans(),
       public_allowed=st.booleans())
def test_login_is_never_asked_of_a_logged_in_viewer(
    share: Share, viewer: str, password_ok: bool, public_allowed: bool
) -> None:
    decision = decide_access(share, viewer_id=viewer, now=NOW, password_ok=password_ok,
                             public_allowed=public_allowed)
    assert decision.error is None or decision.error.code != "LOGIN_REQUIRED"


@given(share=shares(), password_ok=st.booleans(), public_allowed=st.booleans())
def test_the_owner_always_sees_and_is_never_counted(
    share: Share, password_ok: bool, public_allowed: bool
) -> None:
    decision = decide_access(share, viewer_id=OWNER, now=NOW, password_ok=password_ok,
                             public_allowed=public_allowed)
    assert decision.allowed and decision.is_owner and not decision.counts_view


def test_a_viewer_whose_id_is_not_the_owners_is_not_the_owner() -> None:
    share = make_share(revoked_at=NOW - HOUR)
    for viewer in ("", OWNER.upper(), OWNER + " ", "user"):
        decision = decide_access(share, viewer_id=viewer, now=NOW, password_ok=True)
        assert not decision.is_owner and decision.error is not None


# --- cloning ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("overrides", "viewer", "permission", "expected"),
    [
        ({}, STRANGER, True, True),
        ({"max_clones": 3, "clones": 2}, STRANGER, True, True),
        ({}, None, True, False),  # anonymous viewers log in first
        ({}, STRANGER, False, False),
        ({"allow_cloning": False}, STRANGER, True, False),
        ({"max_clones": 3, "clones": 3}, STRANGER, True, False),
        ({"max_clones": 3, "clones": 3, "allow_view_after_clone_limit": True}, STRANGER, True,
         False),
        ({"revoked_at": NOW - HOUR}, STRANGER, True, False),
        ({"expires_at": NOW}, STRANGER, True, False),
        ({"max_views": 2, "views": 2}, STRANGER, True, False),
        ({}, OWNER, True, True),
        ({}, OWNER, False, False),
    ],
)
def test_can_clone(overrides: dict[str, Any], viewer: str | None, permission: bool,
                   expected: bool) -> None:
    share = make_share(**overrides)
    assert can_clone(share, viewer_id=viewer, now=NOW, clone_permission=permission) is expected


@given(share=shares(), permission=st.booleans())
def test_a_stranger_clones_exactly_when_the_spec_says(share: Share, permission: bool) -> None:
    limit = share.max_clones is not None and share.clones >= share.max_clones
    expected = (permission and share.allow_cloning and not limit
                and oracle_status(share, NOW) == "active")
    assert can_clone(share, viewer_id=STRANGER, now=NOW, clone_permission=permission) == expected
    assert not can_clone(share, viewer_id=None, now=NOW, clone_permission=permission)


@pytest.mark.parametrize(
    ("overrides", "permission", "code"),
    [
        ({}, False, "CLONING_DISABLED"),
        ({"allow_cloning": False}, False, "CLONING_DISABLED"),
        ({"allow_cloning": False}, True, "CLONING_NOT_ALLOWED"),
        ({"allow_cloning": False, "max_clones": 1, "clones": 1}, True, "CLONING_NOT_ALLOWED"),
        ({"max_clones": 1, "clones": 1, "allow_view_after_clone_limit": True}, True,
         "CLONE_LIMIT_REACHED"),
    ],
)
def test_clone_refusal(overrides: dict[str, Any], permission: bool, code: str) -> None:
    error = clone_refusal(make_share(**overrides), clone_permission=permission)
    assert isinstance(error, Forbidden) and error.code == code and error.detail


# --- limits and expiry ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("requested", "current", "expected"),
    [(0, 0, None), (0, 57, None), (1, 0, 1), (10, 3, 10), (4, 3, 4), (3, 3, 4), (2, 3, 4),
     (1, 100, 101), (MAX_LIMIT, 0, MAX_LIMIT), (MAX_LIMIT, MAX_LIMIT - 1, MAX_LIMIT),
     (MAX_LIMIT, MAX_LIMIT, MAX_LIMIT)],
)
def test_adjust_limit(requested: int, current: int, expected: int | None) -> None:
    assert adjust_limit(requested, current=current) == expected


@pytest.mark.parametrize("requested", [-1, -10**9, MAX_LIMIT + 1, 2**63])
def test_adjust_limit_refuses_out_of_range(requested: int) -> None:
    with pytest.raises(InvalidInput):
        adjust_limit(requested, current=0)


@given(requested=st.integers(1, MAX_LIMIT), current=st.integers(0, MAX_LIMIT - 1))
def test_a_limit_is_never_at_or_below_what_already_happened(requested: int, current: int) -> None:
    limit = adjust_limit(requested, current=current)
    assert limit == max(requested, current + 1)
    assert limit is not None and current < limit <= MAX_LIMIT


@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [(1, NOW + SECOND), (3600, NOW + HOUR), (86400, NOW + timedelta(days=1)),
     (7 * 86400, NOW + timedelta(days=7)),
     (MAX_EXPIRES_IN, NOW + timedelta(seconds=MAX_EXPIRES_IN))],
)
def test_expiry_from_seconds(expires_in: int, expected: datetime) -> None:
    assert expiry_from(now=NOW, expires_in=expires_in) == expected


@pytest.mark.parametrize("expires_in", [0, -1, -3600, MAX_EXPIRES_IN + 1, 10**12])
def test_expiry_from_seconds_out_of_range(expires_in: int) -> None:
    with pytest.raises(InvalidInput) as info:
        expiry_from(now=NOW, expires_in=expires_in)
    assert info.value.extra.get("field") == "expires_in"


def test_ten_years_is_at_least_3650_days() -> None:
    assert MAX_EXPIRES_IN >= 3650 * 86400
    assert MAX_EXPIRES_IN < 11 * 365 * 86400


@pytest.mark.parametrize(
    "expires_at",
    [NOW + SECOND, NOW + timedelta(microseconds=1), NOW + timedelta(days=30),
     NOW + timedelta(days=3650), NOW + timedelta(seconds=MAX_EXPIRES_IN),
     (NOW + HOUR).astimezone(timezone(timedelta(hours=-7)))],
)
def test_expiry_from_a_future_time(expires_at: datetime) -> None:
    assert expiry_from(now=NOW, expires_at=expires_at) == expires_at


@pytest.mark.parametrize(
    "expires_at",
    [NOW, NOW - SECOND, NOW - timedelta(days=400), NOW.astimezone(timezone(timedelta(hours=9))),
     NOW.replace(tzinfo=None) + HOUR,  # naive: no time zone, refused rather than guessed
     datetime(2030, 1, 31, 17, 0),
     NOW + timedelta(seconds=MAX_EXPIRES_IN + 1), NOW + timedelta(days=11 * 366)],
)
def test_expiry_from_refuses_past_naive_and_too_far(expires_at: datetime) -> None:
    with pytest.raises(InvalidInput) as info:
        expiry_from(now=NOW, expires_at=expires_at)
    assert info.value.extra.get("field") == "expires_at"


def test_expiry_from_refuses_both_and_allows_neither() -> None:
    with pytest.raises(InvalidInput):
        expiry_from(now=NOW, expires_at=NOW + HOUR, expires_in=3600)
    assert expiry_from(now=NOW) is None


# --- restoring --------------------------------------------------------------------------------

# Spec 002: restoring a link that a limit ended makes it permanent (every expiry setting goes).
PERMANENT = {"revoked_at": None, "expires_at": None, "max_views": None, "max_clones": None}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"revoked_at": NOW - HOUR}, {"revoked_at": None}),
        ({"revoked_at": NOW - HOUR, "expires_at": NOW + HOUR, "max_views": 9, "views": 3,
          "max_clones": 4, "clones": 1}, {"revoked_at": None}),
        ({"expires_at": NOW - HOUR}, PERMANENT),
        ({"expires_at": NOW}, PERMANENT),
        ({"max_views": 5, "views": 5}, PERMANENT),
        # the limit that ended it and the ones that had not yet: all go
        ({"expires_at": NOW - HOUR, "max_views": 9, "views": 3, "max_clones": 4, "clones": 1},
         PERMANENT),
        ({"max_views": 5, "views": 7, "expires_at": NOW + HOUR}, PERMANENT),
        ({"max_clones": 2, "clones": 2, "expires_at": NOW + HOUR, "max_views": 9}, PERMANENT),
        ({"max_clones": 2, "clones": 2}, PERMANENT),
        ({"max_clones": 2, "clones": 1, "max_views": 2, "views": 2}, PERMANENT),
        ({"revoked_at": NOW - HOUR, "max_views": 1, "views": 1, "expires_at": NOW + HOUR},
         PERMANENT),
        ({"revoked_at": NOW - HOUR, "expires_at": NOW - SECOND, "max_views": 1, "views": 1,
          "max_clones": 1, "clones": 1}, PERMANENT),
    ],
)
def test_restored_values(overrides: dict[str, Any], expected: dict[str, Any]) -> None:
    share = make_share(**overrides)
    values = restored_values(share, now=NOW)
    assert values == expected
    assert share_status(replace(share, **values), now=NOW) == "active"


@given(share=shares())
def test_restoring_always_makes_a_share_active_and_permanent_after_a_limit(share: Share) -> None:
    values = restored_values(share, now=NOW)
    assert set(values) <= set(PERMANENT)
    assert all(value is None for value in values.values())
    restored = replace(share, **values)
    assert share_status(restored, now=NOW) == "active"
    ended_by_limit = oracle_status(replace(share, revoked_at=None), NOW) != "active" or (
        share.max_clones is not None and share.clones >= share.max_clones)
    if ended_by_limit:
        assert (restored.expires_at, restored.max_views, restored.max_clones) == (None,) * 3
    else:  # revoked by hand only: its limits stay
        assert (restored.expires_at, restored.max_views, restored.max_clones) == (
            share.expires_at, share.max_views, share.max_clones)


# --- the expiry sentence ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 10, 26, 17, 0, 0, tzinfo=UTC), "10/26/2024, 5:00:00 PM"),
        (datetime(2024, 1, 5, 0, 0, 0, tzinfo=UTC), "1/5/2024, 12:00:00 AM"),
        (datetime(2024, 1, 5, 12, 0, 0, tzinfo=UTC), "1/5/2024, 12:00:00 PM"),
        (datetime(2024, 1, 5, 0, 0, 1, tzinfo=UTC), "1/5/2024, 12:00:01 AM"),
        (datetime(2024, 1, 5, 11, 59, 59, tzinfo=UTC), "1/5/2024, 11:59:59 AM"),
        (datetime(2024, 1, 5, 12, 30, 5, tzinfo=UTC), "1/5/2024, 12:30:05 PM"),
        (datetime(2024, 1, 5, 13, 7, 3, tzinfo=UTC), "1/5/2024, 1:07:03 PM"),
        (datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "12/31/2024, 11:59:59 PM"),
        (datetime(2031, 7, 4, 9, 5, 0, tzinfo=UTC), "7/4/2031, 9:05:00 AM"),
    ],
)
def test_format_when(moment: datetime, expected: str) -> None:
    assert format_when(moment) == expected


DAY = datetime(2024, 10, 26, 17, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expires_at", "max_views", "max_clones", "viewable", "expected"),
    [
        (DAY, 100, None, False, "Expires on 10/26/2024, 5:00:00 PM or after 100 views"),
        (None, None, None, False, "Never expires"),
        (None, None, None, True, "Never expires"),
        (DAY, None, None, False, "Expires on 10/26/2024, 5:00:00 PM"),
        (datetime(2024, 10, 27, 0, 0, tzinfo=UTC), None, None, False,
         "Expires on 10/27/2024, 12:00:00 AM"),
        (datetime(2024, 10, 27, 12, 0, tzinfo=UTC), None, None, False,
         "Expires on 10/27/2024, 12:00:00 PM"),
        (None, 1, None, False, "Expires after 1 view"),
        (None, 2, None, False, "Expires after 2 views"),
        (None, None, 1, False, "Expires after 1 clone"),
        (None, None, 3, False, "Expires after 3 clones"),
        (None, None, 3, True, "Never expires; cloning stops after 3 clones"),
        (None, None, 1, True, "Never expires; cloning stops after 1 clone"),
        (None, 5, 3, True, "Expires after 5 views; cloning stops after 3 clones"),
        (DAY, 100, 3, False,
         "Expires on 10/26/2024, 5:00:00 PM or after 100 views or after 3 clones"),
        (DAY, None, 1, True, "Expires on 10/26/2024, 5:00:00 PM; cloning stops after 1 clone"),
    ],
)
def test_expiry_summary(expires_at: datetime | None, max_views: int | None,
                        max_clones: int | None, viewable: bool, expected: str) -> None:
    assert expiry_summary(expires_at=expires_at, max_views=max_views, max_clones=max_clones,
                          allow_view_after_clone_limit=viewable) == expected


# --- the cut ----------------------------------------------------------------------------------

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def message(msg_id: str, role: Any, *parts: dict[str, Any], seq: int = 0) -> Message:
    return Message(id=msg_id, conversation_id="conv-secret", seq=seq, role=role,
                   parts=list(parts) or [{"type": "text", "text": msg_id}],
                   created_at=T0 + timedelta(seconds=seq), turn_id=f"turn-{seq}",
                   model="gpt-test" if role == "assistant" else None,
                   usage={"tokens": 12})


CONVERSATION = [
    message("sys-1", "system", seq=0),
    message("u-1", "user", seq=1),
    message("a-1", "assistant", seq=2),
    message("sys-2", "system", seq=3),
    message("u-2", "user", seq=4),
    message("a-2", "assistant", seq=5),
]


@pytest.mark.parametrize(
    ("upto", "expected"),
    [(None, ["u-1", "a-1", "u-2", "a-2"]), ("u-1", ["u-1"]), ("a-1", ["u-1", "a-1"]),
     ("u-2", ["u-1", "a-1", "u-2"]), ("a-2", ["u-1", "a-1", "u-2", "a-2"]),
     ("sys-2", []), ("sys-1", []), ("no-such-message", []), ("", [])],
)
def test_cut_messages(upto: str | None, expected: list[str]) -> None:
    assert [m.id for m in cut_messages(CONVERSATION, upto_message_id=upto)] == expected


def test_cut_messages_of_nothing() -> None:
    assert cut_messages([], upto_message_id=None) == []
    assert cut_messages([], upto_message_id="a-1") == []


def shared_file(file_id: str) -> SharedFile:
    return SharedFile(file_id=file_id, name=f"{file_id}.txt", media_type="text/plain", size=3,
                      sha256="0" * 64)


FILES = {fid: shared_file(fid) for fid in ("file-a", "file-b", "file-unused")}


def test_shared_content_keeps_only_allow_listed_fields() -> None:
    parts = [
        {"type": "text", "text": "hello", "secret": "x"},
        {"type": "thought", "text": "hmm", "source": "internal"},
        {"type": "citation", "title": "Doc", "url": "https://example.org/doc",
         "snippet": "...", "source": "/srv/private/doc.pdf"},
        {"type": "tool_call", "id": "call-secret", "name": "search",
         "arguments": {"q": "x"}, "result": "ok"},
        {"type": "code", "language": "python", "code": "1+1", "output": "2", "path": "/tmp"},
        {"type": "table", "columns": ["a"], "rows": [[1]], "caption": "t"},
        {"type": "chart", "spec": {"mark": "bar"}, "title": "c"},
    ]
    content = shared_content([message("m-1", "assistant", *parts)], files_by_id=FILES)
    assert content.messages[0]["parts"] == [
        {"type": "text", "text": "hello"},
        {"type": "thought", "text": "hmm"},
        {"type": "citation", "title": "Doc", "url": "https://example.org/doc", "snippet": "..."},
        {"type": "tool_call", "name": "search", "arguments": {"q": "x"}, "result": "ok"},
        {"type": "code", "language": "python", "code": "1+1", "output": "2"},
        {"type": "table", "columns": ["a"], "rows": [[1]], "caption": "t"},
        {"type": "chart", "spec": {"mark": "bar"}, "title": "c"},
    ]
    assert content.files == []


def test_public_fields_never_include_ids_sources_or_paths() -> None:
    assert "id" not in PUBLIC_PART_FIELDS["tool_call"]
    assert "source" not in PUBLIC_PART_FIELDS["citation"]
    assert set(PUBLIC_PART_FIELDS) == set(PART_FIELDS)
    for kind, fields in PUBLIC_PART_FIELDS.items():
        assert fields <= PART_FIELDS[kind]
        assert not fields & {"path", "storage_path", "sha256", "user_id", "owner_id"}


@pytest.mark.parametrize(
    "part",
    [{"type": "system_prompt", "text": "You are..."}, {"type": "file_search", "query": "x"},
     {"text": "no type"}, {"type": None, "text": "x"}, {"type": "TEXT", "text": "x"}],
)
def test_unknown_part_types_are_dropped(part: dict[str, Any]) -> None:
    content = shared_content([message("m-1", "user", part, {"type": "text", "text": "kept"})],
                             files_by_id=FILES)
    assert content.messages[0]["parts"] == [{"type": "text", "text": "kept"}]


@pytest.mark.parametrize(
    ("url", "kept"),
    [("https://example.org/a.png", True), ("http://example.org/a", True),
     ("HTTPS://EXAMPLE.ORG/A", True),
     ("javascript:alert(1)", False), ("JavaScript:alert(1)", False),
     (" javascript:alert(1)", False), ("file:///etc/passwd", False),
     ("data:text/html;base64,PHNjcmlwdD4=", False), ("data:image/png;base64,AAAA", False),
     ("//evil.example/x", False), ("ftp://example.org/x", False), ("vbscript:x", False),
     ("", False), (None, False), (42, False), (["https://example.org"], False)],
)
@pytest.mark.parametrize("kind", ["citation", "image"])
def test_only_web_links_survive(kind: str, url: Any, kept: bool) -> None:
    part = {"type": kind, "title": "t", "name": "n", "url": url}
    out = public_part(part, lambda _fid: None)
    assert out is not None
    assert ("url" in out) is kept
    if kept:
        assert out["url"] == url
    assert out.get("title" if kind == "citation" else "name") is not None


def test_files_are_numbered_by_first_appearance_and_shared_once() -> None:
    messages = [
        message("m-1", "user", {"type": "image", "file_id": "file-b", "name": "b.png",
                                "alt": "b"}, seq=1),
        message("m-2", "assistant", {"type": "file", "file_id": "file-a", "name": "a.txt",
                                     "size": 3}, {"type": "text", "text": "see"}, seq=2),
        message("m-3", "user", {"type": "file", "file_id": "file-b", "name": "b-again"}, seq=3),
    ]
    content = shared_content(messages, files_by_id=FILES)
    file_ids = [part.get("file_id") for m in content.messages for part in m["parts"]
                if part["type"] in ("image", "file")]
    assert file_ids == ["0", "1", "0"]
    assert content.files == [FILES["file-b"], FILES["file-a"]]  # file-unused is not shared


def test_a_file_of_another_conversation_loses_its_reference() -> None:
    part = {"type": "file", "file_id": "someone-elses", "name": "x.txt", "size": 1}
    content = shared_content([message("m-1", "user", part)], files_by_id=FILES)
    assert content.messages[0]["parts"] == [{"type": "file", "name": "x.txt", "size": 1}]
    assert content.files == []


def test_no_internal_ids_reach_the_viewer() -> None:
    messages = [
        message("msg-secret-1", "user", {"type": "file", "file_id": "file-a", "name": "a"},
                seq=1),
        message("msg-secret-2", "assistant",
                {"type": "tool_call", "id": "call-secret", "name": "n"},
                {"type": "citation", "title": "t", "source": "source-secret"}, seq=2),
    ]
    content = shared_content(messages, files_by_id=FILES)
    for shared in content.messages:
        assert set(shared) == {"role", "created_at", "model", "status", "parts"}
    assert content.messages[1] == {
        "role": "assistant", "created_at": (T0 + timedelta(seconds=2)).isoformat(),
        "model": "gpt-test", "status": "complete",
        "parts": [{"type": "tool_call", "name": "n"}, {"type": "citation", "title": "t"}],
    }
    dumped = json.dumps(content.messages)
    for secret in ("msg-secret", "conv-secret", "turn-", "file-a", "call-secret",
                   "source-secret", "tokens"):
        assert secret not in dumped


def test_shared_file_public_view() -> None:
    assert FILES["file-a"].public() == {"name": "file-a.txt", "media_type": "text/plain",
                                        "size": 3}


json_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10),
                        st.lists(st.integers(), max_size=2),
                        st.sampled_from(["file-a", "file-b", "nope", "javascript:x",
                                         "https://ok.example", "data:,x"]))
ALL_FIELDS = sorted({key for fields in PART_FIELDS.values() for key in fields}
                    | {"id", "type", "path", "user_id", "secret"})
part_strategy = st.builds(
    lambda kind, fields: {**fields, "type": kind},
    st.sampled_from([*PART_FIELDS, "system_prompt", "unknown"]) | st.text(max_size=8),
    st.dictionaries(st.sampled_from(ALL_FIELDS) | st.text(max_size=4), json_values,
                    max_size=6),
)


@given(parts=st.lists(st.lists(part_strategy, min_size=1, max_size=4), max_size=4))
def test_viewers_only_ever_get_allow_listed_fields(parts: list[list[dict[str, Any]]]) -> None:
    messages = [message(f"m-{i}", "user", *p, seq=i) for i, p in enumerate(parts)]
    content = shared_content(messages, files_by_id=FILES)
    assert len(content.files) == len({f.file_id for f in content.files})
    for shared in content.messages:
        for part in shared["parts"]:
            kind = part["type"]
            assert kind in PUBLIC_PART_FIELDS
            assert set(part) - {"type"} <= PUBLIC_PART_FIELDS[kind]
            if "url" in part:
                assert part["url"].lower().startswith(("https://", "http://"))
            if "file_id" in part:
                assert content.files[int(part["file_id"])].file_id in FILES
