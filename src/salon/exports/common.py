"""What every export format shares: the writer's inputs, role names, a message's plain text,
token counts, and tables (table parts and chart data) as rows of strings."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from salon.domain.conversations import Conversation, Message
from salon.render.parts import ChartSpecError, chart_spec

Files = Sequence[tuple[Mapping[str, Any], bytes]]  # (files row, body) of the chat's files
Writer = Callable[[Conversation, Sequence[Message], Files], bytes]
Part = Mapping[str, Any]

ROLE_NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
CHART_ROWS = 200  # rows per chart trace, as on the share page without JavaScript


@dataclass(frozen=True)
class StoredFile:
    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class Table:
    """A table as strings: every row has exactly ``len(columns)`` cells."""

    caption: str
    columns: list[str]
    rows: list[list[str]]


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
    """A message as one string: its text parts, and its code parts as their code, in order."""
    pieces = []
    for part in parts:
        kind = part.get("type")
        if kind == "text":
            pieces.append(as_text(part.get("text")))
        elif kind == "code":
            pieces.append(as_text(part.get("code")))
    return "\n\n".join(pieces)


def token_count(usage: Mapping[str, Any], name: str) -> int | None:
    """``usage[name]`` when it is a whole number; None when absent or anything else."""
    value = usage.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def cell(value: Any) -> str:
    """A table cell as text: lists and objects as JSON, None as empty."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


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
    columns = [cell(c) for c in _list(part.get("columns"))]
    raw = _list(part.get("rows"))
    if not columns:
        width = max((len(_list(r)) for r in raw), default=0)
        columns = [""] * width
    rows = [_row(r, columns) for r in raw]
    return Table(caption=as_text(part.get("caption")), columns=columns, rows=rows)


def _row(row: Any, columns: list[str]) -> list[str]:
    cells = [cell(row.get(c)) for c in columns] if isinstance(row, Mapping) else [
        cell(v) for v in _list(row)]
    return (cells + [""] * len(columns))[:len(columns)]


def chart_tables(part: Part) -> tuple[list[Table], str]:
    """A chart's data as one table per trace (the share page's no-JavaScript view), and a
    note when there is nothing to show (an invalid spec says why)."""
    try:
        spec = chart_spec(part.get("spec"))
    except ChartSpecError as reason:
        return [], f"This chart could not be drawn: {reason}"
    tables = [t for t in (_trace_table(n, trace) for n, trace in enumerate(spec["data"], 1))
              if t is not None]
    return tables, "" if tables else "Interactive chart: open the chat in Salon to see it."


def _trace_table(number: int, trace: Mapping[str, Any]) -> Table | None:
    keys = ("labels", "values") if "values" in trace else ("x", "y")
    columns = [(k, trace[k]) for k in keys if isinstance(trace.get(k), list)]
    if not columns:
        return None
    length = max(len(values) for _, values in columns)
    rows = [[cell(values[i]) if i < len(values) else "" for _, values in columns]
            for i in range(min(length, CHART_ROWS))]
    caption = as_text(trace.get("name")) or f"Series {number}"
    if length > len(rows):
        caption += f" (first {len(rows)} of {length} points)"
    return Table(caption=caption, columns=[k for k, _ in columns], rows=rows)


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []
