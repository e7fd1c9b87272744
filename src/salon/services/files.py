"""Storing attachments: bodies go to the blob store, a ``files`` row names each use."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.errors import NotFound
from salon.domain.files import DecodedImage, guess_media_type, image_extension, safe_filename
from salon.services.context import AppContext
from salon.store import conversations as repo


async def attach_bytes(
    ctx: AppContext,
    conn: AsyncConnection,
    *,
    user_id: str,
    conversation_id: str,
    name: str,
    media_type: str,
    data: bytes,
) -> dict[str, Any]:
    """Store ``data`` and return the file's part fields (file_id, name, media_type, size)."""
    sha = ctx.blobs.put(data)
    file_id = str(uuid.uuid4())
    await repo.insert_file(
        conn,
        id=file_id,
        user_id=user_id,
        conversation_id=conversation_id,
        sha256=sha,
        name=name,
        media_type=media_type,
        size=len(data),
        created_at=ctx.now(),
    )
    return {"file_id": file_id, "name": name, "media_type": media_type, "size": len(data)}


async def attach_image(
    ctx: AppContext, conn: AsyncConnection, *, user_id: str, conversation_id: str,
    image: DecodedImage, index: int,
) -> dict[str, Any]:
    name = f"image-{index + 1}.{image_extension(image.media_type)}"
    fields = await attach_bytes(ctx, conn, user_id=user_id, conversation_id=conversation_id,
                                name=name, media_type=image.media_type, data=image.data)
    return {"type": "image", **fields}


async def attach_text_file(
    ctx: AppContext, conn: AsyncConnection, *, user_id: str, conversation_id: str,
    name: str, content: str, index: int,
) -> dict[str, Any]:
    clean = safe_filename(name, fallback=f"file-{index + 1}.txt")
    fields = await attach_bytes(ctx, conn, user_id=user_id, conversation_id=conversation_id,
                                name=clean, media_type=guess_media_type(clean),
                                data=content.encode("utf-8"))
    return {"type": "file", **fields}


async def forget_unused_blobs(ctx: AppContext, hashes: set[str]) -> None:
    """Delete those of ``hashes`` no file row points at (after a failed write)."""
    if not hashes:
        return
    async with ctx.engine.connect() as conn:
        orphans = await repo.unreferenced_blobs(conn, hashes)
    for sha in orphans:
        ctx.blobs.delete(sha)


async def read_file(ctx: AppContext, *, user_id: str, file_id: str) -> tuple[dict[str, Any], bytes]:
    """The owner's file row and body. Raises NotFound for anyone else's file."""
    async with ctx.engine.connect() as conn:
        row = await repo.get_file(conn, file_id, user_id=user_id)
    if row is None or not ctx.blobs.exists(row["sha256"]):
        raise NotFound("File not found.", code="FILE_NOT_FOUND")
    return row, ctx.blobs.get(row["sha256"])
