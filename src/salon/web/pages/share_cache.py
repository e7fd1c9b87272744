"""The share page as every anonymous viewer of a snapshot gets it: rendered once per (share,
link, content version, clone offer), kept on the context with a placeholder where each
response's CSP nonce goes, and revalidated with its ETag. ``share_page`` and the hot path
(``share_fast_path``) answer from it alike."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from salon.domain.shares import Share
from salon.services import share_cloning as cloning
from salon.services.context import AppContext, LruCache
from salon.web.pages.share_render import share_page_html

# Rendered into cached pages where the CSP nonce goes, replaced per response. Random per
# process, so no message can be written to match it.
NONCE_PLACEHOLDER = "nonce" + secrets.token_hex(16)


@dataclass(frozen=True)
class PageBytes:
    """A rendered page, cut where the nonce goes (``NONCE_PLACEHOLDER``), and its ETag."""

    pieces: tuple[bytes, ...]
    etag: str

    @classmethod
    def of(cls, html: str) -> PageBytes:
        body = html.encode()
        return cls(pieces=tuple(body.split(NONCE_PLACEHOLDER.encode())),
                   etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    def with_nonce(self, nonce: str) -> bytes:
        return nonce.encode().join(self.pieces)

    @property
    def size(self) -> int:
        """About the bytes it holds (for ``LruCache``)."""
        return sum(len(piece) for piece in self.pieces) + len(self.etag)


def render_anonymous(
    cache: LruCache, context: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]
) -> PageBytes:
    """The page as every anonymous viewer gets it, with the nonce placeholder (pure: made on
    a render thread, ``services.render_pool``)."""
    values = {**context, "user": None, "nonce": NONCE_PLACEHOLDER, "csrf_token": ""}
    return PageBytes.of(share_page_html(cache, values, messages))


def etag_matches(sent: str | None, etag: str) -> bool:
    """Whether an If-None-Match header value names ``etag`` (weak or strong, or "*")."""
    if not sent:
        return False
    tags = {t.strip().removeprefix("W/") for t in sent.split(",")}
    return etag in tags or "*" in tags


def is_cacheable(share: Share) -> bool:
    """Browsers may keep (and revalidate) the page of a public, password-less share."""
    return share.is_public and not share.has_password


def page_key(ctx: AppContext, share: Share) -> tuple[Any, ...]:
    """What an anonymous viewer's page of a snapshot depends on."""
    offer = cloning.clone_offered_after_login(share, now=ctx.now())
    return (share.id, share.share_id, share.content_version, offer)


def cached_headers(page: PageBytes) -> dict[str, str]:
    return {"Cache-Control": "no-cache", "ETag": page.etag, "Vary": "Cookie"}


def with_nonce(request: Request, page: PageBytes) -> bytes:
    return page.with_nonce(str(request.scope.get("state", {}).get("csp_nonce", "")))
