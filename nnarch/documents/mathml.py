"""MathML for the HTML documents: LaTeX math through latex2mathml, with what Chromium draws wrongly
rewritten to what it draws right, and primes as prime characters in text."""

from __future__ import annotations

import functools
import re

from latex2mathml.converter import convert as _mathml
from markupsafe import escape

from nnarch.escape import PRIMES


def html_primes(text: str) -> str:
    """u'' as u″, f'(x) as f′(x): a letter's primes as the prime characters."""
    return PRIMES.sub(lambda m: m[1] + "\u2032\u2033\u2034"[len(m[2]) - 1], text)


# LaTeX that latex2mathml turns into MathML Chromium draws wrongly, and what it draws right.
_MATHML_FRIENDLY = [
    (re.compile(r"\\xrightarrow\{((?:[^{}]|\{[^{}]*\})*)\}"), r"\\overset{\1}{\\longrightarrow}"),
    (re.compile(r"\\lVert\b"), r"\\left\\|"),
    (re.compile(r"\\rVert\b"), r"\\right\\|"),
]


@functools.lru_cache(maxsize=4096)  # `serve` renders the same formulas on every save
def to_mathml(latex: str, display: str) -> str:
    for pattern, replacement in _MATHML_FRIENDLY:
        latex = pattern.sub(replacement, latex)
    try:
        mathml = _mathml(latex, display=display)
    except Exception:  # latex2mathml knows less LaTeX than pdflatex; show the source rather than fail
        return f'<code class="tex">{escape(latex)}</code>'
    while _GROUPED.search(mathml):  # 1{,}944: one number, not 1, an operator and 944
        mathml = _GROUPED.sub(r"<mn>\1,\2</mn>", mathml)
    for pattern, replacement in _MATHML_FIXES:
        mathml = pattern.sub(replacement, mathml)
    return mathml


# MathML that Chromium draws off-centre: an arrow under a label, set as an identifier (italic, the
# label right of its middle); a hat as ASCII ^, high and to the right.
_MATHML_FIXES = [
    (re.compile(r"<mover><mrow><mi>(&#x027F6;)</mi></mrow>"), r'<mover><mo lspace="0" rspace="0">\1</mo>'),
    (re.compile(r'(<mover accent="true">.*?)<mo>&#x0005E;</mo>'), r'\1<mo stretchy="false">&#x02C6;</mo>'),
    # a prime as a superscript is raised twice (its glyph is already high): beside its letter instead
    (
        re.compile(
            r"<msubsup>(<mi>[^<]*</mi>)(<mi>[^<]*</mi>|<mrow>(?:(?!</?msubsup).)*?</mrow>)<mi>(&#x0203[234];)</mi></msubsup>"
        ),
        r'<msub><mrow>\1<mi mathvariant="normal">\3</mi></mrow>\2</msub>',
    ),
    (
        re.compile(r"<msup>(<mi>[^<]*</mi>)<mi>(&#x0203[234];)</mi></msup>"),
        r'<mrow>\1<mi mathvariant="normal">\2</mi></mrow>',
    ),
]
_GROUPED = re.compile(r"<mn>([\d,]+)</mn><mrow><mo>&#x0002C;</mo></mrow><mn>(\d{3}(?:[.,]\d+)*)</mn>")
