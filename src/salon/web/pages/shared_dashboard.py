"""The "Shared chats" dashboard ``/shared``: every share of the signed-in user, filtered, sorted
and paginated in SQL (``services.shares.list_shares``), with per-row, bulk and danger-zone
actions.

Everything works without JavaScript: the filters are a GET form, sorting and pages are links
carrying the query string, and actions are CSRF-protected form posts that answer with a 303
back to the same filtered page and a notice (``done``/``n`` in the query string: the notice
text is ours, never the request's). ``static/dashboard.js`` enhances the page: actions through
the JSON API with the rows refreshed in place, links flipping to Expired when their time
passes, copy buttons, and dropping a sidebar chat to open its share dialog.

Query values the page does not understand are ignored and named in a notice (the page still
answers 200 with the rest applied), so a stale bookmark never ends on an error page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, cast
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from salon.domain import shares as rules
from salon.domain.conversations import is_storable
from salon.domain.errors import InvalidInput, SalonError
from salon.domain.shares import Share
from salon.domain.users import User
from salon.services import shares as share_service
from salon.services.context import AppContext
from salon.store.shares import SORT_COLUMNS, ShareFilter
from salon.web.api.shares import base_url, parse_bound
from salon.web.deps import Ctx, OptionalPrincipal
from salon.web.errors import status_for
from salon.web.pages.access import FormText, form_principal, to_login
from salon.web.pages.chat import sidebar_items
from salon.web.pages.render import redirect, render

router = APIRouter()

PAGE_SIZES = (10, 20, 50, 100)
DEFAULT_PAGE_SIZE = 20
MAX_PAGE = 1_000_000
MAX_QUERY_CHARS = 200
# Filters that narrow the list (an empty result then means "nothing matches", not "nothing yet").
NARROWING_KEYS = ("query", "start", "end", "visibility", "password", "status", "type")
LISTING_KEYS = (*NARROWING_KEYS, "order_by", "direction", "page", "page_size")
CHOICES: dict[str, tuple[str, ...]] = {
    "visibility": rules.VISIBILITIES,
    "password": ("true", "false"),
    "status": rules.STATUSES,
    "type": rules.TYPES,
    "order_by": SORT_COLUMNS,
    "direction": ("asc", "desc"),
}
# The table's columns: sort key and header, in the spec's order.
COLUMNS = (
    ("title", "Title"), ("created_at", "Created On"), ("updated_at", "Last Updated"),
    ("share_id", "Link"), ("is_public", "Public"), ("has_password", "Password"),
    ("views", "Views"), ("clones", "Clones"), ("status", "Status"), ("type", "Type"),
)
ROW_ACTIONS = ("revoke", "restore", "reset_stats")
# The danger zone, from the spec: action, button, the word to type, and the warning.
DANGER_ACTIONS = (
    ("revoke_all", "Revoke All", "A danger zone action that revokes all of your shared links "
     "at once. This action cannot be undone and requires typing \"REVOKE\" to confirm."),
    ("reset_all", "Reset All Stats", "A danger zone action that resets the statistics for all "
     "of your shared chats. This action cannot be undone and requires typing \"RESET\" to "
     "confirm."),
    ("clear_revoked", "Clear Revoked", "A danger zone action that permanently removes all "
     "sharing information from your revoked chats. They will no longer appear on the Shared "
     "Chats dashboard and will revert to being normal, un-shared chats. This action cannot be "
     "undone and requires typing \"CLEAR\" to confirm."),
)
# ``done`` after an action: the notice shown (``{n}`` is how many shares changed).
DONE_NOTICES = {
    "revoke": "Revoked {n}.",
    "restore": "The link was restored.",
    "reset_stats": "Statistics reset for {n}.",
    "revoke_all": "Revoked every link: {n} changed.",
    "reset_all": "Statistics reset for every share: {n} changed.",
    "clear_revoked": "Cleared {n} from the dashboard.",
}

ChatIds = Annotated[list[str], Form(max_length=share_service.BULK_MAX_IDS)]


@dataclass(frozen=True)
class Listing:
    """The dashboard's question as the query string asked it: ``params`` holds the understood
    values (as given, to rebuild links), ``ignored`` describes the rest."""

    params: dict[str, str]
    filter: ShareFilter
    ignored: list[str] = field(default_factory=list)

    @property
    def is_narrowed(self) -> bool:
        return any(self.params.get(key) for key in NARROWING_KEYS)

    def url(self, **changes: str | int | None) -> str:
        """``/shared`` with this listing's query string, ``changes`` applied (None removes)."""
        params: dict[str, Any] = {**self.params, **changes}
        kept = [(key, str(params[key])) for key in LISTING_KEYS
                if params.get(key) not in (None, "")]
        return "/shared" + (f"?{urlencode(kept)}" if kept else "")

    @property
    def query_string(self) -> str:
        return self.url().partition("?")[2]

    def sort_url(self, column: str) -> str:
        """Sorting by ``column``: ascending first, the other way when it is already sorted so."""
        f = self.filter
        direction = "desc" if f.order_by == column and f.direction == "asc" else "asc"
        return self.url(order_by=column, direction=direction, page=None)

    def aria_sort(self, column: str) -> str | None:
        if self.filter.order_by != column:
            return None
        return "ascending" if self.filter.direction == "asc" else "descending"


def _shown(value: str) -> str:
    return value if len(value) <= 40 else value[:39] + "…"


def _parse_int(value: str, *, allowed: Callable[[int], bool]) -> int | None:
    try:
        number = int(value)
    except ValueError:
        return None
    return number if allowed(number) else None


def parse_listing(query: Mapping[str, str]) -> Listing:
    """The listing ``query`` asks for; values outside what the API accepts are dropped and
    named in ``ignored``."""
    params: dict[str, str] = {}
    ignored: list[str] = []
    for key in LISTING_KEYS:
        value = query.get(key, "").strip()
        if value and _is_valid(key, value):
            params[key] = value
        elif value:
            ignored.append(f'{key} "{_shown(value)}"')
    values: dict[str, Any] = {key: params.get(key) for key in ("visibility", "status", "type")}
    for key, field_name, is_end in (("start", "start", False), ("end", "end", True)):
        values[field_name] = parse_bound(params[key], field=key, end=is_end) if key in params \
            else None
    f = ShareFilter(
        query=params.get("query"), password=_flag(params.get("password")),
        order_by=cast(Any, params.get("order_by", "created_at")),
        direction=cast(Any, params.get("direction", "desc")),
        page=int(params.get("page", 1)),
        page_size=int(params.get("page_size", DEFAULT_PAGE_SIZE)), **values)
    return Listing(params=params, filter=f, ignored=ignored)


def _flag(value: str | None) -> bool | None:
    return None if value is None else value == "true"


def _is_valid(key: str, value: str) -> bool:
    if key in CHOICES:
        return value in CHOICES[key]
    if key == "query":
        return len(value) <= MAX_QUERY_CHARS and is_storable(value)
    if key in ("start", "end"):
        try:
            parse_bound(value, field=key)
        except InvalidInput:
            return False
        return len(value) <= 40
    if key == "page":
        return _parse_int(value, allowed=lambda n: 1 <= n <= MAX_PAGE) is not None
    return _parse_int(value, allowed=lambda n: n in PAGE_SIZES) is not None  # page_size


def listing_from_back(back: str) -> Listing:
    """The listing a form was posted from (its ``back`` field: the page's query string)."""
    return parse_listing(dict(parse_qsl(back[:2000], keep_blank_values=False)))


# --- rows --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShareRow:
    """One share as the table shows it."""

    chat_id: str
    title: str
    url: str
    created_at: datetime
    updated_at: datetime
    is_public: bool
    has_password: bool
    views: str
    clones: str
    status: str
    type: str
    expires_at: str | None  # ISO time, for the script that flips the status when it passes
    owner_only: bool = False  # "only me": the link is revoked for everyone else


def _counter(count: int, limit: int | None) -> str:
    return f"{count} / {limit}" if limit else str(count)


def share_row(share: Share, *, now: datetime, site: str) -> ShareRow:
    status = rules.share_status(share, now=now)
    expires = None
    if share.expires_at is not None and status == "active":
        expires = share.expires_at.isoformat(timespec="milliseconds")
    return ShareRow(
        chat_id=share.conversation_id, title=share.title, url=f"{site}/s/{share.share_id}",
        created_at=share.created_at, updated_at=share.updated_at, is_public=share.is_public,
        has_password=share.has_password, views=_counter(share.views, share.max_views),
        clones=_counter(share.clones, share.max_clones), status=status, type=share.type,
        expires_at=expires, owner_only=share.owner_only)


def done_notice(done: str | None, n: str | None) -> str | None:
    """The notice for ``?done=<action>&n=<count>`` after a form post (None if unknown)."""
    if done not in DONE_NOTICES:
        return None
    count = _parse_int(n or "", allowed=lambda x: 0 <= x <= 10**9) or 0
    noun = "shared chat" if count == 1 else "shared chats"
    return DONE_NOTICES[done].format(n=f"{count} {noun}")


# --- the page ----------------------------------------------------------------------------------

async def dashboard_page(
    request: Request, ctx: AppContext, user: User, listing: Listing, *, status: int = 200,
    notice: str | None = None, error: str | None = None, card: str = "list",
) -> Response:
    """The dashboard for ``listing``; ``error`` is shown in ``card`` ("list" or "danger")."""
    items, total = await share_service.list_shares(ctx, user, listing.filter)
    site = base_url(request, ctx)
    now = ctx.now()
    f = listing.filter
    return render(
        request, "shared.html", status=status, title="Shared chats", section="shared",
        listing=listing, rows=[share_row(s, now=now, site=site) for s in items], total=total,
        pages=max(1, -(-total // f.page_size)), first=(f.page - 1) * f.page_size + 1,
        columns=COLUMNS, page_sizes=PAGE_SIZES, danger_actions=DANGER_ACTIONS,
        confirm_words=share_service.CONFIRM_WORDS, notice=notice, error=error, card=card,
        conversations=await sidebar_items(ctx, user), current_id=None)


@router.get("/shared")
async def shared_dashboard(request: Request, ctx: Ctx, principal: OptionalPrincipal) -> Response:
    if principal is None:
        return await to_login(ctx, request)
    query = request.query_params
    return await dashboard_page(request, ctx, principal.user, parse_listing(query),
                                notice=done_notice(query.get("done"), query.get("n")))


def _back_to(listing: Listing, done: str, count: int) -> Response:
    joiner = "&" if "?" in listing.url() else "?"
    return redirect(f"{listing.url()}{joiner}{urlencode({'done': done, 'n': count})}")


async def _row_action(ctx: AppContext, user: User, action: str, chat_ids: list[str]) -> int:
    """Apply a row or bulk action; returns how many shares changed. Other users' chats are
    never matched (the services scope every query by owner)."""
    if action not in ROW_ACTIONS:
        raise InvalidInput("Unknown action.", field="action")
    if not chat_ids:
        raise InvalidInput("Select at least one shared chat first.", field="chat_ids")
    if action == "restore":
        if len(chat_ids) != 1:
            raise InvalidInput("Restore one link at a time.", field="chat_ids")
        await share_service.restore_share(ctx, user, chat_ids[0])
        return 1
    return await share_service.bulk_action(ctx, user, action=cast(Any, action),
                                           chat_ids=chat_ids)


@router.post("/shared/actions")
async def shared_actions(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, action: FormText = "",
    chat_ids: ChatIds | None = None, back: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: FormText = "",
) -> Response:
    """Revoke, restore or reset the statistics of the chosen shares, then back to the page."""
    user = form_principal(request, principal, csrf_token).user
    listing = listing_from_back(back)
    try:
        count = await _row_action(ctx, user, action, chat_ids or [])
    except SalonError as exc:
        return await dashboard_page(request, ctx, user, listing, status=status_for(exc),
                                    error=exc.detail)
    return _back_to(listing, action, count)


async def _danger_action(ctx: AppContext, user: User, action: str, confirm: str) -> int:
    if action == "revoke_all":
        return await share_service.revoke_all(ctx, user, confirm=confirm)
    if action == "reset_all":
        return await share_service.reset_all_stats(ctx, user, confirm=confirm)
    if action == "clear_revoked":
        return await share_service.clear_revoked(ctx, user, confirm=confirm)
    raise InvalidInput("Unknown action.", field="action")


@router.post("/shared/danger")
async def shared_danger(
    request: Request, ctx: Ctx, principal: OptionalPrincipal, action: FormText = "",
    confirm: FormText = "", back: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: FormText = "",
) -> Response:
    """Revoke All, Reset All Stats or Clear Revoked: only with the action's word typed."""
    user = form_principal(request, principal, csrf_token).user
    listing = listing_from_back(back)
    try:
        count = await _danger_action(ctx, user, action, confirm.strip())
    except SalonError as exc:
        return await dashboard_page(request, ctx, user, listing, status=status_for(exc),
                                    error=exc.detail, card="danger")
    return _back_to(listing, action, count)
