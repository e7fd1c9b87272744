"""Parquet export: typed columns, nulls where a value is absent, the parts as JSON."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from salon.exports.parquet import write_parquet
from tests.exports.samples import EVERY_PART, FILES, HOSTILE, conversation, messages


def read(body: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(body))


def test_columns_have_real_types() -> None:
    table = read(write_parquet(conversation(), messages(EVERY_PART), FILES))
    assert [(f.name, f.type) for f in table.schema] == [
        ("index", pa.int32()), ("role", pa.string()), ("created", pa.timestamp("us", tz="UTC")),
        ("text", pa.string()), ("model", pa.string()), ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()), ("total_tokens", pa.int64()), ("parts", pa.string()),
    ]
    assert table.schema.metadata[b"salon.title"] == b"Every part <b>bold</b> & more"


def test_rows_read_back() -> None:
    spec = messages(EVERY_PART)
    question, answer = read(write_parquet(conversation(), spec, FILES)).to_pylist()
    assert question["index"] == 1 and answer["index"] == 2
    assert question["created"] == datetime(2025, 5, 4, 10, 0, tzinfo=UTC)
    assert answer["created"] == datetime(2025, 5, 4, 10, 1, tzinfo=UTC)
    assert (question["role"], question["text"]) == ("user", "Show me **everything**")
    assert question["model"] is None and question["prompt_tokens"] is None
    assert answer["text"] == "print(1)\n\nDone." and answer["model"] == "m1"
    assert (answer["prompt_tokens"], answer["completion_tokens"], answer["total_tokens"]) == (
        10, 20, 30)
    assert json.loads(answer["parts"]) == spec[1].parts


def test_odd_usage_values_are_null_and_hostile_text_is_kept_as_data() -> None:
    spec = messages(HOSTILE)
    spec[0] = replace(spec[0], usage={"prompt_tokens": "many", "completion_tokens": True,
                                      "total_tokens": 7})
    table = read(write_parquet(conversation(), spec, []))
    first = table.to_pylist()[0]
    assert (first["prompt_tokens"], first["completion_tokens"], first["total_tokens"]) == (
        None, None, 7)
    assert first["text"].startswith("=HYPERLINK")  # typed data: nothing to neutralise
    assert table.num_rows == len(HOSTILE)


def test_a_chat_without_messages_has_the_columns_and_no_rows() -> None:
    table = read(write_parquet(conversation(), [], []))
    assert table.num_rows == 0 and table.schema.field("created").type.tz == "UTC"
