"""Users, roles and permission flags.

Permission flags have instance defaults (from settings, the spec's admin variables) and optional
per-user overrides set by an admin. ``effective_permissions`` is the one place that combines them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from salon.domain.errors import InvalidInput

UserRole = Literal["admin", "user"]
ROLES: frozenset[str] = frozenset({"admin", "user"})

# Flag names as the spec's admin variables name them (lower-cased, without the prefix).
PERMISSION_FLAGS: tuple[str, ...] = ("chat_share", "sharing_public_chat", "chat_clone")

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256
MAX_NAME_CHARS = 100
MAX_EMAIL_CHARS = 254
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    role: UserRole
    created_at: datetime
    permissions: dict[str, bool] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def effective_permissions(
    overrides: Mapping[str, bool], defaults: Mapping[str, bool]
) -> dict[str, bool]:
    """Instance defaults, with the user's own overrides winning where set."""
    return {flag: bool(overrides.get(flag, defaults.get(flag, True))) for flag in PERMISSION_FLAGS}


def validate_permission_overrides(raw: Mapping[str, object]) -> dict[str, bool]:
    unknown = set(raw) - set(PERMISSION_FLAGS)
    if unknown:
        raise InvalidInput(f"Unknown permission(s): {', '.join(sorted(unknown))}.")
    bad = [k for k, v in raw.items() if not isinstance(v, bool)]
    if bad:
        raise InvalidInput(f"Permission values must be true or false: {', '.join(sorted(bad))}.")
    return {k: bool(v) for k, v in raw.items()}


def normalize_email(email: str) -> str:
    cleaned = email.strip().lower()
    if len(cleaned) > MAX_EMAIL_CHARS or not _EMAIL_RE.match(cleaned):
        raise InvalidInput("Enter a valid email address.", field="email")
    return cleaned


def clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInput("Enter your name.", field="name")
    if len(cleaned) > MAX_NAME_CHARS:
        raise InvalidInput(f"A name can be at most {MAX_NAME_CHARS} characters.", field="name")
    return cleaned


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(
            f"A password needs at least {MIN_PASSWORD_CHARS} characters.", field="password"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput(
            f"A password can be at most {MAX_PASSWORD_CHARS} characters.", field="password"
        )
