"""A share's files for its viewers: one file, or all of them as a ZIP. The same access rules as
the share (``share_viewing.decide``); free to the holder of a view grant, else each download
spends a view (and hands out a grant, so the rest of that view's files are free)."""

from __future__ import annotations

import asyncio
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from salon.domain.conversations import slugify
from salon.domain.errors import NotFound
from salon.domain.files import unique_names
from salon.domain.shares import SharedFile
from salon.domain.users import User
from salon.services.context import AppContext
from salon.services.share_viewing import decide, deliver, read_content


@dataclass(frozen=True)
class ShareFile:
    """A file of a share, delivered: the file, its bytes and the delivery's view grant."""

    file: SharedFile
    data: bytes
    grant: str | None


@dataclass(frozen=True)
class ShareZip:
    """Every file of a share in a ZIP on disk (the caller deletes it), its download name and
    the delivery's view grant."""

    name: str
    path: Path
    grant: str | None


async def get_share_file(
    ctx: AppContext, link: str, index: int, *, viewer: User | None, unlock: str | None,
    grant: str | None = None, client: str | None = None,
) -> ShareFile:
    """One file of the shared messages: same access rules as the share, free with a view
    grant, else a view."""
    access, decision = await decide(ctx, link, viewer=viewer, unlock=unlock, grant=grant,
                                    client=client)
    files = (await read_content(ctx, access.share))[3].files
    if not 0 <= index < len(files) or not ctx.blobs.exists(files[index].sha256):
        raise NotFound("This shared chat has no such file.", code="FILE_NOT_FOUND")
    admission = await deliver(ctx, access, decision)
    found = files[index]
    return ShareFile(found, await asyncio.to_thread(ctx.blobs.get, found.sha256),
                     admission.grant)


async def build_share_zip(
    ctx: AppContext, link: str, *, viewer: User | None, unlock: str | None,
    grant: str | None = None, client: str | None = None,
) -> ShareZip:
    """Every file of the share in one ZIP (bare, de-duplicated names), written to a temporary
    file so memory stays bounded. Free with a view grant, else a view."""
    access, decision = await decide(ctx, link, viewer=viewer, unlock=unlock, grant=grant,
                                    client=client)
    files = [f for f in (await read_content(ctx, access.share))[3].files
             if ctx.blobs.exists(f.sha256)]
    if not files:
        raise NotFound("This shared chat has no files.", code="FILE_NOT_FOUND")
    admission = await deliver(ctx, access, decision)
    tmp_dir = ctx.settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    names = unique_names([f.name for f in files])

    def _write() -> Path:
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="share-", suffix=".zip")
        with open(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as archive:
            for entry, item in zip(names, files, strict=True):
                archive.write(ctx.blobs.path_for(item.sha256), arcname=entry)
        return Path(name)

    title = access.share.title if not access.share.live else "shared-chat"
    return ShareZip(f"{slugify(title)}-files.zip", await asyncio.to_thread(_write),
                    admission.grant)

