"""File and image rules: accepted image types, data-URL parsing, safe display names."""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from dataclasses import dataclass

from salon.domain.errors import InvalidInput

# Magic numbers of the image types we accept; the declared type must match the bytes.
_IMAGE_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
IMAGE_TYPES = frozenset(_IMAGE_MAGIC)
MAX_IMAGES = 10
MAX_FILES = 20
_DATA_URL_RE = re.compile(
    r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?P<params>(;[^;,]*)*?);base64,(?P<data>.*)$", re.DOTALL
)


@dataclass(frozen=True)
class DecodedImage:
    media_type: str
    data: bytes


def sniff_image_type(data: bytes) -> str | None:
    """The media type of an accepted image type ``data`` starts like, or None."""
    for media_type, magics in _IMAGE_MAGIC.items():
        if data.startswith(magics) and (media_type != "image/webp" or data[8:12] == b"WEBP"):
            return media_type
    return None


def decode_image_data_url(url: str, *, index: int) -> DecodedImage:
    """Parse ``data:image/...;base64,...``; refuse other types, bad base64 or mismatched bytes."""
    where = f"images[{index}]"
    match = _DATA_URL_RE.match(url.strip())
    if not match:
        raise InvalidInput(f"{where} is not a base64 data URL (data:image/png;base64,...).",
                           code="INVALID_IMAGE", field=where)
    media_type = match["type"].lower()
    if media_type == "image/jpg":
        media_type = "image/jpeg"
    if media_type not in IMAGE_TYPES:
        raise InvalidInput(f"{where}: images must be PNG, JPEG, GIF or WebP, not {media_type}.",
                           code="INVALID_IMAGE", field=where)
    try:
        data = base64.b64decode(re.sub(r"\s+", "", match["data"]), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{where}: the base64 data is invalid.", code="INVALID_IMAGE",
                           field=where) from None
    if not data or not data.startswith(_IMAGE_MAGIC[media_type]):
        raise InvalidInput(f"{where}: the data is not a valid {media_type} image.",
                           code="INVALID_IMAGE", field=where)
    if media_type == "image/webp" and data[8:12] != b"WEBP":
        raise InvalidInput(f"{where}: the data is not a valid image/webp image.",
                           code="INVALID_IMAGE", field=where)
    return DecodedImage(media_type=media_type, data=data)


def safe_filename(name: str, *, fallback: str = "file") -> str:
    """A display name with no path, no control characters, at most 255 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    if len(base) > 255:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 255 - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else base[:255]
    return base or fallback


def guess_media_type(name: str, *, default: str = "text/plain") -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or default


def image_extension(media_type: str) -> str:
    return {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif",
            "image/webp": "webp"}.get(media_type, "bin")


def unique_names(names: list[str]) -> list[str]:
    """Bare, distinct file names for an archive, in order: paths dropped, a repeated name gets
    " (2)", " (3)"... before its extension (compared case-insensitively, as on most disks)."""
    taken: set[str] = set()
    out: list[str] = []
    for raw in names:
        name = safe_filename(raw)
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            stem, dot, ext = name, "", ""
        candidate, n = name, 1
        while candidate.lower() in taken:
            n += 1
            suffix = f" ({n}){dot}{ext}"
            candidate = stem[: 255 - len(suffix)] + suffix
        taken.add(candidate.lower())
        out.append(candidate)
    return out
