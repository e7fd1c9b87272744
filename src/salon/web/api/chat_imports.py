"""Importing conversations: ``POST /api/v1/chats/import``."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from salon.domain.errors import InvalidInput
from salon.services import importing
from salon.web.deps import Ctx, CurrentUser

router = APIRouter(prefix="/api/v1/chats", tags=["chats"])


@router.post("/import")
async def import_chats(request: Request, user: CurrentUser, ctx: Ctx) -> Any:
    """Import Salon conversation files (the JSON that ``/export?format=json`` gives): one file,
    or a list of them. Each conversation is imported on its own: the answer lists what was
    ``imported`` (with the new ``chat_id``), ``skipped`` (already imported from the same
    file) and ``failed`` (its ``index`` and ``reason``). A single file that is not valid is
    a 422 saying what is wrong."""
    payload = _json_body(await request.body())
    report = await importing.import_documents(ctx, user, payload)
    return report.as_json()


def _json_body(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidInput("The body is not valid JSON (or nests too deeply).",
                           code="INVALID_JSON") from None
