"""The owner's own files (attachments and images of their conversations)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from salon.services import files as file_service
from salon.web.deps import Ctx, CurrentUser
from salon.web.downloads import file_response

router = APIRouter(prefix="/api/v1/files", tags=["files"])


@router.get("/{file_id}/content")
async def file_content(file_id: str, user: CurrentUser, ctx: Ctx) -> Response:
    """The file's bytes. Images are shown inline; everything else downloads (never rendered
    by the browser as a page)."""
    row, data = await file_service.read_file(ctx, user_id=user.id, file_id=file_id)
    return file_response(data, name=row["name"], media_type=row["media_type"])
