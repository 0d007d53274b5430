"""The build, top to bottom: discover → plan → train → measure → draw → render → compile → publish."""

from __future__ import annotations

import os
import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from . import __version__
from .cache import Cache, data_files_digest, package_version, training_key
from .errors import LatexError, LayoutError, NnarchError, TopicError, rel
from .latex import require_latexmk
from .toolchain import slide_fonts
from .plan import inputs_digest, make_plan, record_success, up_to_date
from .publish import build_lock, ensure_writable, sweep_temporaries
from .record import FigureFiles, TopicRun, from_json, manifest, record_key, to_json
from .topic import Course
from .values import lookup

if TYPE_CHECKING:
    from .discover import LectureSource, TopicSource


@dataclass(frozen=True)
class Options:
    lectures: Path = Path("lectures")
    out: Path = Path("build")
    device: str = "auto"
    topics: tuple[str, ...] = ()
    fail_fast: bool = False
    budget: str = "full"            # "quick": the topics' quick recipes, claims not enforced
    force: tuple[str, ...] = ()     # topics to retrain even when cached; "all" for every one
    jobs: int = 1                   # processes running topics beside the build; 1: none, 0: one if it pays
    max_train_seconds: float | None = None  # a limit for every topic's training
    scheduler: str | None = None    # a Dask scheduler's address: train there (see cluster.py)
    scheduler_timeout: float = 10.0  # seconds to wait for that scheduler to answer
    on_html: Callable[[Path, str], None] | None = None  # `serve`: (lecture folder, deck HTML) once rendered

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
    previews: tuple[Path, ...] = ()  # what went to build/preview/ instead of a release

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
    inputs = inputs_digest(options)
    unchanged = up_to_date(options, inputs)
    if unchanged is not None:
        return BuildResult((), tuple(unchanged), (), up_to_date=True)
    from .discover import discover
    discovered = discover(options.lectures)
    plan = make_plan(discovered, options.topics, options.force)  # a usage error leaves nothing behind
    _check_environment(options)
    ensure_writable(options.out)
    with build_lock(options.out):
        return _build(options, progress, discovered, plan, inputs)


def _check_environment(options: Options) -> None:
    """What the build needs outside the project, checked once before any topic runs (each missing
    piece is one EnvironmentProblem, exit 3): LaTeX, the figures' fonts, the device asked for."""
    require_latexmk()
    slide_fonts()
    if options.device == "cuda" and not options.scheduler:  # a cluster's workers have their own
        from .train import resolve_device
        resolve_device(options.device)


def _build(options: Options, progress: Progress, discovered, plan, inputs: str) -> BuildResult:
    """The build proper, run while holding the lock on the build folder."""
    sweep_temporaries(options.out)
    errors: list[NnarchError] = [e for lec in plan.lectures for e in lec.errors]
    if errors and options.fail_fast:
        return BuildResult((), (), tuple(errors))

    cache = Cache(options.cache_dir)
    # on a cluster 'auto' means the CPU unless a topic asks for a GPU (see _device): another policy
    keys = {s.name: _record_key(s, options) for s in plan.topics}
    outcomes, done, fresh = [], {}, []
    for source in plan.topics:
        restored = None if _forced(source, options) else _restore(source, cache, keys[source.name], options)
        if restored:
            done[source.name] = restored[1]
            outcomes.append(restored[0])
            progress.topic_finished(restored[0])
        else:
            fresh.append(source)
    _prepare_formats(plan.lectures, options)
    runs = _run_fresh(fresh, options, progress, cache, keys)
    try:
        for outcome, run in runs:
            outcomes.append(outcome)
            progress.topic_finished(outcome)
            if outcome.error:
                errors.append(outcome.error)
                if options.fail_fast:
                    return BuildResult(tuple(outcomes), (), tuple(errors))
            else:
                done[outcome.name] = run
    finally:
        runs.close()  # stops the background process when the loop ends early
    for lecture in plan.lectures:  # a topic whose files do not read is a failed row too
        for name, error in lecture.broken:
            if not options.topics or name in options.topics:
                outcomes.append(TopicOutcome(name, lecture.path / f"{name}.py", "failed", error=error))
    order = [name for lec in plan.lectures for name in lec.lecture.topics]
    outcomes.sort(key=lambda o: order.index(o.name))

    artifacts, previews = [], []
    for lecture in plan.lectures:
        try:
            paths, released, problems = _publish_lecture(lecture, discovered, done, outcomes, options, progress)
        except NnarchError as error:
            errors.append(error)
            continue
        errors += problems
        (artifacts if released else previews).extend(paths)
    if not errors:
        record_success(options, artifacts, inputs)
    return BuildResult(tuple(outcomes), tuple(artifacts), tuple(errors), previews=tuple(previews))


DOCUMENTS = {"slides.tex": "slides", "handout.tex": "handout", "handout-instructor.tex": "handout"}
"""Each LaTeX document of a lecture, and the template its preamble comes from."""


def _prepare_formats(lectures, options: Options) -> None:
    """Precompile the documents' preambles in the background while the topics run, so that a
    first build does not make them after its topics (latex.prepare_format)."""
    from .latex import prepare_format
    from .render import render_preamble
    for lecture in lectures:
        for name in sorted(set(DOCUMENTS.values())):
            prepare_format(_lecture_work(options, lecture), name, render_preamble(name))


def _record_key(source: TopicSource, options: Options) -> str:
    # on a cluster 'auto' means the CPU unless a topic asks for a GPU (see _device): another policy
    device = f"{options.device}@cluster" if options.scheduler else options.device
    return record_key(source, options.lectures, device, options.budget)


def _forced(source: TopicSource, options: Options) -> bool:
    return source.name in options.force or "all" in options.force


def _restore(source: TopicSource, cache: Cache, key: str, options: Options):
    """(outcome, TopicRun) from the topic's record, without importing it; None if there is none."""
    from .publish import copy_atomic
    t0 = time.perf_counter()
    data = cache.load_record(key)
    if data is None:
        return None
    figures = {}
    folder = _work_dir(options, source) / "figures"
    for name, figure in data["figures"].items():
        stem = folder / f"{source.name}-{name}"
        for cached, suffix in zip(cache.figure_paths(figure["key"]), (".pdf", ".svg")):
            copy_atomic(cached, stem.with_suffix(suffix))
        figures[name] = FigureFiles(name, stem.with_suffix(".pdf"), stem.with_suffix(".svg"), figure["size"])
    run = from_json(source, data, figures)
    outcome = TopicOutcome(source.name, source.path, "cached", stages={"load": time.perf_counter() - t0})
    _summarise(outcome, run)
    outcome.seconds = sum(outcome.stages.values())
    return outcome, run


def _summarise(outcome: TopicOutcome, run: TopicRun) -> None:
    outcome.params = run.results["params"]["total"]
    outcome.headline = (run.manifest["headline"], lookup(run.results, run.manifest["headline"]))
    outcome.claims = run.claims


def _run_fresh(fresh: list, options: Options, progress: Progress, cache: Cache, keys: dict):
    """(outcome, run) of each topic its record does not hold, as each finishes. With a background
    process (see _background), a topic runs whole (train, measure, draw, solve) in one process or
    the other: the pool's workers take them from the front, one at a time, and this process takes
    from the back whatever no worker has begun."""
    if not fresh:
        return
    jobs = 0 if options.scheduler else _background(options, fresh)
    if not jobs:
        from .jobs import START_METHOD
        from .preload import preload
        # the imports of a first topic run in this process, made faster; `nnarch build` and a
        # daemon's child start fresh (they fork their workers), anything else may hold garbage
        preload(collect=START_METHOD != "fork")
        with _training_elsewhere(fresh, options, progress) as trained_elsewhere:
            for source in fresh:  # each as soon as its training is done, while the next ones train
                yield run_topic(source, options, progress, trained_elsewhere(source.name), cache,
                                keys[source.name])
        return
    from .jobs import START_METHOD, TopicPool
    pool = TopicPool(jobs, progress)
    try:
        pool.share(replace(options, on_html=None), fresh, keys)  # a callback does not travel
        progress.stage(f"running {len(fresh)} topics here and {pool.where()}")
        for _ in fresh:
            finished = pool.finished(wait=False)
            mine = None if finished or START_METHOD == "fork" else pool.take_last()
            if mine is None and finished is None:
                finished = pool.finished(wait=True)
            if finished:
                mine, future = finished
                result = _from_pool(future, mine) if future else None
                if result:
                    yield result
                    continue
            yield run_topic(mine, options, progress, None, cache, keys[mine.name])
    finally:
        pool.close()


def _from_pool(future, source: TopicSource):
    """A worker's (outcome, run), with this build's source; None to run the topic here instead (the
    worker failed in nnarch rather than in the topic, which is reported from here). A worker that
    died while it ran the topic (os._exit, a signal) is that topic's failure."""
    from concurrent.futures.process import BrokenProcessPool
    try:
        outcome, run = future.result()
    except BrokenProcessPool:
        error = TopicError(f"{rel(source.path)}: the process running this topic ended abruptly (os._exit, a "
                           "signal, or out of memory); a topic must not exit: look for os._exit or kill "
                           "in its code, or lower its memory use")
        return TopicOutcome(source.name, source.path, "failed", error=error), None
    except Exception:  # noqa: BLE001
        return None
    return outcome, (replace(run, source=source) if run else None)


def run_topic(source: TopicSource, options: Options, progress: Progress, elsewhere, cache, key):
    """Import, train (or restore the weights), measure, check, draw and solve one topic.
    `elsewhere` is what training in other processes or on a cluster gave: "trained" (the weights are
    in the cache), the topic's error, or None."""
    from .cache import figure_key
    from .figures import draw_topic
    from .load import load_topic
    from .measure import claim_error, measure

    outcome = TopicOutcome(source.name, source.path)
    try:
        if isinstance(elsewhere, NnarchError):
            raise elsewhere
        t0 = time.perf_counter()
        topic, module = load_topic(source)
        _one_thread()
        outcome.stages["import"] = time.perf_counter() - t0
        progress.topic_started(source.name, topic.recipe_for(options.budget).epochs)
        t0 = time.perf_counter()
        trained, outcome.status, train_key = _train_or_restore(source, topic, options, progress,
                                                               elsewhere == "trained")
        outcome.stages["train"] = trained.seconds if outcome.status == "trained" else 0.0
        outcome.stages["load"] = time.perf_counter() - t0 - (0.0 if elsewhere else outcome.stages["train"])
        t0 = time.perf_counter()
        measured = measure(trained)
        measured.results["answers"] = solve_exercises(source, module, measured.run)
        outcome.stages["measure"] = time.perf_counter() - t0
        if measured.failed_claims and options.budget == "full":
            outcome.claims = measured.claims
            raise claim_error(measured)
        t0 = time.perf_counter()
        figures = draw_topic(measured, _work_dir(options, source) / "figures", cache, train_key)
        outcome.stages["draw"] = time.perf_counter() - t0
        run = TopicRun(source, measured.results, measured.claims, figures, manifest(topic, trained))
        if _record_key(source, options) == key:  # else a file was saved while it ran: run it again next time
            cache.store_record(key, to_json(run, {s.name: figure_key(train_key, s) for s in topic.figures}))
        _summarise(outcome, run)
        return outcome, run
    except NnarchError as error:
        outcome.status, outcome.error = "failed", error
        return outcome, None
    finally:
        outcome.seconds = sum(outcome.stages.values())


def _one_thread() -> None:
    """Every torch computation of the build on one thread, not only training: measuring, shape
    tracing and the exercises' solutions too. More threads buy these small models little, and a
    second build or a parallel job on the same cores would only wait for them."""
    import torch

    from .train import TRAIN_THREADS
    if torch.get_num_threads() != TRAIN_THREADS:
        torch.set_num_threads(TRAIN_THREADS)


def solve_exercises(source: TopicSource, module, run) -> dict:
    """Each exercise's solution run on the trained model, checked by its own check: the answers."""
    from .usercode import call
    answers = {}
    for exercise in source.doc.exercises:
        what = f"exercise '{exercise.title}': {exercise.solution}"
        answer = call(getattr(module, exercise.solution), run, where=source.path, what=what)
        if exercise.check:
            call(getattr(module, exercise.check), answer, run, where=source.path,
                 what=f"{what}: its check rejects the solution", fix="fix the solution or the check")
        answers[exercise.solution] = _plain(answer)
    return answers


def _plain(value):
    """An answer as JSON: tensors and arrays as numbers or lists, tuples as lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def _background(options: Options, fresh: list) -> int:
    """How many processes run topics beside the build: --jobs N, or with --jobs 0 (the command
    line's default) one when two or more topics must run and there is a second core."""
    if options.jobs:
        return options.jobs if options.jobs > 1 else 0
    from .jobs import START_METHOD
    if START_METHOD == "fork":  # `nnarch build`: every topic in a worker, so none can end the build
        return min(len(fresh), os.cpu_count() or 1)
    return 1 if len(fresh) >= 2 and (os.cpu_count() or 1) >= 2 else 0


@contextmanager
def _training_elsewhere(sources, options: Options, progress: Progress):
    """Train the topics that miss the cache on the Dask cluster, while this process measures and
    draws them in order. Yields wait(name): "trained" once the topic's weights are in the cache,
    the topic's error, or None for a topic to train (or restore) here."""
    if not sources or not options.scheduler:
        yield lambda name: None
        return
    from .cluster import ClusterTrainer
    from .load import load_topic
    trainer = ClusterTrainer(options.scheduler, options.scheduler_timeout, progress)
    try:
        cache = Cache(options.cache_dir)
        errors, keys, submitted = {}, {}, {}
        for source in sources:
            try:
                topic = load_topic(source)[0]
            except NnarchError as error:
                errors[source.name] = error
                continue
            # now: loading the next topic of the lecture drops this one's helper modules
            keys[source.name] = _training_key(source, topic, options)
            if _forced(source, options) or not cache.has_fit(keys[source.name]):
                submitted[source.name] = trainer.submit(
                    options.lectures, source.path.parent.name, source.name, _device(topic, options),
                    options.budget, options.max_train_seconds, _resources(topic, options))
        if submitted:
            progress.stage(f"training {len(submitted)} topic(s) {trainer.where()}")

        def wait(name: str):
            if name in errors:
                return errors[name]
            if name not in submitted:
                return None
            try:
                result = trainer.result(submitted[name])
            except NnarchError as error:
                return error
            except Exception:  # anything else is retried here, where it is reported with its file
                return None
            cache.store_fit(keys[name], *result)
            return "trained"
        yield wait
    finally:
        trainer.close()


def _resources(topic, options: Options) -> dict:
    return dict(topic.recipe_for(options.budget).resources or {})


def _device(topic, options: Options) -> str:
    """The device a topic trains on. On a cluster, 'auto' means a GPU only for a topic whose recipe
    asks for one (and so runs on a GPU worker): a CPU topic must give the local build's weights."""
    if options.scheduler:
        if options.device != "auto":
            return options.device
        return "cuda" if _resources(topic, options).get("GPU") else "cpu"
    from .train import resolve_device
    return resolve_device(options.device).type


def _training_key(source: TopicSource, topic, options: Options) -> str:
    return training_key(topic, _device(topic, options), options.budget, data_files_digest(source.path.parent))


def _train_or_restore(source: TopicSource, topic, options: Options, progress: Progress,
                      trained_elsewhere: bool = False):
    """(Trained, "trained" or "cached", cache key): from the cache unless the key changed or forced
    (or it was just put there by training elsewhere)."""
    from .train import checkpoint, restore_topic, train_topic

    cache = Cache(options.cache_dir)
    key = _training_key(source, topic, options)
    loaded = None if _forced(source, options) and not trained_elsewhere else cache.load_fit(key)
    if loaded:
        try:
            status = "trained" if trained_elsewhere else "cached"
            return restore_topic(topic, source.path, *loaded, options.budget), status, key
        except NnarchError:
            raise  # the topic's own code failed: say so
        except Exception:  # an entry whose checksum holds but whose content does not fit: retrain
            cache.drop_fit(key)
    trained = train_topic(topic, source.path, options.device,
                          lambda name, e, loss: progress.epoch(name, e, loss), options.budget,
                          options.max_train_seconds)
    cache.store_fit(key, *checkpoint(trained))
    return trained, "trained", key


def _work_dir(options: Options, source: TopicSource) -> Path:
    return options.out / ".work" / source.path.parent.name


def _lecture_work(options: Options, lecture: LectureSource) -> Path:
    return options.out / ".work" / lecture.path.name


def _publish_lecture(lecture: LectureSource, discovered, done: dict, outcomes, options, progress):
    """Render, compile and publish one lecture: (files, released, problems). Its deck, handouts,
    notebooks, student zip and the course page are released together, and only when every topic and
    frame of it is fine; otherwise what did build goes to build/preview/ with a frame for each
    failed topic, and the last release stays as it was."""
    from .publish import stage_file, stage_folder, switch
    from .site import course_page, student_zip

    slug, names = lecture.lecture.slug, set(lecture.lecture.topics)
    problems = _unrenderable(discovered.course, done, [o for o in outcomes if o.name in names])
    failed = {o.name: o.error for o in outcomes if o.error and o.name in names}
    runs = {name: run for name, run in done.items() if name not in failed}
    files, timings, more = _documents(lecture, discovered.course, runs, failed, options, progress)
    problems += more
    if options.budget != "full":  # a quick build reports the frames that do not fit as warnings
        for problem in [p for p in problems if isinstance(p, LayoutError)]:
            progress.stage(f"warning: {problem}")
        problems = [p for p in problems if not isinstance(p, LayoutError)]
    # lecture.errors: its own Markdown, the schedule, the lab plan, and topics that do not read
    release = not (options.topics or failed or lecture.errors or problems)
    report = _report(lecture, [o for o in outcomes if o.name in names], done, timings)
    name = slug if release else f"preview/{slug}"
    staged, kept = stage_folder(name, files, report, options.out)
    if kept:
        progress.stage(f"{slug}: kept {len(kept)} file(s) nnarch did not make: {', '.join(kept[:5])}"
                       + (" …" if len(kept) > 5 else ""))
    published = sorted(options.out / name / f for f in [*files, "report.json"])
    if not release:
        switch(options.out, [name])
        return published, False, problems
    stage_file(f"{slug}-student.zip", student_zip(staged, slug), options.out)
    lectures = [lec.lecture for lec in discovered.lectures]
    folders = {lec.slug: options.out / lec.slug for lec in lectures if (options.out / lec.slug / "slides.pdf").exists()}
    stage_file("index.html", course_page(discovered.course, lectures, {**folders, slug: staged}), options.out)
    switch(options.out, [slug, f"{slug}-student.zip", "index.html"])
    return [*published, options.out / f"{slug}-student.zip", options.out / "index.html"], True, problems


def _unrenderable(course, done: dict, outcomes) -> list[NnarchError]:
    """The errors of topics whose frames cannot be rendered from their run (a value the run does
    not have): each such topic's outcome becomes a failure, so that the rest can still be shown."""
    from .deck import render_topic
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


def _documents(lecture, course, done: dict, failed: dict, options, progress):
    """({name: content}, timings, problems): the lecture's documents rendered and compiled, with a
    frame for each failed topic. Each document's LaTeX starts as soon as its .tex is written, so
    pdflatex (one process, one core) runs while the HTML, the handouts and the notebooks are
    rendered. A document LaTeX cannot make, or a frame that does not fit, is a problem."""
    from concurrent.futures import ThreadPoolExecutor

    from .deck import assemble
    from .latex import compile_pdf, layout_problems, stop_all
    from .publish import write_atomic
    from .render import render_html, render_tex

    slug = lecture.lecture.slug
    work = _lecture_work(options, lecture)
    work.mkdir(parents=True, exist_ok=True)
    progress.stage(f"{slug}: rendering and compiling (latexmk)")
    timings, problems = {}, []
    t0 = time.perf_counter()
    runs = [done[name] for name in lecture.lecture.topics if name in done]
    latex = ThreadPoolExecutor(max_workers=3)
    try:
        deck = assemble(lecture, course, runs, targets=("tex",), failed=failed)
        tex = render_tex("slides", deck)
        write_atomic(work / "slides.tex", tex)
        pending = {"slides.pdf": latex.submit(compile_pdf, work / "slides.tex", deck["titles"],
                                              preamble=DOCUMENTS["slides.tex"])}
        html = render_html("slides", assemble(lecture, course, runs, targets=("html",), failed=failed))
        if options.on_html:
            target = options.out / ("preview/" if options.topics else "") / slug
            options.on_html(target, html)
        lab = _lab_documents(lecture, course, runs, work, options)
        for name in [n for n in lab if n.endswith(".tex")]:
            write_atomic(work / name, lab.pop(name))
            pending[name.replace(".tex", ".pdf")] = latex.submit(compile_pdf, work / name, {},
                                                                 preamble=DOCUMENTS[name])
        timings["render"] = time.perf_counter() - t0
        pdfs = {}
        for name, future in pending.items():
            try:
                pdfs[name] = future.result()
            except LatexError as error:
                problems.append(error)
    except BaseException:  # a failure, Ctrl-C or SIGTERM: stop every latexmk now, not when it ends
        stop_all()
        raise
    finally:
        latex.shutdown(wait=False, cancel_futures=True)
    timings["compile"] = time.perf_counter() - t0 - timings["render"]
    problems += [LayoutError(p) for name in pdfs
                 for p in layout_problems(work / name.replace(".pdf", ".tex"),
                                          deck["pages"] if name == "slides.pdf" else {})]
    files = {"slides.tex": tex, "slides.html": html, **lab, **pdfs,
             **{f"figures/{source.name}": source for run in runs for figure in run.figures.values()
                for source in (figure.pdf, figure.svg)}}
    return files, timings, problems


def _lab_documents(lecture, course, runs, work: Path, options) -> dict:
    """{name: text}: the handouts in two editions (.tex to compile, .html) and the notebooks in two
    versions."""
    from .handout import assemble_handout, provenance
    from .notebooks import topic_notebook
    from .render import render_html, render_tex

    documents = {}
    devices = sorted({run.manifest["device"] for run in runs}) or ["cpu"]
    prov = provenance(options.lectures, ", ".join(devices))
    for edition, suffix in (("student", ""), ("instructor", "-instructor")):
        views = assemble_handout(lecture, course, runs, prov, instructor=edition == "instructor")
        documents[f"handout{suffix}.tex"] = render_tex("handout", views)
        documents[f"handout{suffix}.html"] = render_html("handout", views)
    for run in runs:
        documents[f"notebooks/{run.name}.ipynb"] = topic_notebook(run, False)
        documents[f"notebooks/{run.name}-solution.ipynb"] = topic_notebook(run, True)
    return documents


def _report(lecture, outcomes, done, timings) -> dict:
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
            run = done[outcome.name]
            entry.update(run.results)
            entry["device"] = run.manifest["device"]
            entry["seed"] = run.manifest["recipe"]["seed"]
        topics[outcome.name] = entry
    return {"lecture": lecture.lecture.slug, "title": lecture.lecture.title, "topics": topics,
            "timings": {k: round(v, 3) for k, v in timings.items()},
            "versions": {"nnarch": __version__, "python": platform.python_version(),
                         **{name: package_version(name) for name in ("torch", "torch-geometric")}}}


__all__ = ["build", "Options", "BuildResult", "TopicOutcome", "Progress"]
