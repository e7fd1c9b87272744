"""A diagram part renders as its escaped Mermaid source (what readers without JavaScript see),
for the chat page, the share page and the HTML export alike."""

from __future__ import annotations

from salon.render import render_message

HOSTILE = ('flowchart TD\n  A["</pre><script>alert(1)</script>"] --> B["<img src=x '
           'onerror=alert(2)> & ok"]')


def render(source: object) -> str:
    return str(render_message([{"type": "diagram", "format": "mermaid", "source": source}],
                              file_url=lambda file_id: file_id))


def test_the_source_is_shown_in_a_pre() -> None:
    html = render("flowchart TD\n  A --> B")
    assert html == ('<figure class="part part-diagram"><pre class="mermaid-source">'
                    "flowchart TD\n  A --&gt; B</pre></figure>")


def test_hostile_source_stays_text() -> None:
    html = render(HOSTILE)
    assert "<script" not in html and "<img" not in html and "</pre><script" not in html
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt; &amp; ok" in html
    assert html.count("</pre>") == 1


def test_a_missing_source_renders_an_empty_block() -> None:
    assert '<pre class="mermaid-source"></pre>' in render(None)
