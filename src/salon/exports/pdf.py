"""PDF: the conversation as A4 pages to read, print or archive (fpdf2).

Text is set in DejaVu Sans and code in DejaVu Sans Mono (Debian's fonts-dejavu-core), which
cover Latin, Greek, Cyrillic, Arabic, Hebrew and more. A character the font has no glyph for
(Chinese, Japanese and Korean among them) is printed as ``□`` rather than silently dropped.
Right-to-left text is written without shaping. Markdown is shown as written.

Every part is laid out once, top to bottom, so the time grows with the size of the chat.
fpdf2 and Pillow (some 40 MB resident) are imported by the first PDF export, not with this
module.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from salon.domain.conversations import Conversation, Message
from salon.domain.errors import InvalidInput
from salon.exports.common import (
    Files,
    Part,
    StoredFile,
    as_json,
    chart_tables,
    files_by_id,
    readable_time,
    role_name,
    table_of,
)
from salon.render.parts import DataTable as Table
from salon.render.parts import as_text, human_size

if TYPE_CHECKING:
    from fpdf import FPDF
    from fpdf.fonts import TTFFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = (("sans", "", "DejaVuSans.ttf"), ("sans", "B", "DejaVuSans-Bold.ttf"),
         ("mono", "", "DejaVuSansMono.ttf"))
FONTS_MISSING = "PDF export needs the DejaVu fonts (Debian package fonts-dejavu-core)."
PLACEABLE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MISSING_GLYPH = "□"
MAX_TABLE_COLUMNS = 12
MAX_CELL_CHARS = 300
IMAGE_MAX_HEIGHT = 120.0  # mm
PX_TO_MM = 25.4 / 96
MUTED = (110, 110, 110)
CODE_BACKGROUND = (244, 244, 246)
HEADINGS_FILL = (226, 226, 232)


class _Glyphs(dict[int, int | str]):
    """A ``str.translate`` table for one font: characters it cannot draw become ``□``
    (fpdf2 would leave them out), tabs become spaces."""

    def __init__(self, cmap: Mapping[int, Any]) -> None:
        super().__init__({9: "    "})
        self.known = set(cmap) | {10}

    def __missing__(self, code: int) -> int | str:
        value: int | str = code if code in self.known else MISSING_GLYPH
        self[code] = value
        return value


def write_pdf(conv: Conversation, messages: Sequence[Message], files: Files, *,
              font_dir: Path = FONT_DIR) -> bytes:
    """The chat as a PDF; InvalidInput (FORMAT_NOT_SUPPORTED) when the fonts are missing."""
    writer = _PdfWriter(font_dir, files_by_id(files))
    writer.heading(conv.title, size=18)
    writer.note(f"Created {readable_time(conv.created_at)}")
    for m in messages:
        writer.message(m)
    return bytes(writer.pdf.output())


def missing_fonts(font_dir: Path = FONT_DIR) -> list[Path]:
    """The font files PDF export needs that ``font_dir`` lacks (none: PDF export works)."""
    return [font_dir / name for _, _, name in FONTS if not (font_dir / name).is_file()]


def _document(font_dir: Path) -> FPDF:
    if missing_fonts(font_dir):
        raise InvalidInput(FONTS_MISSING, code="FORMAT_NOT_SUPPORTED", field="format")
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    for family, style, name in FONTS:
        pdf.add_font(family, style, font_dir / name)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    return pdf


class _PdfWriter:
    """Lays parts out one below the other on ``pdf``."""

    def __init__(self, font_dir: Path, files: Mapping[str, StoredFile]) -> None:
        self.pdf = _document(font_dir)
        self.files = files
        self.glyphs = {family: _Glyphs(cast("TTFFont", self.pdf.fonts[family]).cmap)
                       for family in ("sans", "mono")}

    def clean(self, text: str, family: str = "sans") -> str:
        return text.replace("\r\n", "\n").replace("\r", "\n").translate(self.glyphs[family])

    def write(self, text: str, *, family: str = "sans", style: str = "", size: float = 11,
              color: tuple[int, int, int] = (0, 0, 0), fill: bool = False,
              link: str | None = None) -> None:
        pdf = self.pdf
        pdf.set_font(family, style, size)
        pdf.set_text_color(*color)
        pdf.multi_cell(0, size * 0.5, self.clean(text, family), fill=fill, link=link,
                       align="L", padding=2 if fill else 0,
                       new_x="LMARGIN", new_y="NEXT")

    def heading(self, text: str, *, size: float) -> None:
        self.write(text, style="B", size=size)

    def note(self, text: str) -> None:
        self.write(text, size=9, color=MUTED)

    def gap(self, height: float = 2.5) -> None:
        self.pdf.ln(height)

    def message(self, m: Message) -> None:
        self.gap(5)
        self.heading(role_name(m.role) + (f" · {m.model}" if m.model else ""), size=12)
        self.note(readable_time(m.created_at))
        number = 1
        for part in m.parts:
            self.gap()
            self.part(part, number)
            number += part.get("type") == "citation"
        if m.status == "interrupted":
            self.note("This answer was interrupted.")
        elif m.status == "error":
            self.note("The model could not finish this answer.")

    def part(self, part: Part, number: int) -> None:
        kind = part.get("type")
        if kind == "text":
            self.write(as_text(part.get("text")))
        elif kind == "thought":
            self.note("Thought")
            self.write(as_text(part.get("text")), size=10, color=MUTED)
        elif kind == "code":
            self.code(part)
        elif kind == "tool_call":
            self.tool_call(part)
        elif kind == "citation":
            self.citation(part, number)
        elif kind == "table":
            self.table(table_of(part))
        elif kind == "chart":
            self.chart(part)
        elif kind == "diagram":
            self.note("Mermaid diagram (source)")
            self.code_block(as_text(part.get("source")))
        elif kind == "image":
            self.image(part)
        elif kind == "file":
            self.attachment(part, "File")

    def code(self, part: Part) -> None:
        language = as_text(part.get("language"))
        if language:
            self.note(language)
        self.code_block(as_text(part.get("code")))
        output = as_text(part.get("output"))
        if output:
            self.note("Output")
            self.code_block(output)

    def code_block(self, code: str) -> None:
        self.pdf.set_fill_color(*CODE_BACKGROUND)
        self.write(code.rstrip("\n") or " ", family="mono", size=8.5, fill=True)

    def tool_call(self, part: Part) -> None:
        self.heading(f"Tool: {as_text(part.get('name')) or 'unnamed'}", size=10)
        self.note("Arguments")
        self.code_block(as_json(part.get("arguments")))
        if part.get("result") is not None:
            self.note("Result")
            self.code_block(as_json(part.get("result")))

    def citation(self, part: Part, number: int) -> None:
        url = as_text(part.get("url"))
        title = as_text(part.get("title")) or url or "Source"
        is_link = url.startswith(("http://", "https://"))
        self.write(f"{number}. {title}", color=(30, 80, 170) if is_link else (0, 0, 0),
                   link=url if is_link else None)
        details = [x for x in (url if url != title else "", as_text(part.get("snippet"))) if x]
        if details:
            self.note("\n".join(details))

    def chart(self, part: Part) -> None:
        self.heading(as_text(part.get("title")) or "Chart", size=11)
        tables, note = chart_tables(part)
        for table in tables:
            self.table(table)
        if note:
            self.note(note)

    def table(self, table: Table) -> None:
        if table.caption:
            self.note(table.caption)
        columns = table.columns[:MAX_TABLE_COLUMNS]
        if not columns:
            return
        from fpdf.fonts import FontFace

        pdf = self.pdf
        pdf.set_font("sans", "", 8.5)
        pdf.set_text_color(0, 0, 0)
        headings = FontFace(emphasis="BOLD", fill_color=HEADINGS_FILL)
        with pdf.table(headings_style=headings, cell_fill_color=CODE_BACKGROUND,
                       cell_fill_mode="ROWS", first_row_as_headings=True,
                       text_align="LEFT", line_height=4.5) as grid:
            for cells in [columns, *table.rows]:
                row = grid.row()
                for text in cells[:MAX_TABLE_COLUMNS]:
                    row.cell(self.clean(text[:MAX_CELL_CHARS]))
        if len(table.columns) > MAX_TABLE_COLUMNS:
            self.note(f"{len(table.columns) - MAX_TABLE_COLUMNS} more columns are not shown.")

    def image(self, part: Part) -> None:
        file_id = as_text(part.get("file_id"))
        found = self.files.get(file_id) if file_id else None
        if found is None:
            url = as_text(part.get("url"))
            self.attachment(part, "Image", extra=f"not included: {url}" if url else "")
            return
        if found.media_type not in PLACEABLE_IMAGES:
            self.attachment(part, "Image", extra=f"{found.media_type} is not shown in PDFs")
            return
        size = image_size(found.data)
        if size is None:
            self.attachment(part, "Image", extra="could not be read")
            return
        try:
            self.place_image(found.data, size, alt=as_text(part.get("alt")) or found.name)
        except (OSError, ValueError):
            self.attachment(part, "Image", extra="could not be placed")

    def place_image(self, data: bytes, size: tuple[int, int], *, alt: str) -> None:
        pdf = self.pdf
        width, height = (px * PX_TO_MM for px in size)
        scale = min(1.0, pdf.epw / width, IMAGE_MAX_HEIGHT / height)
        pdf.image(io.BytesIO(data), w=width * scale, h=height * scale, alt_text=alt)
        pdf.set_x(pdf.l_margin)

    def attachment(self, part: Part, label: str, *, extra: str = "") -> None:
        name = as_text(part.get("name")) or label.lower()
        meta = [x for x in (human_size(part.get("size")), as_text(part.get("media_type")), extra)
                if x]
        self.write(f"{label}: {name}" + (f" ({', '.join(meta)})" if meta else ""), size=10)


def image_size(data: bytes) -> tuple[int, int] | None:
    """The image's size in pixels; None when Pillow cannot read it or it is a
    decompression bomb."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                image.verify()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning,
                Image.DecompressionBombError):
            return None
    return (width, height) if width > 0 and height > 0 else None
