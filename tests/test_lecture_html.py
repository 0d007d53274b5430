"""The HTML deck in real headless Chromium: it shows something, navigates, and stays offline."""

from __future__ import annotations

import io
import re
import subprocess
import zlib

from PIL import Image, ImageStat

from .browser import page


def test_first_slide_is_not_blank(lecture_out):
    with page() as (tab, _):
        tab.goto((lecture_out / "slides.html").as_uri())
        shot = Image.open(io.BytesIO(tab.screenshot())).convert("L")
    assert ImageStat.Stat(shot).stddev[0] > 10  # a blank page has (almost) no contrast
    assert len(shot.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 20


def test_arrow_keys_reach_the_last_slide_and_stop_there(lecture_out):
    with page() as (tab, _):
        tab.goto((lecture_out / "slides.html").as_uri())
        first, total = map(int, re.match(r"(\d+) / (\d+)", tab.inner_text("#counter")).groups())
        assert first == 1 and total > 6
        shown = []
        while not tab.inner_text("#counter").startswith(f"{total} / "):  # a slide with steps takes several
            tab.keyboard.press("ArrowRight")
            shown.append(tab.evaluate("() => document.querySelector('.slide:not([hidden])').id"))
            assert len(shown) < 10 * total
        for _ in range(2):  # two presses past the end must not move further
            tab.keyboard.press("ArrowRight")
            shown.append(tab.evaluate("() => document.querySelector('.slide:not([hidden])').id"))
        assert tab.inner_text("#counter") == f"{total} / {total}"
        assert tab.inner_text(".slide:not([hidden]) h2") == "Neural Network Architectures — Chapter Summary"
        distinct = [s for i, s in enumerate(shown) if i == 0 or s != shown[i - 1]]
        assert distinct == [f"slide-{n}" for n in range(2, total + 1)]  # each shown, in order
        assert shown[-3:] == [f"slide-{total}"] * 3
        tab.keyboard.press("ArrowLeft")
        assert tab.inner_text("#counter") == f"{total - 1} / {total}"


def test_the_controls_fade_while_the_pointer_rests_and_return_when_it_moves(lecture_out):
    """On the projected screen the bar (arrows, counter, presenter button) is not part of the slide:
    it fades once the pointer rests, and a move of the mouse brings it back."""
    with page() as (tab, _):
        tab.goto((lecture_out / "slides.html").as_uri())
        opacity = "() => getComputedStyle(document.querySelector('nav')).opacity"
        assert tab.evaluate(opacity) == "1"
        tab.wait_for_function("() => document.body.classList.contains('idle')")
        tab.wait_for_function(f"() => ({opacity})() === '0'")
        tab.mouse.move(200, 200)
        tab.wait_for_function(f"() => ({opacity})() === '1'")
        tab.keyboard.press("ArrowRight")  # the keys keep working while it is hidden
        assert tab.inner_text("#counter").startswith("2 / ")


def test_html_is_self_contained_and_accessible(lecture_out):
    html = (lecture_out / "slides.html").read_text()
    assert 'role="application"' not in html
    assert "<math" in html  # display math rendered to MathML, no script needed
    with page() as (tab, requests):
        tab.goto((lecture_out / "slides.html").as_uri())
        tab.wait_for_load_state("networkidle")
        images = tab.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.src.slice(0, 26)])")
    assert [r for r in requests if not r.startswith(("file:", "data:"))] == []
    assert images and all(alt.strip() and src.startswith("data:image/svg+xml") for alt, src in images)


def test_print_stylesheet_puts_one_slide_per_page(lecture_out, tmp_path):
    with page() as (tab, _):
        tab.goto((lecture_out / "slides.html").as_uri())
        tab.emulate_media(media="print")
        visible = tab.eval_on_selector_all(
            ".slide", "els => els.filter(e => getComputedStyle(e).display !== 'none').length"
        )
        slides = tab.eval_on_selector_all(".slide", "els => els.length")
        tab.pdf(path=str(tmp_path / "printed.pdf"), prefer_css_page_size=True)
    info = subprocess.run(["pdfinfo", str(tmp_path / "printed.pdf")], check=True, capture_output=True, text=True).stdout
    assert visible == slides
    assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) == slides


def test_every_figure_in_the_html_deck_is_laid_out_as_in_the_pdf(lecture_out):
    """A figure is laid out once and saved as PDF (slides) and SVG (HTML deck): the two must show
    the same panels in the same places, whatever matplotlib's savefig does to the layout."""
    compared = 0
    for pdf in sorted((lecture_out / "figures").glob("*.pdf")):
        svg = pdf.with_suffix(".svg").read_text()
        height = float(re.search(r'<svg[^>]* height="([\d.]+)pt"', svg).group(1))
        in_svg = {
            (round(float(x), 3), round(height - float(y) - float(h), 3), round(float(w), 3), round(float(h), 3))
            for x, y, w, h in re.findall(
                r'<clipPath id="[^"]+">\s*<rect x="([\d.-]+)" y="([\d.-]+)" '
                r'width="([\d.]+)" height="([\d.]+)"',
                svg,
            )
        }
        # each stream up to "endstream": the decompressor stops at the end of its data, whatever follows
        content = b"".join(
            zlib.decompressobj().decompress(stream)
            for stream in re.findall(rb"/FlateDecode.*?stream\r?\n(.*?)endstream", pdf.read_bytes(), re.S)
        )
        in_pdf = {
            tuple(round(float(v), 3) for v in box)
            for box in re.findall(rb"([\d.-]+) ([\d.-]+) ([\d.]+) ([\d.]+) re W n", content)
        }
        assert len(in_svg) == len(in_pdf) and all(
            max(abs(a - b) for a, b in zip(s, p)) < 0.01 for s, p in zip(sorted(in_svg), sorted(in_pdf))
        ), f"{pdf.name}: panels in the SVG {sorted(in_svg)}, in the PDF {sorted(in_pdf)}"
        compared += bool(in_pdf)
    assert compared >= 10
