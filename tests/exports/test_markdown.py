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
