"""Markdown to HTML: CommonMark plus tables, strikethrough and ``$math$``; raw HTML stays text.

The output is *not* sanitised here; ``parts`` passes every fragment through ``sanitize_html``.
Markdown images become links (a message must never make the viewer's browser fetch a URL),
fenced code is highlighted by Pygments, and table alignment becomes a class (our CSP forbids
inline styles).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup
from mdit_py_plugins.dollarmath import dollarmath_plugin

from salon.render.highlight import highlight_code
from salon.render.math import latex_to_mathml

_ALIGN_CLASSES = {f"text-align:{side}": f"align-{side}" for side in ("left", "center", "right")}


def _render_math(content: str, options: dict[str, Any]) -> str:
    return str(latex_to_mathml(content, display=bool(options.get("display_mode"))))


def _fence(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    language = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else None
    return str(highlight_code(token.content, language))


def _code_block(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return str(highlight_code(tokens[idx].content, None))


def _image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """``![alt](url)`` as a link the reader may choose to open, never an ``<img>``."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    return str(Markup('<a class="image-link" href="{}">Image: {}</a>').format(
        str(token.attrs.get("src", "")), alt))


def _cell_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    style = token.attrs.pop("style", None)
    if isinstance(style, str) and style in _ALIGN_CLASSES:
        token.attrSet("class", _ALIGN_CLASSES[style])
    return self.renderToken(tokens, idx, options, env)


def _table_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return '<div class="table-wrap"><table data-sortable>\n'


def _table_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return "</table></div>\n"


def build_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False})
    md.enable(["table", "strikethrough"])
    # Dollar amounts ("$5 and $10") are not math: no digits or spaces next to the dollars.
    dollarmath_plugin(md, allow_labels=False, allow_space=False, allow_digits=False,
                      double_inline=True, renderer=_render_math)
    rules = {"fence": _fence, "code_block": _code_block, "image": _image,
             "th_open": _cell_open, "td_open": _cell_open,
             "table_open": _table_open, "table_close": _table_close}
    for name, rule in rules.items():
        md.add_render_rule(name, rule)
    return md


_parser = build_parser()


def markdown_to_html(text: str) -> str:
    """HTML for ``text`` (unsanitised: callers must pass it through ``sanitize_html``)."""
    html: str = _parser.render(text)
    return html
