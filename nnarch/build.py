"""The build, top to bottom: discover → plan → train → measure → draw → render → compile → publish."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .discover import LectureSource, TopicSource, discover
from .cache import Cache, training_key
from .errors import NnarchError
from .latex import require_latexmk
from .plan import Plan, make_plan, record_success, up_to_date
from .publish import build_lock, ensure_writable, sweep_temporaries
from .topic import Course


@dataclass(frozen=True)
class Options:
    lectures: Path = Path("lectures")
    out: Path = Path("build")
    device: str = "auto"
    topics: tuple[str, ...] = ()
    fail_fast: bool = False
    budget: str = "full"            # "quick": the topics' quick recipes, claims not enforced
    force: tuple[str, ...] = ()     # topics to retrain even when cached; "all" for every one
    jobs: int = 1                   # topics trained in parallel processes

    @property
    def cache_dir(self) -> Path:
        return self.out / ".cache"


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
    up_to_date: bool = False

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
    unchanged = up_to_date(options)
    if unchanged is not None:
        return BuildResult((), tuple(unchanged), (), up_to_date=True)
    ensure_writable(options.out)
    require_latexmk()  # before minutes of training, not after
    with build_lock(options.out):
        return _build(options, progress)


def _build(options: Options, progress: Progress) -> BuildResult:
    """The build proper, run while holding the lock on the build folder."""
    sweep_temporaries(options.out)
    discovered = discover(options.lectures)
    plan = make_plan(discovered, options.topics)
    errors: list[NnarchError] = [e for lec in plan.lectures for e in lec.errors]
    if errors and options.fail_fast:
        return BuildResult((), (), tuple(errors))

    outcomes, done = [], {}
    pretrained = _train_parallel(plan.topics, options, progress) if options.jobs > 1 else {}
    for source in plan.topics:
        outcome, measured, figures = _build_topic(source, options, progress, pretrained.get(source.name))
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
    from .site import write_course_page
    lectures = [lec.lecture for lec in discovered.lectures]
    artifacts += write_course_page(options.out, discovered.course, lectures)
    if not errors:
        record_success(options, artifacts)
    return BuildResult(tuple(outcomes), tuple(artifacts), tuple(errors))


def _build_topic(source: TopicSource, options: Options, progress: Progress, pretrained=None):
    """Train (or restore), measure, check the claims of, and draw one topic."""
    from .figures import draw_topic
    from .measure import claim_error, lookup, measure

    outcome = TopicOutcome(source.name, source.path)
    progress.topic_started(source.name, source.topic.recipe_for(options.budget).epochs)
    try:
        if isinstance(pretrained, NnarchError):
            raise pretrained
        t0 = time.perf_counter()
        trained, outcome.status, key = pretrained or _train_or_restore(source, options, progress)
        outcome.stages["train"] = trained.seconds if outcome.status == "trained" else 0.0
        outcome.stages["load"] = time.perf_counter() - t0 - (0.0 if pretrained else outcome.stages["train"])
        t0 = time.perf_counter()
        measured = measure(trained)
        outcome.stages["measure"] = time.perf_counter() - t0
        outcome.params = measured.results["params"]["total"]
        outcome.headline = (source.topic.headline, lookup(measured.results, source.topic.headline))
        outcome.claims = measured.claims
        if measured.failed_claims and options.budget == "full":
            raise claim_error(measured)
        t0 = time.perf_counter()
        figures = draw_topic(measured, _work_dir(options, source) / "figures",
                             Cache(options.cache_dir), key)
        outcome.stages["draw"] = time.perf_counter() - t0
        return outcome, measured, figures
    except NnarchError as error:
        outcome.status, outcome.error = "failed", error
        return outcome, None, None
    finally:
        outcome.seconds = sum(outcome.stages.values())


def _train_parallel(sources, options: Options, progress: Progress) -> dict:
    """Train the topics that miss the cache in `options.jobs` processes; {name: (Trained, ...)}."""
    from .jobs import train_in_parallel
    from .train import resolve_device, restore_topic

    cache, device = Cache(options.cache_dir), resolve_device(options.device).type
    keys = {s.name: training_key(s.topic, device, options.budget) for s in sources}
    forced = {s.name for s in sources if s.name in options.force or "all" in options.force}
    missing = [s for s in sources if s.name in forced or not cache.has_fit(keys[s.name])]
    progress.stage(f"training {len(missing)} topic(s) in {options.jobs} processes")
    results = train_in_parallel([(options.lectures, s.path.parent.name, s.name, options.device,
                                  options.budget) for s in missing], options.jobs,
                                lambda name: progress.stage(f"{name}: trained"))
    pretrained = {}
    for source in missing:
        result = results[source.name]
        if isinstance(result, NnarchError):
            pretrained[source.name] = result
        elif isinstance(result, Exception):
            continue  # anything else is retried in-process, where it is reported with the topic's file
        else:
            cache.store_fit(keys[source.name], *result)
            trained = restore_topic(source.topic, source.path, *result, options.budget)
            pretrained[source.name] = (trained, "trained", keys[source.name])
    return pretrained


def _train_or_restore(source: TopicSource, options: Options, progress: Progress):
    """(Trained, "trained" or "cached", cache key): from the cache unless the key changed or forced."""
    from .train import checkpoint, resolve_device, restore_topic, train_topic

    cache = Cache(options.cache_dir)
    key = training_key(source.topic, resolve_device(options.device).type, options.budget)
    forced = source.name in options.force or "all" in options.force
    loaded = None if forced else cache.load_fit(key)
    if loaded:
        return restore_topic(source.topic, source.path, *loaded, options.budget), "cached", key
    trained = train_topic(source.topic, source.path, options.device,
                          lambda name, e, loss: progress.epoch(name, e, loss), options.budget)
    cache.store_fit(key, *checkpoint(trained))
    return trained, "trained", key


def _work_dir(options: Options, source: TopicSource) -> Path:
    return options.out / ".work" / source.path.parent.name


def _publish_lecture(lecture: LectureSource, course: Course, done: dict, outcomes, options, progress):
    """Render, compile and publish one lecture's deck, lab handouts and notebooks."""
    from .deck import assemble
    from .latex import compile_many
    from .publish import copy_atomic, write_atomic, write_report
    from .render import render_pair

    slug = lecture.lecture.slug
    work = options.out / ".work" / lecture.path.name
    work.mkdir(parents=True, exist_ok=True)
    progress.stage(f"{slug}: rendering")
    timings = {}
    t0 = time.perf_counter()
    built = [done[name] for name in lecture.lecture.topics if name in done]
    deck = assemble(lecture, course, built)
    tex, html = render_pair("slides", deck)
    write_atomic(work / "slides.tex", tex)
    lab, handouts = _lab_documents(lecture, course, built, work, options)
    timings["render"] = time.perf_counter() - t0
    progress.stage(f"{slug}: compiling the slides and handouts (latexmk)")
    t0 = time.perf_counter()
    pdfs = compile_many({work / "slides.tex": deck["titles"], **{work / h: {} for h in handouts}})
    timings["compile"] = time.perf_counter() - t0
    lab.update({h.replace(".tex", ".pdf"): pdfs[work / h] for h in handouts})

    target = options.out / slug
    figures = [f for _, _, files in built for f in files.values()]
    published = _publish_figures(figures, target / "figures")
    copy_atomic(pdfs[work / "slides.tex"], target / "slides.pdf")
    write_atomic(target / "slides.tex", tex)
    write_atomic(target / "slides.html", html)
    for name, content in lab.items():
        if isinstance(content, Path):
            copy_atomic(content, target / name)
        else:
            write_atomic(target / name, content)
    names = set(lecture.lecture.topics)
    report = _report(lecture, [o for o in outcomes if o.name in names], done, options, timings)
    write_report(target / "report.json", report)
    return [target / "slides.pdf", target / "slides.tex", target / "slides.html", target / "report.json",
            *(target / name for name in lab), *published]


def _lab_documents(lecture, course, built, work: Path, options) -> tuple[dict, list[str]]:
    """({published name: text}, handout .tex files to compile): handouts in two editions, notebooks
    in two versions."""
    from .handout import assemble_handout, provenance
    from .notebooks import topic_notebook
    from .publish import write_atomic
    from .render import render_pair

    documents, handouts = {}, []
    devices = sorted({measured.trained.device for _, measured, _ in built}) or ["cpu"]
    prov = provenance(options.lectures, ", ".join(devices))
    for edition, suffix in (("student", ""), ("instructor", "-instructor")):
        tex, html = render_pair("handout", assemble_handout(lecture, course, built, prov,
                                                            instructor=edition == "instructor"))
        write_atomic(work / f"handout{suffix}.tex", tex)
        handouts.append(f"handout{suffix}.tex")
        documents[f"handout{suffix}.html"] = html
    for source, measured, _ in built:
        documents[f"notebooks/{source.name}.ipynb"] = topic_notebook(source, measured.results, False)
        documents[f"notebooks/{source.name}-solution.ipynb"] = topic_notebook(source, measured.results, True)
    return documents, handouts


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
            entry["seed"] = measured.trained.recipe.seed
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
