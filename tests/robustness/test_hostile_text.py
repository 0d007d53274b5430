"""Text that means something to LaTeX or HTML is shown as written, in the PDF and in the HTML."""

from __future__ import annotations

import html
import re
import subprocess
import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nnarch.cli import app
from nnarch.documents.render import Context, Html
from nnarch.escape import _TEX_SPECIAL, UnmappableCharacter, tex_escape
from nnarch.source.markdown import inline

from ..browser import page
from .cases.hostile_text import HOSTILE, MARKUP, UNICODE
from .test_cases import lecture_with


def test_hostile_text_compiles_and_shows_as_written(fixture_lectures, tmp_path):
    out = tmp_path / "build"
    result = CliRunner().invoke(
        app, ["build", "--lectures", str(lecture_with("hostile_text", fixture_lectures)), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = subprocess.run(
        ["pdftotext", str(out / "tiny" / "slides.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = re.sub(r"\s+", " ", text)
    for expected in [
        "100% & more_than # $5 {x} ~y ^z \\path",
        "<script>alert('x')</script>",
        "Grüße → αβγ ΔΣ ≈ ≤ ×",
        "Weird: 100% & {braces}",
    ]:
        assert expected in flat.replace("’", "'").replace("‘", "'").replace("∆", "Δ"), expected
    with page() as (tab, _):
        tab.goto((out / "tiny" / "slides.html").as_uri())
        assert tab.evaluate("() => document.querySelectorAll('main script').length") == 0
        shown = tab.evaluate("() => document.querySelector('main').textContent")
        alts = tab.eval_on_selector_all("img", "els => els.map(e => e.alt)")
    for expected in (HOSTILE, MARKUP, UNICODE, r'Weird: 100% & {braces} \\ backslash, ü → α, <tags> & "quotes"'):
        assert expected in shown, expected
    assert f"Alt {MARKUP}" in alts


# Printable text, with the characters that matter over-represented.
TEXT = st.text(alphabet=st.sampled_from(list("%&_#${}~^\\<>\"'`*ab →üαΔ") + ["\n"]), max_size=60) | st.text(max_size=60)


def _tex_unescape(escaped: str) -> str:
    """Undo tex_escape for the ASCII specials, leaving any other command as a marker."""
    escaped = re.sub(r"\\texorpdfstring\{\\ensuremath\{('+)\}\}\{'+\}", r"\1", escaped)  # a letter's primes
    reverse = {v: k for k, v in _TEX_SPECIAL.items()}
    pattern = "|".join(re.escape(v) for v in sorted(reverse, key=len, reverse=True))
    return re.sub(pattern, lambda m: reverse[m.group(0)], escaped)


def _active_left(text: str, escaped: str) -> set:
    """The LaTeX special characters of `escaped` that are not part of an escape sequence we emit."""
    stripped = escaped
    for pattern in (
        r"\\texorpdfstring\{\\ensuremath\{'+\}\}\{'+\}",
        r"\\ensuremath\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}",
        r"\\[\"'`^~=.]\\[a-zA-Z]+\{\}",
        r"\\[a-zA-Z]+\{[a-zA-Z]?\}",
        r"\\[\"'`^~=.](?:\{\})?\{?[a-zA-Z]\}?",
        r"\\[a-zA-Z]+",
        r"\\[\"'`^~=.]\{\}",
        r"\\[^a-zA-Z]",
    ):  # an accent on {} (Ώ); control symbols: \&, \-, \, ...
        stripped = re.sub(pattern, "", stripped)
    while "{}" in stripped:  # groups the escapes open and close ({\small ...})
        stripped = stripped.replace("{}", "")
    ties = {"~"} if any(unicodedata.decomposition(c).startswith("<noBreak>") for c in text) else set()
    return set(stripped) & (set("\\{}$&%#_~^") - ties)  # a no-break space is a tie: ~


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_tex_escape_leaves_no_active_character(text):
    try:
        escaped = tex_escape(text)
    except UnmappableCharacter:
        assume(False)  # refused with a message naming the character: never a silent "?"
    # Every special character typed is part of an escape sequence we emitted, none stands alone
    # (the forms of the other characters are set by pdflatex itself: test_every_character_...)...
    typed = "".join(c for c in text if c.isascii())
    assert not _active_left(typed, tex_escape(typed))
    # ...and the ASCII text comes back unchanged.
    if text.isascii():
        assert _tex_unescape(escaped) == text


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_html_inline_markup_never_emits_markup_from_text(text):
    rendered = str(Html().inline(inline(text), Context(None, {})))
    plain = re.sub(r'<math.*?</math>|</?(em|strong|code)( class="tex")?>|<br>', "", rendered, flags=re.S)
    assert "<" not in plain and ">" not in plain
    assert "<script" not in rendered
    if text.isprintable() and not re.search(r"[$`*\\&_<>\[\]!]|\{\{|\s\s", text):
        shown = html.unescape(rendered).replace("\u2034", "'''").replace("\u2033", "''").replace("\u2032", "'")
        assert shown.strip() == text.strip()  # no Markdown syntax: it round-trips (a letter's primes shown as primes)


def _built_slides_text(lectures, out) -> str:
    """Build `lectures` into `out` with the command line; the words of its tiny lecture's PDF."""
    result = CliRunner().invoke(app, ["build", "--lectures", str(lectures), "--out", str(out)])
    assert result.exit_code == 0, result.output
    pdf = str(out / "tiny" / "slides.pdf")
    return " ".join(subprocess.run(["pdftotext", pdf, "-"], capture_output=True, text=True, check=True).stdout.split())


SCIENCE = "240 W/m² ± 5, CO₂ and ∂u/∂t; β₁ ≤ ∞; 3 µm; −1"


def test_what_scientists_type_reaches_the_pdf(fixture_lectures, tmp_path):
    slides = fixture_lectures / "tiny" / "line.md"
    slides.write_text(slides.read_text() + f"\n## Units\n\n{SCIENCE}\n")
    out = tmp_path / "build"
    text = _built_slides_text(fixture_lectures, out)
    for piece in ("±", "∂u/∂t", "≤ ∞", "µm", "−1"):
        assert piece in text, (piece, text[-300:])
    assert "?" not in text


def test_primes_are_primes_and_code_keeps_its_quotes_in_pdf_and_html(fixture_lectures, tmp_path):
    slides = fixture_lectures / "tiny" / "line.md"
    slides.write_text(
        slides.read_text() + "\n## Solving u'' = -u\n\nWith f'(x), it's the students' turn.\n\n"
        '```python\nstart = "u\'(0)"  # `x`\n```\n\n$$\nN = {{params.total}} \\cdot 1{,}000\n$$\n'
    )
    out = tmp_path / "build"
    text = _built_slides_text(fixture_lectures, out)
    assert "Solving u′′ = -u" in text and "it’s the students’ turn" in text and "f′" in text  # primes
    assert 'start = "u\'(0)"' in text and "`x`" in text  # code as typed: copied from the PDF, it runs
    tex = (out / "tiny" / "instructor" / "slides.tex").read_text()
    assert "\\texorpdfstring{\\ensuremath{''}}{''}" in tex  # the outline says u'', not u”
    html = (out / "tiny" / "slides.html").read_text()
    assert "Solving u″ = -u" in html and "f′(x), it&#39;s the students&#39; turn" in html
    assert "<mn>1,000</mn>" in html  # a grouped number is one number in MathML, not 1, comma, 000


def test_a_character_pdflatex_cannot_set_stops_the_build_naming_the_line(fixture_lectures, tmp_path):
    slides = fixture_lectures / "tiny" / "line.md"
    slides.write_text(slides.read_text() + "\n## Names\n\nThe station 漢 reports.\n")
    result = CliRunner().invoke(app, ["build", "--lectures", str(fixture_lectures), "--out", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert re.search(r"line\.md:\d+: the character '漢' \(U\+6F22 .*\) has no form in the PDF", result.output)


@pytest.mark.slow
def test_every_character_tex_escape_maps_is_set_by_pdflatex(tmp_path):
    """Every character from U+0080 to U+2FFFF: refused with UnmappableCharacter, or escaped to a
    form that real pdflatex sets without an error, in the slides' and in the handouts' preamble.
    (pylatexenc's table names commands of packages the documents do not load.)"""
    from nnarch.documents.render import render_preamble

    forms = {}
    for code in [*range(0x80, 0xD800), *range(0xE000, 0x30000)]:
        try:
            forms[code] = tex_escape(chr(code))
        except UnmappableCharacter:
            continue
    assert len(forms) > 1000 and 0x3B1 in forms and 0x2248 in forms  # α and ≈ among them
    for document, frame in (("slides", ("\\begin{frame}", "\\end{frame}")), ("handout", ("", ""))):
        lines = [render_preamble(document), "\\begin{document}"]
        codes = list(forms)
        for start in range(0, len(codes), 20):  # frames of 20 characters, one a line
            lines.append(frame[0])
            # each form followed by a letter: a form ending in a bare command would swallow it
            lines += [f"\\message{{@@{code:X}@@}}{forms[code]}x\\par" for code in codes[start : start + 20]]
            lines.append(frame[1])
        (tmp_path / f"{document}.tex").write_text("\n".join(lines + ["\\end{document}"]))
        subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", f"{document}.tex"], cwd=tmp_path, capture_output=True, timeout=300
        )
        log = (tmp_path / f"{document}.log").read_text(errors="replace")
        assert "@@2FFFF@@" in log or f"@@{codes[-1]:X}@@" in log, "pdflatex stopped early"
        failed, current = {}, None
        for found in re.finditer(r"@@([0-9A-F]+)@@|^! (.*)$|^(Missing character: .*)$", log, re.M):
            if found[1]:
                current = int(found[1], 16)
            else:  # an error before the first character: in the preamble
                where = f"U+{current:04X} {forms[current]}" if current is not None else "the preamble"
                failed.setdefault(where, found[2] or found[3])
        assert not failed, f"{document}: {len(failed)} forms fail: {list(failed.items())[:10]}"
