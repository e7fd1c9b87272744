"""Markdown export: headings per message, fenced code, GitHub tables, numbered citations,
details blocks and attachment mentions; hostile text cannot break out of any of them."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

from salon.exports.markdown import fence, write_markdown
from tests.exports.samples import EVERY_PART, FILES, HOSTILE, LONG_CODE, conversation, messages


def tokens(text: str) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(text)


def test_the_document_reads_like_the_chat() -> None:
    text = write_markdown(conversation(), messages(EVERY_PART), FILES).decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == r"# Every part \<b\>bold\</b\> & more"
    assert lines[2] == "Created 2025-05-04 10:00 UTC"
    assert "## You" in lines and "## Assistant · m1" in lines
    for expected in ("Show me **everything**", "[dot.png](attachment: dot.png)",
                     "[notes.txt](attachment: notes.txt)", "```python\nprint(1)\n```",
                     "Output:\n\n```\n1\n```",
                     "1. [Docs](https://example.com/docs) — A snippet",
                     "2. [More](https://example.com/more)",
                     "*Numbers*\n\n| a | b |\n| --- | --- |\n| 1 | x |\n| 2 |  |",
                     "**Growth**", "| x | y |\n| --- | --- |\n| 1 | 3 |\n| 2 | 4 |",
                     "<details>\n<summary>Thought</summary>\n\nLet me think.\n\n</details>",
                     "<summary>Tool: search</summary>", "Done."):
        assert expected in text
    assert "data:" not in text and "iVBOR" not in text  # files are mentioned, not embedded


def test_a_table_cell_cannot_add_columns_or_rows() -> None:
    text = write_markdown(conversation(), messages(HOSTILE), []).decode("utf-8")
    cells = [t.children[0].content for t in tokens(text) if t.type == "inline"
             and t.children and t.level > 2]
    assert cells[:4] == ["pipe|col", "b", "a|b", "c\\|d"]
    assert cells[4:6] == ["line break", "-1"]


def test_code_with_backtick_fences_stays_one_block() -> None:
    text = write_markdown(conversation(), messages(HOSTILE), []).decode("utf-8")
    [block] = [t for t in tokens(text) if t.type == "fence" and "x0 = 0" in t.content]
    assert block.content == "```\nno escape\n```\n" + LONG_CODE + "\n"
    assert block.info == "pythonb"  # backticks, spaces and markup dropped from the language
    assert block.markup == "````"


def test_links_only_for_web_urls_and_names_escaped_in_html() -> None:
    text = write_markdown(conversation(), messages(HOSTILE), []).decode("utf-8")
    hrefs = [str(c.attrs["href"]) for t in tokens(text) for c in t.children or []
             if c.type == "link_open"]
    assert hrefs and all(h.startswith("https://") for h in hrefs)
    assert r"1. x\](javascript:alert(1)" in text
    assert "<summary>Tool: &lt;/summary&gt;&lt;script&gt;</summary>" in text
    assert "Remote image: [remote](https://evil.example/remote.png)" in text
    assert "## Assistant · @evil" in text


def test_fences_are_longer_than_any_backtick_run() -> None:
    assert fence("a ````` b", "js") == "``````js\na ````` b\n``````"
    assert fence("") == "```\n\n```"


HOSTILE_MARKDOWN = [
    "<script>alert(1)</script>",
    "hi <img src=x onerror=alert(1)> there",
    "\\<script>alert(1)</script>",
    "<a href='javascript:alert(1)'>x</a>",
    "[click](javascript:alert(1))",
    "[click]( JaVaScRiPt:alert(1) )",
    "[click](<javascript:alert(1)>)",
    "[click](&#106;avascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "![img](data:image/svg+xml;base64,PHN2Zz4=)",
    "[v](vbscript:msgbox(1))",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "[two](\njavascript:alert(1))",
    "<javascript:alert(1)>",
    "```\nunclosed fence",
    "- item\n  ```\n<script>alert(2)</script>\n```",
    "```js`\n<script>alert(3)</script>\n```",
    "> quote\n<details open ontoggle=alert(4)>",
    "| a |\n| --- |\n| <b onmouseover=alert(5)>cell</b> |",
]


def permissive_tokens(text: str) -> list[Token]:
    """Every token, nested ones too, from a renderer that trusts any link (as some do)."""
    md = MarkdownIt("commonmark").enable("table")
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    out: list[Token] = []
    stack = md.parse(text)
    while stack:
        token = stack.pop()
        out.append(token)
        stack.extend(token.children or [])
    return out


def test_hostile_markdown_exports_no_raw_html_and_no_script_links() -> None:
    parts = [{"type": "text", "text": t} for t in HOSTILE_MARKDOWN]
    parts.insert(1, {"type": "thought", "text": "<script>alert(6)</script>[t](javascript:x)"})
    parts.append({"type": "citation", "title": "t", "url": "https://ok.example",
                  "snippet": "<img src=x onerror=alert(7)> [s](javascript:alert(8))"})
    parts.append({"type": "table", "columns": ["<script>c</script>"],
                  "rows": [["[r](javascript:alert(9))"]], "caption": "<i onclick=x>"})
    text = write_markdown(conversation(), messages([("assistant", parts, {})]), []).decode()
    found = permissive_tokens(text)
    raw = [t.content for t in found if t.type in ("html_block", "html_inline")]
    assert sorted(raw) == ["</details>\n", "<details>\n<summary>Thought</summary>\n"], raw
    hrefs = [str(t.attrs.get("href") or t.attrs.get("src")) for t in found
             if t.type in ("link_open", "image")]
    assert hrefs and not [h for h in hrefs if h.replace("\t", "").lower().startswith(
        ("javascript:", "vbscript:", "data:"))], hrefs
    assert "<script" not in text and "<img" not in text
    assert "unclosed fence\n```" in text  # the fence is closed before the next part


def test_code_and_safe_links_are_kept_as_written() -> None:
    kept = "See [docs](https://example.com/a?b=1) and `a < b`\n\n```html\n<b>x</b>\n```"
    text = write_markdown(conversation(), messages([("user", [{"type": "text", "text": kept}],
                                                     {})]), []).decode()
    assert "[docs](https://example.com/a?b=1)" in text and "```html\n<b>x</b>\n```" in text
