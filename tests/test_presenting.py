"""Presenting the lecture: speaker notes, steps and timing, from the Markdown to both decks, the
presenter's PDF and .pdfpc, the instructor edition, and the HTML presenter window in Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from nnarch.source import markdown as md
from nnarch.source.discover import discover, slot_minutes, timed_frames

from .conftest import FIXTURE, LECTURES, edit
from .test_lecture_pdf import pdf_text

SLIDES = """# Topic

## Steps

::: incremental
- one
- two
- three
:::

. . .

Then this.

::::: columns
:::: column
Left.
::::
:::: column
::: fragment
Right, last.
:::
::::
:::::

```{minutes} 2.5
```

::: notes
Say **this**; ask *that*.
:::
"""


def parse(text: str) -> md.Doc:
    return md.parse(text, Path("topic.md"))


def test_notes_steps_and_minutes_are_read_from_quartos_syntax():
    doc = parse(SLIDES)
    assert doc.problems == ()
    frame = doc.frames[0]
    assert frame.minutes == 2.5
    assert md.plain(frame.notes[0].spans) == "Say this; ask that."
    listing, pause = frame.blocks[0], frame.blocks[1]
    assert isinstance(listing, md.ListBlock) and listing.incremental and isinstance(pause, md.Pause)
    fragment = frame.blocks[3].columns[1][0]
    assert isinstance(fragment, md.Fragment) and md.plain(fragment.blocks[0].spans) == "Right, last."
    braced = parse("# T\n\n## F\n\n::: {.incremental}\n- a\n- b\n:::\n\n::: {.notes}\nN.\n:::\n")
    assert braced.problems == () and braced.frames[0].blocks[0].incremental and braced.frames[0].notes


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("# T\n\n## F\n\nText.\n\n. . .\n", 7, "'. . .' ends the frame"),
        ('# T\n\n## F\n\n::: notes\n![x](loss){fig-alt="y"}\n:::\n', 6, "speaker notes hold text"),
        ("# T\n\n## F\n\n```{minutes} 1\n```\n\n```{minutes} 2\n```\n", 8, "one {minutes} per frame"),
        ("# T\n\n## F\n\n```{minutes} soon\n```\n", 5, "write the minutes as a number"),
        ("# T\n\n## F\n\n::: incremental\nNo list.\n:::\n", 5, "holds one list"),
        ("# T\n\n## F\n\n:::: columns\n::: column\n::: notes\nN.\n:::\n:::\n::::\n", 5, "fewer colons"),
        ("# T\n\n## F\n\nA.\n\n# Lab\n\n::: notes\nN.\n:::\n", 9, "belong to frames, before '# Lab'"),
        ("# T\n\n## F\n\n:::: columns\n::: colum\nA.\n:::\n::::\n", 6, "unknown container '::: colum' (did you"),
        ("# T\n\n## F\n\n::: notes\nN.\n\n## G\n\nB.\n", 5, "'::: notes' is never closed"),
        (
            "# T\n\n## F\n\n::: notes\nN.\n\n:::: columns\n::: column\nA.\n:::\n::::\n",
            8,
            "':::: columns' (or the '::: notes' at line 5 it sits in) is never closed",
        ),
    ],
)
def test_misplaced_presenting_syntax_names_its_line(text, line, words):
    problems = parse(text).problems
    assert problems and problems[0][0] == line and words in problems[0][1], problems


def timed_fixture(tmp_path: Path, slot: str = "09:00–09:10") -> Path:
    lectures = tmp_path / "lectures"
    shutil.copytree(FIXTURE, lectures, ignore=shutil.ignore_patterns("__pycache__"))
    edit(lectures / "course.py", '"09:00"', f'"{slot}"')
    edit(lectures / "tiny" / "__init__.py", 'session="09:00"', f'session="{slot}"')
    return lectures


def check_errors(lectures: Path) -> str:
    return "\n".join(str(e) for lec in discover(lectures).lectures for e in lec.errors)


def test_a_lectures_frames_add_up_to_its_slot_or_check_says_which_to_trim(tmp_path):
    lectures = timed_fixture(tmp_path)
    assert check_errors(lectures) == ""  # no frame declares minutes: the timing is not planned
    edit(
        lectures / "tiny" / "line.md",
        "- {{params.total}} parameters",
        "- {{params.total}} parameters\n\n```{minutes} 6\n```\n",
    )
    errors = check_errors(lectures)
    assert "needs every frame's minutes" in errors and "lecture.md:1 'Welcome'" in errors and "plane.md:" in errors
    edit(
        lectures / "tiny" / "lecture.md",
        "A fixture lecture for the tests.",
        "A fixture lecture.\n\n```{minutes} 3\n```\n",
    )
    plane = lectures / "tiny" / "plane.md"
    plane.write_text(re.sub(r"(## [^\n]*\n)", r"\1\n```{minutes} 4\n```\n", plane.read_text(), count=1))
    errors = check_errors(lectures)
    assert "add up to 13, but the lecture's slot 09:00–09:10 is 10 minutes: trim 3 minutes" in errors
    assert "line.md:3 'Fitting a Line' 6" in errors  # the longest frame first
    edit(lectures / "tiny" / "line.md", "```{minutes} 6", "```{minutes} 1")
    assert "add up to 8, but the lecture's slot 09:00–09:10 is 10 minutes: give 2 more minutes" in check_errors(
        lectures
    )
    edit(lectures / "tiny" / "line.md", "```{minutes} 1", "```{minutes} 2")
    assert "give 1 more minute (the longest" in check_errors(lectures)
    edit(lectures / "tiny" / "line.md", "```{minutes} 2", "```{minutes} 3")
    assert check_errors(lectures) == ""


def test_every_frame_of_the_lecture_has_notes_and_the_timing_fills_the_slot():
    lecture = discover(LECTURES).lectures[0]
    frames = timed_frames(lecture.doc, lecture.topics)
    assert len(frames) >= 30 and lecture.errors == ()
    assert [f.plain_title for _, f in frames if not f.notes] == []
    assert sum(f.minutes for _, f in frames) == slot_minutes(lecture.lecture.session) == 60


def expected_pages(lecture) -> tuple[int, list[int]]:
    """Pages of slides.pdf counted from the Markdown: the title, the outline, a divider per section,
    and per frame 1 + each pause, fragment and further item of an incremental list."""
    steps = []
    for _, frame in timed_frames(lecture.doc, lecture.topics):
        blocks = list(md.walk(frame.blocks))
        extra = sum(isinstance(b, (md.Pause, md.Fragment)) for b in blocks)
        extra += sum(len(b.items) - 1 for b in blocks if isinstance(b, md.ListBlock) and b.incremental)
        steps.append(1 + extra)
    return 2 + len(lecture.topics) + 1 + sum(steps), steps


def pages_of(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))


def page_text(pdf: Path, page: int) -> str:
    return pdf_text_range(pdf, page, page)


def pdf_text_range(pdf: Path, first: int, last: int) -> str:
    cmd = ["pdftotext", "-f", str(first), "-l", str(last), str(pdf), "-"]
    return re.sub(r"\s+", " ", subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def test_the_presented_pdf_has_a_page_per_step_revealed_in_order(lecture_out):
    lecture = discover(LECTURES).lectures[0]
    total, steps = expected_pages(lecture)
    assert sum(s > 1 for s in steps) >= 4  # the FFNN's layers, message passing, the LSTM's gates
    pdf = lecture_out / "instructor" / "slides.pdf"
    assert pages_of(pdf) == total
    text = pdf_text(pdf)
    first = text.index("A directed graph")
    page = text[:first].count("\f") + 1  # the page the FFNN's incremental list starts on
    shown = [page_text(pdf, page + i) for i in range(4)]
    assert "Signals travel" not in shown[0] and "Signals travel" in shown[1] and "No memory" not in shown[1]
    assert "No memory" in shown[2] and "Where they are used" not in shown[2] and "Where they are used" in shown[3]
    assert all("6 / " in s for s in shown)  # one frame: its number stays


def test_the_students_pdf_has_one_page_per_frame_with_every_step_shown(lecture_out):
    """What students download is the deck to read, not to present: no page that only adds a line."""
    lecture = discover(LECTURES).lectures[0]
    total, steps = expected_pages(lecture)
    pdf = lecture_out / "slides.pdf"
    assert pages_of(pdf) == total - sum(steps) + len(steps)
    text = pdf_text(pdf)
    page = text[: text.index("A directed graph")].count("\f") + 1
    shown = page_text(pdf, page)
    assert all(line in shown for line in ("Signals travel", "No memory", "Where they are used"))
    last = pages_of(pdf)
    assert f"{last} / {last}" in page_text(pdf, last)  # as many frames as pages


def test_the_presenters_pdf_and_pdfpc_carry_the_notes(lecture_out):
    instructor = lecture_out / "instructor"  # the notes, beside the presented deck for pdfpc
    notes_pdf, pdfpc = instructor / "slides-notes.pdf", json.loads((instructor / "slides.pdfpc").read_text())
    assert pages_of(notes_pdf) == pages_of(instructor / "slides.pdf") == len(pdfpc["pages"])
    text = pdf_text(notes_pdf)
    assert "two affine maps compose to one affine map" in re.sub(r"\s+", " ", text)
    assert "{{" not in text and "321" in text  # the values in the notes are filled in
    assert pdfpc["pdfpcFormat"] == 2 and pdfpc["duration"] == 60
    pages = pdfpc["pages"]
    assert [p["idx"] for p in pages] == list(range(len(pages)))
    ffnn = [p for p in pages if "two affine maps" in p.get("note", "")]
    assert [p["overlay"] for p in ffnn] == [0, 1, 2, 3] and len({p["label"] for p in ffnn}) == 1
    assert sum(1 for p in pages if p["overlay"] == 0 and p.get("note")) == len(
        timed_frames(discover(LECTURES).lectures[0].doc, discover(LECTURES).lectures[0].topics)
    )
    # each frame's note begins with its pace; the last frame ends with the slot
    paces = [re.match(r"([\d.]+) min, ends at (\d+):(\d\d) of 60:00\n", p["note"]) for p in pages if p.get("note")]
    assert all(paces) and paces[-1].groups()[1:] == ("60", "00")  # type: ignore[union-attr]
    assert "min, ends at 60:00 of 60:00" in re.sub(r"\s+", " ", text)
    notes = " ".join(p.get("note", "") for p in pages)  # pdfpc shows Markdown, not maths: formulas in Unicode
    assert "$" not in notes and "\\pm" not in notes and "±1" in notes


def test_handouts_show_each_figure_once_and_only_the_instructor_edition_the_notes(lecture_out):
    for name in ("handout.html", "instructor/handout-instructor.html"):
        images = re.findall(r'<img src="(data:[^"]+)"', (lecture_out / name).read_text())
        assert len(images) >= 10 and len(images) == len(set(images)), name  # the steps' figures once
        assert 'class="step"' not in (lecture_out / name).read_text()
    student, instructor = (
        (lecture_out / "handout.html").read_text(),
        (lecture_out / "instructor" / "handout-instructor.html").read_text(),
    )
    assert "Presenting the lecture" not in student and "Pitfalls to expect" not in student
    assert "two affine maps compose to one affine map" not in student
    assert "Presenting the lecture" in instructor and "ends at minute" in instructor
    assert instructor.count("Pitfalls to expect") == 4 and "two affine maps compose" in instructor
    assert "Presenting the lecture" in pdf_text(lecture_out / "instructor" / "handout-instructor.pdf")


# --------------------------------------------------------------------------------------------------
# The HTML deck in Chromium: steps, the presenter window, blanking, print, accessibility


def visible_steps(tab) -> list[int]:
    """The steps of the current slide whose elements are shown (each step's elements all or none)."""
    shown, hidden = tab.eval_on_selector_all(
        ".slide:not([hidden]) [data-step]",
        "els => [true, false].map(v => els.filter(e => (getComputedStyle(e).visibility === 'visible') === v)"
        ".map(e => +e.dataset.step))",
    )
    assert not set(shown) & set(hidden)
    return sorted(set(shown))


def test_steps_reveal_in_order_and_the_url_records_slide_and_step(lecture_out):
    from .browser import page

    with page() as (tab, _):
        tab.goto((lecture_out / "slides.html").as_uri() + "#6")
        assert visible_steps(tab) == []  # step 1: only the first item of the incremental list
        seen = []
        for _ in range(3):
            tab.keyboard.press("ArrowRight")
            seen.append(visible_steps(tab))
        assert seen == [[2], [2, 3], [2, 3, 4]] and tab.evaluate("location.hash") == "#6.4"
        assert "3/4" not in tab.inner_text("#counter") and "4/4" in tab.inner_text("#counter")
        tab.keyboard.press("ArrowRight")
        assert tab.evaluate("location.hash") == "#7"  # the next slide, at its first step
        tab.keyboard.press("ArrowLeft")
        assert tab.evaluate("location.hash") == "#6.4"  # back: the previous slide whole
        tab.goto((lecture_out / "slides.html").as_uri() + "#6.2")
        tab.reload()
        assert tab.inner_text("#counter").endswith("2/4") and visible_steps(tab) == [2]


def test_presenter_window_shows_next_slide_notes_and_timer_and_follows_both_ways(lecture_out):
    from axe_playwright_python.sync_playwright import Axe

    from .browser import page

    with page() as (audience, _):
        audience.goto((lecture_out / "instructor" / "slides-presenter.html").as_uri() + "#6")
        with audience.context.expect_page() as opened:
            audience.keyboard.press("p")
        presenter = opened.value
        presenter.wait_for_function("() => document.body.classList.contains('presenter')")
        assert presenter.inner_text("#counter").startswith("6 / ")
        assert "step 2 of 4" in presenter.text_content("#next-label")
        assert "two affine maps compose to one affine map" in presenter.inner_text("#notes")
        assert "of 60 min" in presenter.inner_text("#bar")  # the clock waits for the first move
        assert presenter.inner_text("#elapsed") == "0:00" and "first move" in presenter.inner_text("#pace")

        presenter.keyboard.press("ArrowRight")  # the presenter moves the audience, and the clock starts
        audience.wait_for_function("() => location.hash === '#6.2'")
        presenter.wait_for_function("() => document.getElementById('elapsed').textContent !== '0:00'")
        presenter.wait_for_function("() => document.getElementById('pace').textContent.includes('plan')")
        for _ in range(3):
            audience.keyboard.press("ArrowRight")  # the audience moves the presenter
        presenter.wait_for_function("() => document.getElementById('counter').textContent.startsWith('7 / ')")
        assert "Mathematical Mapping" in presenter.inner_text("#deck .slide:not([hidden]) h2")
        assert "build the map one layer per step" in presenter.inner_text("#notes")

        presenter.keyboard.press("b")  # blank the audience's screen, and show it again
        audience.wait_for_function("() => !document.getElementById('blank').hidden")
        presenter.keyboard.press("b")
        audience.wait_for_function("() => document.getElementById('blank').hidden")
        audience.keyboard.press("b")  # blanked from the audience's window: the presenter knows
        presenter.wait_for_function("() => document.getElementById('blank-state').textContent.includes('blank')")
        presenter.keyboard.press("b")  # and one press shows the screen again
        audience.wait_for_function("() => document.getElementById('blank').hidden")

        audience.reload()  # a reloaded audience window hears from its presenter within a second, and leads it again
        audience.evaluate("addEventListener('message', e => { if (e.data.nnarch === 'hello') window.heard = true; })")
        audience.wait_for_function("() => window.heard === true")
        audience.keyboard.press("ArrowRight")
        there = audience.inner_text("#counter")
        presenter.wait_for_function(f"() => document.getElementById('counter').textContent === {there!r}")

        for tab in (audience, presenter):
            result = Axe().run(tab)
            assert result.violations_count == 0, result.generate_snapshot()


def test_presenter_pace_is_on_plan_within_the_slides_window_and_behind_only_after_it(lecture_out):
    from .browser import page

    with page() as (audience, _):
        audience.context.clock.install(time=0)
        audience.goto((lecture_out / "instructor" / "slides-presenter.html").as_uri() + "#7")
        minutes = audience.eval_on_selector_all(".slide", "els => els.map(e => parseFloat(e.dataset.minutes || 0))")
        start, length = sum(minutes[:6]) * 60, minutes[6] * 60  # slide 7's window in the plan, in seconds
        assert length >= 120
        with audience.context.expect_page() as opened:
            audience.keyboard.press("p")
        presenter = opened.value
        presenter.wait_for_function("() => document.body.classList.contains('presenter')")
        presenter.keyboard.press("ArrowRight")  # the clock starts
        presenter.wait_for_function("() => document.getElementById('pace').textContent.includes('ahead')")
        started = presenter.evaluate("Date.now()")

        def pace_at(seconds: float, says: str) -> str:  # `seconds` after the clock started; its class
            presenter.clock.fast_forward(started + int(seconds * 1000) - presenter.evaluate("Date.now()"))
            presenter.wait_for_function("says => document.getElementById('pace').textContent.endsWith(says)", arg=says)
            return presenter.get_attribute("#pace", "class") or ""

        assert pace_at(start + length / 2, "on plan") == ""  # halfway through its minutes: on time
        assert pace_at(start + length + 90, "1:30 behind") == "behind"


def test_print_shows_every_step_one_slide_per_page(lecture_out, tmp_path):
    from .browser import page

    with page() as (tab, _):
        tab.goto((lecture_out / "instructor" / "slides-presenter.html").as_uri() + "#6")  # notes not printed
        tab.emulate_media(media="print")
        hidden = tab.eval_on_selector_all(
            "[data-step]", "els => els.filter(e => getComputedStyle(e).visibility !== 'visible').length"
        )
        notes = tab.eval_on_selector_all("aside.notes", "els => els.filter(e => e.offsetParent !== null).length")
        slides = tab.eval_on_selector_all(".slide", "els => els.length")
        tab.pdf(path=str(tmp_path / "printed.pdf"), prefer_css_page_size=True)
    assert hidden == 0 and notes == 0
    assert pages_of(tmp_path / "printed.pdf") == slides


def test_on_a_phone_every_slide_is_read_whole(lecture_out):
    from .browser import page

    with page(390, 800) as (tab, _):
        tab.goto((lecture_out / "slides.html").as_uri() + "#6")
        assert visible_steps(tab) == [2, 3, 4] and re.fullmatch(r"6 / \d+", tab.inner_text("#counter"))
        tab.keyboard.press("ArrowRight")
        assert re.fullmatch(r"7 / \d+", tab.inner_text("#counter"))  # the next slide, not a step


def test_the_students_deck_has_no_notes_and_no_presenter_window(lecture_out):
    """slides.html, in the student zip and on the course page, is the presenter's deck without the
    speaker notes (their answers to the room's questions) and without the presenter window."""
    from .browser import page

    students = (lecture_out / "slides.html").read_text()
    presenters = (lecture_out / "instructor" / "slides-presenter.html").read_text()
    assert presenters.count('<aside class="notes"') >= 30 and 'id="present"' in presenters
    assert "<aside" not in students and 'id="present"' not in students and "Presenter view" not in students
    with zipfile.ZipFile(lecture_out.parent / f"{lecture_out.name}-student.zip") as archive:
        assert archive.read(f"{lecture_out.name}/slides.html").decode() == students
        assert not [n for n in archive.namelist() if "presenter" in n]
    with page() as (tab, _):
        tab.goto((lecture_out / "slides.html").as_uri() + "#6")
        pages = len(tab.context.pages)
        tab.keyboard.press("p")  # nothing opens
        tab.keyboard.press("ArrowRight")
        assert tab.evaluate("location.hash") == "#6.2" and len(tab.context.pages) == pages
