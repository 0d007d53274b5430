"""The build, top to bottom: discover → plan → train → measure → draw → render → compile → publish."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .discover import LectureSource, TopicSource, discover
from .errors import NnarchError
from .plan import Plan, make_plan
from .topic import Course


@dataclass(frozen=True)
class Options:
    lectures: Path = Path("lectures")
    out: Path = Path("build")
    device: str = "auto"
    topics: tuple[str, ...] = ()
    fail_fast: bool = False


@dataclass
class TopicOutcome:
    """One row of the summary: what happened to a topic and what it measured."""

    name: str
    path: Path
    status: str = "pending"
    seconds: float = 0.0
    stages: dict = field(default_factory=dict)
    params: int | None = None
    headline: tuple[str, float] | None = None
    claims: tuple = ()
    error: NnarchError | None = None


@dataclass(frozen=True)
class BuildResult:
    outcomes: tuple[TopicOutcome, ...]
    artifacts: tuple[Path, ...]
    errors: tuple[NnarchError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


class Progress:
    """What the build tells its caller while it runs; the CLI draws it, tests ignore it."""

    def topic_started(self, name: str, epochs: int) -> None: ...
    def epoch(self, name: str, epoch: int, loss: float) -> None: ...
    def topic_finished(self, outcome: TopicOutcome) -> None: ...
    def stage(self, text: str) -> None: ...


def build(options: Options, progress: Progress | None = None) -> BuildResult:
    """Build every selected lecture; one failing topic does not stop the others (unless fail_fast)."""
    progress = progress or Progress()
    from .publish import ensure_writable
    ensure_writable(options.out)
    discovered = discover(options.lectures)
    plan = make_plan(discovered, options.topics)
    errors: list[NnarchError] = [e for lec in plan.lectures for e in lec.errors]
    if errors and options.fail_fast:
        return BuildResult((), (), tuple(errors))

    outcomes, done = [], {}
    for source in plan.topics:
        outcome, measured, figures = _build_topic(source, options, progress)
        outcomes.append(outcome)
        progress.topic_finished(outcome)
        if outcome.error:
            errors.append(outcome.error)
            if options.fail_fast:
                return BuildResult(tuple(outcomes), (), tuple(errors))
        else:
            done[source.name] = (source, measured, figures)

    artifacts = []
    for lecture in plan.lectures:
        try:
            artifacts += _publish_lecture(lecture, discovered.course, done, outcomes, options, progress)
        except NnarchError as error:
            errors.append(error)
    return BuildResult(tuple(outcomes), tuple(artifacts), tuple(errors))


def _build_topic(source: TopicSource, options: Options, progress: Progress):
    """Train, measure, check the claims of, and draw one topic; errors end up in the outcome."""
    from .figures import draw_topic
    from .measure import claim_error, lookup, measure
    from .train import train_topic

    outcome = TopicOutcome(source.name, source.path)
    start = time.perf_counter()
    progress.topic_started(source.name, source.topic.recipe.epochs)
    try:
        trained = train_topic(source.topic, source.path, options.device,
                              lambda name, e, loss: progress.epoch(name, e, loss))
        outcome.stages["train"] = trained.seconds
        t0 = time.perf_counter()
        measured = measure(trained)
        outcome.stages["measure"] = time.perf_counter() - t0
        outcome.params = measured.results["params"]["total"]
        outcome.headline = (source.topic.headline, lookup(measured.results, source.topic.headline))
        outcome.claims = measured.claims
        if measured.failed_claims:
            raise claim_error(measured)
        t0 = time.perf_counter()
        figures = draw_topic(measured, _work_dir(options, source) / "figures")
        outcome.stages["draw"] = time.perf_counter() - t0
        outcome.status = "trained"
        return outcome, measured, figures
    except NnarchError as error:
        outcome.status, outcome.error = "failed", error
        return outcome, None, None
    finally:
        outcome.seconds = time.perf_counter() - start


def _work_dir(options: Options, source: TopicSource) -> Path:
    return options.out / ".work" / source.path.parent.name


def _publish_lecture(lecture: LectureSource, course: Course, done: dict, outcomes, options, progress):
    """Render, compile and publish one lecture's deck from the topics that built."""
    from .deck import assemble
    from .latex import compile_pdf
    from .publish import copy_atomic, write_atomic, write_report
    from .render import render_deck

    slug = lecture.lecture.slug
    work = options.out / ".work" / lecture.path.name
    work.mkdir(parents=True, exist_ok=True)
    progress.stage(f"{slug}: rendering")
    timings = {}
    t0 = time.perf_counter()
    built = [done[name] for name in lecture.lecture.topics if name in done]
    deck = assemble(lecture, course, built)
    tex, html = render_deck(deck)
    timings["render"] = time.perf_counter() - t0
    write_atomic(work / "slides.tex", tex)
    progress.stage(f"{slug}: compiling the PDF (latexmk)")
    t0 = time.perf_counter()
    pdf = compile_pdf(work / "slides.tex", deck["titles"])
    timings["compile"] = time.perf_counter() - t0

    target = options.out / slug
    figures = [f for _, _, files in built for f in files.values()]
    published = _publish_figures(figures, target / "figures")
    copy_atomic(pdf, target / "slides.pdf")
    write_atomic(target / "slides.tex", tex)
    write_atomic(target / "slides.html", html)
    names = set(lecture.lecture.topics)
    report = _report(lecture, [o for o in outcomes if o.name in names], done, options, timings)
    write_report(target / "report.json", report)
    return [target / "slides.pdf", target / "slides.tex", target / "slides.html", target / "report.json",
            *published]


def _publish_figures(figures, folder: Path) -> list[Path]:
    """Each figure as PDF and SVG beside the slides (slides.tex refers to them); drop stale ones."""
    from .publish import copy_atomic
    paths = []
    for files in figures:
        for source in (files.pdf, files.svg):
            copy_atomic(source, folder / source.name)
            paths.append(folder / source.name)
    for old in folder.glob("*") if folder.exists() else ():
        if old not in paths:
            old.unlink()
    return paths


def _report(lecture, outcomes, done, options, timings) -> dict:
    import torch
    topics = {}
    for outcome in outcomes:
        entry = {"status": outcome.status, "seconds": round(outcome.seconds, 3),
                 "stages": {k: round(v, 3) for k, v in outcome.stages.items()},
                 "file": str(outcome.path.name),
                 "claims": [{"text": c.text, "measured": c.measured, "bound": c.bound, "ok": c.ok}
                            for c in outcome.claims]}
        if outcome.error:
            entry["error"] = str(outcome.error)
        if outcome.name in done:
            source, measured, _ = done[outcome.name]
            entry.update(measured.results)
            entry["device"] = measured.trained.device
            entry["seed"] = source.topic.recipe.seed
        topics[outcome.name] = entry
    return {"lecture": lecture.lecture.slug, "title": lecture.lecture.title, "topics": topics,
            "timings": {k: round(v, 3) for k, v in timings.items()},
            "versions": {"nnarch": __version__, "python": platform.python_version(),
                         "torch": torch.__version__, "torch_geometric": _pyg_version()}}


def _pyg_version() -> str | None:
    # From the package metadata: importing torch_geometric only to read its version costs seconds.
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("torch-geometric")
    except PackageNotFoundError:
        return None


__all__ = ["build", "Options", "BuildResult", "TopicOutcome", "Progress", "Plan"]
