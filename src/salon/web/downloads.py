"""Safe file responses: RFC 6266 names, and active content never served inline."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import Response

from salon.domain.files import IMAGE_TYPES


def content_disposition(name: str, *, inline: bool) -> str:
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_response(
    data: bytes, *, name: str, media_type: str, force_download: bool = False,
    cache_control: str = "private, max-age=3600",
) -> Response:
    """The file's bytes. Images keep their type (so ``<img>`` works) and show inline unless
    ``force_download``; everything else is an octet stream that downloads."""
    image = media_type in IMAGE_TYPES
    return Response(
        data,
        media_type=media_type if image else "application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(name, inline=image and not force_download),
            **DOWNLOAD_HEADERS,
            "Cache-Control": cache_control,
        },
    )


DOWNLOAD_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
}
