"""Mermaid diagrams: taking the diagram out of a model's reply and a cheap structural check.

The check is not a Mermaid parser: it refuses what Salon never shows (HTML, click callbacks,
configuration that could turn Mermaid's safety settings off, remote resources, oversized
sources) and catches the mistakes models make most (no diagram type, unbalanced brackets or
quotes), so that the model can be asked once to correct them. A source that passes may still
fail in the browser; the page then shows the source, as it does without JavaScript.
"""

from __future__ import annotations

import re

MAX_DIAGRAM_CHARS = 20_000

# The first word of every diagram type Mermaid 11 draws.
DIAGRAM_TYPES = frozenset({
    "graph", "flowchart", "flowchart-elk", "sequenceDiagram", "classDiagram", "classDiagram-v2",
    "stateDiagram", "stateDiagram-v2", "erDiagram", "journey", "gantt", "pie", "quadrantChart",
    "requirementDiagram", "gitGraph", "C4Context", "C4Container", "C4Component", "C4Dynamic",
    "C4Deployment", "mindmap", "timeline", "sankey-beta", "xychart-beta", "block-beta",
    "packet-beta", "kanban", "architecture-beta", "radar-beta", "treemap-beta",
})
# Types whose brackets and quotes are shape syntax on the whole line; in the others, text
# after the first ":" of a line is a free label (``Alice->>Bob: hi (again``).
_SHAPE_TYPES = frozenset({"graph", "flowchart", "flowchart-elk", "block-beta"})
_PAIRS = {")": "(", "]": "[", "}": "{"}
# An entity-relationship line's crow's feet (``||--o{``, ``}|..|{``) are not brackets.
_ER_CARDINALITY = re.compile(r"[|}][o|](?:--|\.\.)[o|][|{]")

_FENCE = re.compile(r"```[ \t]*([A-Za-z-]*)[^\n]*\n(.*?)```", re.DOTALL)
_HTML_TAG = re.compile(r"(?<!<)<[A-Za-z/!?]")
_CALLBACK = re.compile(r"^\s*(click|callback)\b", re.IGNORECASE | re.MULTILINE)
_FORBIDDEN = (
    ("%%{", "configuration directives (%%{...}%%) are not allowed"),
    ("javascript:", "javascript: links are not allowed"),
    ("url(", "url(...) in styles is not allowed (a diagram loads nothing)"),
    ("@import", "@import in styles is not allowed (a diagram loads nothing)"),
)


class DiagramInvalid(ValueError):
    """Why a Mermaid source is refused, worded for the model (and the reader)."""


def extract_mermaid(reply: str) -> str:
    """The diagram in a model's reply: its ```mermaid block, else its only fenced block, else
    the whole reply when it starts with a diagram type. Raises DiagramInvalid otherwise."""
    blocks: list[tuple[str, str]] = _FENCE.findall(reply)
    tagged = [body for lang, body in blocks if lang.lower() == "mermaid"]
    if tagged:
        return tagged[0].strip()
    if len(blocks) == 1:
        return blocks[0][1].strip()
    if _diagram_type(reply.strip()) in DIAGRAM_TYPES:
        return reply.strip()
    raise DiagramInvalid("the reply has no Mermaid diagram in a ```mermaid code block")


def check_mermaid(source: str) -> str:
    """The diagram type (the header's first word) when ``source`` passes the structural
    check; DiagramInvalid says why not."""
    if not source.strip():
        raise DiagramInvalid("the diagram is empty")
    if len(source) > MAX_DIAGRAM_CHARS:
        raise DiagramInvalid(f"the diagram is longer than {MAX_DIAGRAM_CHARS} characters")
    if source.lstrip().startswith("---"):
        raise DiagramInvalid("front matter (--- ... ---) is not allowed; start with the type")
    lowered = source.lower()
    for needle, reason in _FORBIDDEN:
        if needle in lowered:
            raise DiagramInvalid(reason)
    if _HTML_TAG.search(source):
        raise DiagramInvalid("HTML tags (such as <br> or <b>) are not allowed in labels; "
                             "use plain text")
    if _CALLBACK.search(source):
        raise DiagramInvalid("click and callback statements are not allowed")
    kind = _diagram_type(source)
    if kind not in DIAGRAM_TYPES:
        raise DiagramInvalid(f"it does not start with a known diagram type (got {kind!r}; "
                             "for example flowchart TD or sequenceDiagram)")
    problem = _unbalanced(source, shapes=kind in _SHAPE_TYPES)
    if problem:
        raise DiagramInvalid(problem)
    return kind


def _lines(source: str) -> list[str]:
    return source.splitlines()


def _diagram_type(source: str) -> str:
    """The first word of the first line that is not blank or a ``%%`` comment."""
    for line in _lines(source):
        stripped = line.strip()
        if stripped and not stripped.startswith("%%"):
            return re.split(r"[\s;:]", stripped, maxsplit=1)[0]
    return ""


def _unbalanced(source: str, *, shapes: bool) -> str:
    """The first bracket or quote problem in ``source``, or "". Brackets may span lines (a
    class or state body); quotes and ``|edge labels|`` may not, and what they hold is label
    text, as is ``%%`` comment and, outside shape diagrams, what follows a line's first ":"."""
    stack: list[tuple[str, int]] = []
    for number, line in enumerate(_lines(source), 1):
        if line.strip().startswith("%%"):
            continue
        structure = line if shapes else _ER_CARDINALITY.sub("", line.partition(":")[0])
        problem = _scan_line(structure, number, stack, labels='"|' if shapes else '"')
        if problem:
            return f"line {number} has {problem}: {line.strip()[:80]!r}"
    if stack:
        char, number = stack[-1]
        return f"the {char!r} opened on line {number} is never closed"
    return ""


def _scan_line(text: str, number: int, stack: list[tuple[str, int]], *, labels: str) -> str:
    label = ""
    for char in text:
        if label:
            label = "" if char == label else label
        elif char in labels:
            label = char
        elif char in "([{":
            stack.append((char, number))
        elif char in _PAIRS and (not stack or stack.pop()[0] != _PAIRS[char]):
            return f"an unmatched {char!r}"
    return f"an unclosed {label!r}" if label else ""
