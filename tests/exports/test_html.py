"""HTML export: one offline page like the share page, with no script, nothing that loads
from the network, images inside as data URLs and hostile text shown as text."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

from salon.exports.html import CSP, write_html
from tests.exports.samples import EVERY_PART, FILES, HOSTILE, conversation, messages
from tests.web.test_share_viewing_api import PNG

# Elements that make a browser fetch what their attributes name.
LOADING = {"script", "link", "iframe", "frame", "object", "embed", "source", "video", "audio",
           "track", "input", "base", "form", "svg", "use", "image", "meta"}


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def tags(self, name: str) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def page(spec: list[tuple[str, list[dict[str, object]], dict[str, object]]]) -> tuple[str, Page]:
    html = write_html(conversation(), messages(spec), FILES).decode("utf-8")  # type: ignore[arg-type]
    return html, Page(html)


def assert_loads_nothing(html: str, doc: Page) -> None:
    assert "<script" not in html.lower()
    for tag, attrs in doc.elements:
        assert tag not in LOADING - {"meta"}, tag
        assert "style" not in attrs and not any(k.startswith("on") for k in attrs), (tag, attrs)
        if "src" in attrs:
            assert attrs["src"].startswith("data:image/"), (tag, attrs)
    [policy] = [a for a in doc.tags("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert policy["content"] == CSP
    assert "url(" not in html and "@import" not in html


def test_the_page_has_every_message_and_loads_nothing() -> None:
    html, doc = page(EVERY_PART)
    assert_loads_nothing(html, doc)
    words = doc.words()
    for text in ("Show me everything", "Let me think.", "Tool: search", "Docs", "A snippet",
                 "Numbers", "Growth", "print ( 1 )", "Done.", "notes.txt", "5 B · text/plain"):
        assert text in words or text.replace(" ", "") in words.replace(" ", ""), text
    assert [a["class"] for a in doc.tags("article")] == ["message message-user",
                                                         "message message-assistant"]
    assert '<h1 class="share-title">Every part &lt;b&gt;bold&lt;/b&gt; &amp; more</h1>' in html
    assert "<title>Every part &lt;b&gt;bold&lt;/b&gt; &amp; more</title>" in html


def test_images_are_inside_and_files_are_only_named() -> None:
    html, doc = page(EVERY_PART)
    [image] = doc.tags("img")
    assert image["src"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert image["alt"] == "dot.png"
    hrefs = [a.get("href", "") for a in doc.tags("a")]
    assert hrefs == ["https://example.com/docs", "https://example.com/more"]
    assert "hello" not in doc.words()  # the text file's contents


def test_styles_are_inline_and_charts_show_their_table() -> None:
    html, doc = page(EVERY_PART)
    [style] = [t for t, _ in doc.elements if t == "style"]
    assert style and ".share-page {" in html and ".message-body {" in html
    assert "chart-spec" not in html and 'class="chart-fallback"' in html
    assert [a.get("scope") for a in doc.tags("th")][-2:] == ["col", "col"]


def test_hostile_text_stays_text() -> None:
    html, doc = page(HOSTILE)
    assert_loads_nothing(html, doc)
    assert not doc.tags("img")
    words = doc.words()
    assert "<script>alert('x')</script><img src=https://evil.example/x>" in words
    for text in ("مرحبا بالعالم", "שלום", "你好，世界", "Привет", "x4999 = 4999",
                 "=HYPERLINK(\"http://evil.example\",\"click\")"):
        assert text in words, text
    hrefs = {a["href"] for a in doc.tags("a") if "href" in a}  # javascript: links lose theirs
    assert hrefs == {"https://evil.example/p.png", "https://evil.example/remote.png"}


def test_a_missing_or_unusual_image_file_is_listed_not_loaded() -> None:
    spec = [("user", [{"type": "image", "file_id": "gone", "name": "lost.png", "size": 3},
                      {"type": "image", "file_id": "f-txt", "name": "odd.txt"}], {})]
    html, doc = page(spec)  # type: ignore[arg-type]
    assert_loads_nothing(html, doc)
    assert not doc.tags("img") and "lost.png" in doc.words() and "odd.txt" in doc.words()
