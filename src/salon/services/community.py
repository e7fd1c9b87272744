"""Community sharing: publish a snapshot of a chat to a community hub, which is another Salon.

The publishing server needs ``ENABLE_COMMUNITY_SHARING`` with the hub's address
(``SALON_COMMUNITY_URL``) and an API token of an account there (``SALON_COMMUNITY_TOKEN``): it
sends the chat as a Salon chat file to the hub's ``POST /api/v1/community/chats``. The hub
(``SALON_ACCEPT_COMMUNITY_SHARES``) imports it into that account, makes a public snapshot link
and answers with its URL. Publishing the same chat again returns the same link, unless the
hub revoked it: a taken-down chat stays down (410 ``COMMUNITY_CHAT_REVOKED``; a changed chat is
a new document and gets a new link). What the hub says when it refuses is passed on in a few
words; its address and token never reach a viewer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from salon.domain import salon_json
from salon.domain.errors import Forbidden, Gone, InvalidInput, NotFound, RateLimited, Unavailable
from salon.domain.shares import Share, is_revoked
from salon.domain.users import User
from salon.services import exporting, importing
from salon.services.context import AppContext
from salon.services.shares import get_own_share, require_can_share, share_or_restore

if TYPE_CHECKING:
    import httpx

PUBLISH_PATH = "/api/v1/community/chats"
PUBLISH_TIMEOUT = 30.0
PUBLISHES_PER_HOUR = 30  # per user, on the publishing server
RECEIVES_PER_HOUR = 120  # per hub account, on the hub
HOUR = 3600.0


async def _limit(ctx: AppContext, key: str, limit: int) -> None:
    wait = await ctx.limiter.retry_after(key, limit=limit, window=HOUR)
    if wait:
        raise RateLimited(f"Too many community shares; try again in {int(wait) + 1} seconds.",
                          retry_after=int(wait) + 1)
    await ctx.limiter.hit(key, window=HOUR)


# --- publishing ----------------------------------------------------------------------------------

async def publish(ctx: AppContext, user: User, chat_id: str) -> str:
    """Send a snapshot of the user's chat to the hub; the public URL the hub gave it."""
    settings = ctx.settings
    if not settings.enable_community_sharing:
        raise Forbidden("Community sharing is off on this server.",
                        code="COMMUNITY_SHARING_DISABLED")
    if not settings.community_sharing_ready:
        raise Forbidden("Community sharing is on but has no hub: the admin sets "
                        "SALON_COMMUNITY_URL and SALON_COMMUNITY_TOKEN.",
                        code="COMMUNITY_SHARING_NOT_CONFIGURED")
    await require_can_share(ctx, user)
    _, document = await exporting.export_conversation(ctx, user, chat_id)
    await _limit(ctx, f"community-publish:{user.id}", PUBLISHES_PER_HOUR)
    import httpx  # the HTTP client loads only on a server that publishes

    hub = settings.community_url.rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=PUBLISH_TIMEOUT, follow_redirects=False) as http:
            response = await http.post(
                hub + PUBLISH_PATH, json=document,
                headers={"Authorization": f"Bearer {settings.community_token}"})
    except httpx.HTTPError as exc:
        raise Unavailable(f"The community hub did not answer ({type(exc).__name__}); try "
                          "again later.", code="COMMUNITY_UNAVAILABLE") from None
    return _published_url(response, hub)


def _published_url(response: httpx.Response, hub: str) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        said = body.get("detail") if isinstance(body, dict) else None
        reason = said[:300] if isinstance(said, str) else f"it answered {response.status_code}"
        if response.status_code == 410:
            raise Gone(f"The community hub took this chat down: {reason}",
                       code="COMMUNITY_CHAT_REVOKED")
        raise Unavailable(f"The community hub refused the chat: {reason}",
                          code="COMMUNITY_REFUSED")
    url = body.get("url") if isinstance(body, dict) else None
    # Only a link on the hub itself is shown to the user.
    if not isinstance(url, str) or urlsplit(url).netloc != urlsplit(hub).netloc:
        raise Unavailable("The community hub gave no usable link.",
                          code="COMMUNITY_UNAVAILABLE")
    return url


# --- receiving (on the hub) -------------------------------------------------------------------

async def receive(ctx: AppContext, user: User, document: object) -> Share:
    """Import a published chat into ``user``'s account (the publisher's hub account) and give
    it a public snapshot link; the same chat again gets the same link, unless it was revoked
    here (Gone: publishing again never undoes the hub's revocation)."""
    if not ctx.settings.accept_community_shares:
        raise Forbidden("This server does not accept community shares.",
                        code="COMMUNITY_UPLOADS_DISABLED")
    if not salon_json.is_document(document):
        raise InvalidInput("Publish one Salon chat file.", code="UNSUPPORTED_IMPORT_FORMAT")
    await _limit(ctx, f"community-receive:{user.id}", RECEIVES_PER_HOUR)
    report = await importing.import_documents(ctx, user, document)
    entries = report.imported or report.skipped
    if not entries:
        raise Forbidden("The chat could not be imported.", code="COMMUNITY_REFUSED")
    if report.skipped:
        await _refuse_if_taken_down(ctx, user, entries[0]["chat_id"])
    return await share_or_restore(ctx, user, entries[0]["chat_id"])


async def _refuse_if_taken_down(ctx: AppContext, user: User, chat_id: str) -> None:
    try:
        share = await get_own_share(ctx, user, chat_id)
    except NotFound:  # never shared, or its share was deleted: a new link is made
        return
    if is_revoked(share):
        raise Gone("This chat was taken down on the community hub; publishing it again does "
                   "not bring it back.", code="COMMUNITY_CHAT_REVOKED")
