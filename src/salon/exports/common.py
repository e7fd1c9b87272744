"""What every export format shares: the writer's inputs, role names, a message's plain text,
token counts, and tables (table parts and chart data) as rows of strings."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from salon.domain.conversations import Conversation, Message
from salon.render.parts import ChartSpecError, as_list, as_text, cell, chart_spec, trace_table
from salon.render.parts import DataTable as Table

Files = Sequence[tuple[Mapping[str, Any], bytes]]  # (files row, body) of the chat's files
Writer = Callable[[Conversation, Sequence[Message], Files], bytes]
Part = Mapping[str, Any]

ROLE_NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


@dataclass(frozen=True)
class StoredFile:
    name: str
    media_type: str
    data: bytes


def files_by_id(files: Files) -> dict[str, StoredFile]:
    return {str(row["id"]): StoredFile(name=str(row["name"]), media_type=str(row["media_type"]),
                                       data=body) for row, body in files}


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, role.capitalize())


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    return utc(moment).isoformat()


def readable_time(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def plain_text(parts: Sequence[Part]) -> str:
    """A message as one string: its text parts, its code parts as their code and its
    diagrams as their source, in order."""
    pieces = []
    for part in parts:
        kind = part.get("type")
        if kind == "text":
            pieces.append(as_text(part.get("text")))
        elif kind == "code":
            pieces.append(as_text(part.get("code")))
        elif kind == "diagram":
            pieces.append(as_text(part.get("source")))
    return "\n\n".join(pieces)


def token_count(usage: Mapping[str, Any], name: str) -> int | None:
    """``usage[name]`` when it is a whole number; None when absent or anything else."""
    value = usage.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_json(value: Any) -> str:
    """Tool arguments and results as pretty JSON (a string holding JSON is parsed first)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def table_of(part: Part) -> Table:
    """A table part's cells; rows may be lists or objects keyed by column, short rows are
    padded and long ones cut to the columns (or to the widest row when there are none)."""
    columns = [cell(c) for c in as_list(part.get("columns"))]
    raw = as_list(part.get("rows"))
    if not columns:
        width = max((len(as_list(r)) for r in raw), default=0)
        columns = [""] * width
    rows = [_row(r, columns) for r in raw]
    return Table(caption=as_text(part.get("caption")), columns=columns, rows=rows)


def _row(row: Any, columns: list[str]) -> list[str]:
    cells = [cell(row.get(c)) for c in columns] if isinstance(row, Mapping) else [
        cell(v) for v in as_list(row)]
    return (cells + [""] * len(columns))[:len(columns)]


def chart_tables(part: Part) -> tuple[list[Table], str]:
    """A chart's data as one table per trace (the share page's no-JavaScript view), and a
    note when there is nothing to show (an invalid spec says why)."""
    try:
        spec = chart_spec(part.get("spec"))
    except ChartSpecError as reason:
        return [], f"This chart could not be drawn: {reason}"
    tables = [t for t in (trace_table(n, trace) for n, trace in enumerate(spec["data"], 1))
              if t is not None]
    return tables, "" if tables else "Interactive chart: open the chat in Salon to see it."
