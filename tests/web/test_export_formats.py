"""Every export format through the API: the owner's chat (one made by chatting, one imported
with every part type) as CSV, Parquet, Markdown, HTML and PDF, with the right headers, and
nobody else's chat in any format."""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

import httpx
import pyarrow.parquet as pq
import pypdf
import pytest

from salon.exports.html import CSP
from tests.exports.test_html import Page
from tests.factories import UserClient
from tests.web.test_share_viewing_api import PNG, chat_with_files
from tests.web.test_transfer_api import EVERY_PART, imported

FORMATS = {  # format: (media type, file name ending)
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "parquet": ("application/vnd.apache.parquet", ".parquet"),
    "markdown": ("text/markdown; charset=utf-8", ".md"),
    "html": ("text/html; charset=utf-8", ".html"),
    "pdf": ("application/pdf", ".pdf"),
}


async def export(user: UserClient, chat_id: str, fmt: str) -> httpx.Response:
    return await user.http.get(f"/api/v1/chats/{chat_id}/export", params={"format": fmt})


async def downloaded(user: UserClient, chat_id: str, fmt: str, stem: str) -> bytes:
    r = await export(user, chat_id, fmt)
    assert r.status_code == 200, r.text
    media_type, suffix = FORMATS[fmt]
    assert r.headers["content-type"] == media_type
    assert r.headers["content-disposition"].startswith(f'attachment; filename="{stem}{suffix}"')
    assert r.headers["x-content-type-options"] == "nosniff"
    return r.content


def pdf_text(body: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(body))
    return " ".join(" ".join(p.extract_text() or "" for p in reader.pages).split())


def readable(fmt: str, body: bytes) -> str:
    """What a reader of the file sees, as text."""
    if fmt == "pdf":
        return pdf_text(body)
    if fmt == "parquet":
        return " ".join(str(v) for row in pq.read_table(io.BytesIO(body)).to_pylist()
                        for v in row.values())
    if fmt == "html":
        return Page(body.decode("utf-8")).words()
    return body.decode("utf-8-sig")


async def every_part_chat(user: UserClient) -> str:
    [entry] = (await imported(user, EVERY_PART))["imported"]
    chat_id: str = entry["chat_id"]
    return chat_id


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_chat_downloads_in_every_format(alice: UserClient, fmt: str) -> None:
    chat_id = await chat_with_files(alice, ("report.csv", "a,b\n1,2\n"))
    body = await downloaded(alice, chat_id, fmt, "look-at-these")
    text = readable(fmt, body)
    assert "look at these" in text and "Echo: Attached file report.csv" in text
    if fmt == "html":
        assert b'<img src="data:image/png;base64,' in body


@pytest.mark.parametrize("fmt", FORMATS)
async def test_every_part_type_comes_out(alice: UserClient, fmt: str) -> None:
    chat_id = await every_part_chat(alice)
    body = await downloaded(alice, chat_id, fmt, "hand-written-chat")
    text = readable(fmt, body)
    assert "Show me **everything**" in text or "Show me everything" in text
    assert "Done." in text and "print(1)" in text.replace(" ", "")
    if fmt in ("markdown", "html", "pdf"):
        for expected in ("Let me think.", "Tool: search", "Docs", "Numbers", "Growth",
                         "notes.txt"):
            assert expected in text, expected


async def test_csv_and_parquet_rows(alice: UserClient) -> None:
    chat_id = await every_part_chat(alice)
    body = await downloaded(alice, chat_id, "csv", "hand-written-chat")
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert [(r["index"], r["role"], r["model"], r["prompt_tokens"], r["total_tokens"])
            for r in rows] == [("1", "user", "", "", ""), ("2", "assistant", "m1", "10", "")]
    assert rows[1]["text"] == "print(1)\n\nDone."
    assert rows[0]["created"] == "2025-05-04T10:00:00+00:00"
    table = pq.read_table(io.BytesIO(await downloaded(alice, chat_id, "parquet",
                                                      "hand-written-chat")))
    parsed: list[dict[str, Any]] = table.to_pylist()
    assert [(r["index"], r["completion_tokens"]) for r in parsed] == [(1, None), (2, 20)]
    assert '"type": "chart"' in parsed[1]["parts"]


async def test_html_carries_its_image_and_nothing_that_loads(alice: UserClient) -> None:
    chat_id = await every_part_chat(alice)
    html = (await downloaded(alice, chat_id, "html", "hand-written-chat")).decode()
    assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in html
    assert "<script" not in html and 'src="http' not in html and "<link" not in html
    [policy] = [a for a in Page(html).tags("meta") if "http-equiv" in a]
    assert policy == {"http-equiv": "Content-Security-Policy", "content": CSP}
    assert CSP == "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


async def test_markdown_has_fences_and_tables(alice: UserClient) -> None:
    chat_id = await every_part_chat(alice)
    text = (await downloaded(alice, chat_id, "markdown", "hand-written-chat")).decode()
    assert text.startswith("# Hand-written chat\n")
    assert "```python\nprint(1)\n```" in text and "| a | b |\n| --- | --- |" in text
    assert "[dot.png](attachment: dot.png)" in text


@pytest.mark.parametrize("fmt", [*FORMATS, "json"])
async def test_nobody_exports_anyone_elses_chat(alice: UserClient, bob: UserClient,
                                                fmt: str) -> None:
    chat_id = await every_part_chat(alice)
    r = await export(bob, chat_id, fmt)
    assert r.status_code == 404 and r.json()["code"] == "CONVERSATION_NOT_FOUND"
    r = await export(alice, "no-such-chat", fmt)
    assert r.status_code == 404


async def test_an_unknown_format_lists_the_known_ones(alice: UserClient) -> None:
    chat_id = await alice.new_conversation("hi")
    r = await export(alice, chat_id, "docx")
    assert r.status_code == 422 and r.json()["code"] == "FORMAT_NOT_SUPPORTED"
    assert r.json()["detail"] == ("Unknown export format 'docx'; use one of json, csv, "
                                  "parquet, markdown, html, pdf.")
