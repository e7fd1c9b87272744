"""Share link ids: the random default and the rules for a custom id (spec 002).

A custom id keeps only ``A-Za-z0-9-._~`` (the URL "unreserved" characters, so a link never needs
escaping); spaces become hyphens first. It is at most 144 characters, never empty, never ``.`` or
``..`` (a path segment with a meaning of its own), and never one of our own route words.
"""

from __future__ import annotations

import re
import secrets

from salon.domain.errors import InvalidInput

MAX_SHARE_ID_CHARS = 144
RANDOM_ID_BYTES = 16  # 128 bits -> 22 URL-safe characters

_SPACES = re.compile(r"\s+")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9\-._~]")

# Words that name routes next to share ids (``/api/v1/chats/shared/...``, ``/s/...``) or that
# would read as something else in a link.
RESERVED_IDS = frozenset({
    "all", "api", "bulk", "clone", "events", "files", "files.zip", "meta", "new", "none",
    "null", "qr", "restore", "revoked", "rotate", "share", "shared", "static", "undefined",
    "verify",
})


def new_share_id() -> str:
    """A random link id: 22 URL-safe characters (128 bits from ``secrets``)."""
    return secrets.token_urlsafe(RANDOM_ID_BYTES)


def clean_share_id(raw: str) -> str:
    """What a custom id becomes: whitespace runs to one hyphen, other characters outside
    ``A-Za-z0-9-._~`` dropped. Never raises (the share dialog shows this as the owner types)."""
    return _NOT_ALLOWED.sub("", _SPACES.sub("-", raw.strip()))


def validate_share_id(raw: str) -> str:
    """The cleaned custom id, or InvalidInput saying why it cannot be a link."""
    cleaned = clean_share_id(raw)
    if not cleaned:
        raise InvalidInput("The custom link is empty once unsupported characters are removed. "
                           "Use letters, digits, '-', '.', '_' or '~'.", field="share_id")
    if len(cleaned) > MAX_SHARE_ID_CHARS:
        raise InvalidInput(f"The custom link can be at most {MAX_SHARE_ID_CHARS} characters.",
                           field="share_id")
    if cleaned in {".", ".."} or cleaned.lower() in RESERVED_IDS:
        raise InvalidInput(f"'{cleaned}' is reserved; choose another custom link.",
                           field="share_id")
    return cleaned
