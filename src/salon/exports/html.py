"""HTML: one self-contained page that looks like the share page and works offline.

Messages go through the share page's renderer (``salon.render``). The page then loads
nothing: the stylesheets are inlined, stored images become ``data:`` URLs, other files are
listed by name and size only, a chart shows the renderer's table of its data (its JSON data
island, the one ``<script>`` the renderer writes, is removed), and remote images in messages
are already links, not images. A Content-Security-Policy that allows only inline styles and
``data:`` images backs this up if anything slipped through.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from markupsafe import Markup

from salon.domain.conversations import Conversation, Message
from salon.exports.common import Files, StoredFile, files_by_id, iso, readable_time, role_name
from salon.render import render_message
from salon.render.parts import human_size

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
STYLESHEETS = ("salon.css", "highlight.css", "share-page.css", "charts.css")
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# What browsers show in <img>; a file of any other type is listed, not embedded.
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
                         "image/bmp"})
FILE_PREFIX = "/__export_file__/"
_CHART_ISLAND = re.compile(r'<script type="application/json" class="chart-spec">[^<]*</script>')
_LINKED_IMAGE = re.compile(
    r'<a href="(' + re.escape(FILE_PREFIX) + r'[^"]*)"[^>]*>(<img src=")\1("[^>]*>)</a>')

PAGE = Markup("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body class="page-layout share-layout">
<main id="main" class="share-page">
<header class="share-head">
<p class="share-kicker">Exported chat</p>
<h1 class="share-title">{title}</h1>
<p class="share-meta"><span>Started <time datetime="{created}">{created_text}</time></span></p>
</header>
<div class="messages share-messages">
{messages}
</div>
{files}
</main>
</body>
</html>
""")
MESSAGE = Markup("""<article class="message message-{role}{status_class}">
<h2 class="visually-hidden">{label}</h2>
{avatar}<div class="message-body">
{body}{note}
</div>
</article>""")
NOTES = {
    "interrupted": Markup('<p class="message-note">This answer was interrupted.</p>'),
    "error": Markup('<p class="message-note message-note-error">'
                    "The model could not finish this answer.</p>"),
}


def write_html(conv: Conversation, messages: Sequence[Message], files: Files) -> bytes:
    stored = files_by_id(files)
    page = PAGE.format(
        csp=CSP, title=conv.title, css=Markup(stylesheet()), created=iso(conv.created_at),
        created_text=readable_time(conv.created_at),
        messages=Markup("\n").join(message_html(m, stored) for m in messages)
        or Markup('<p class="share-empty">This chat has no messages.</p>'),
        files=file_list(stored))
    return str(page).encode("utf-8")


def stylesheet() -> str:
    """The share page's stylesheets, one after the other (none of them loads anything)."""
    css = "\n".join((STATIC_DIR / name).read_text(encoding="utf-8") for name in STYLESHEETS)
    return css.replace("</", "<\\/")  # a stylesheet can never close its <style> element


def message_html(m: Message, stored: Mapping[str, StoredFile]) -> Markup:
    parts = [offline_part(p, stored) for p in m.parts]
    body = render_message(parts, file_url=lambda file_id: FILE_PREFIX + quote(file_id, safe=""))
    return MESSAGE.format(
        role=m.role, status_class=f" status-{m.status}" if m.status != "complete" else "",
        label=role_name(m.role) + (f" · {m.model}" if m.model else ""),
        avatar=Markup('<div class="avatar" aria-hidden="true">S</div>')
        if m.role == "assistant" else "",
        body=Markup(embed_images(without_chart_data(body), stored)),
        note=NOTES.get(m.status, ""))


def offline_part(part: Mapping[str, Any], stored: Mapping[str, StoredFile]) -> dict[str, Any]:
    """The part as the offline page shows it: files lose their link (the page carries no
    file data), and an image that cannot be embedded is listed like a file."""
    kind = part.get("type")
    if kind == "file":
        return {k: v for k, v in part.items() if k != "file_id"}
    if kind == "image" and part.get("file_id"):
        found = stored.get(str(part["file_id"]))
        if found is None or found.media_type not in IMAGE_TYPES:
            return {"type": "file", "name": part.get("name") or "image",
                    "media_type": part.get("media_type"), "size": part.get("size")}
    return dict(part)


def without_chart_data(html: str) -> str:
    return _CHART_ISLAND.sub("", html)


def embed_images(html: str, stored: Mapping[str, StoredFile]) -> str:
    """Each stored image's ``<a><img></a>`` (only image parts make an ``<img>``) becomes an
    ``<img>`` whose source is the image itself, as a ``data:`` URL."""
    def embed(match: re.Match[str]) -> str:
        found = stored.get(unquote(match.group(1)[len(FILE_PREFIX):]))
        if found is None:  # offline_part keeps an image's file_id only when it is stored
            return ""
        data = base64.b64encode(found.data).decode("ascii")
        return f"{match.group(2)}data:{found.media_type};base64,{data}{match.group(3)}"

    return _LINKED_IMAGE.sub(embed, html)


def file_list(stored: Mapping[str, StoredFile]) -> Markup:
    if not stored:
        return Markup("")
    items = Markup("").join(
        Markup('<li>{} <span class="file-meta">{} · {}</span></li>').format(
            f.name, human_size(len(f.data)), f.media_type) for f in stored.values())
    return Markup('<section class="share-files"><h2>Files</h2><ul>{}</ul>'
                  '<p class="file-meta">Only images are included in this page; other files '
                  "are listed by name.</p></section>").format(items)
