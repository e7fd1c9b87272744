"""Message parts to safe HTML: one renderer for the chat page and the share page.

Every part type from ``domain.conversations.PART_FIELDS`` has a renderer here; unknown types
are skipped. Each renderer's HTML passes through ``sanitize_html``, except the chart's JSON
data island, which is escaped so it cannot close its ``<script>`` element.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from salon.render.highlight import highlight_code, plain_block
from salon.render.sanitize import sanitize_html

Part = Mapping[str, Any]
FileUrl = Callable[[str], str]
PartRenderer = Callable[[Part, FileUrl], Markup]

SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")


def render_message(parts: Sequence[Part], *, file_url: FileUrl) -> Markup:
    """The HTML of one message's parts, in order. ``file_url`` maps a file id to the URL its
    bytes are served from (the owner's file route, or a share's)."""
    return Markup("").join(_render_runs(parts, file_url))


def _render_runs(parts: Sequence[Part], file_url: FileUrl) -> Iterator[Markup]:
    """Consecutive citations share one numbered list, numbered across the whole message."""
    number = 1
    run: list[Part] = []
    for part in [*parts, {"type": "end"}]:
        if part.get("type") == "citation":
            run.append(part)
            continue
        if run:
            yield sanitize_html(render_citations(run, start=number))
            number += len(run)
            run = []
        yield render_part(part, file_url=file_url)


def render_part(part: Part, *, file_url: FileUrl) -> Markup:
    """One part's safe HTML; an empty string for types we do not know."""
    kind = part.get("type")
    if kind == "chart":
        return render_chart(part)
    renderer = _RENDERERS.get(str(kind))
    return sanitize_html(renderer(part, file_url)) if renderer else Markup("")


def render_markdown(text: str) -> Markup:
    """Markdown text as safe HTML."""
    return sanitize_html(markdown_to_html(text))


def markdown_to_html(text: str) -> str:
    """``salon.render.markdown.markdown_to_html``: markdown-it loads with the first message
    rendered, not with the server."""
    from salon.render.markdown import markdown_to_html as convert

    return convert(text)


def _text(part: Part, file_url: FileUrl) -> Markup:
    return Markup('<div class="part part-text">{}</div>').format(
        Markup(markdown_to_html(as_text(part.get("text")))))


def _thought(part: Part, file_url: FileUrl) -> Markup:
    body = Markup(markdown_to_html(as_text(part.get("text"))))
    return Markup('<details class="part part-thought"><summary>Thought</summary>'
                  '<div class="details-body">{}</div></details>').format(body)


def _tool_call(part: Part, file_url: FileUrl) -> Markup:
    sections = [_labelled("Arguments", _as_json_block(part.get("arguments")))]
    if part.get("result") is not None:
        sections.append(_labelled("Result", _as_json_block(part.get("result"))))
    return Markup('<details class="part part-tool"><summary>Tool: {}</summary>'
                  '<div class="details-body">{}</div></details>').format(
        as_text(part.get("name")) or "unnamed", Markup("").join(sections))


def render_citations(citations: Iterable[Part], *, start: int = 1) -> Markup:
    """A numbered list of sources: title, link and snippet (never the ``source`` text)."""
    items = [_citation_item(c) for c in citations]
    return Markup('<ol class="part part-citations" start="{}">{}</ol>').format(
        start, Markup("").join(items))


def _citation_item(part: Part) -> Markup:
    title = as_text(part.get("title")) or as_text(part.get("url")) or "Source"
    url = as_text(part.get("url"))
    head = Markup('<span class="citation-title">{}</span>').format(title)
    if url:
        head = Markup('<a href="{}">{}</a>').format(url, title)
    snippet = as_text(part.get("snippet"))
    tail = Markup('<p class="citation-snippet">{}</p>').format(snippet) if snippet else Markup("")
    return Markup("<li>{}{}</li>").format(head, tail)


def _image(part: Part, file_url: FileUrl) -> Markup:
    alt = as_text(part.get("alt")) or as_text(part.get("name")) or "image"
    file_id = as_text(part.get("file_id"))
    if file_id:
        src = file_url(file_id)
        return Markup('<figure class="part part-image"><a href="{src}">'
                      '<img src="{src}" alt="{alt}" loading="lazy"></a></figure>').format(
            src=src, alt=alt)
    url = as_text(part.get("url"))
    if not url:
        return Markup("")
    return Markup('<p class="part part-remote-image">Remote image, not loaded: '
                  '<a href="{}">{}</a></p>').format(url, alt)


def _file(part: Part, file_url: FileUrl) -> Markup:
    file_id = as_text(part.get("file_id"))
    name = as_text(part.get("name")) or "file"
    meta = " · ".join(x for x in (human_size(part.get("size")),
                                  as_text(part.get("media_type"))) if x)
    link = Markup("<span>{}</span>").format(name)
    if file_id:
        link = Markup('<a href="{}" download>{}</a>').format(file_url(file_id), name)
    return Markup('<p class="part part-file">{} <span class="file-meta">{}</span></p>').format(
        link, meta)


def _table(part: Part, file_url: FileUrl) -> Markup:
    columns = [cell(c) for c in as_list(part.get("columns"))]
    rows = [_row(r, columns) for r in as_list(part.get("rows"))]
    caption = as_text(part.get("caption"))
    head = Markup("").join(Markup('<th scope="col">{}</th>').format(c) for c in columns)
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(Markup("").join(Markup("<td>{}</td>").format(v) for v in r))
        for r in rows)
    return Markup('<div class="part part-table table-wrap"><table data-sortable>{}'
                  "<thead><tr>{}</tr></thead><tbody>{}</tbody></table></div>").format(
        Markup("<caption>{}</caption>").format(caption) if caption else Markup(""), head, body)


def _row(row: Any, columns: list[str]) -> list[str]:
    if isinstance(row, Mapping):
        return [cell(row.get(c)) for c in columns]
    return [cell(v) for v in as_list(row)]


# Trace types that draw maps: they fetch map data or tiles from other sites, which our pages
# never do, so such charts are refused.
MAP_TRACE_TYPES = frozenset({
    "scattergeo", "choropleth", "scattermapbox", "choroplethmapbox", "densitymapbox",
    "scattermap", "choroplethmap", "densitymap",
})
CHART_TABLE_ROWS = 200  # rows per trace in the table shown without JavaScript


class ChartSpecError(ValueError):
    """Why a chart part's spec cannot be drawn (shown to the reader)."""


def render_chart(part: Part) -> Markup:
    """A ``<figure data-chart>``: the title, the spec (a Plotly figure with only ``data`` and
    ``layout``) as an inert JSON data island that ``static/charts.js`` draws, and a table of
    the data for readers without JavaScript. A spec that is not a valid figure gives the title
    and a "could not be drawn" note, with no data island."""
    title = as_text(part.get("title")) or "Chart"
    try:
        spec = chart_spec(part.get("spec"))
    except ChartSpecError as reason:
        return Markup(
            '<figure class="part part-chart chart-invalid"><figcaption>{}</figcaption>'
            '<p class="chart-note">This chart could not be drawn: {}</p></figure>'
        ).format(title, str(reason))
    return Markup(
        '<figure class="part part-chart" data-chart><figcaption>{}</figcaption>'
        '<div class="chart-fallback">{}</div>'
        '<script type="application/json" class="chart-spec">{}</script></figure>'
    ).format(title, _chart_tables(spec["data"]), json_island(spec))


def chart_spec(value: Any) -> dict[str, Any]:
    """The drawable figure in ``value``: a mapping with a ``data`` list of trace objects and
    an optional ``layout`` object, nothing else; ChartSpecError says what is wrong. Images
    are dropped wherever the figure carries them (a chart never loads remote resources, and
    shows no picture a message smuggled in as a ``data:`` URL): see ``_without_images``."""
    if not isinstance(value, Mapping):
        raise ChartSpecError("the chart has no figure.")
    extra = sorted(str(k) for k in value if k not in ("data", "layout"))
    if extra:
        raise ChartSpecError(f"unexpected keys {', '.join(extra)} (only data and layout).")
    data = value.get("data")
    if not isinstance(data, list) or not data or not all(isinstance(t, Mapping) for t in data):
        raise ChartSpecError("its data must be a list of traces.")
    maps = sorted({str(t.get("type")) for t in data} & MAP_TRACE_TYPES)
    if maps:
        raise ChartSpecError(f"map charts ({', '.join(maps)}) are not supported.")
    layout = value.get("layout", {})
    if not isinstance(layout, Mapping):
        raise ChartSpecError("its layout must be an object.")
    return {"data": [_without_images(t) for t in data], "layout": _without_images(layout)}


# Where a Plotly figure names an image: ``images`` (layout's, and a template's layout's), an
# image trace's or a map layer's ``source``.
_IMAGE_KEYS = frozenset({"images", "source"})
_URL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*://|//|data:|blob:)", re.IGNORECASE)


def _without_images(value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` with, at any depth (``layout.template`` too), every image key and every
    property whose value is a URL removed."""
    return {str(k): _walk(v) for k, v in value.items()
            if str(k) not in _IMAGE_KEYS and not (isinstance(v, str) and _URL.match(v))}


def _walk(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _without_images(value)
    if isinstance(value, list):
        return [_walk(v) for v in value]
    return value


def _chart_tables(traces: list[dict[str, Any]]) -> Markup:
    """One small table per trace that has x/y (or labels/values) lists; a note otherwise."""
    tables = [t for t in (_trace_table(n, trace) for n, trace in enumerate(traces, 1)) if t]
    if not tables:
        return Markup('<p class="chart-note">Interactive chart: it needs JavaScript.</p>')
    return Markup("").join(tables)


@dataclass(frozen=True)
class DataTable:
    """A table as strings (a chart trace's data, or a table part for the exports)."""

    caption: str
    columns: list[str]
    rows: list[list[str]]


def trace_table(number: int, trace: Mapping[str, Any]) -> DataTable | None:
    """A chart trace's x/y (or labels/values) lists as a table of at most
    ``CHART_TABLE_ROWS`` rows; None when the trace has neither."""
    keys = ("labels", "values") if "values" in trace else ("x", "y")
    columns = [(k, trace[k]) for k in keys if isinstance(trace.get(k), list)]
    if not columns:
        return None
    length = max(len(values) for _, values in columns)
    rows = [[cell(values[i]) if i < len(values) else "" for _, values in columns]
            for i in range(min(length, CHART_TABLE_ROWS))]
    caption = as_text(trace.get("name")) or f"Series {number}"
    if length > len(rows):
        caption += f" (first {len(rows)} of {length} points)"
    return DataTable(caption=caption, columns=[k for k, _ in columns], rows=rows)


def _trace_table(number: int, trace: Mapping[str, Any]) -> Markup:
    table = trace_table(number, trace)
    if table is None:
        return Markup("")
    head = Markup("").join(Markup('<th scope="col">{}</th>').format(k) for k in table.columns)
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(Markup("").join(Markup("<td>{}</td>").format(v) for v in r))
        for r in table.rows)
    return Markup('<div class="table-wrap"><table><caption>{}</caption><thead><tr>{}</tr>'
                  "</thead><tbody>{}</tbody></table></div>").format(table.caption, head, body)


def json_island(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``: ``<``, ``>`` and ``&`` are
    \\u-escaped, so ``</script>`` and ``<!--`` cannot appear; parsing it gives ``value`` back."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return Markup(text)


def _code(part: Part, file_url: FileUrl) -> Markup:
    code = highlight_code(as_text(part.get("code")), as_text(part.get("language")) or None)
    output = part.get("output")
    if output is None or output == "":
        return Markup('<div class="part part-code">{}</div>').format(code)
    return Markup('<div class="part part-code">{}<div class="code-output">{}</div></div>').format(
        code, _labelled("Output", plain_block(as_text(output))))


def _diagram(part: Part, file_url: FileUrl) -> Markup:
    """The diagram's source, escaped, in ``<pre class="mermaid-source">``: what readers
    without JavaScript (and the HTML export) see; ``static/diagrams.js`` draws it as SVG."""
    return Markup('<figure class="part part-diagram"><pre class="mermaid-source">{}</pre>'
                  "</figure>").format(as_text(part.get("source")))


def _labelled(label: str, block: Markup) -> Markup:
    return Markup('<div class="block-label">{}</div>{}').format(label, block)


def _as_json_block(value: Any) -> Markup:
    """Structured values as pretty JSON; strings that hold JSON are pretty-printed too."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return plain_block(value)
    if isinstance(value, str):
        return plain_block(value)
    return highlight_code(json.dumps(value, indent=2, ensure_ascii=False, default=str), "json")


def human_size(size: Any) -> str:
    """``1536`` → ``"1.5 KB"``; anything that is not a non-negative number → ``""``."""
    if isinstance(size, bool) or not isinstance(size, int | float) or size < 0:
        return ""
    value = float(size)
    for unit in SIZE_UNITS:
        if value < 1024 or unit == SIZE_UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def as_text(value: Any) -> str:
    """A part's field as text: None as empty, anything else as ``str``."""
    return value if isinstance(value, str) else "" if value is None else str(value)


def cell(value: Any) -> str:
    """A table cell as text: lists and objects as JSON, None as empty."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def as_list(value: Any) -> list[Any]:
    """A field that should be a list (anything else counts as empty)."""
    return list(value) if isinstance(value, list | tuple) else []


_RENDERERS: dict[str, PartRenderer] = {
    "text": _text,
    "thought": _thought,
    "tool_call": _tool_call,
    "image": _image,
    "file": _file,
    "table": _table,
    "code": _code,
    "diagram": _diagram,
}
