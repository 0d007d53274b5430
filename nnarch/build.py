"""The build, top to bottom: discover → plan → run → documents → publish.

Each stage is a package of its own (docs/architecture.md); this module calls them in order and
decides what is released: a lecture is published whole, or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nnarch.errors import NnarchError
from nnarch.options import Options
from nnarch.plan import check_environment, inputs_digest, make_plan, record_success, up_to_date
from nnarch.publish.staging import build_lock, ensure_writable, sweep_temporaries
from nnarch.run.outcome import Progress, TopicOutcome

# Each stage is imported where it runs: a no-op build (decided from file hashes) imports none, nor torch.


@dataclass(frozen=True)
class BuildResult:
    outcomes: tuple[TopicOutcome, ...]
    artifacts: tuple[Path, ...]
    errors: tuple[NnarchError, ...]
    up_to_date: bool = False
    previews: tuple[Path, ...] = ()  # what went to build/preview/ instead of a release
    unchanged: tuple[Path, ...] = ()  # of both: the files published again byte for byte

    @property
    def ok(self) -> bool:
        return not self.errors


def build(options: Options, progress: Progress | None = None) -> BuildResult:
    """Build every selected lecture; one failing topic does not stop the others (unless fail_fast)."""
    progress = progress or Progress()
    inputs = inputs_digest(options)
    unchanged = up_to_date(options, inputs)
    if unchanged is not None:
        return BuildResult((), tuple(unchanged), (), up_to_date=True)
    from nnarch.documents.latex import Compiler
    from nnarch.source.discover import discover

    discovered = discover(options.lectures)
    plan = make_plan(discovered, options.topics, options.force)  # a usage error leaves nothing behind
    check_environment(options)
    ensure_writable(options.out)
    with build_lock(options.out):
        sweep_temporaries(options.out)
        compiler = Compiler()
        try:
            return _build(options, progress, discovered, plan, inputs, compiler)
        except BaseException:  # Ctrl-C, SIGTERM or a bug: no LaTeX goes on after the build
            compiler.stop()
            raise


def _build(options: Options, progress: Progress, discovered, plan, inputs: str, compiler) -> BuildResult:
    from nnarch.documents import lecture as documents

    errors: list[NnarchError] = [e for lec in plan.lectures for e in lec.errors]
    if errors and options.fail_fast:
        return BuildResult((), (), tuple(errors))
    for lecture in plan.lectures:  # the documents' preambles are precompiled while the topics run
        documents.prepare_formats(options.work_dir(lecture.path), compiler)
    outcomes, done = _run(options, progress, plan)
    errors += [o.error for o in outcomes if o.error]
    if errors and options.fail_fast:
        return BuildResult(tuple(outcomes), (), tuple(errors))
    for lecture in plan.lectures:  # a topic whose files do not read is a failed row too
        outcomes += [
            TopicOutcome(name, lecture.path / f"{name}.py", "failed", error=error)
            for name, error in lecture.broken
            if not options.topics or name in options.topics
        ]
    order = [name for lec in plan.lectures for name in lec.lecture.topics]
    outcomes.sort(key=lambda o: order.index(o.name))

    artifacts: list[Path] = []
    previews: list[Path] = []
    unchanged: list[Path] = []
    for lecture in plan.lectures:
        try:
            published, problems = _lecture(lecture, discovered, done, outcomes, options, progress, compiler)
        except NnarchError as error:
            errors.append(error)
            continue
        errors += problems
        (artifacts if published.released else previews).extend(published.paths)
        unchanged += published.unchanged
    if not errors:
        record_success(options, [*artifacts, *previews], inputs)
    return BuildResult(tuple(outcomes), tuple(artifacts), tuple(errors), False, tuple(previews), tuple(unchanged))


def _run(options: Options, progress: Progress, plan) -> tuple[list[TopicOutcome], dict]:
    """Every topic's outcome, and the run of each that succeeded: restored from its record without
    importing it, or run (executor.py). With fail_fast, the first failure stops the rest."""
    from nnarch.cache.store import Cache
    from nnarch.run.executor import run_topics
    from nnarch.run.runner import restore, topic_record_key

    cache = Cache(options.cache_dir)
    keys = {s.name: topic_record_key(s, options) for s in plan.topics}
    outcomes, done, fresh = [], {}, []
    for source in plan.topics:
        restored = None if options.forced(source.name) else restore(source, cache, keys[source.name], options)
        if restored:
            outcomes.append(restored[0])
            done[source.name] = restored[1]
            progress.topic_finished(restored[0])
        else:
            fresh.append(source)
    ran = run_topics(fresh, options, progress, keys)
    try:
        for outcome, run in ran:
            outcomes.append(outcome)
            progress.topic_finished(outcome)
            if run:
                done[outcome.name] = run
            elif options.fail_fast:
                break
    finally:
        ran.close()  # stops the workers when the loop ends early
    cache.store_seconds({o.path: o.stages["train"] for o in outcomes if o.status == "trained"})
    return outcomes, done


def _lecture(lecture, discovered, done: dict, outcomes: list, options: Options, progress: Progress, compiler):
    """Render, compile and publish one lecture: (what was published, problems). It is released only when every
    topic, frame and document is fine; else what built goes to build/preview/ with a frame for each failed topic."""
    from nnarch.documents import lecture as documents
    from nnarch.publish.release import blocking, publish_lecture

    slug, mine = lecture.lecture.slug, [o for o in outcomes if o.name in lecture.lecture.topics]
    problems = documents.unrenderable(discovered.course, done, mine)
    failed = {o.name: o.error for o in mine if o.error}
    runs = [done[name] for name in lecture.lecture.topics if name in done and name not in failed]
    progress.stage(f"{slug}: rendering and compiling (latexmk)")
    shown = options.out / ("preview/" if options.preview else "") / slug
    on_html = (lambda html: options.on_html(shown, html)) if options.on_html else None  # type: ignore[misc]
    files, timings, more = documents.documents(
        lecture, discovered.course, runs, failed, options.work_dir(lecture.path), compiler, options.lectures, on_html
    )
    # once each: the deck and the notes deck report the same frame that does not fit
    problems = blocking(list({str(p): p for p in problems + more}.values()), options.budget, progress)
    # lecture.errors: its own Markdown, the schedule, the lab plan, and topics that do not read
    release = not (options.preview or failed or lecture.errors or problems)
    report = documents.report(lecture, mine, done, timings)
    return publish_lecture(lecture, discovered, files, report, release, options.out, progress), problems
