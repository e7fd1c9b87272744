"""The last line of defence: an nh3 (ammonia) allow-list for every HTML fragment we render.

Whatever markdown-it, Pygments or latex2mathml produce passes through ``sanitize_html`` before it
reaches a page. Links keep only http, https and mailto (or same-site relative) targets and get
``rel="noopener noreferrer nofollow"``; images may only come from our own server (a relative
path), so a message can never make a viewer's browser fetch a remote URL.
"""

from __future__ import annotations

import nh3
from markupsafe import Markup

_HTML_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl",
    "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "kbd", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}
# What latex2mathml emits (presentation MathML); never ``maction`` or ``semantics`` tricks.
MATHML_TAGS = {
    "math", "menclose", "merror", "mfrac", "mi", "mmultiscripts", "mn", "mo", "mover",
    "mpadded", "mphantom", "mprescripts", "mroot", "mrow", "ms", "mspace", "msqrt", "mstyle",
    "msub", "msubsup", "msup", "mtable", "mtd", "mtext", "mtr", "munder", "munderover", "none",
}
# MathML presentation attributes, the only ones MathML elements keep: ``href``, ``style``,
# ``id`` and ``class`` (from ``\href``, ``\style``, ``\cssId``, ``\class``) are
# deliberately absent, so a formula can neither link nor borrow Salon's classes and ids.
_MATHML_ATTRIBUTES = {
    "accent", "accentunder", "columnalign", "columnlines", "columnspacing", "depth", "display",
    "displaystyle", "fence", "form", "height", "largeop", "linethickness", "lspace",
    "mathcolor", "mathsize", "mathvariant", "maxsize", "minsize", "movablelimits", "notation",
    "rowalign", "rowlines", "rowspacing", "rspace", "scriptlevel", "separator", "stretchy",
    "symmetric", "voffset", "width",
}
_HTML_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title", "download"},
    "img": {"src", "alt", "title", "loading", "width", "height"},
    "ol": {"start"},
    "table": {"data-sortable"},
    "th": {"scope"},
}
_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: {"class"} | _HTML_ATTRIBUTES.get(tag, set()) for tag in _HTML_TAGS},
    "math": {"xmlns"} | _MATHML_ATTRIBUTES,
    **{tag: set(_MATHML_ATTRIBUTES) for tag in MATHML_TAGS - {"math"}},
}
LINK_REL = "noopener noreferrer nofollow"
URL_SCHEMES = {"http", "https", "mailto"}


def is_local_path(url: str) -> bool:
    """A path on this server ("/..."), not a protocol-relative URL ("//host", "/\\host")."""
    return url.startswith("/") and not url.startswith(("//", "/\\"))


def _filter_attribute(tag: str, name: str, value: str) -> str | None:
    if tag == "img" and name == "src":
        return value if is_local_path(value) else None
    if tag == "ol" and name == "start":
        return value if value.isdigit() and len(value) < 7 else None
    return value


_cleaner = nh3.Cleaner(
    tags=_HTML_TAGS | MATHML_TAGS,
    clean_content_tags={"script", "style"},
    attributes=_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    link_rel=LINK_REL,
    url_schemes=URL_SCHEMES,
)


def sanitize_html(html: str) -> Markup:
    """``html`` with everything outside the allow-list removed: safe to put in any page."""
    return Markup(_cleaner.clean(html))
