"""Share link ids: the random default and the rules for a custom id (spec 002).

A custom id keeps only ``A-Za-z0-9-._~`` (the URL "unreserved" characters, so a link never needs
escaping); spaces become hyphens first. It is 4 to 144 characters (a shorter one is found by
trying them all), never ``.`` or ``..`` (a path segment with a meaning of its own), and never one
of our own route words. ``is_guessable_share_id`` says when an allowed id is still easy to guess
(the share dialog warns, the server accepts it).
"""

from __future__ import annotations

import re
import secrets

from salon.domain.errors import InvalidInput

MAX_SHARE_ID_CHARS = 144
MIN_SHARE_ID_CHARS = 4
SAFE_SHARE_ID_CHARS = 8  # shorter custom ids are easy to guess
RANDOM_ID_BYTES = 16  # 128 bits -> 22 URL-safe characters

_SPACES = re.compile(r"\s+")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9\-._~]")
_DIGITS_ONLY = re.compile(r"[0-9\-._~]+")  # numbers and dates, separators aside

# Words that name routes next to share ids (``/api/v1/chats/shared/...``, ``/s/...``) or that
# would read as something else in a link.
RESERVED_IDS = frozenset({
    "all", "api", "bulk", "clone", "events", "files", "files.zip", "meta", "new", "none",
    "null", "qr", "restore", "revoked", "rotate", "share", "shared", "static", "undefined",
    "verify",
})

# Custom ids of 8 or more characters that people pick first, so anyone trying links tries them
# first too (lower case; static/share-dialog.js has the same list: a browser test compares them).
COMMON_IDS = frozenset({
    "abcdefgh", "analysis", "assignment", "baseball", "birthday", "brainstorm", "business",
    "chat-log", "checklist", "christmas", "conversation", "document", "download", "feedback",
    "football", "homework", "iloveyou", "interview", "meeting-notes", "my-conversation",
    "my-notes", "password", "password1", "personal", "presentation", "princess", "proposal",
    "question", "questions", "qwertyuiop", "research", "shared-chat", "shared-conversation",
    "sharedchat", "shopping", "solution", "starwars", "sunshine", "superman", "transcript",
    "trustno1", "untitled", "vacation", "whatever",
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
    if len(cleaned) < MIN_SHARE_ID_CHARS:
        raise InvalidInput(f"The custom link needs at least {MIN_SHARE_ID_CHARS} characters "
                           "(a shorter one is easy to guess).", field="share_id")
    if len(cleaned) > MAX_SHARE_ID_CHARS:
        raise InvalidInput(f"The custom link can be at most {MAX_SHARE_ID_CHARS} characters.",
                           field="share_id")
    if cleaned in {".", ".."} or cleaned.lower() in RESERVED_IDS:
        raise InvalidInput(f"'{cleaned}' is reserved; choose another custom link.",
                           field="share_id")
    return cleaned


def is_guessable_share_id(cleaned: str) -> bool:
    """Whether a (cleaned) custom id is easy to guess: shorter than ``SAFE_SHARE_ID_CHARS``,
    only digits (and separators: numbers, dates), or a common word. Allowed, but the share
    dialog warns the owner."""
    return (len(cleaned) < SAFE_SHARE_ID_CHARS or _DIGITS_ONLY.fullmatch(cleaned) is not None
            or cleaned.lower() in COMMON_IDS)
