"""The `nnarch` command. It parses arguments, imports heavy modules only inside commands, and
chooses the exit codes (serve.py also prints a failed rebuild's error, and goes on serving):

0 success; 1 a topic failed (bad declaration, training, a false claim, LaTeX); 2 bad usage;
3 the environment is missing something (latexmk, a writable build folder, a reachable Dask
scheduler, workers with the same versions); 4 another build is running on the same build folder;
130 stopped by Ctrl-C, 143 by SIGTERM.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nnarch.errors import NnarchError, UsageError
from nnarch.options import Budget, Device, Options
from nnarch.stopping import Terminated, stoppable

app = typer.Typer(
    help="Build lecture slides from topic modules whose models nnarch trains.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

LECTURES = typer.Option(Path("lectures"), "--lectures", help="Folder with course.py and lecture packages.")
OUT = typer.Option(Path("build"), "--out", help="Where artifacts are written.")
DEBUG = typer.Option(False, "--debug", help="Show full tracebacks.")
DEVICE = typer.Option(Device.auto, "--device", help="Where models train.")
BUDGET = typer.Option(Budget.full, "--budget", help="full, or quick: a preview in OUT/preview/, claims not enforced.")


def _error(error: BaseException) -> None:
    console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)


def _trace(error: BaseException) -> str:
    """The traceback --debug shows: where the error was raised, in a background process too."""
    return getattr(error, "remote_trace", None) or "".join(traceback.format_exception(error))


def _fail(error: BaseException, debug: bool) -> None:
    if debug:
        console.print(_trace(error), markup=False)
    _error(error)
    raise typer.Exit(getattr(error, "exit_code", 1))


@app.command()
def build(
    topics: list[str] | None = typer.Argument(None, help="Only these topics (default: all)."),
    lectures: Path = LECTURES,
    out_dir: Path = OUT,
    device: Device = DEVICE,
    budget: Budget = BUDGET,
    force: list[str] | None = typer.Option(
        None, "--force", help="Retrain this topic even if cached ('all': every one)."
    ),
    jobs: int | None = typer.Option(
        None,
        "--jobs",
        "-j",
        min=0,
        show_default="one per core",
        help="Worker processes that run topics; 0 runs them in this process (for a debugger).",
    ),
    max_train_seconds: float | None = typer.Option(
        None, "--max-train-seconds", min=1, help="Stop any topic's training that takes longer."
    ),
    max_topic_seconds: float | None = typer.Option(
        None,
        "--max-topic-seconds",
        min=1,
        help="Stop any topic that runs longer (import, data, training, measuring, drawing; each seed's run apart).",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        envvar="NNARCH_SCHEDULER",
        help="Train on the Dask cluster at this address, e.g. tcp://10.0.0.5:8786 "
        "(needs pip install 'nnarch\\[cluster]').",
    ),
    scheduler_timeout: float = typer.Option(
        10.0, "--scheduler-timeout", min=0.1, help="Seconds to wait for the scheduler to answer."
    ),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first failing topic."),
    debug: bool = DEBUG,
) -> None:
    """Train every topic (or reuse the cache), check its claims, build slides and report.json."""
    from nnarch.build import build as run_build
    from nnarch.progress import RichProgress, summary_table

    options = Options(
        lectures=lectures,
        out=out_dir,
        device=device.value,
        topics=tuple(topics or ()),
        fail_fast=fail_fast,
        budget=budget.value,
        force=tuple(force or ()),
        jobs=jobs,
        max_train_seconds=max_train_seconds,
        max_topic_seconds=max_topic_seconds,
        scheduler=scheduler,
        scheduler_timeout=scheduler_timeout,
    )
    try:
        with stoppable(), RichProgress(console) as progress:
            result = run_build(options, progress)
    except (KeyboardInterrupt, Terminated) as stop:
        code = 143 if isinstance(stop, Terminated) else 130
        _error(
            NnarchError(
                f"interrupted ({'SIGTERM' if code == 143 else 'Ctrl-C'}): training and LaTeX "
                "stopped; what earlier builds published is as it was"
            )
        )
        raise typer.Exit(code) from None
    except NnarchError as error:
        _fail(error, debug)
    except Exception as error:  # a bug in nnarch, not in the topics: say so, keep the trace for --debug
        _fail(
            NnarchError(
                f"internal error: {type(error).__name__}: {error}; run with --debug and report the traceback"
            ).with_traceback(error.__traceback__),
            debug,
        )
    if result.up_to_date:
        slides = ", ".join(str(p) for p in result.artifacts if p.name == "slides.pdf" and p.parent.name != "instructor")
        out.print(f"up to date: {slides}", soft_wrap=True)
        return
    out.print(summary_table(result))
    for problem in result.errors:
        if debug:
            console.print(_trace(problem), markup=False)
        _error(problem)
    published = [*result.artifacts, *result.previews] if result.ok else result.artifacts
    for path in published:
        if path.parent.name not in ("figures", "notebooks") and path not in result.unchanged:
            out.print(f"wrote {path}", highlight=False, soft_wrap=True)
    if same := [p for p in published if p in result.unchanged]:
        out.print(f"{len(same)} of the {len(published)} files unchanged", highlight=False)
    for path in result.artifacts:  # a release: where its two audiences start
        if path.name == "index.html" and path.parent.name == "instructor":
            out.print(f"to present: {path} (the slides, the notes and the answers)", soft_wrap=True)
        elif path.suffix == ".zip":
            out.print(f"for students: {path}", soft_wrap=True)
    previews = ", ".join(sorted({str(p.parent) for p in result.previews if p.name == "report.json"}))
    if result.ok:
        if previews:
            out.print(f"a preview in {previews}/ (some topics, or --budget quick): not a release", soft_wrap=True)
        return
    marked = ", with a frame for each failed topic" if any(o.error for o in result.outcomes) else ""
    where = f"; what did build is in {previews}/ (a preview{marked})" if previews else ""
    console.print(f"[bold red]nothing was published[/]: the last release is unchanged{where}", highlight=False)
    raise typer.Exit(max(getattr(e, "exit_code", 1) for e in result.errors))


@app.command()
def serve(
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free one)."),
    lectures: Path = LECTURES,
    out_dir: Path = OUT,
    device: Device = DEVICE,
    budget: Budget = BUDGET,
    debug: bool = DEBUG,
) -> None:
    """Build, serve the build folder on 127.0.0.1, and rebuild on every save; open pages reload."""
    from nnarch.progress import RichProgress
    from nnarch.serve import serve as run_serve

    try:
        with stoppable():
            run_serve(
                Options(lectures, out_dir, device.value, budget=budget.value, jobs=None),
                port,
                console,
                lambda: RichProgress(console),
            )
    except (KeyboardInterrupt, Terminated):
        console.print("stopped serving", highlight=False)
    except NnarchError as error:
        _fail(error, debug)


@app.command("list")
def list_topics(
    lectures: Path = LECTURES,
    out_dir: Path = OUT,
    device: Device = DEVICE,
    budget: Budget = BUDGET,
    debug: bool = DEBUG,
) -> None:
    """List lectures and their topics: invalid, cached (renders without running), or needing a run."""
    from nnarch.cache.store import Cache
    from nnarch.run.runner import topic_record_key
    from nnarch.source.discover import discover

    try:
        found = discover(lectures)
    except NnarchError as error:
        _fail(error, debug)
    options = Options(lectures=lectures, out=out_dir, device=device.value, budget=budget.value)
    cache = Cache(options.cache_dir)
    table = Table(title=found.course.title)
    for column in ("lecture", "#", "topic", "title", "state"):
        table.add_column(column)
    for lec in found.lectures:
        valid = {s.name: s for s in lec.topics}
        for i, name in enumerate(lec.lecture.topics, start=1):
            if name not in valid:
                state, title = "[red]invalid[/]", ""
            else:
                cached = cache.has_record(topic_record_key(valid[name], options))
                state = "[green]cached[/]" if cached else "needs training"
                title = escape(valid[name].title)
            table.add_row(lec.lecture.slug, str(i), name, title, state)
    out.print(table)
    for lec in found.lectures:
        for problem in lec.errors:
            _error(problem)


@app.command()
def check(lectures: Path = LECTURES, debug: bool = DEBUG) -> None:
    """Validate every lecture's Markdown and topic declarations without importing torch."""
    from nnarch.source.discover import discover, syntax_errors

    try:
        found = discover(lectures)
    except NnarchError as error:
        _fail(error, debug)
    errors = [e for lec in found.lectures for e in lec.errors] + syntax_errors(lectures, found)
    count = sum(len(lec.topics) for lec in found.lectures)
    for problem in errors:
        _error(problem)
    for lec in found.lectures:
        if lec.broken and lec.lecture.lab:
            console.print(
                f"note: {lec.path.name}: the lab plan's minutes are checked once the errors above are fixed",
                highlight=False,
                soft_wrap=True,
            )
    if errors:
        raise typer.Exit(1)
    out.print(f"{count} topic(s) in {len(found.lectures)} lecture(s): all valid")


@app.command()
def params(
    topic: str = typer.Argument(..., help="Topic name, e.g. ffnn."), lectures: Path = LECTURES, debug: bool = DEBUG
) -> None:
    """Print a topic model's parameters, layer by layer (untrained: counts don't depend on training)."""
    from nnarch.errors import did_you_mean
    from nnarch.source.discover import discover

    try:
        found = discover(lectures)
        sources = {s.name: s for lec in found.lectures for s in lec.topics}
        if topic not in sources:
            raise UsageError(f"no valid topic '{topic}'{did_you_mean(topic, sources)}; 'nnarch list' shows the topics")
        from nnarch.progress import parameter_table
        from nnarch.run.measure import count_parameters
        from nnarch.run.train import build_model
        from nnarch.source.load import load_topic

        source = sources[topic]
        model = build_model(load_topic(source)[0], source.path)
        counted = count_parameters(model)
    except NnarchError as error:
        _fail(error, debug)
    out.print(parameter_table(f"{topic}: {type(model).__name__}", counted))
    if counted["formula"]:
        out.print(f"formula: {counted['formula'].replace(chr(92) + 'cdot', '·')}", highlight=False)


@app.command()
def new(
    name: str = typer.Argument(..., help="Topic name: an ASCII identifier, e.g. attention."),
    lecture: str = typer.Option(
        None, "--lecture", help="The lecture (its folder or slug, e.g. nn_architectures); default: the only one."
    ),
    title: str = typer.Option("", "--title", help="Section title (default: the name)."),
    lectures: Path = LECTURES,
) -> None:
    """Create a topic that builds in its lecture as it is: module, slides and lab part, added to its topics."""
    from nnarch.source.scaffold import new_topic

    try:
        told = new_topic(lectures, lecture, name, title)
    except NnarchError as error:
        _fail(error, False)
    out.print("\n".join(told), highlight=False)


@app.command()
def grade(
    submissions: Path = typer.Argument(
        ..., help="The folder of handed-in notebooks: one per file, or one folder per student."
    ),
    lecture: str = typer.Option(
        None, "--lecture", help="The lecture they belong to (its folder or slug); default: the only one."
    ),
    lectures: Path = LECTURES,
    out_dir: Path = OUT,
    report: Path = typer.Option(
        None,
        "--report",
        help="Where grades.csv, grades.html and each student's feedback go (default: SUBMISSIONS-graded beside it).",
    ),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds one cell may run."),
    memory: int = typer.Option(4096, "--memory", help="Megabytes a notebook's kernel may use."),
) -> None:
    """Grade student notebooks against the build's checks, each in a fresh kernel limited in time and memory."""
    from nnarch import baseline
    from nnarch.grade import grade as run_grades

    target = report or submissions.with_name(submissions.name + "-graded")
    try:
        said = lambda text: out.print(f"[dim]{escape(text)}[/]")  # noqa: E731
        release = baseline.locate(lectures, out_dir, lecture)[1]
        marks = run_grades(submissions, release, target, timeout, memory, progress=said)
    except NnarchError as error:
        _fail(error, False)
    right = sum(m.result == "correct" for m in marks)
    out.print(f"{right} of {len(marks)} exercise answers correct; wrote {target / 'grades.html'}", highlight=False)


LECTURE = typer.Argument(None, help="The lecture (its folder under --lectures, or its slug); default: the only one.")


@app.command()
def accept(lecture: str = LECTURE, lectures: Path = LECTURES, out_dir: Path = OUT) -> None:
    """Record what the built lecture shows (text, numbers, figures) as its baseline in LECTURE/baseline/."""
    from nnarch import baseline

    try:
        folder, release, _ = baseline.locate(lectures, out_dir, lecture)
        size = baseline.accept(release, folder)
    except NnarchError as error:
        _fail(error, False)
    out.print(f"accepted {release} as the baseline: {folder} ({size / 1024:.0f} KB)", highlight=False)


@app.command()
def diff(lecture: str = LECTURE, lectures: Path = LECTURES, out_dir: Path = OUT) -> None:
    """Compare the built lecture with its baseline (all of it in OUT/LECTURE/diff.html); exit 1 if it moved."""
    from nnarch import baseline

    try:
        folder, release, title = baseline.locate(lectures, out_dir, lecture)
        changes = baseline.compare(folder, release)
        baseline.write_report(changes, title, release / "diff.html")
    except NnarchError as error:
        _fail(error, False)
    for line in changes.summary() + [f"  {title}" for title in changes.frame_titles()]:
        out.print(line, highlight=False)
    out.print(f"wrote {release / 'diff.html'}", highlight=False)
    raise typer.Exit(1 if changes else 0)


@app.command()
def clean(
    out_dir: Path = OUT, cache: bool = typer.Option(False, "--cache", help="Empty only the cache (build/.cache).")
) -> None:
    """Remove the build folder nnarch made, or with --cache only its cached weights, records and figures."""
    from nnarch.publish.staging import clean as remove

    try:
        removed = remove(out_dir, cache_only=cache)
    except NnarchError as error:
        _fail(error, False)
    target = Options(out=out_dir).cache_dir if cache else out_dir
    out.print(f"removed {target}" if removed else f"nothing to remove: {out_dir} does not exist")


def main() -> None:
    app(prog_name="nnarch")


if __name__ == "__main__":
    main()
