"""Markdown: the conversation as a document to read or paste anywhere.

Text parts are written as markdown, made inert (``inert_markdown``): raw HTML cannot start
outside code (every ``<`` there is escaped), a link whose target is ``javascript:``,
``vbscript:`` or ``data:`` gets the harmless ``unsafe:`` scheme in front, and a fence left open
is closed. Everything Salon adds is built so that a message cannot break out of it: code
fences are longer than any run of backticks in the code, table cells escape ``|`` and keep to
one line, names in raw HTML are escaped. Images and files are mentioned by name
(``[name](attachment: name)``), never embedded.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from urllib.parse import quote

from markupsafe import escape

from salon.domain.conversations import Conversation, Message
from salon.exports.common import (
    Files,
    Part,
    as_json,
    chart_tables,
    readable_time,
    role_name,
    table_of,
)
from salon.render.parts import DataTable as Table
from salon.render.parts import as_text

LINK_SCHEMES = ("http://", "https://", "mailto:")
_BACKTICK_RUNS = re.compile(r"`+")
_LANGUAGE_JUNK = re.compile(r"[^\w+#.-]")
_MARKUP = re.compile(r"([\\`*_\[\]<>|~])")
# An opening fence as the renderer sees one only at the start of a line; a backtick fence's
# info string holds no backtick. Indented fences (in list items) are not trusted as fences.
_FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")
# Where a link's target starts: inline ``](target``, a reference ``[label]: target``.
_LINK_TARGET = re.compile(r"(\]\(\s*<?|^ {0,3}\[[^\]]*\]:\s*<?)([^\s)>]*)", re.MULTILINE)
_FENCE_END = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
_UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f]+")


def write_markdown(conv: Conversation, messages: Sequence[Message], files: Files) -> bytes:
    blocks = [f"# {plain(conv.title)}", f"Created {readable_time(conv.created_at)}"]
    for m in messages:
        blocks.extend(message_blocks(m))
    return ("\n\n".join(blocks) + "\n").encode("utf-8")


def message_blocks(m: Message) -> Iterator[str]:
    heading = f"## {role_name(m.role)}"
    yield f"{heading} · {plain(m.model)}" if m.role == "assistant" and m.model else heading
    number = 1
    for part in m.parts:
        block = part_block(part, number)
        if part.get("type") == "citation":
            number += 1
        if block:
            yield block
    if m.status == "interrupted":
        yield "*This answer was interrupted.*"
    elif m.status == "error":
        yield "*The model could not finish this answer.*"


def part_block(part: Part, number: int) -> str:
    """One part as markdown (``number``: a citation's number in its message)."""
    kind = part.get("type")
    if kind == "text":
        return inert_markdown(as_text(part.get("text")).strip("\n"))
    if kind == "code":
        return code_block(part)
    if kind == "table":
        return table_block(table_of(part))
    if kind == "chart":
        return chart_block(part)
    if kind == "diagram":
        return fence(as_text(part.get("source")), "mermaid")
    if kind == "citation":
        return citation_line(part, number)
    if kind == "thought":
        return details("Thought", inert_markdown(as_text(part.get("text")).strip("\n")))
    if kind == "tool_call":
        return tool_block(part)
    if kind in ("image", "file"):
        return attachment(part)
    return ""


def inert_markdown(text: str) -> str:
    """``text`` (markdown from a message) with no way to raw HTML or a script link: outside
    fenced code every ``<`` becomes ``&lt;`` (still shown as ``<``) and unsafe link targets
    get ``unsafe:`` in front; a fence still open at the end is closed, so what follows in the
    document is not read as code."""
    blocks: list[str] = []
    prose: list[str] = []
    opening: str | None = None  # the open fence's marker
    for line in text.split("\n"):
        if opening is not None:
            blocks.append(line)
            if _closes(line, opening):
                opening = None
            continue
        start = _FENCE.match(line)
        if start and not (start.group(1)[0] == "`" and "`" in start.group(2)):
            blocks.extend([_inert_prose(prose)] if prose else [])
            prose, opening = [], start.group(1)
            blocks.append(line)
        else:
            prose.append(line)
    blocks.extend([_inert_prose(prose)] if prose else [])
    blocks.extend([opening] if opening is not None else [])
    return "\n".join(blocks)


def _closes(line: str, opening: str) -> bool:
    """Whether ``line`` closes a fence opened with ``opening`` (CommonMark's rule)."""
    found = _FENCE_END.match(line)
    marker = found.group(1) if found else ""
    return marker[:1] == opening[0] and len(marker) >= len(opening)


def _inert_prose(lines: list[str]) -> str:
    text = "\n".join(lines).replace("<", "&lt;")
    return _LINK_TARGET.sub(_neutralised_target, text)


def _neutralised_target(match: re.Match[str]) -> str:
    target = match.group(2)
    seen = _IGNORED_IN_URLS.sub("", html.unescape(target)).lower()
    return match.group(1) + ("unsafe:" + target if seen.startswith(_UNSAFE_SCHEMES) else target)


def fence(code: str, language: str = "") -> str:
    """``code`` in a fence no backtick run inside it can close."""
    longest = max((len(run) for run in _BACKTICK_RUNS.findall(code)), default=0)
    ticks = "`" * max(3, longest + 1)
    body = code if code.endswith("\n") else code + "\n"
    return f"{ticks}{_LANGUAGE_JUNK.sub('', language)}\n{body}{ticks}"


def code_block(part: Part) -> str:
    block = fence(as_text(part.get("code")), as_text(part.get("language")))
    output = as_text(part.get("output"))
    return f"{block}\n\nOutput:\n\n{fence(output)}" if output else block


def table_block(table: Table) -> str:
    if not table.columns:
        return f"*{table_cell(table.caption)}*" if table.caption else ""
    lines = [f"*{table_cell(table.caption)}*", ""] if table.caption else []
    lines.append(table_row(table.columns))
    lines.append(table_row(["---"] * len(table.columns)))
    lines.extend(table_row(r) for r in table.rows)
    return "\n".join(lines)


def table_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(table_cell(c) for c in cells) + " |"


def table_cell(text: str) -> str:
    """One line, with ``|`` (and the backslash that could undo its escape) escaped."""
    return _inert_prose([one_line(text).replace("\\", "\\\\").replace("|", "\\|")])


def chart_block(part: Part) -> str:
    tables, note = chart_tables(part)
    blocks = [f"**{table_cell(as_text(part.get('title')) or 'Chart')}**"]
    blocks.extend(table_block(t) for t in tables)
    if note:
        blocks.append(f"*{note}*")
    return "\n\n".join(blocks)


def citation_line(part: Part, number: int) -> str:
    title = link_text(as_text(part.get("title")) or as_text(part.get("url")) or "Source")
    url = as_text(part.get("url"))
    head = f"[{title}]({link_target(url)})" if url.startswith(LINK_SCHEMES) else title
    snippet = _inert_prose([one_line(as_text(part.get("snippet")))])
    return f"{number}. {head}" + (f" — {snippet}" if snippet else "")


def tool_block(part: Part) -> str:
    sections = ["Arguments:", fence(as_json(part.get("arguments")), "json")]
    if part.get("result") is not None:
        sections += ["Result:", fence(as_json(part.get("result")), "json")]
    return details(f"Tool: {as_text(part.get('name')) or 'unnamed'}", "\n\n".join(sections))


def details(summary: str, body: str) -> str:
    return f"<details>\n<summary>{escape(one_line(summary))}</summary>\n\n{body}\n\n</details>"


def attachment(part: Part) -> str:
    name = as_text(part.get("name")) or ("image" if part.get("type") == "image" else "file")
    url = as_text(part.get("url"))
    if not part.get("file_id") and url.startswith(LINK_SCHEMES):
        alt = as_text(part.get("alt")) or name
        return f"Remote image: [{link_text(alt)}]({link_target(url)})"
    label = link_text(name)
    return f"[{label}](attachment: {label})"


def link_text(text: str) -> str:
    return one_line(text).replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]") \
        .replace("<", "&lt;")


def link_target(url: str) -> str:
    """A URL that stays one markdown link destination (spaces, brackets, <> encoded)."""
    return quote(one_line(url), safe="/:?#&=%@!$'*+,;~._-")


def plain(text: str | None) -> str:
    """One line of text that markdown shows as written (markup characters escaped)."""
    return _MARKUP.sub(r"\\\1", one_line(text))


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())
