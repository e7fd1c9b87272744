"""The message renderer: every part type, and hostile input that must stay inert."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup

from salon.domain.conversations import PART_TYPES
from salon.render import render_markdown, render_message
from salon.render.highlight import stylesheet
from salon.render.parts import human_size, json_island
from salon.render.sanitize import LINK_REL

STATIC = Path(__file__).resolve().parents[2] / "src" / "salon" / "web" / "static"


def file_url(file_id: str) -> str:
    return f"/files/{file_id}"


def render(*parts: dict[str, Any]) -> str:
    html = render_message(list(parts), file_url=file_url)
    assert isinstance(html, Markup)
    return str(html)


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of <script> elements."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def assert_inert(html: str) -> None:
    """No executable script, no event handler, no javascript:/data: URL, no inline style."""
    parsed = Elements(html)
    for tag, attrs in parsed.tags:
        if tag == "script":
            assert attrs.get("type") == "application/json", html
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name != "style", (tag, name)
            if name in ("href", "src"):
                assert not re.match(r"\s*(javascript|data|vbscript):", value or "", re.I), value


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


# -- markdown ---------------------------------------------------------------------------------

def test_markdown_basics() -> None:
    html = render(text("# Title\n\n**bold** _em_ ~~gone~~ `code`\n\n- one\n- two\n\n> quote"))
    for fragment in ("<h1>Title</h1>", "<strong>bold</strong>", "<em>em</em>", "<s>gone</s>",
                     "<code>code</code>", "<li>one</li>", "<blockquote>"):
        assert fragment in html


def test_line_breaks_are_kept() -> None:
    assert "first<br" in render(text("first\nsecond"))


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    "<iframe src=https://evil.example></iframe>",
    '<div style="position:fixed">x</div>',
])
def test_raw_html_is_shown_as_text(source: str) -> None:
    html = render(text(source))
    assert_inert(html)
    assert "&lt;" in html  # the markup is visible to the reader as text
    assert Elements(html).named("img") == []


@pytest.mark.parametrize("link", [
    "javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)", "java\tscript:alert(1)",
])
def test_dangerous_link_schemes_are_removed(link: str) -> None:
    html = render(text(f"[click]({link}) <{link}>"))
    assert_inert(html)
    assert "click" in html


def test_safe_links_get_rel() -> None:
    html = render(text("[site](https://example.com/a?b=1) [mail](mailto:a@example.com) "
                       "[here](/c/123)"))
    anchors = Elements(html).named("a")
    assert [a["href"] for a in anchors] == [
        "https://example.com/a?b=1", "mailto:a@example.com", "/c/123"]
    assert all(a["rel"] == LINK_REL for a in anchors)


def test_markdown_image_is_a_link_not_a_load() -> None:
    html = render(text('![tracking pixel](https://tracker.example/p.gif "t")'))
    parsed = Elements(html)
    assert parsed.named("img") == []
    assert parsed.named("a")[0]["href"] == "https://tracker.example/p.gif"
    assert "tracking pixel" in html


def test_markdown_table_is_sortable_and_aligned_without_styles() -> None:
    html = render(text("| a | b |\n|:--|--:|\n| 1 | <b>2</b> |"))
    assert_inert(html)
    table = Elements(html).named("table")[0]
    assert "data-sortable" in table
    assert 'class="align-right"' in html
    assert "&lt;b&gt;2&lt;/b&gt;" in html


# -- code -------------------------------------------------------------------------------------

def test_fenced_code_is_highlighted_with_classes() -> None:
    html = render(text('```python\ndef f():\n    return "<b>"\n```'))
    assert '<code class="language-python">' in html
    assert '<span class="k">def</span>' in html
    assert "&lt;b&gt;" in html
    assert_inert(html)


@pytest.mark.parametrize("language", [
    '"><script>alert(1)</script>',
    "x onmouseover=alert(1)",
    "nosuchlanguage",
    "a" * 500,
])
def test_malicious_or_unknown_fence_language_is_plain_text(language: str) -> None:
    html = render(text(f"```{language}\nprint(1)\n```"))
    assert_inert(html)
    assert "alert(1)</script>" not in html
    assert '<code class="language-text">' in html
    assert "print(1)" in html


def test_code_part_with_output() -> None:
    html = render({"type": "code", "language": "python", "code": "print('<hi>')",
                   "output": "<hi>\n"})
    assert '<code class="language-python">' in html
    assert "Output" in html
    assert "&lt;hi&gt;" in html and "<hi>" not in html


def test_code_part_hostile_language() -> None:
    html = render({"type": "code", "language": '"><img src=x onerror=alert(1)>', "code": "x"})
    assert_inert(html)
    assert Elements(html).named("img") == []


def test_highlight_stylesheet_is_current() -> None:
    """static/highlight.css is generated from Pygments' styles. To regenerate it:
    python -c 'from salon.render.highlight import stylesheet; print(stylesheet(), end="")' \
        > src/salon/web/static/highlight.css"""
    assert (STATIC / "highlight.css").read_text() == stylesheet(), "regenerate highlight.css"


# -- math -------------------------------------------------------------------------------------

def test_inline_and_block_math_become_mathml() -> None:
    html = render(text("Inline $x^2$ and\n\n$$\n\\frac{a}{b}\n$$\n"))
    maths = Elements(html).named("math")
    assert [m["display"] for m in maths] == ["inline", "block"]
    assert "<msup><mi>x</mi><mn>2</mn></msup>" in html
    assert "<mfrac>" in html


def test_dollar_amounts_are_not_math() -> None:
    html = render(text("It costs $5 and $10."))
    assert "<math" not in html
    assert "$5 and $10" in html


def test_math_cannot_smuggle_links_or_styles() -> None:
    html = render(text("$\\href{javascript:alert(1)}{x}$ $\\style{color:red}{y}$"))
    assert_inert(html)
    assert "href" not in html


def test_broken_latex_is_shown_as_source() -> None:
    html = render(text("$\\frac{1}{$"))
    assert_inert(html)
    assert "frac" in html


# -- other parts ------------------------------------------------------------------------------

def test_thought_and_tool_call_are_closed_details() -> None:
    html = render(
        {"type": "thought", "text": "Let me *think*"},
        {"type": "tool_call", "id": "c1", "name": "search<script>",
         "arguments": {"q": "</script><script>alert(1)</script>"}, "result": "found <b>it</b>"},
    )
    assert_inert(html)
    details = Elements(html).named("details")
    assert len(details) == 2 and all("open" not in d for d in details)
    assert "<summary>Thought</summary>" in html
    assert "<summary>Tool: search&lt;script&gt;</summary>" in html
    assert "<em>think</em>" in html
    assert "found &lt;b&gt;it&lt;/b&gt;" in html


def test_citations_are_numbered_without_source_text() -> None:
    html = render(
        {"type": "citation", "title": "One", "url": "https://one.example", "snippet": "s1",
         "source": "SECRET DOCUMENT BODY"},
        {"type": "citation", "title": "Two", "url": "javascript:alert(1)", "snippet": "s2"},
        text("between"),
        {"type": "citation", "title": "Three", "snippet": "s3"},
    )
    assert_inert(html)
    assert "SECRET" not in html
    lists = Elements(html).named("ol")
    assert [ol["start"] for ol in lists] == ["1", "3"]
    assert html.count("<li>") == 3
    assert '<a href="https://one.example" rel="' in html


def test_stored_image_uses_file_url() -> None:
    html = render({"type": "image", "file_id": "f1", "name": "cat.png", "alt": 'a "cat"'})
    img = Elements(html).named("img")[0]
    assert img["src"] == "/files/f1"
    assert img["alt"] == 'a "cat"'


def test_remote_image_is_not_loaded() -> None:
    html = render({"type": "image", "url": "https://tracker.example/beacon.gif", "alt": "logo"})
    parsed = Elements(html)
    assert parsed.named("img") == []
    assert parsed.named("a")[0]["href"] == "https://tracker.example/beacon.gif"
    assert "not loaded" in html


@pytest.mark.parametrize("url", ["data:image/png;base64,AAAA", "javascript:alert(1)"])
def test_remote_image_with_bad_scheme_has_no_link(url: str) -> None:
    html = render({"type": "image", "url": url})
    assert_inert(html)
    assert Elements(html).named("img") == []


def test_stored_image_file_url_must_be_local() -> None:
    html = str(render_message([{"type": "image", "file_id": "f1"}],
                              file_url=lambda _: "https://evil.example/x.png"))
    assert [img.get("src") for img in Elements(html).named("img")] == [None]


def test_file_part_links_with_size_and_type() -> None:
    html = render({"type": "file", "file_id": "f2", "name": "<notes>.txt", "size": 1536,
                   "media_type": "text/plain"})
    assert Elements(html).named("a")[0]["href"] == "/files/f2"
    assert "&lt;notes&gt;.txt" in html
    assert "1.5 KB · text/plain" in html


def test_table_part_has_every_row_escaped() -> None:
    rows = [[i, f"<i>{i}</i>", None] for i in range(250)]
    html = render({"type": "table", "columns": ["n", "html", "empty"], "rows": rows,
                   "caption": "Numbers <3"})
    assert_inert(html)
    assert html.count("<tr>") == 251
    assert "data-sortable" in Elements(html).named("table")[0]
    assert "&lt;i&gt;249&lt;/i&gt;" in html
    assert "<caption>Numbers &lt;3</caption>" in html


def test_table_rows_may_be_mappings() -> None:
    html = render({"type": "table", "columns": ["a", "b"], "rows": [{"b": 2, "a": 1}]})
    assert "<td>1</td><td>2</td>" in html


def test_chart_spec_cannot_close_its_script() -> None:
    spec = {"data": [{"y": [1, 2], "name": "</script><script>alert(1)</script><!--"}],
            "layout": {"title": "a & b"}}
    html = render({"type": "chart", "title": "Sales <2024>", "spec": spec})
    parsed = Elements(html)
    scripts = parsed.named("script")
    assert scripts == [{"type": "application/json", "class": "chart-spec"}]
    assert len(parsed.scripts) == 1
    assert json.loads(parsed.scripts[0]) == spec
    assert "</script><script>" not in html and "<!--" not in html
    assert "Sales &lt;2024&gt;" in html


def test_json_island_round_trips() -> None:
    value = {"s": "\u2028</SCRIPT>&<!--", "n": [1, 2.5, None, True]}
    assert json.loads(str(json_island(value))) == value


def test_unknown_part_types_are_skipped() -> None:
    assert render({"type": "hologram", "text": "<script>"}, text("after")).count("after") == 1
    assert "hologram" not in render({"type": "hologram"})


def test_every_domain_part_type_renders() -> None:
    samples: dict[str, dict[str, Any]] = {
        "text": text("t"), "thought": {"type": "thought", "text": "t"},
        "tool_call": {"type": "tool_call", "name": "n", "arguments": "{}"},
        "citation": {"type": "citation", "title": "t"},
        "image": {"type": "image", "file_id": "f"},
        "file": {"type": "file", "file_id": "f", "name": "n"},
        "table": {"type": "table", "columns": ["a"], "rows": [[1]]},
        "chart": {"type": "chart", "spec": {}},
        "code": {"type": "code", "code": "x"},
        "diagram": {"type": "diagram", "format": "mermaid", "source": "graph TD"},
    }
    assert set(samples) == PART_TYPES
    for part in samples.values():
        assert render(part).strip(), part


def test_malformed_fields_do_not_crash() -> None:
    html = render({"type": "table", "columns": "nope", "rows": 5},
                  {"type": "file", "size": "big"}, {"type": "text", "text": None},
                  {"type": "tool_call"}, {"type": "image"})
    assert_inert(html)


def test_render_markdown_is_safe_markup() -> None:
    out = render_markdown("<b>x</b> **y**")
    assert isinstance(out, Markup)
    assert "&lt;b&gt;" in out and "<strong>y</strong>" in out


@pytest.mark.parametrize(("size", "expected"), [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (5 * 1024 ** 2, "5.0 MB"),
    (None, ""), (-1, ""), (True, ""), ("12", ""),
])
def test_human_size(size: object, expected: str) -> None:
    assert human_size(size) == expected


@pytest.mark.parametrize("latex", ["\\class{share-banner btn}{x}", "\\cssId{main}{x}",
                                   "\\style{position:fixed;inset:0}{x}",
                                   "\\href{https://evil.example}{x}"])
def test_math_keeps_no_class_id_style_or_link(latex: str) -> None:
    html = render(text(f"Inline ${latex}$ done"))
    [math] = Elements(html).named("math")
    inside = html[html.index("<math"):html.index("</math>")]
    assert not re.search(r"\s(class|id|style|href)=", inside), inside
    assert "<mi>x</mi>" in inside
