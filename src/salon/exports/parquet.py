"""Parquet: the CSV's columns with real types, plus each message's parts as JSON, for data
tools (pandas, DuckDB, Spark). The file's metadata carries the title and creation time.

pyarrow (some 60 MB resident) is imported by the first Parquet export, not with this module."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from salon.domain.conversations import Conversation, Message
from salon.exports.common import TOKEN_FIELDS, Files, iso, plain_text, token_count, utc

if TYPE_CHECKING:
    import pyarrow as pa


@cache
def parquet_schema() -> pa.Schema:
    """The file's columns (without the per-file metadata)."""
    import pyarrow as pa

    return pa.schema([
        pa.field("index", pa.int32(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("created", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("model", pa.string()),
        *(pa.field(name, pa.int64()) for name in TOKEN_FIELDS),
        pa.field("parts", pa.string(), nullable=False),
    ])


def write_parquet(conv: Conversation, messages: Sequence[Message], files: Files) -> bytes:
    """One row per message; ``index`` counts from 1, ``parts`` is the parts list as JSON."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {
        "index": list(range(1, len(messages) + 1)),
        "role": [m.role for m in messages],
        "created": [utc(m.created_at) for m in messages],
        "text": [plain_text(m.parts) for m in messages],
        "model": [m.model for m in messages],
        **{name: [token_count(m.usage, name) for m in messages] for name in TOKEN_FIELDS},
        "parts": [json.dumps(m.parts, ensure_ascii=False, default=str) for m in messages],
    }
    table = pa.Table.from_pydict(columns, schema=parquet_schema().with_metadata(
        {"salon.title": conv.title, "salon.created_at": iso(conv.created_at)}))
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()
