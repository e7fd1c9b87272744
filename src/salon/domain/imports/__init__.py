"""Conversations from other chat apps, recognised one by one.

An import file is a conversation or a list of them, each from Salon (its own file), Open WebUI
(its chat export) or ChatGPT (``conversations.json``); a list may even mix them. Each parser
turns one conversation into ``salon_json.ParsedConversation``, so one importer stores them all,
and fingerprints the source object as Salon's own files are, so importing twice skips.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from salon.domain import salon_json
from salon.domain.errors import InvalidInput
from salon.domain.imports import chatgpt, common, openwebui

Source = Literal["salon", "openwebui", "chatgpt"]

UNSUPPORTED = (
    'Salon imports its own conversation files ("format": "salon.conversation"), Open WebUI '
    "chat exports and ChatGPT's conversations.json: one conversation or a list of them. "
    "This is none of those.")

_PARSERS: dict[Source, Callable[[object, datetime], salon_json.ParsedConversation]] = {
    "salon": lambda value, now: salon_json.parse_document(value),
    "openwebui": lambda value, now: openwebui.parse_chat(value, now=now),
    "chatgpt": lambda value, now: chatgpt.parse_conversation(value, now=now),
}


def source_of(value: object) -> Source | None:
    """Which app the conversation comes from; None when it is none we read."""
    if salon_json.is_document(value):
        return "salon"
    if chatgpt.is_conversation(value):
        return "chatgpt"
    if openwebui.is_chat(value):
        return "openwebui"
    return None


def parse_conversation(
    value: object, source: Source | None, *, now: datetime
) -> salon_json.ParsedConversation:
    """``value`` as a conversation of ``source`` (from ``source_of``); ``now`` stands in for
    times the file does not give. InvalidInput says where a value is wrong."""
    if source is None:
        raise InvalidInput(UNSUPPORTED, code="UNSUPPORTED_IMPORT_FORMAT")
    return _PARSERS[source](common.without_lone_surrogates(value), now)
