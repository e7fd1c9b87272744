"""LaTeX math to MathML (browsers draw MathML natively: no script, no web font)."""

from __future__ import annotations

from markupsafe import Markup

MAX_LATEX_CHARS = 5_000


def latex_to_mathml(latex: str, *, display: bool) -> Markup:
    """MathML for ``latex``; LaTeX the converter cannot read (or too long) is shown as code.

    The result still passes through the sanitiser: latex2mathml copies ``\\href`` targets
    and styles into attributes, which the allow-list drops.
    """
    from latex2mathml.converter import convert  # loaded by the first formula, not at start

    source = latex.strip()
    if len(source) > MAX_LATEX_CHARS:
        return _as_code(source)
    try:
        mathml = convert(source, display="block" if display else "inline")
    except Exception:  # latex2mathml raises many unrelated types on bad input
        return _as_code(source)
    return Markup(mathml)


def _as_code(source: str) -> Markup:
    return Markup('<code class="math-source">{}</code>').format(source)
