"""QR codes of share links, made on the server with segno (SVG and PNG).

``GET /api/v1/chats/{chat_id}/share/qr?format=svg|png&style=plain|gradient&download=0|1``: the
owner's share link (its absolute URL, as ``url`` in the share JSON) as a QR code. Anyone else,
or a chat that is not shared, gets the same 404 as the share itself. "plain" is segno's own
black-on-white output; "gradient" paints the dark modules with a diagonal violet-to-rose
gradient (segno has no gradients: the SVG is built from segno's module matrix with a
``linearGradient`` fill, and the PNG is written here with zlib, without Pillow). Both keep a
white background and quiet zone, so the code scans in dark mode too.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import Literal

from fastapi import APIRouter, Request, Response

from salon.services import shares as share_service
from salon.web.api.shares import base_url
from salon.web.deps import Ctx, CurrentUser
from salon.web.downloads import content_disposition

router = APIRouter(prefix="/api/v1/chats", tags=["sharing"])

Format = Literal["svg", "png"]
Style = Literal["plain", "gradient"]

SCALE = 8  # pixels per module
BORDER = 4  # the quiet zone, in modules (the standard's minimum)
GRADIENT_FROM = (0x6D, 0x28, 0xD9)  # Salon's accent violet
GRADIENT_TO = (0xBE, 0x18, 0x5D)  # a dark rose: both ends stay dark enough to scan
MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
# An SVG opened on its own must not run or fetch anything (it holds no styles or scripts).
QR_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-cache",
}

Matrix = Sequence[Sequence[int]]
RGB = tuple[int, int, int]


@router.get("/{chat_id}/share/qr")
async def share_qr_code(
    chat_id: str, request: Request, user: CurrentUser, ctx: Ctx,
    format: Format = "svg", style: Style = "plain", download: bool = False,
) -> Response:
    """The share link as a QR code image (owner only; 404 when not shared; 422 on bad
    values). ``download=1`` makes it an attachment instead of an inline image."""
    share = await share_service.get_own_share(ctx, user, chat_id)
    url = f"{base_url(request, ctx)}/s/{share.share_id}"
    data = qr_image(url, format=format, style=style)
    name = f"salon-share-{share.share_id}.{format}"
    return Response(data, media_type=MEDIA_TYPES[format], headers={
        **QR_HEADERS, "Content-Disposition": content_disposition(name, inline=not download)})


def qr_image(text: str, *, format: Format, style: Style) -> bytes:
    """``text`` as a QR code in ``format``; segno chooses the version and error level."""
    import segno  # loaded by the first QR code, not with the server

    qr = segno.make(text, error="m", micro=False)
    if style == "plain":
        out = io.BytesIO()
        qr.save(out, kind=format, scale=SCALE, border=BORDER, dark="#000", light="#fff")
        return out.getvalue()
    matrix = [list(row) for row in qr.matrix_iter(scale=1, border=BORDER)]
    return gradient_svg(matrix) if format == "svg" else gradient_png(matrix)


def gradient_svg(matrix: Matrix) -> bytes:
    """The dark modules of ``matrix`` (quiet zone included) as one path filled with a
    diagonal gradient, on white."""
    size = len(matrix)
    pixels = size * SCALE
    path = "".join(_row_runs(matrix))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{pixels}" height="{pixels}" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        '<defs><linearGradient id="qr-gradient" gradientUnits="userSpaceOnUse" '
        f'x1="0" y1="0" x2="{size}" y2="{size}">'
        f'<stop offset="0" stop-color="{_hex(GRADIENT_FROM)}"/>'
        f'<stop offset="1" stop-color="{_hex(GRADIENT_TO)}"/></linearGradient></defs>'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="url(#qr-gradient)" d="{path}"/></svg>'
    ).encode()


def _row_runs(matrix: Matrix) -> Iterable[str]:
    """One closed rectangle per horizontal run of dark modules."""
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            yield f"M{start} {y}h{x - start}v1h-{x - start}z"


def gradient_png(matrix: Matrix) -> bytes:
    """``matrix`` as an RGB PNG, ``SCALE`` pixels a module, dark modules coloured along the
    diagonal from ``GRADIENT_FROM`` to ``GRADIENT_TO``."""
    size = len(matrix)
    pixels = size * SCALE
    raw = bytearray()
    for y, row in enumerate(matrix):
        line = bytearray(b"\x00")  # filter type "None" for each scanline
        for x, dark in enumerate(row):
            colour = gradient_colour((x + y) / max(2 * (size - 1), 1)) if dark else (255,) * 3
            line += bytes(colour) * SCALE
        raw += bytes(line) * SCALE
    header = struct.pack(">IIBBBBB", pixels, pixels, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"".join((b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header),
                     _chunk(b"IDAT", zlib.compress(bytes(raw), 9)), _chunk(b"IEND", b"")))


def gradient_colour(t: float) -> RGB:
    """The gradient's colour at ``t`` (0 = top left, 1 = bottom right)."""
    r, g, b = (round(a + (z - a) * t) for a, z in zip(GRADIENT_FROM, GRADIENT_TO, strict=True))
    return r, g, b


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _hex(colour: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)
