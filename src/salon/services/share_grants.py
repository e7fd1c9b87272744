"""Signed rights a share's viewer carries, with nothing stored: HMACs (``SALON_SECRET_KEY``)
over the share's internal id, its link and its content version, so rotating the link or taking
a new snapshot ends every one of them at once, on every worker.

- A **view grant** comes with every counted view (the page, ``GET /api/v1/chats/share/{id}``,
  the hot path) and with every delivery that used or spent one. For ``GRANT_TTL`` it is the
  right to *that* view's files, ZIP and live messages, and to clone it, without spending
  another view, even once the views are used up (never after revocation, the expiry time, a new
  password or a new snapshot: the access decision still runs). Grants issued within one
  ``GRANT_STEP`` are the same token, so the hot path signs one per share a minute. A grant is
  not bound to the client: it reveals only what its holder was just given.
- A **clone press** is the token in the anonymous page's "Clone chat" form: one per share and
  content version (that page is cached), proving the form came from our page.
- A **clone intent** is what pressing it leaves in that browser while its viewer logs in: the
  page they come back to asks "Clone this chat into your account?". Nothing here clones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from functools import lru_cache
from typing import TypeGuard

from salon.domain.shares import Share
from salon.services.context import AppContext

GRANT_TTL = timedelta(minutes=5)
GRANT_STEP = 60  # seconds
INTENT_TTL = timedelta(minutes=30)
MAX_TOKEN_CHARS = 128


def is_token_shaped(token: str | None) -> TypeGuard[str]:
    """Short ASCII text: the only kind worth comparing (``hmac.compare_digest`` refuses other
    text, and ``isdigit`` accepts digits ``int`` does not)."""
    return token is not None and 0 < len(token) <= MAX_TOKEN_CHARS and token.isascii()


@lru_cache(maxsize=4096)
def _mac(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _sign(ctx: AppContext, purpose: str, share: Share, *extra: int) -> str:
    fields = (purpose, share.id, share.share_id, str(share.content_version), *map(str, extra))
    return _mac(ctx.settings.secret_key, "|".join(fields))


def _timed(ctx: AppContext, purpose: str, share: Share, expires: int) -> str:
    return f"{expires}.{_sign(ctx, purpose, share, expires)}"


def _is_timed(ctx: AppContext, purpose: str, share: Share, token: str | None) -> bool:
    """Whether ``token`` is ours for this purpose and share as it is now, and not expired
    (constant-time comparison; any malformed token is simply not valid)."""
    if not is_token_shaped(token):
        return False
    expires_text, _, mac = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    if expires <= ctx.now().timestamp():
        return False
    return hmac.compare_digest(mac, _sign(ctx, purpose, share, expires))


# --- view grants -------------------------------------------------------------------------------

def view_grant(ctx: AppContext, share: Share) -> str:
    """A grant for the view just delivered (valid ``GRANT_TTL`` to ``GRANT_TTL + GRANT_STEP``)."""
    now = int(ctx.now().timestamp())
    expires = now - now % GRANT_STEP + GRANT_STEP + int(GRANT_TTL.total_seconds())
    return _timed(ctx, "share-view", share, expires)


def is_granted(ctx: AppContext, share: Share, token: str | None) -> bool:
    return _is_timed(ctx, "share-view", share, token)


# --- cloning after logging in --------------------------------------------------------------------

def clone_press(ctx: AppContext, share: Share) -> str:
    return _sign(ctx, "clone-press", share)


def is_clone_press(ctx: AppContext, share: Share, token: str) -> bool:
    return is_token_shaped(token) and hmac.compare_digest(token, clone_press(ctx, share))


def clone_intent(ctx: AppContext, share: Share) -> str:
    expires = int((ctx.now() + INTENT_TTL).timestamp())
    return _timed(ctx, "clone-intent", share, expires)


def is_clone_intended(ctx: AppContext, share: Share, token: str | None) -> bool:
    return _is_timed(ctx, "clone-intent", share, token)
