"""``GET /api/v1/chats/all/export``: every conversation of the caller in one ZIP, streamed."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from salon.services import archive, exporting
from salon.web.api.chats import EXPORT_FORMAT
from salon.web.deps import Ctx, CurrentUser
from salon.web.downloads import DOWNLOAD_HEADERS, content_disposition

router = APIRouter(prefix="/api/v1/chats", tags=["chats"])


@router.get("/all/export")
async def export_all_chats(
    user: CurrentUser, ctx: Ctx, format: str = Query(
        default="json", max_length=20, json_schema_extra=EXPORT_FORMAT),
) -> StreamingResponse:
    """All your conversations as a ZIP, one file per conversation in ``format`` (as
    ``/api/v1/chats/{id}/export``). Sent as it is written: the download starts at once and
    the server holds one conversation at a time."""
    exporting.check_export_format(format)
    name = archive.archive_name(ctx.now())
    return StreamingResponse(
        archive.export_archive(ctx, user, format), media_type="application/zip",
        headers={"Content-Disposition": content_disposition(name, inline=False),
                 **DOWNLOAD_HEADERS, "Cache-Control": "no-store"})
