"""The "only me" visibility (spec 004's Private) in the access decision: the owner sees the
share as always; everyone else, whatever they hold (a password, a view grant, an account), is
told the link does not exist, in every state of the share. And the visibility's stored form."""

from __future__ import annotations

import itertools

import pytest

from salon.domain.errors import Conflict, NotFound
from salon.domain.shares import (
    VISIBILITIES,
    decide_access,
    empty_conversation,
    visibility_values,
)
from tests.domain.test_shares import NOW, SPEC_MESSAGES, STATES, VIEWERS, make_share

FLAGS = list(itertools.product([True, False], repeat=4))


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("viewer", list(VIEWERS))
@pytest.mark.parametrize(("has_password", "password_ok", "sharing_enabled", "view_granted"),
                         FLAGS)
def test_only_me_refuses_everyone_but_the_owner(
    state: str, viewer: str, has_password: bool, password_ok: bool, sharing_enabled: bool,
    view_granted: bool,
) -> None:
    share = make_share(is_public=False, owner_only=True,
                       password_hash="hash" if has_password else None, **STATES[state][0])
    decision = decide_access(share, viewer_id=VIEWERS[viewer], now=NOW, password_ok=password_ok,
                             sharing_enabled=sharing_enabled, view_granted=view_granted)
    if viewer == "owner":
        if sharing_enabled:
            assert decision.allowed and decision.is_owner and not decision.counts_view
        else:
            assert decision.error is not None and decision.error.code == "SHARING_DISABLED"
        return
    assert not decision.allowed and not decision.counts_view and not decision.is_owner
    assert isinstance(decision.error, NotFound)
    assert decision.error.code == "SHARE_LINK_NOT_FOUND"
    assert decision.error.detail == SPEC_MESSAGES["SHARE_LINK_NOT_FOUND"]


@pytest.mark.parametrize(
    ("is_public", "owner_only", "visibility"),
    [(True, False, "public"), (False, False, "private"), (False, True, "only_me")],
)
def test_visibility_and_its_columns(is_public: bool, owner_only: bool, visibility: str) -> None:
    share = make_share(is_public=is_public, owner_only=owner_only)
    assert share.visibility == visibility
    assert visibility_values(share.visibility) == {"is_public": is_public,
                                                   "owner_only": owner_only}


def test_the_visibilities() -> None:
    assert VISIBILITIES == ("public", "private", "only_me")


def test_an_empty_conversation_is_a_conflict_with_its_own_code() -> None:
    error = empty_conversation()
    assert isinstance(error, Conflict)
    assert error.code == "EMPTY_CONVERSATION"
    assert "no messages to share" in error.detail
