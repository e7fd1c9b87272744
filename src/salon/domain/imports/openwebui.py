"""Open WebUI's chat export (Settings > Chats > Export): a list of chats such as

    {"id", "title", "created_at": epoch seconds, "updated_at",
     "chat": {"title", "models": [...],
              "history": {"currentId": "m3", "messages": {"m1": {"id", "parentId",
                  "childrenIds", "role", "content": markdown, "timestamp", "model",
                  "files": [...]}}},
              "messages": [...]}}

One chat is a tree (every regenerated answer and edited question is a branch); Salon keeps the
branch the user was on: from ``history.currentId`` up the ``parentId`` links to the root. Images
the chat carries as data URLs come along; other files are not in the export, so a note says
which were left out. A single chat object, its ``{"chat": {...}}`` wrapper and the inner chat
alone are read too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from salon.domain.conversations import MessageStatus, Role
from salon.domain.errors import InvalidInput
from salon.domain.files import decode_image_data_url, image_extension, safe_filename
from salon.domain.imports import common
from salon.domain.imports.transcript import Draft, Transcript
from salon.domain.salon_json import FileEntry, ParsedConversation

ROLES = ("user", "assistant", "system")


def is_chat(value: object) -> bool:
    return isinstance(value, Mapping) and (
        isinstance(value.get("chat"), Mapping) or isinstance(value.get("history"), Mapping))


def parse_chat(value: object, *, now: datetime) -> ParsedConversation:
    outer = common.mapping(value, "chat")
    inner, where = (outer["chat"], "chat.chat") if isinstance(outer.get("chat"), Mapping) \
        else (outer, "chat")
    transcript = Transcript()
    for item_where, item in _current_messages(inner, where):
        _add_message(transcript, common.mapping(item, item_where), item_where)
    title = outer.get("title") if outer.get("title") is not None else inner.get("title")
    return transcript.parsed(
        title=common.title(title, "chat.title"),
        created_at=common.moment(outer.get("created_at"), "chat.created_at"),
        updated_at=common.moment(outer.get("updated_at"), "chat.updated_at"),
        now=now, fingerprint=common.fingerprint(outer))


def _current_messages(chat: Mapping[str, Any], where: str) -> list[tuple[str, object]]:
    """(where, message) on the current branch; the flat ``messages`` list without a history."""
    if chat.get("history") is None:
        listed = common.items(chat.get("messages"), f"{where}.messages")
        return [(f"{where}.messages[{i}]", m) for i, m in enumerate(listed)]
    history = common.mapping(chat["history"], f"{where}.history")
    nodes = common.optional_mapping(history.get("messages"), f"{where}.history.messages")
    if not nodes:
        return []
    leaf = history.get("currentId") or common.latest_leaf(
        nodes, children_of=lambda n: n.get("childrenIds"), time_of=lambda n: n.get("timestamp"))
    ids = common.current_branch(nodes, leaf, parent_of=lambda n: n.get("parentId"),
                                where=f"{where}.history.messages")
    return [(f"{where}.history.messages[{i[:80]!r}]", nodes[i]) for i in ids]


def _add_message(transcript: Transcript, m: Mapping[str, Any], where: str) -> None:
    role = m.get("role")
    if role not in ROLES:
        raise InvalidInput(f"{where}.role must be one of {', '.join(ROLES)}.")
    parts: list[dict[str, Any]] = []
    content = common.text(m.get("content"), f"{where}.content")
    if content.strip():
        parts.append({"type": "text", "text": content})
    for i, f in enumerate(common.items(m.get("files"), f"{where}.files")):
        parts.append(_file_part(transcript, common.mapping(f, f"{where}.files[{i}]"),
                                f"{where}.files[{i}]"))
    if not parts:
        return
    transcript.add(Draft(
        role=cast(Role, role), parts=parts,
        created_at=common.moment(m.get("timestamp"), f"{where}.timestamp"),
        model=common.name(m.get("model"), f"{where}.model"),
        status=_status(m), usage=_usage(m.get("usage"))))


def _status(m: Mapping[str, Any]) -> MessageStatus:
    if m.get("error"):
        return "error"
    return "interrupted" if m.get("done") is False else "complete"


def _file_part(transcript: Transcript, f: Mapping[str, Any], where: str) -> dict[str, Any]:
    """An image carried as a data URL becomes an image part with its file; anything else is
    a note: the export holds only a link to the file on the other server."""
    inner = common.optional_mapping(f.get("file"), f"{where}.file")
    raw_name = f.get("name") or inner.get("filename") or ""
    label = safe_filename(common.text(raw_name, f"{where}.name"), fallback="file")
    url = f.get("url")
    if f.get("type") == "image" and isinstance(url, str) and url.startswith("data:"):
        try:
            image = decode_image_data_url(url, index=0)
        except InvalidInput:
            return {"type": "text", "text": f"[image not included: {label} is not a valid "
                    "image]"}
        file_id = f"image-{len(transcript.files) + 1}"
        image_name = f"{file_id}.{image_extension(image.media_type)}" if label == "file" \
            else label
        transcript.add_file(FileEntry(id=file_id, name=image_name, media_type=image.media_type,
                                      data=image.data))
        return {"type": "image", "file_id": file_id, "name": image_name,
                "media_type": image.media_type, "size": len(image.data)}
    return {"type": "text", "text": f"[file not included: {label}]"}


def _usage(value: object) -> dict[str, Any]:
    """Token counts, when the chat has them (numbers only: the rest is the other app's)."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k)[:100]: v for k, v in value.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}
