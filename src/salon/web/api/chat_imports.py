"""Importing conversations: ``POST /api/v1/chats/import``."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from salon.domain import salon_json
from salon.services import importing
from salon.store import scratch
from salon.web.deps import Ctx, CurrentUser

router = APIRouter(prefix="/api/v1/chats", tags=["chats"])


# The body is read as a stream, so FastAPI does not describe it: documented here. What is
# documented is a list of Salon conversation files (each a conversation of its own, reported
# as imported, skipped or failed: a 200); one file, or Open WebUI's and ChatGPT's exports, are
# accepted too (the description says so), but a single object that is none of them is a 422.
IMPORT_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "array", "minItems": 1,
    "description": "Conversations: Salon conversation files (one file alone, an Open WebUI "
                   "chat export or ChatGPT's conversations.json are accepted too).",
    "items": {"type": "object", "required": ["format"],
              "properties": {"format": {"const": salon_json.FORMAT}}}}}}}}


@router.post("/import", openapi_extra=IMPORT_BODY)
async def import_chats(request: Request, user: CurrentUser, ctx: Ctx) -> Any:
    """Import conversations: Salon conversation files (what ``/export?format=json`` gives),
    an Open WebUI chat export or ChatGPT's ``conversations.json``; one conversation or a list.
    Each conversation is imported on its own: the answer lists what was ``imported`` (with
    the new ``chat_id`` and its ``source``), ``skipped`` (already imported from the same
    conversation) and ``failed`` (its ``index`` and ``reason``). A body that is not JSON,
    holds nothing recognisable, or is a single conversation that is not valid, is a 422.

    The body goes to a temporary file, and is read from there one conversation at a time,
    so a large export never sits in memory (SALON_MAX_BODY_BYTES still caps its size)."""
    path = await _spool(request, scratch.scratch_dir(ctx.settings.data_dir))
    try:
        report = await importing.import_file(ctx, user, path)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)
    return report.as_json()


async def _spool(request: Request, directory: Path) -> Path:
    """The request body, written to a new private file in ``directory``."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="import-", suffix=".json", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.stream():
                if chunk:
                    await asyncio.to_thread(out.write, chunk)
    except BaseException:  # the body broke off or passed the size limit: leave nothing behind
        path.unlink(missing_ok=True)
        raise
    return path
