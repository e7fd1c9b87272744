"""Account rules: emails, names, passwords, permission overrides."""

from __future__ import annotations

import pytest

from salon.domain.errors import InvalidInput
from salon.domain.users import (
    check_password_strength,
    clean_name,
    effective_permissions,
    normalize_email,
    validate_permission_overrides,
)

DEFAULTS = {"chat_share": True, "sharing_public_chat": False, "chat_clone": True}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, DEFAULTS),
        ({"sharing_public_chat": True}, {**DEFAULTS, "sharing_public_chat": True}),
        ({"chat_share": False, "chat_clone": False},
         {"chat_share": False, "sharing_public_chat": False, "chat_clone": False}),
    ],
)
def test_overrides_win_over_defaults(overrides: dict[str, bool], expected: dict[str, bool]) -> None:
    assert effective_permissions(overrides, DEFAULTS) == expected


@pytest.mark.parametrize("raw", [{"admin": True}, {"chat_share": "yes"}, {"chat_share": 1}])
def test_bad_overrides_refused(raw: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        validate_permission_overrides(raw)


@pytest.mark.parametrize("email", ["A@B.co", "  x.y+z@example.org "])
def test_emails_normalised(email: str) -> None:
    assert normalize_email(email) == email.strip().lower()


@pytest.mark.parametrize("email", ["", "no-at", "a@b", "a b@c.de", "x" * 250 + "@e.com"])
def test_bad_emails_refused(email: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_email(email)


def test_names_and_passwords() -> None:
    assert clean_name("  Ada   Lovelace ") == "Ada Lovelace"
    for bad in ("", "   ", "x" * 101):
        with pytest.raises(InvalidInput):
            clean_name(bad)
    check_password_strength("12345678")
    for bad in ("1234567", "x" * 257):
        with pytest.raises(InvalidInput):
            check_password_strength(bad)
