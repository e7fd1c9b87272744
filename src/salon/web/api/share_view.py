"""The body of ``GET /api/v1/chats/share/{id}``: the shared chat as a viewer may see it, as
JSON bytes with their ETag, sent gzipped when the client asks.

An anonymous viewer's body of a snapshot is the same for every anonymous viewer of that share
as it is: it is serialised once and kept on the context (``share_view_cache``) under
``view_key``, which holds everything of the share the body depends on, and the share's last
change (``updated_at``), so any change of the share or its options, a new snapshot or a
rotated link is a new entry. Only content is cached: the access decision and the view it
spends are made from the database on every request, before the cache is asked.
``share_fast_path`` answers the common case from the same entries without the framework.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder

from salon.domain import shares as rules
from salon.domain.shares import Share
from salon.domain.users import User
from salon.services import share_viewing as viewing
from salon.services.context import AppContext
from salon.services.share_viewing import Admission, SharedView
from salon.web.api import openwebui_chat
from salon.web.pages.share_cache import etag_matches
from salon.web.single_flight import SingleFlight

MEDIA_TYPE = "application/json"
# Smaller bodies (an error, an empty chat) are sent as they are: gzip would not pay.
GZIP_MIN_BYTES = 512
VIEW_HEADERS = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
# The route's caching and encoding headers and its 304, for the API's document.
VIEW_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"headers": {
        "ETag": {"description": "Of this body in this encoding: send it back as "
                                "If-None-Match to get a 304", "schema": {"type": "string"}},
        "Content-Encoding": {"description": "gzip when Accept-Encoding allows it",
                             "schema": {"type": "string"}}}},
    304: {"description": "Not modified: If-None-Match names the answer's ETag (a view is "
                         "spent and its grant handed out, as for a 200)"},
}
BODIES: SingleFlight[tuple[Any, ...], ViewBody] = SingleFlight()


@dataclass(frozen=True)
class ViewBody:
    """A view's JSON bytes (exactly what the framework would send for ``content``) and their
    strong ETag; the gzipped bytes are made the first time a client asks for them."""

    plain: bytes
    etag: str

    @classmethod
    def of(cls, content: Any) -> ViewBody:
        plain = json.dumps(jsonable_encoder(content), ensure_ascii=False, allow_nan=False,
                           indent=None, separators=(",", ":")).encode()
        return cls(plain=plain, etag=hashlib.sha256(plain).hexdigest()[:32])

    @property
    def size(self) -> int:
        """Bytes it holds at most, for ``LruCache``: the plain bytes and, once made, the
        gzipped ones (never larger than the plain but by a few bytes)."""
        return 2 * len(self.plain) + 64

    @cached_property
    def gzipped(self) -> bytes:
        return gzip.compress(self.plain, compresslevel=6, mtime=0)

    def encoded(self, accept_encoding: str) -> tuple[bytes, str | None, str]:
        """The bytes to send to a client that sent ``accept_encoding``, their Content-Encoding
        (None: as they are) and ETag (each encoding is its own representation)."""
        if len(self.plain) >= GZIP_MIN_BYTES and accepts_gzip(accept_encoding):
            return self.gzipped, "gzip", f'"{self.etag}-gzip"'
        return self.plain, None, f'"{self.etag}"'


@lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value lets us send gzip: named (or ``*`` is, when gzip is
    not named) with a quality above zero."""
    qualities = dict(_codings(accept_encoding))
    quality = qualities.get("gzip", qualities.get("x-gzip", qualities.get("*", 0.0)))
    return quality > 0


def _codings(accept_encoding: str) -> Iterable[tuple[str, float]]:
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        yield name.strip().lower(), quality


def view_json(view: SharedView, *, base: str) -> dict[str, Any]:
    """What a viewer gets: no owner id or email, no internal ids, no storage paths."""
    link = view.share.share_id
    files_base = f"{base}/api/v1/chats/share/{link}/files"
    return {
        "id": link,  # Open WebUI's share page clones by it (/chats/{id}/clone/shared)
        "share_id": link,
        "title": view.title,
        "type": view.share.type,
        "status": view.status,
        "created_at": _iso(view.created_at),
        "updated_at": _iso(view.updated_at),
        "messages": view.messages,
        "files": [{"index": i, **f.public(), "url": f"{files_base}/{i}"}
                  for i, f in enumerate(view.files)],
        "files_zip_url": f"{files_base}.zip" if view.files else None,
        "owner": {"name": view.owner_name} if view.owner_name else None,
        "recipe": view.recipe,
        "can_clone": view.can_clone,
        "is_owner": view.is_owner,
        "chat": openwebui_chat.shared_chat(view),  # what Open WebUI's share page reads
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def view_key(ctx: AppContext, share: Share, *, base: str) -> tuple[Any, ...]:
    """What an anonymous viewer's body of a snapshot depends on: the share and its link, the
    snapshot (content version), the status the body states, the links' base URL; and the
    share's last change, so a changed option is never answered from an older entry."""
    return (share.id, share.share_id, share.content_version, share.updated_at,
            rules.share_status(share, now=ctx.now()), base)


async def view_body(
    ctx: AppContext, admission: Admission, *, viewer: User | None, base: str
) -> ViewBody:
    """The body for an admitted viewer: an anonymous viewer's of a snapshot from the cache
    (serialised once for all the viewers arriving while it is made), any other built now."""
    share = admission.share
    if viewer is not None or admission.is_owner or share.live:
        view = await viewing.view_admitted(ctx, admission, viewer=viewer)
        return ViewBody.of(view_json(view, base=base))
    key = view_key(ctx, share, base=base)
    cached: ViewBody | None = ctx.share_view_cache.get(key)
    if cached is not None:
        return cached

    async def make() -> ViewBody:
        view = await viewing.view_admitted(ctx, admission, viewer=None)
        body = ViewBody.of(view_json(view, base=base))
        ctx.share_view_cache.put(key, body, size=body.size)
        return body

    return await BODIES.run(key, make)


def view_response(request: Request, body: ViewBody, *, head: bool = False) -> Response:
    """200 with the body (gzipped when asked), or 304 when ``If-None-Match`` names its ETag;
    ``head``: the same status and headers without the content."""
    content, encoding, etag = body.encoded(request.headers.get("accept-encoding", ""))
    headers = {**VIEW_HEADERS, "ETag": etag}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    if head:
        headers["Content-Length"] = str(len(content))
        return Response(headers=headers, media_type=MEDIA_TYPE)
    return Response(content, headers=headers, media_type=MEDIA_TYPE)
