"""The messages of an imported conversation, built one by one, then turned into the
``ParsedConversation`` that Salon's own files also parse into (so one importer stores all)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from salon.domain.conversations import MessageStatus, Role
from salon.domain.errors import InvalidInput
from salon.domain.salon_json import (
    MAX_FILES,
    MAX_MESSAGES,
    FileEntry,
    MessageEntry,
    ParsedConversation,
)


@dataclass
class Draft:
    """A message still open to more parts (a tool's result joins the answer that called it)."""

    role: Role
    parts: list[dict[str, Any]]
    created_at: datetime | None
    model: str | None = None
    status: MessageStatus = "complete"
    usage: dict[str, Any] = field(default_factory=dict)


@dataclass
class Transcript:
    messages: list[Draft] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)

    def add(self, draft: Draft) -> None:
        if len(self.messages) >= MAX_MESSAGES:
            raise InvalidInput(f"The conversation has more than {MAX_MESSAGES:,} messages.")
        self.messages.append(draft)

    def last_answer(self) -> Draft | None:
        """The last message when it is the assistant's, else None."""
        if self.messages and self.messages[-1].role == "assistant":
            return self.messages[-1]
        return None

    def add_file(self, entry: FileEntry) -> None:
        if len(self.files) >= MAX_FILES:
            raise InvalidInput(f"The conversation has more than {MAX_FILES:,} files.")
        self.files.append(entry)

    def parsed(
        self, *, title: str, created_at: datetime | None, updated_at: datetime | None,
        now: datetime, fingerprint: str,
    ) -> ParsedConversation:
        """Missing times fall back to the earliest (latest) message time, then to ``now``; a
        message without a time takes the one before it, so the order stays readable."""
        times = [m.created_at for m in self.messages if m.created_at is not None]
        start = created_at or (min(times) if times else now)
        end = updated_at or (max(times) if times else start)
        models = [m.model for m in self.messages if m.model]
        return ParsedConversation(
            title=title, created_at=start, updated_at=max(start, end),
            recipe={"model": models[-1]} if models else {},
            messages=self._entries(start), files=list(self.files), fingerprint=fingerprint)

    def _entries(self, start: datetime) -> list[MessageEntry]:
        entries: list[MessageEntry] = []
        previous, turn, turns = start, None, 0
        for m in self.messages:
            if m.role == "user":
                turns += 1
                turn = f"t{turns}"
            previous = m.created_at or previous
            entries.append(MessageEntry(
                role=m.role, created_at=previous, parts=m.parts,
                turn_id=None if m.role == "system" else turn, model=m.model,
                status=m.status, usage=m.usage))
        return entries
