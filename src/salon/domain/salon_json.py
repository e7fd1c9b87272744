"""Salon's own conversation file: ``{"format": "salon.conversation", "version": 1, ...}``.

Export writes it, import reads it, and the two round-trip exactly (every part type, times,
models, usage, status, the recipe, the files). The schema (README, "Conversation files"):

    {"format": "salon.conversation", "version": 1, "exported_at": ISO 8601,
     "conversation": {"id", "title", "created_at", "updated_at", "recipe": {...},
        "messages": [{"id", "role", "created_at", "turn_id", "model", "status", "usage": {...},
                      "parts": [{"type": ..., ...}]}],
        "files": [{"id", "name", "media_type", "size", "sha256", "data": base64}]}}

Parts name files by the file's ``id`` in this document. Parsing is strict: a wrong type, an
unknown field, a part naming a file the document does not carry, data that does not match its
SHA-256: each is an ``InvalidInput`` saying where. Text is stored as text (the renderer never
executes HTML), names are cleaned like uploaded ones.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from salon.domain.conversations import (
    DEFAULT_TITLE,
    MAX_TITLE_CHARS,
    Conversation,
    Message,
    MessageStatus,
    Role,
    clean_title,
)
from salon.domain.errors import InvalidInput
from salon.domain.files import guess_media_type, safe_filename

FORMAT = "salon.conversation"
VERSION = 1
MAX_MESSAGES = 10_000
MAX_FILES = 1_000
ROLES = ("user", "assistant", "system")
STATUSES = ("complete", "interrupted", "error")
# At most 63 + 1 + 63 characters: the files table's media_type column holds 127.
MEDIA_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")

# Each part field's JSON type (None: any JSON value).
_STR, _INT, _LIST, _OBJ = str, int, list, dict
PART_VALUE_TYPES: dict[str, dict[str, type | None]] = {
    "text": {"text": _STR},
    "thought": {"text": _STR},
    "tool_call": {"id": _STR, "name": _STR, "arguments": None, "result": None},
    "citation": {"title": _STR, "url": _STR, "snippet": _STR, "source": _STR},
    "image": {"file_id": _STR, "name": _STR, "media_type": _STR, "size": _INT, "alt": _STR,
              "url": _STR},
    "file": {"file_id": _STR, "name": _STR, "media_type": _STR, "size": _INT},
    "table": {"columns": _LIST, "rows": _LIST, "caption": _STR},
    "chart": {"spec": _OBJ, "title": _STR},
    "code": {"language": _STR, "code": _STR, "output": _STR},
    "diagram": {"format": _STR, "source": _STR},
}


@dataclass(frozen=True)
class FileEntry:
    """A file the document carries: ``id`` is how its parts name it."""

    id: str
    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class MessageEntry:
    role: Role
    created_at: datetime
    parts: list[dict[str, Any]]
    turn_id: str | None  # as in the file: the importer gives each turn a new id
    model: str | None
    status: MessageStatus
    usage: dict[str, Any]


@dataclass(frozen=True)
class ParsedConversation:
    title: str
    created_at: datetime
    updated_at: datetime
    recipe: dict[str, Any]
    messages: list[MessageEntry]
    files: list[FileEntry]
    fingerprint: str  # the same conversation file imported twice has the same one


# --- writing -------------------------------------------------------------------------------------

def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def to_document(
    conv: Conversation, messages: Sequence[Message],
    files: Sequence[tuple[Mapping[str, Any], bytes]], *, now: datetime,
) -> dict[str, Any]:
    """The conversation as a Salon file; ``files`` are (files row, body) of its files."""
    return {
        "format": FORMAT, "version": VERSION, "exported_at": iso(now),
        "conversation": {
            "id": conv.id, "title": conv.title, "created_at": iso(conv.created_at),
            "updated_at": iso(conv.updated_at), "recipe": conv.recipe,
            "messages": [{
                "id": m.id, "role": m.role, "created_at": iso(m.created_at),
                "turn_id": m.turn_id, "model": m.model, "status": m.status,
                "usage": m.usage, "parts": m.parts,
            } for m in messages],
            "files": [{
                "id": row["id"], "name": row["name"], "media_type": row["media_type"],
                "size": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                "data": base64.b64encode(body).decode("ascii"),
            } for row, body in files],
        },
    }


# --- reading -------------------------------------------------------------------------------------

def is_document(value: object) -> bool:
    return isinstance(value, Mapping) and value.get("format") == FORMAT


def parse_document(value: object) -> ParsedConversation:
    """The conversation in a Salon file, checked field by field (InvalidInput says where)."""
    if not isinstance(value, Mapping) or value.get("format") != FORMAT:
        raise InvalidInput(f'Not a Salon conversation file (its "format" must be "{FORMAT}").',
                           code="UNSUPPORTED_IMPORT_FORMAT")
    version = value.get("version")
    if version != VERSION:
        raise InvalidInput(f"Unsupported Salon file version {version!r}: this server reads "
                           f"version {VERSION}.", code="UNSUPPORTED_IMPORT_FORMAT")
    conv = _object(value.get("conversation"), "conversation")
    title = _string(conv.get("title", ""), "conversation.title", limit=10_000)
    recipe = _inert(dict(_object(conv.get("recipe", {}), "conversation.recipe")),
                    "conversation.recipe")
    files = _files(_list(conv.get("files", []), "conversation.files", MAX_FILES))
    known = {f.id for f in files}
    messages = [
        _message(item, f"conversation.messages[{i}]", known)
        for i, item in enumerate(_list(conv.get("messages", []), "conversation.messages",
                                       MAX_MESSAGES))
    ]
    return ParsedConversation(
        title=_title(title),
        created_at=_time(conv.get("created_at"), "conversation.created_at"),
        updated_at=_time(conv.get("updated_at"), "conversation.updated_at"),
        recipe=recipe, messages=messages, files=files,
        fingerprint=_fingerprint(conv),
    )


def _title(text: str) -> str:
    try:
        return clean_title(text[:MAX_TITLE_CHARS])
    except InvalidInput:  # empty once cleaned
        return DEFAULT_TITLE


def _fingerprint(conv: Mapping[str, Any]) -> str:
    canonical = json.dumps(conv, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _message(item: object, where: str, files: set[str]) -> MessageEntry:
    m = _object(item, where)
    role = m.get("role")
    if role not in ROLES:
        raise InvalidInput(f"{where}.role must be one of {', '.join(ROLES)}.")
    status = m.get("status", "complete")
    if status not in STATUSES:
        raise InvalidInput(f"{where}.status must be one of {', '.join(STATUSES)}.")
    parts = [_part(p, f"{where}.parts[{i}]", files)
             for i, p in enumerate(_list(m.get("parts", []), f"{where}.parts", 1_000))]
    return MessageEntry(
        role=cast(Role, role), created_at=_time(m.get("created_at"), f"{where}.created_at"),
        parts=parts, turn_id=_optional_string(m.get("turn_id"), f"{where}.turn_id"),
        model=_optional_string(m.get("model"), f"{where}.model"),
        status=cast(MessageStatus, status),
        usage=_inert(dict(_object(m.get("usage") or {}, f"{where}.usage")), f"{where}.usage"),
    )


def _part(item: object, where: str, files: set[str]) -> dict[str, Any]:
    part = _object(item, where)
    kind = part.get("type")
    if kind not in PART_VALUE_TYPES:
        raise InvalidInput(f"{where} has an unknown type {kind!r}.")
    fields = PART_VALUE_TYPES[str(kind)]
    for name, value in part.items():
        if name == "type":
            continue
        if name not in fields:
            raise InvalidInput(f"{where}: a {kind} part has no field {name!r}.")
        expected = fields[name]
        if expected is not None and value is not None and (
                not isinstance(value, expected) or isinstance(value, bool)):
            raise InvalidInput(f"{where}.{name} must be {_TYPE_NAMES[expected]}.")
    if "file_id" in part and part["file_id"] not in files:
        raise InvalidInput(f"{where} names a file ({str(part['file_id'])[:40]!r}) that is not "
                           "in the file.")
    cleaned: dict[str, Any] = _inert(dict(part), where)
    return cleaned


MAX_DEPTH = 64


def _inert(value: Any, where: str, depth: int = 0) -> Any:
    """``value`` with NUL characters (which databases refuse in text) replaced, refusing
    nesting deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{where} is nested more than {MAX_DEPTH} levels deep.")
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_inert(v, where, depth + 1) for v in value]
    if isinstance(value, dict):
        return {_inert(str(k), where, depth + 1): _inert(v, where, depth + 1)
                for k, v in value.items()}
    return value


_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


def _files(items: list[Any]) -> list[FileEntry]:
    found: list[FileEntry] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"conversation.files[{i}]"
        f = _object(item, where)
        file_id = _string(f.get("id"), f"{where}.id", limit=200)
        if file_id in seen:
            raise InvalidInput(f"{where}.id {file_id!r} is used twice.")
        seen.add(file_id)
        data = _base64(f.get("data"), f"{where}.data")
        sha = f.get("sha256")
        if sha is not None and sha != hashlib.sha256(data).hexdigest():
            raise InvalidInput(f"{where}: the data does not match its sha256.")
        name = safe_filename(_string(f.get("name", ""), f"{where}.name", limit=1_000),
                             fallback=f"file-{i + 1}")
        media_type = f.get("media_type")
        if not isinstance(media_type, str) or not MEDIA_TYPE_RE.match(media_type.lower()):
            media_type = guess_media_type(name, default="application/octet-stream")
        found.append(FileEntry(id=file_id, name=name, media_type=media_type.lower(),
                               data=data))
    return found


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where} must be an object.")
    return value


def _list(value: object, where: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInput(f"{where} must be a list.")
    if len(value) > limit:
        raise InvalidInput(f"{where} has more than {limit:,} entries.")
    return value


def _string(value: object, where: str, *, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string.")
    if len(value) > limit:
        raise InvalidInput(f"{where} is longer than {limit:,} characters.")
    return value


def _optional_string(value: object, where: str) -> str | None:
    return None if value is None else _inert(_string(value, where, limit=200), where)


def _time(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be an ISO 8601 time.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{where} is not an ISO 8601 time: {value[:40]!r}.") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{where} needs a time zone (such as +00:00).")
    return in_utc(moment, where)


def in_utc(moment: datetime, where: str) -> datetime:
    """``moment`` in UTC; a time whose UTC falls outside years 1 to 9999 is refused."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{where} is out of range: in UTC it falls outside years "
                           "1 to 9999.") from None


def _base64(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be base64 text.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{where} is not valid base64.") from None
