"""Diagram parts in the exports: the HTML page shows the source in a ``<pre>`` (drawing it
needs a browser), Markdown a ```mermaid block, PDF the source as code, CSV the source."""

from __future__ import annotations

import io
from typing import Any

import pypdf
import pytest

from salon.exports.csv import write_csv
from salon.exports.html import write_html
from salon.exports.markdown import write_markdown
from salon.exports.pdf import FONT_DIR, write_pdf
from tests.exports.samples import conversation, messages

SOURCE = 'flowchart TD\n  A["Ask <b>"] --> B["Share & read"]'
SPEC: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    ("user", [{"type": "text", "text": "/diagram sharing"}], {}),
    ("assistant", [{"type": "text", "text": "Here is the diagram."},
                   {"type": "diagram", "format": "mermaid", "source": SOURCE}], {}),
]


def test_html_export_shows_the_escaped_source() -> None:
    html = write_html(conversation(), messages(SPEC), []).decode("utf-8")
    assert ('<pre class="mermaid-source">flowchart TD\n  A["Ask &lt;b&gt;"] --&gt; '
            'B["Share &amp; read"]</pre>') in html
    assert "mermaid.min.js" not in html and "diagrams.js" not in html


def test_markdown_export_has_a_mermaid_block() -> None:
    text = write_markdown(conversation(), messages(SPEC), []).decode("utf-8")
    assert f"Here is the diagram.\n\n```mermaid\n{SOURCE}\n```" in text


def test_markdown_fence_cannot_be_closed_by_the_source() -> None:
    hostile = [("assistant", [{"type": "diagram", "format": "mermaid",
                               "source": "graph TD\n```\n# Not a heading"}], {})]
    text = write_markdown(conversation(), messages(hostile), []).decode("utf-8")
    assert "````mermaid\ngraph TD\n```\n# Not a heading\n````" in text


@pytest.mark.skipif(not (FONT_DIR / "DejaVuSans.ttf").is_file(),
                    reason="the DejaVu fonts (fonts-dejavu-core) are not installed")
def test_pdf_export_shows_the_source_as_code() -> None:
    body = write_pdf(conversation(), messages(SPEC), [])
    reader = pypdf.PdfReader(io.BytesIO(body))
    text = " ".join(" ".join(p.extract_text() or "" for p in reader.pages).split())
    assert "Mermaid diagram (source)" in text
    assert 'flowchart TD A["Ask <b>"] --> B["Share & read"]' in text


def test_csv_export_carries_the_source() -> None:
    text = write_csv(conversation(), messages(SPEC), []).decode("utf-8")
    assert "Here is the diagram." in text and "Share & read" in text
