"""CSV export: rows read back with the csv module, BOM and CRLF, quoting, and formula cells
made inert."""

from __future__ import annotations

import csv
import io

import pytest

from salon.exports.csv import COLUMNS, inert, write_csv
from tests.exports.samples import EVERY_PART, FILES, HOSTILE, conversation, messages


def rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_one_row_per_message_with_text_code_and_tokens() -> None:
    body = write_csv(conversation(), messages(EVERY_PART), FILES)
    header, _ = body.split(b"\r\n", 1)
    assert header == b"\xef\xbb\xbf" + ",".join(COLUMNS).encode()
    assert COLUMNS == ("index", "role", "created", "text", "model", "prompt_tokens",
                       "completion_tokens", "total_tokens")
    question, answer = rows(body)
    assert question == {"index": "1", "role": "user", "created": "2025-05-04T10:00:00+00:00",
                        "text": "Show me **everything**", "model": "", "prompt_tokens": "",
                        "completion_tokens": "", "total_tokens": ""}
    assert answer["index"] == "2" and answer["created"] == "2025-05-04T10:01:00+00:00"
    assert answer["text"] == "print(1)\n\nDone."
    assert (answer["model"], answer["prompt_tokens"], answer["completion_tokens"],
            answer["total_tokens"]) == ("m1", "10", "20", "30")


def test_every_record_ends_with_crlf_and_newlines_inside_text_stay_quoted() -> None:
    spec = [("user", [{"type": "text", "text": 'two\nlines, a "quote"'}], {})]
    body = write_csv(conversation(), messages(spec), [])
    assert body.endswith(b"\r\n") and body.count(b"\r\n") == 2
    assert b'"two\nlines, a ""quote"""' in body
    assert rows(body)[0]["text"] == 'two\nlines, a "quote"'


def test_formula_cells_are_inert() -> None:
    texts = [(r["text"], r["model"]) for r in rows(write_csv(conversation(), messages(HOSTILE),
                                                            []))]
    assert texts[0][0] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert texts[1][1] == "'@evil" and texts[1][0].startswith("<script>")
    assert texts[2][0] == "'+1\n\n-2"
    assert texts[3][0] == "'\tcmd"


@pytest.mark.parametrize(("value", "written"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=1", "a=1"), ("", ""), (" =1", " =1"), (-5, -5),
])
def test_inert(value: object, written: object) -> None:
    assert inert(value) == written


def test_a_chat_without_messages_is_just_the_header() -> None:
    assert rows(write_csv(conversation(), [], [])) == []
