"""The sharing rules: status, the access decision, limits, the expiry sentence, and the cut of a
conversation that a viewer may see. Pure: the clock, the viewer and the settings come in as
arguments, so one table of cases tests the whole policy.

Status is derived, never stored: *revoked* (by hand, or by the clone limit unless viewing stays
allowed), else *expired* (time passed or views used up), else *active*. The store's SQL filter for
the dashboard mirrors ``share_status`` (a test proves they agree).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from salon.domain.conversations import Message
from salon.domain.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    SalonError,
    Unauthenticated,
)

ShareStatus = Literal["active", "expired", "revoked"]
ShareType = Literal["snapshot", "live"]
# Who may open the link: anyone ("public"), logged-in users ("private", spec 002's word), or
# the owner alone ("only_me", spec 004's Private: the link is revoked for everyone else).
Visibility = Literal["public", "private", "only_me"]
STATUSES: tuple[ShareStatus, ...] = ("active", "expired", "revoked")
TYPES: tuple[ShareType, ...] = ("snapshot", "live")
VISIBILITIES: tuple[Visibility, ...] = ("public", "private", "only_me")

MAX_LIMIT = 2_147_483_647  # the spec's ceiling for views and clones (32-bit signed)
MAX_EXPIRES_IN = 10 * 366 * 86400  # ten years, in seconds
MAX_SHARE_PASSWORD_CHARS = 256

# The spec's words for what a viewer who cannot see a share is told.
NOT_FOUND_DETAIL = ("Oops! The shared link you're trying to access doesn't exist. It might have "
                    "been deleted or there might be a typo in the URL.")
REVOKED_DETAIL = "The owner of this chat has revoked this sharing link."
EXPIRED_DETAIL = "This shared link has expired and is no longer accessible."
LOGIN_REQUIRED_DETAIL = "Log in to view this shared chat."
PASSWORD_REQUIRED_DETAIL = "This shared chat is password-protected. Enter the password to view it."
INVALID_PASSWORD_DETAIL = "The password is incorrect."
SHARING_DISABLED_DETAIL = "Sharing is turned off on this server."
EMPTY_CONVERSATION_DETAIL = ("This chat has no messages to share yet: send a message first, "
                             "then share it.")

# What a viewer may see of each part type (a subset of PART_FIELDS): no tool-call ids, no
# citation sources (the documents behind them), never a storage path.
PUBLIC_PART_FIELDS: dict[str, frozenset[str]] = {
    "text": frozenset({"text"}),
    "thought": frozenset({"text"}),
    "tool_call": frozenset({"name", "arguments", "result"}),
    "citation": frozenset({"title", "url", "snippet"}),
    "image": frozenset({"file_id", "name", "media_type", "size", "alt", "url"}),
    "file": frozenset({"file_id", "name", "media_type", "size"}),
    "table": frozenset({"columns", "rows", "caption"}),
    "chart": frozenset({"spec", "title"}),
    "code": frozenset({"language", "code", "output"}),
    "diagram": frozenset({"format", "source"}),
}
_LINK_FIELDS = frozenset({"url"})  # kept only when they are http(s) links


@dataclass(frozen=True)
class Share:
    """A conversation's share. ``id`` is internal; ``share_id`` is the link."""

    id: str
    share_id: str
    conversation_id: str
    user_id: str
    title: str
    is_public: bool
    password_hash: str | None
    live: bool
    display_username: bool
    allow_cloning: bool
    expires_at: datetime | None
    max_views: int | None
    max_clones: int | None
    allow_view_after_clone_limit: bool
    upto_message_id: str | None
    views: int
    clones: int
    revoked_at: datetime | None
    created_at: datetime
    updated_at: datetime
    content_version: int = 1
    owner_only: bool = False  # "only me": the owner alone sees it (is_public is then False)

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def visibility(self) -> Visibility:
        if self.owner_only:
            return "only_me"
        return "public" if self.is_public else "private"

    @property
    def type(self) -> ShareType:
        return "live" if self.live else "snapshot"


@dataclass(frozen=True)
class AccessDecision:
    """Whether a viewer gets the content; ``counts_view`` says whether delivering it spends a
    view (never for the owner). ``error`` is the refusal to raise when not allowed."""

    allowed: bool
    is_owner: bool = False
    counts_view: bool = False
    error: SalonError | None = None


def is_clone_limit_reached(share: Share) -> bool:
    return share.max_clones is not None and share.clones >= share.max_clones


def is_revoked(share: Share) -> bool:
    return share.revoked_at is not None or (
        is_clone_limit_reached(share) and not share.allow_view_after_clone_limit
    )


def is_expired_by_time(share: Share, *, now: datetime) -> bool:
    return share.expires_at is not None and share.expires_at <= now


def is_expired(share: Share, *, now: datetime) -> bool:
    by_views = share.max_views is not None and share.views >= share.max_views
    return is_expired_by_time(share, now=now) or by_views


def is_open(share: Share, *, now: datetime, view_granted: bool = False) -> bool:
    """Neither revoked nor expired. A viewer holding a view (``view_granted``: a counted view's
    grant) still has it when the views are used up, never after revocation or the expiry time."""
    if is_revoked(share):
        return False
    if view_granted:
        return not is_expired_by_time(share, now=now)
    return not is_expired(share, now=now)


def share_status(share: Share, *, now: datetime) -> ShareStatus:
    if is_revoked(share):
        return "revoked"
    if is_expired(share, now=now):
        return "expired"
    return "active"


def share_not_found() -> NotFound:
    return NotFound(NOT_FOUND_DETAIL, code="SHARE_LINK_NOT_FOUND")


def sharing_disabled() -> Forbidden:
    return Forbidden(SHARING_DISABLED_DETAIL, code="SHARING_DISABLED")


def empty_conversation() -> Conflict:
    return Conflict(EMPTY_CONVERSATION_DETAIL, code="EMPTY_CONVERSATION")


def visibility_values(visibility: Visibility) -> dict[str, bool]:
    """The stored columns of a visibility."""
    return {"is_public": visibility == "public", "owner_only": visibility == "only_me"}


def decide_access(
    share: Share | None, *, viewer_id: str | None, now: datetime, password_ok: bool,
    sharing_enabled: bool = True, public_allowed: bool = True, view_granted: bool = False,
) -> AccessDecision:
    """Who may see what, in the spec's order: not found, (sharing off), revoked, expired, login
    required, password required. The owner always sees their share and is never counted; an
    "only me" share is not found for everyone else, whatever they hold (spec 004).
    ``public_allowed`` False (the owner lost the public permission) makes a public share
    logged-in-only. ``view_granted``: the viewer holds a counted view of this share's content
    (its files, ZIP, live messages, a clone), which spends no other view and outlives the view
    limit, never the other refusals."""
    if share is None:
        return _refuse(share_not_found())
    is_owner = viewer_id is not None and viewer_id == share.user_id
    if share.owner_only and not is_owner:
        return _refuse(share_not_found())
    if not sharing_enabled:
        return _refuse(sharing_disabled())
    if is_owner:
        return AccessDecision(allowed=True, is_owner=True)
    ended = closed_reason(share, now=now, view_granted=view_granted)
    if ended is not None:
        return _refuse(ended)
    if viewer_id is None and not (share.is_public and public_allowed):
        return _refuse(Unauthenticated(LOGIN_REQUIRED_DETAIL, code="LOGIN_REQUIRED"))
    if share.has_password and not password_ok:
        return _refuse(Unauthenticated(PASSWORD_REQUIRED_DETAIL, code="PASSWORD_REQUIRED"))
    return AccessDecision(allowed=True, counts_view=not view_granted)


def closed_reason(share: Share, *, now: datetime, view_granted: bool = False) -> Gone | None:
    """Why the link is over for this viewer (revoked wins over expired), None while it is
    open to them."""
    if is_revoked(share):
        return Gone(REVOKED_DETAIL, code="SHARE_LINK_REVOKED")
    if not is_open(share, now=now, view_granted=view_granted):
        return Gone(EXPIRED_DETAIL, code="SHARE_LINK_EXPIRED")
    return None


def _refuse(error: SalonError) -> AccessDecision:
    return AccessDecision(allowed=False, error=error)


def can_clone(
    share: Share, *, viewer_id: str | None, now: datetime, clone_permission: bool,
    view_granted: bool = False,
) -> bool:
    """Whether this viewer may clone now (the Clone button shows only then). Anonymous viewers
    may not (the page sends them to log in first). A viewer holding a view (``view_granted``)
    may clone after the views are used up."""
    if viewer_id is None or not clone_permission:
        return False
    if viewer_id == share.user_id:
        return True
    return (share.allow_cloning and not is_clone_limit_reached(share)
            and is_open(share, now=now, view_granted=view_granted))


def clone_refusal(share: Share, *, clone_permission: bool) -> SalonError:
    """Why ``can_clone`` said no to a logged-in viewer who may see the share."""
    if not clone_permission:
        return Forbidden("Your account is not allowed to clone chats.", code="CLONING_DISABLED")
    if not share.allow_cloning:
        return Forbidden("The owner does not allow cloning this chat.",
                         code="CLONING_NOT_ALLOWED")
    return Forbidden("This shared chat has reached its clone limit.", code="CLONE_LIMIT_REACHED")


def adjust_limit(requested: int, *, current: int) -> int | None:
    """A view or clone limit as stored: 0 is unlimited (None); a limit not above the current
    count becomes current + 1 (the spec: never below what has already happened)."""
    if requested < 0 or requested > MAX_LIMIT:
        raise InvalidInput(f"A limit must be between 0 (unlimited) and {MAX_LIMIT}.")
    if requested == 0:
        return None
    return requested if requested > current else min(current + 1, MAX_LIMIT)


def expiry_from(*, now: datetime, expires_at: datetime | None = None,
                expires_in: int | None = None) -> datetime | None:
    """The expiry time from either an absolute time (must be in the future) or seconds from
    now (1 second to ten years). Neither: no expiry."""
    if expires_at is not None and expires_in is not None:
        raise InvalidInput("Give expires_at or expires_in, not both.", field="expires_at")
    if expires_in is not None:
        if not 1 <= expires_in <= MAX_EXPIRES_IN:
            raise InvalidInput(f"expires_in must be 1 to {MAX_EXPIRES_IN} seconds.",
                               field="expires_in")
        return now + timedelta(seconds=expires_in)
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidInput("expires_at needs a time zone (e.g. 2030-01-31T17:00:00Z).",
                               field="expires_at")
        if expires_at <= now:
            raise InvalidInput("The expiry date must be in the future.", field="expires_at")
        if expires_at - now > timedelta(seconds=MAX_EXPIRES_IN):
            raise InvalidInput("The expiry date can be at most ten years ahead.",
                               field="expires_at")
    return expires_at


def restored_values(share: Share, *, now: datetime) -> dict[str, Any]:
    """The changes that make a revoked or expired share active again: the manual revocation
    goes; and when a limit had ended the link (its time, its views, or its clones), every
    expiry setting goes with it (spec 002: the restored link is permanent until new expiry
    conditions are set), not only the limit that ended it."""
    values: dict[str, Any] = {"revoked_at": None}
    ended_by_limit = (is_expired_by_time(share, now=now)
                      or (share.max_views is not None and share.views >= share.max_views)
                      or is_clone_limit_reached(share))
    if ended_by_limit:
        values.update(expires_at=None, max_views=None, max_clones=None)
    return values


def format_when(moment: datetime) -> str:
    """The spec's date style (a US locale string) in UTC: ``10/26/2024, 5:00:00 PM``."""
    moment = moment.astimezone(UTC)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return (f"{moment.month}/{moment.day}/{moment.year}, "
            f"{hour}:{moment.minute:02d}:{moment.second:02d} {half}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def expiry_summary(
    *, expires_at: datetime | None, max_views: int | None, max_clones: int | None,
    allow_view_after_clone_limit: bool,
) -> str:
    """One sentence for every condition that ends the link, the first one met winning:
    "Expires on 10/26/2024, 5:00:00 PM or after 100 views", or "Never expires"."""
    ends: list[str] = []
    if expires_at is not None:
        ends.append(f"on {format_when(expires_at)}")
    if max_views is not None:
        ends.append(f"after {_count(max_views, 'view')}")
    if max_clones is not None and not allow_view_after_clone_limit:
        ends.append(f"after {_count(max_clones, 'clone')}")
    sentence = "Expires " + " or ".join(ends) if ends else "Never expires"
    if max_clones is not None and allow_view_after_clone_limit:
        sentence += f"; cloning stops after {_count(max_clones, 'clone')}"
    return sentence


# --- The cut: which messages and which parts of them a viewer sees --------------------------

@dataclass(frozen=True)
class SharedFile:
    """A file of the shared messages; viewers address it by its position in the share."""

    file_id: str
    name: str
    media_type: str
    size: int
    sha256: str

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "media_type": self.media_type, "size": self.size}


@dataclass(frozen=True)
class SharedContent:
    """Messages as viewers see them (JSON-ready) and the files they may download; a part's
    ``file_id`` is the file's position in ``files`` as a string."""

    messages: list[dict[str, Any]]
    files: list[SharedFile]


def cut_messages(messages: Sequence[Message], *, upto_message_id: str | None) -> list[Message]:
    """The messages up to (and including) the checkpoint, without system messages. An unknown
    checkpoint shares nothing rather than everything."""
    visible = [m for m in messages if m.role != "system"]
    if upto_message_id is None:
        return visible
    for index, message in enumerate(visible):
        if message.id == upto_message_id:
            return visible[: index + 1]
    return []


def shared_content(
    messages: Iterable[Message], *, files_by_id: Mapping[str, SharedFile]
) -> SharedContent:
    """The allow-listed view of ``messages``. ``files_by_id`` holds the conversation's own
    files; a part naming any other file loses the reference."""
    files: list[SharedFile] = []
    positions: dict[str, int] = {}

    def file_position(file_id: str) -> str | None:
        found = files_by_id.get(file_id)
        if found is None:
            return None
        if file_id not in positions:
            positions[file_id] = len(files)
            files.append(found)
        return str(positions[file_id])

    shared = [
        {
            "role": m.role,
            "created_at": m.created_at.isoformat(),
            "model": m.model,
            "status": m.status,
            "parts": [p for p in (public_part(part, file_position) for part in m.parts) if p],
        }
        for m in messages
    ]
    return SharedContent(messages=shared, files=files)


def public_part(part: Mapping[str, Any], file_position: Any) -> dict[str, Any] | None:
    """One part as a viewer sees it, or None for a type viewers never see."""
    kind = str(part.get("type"))
    allowed = PUBLIC_PART_FIELDS.get(kind)
    if allowed is None:
        return None
    out: dict[str, Any] = {"type": kind}
    for key in allowed & set(part):
        value = part[key]
        if key in _LINK_FIELDS and not _is_web_link(value):
            continue
        if key == "file_id":
            value = file_position(str(value))
            if value is None:
                continue
        out[key] = value
    return out


def _is_web_link(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))
