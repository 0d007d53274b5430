"""Lecture-hall quality, read back from the built files: every word readable, no frame overflowing,
the HTML deck fitting screen, print and phone, aligned formulas aligned in Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pdfminer.high_level import extract_pages
from pdfminer.layout import LTChar
from typer.testing import CliRunner

from nnarch.cli import app
from nnarch.documents.latex import OVERFULL, TOLERANCE_PT

from .browser import page

FOOTLINE_PT = 14  # the footline (topic and frame number) sits below this height


def chars(pdf: Path):
    """(page, size, character) of every upright character above the footline."""

    def walk(item, number):
        if isinstance(item, LTChar):
            _a, b, c, _d, _, _ = item.matrix
            if abs(b) < 1e-3 and abs(c) < 1e-3 and item.y0 > FOOTLINE_PT and item.get_text().strip():
                yield number, item.size, item.get_text()
            return
        for child in getattr(item, "_objs", None) or ():
            yield from walk(child, number)

    for number, layout in enumerate(extract_pages(str(pdf)), start=1):
        yield from walk(layout, number)


def test_every_character_on_the_slides_is_at_least_8_pt(lecture_out):
    measured = list(chars(lecture_out / "slides.pdf"))
    small = [(p, round(size, 1), ch) for p, size, ch in measured if size < 7.9]
    assert len(measured) > 5000 and small == []


def test_no_box_is_overfull_in_any_compiled_document(lecture_out):
    logs = sorted((lecture_out.parent / ".work" / "nn_architectures").glob("*.log"))
    names = ["handout-instructor.log", "handout.log", "slides-handout.log", "slides-notes.log", "slides.log"]
    assert [log.name for log in logs] == names
    for log in logs:
        overfull = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if (m := OVERFULL.match(line)) and float(m.group(2)) > TOLERANCE_PT
        ]
        assert overfull == [], log.name


def _overflows(tab) -> list:
    """Slides whose content is taller or wider than the slide, or that scroll sideways inside."""
    return tab.evaluate("""() => Array.from(document.querySelectorAll('.slide')).map((s, i) => {
        const inner = Array.from(s.querySelectorAll('*')).filter(e =>
            ['auto', 'scroll'].includes(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth + 1);
        return [i + 1, s.scrollHeight - s.clientHeight, s.scrollWidth - s.clientWidth, inner.length];
    }).filter(r => r[1] > 1 || r[2] > 1 || r[3] > 0)""")


@pytest.mark.parametrize("width, height", [(1280, 720), (390, 844)])
def test_every_html_slide_fits_the_screen(lecture_out, width, height):
    with page(width, height) as (tab, _):
        tab.goto((lecture_out / "slides.html").as_uri())
        total = int(tab.inner_text("#counter").split("/")[1])
        problems = []
        for _ in range(total):  # measured as shown, one at a time
            problems += [r for r in _overflows(tab) if r[0] == int(tab.inner_text("#counter").split("/")[0])]
            assert tab.evaluate("document.documentElement.scrollWidth") <= width
            tab.keyboard.press("ArrowRight")
    assert problems == []


def test_code_in_the_html_deck_is_as_large_beside_its_text_as_in_the_pdf(lecture_out):
    """A projector shows the HTML deck too: each listing's code is set at the size the PDF's frame
    gave it (10, 9 or 8 pt beside 11 pt text), not at one small size for all."""
    tex = (lecture_out / "instructor" / "slides.tex").read_text()
    points = {"small": 10, "footnotesize": 9, "scriptsize": 8}
    in_pdf = [points[size] for size in re.findall(r"\{\\(\w+)\n\\begin\{semiverbatim\}", tex)]
    with page(1280, 720) as (tab, _):
        tab.goto((lecture_out / "slides.html").as_uri())
        tab.emulate_media(media="print")  # every slide laid out at once
        ratios = tab.evaluate("""() => Array.from(document.querySelectorAll('.slide pre')).map(pre =>
            parseFloat(getComputedStyle(pre).fontSize) /
            parseFloat(getComputedStyle(pre.closest('.slide > *')).fontSize))""")
    assert len(in_pdf) == len(ratios) >= 5 and len(set(in_pdf)) > 1
    assert [round(r * 10, 1) for r in ratios] == in_pdf


def test_every_html_slide_prints_whole_on_its_own_page(lecture_out, tmp_path):
    with page() as (tab, _):
        tab.goto((lecture_out / "slides.html").as_uri())
        tab.emulate_media(media="print")
        assert _overflows(tab) == []
        slides = tab.eval_on_selector_all(".slide", "els => els.length")
        tab.pdf(path=str(tmp_path / "printed.pdf"), prefer_css_page_size=True)
    assert len(list(extract_pages(str(tmp_path / "printed.pdf")))) == slides


def test_aligned_equations_line_up_in_chromium(lecture_out):
    with page() as (tab, _):
        tab.goto((lecture_out / "slides.html").as_uri())
        tab.emulate_media(media="print")  # every slide laid out at once
        rows = tab.evaluate("""() => Array.from(document.querySelectorAll('mtable')).map(t =>
            Array.from(t.querySelectorAll(':scope > mtr')).map(r => {
                const cell = r.querySelectorAll(':scope > mtd')[1];
                const eq = cell && Array.from(cell.querySelectorAll('mo')).find(m => m.textContent.trim() === '=');
                return eq ? eq.getBoundingClientRect().left : null;
            })).filter(xs => xs.length > 1 && xs.every(x => x !== null))""")
    assert len(rows) >= 3  # the intro, the FFNN mapping, the LSTM gates
    for xs in rows:
        assert max(xs) - min(xs) <= 2, xs


def test_enter_presses_the_focused_button_and_text_taps_stay(lecture_out):
    with page() as (tab, _):
        tab.goto((lecture_out / "slides.html").as_uri() + "#5")
        tab.focus("#prev")
        tab.keyboard.press("Enter")
        assert tab.inner_text("#counter").startswith("4 /")
        tab.click(".slide:not([hidden]) li")
        assert tab.inner_text("#counter").startswith("4 /")


def _build(lectures: Path, out: Path):
    return CliRunner().invoke(app, ["build", "--lectures", str(lectures), "--out", str(out)])


def _add_overflowing_frame(lectures: Path) -> None:
    slides = lectures / "tiny" / "line.md"
    bullets = "".join(f"- point number {i} of a frame that says far too much\n" for i in range(30))
    slides.write_text(slides.read_text() + f"\n## Far Too Much\n\n{bullets}")


def test_a_frame_that_overflows_fails_the_build_naming_it(fixture_lectures, tmp_path):
    _add_overflowing_frame(fixture_lectures)
    result = _build(fixture_lectures, tmp_path / "b")
    assert result.exit_code == 1
    found = re.findall(
        r"tiny/line\.md:\d+: frame 'Far Too Much' is [\d.]+ pt too high; cut or split it",
        " ".join(result.output.split()),
    )
    assert len(found) == 1, result.output  # once, though the notes deck has the frame too
    assert "Traceback" not in result.output


def test_quick_budget_reports_an_overflow_as_a_warning(fixture_lectures, tmp_path):
    _add_overflowing_frame(fixture_lectures)
    result = CliRunner().invoke(
        app, ["build", "--lectures", str(fixture_lectures), "--out", str(tmp_path / "b"), "--budget", "quick"]
    )
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "Far Too Much" in result.output


CROWDED = """

def crowded(run):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "first label", ha="center")
    ax.text(0.5, 0.5, "second label", ha="center")
    return fig
"""


def test_colliding_text_in_a_figure_fails_the_build_naming_the_figure(fixture_lectures, tmp_path):
    topic, slides = fixture_lectures / "tiny" / "line.py", fixture_lectures / "tiny" / "line.md"
    topic.write_text(
        topic.read_text()
        .replace(
            'figures=[FigureSpec("loss", "loss_curve")]',
            'figures=[FigureSpec("loss", "loss_curve"), FigureSpec("crowded", "custom", draw=crowded)]',
        )
        .replace("TOPIC = Topic(", CROWDED.strip() + "\n\n\nTOPIC = Topic(")
    )
    slides.write_text(slides.read_text() + '\n![Crowded](crowded){fig-alt="Two labels on top of each other"}\n')
    result = _build(fixture_lectures, tmp_path / "b")
    assert result.exit_code == 1
    assert re.search(
        r"line\.py: figures: 'crowded': text 'first label' collides with 'second label'",
        " ".join(result.output.split()),
    ), result.output


def test_check_names_a_figure_shown_outside_its_slot_and_a_listing_too_wide(fixture_lectures):
    slides = fixture_lectures / "tiny" / "line.md"
    slides.write_text(
        slides.read_text()
        + (
            "\n## Columns\n\n:::: columns\n::: column\n"
            '![Loss](loss){fig-alt="Loss per epoch"}\n:::\n::: column 20%\n'
            "```{listing} Line\n```\n:::\n::::\n"
        )
    )
    result = CliRunner().invoke(app, ["check", "--lectures", str(fixture_lectures)])
    output = " ".join(result.output.split())
    assert result.exit_code == 1
    assert re.search(
        r"figure 'loss' is drawn for the 'full' slot \(398 pt wide\) but shown in a column of 303 pt", output
    ), output
    assert re.search(
        r"listing 'Line': its longest line has \d+ characters, but this column holds \d+ at 8 pt", output
    ), output


def test_check_names_formulas_whose_scripts_would_be_too_small(fixture_lectures):
    slides = fixture_lectures / "tiny" / "line.md"
    slides.write_text(
        slides.read_text()
        + (
            "\n## Scripts\n\n$x_i$ is fine in body text, "
            "$h^{(k)} \\in \\mathbb{R}^{d_k}$ is not.\n\n"
            '![The loss of $x_i$](loss){fig-alt="Loss"}\n'
        )
    )
    result = CliRunner().invoke(app, ["check", "--lectures", str(fixture_lectures)])
    output = " ".join(result.output.split())
    assert result.exit_code == 1
    assert re.search(r"line\.md:\d+: math 'h\^\{\(k\)\} .*' has a script inside a script, set under 8 pt", output)
    assert re.search(r"line\.md:\d+: math 'x_i' has a sub- or superscript in 8-9 pt text", output)
    assert "math 'x_i' has a script inside" not in output


def test_check_names_a_formula_whose_braces_do_not_pair_at_its_line(fixture_lectures):
    """LaTeX would stop at the end of the frame ('File ended while scanning use of \\frame'), far
    from the mistake: check names the Markdown line before anything trains."""
    slides = fixture_lectures / "tiny" / "line.md"
    text = slides.read_text() + (
        "\n## Braces\n\n$$\ny = \\frac{1}{2 \\sum_{k=-K}^{K} w_k\n$$\n\n"
        "Then $y = \\sum_k w_k} x_k$ and $\\left( x$, but $\\{ x \\} \\leftarrow y$ is fine.\n"
    )
    slides.write_text(text)
    lines = text.splitlines()
    result = CliRunner().invoke(app, ["check", "--lectures", str(fixture_lectures)])
    output = " ".join(result.output.split())
    assert result.exit_code == 1
    display, para = lines.index("$$") + 1, next(i for i, t in enumerate(lines) if t.startswith("Then")) + 1
    assert f"line.md:{display}: math 'y = \\frac{{1}}{{2 \\sum_{{k=-K}}^{{K}} w_k' has 1 '{{' never closed" in output
    assert f"line.md:{para}: math 'y = \\sum_k w_k}} x_k' has a '}}' that closes no '{{'; pair it up" in output
    assert f"line.md:{para}: math '\\left( x' has 1 \\left against 0 \\right" in output
    assert "math '\\{ x" not in output and "script inside a script" not in output


def test_check_names_the_line_of_a_figure_declared_but_never_shown(fixture_lectures):
    topic = fixture_lectures / "tiny" / "line.py"
    text = topic.read_text().replace(
        'figures=[FigureSpec("loss", "loss_curve")]',
        'figures=[FigureSpec("loss", "loss_curve"),\n             FigureSpec("fit", "prediction")]',
    )
    topic.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if 'FigureSpec("fit"' in t)
    result = CliRunner().invoke(app, ["check", "--lectures", str(fixture_lectures)])
    assert result.exit_code == 1
    assert f"figure 'fit' is declared in line.py:{line} but never shown; show it with ![caption](fit)" in " ".join(
        result.output.split()
    )
