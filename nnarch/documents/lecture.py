"""A lecture's documents: the deck (LaTeX and HTML), the handouts in two editions, the notebooks and
the report, rendered from the topics' runs and compiled. LaTeX starts on each document as soon as
its .tex is written, so pdflatex (one process, one core) runs while the rest is rendered."""

from __future__ import annotations

import dataclasses
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nnarch import __version__
from nnarch.documents.deck import assemble, render_topic
from nnarch.documents.handout import assemble_handout, provenance
from nnarch.documents.kit import DOWNLOAD, INSTALLED, kit_documents, pins
from nnarch.documents.latex import Compiler, layout_problems
from nnarch.documents.launch import raw_url, setup_cell
from nnarch.documents.notebooks import LAB_MODULE, lab_module, topic_notebook
from nnarch.documents.presenting import pdfpc
from nnarch.documents.render import html_environment, render_html, render_preamble, render_tex
from nnarch.documents.snapshot import dumps, snapshot
from nnarch.errors import LatexError, LayoutError, NnarchError
from nnarch.files import write_atomic
from nnarch.toolchain import package_version

DOCUMENTS = {
    "slides.tex": "slides",
    "slides-notes.tex": "slides-notes",
    "slides-handout.tex": "slides-handout",
    "handout.tex": "handout",
    "handout-instructor.tex": "handout",
}
"""Each LaTeX document of a lecture, and the template its preamble comes from."""

INSTRUCTOR = "instructor"
"""The folder, inside a lecture's, of what is not for students: to publish the course, leave it out."""
FOR_THE_INSTRUCTOR = (
    "slides.tex",  # its \note{...} are the speaker notes
    "slides.pdf",  # the deck as presented, a page per step, beside its slides.pdfpc
    "slides-presenter.html",
    "slides-notes.pdf",
    "slides.pdfpc",
    "handout-instructor.pdf",
    "handout-instructor.html",
)


def prepare_formats(work: Path, compiler: Compiler) -> None:
    """Precompile the documents' preambles in the background while the topics run, so that a first
    build does not make them after its topics (Compiler.prepare_format)."""
    for name in sorted(set(DOCUMENTS.values())):
        compiler.prepare_format(work, name, render_preamble(name))


def unrenderable(course, done: dict, outcomes) -> list[NnarchError]:
    """The errors of topics whose frames cannot be rendered from their run (a value the run does
    not have): each such topic's outcome becomes a failure, so that the rest can still be shown."""
    problems = []
    for outcome in outcomes:
        if outcome.error or outcome.name not in done:
            continue
        try:
            render_topic(done[outcome.name], course)
        except NnarchError as error:
            outcome.status, outcome.error = "failed", error
            problems.append(error)
    return problems


def documents(lecture, course, runs: list, failed: dict, work: Path, compiler: Compiler, lectures: Path, on_html=None):
    """({name: content}, timings, problems): the lecture's documents rendered and compiled, with a
    frame for each failed topic. A document LaTeX cannot make, or a frame that does not fit, is a
    problem. `on_html(deck HTML)` is called as soon as the deck's HTML is rendered."""
    work.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    problems: list[NnarchError] = []
    t0 = time.perf_counter()
    latex = ThreadPoolExecutor(max_workers=3)
    try:
        deck = assemble(lecture, course, runs, targets=("tex",), failed=failed)
        tex = render_tex("slides", deck)
        pending = {}

        def compile_later(name: str, text: str, titles: dict) -> None:
            write_atomic(work / name, text)
            pending[name.replace(".tex", ".pdf")] = latex.submit(
                compiler.compile, work / name, titles, preamble=DOCUMENTS[name]
            )

        compile_later("slides.tex", tex, deck["titles"])
        views = assemble(lecture, course, runs, targets=("html",), failed=failed)
        html = render_html("slides", views, presenter=False)  # the students': no notes, no presenter view
        if on_html:  # before the notes deck's LaTeX takes the other core
            on_html(html)
        presenting = render_html("slides", views, presenter=True)
        compile_later("slides-notes.tex", render_tex("slides", _preamble(deck, "slides-notes")), deck["titles"])
        compile_later("slides-handout.tex", render_tex("slides", _preamble(deck, "slides-handout")), deck["titles"])
        lab = lab_documents(lecture, course, runs, lectures)
        for name in [n for n in lab if n.endswith(".tex")]:
            compile_later(name, lab.pop(name), {})
        timings["render"] = time.perf_counter() - t0
        pdfs = {}
        for name, future in pending.items():
            try:
                pdfs[name] = future.result()
            except LatexError as error:
                if name not in ("slides-notes.pdf", "slides-handout.pdf") or "slides.pdf" in pdfs:  # said once
                    problems.append(error)
    except BaseException as stop:  # Ctrl-C or SIGTERM: stop every latexmk now, not when it ends
        if not isinstance(stop, Exception):  # (a failure of this lecture leaves the next one's LaTeX)
            compiler.stop()
        raise
    finally:
        latex.shutdown(wait=False, cancel_futures=True)
    timings["compile"] = time.perf_counter() - t0 - timings["render"]
    problems += [
        LayoutError(p)
        for name in pdfs
        for p in layout_problems(
            work / name.replace(".pdf", ".tex"), deck["pages"] if name.startswith("slides") else {}
        )
    ]
    files = {
        "slides.tex": tex,
        "slides.pdfpc": pdfpc(deck["tex"]),
        "snapshot.json": dumps(snapshot(lecture, course, runs)),
        "slides.html": html,
        "slides-presenter.html": presenting,
        **lab,
        **pdfs,
        **{
            f"figures/{source.name}": source
            for run in runs
            for figure in run.figures.values()
            for source in figure.paths
        },
    }
    # the solution notebooks need the module they import beside them
    files[f"{INSTRUCTOR}/notebooks/{LAB_MODULE}.py"] = lab[f"notebooks/{LAB_MODULE}.py"]
    return {_published_as(name): content for name, content in files.items()}, timings, problems


def _published_as(name: str) -> str:
    """Where a document goes in the lecture's folder: the instructor's into its own folder, and the
    deck one page per frame as the students' slides.pdf."""
    if name == "slides-handout.pdf":
        return "slides.pdf"
    return f"{INSTRUCTOR}/{name}" if name in FOR_THE_INSTRUCTOR or name.endswith("-solution.ipynb") else name


def _preamble(deck: dict, preamble: str) -> dict:
    """The same frames under another preamble: "slides-notes", the presenter's, with its notes
    beside each slide; "slides-handout", the students', one page per frame."""
    return {**deck, "tex": {**deck["tex"], "preamble": preamble}}


def lab_documents(lecture, course, runs, lectures: Path) -> dict:
    """{name: text}: the handouts in two editions (.tex to compile, .html), the notebooks in two
    versions, and the kit that installs what they need."""
    documents = {}
    devices = sorted({run.manifest["device"] for run in runs}) or ["cpu"]
    prov = provenance(lectures, ", ".join(devices))
    for edition, suffix in (("student", ""), ("instructor", "-instructor")):
        views = assemble_handout(lecture, course, runs, prov, instructor=edition == "instructor")
        documents[f"handout{suffix}.tex"] = render_tex("handout", views)
        documents[f"handout{suffix}.html"] = render_html("handout", views)
    launch, slug = course.launch, lecture.lecture.slug
    setup = setup_cell(pins(), raw_url(launch, slug, f"{LAB_MODULE}.py"))
    for run in runs:
        documents[f"notebooks/{run.name}.ipynb"] = topic_notebook(run, False, setup)
        documents[f"notebooks/{run.name}-solution.ipynb"] = topic_notebook(run, True, setup)
    documents[f"notebooks/{LAB_MODULE}.py"] = lab_module()
    documents[f"{INSTRUCTOR}/index.html"] = (
        html_environment()
        .get_template("instructor.html.j2")
        .render(
            title=lecture.lecture.title,
            slug=slug,
            solutions=[f"{run.name}-solution.ipynb" for run in runs],
            lab_module=LAB_MODULE,
            download=DOWNLOAD,
            installed=INSTALLED,
        )
    )
    documents.update(kit_documents(lecture, [f"{run.name}.ipynb" for run in runs]))
    return documents


def report(lecture, outcomes, done: dict, timings: dict) -> dict:
    """report.json: every topic's status, timings, claims and results; the versions that made them."""
    topics = {}
    for outcome in outcomes:
        entry = {
            "status": outcome.status,
            "seconds": round(outcome.seconds, 3),
            "stages": {k: round(v, 3) for k, v in outcome.stages.items()},
            "file": str(outcome.path.name),
            "claims": [dataclasses.asdict(c) for c in outcome.claims],
        }
        if outcome.error:
            entry["error"] = str(outcome.error)
        if outcome.name in done:
            run = done[outcome.name]
            entry.update(run.results)
            entry["device"] = run.manifest["device"]
            entry["seed"] = run.manifest["recipe"]["seed"]
        topics[outcome.name] = entry
    return {
        "lecture": lecture.lecture.slug,
        "title": lecture.lecture.title,
        "topics": topics,
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "versions": {
            "nnarch": __version__,
            "python": platform.python_version(),
            **{name: package_version(name) for name in ("torch", "torch-geometric")},
        },
    }
