"""Escaping for LaTeX: every character of a lecture's text either becomes something pdflatex sets
with the slides' preamble (T1, lmodern) or is refused with its name. `check` runs it over every
text before anything trains; rendering runs it again on the text with the run's values filled in."""

from __future__ import annotations

import functools
import re
import unicodedata

_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_ACCENTS = {"\u0308": '"', "\u0301": "'", "\u0300": "`", "\u0302": "^", "\u0303": "~", "\u0327": "c"}
# pylatexenc's forms that pdflatex cannot set with the slides' preamble, found by setting every form
# with real LaTeX (tests/robustness/test_hostile_text.py does it on each run): commands of packages
# the slides do not load (tipa, mathrsfs, xfrac, wasysym, ...), blackboard lower case, Cyrillic (the
# T2A encoding), and symbols that it leaves outside math. A letter form falls back on its plain
# spelling (ℋ is H, ⅓ is 1⁄3); the others are refused with the character's name.
_NOT_IN_PREAMBLE = re.compile(
    r"\\(?:text(?:hvlig|nrleg|schwa|phi|glotstop|turnk|frac)|mathscr|mathbb\{[a-z]|nolinebreak|"
    r"quarternote|arrowwave(?:left|right)|dblarrowupdown|DownArrowUpArrow|rightangle(?:arc)?|surfintegral|"
    r"volintegral|clwintegral|clockoint|sqrint|homothetic|lazysinv|approxnotequal|tildetrpl|allequal|estimates|"
    r"starequal|notlessgreater|notgreaterless|truestate|forcesextra|VDash|original|image|"
    r"hermitconjmatrix|verymuch(?:less|greater)|precedesnotsimilar|udots|varperspcorrespond|recorder)(?![a-zA-Z])"
)
_NEEDS_T2A = re.compile(r"\\(?:CYR|cyr)")
_MATH_OUTSIDE_MATH = {
    "\u025b": r"\ensuremath{\varepsilon}",
    "\u03d2": r"\ensuremath{\Upsilon}",
    "\u0390": r"\ensuremath{\acute{\ddot{\iota}}}",
    "\u266d": r"\ensuremath{\flat}",
    "\u266e": r"\ensuremath{\natural}",
    "\u266f": r"\ensuremath{\sharp}",
}


class UnmappableCharacter(ValueError):
    """A character pdflatex cannot set and no LaTeX command stands for."""


# A one-letter name with primes (u'', f'(x)): a derivative, not a quotation mark. Not "it's",
# "students'" or "d'Alembert", whose apostrophe follows or precedes a word, nor a quoted 'x'.
PRIMES = re.compile(r"(?<![A-Za-z'])([A-Za-z])('{1,3})(?![A-Za-z'])")
# Code shows the quotes typed: T1's typewriter font would set ' and ` as curly quotes.
_UPRIGHT = {"'": r"\textquotesingle{}", "`": r"\textasciigrave{}"}


def tex_escape(text: str, code: bool = False, typewriter: bool = False) -> str:
    """Escape text for LaTeX (pdflatex + T1); in `code` mode only what semiverbatim still interprets.
    Every other character becomes a LaTeX command (pylatexenc's table) or raises
    UnmappableCharacter: nothing is silently replaced. Code and `typewriter` text keep upright
    quotes; in other text a letter's primes are set as primes (u'' is u with two primes)."""
    text = str(text)
    if code or typewriter:
        return _escape(text, code, typewriter=True)
    parts = PRIMES.split(text)  # text, letter, primes, text, letter, primes, ..., text
    return "".join(_primes(part) if i % 3 == 2 else _escape(part) for i, part in enumerate(parts))


def _primes(primes: str) -> str:
    """Primes in math, plain apostrophes in the PDF's outline."""
    return rf"\texorpdfstring{{\ensuremath{{{primes}}}}}{{{primes}}}"


def _escape(text: str, code: bool = False, typewriter: bool = False) -> str:
    out = []
    for ch in text:
        if typewriter and ch in _UPRIGHT:
            out.append(_UPRIGHT[ch])
        elif code and ch in "\\{}":
            out.append({"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}"}[ch])
        elif not code and ch in _TEX_SPECIAL:
            out.append(_TEX_SPECIAL[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append(_tex_unicode(ch))
    return "".join(out)


@functools.cache
def _encoder():
    """pylatexenc's encoder, made on first use."""
    import logging

    from pylatexenc.latexencode import UnicodeToLatexEncoder

    logging.getLogger("pylatexenc").setLevel(logging.CRITICAL)  # we say it ourselves, once
    return UnicodeToLatexEncoder(
        non_ascii_only=True, unknown_char_policy="fail", replacement_latex_protection="braces-after-macro"
    )


@functools.cache
def _tex_unicode(ch: str) -> str:
    kind, _, digits = unicodedata.decomposition(ch).partition(" ")
    if unicodedata.category(ch) == "Zs":  # spaces: a no-break one is a tie, the others a space
        return "~" if kind == "<noBreak>" else " "
    if kind in ("<sub>", "<super>") and " " not in digits:  # ₂ ² ⁻: pylatexenc knows only some of them
        base = chr(int(digits, 16))
        base = "-" if base == "\u2212" else base  # math's minus
        if base.isascii() and base.isprintable():  # math mode sets these (not ʱ's ɦ)
            return rf"\ensuremath{{{'_' if kind == '<sub>' else '^'}{{{_TEX_SPECIAL.get(base, base)}}}}}"
    if unicodedata.normalize("NFC", ch) in _MATH_OUTSIDE_MATH:  # ΐ is U+0390 and U+1FD3
        return _MATH_OUTSIDE_MATH[unicodedata.normalize("NFC", ch)]
    try:
        latex = _encoder().unicode_to_latex(ch)
    except ValueError:
        latex = r"\nument"  # pylatexenc's own stand-in for "no form" (it gives ŉ that)
    if _NEEDS_T2A.search(latex):
        raise UnmappableCharacter(
            f"the character '{ch}' (U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}) "
            "is Cyrillic, which the slides' fonts do not have; transliterate it"
        )
    if r"\nument" not in latex and not _NOT_IN_PREAMBLE.search(latex):
        return latex
    base, marks = unicodedata.normalize("NFD", ch)[0], unicodedata.normalize("NFD", ch)[1:]
    if ord(base) < 128 and len(marks) == 1 and marks[0] in _ACCENTS:  # ǹ, ẁ: a letter and an accent
        return f"\\{_ACCENTS[marks[0]]}{{{base}}}"
    spelled = unicodedata.normalize("NFKC", ch)  # ŉ is ʼn, ℠ is SM: the same letters, written plainly
    if spelled != ch:
        try:
            return tex_escape(spelled)
        except UnmappableCharacter:
            pass
    raise UnmappableCharacter(
        f"the character '{ch}' (U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}) "
        "has no form in the PDF; write it another way (in math, or spelled out)"
    )
