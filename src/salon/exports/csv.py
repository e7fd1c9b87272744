"""CSV: one row per message, for spreadsheets.

UTF-8 with a byte order mark (so Excel reads it as UTF-8) and CRLF line ends (RFC 4180).
Formula injection is neutralised: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return gets a leading apostrophe, because spreadsheets run such cells as
formulas (``=HYPERLINK(...)`` in a message would otherwise become a live link or worse). The
apostrophe is part of the cell's text; numbers are written as numbers and never prefixed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from salon.domain.conversations import Conversation, Message
from salon.exports.common import TOKEN_FIELDS, Files, iso, plain_text, token_count

COLUMNS = ("index", "role", "created", "text", "model", *TOKEN_FIELDS)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_csv(conv: Conversation, messages: Sequence[Message], files: Files) -> bytes:
    """The messages as CSV rows under a header; ``index`` counts from 1."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for index, m in enumerate(messages, 1):
        writer.writerow([index, *(inert(v) for v in row_values(m))])
    return out.getvalue().encode("utf-8-sig")


def row_values(m: Message) -> list[Any]:
    counts = [token_count(m.usage, name) for name in TOKEN_FIELDS]
    return [m.role, iso(m.created_at), plain_text(m.parts), m.model or "",
            *("" if c is None else c for c in counts)]


def inert(value: Any) -> Any:
    """``value``, with a leading apostrophe when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
