"""PDF export: every message's text (read back with pypdf), images placed, code and
tables laid out, text in other alphabets and a 5,000-line code block handled, and a clear
error when the fonts are missing."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf
import pytest

from salon.domain.errors import InvalidInput
from salon.exports.pdf import FONT_DIR, write_pdf
from tests.exports.samples import EVERY_PART, FILES, HOSTILE, conversation, messages
from tests.web.test_share_viewing_api import PNG

pytestmark = pytest.mark.skipif(not (FONT_DIR / "DejaVuSans.ttf").is_file(),
                                reason="the DejaVu fonts (fonts-dejavu-core) are not installed")


def read(body: bytes) -> pypdf.PdfReader:
    assert body.startswith(b"%PDF-")
    return pypdf.PdfReader(io.BytesIO(body))


def text_of(reader: pypdf.PdfReader) -> str:
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def test_every_message_is_in_the_text() -> None:
    reader = read(write_pdf(conversation(), messages(EVERY_PART), FILES))
    text = text_of(reader)
    for expected in ("Every part <b>bold</b> & more", "Created 2025-05-04 10:00 UTC", "You",
                     "Show me **everything**", "File: notes.txt (5 B, text/plain)",
                     "Assistant · m1", "Let me think.", "Tool: search", '"q": "salon"',
                     "1. Docs", "https://example.com/docs", "A snippet", "2. More", "Numbers",
                     "a b 1 x 2", "Growth", "x y 1 3 2 4", "python print(1) Output 1", "Done."):
        assert expected in text, expected
    assert reader.metadata is not None and len(reader.pages) == 1


def test_images_are_placed() -> None:
    reader = read(write_pdf(conversation(), messages(EVERY_PART), FILES))
    [image] = reader.pages[0].images
    assert image.image is not None and image.image.size == (1, 1)


def test_citations_link_to_their_source() -> None:
    reader = read(write_pdf(conversation(), messages(EVERY_PART), FILES))
    annotations = [a.get_object() for a in reader.pages[0].get("/Annots", [])]
    uris = [a["/A"]["/URI"] for a in annotations if "/A" in a]
    assert uris == ["https://example.com/docs", "https://example.com/more"]


def test_hostile_text_and_a_huge_code_block() -> None:
    reader = read(write_pdf(conversation(), messages(HOSTILE), FILES))
    text = text_of(reader)
    assert len(reader.pages) > 40
    for expected in ("=HYPERLINK(", "<script>alert('x')</script>", "Привет", "a|b", "c\\|d",
                     "x0 = 0 # line 0", "x4999 = 4999 # line 4999", "Assistant · @evil",
                     "Tool: </summary><script>", "not json"):
        assert expected in text, expected
    assert "你好" not in text  # DejaVu has no CJK glyphs: they are printed as □
    uris = [a.get_object()["/A"]["/URI"] for page in reader.pages
            for a in page.get("/Annots", []) if "/A" in a.get_object()]
    assert uris == []  # a javascript: citation is not a link


@pytest.mark.parametrize(("name", "media_type", "data", "note"), [
    ("logo.svg", "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
     "image/svg+xml is not shown in PDFs"),
    ("broken.png", "image/png", PNG[:20], "could not be read"),
])
def test_images_it_cannot_place_get_a_note(name: str, media_type: str, data: bytes,
                                           note: str) -> None:
    spec = [("user", [{"type": "image", "file_id": "i", "name": name,
                       "media_type": media_type}], {})]
    files = [({"id": "i", "name": name, "media_type": media_type}, data)]
    text = text_of(read(write_pdf(conversation(), messages(spec), files)))  # type: ignore[arg-type]
    assert f"Image: {name}" in text and note in text


def test_missing_fonts_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        write_pdf(conversation(), messages(EVERY_PART), FILES, font_dir=tmp_path)
    assert caught.value.code == "FORMAT_NOT_SUPPORTED"
    assert caught.value.detail == ("PDF export needs the DejaVu fonts (Debian package "
                                   "fonts-dejavu-core).")
