"""Discover: find the course, its lectures and their topics, and validate what the slides say.

Torch-free: the course and lecture declarations are imported (they are plain data), topic modules
are only read (`outline`), and every Markdown file is parsed and checked against what its module
declares. Importing a topic module is `load.py`'s job, and happens only when it must run.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from nnarch import topic as t
from nnarch.errors import TopicError, UsageError, did_you_mean, rel
from nnarch.source.load import declared, ensure_package, load_module, package_name
from nnarch.source.markdown import Doc, Figure, Frame, Generated, Listing, parse_file, walk
from nnarch.source.outline import Outline, declares, read
from nnarch.source.validate import (
    doc_problems,
    math_problems,
    module_unsettable_problems,
    notebook_clashes,
    unsettable_problems,
)
from nnarch.source.values import Names, lecture_path_problem, path_problem


@dataclass(frozen=True)
class TopicSource:
    """A topic whose module reads and whose Markdown checks: not yet imported."""

    name: str
    path: Path
    doc: Doc
    outline: Outline
    module: str  # the name it is imported under

    @property
    def title(self) -> str:
        return self.doc.title


@dataclass(frozen=True)
class LectureSource:
    """A lecture package: its declaration, its frames, its valid topics in order, and the errors of
    the others."""

    path: Path
    lecture: t.Lecture
    doc: Doc
    topics: tuple[TopicSource, ...]
    errors: tuple[TopicError, ...]
    broken: tuple[tuple[str, TopicError], ...] = ()  # (name, error) of each topic that does not read


@dataclass(frozen=True)
class Discovered:
    course: t.Course
    lectures: tuple[LectureSource, ...]


def discover(root: Path) -> Discovered:
    """Read and validate everything under `root` (the `lectures/` folder) without importing topics."""
    root = Path(root).resolve()
    course_path = root / "course.py"
    if not root.is_dir():
        raise UsageError(f"{rel(root)}: no such folder; give --lectures the folder that holds course.py")
    if not course_path.exists():
        raise TopicError(f"{rel(course_path)}: file not found; create it with COURSE = Course(...)")
    package = package_name(root)
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]  # modules imported by an earlier discover may have changed since
    ensure_package(package, root)
    course = declared(load_module(course_path, f"{package}_course"), course_path, "COURSE", t.Course)
    lectures = tuple(_lecture(p.parent, package, course) for p in sorted(root.glob("*/__init__.py")))
    return Discovered(course, _unique_topics(lectures))


def _unique_topics(lectures: tuple[LectureSource, ...]) -> tuple[LectureSource, ...]:
    """A topic's name is its key in the cache and in a build's runs (and `nnarch build NAME`): two
    lectures may not share one."""
    first: dict[str, Path] = {}
    checked = []
    for lecture in lectures:
        clashes = tuple(
            TopicError(
                f"{rel(lecture.path / '__init__.py')}: LECTURE.topics: '{s.name}' is also a topic of "
                f"{rel(first[s.name])}; a topic's name is unique in the course (it names the topic's cached "
                "runs, and 'nnarch build NAME'): rename one of the two modules and its entry in topics"
            )
            for s in lecture.topics
            if s.name in first
        )
        first.update({s.name: lecture.path / "__init__.py" for s in lecture.topics if s.name not in first})
        checked.append(dataclasses.replace(lecture, errors=lecture.errors + clashes) if clashes else lecture)
    return tuple(checked)


def _lecture(folder: Path, package: str, course: t.Course) -> LectureSource:
    init = folder / "__init__.py"
    module = f"{package}.{folder.name}"
    lecture = declared(load_module(init, module, package=True), init, "LECTURE", t.Lecture)
    errors = []
    doc = _lecture_doc(folder, lecture)
    if doc.problems:
        errors.append(_error(doc.path, doc.problems))
    topics, broken = [], []
    for name in lecture.topics:
        try:
            topics.append(topic_source(folder, name, f"{module}.{name}"))
        except TopicError as error:
            errors.append(error)
            broken.append((name, error))
    # the lab plan adds up every topic's minutes: with one unread, its sum would be a false error
    plan = None if broken else lab_plan_problem(lecture, course, doc, topics)
    timing = None if broken else timing_problem(lecture, doc, topics)
    for problem in filter(None, (slot_problem(lecture, course), plan, timing)):
        errors.append(TopicError(f"{rel(init)}: {problem}"))
    return LectureSource(folder, lecture, doc, tuple(topics), tuple(errors), tuple(broken))


def slot_problem(lecture: t.Lecture, course: t.Course) -> str | None:
    """A lecture is linked from the course page at the slot it declares: day and session."""
    times = [time for time, _ in course.slots]
    if not 1 <= lecture.day <= len(course.days):
        return f"LECTURE.day: {lecture.day} is not a day of the course (1 to {len(course.days)})"
    if lecture.session not in times:
        return (
            f"LECTURE.session: '{lecture.session}' is no slot of the schedule"
            f"{did_you_mean(lecture.session, times)}; the course page links lectures by their slot"
        )
    return None


def slot_minutes(time: str) -> int | None:
    """The length of a slot of the schedule, '09:00–10:00', in minutes."""
    match = re.fullmatch(r"(\d+):(\d+)\s*[–-]\s*(\d+):(\d+)", time.strip())
    if not match:
        return None
    h0, m0, h1, m1 = map(int, match.groups())
    return (h1 * 60 + m1) - (h0 * 60 + m0)


def lab_slot(lecture: t.Lecture, course: t.Course) -> str | None:
    """The time of the lecture's lab in the course schedule ('11:00–12:30'): the slot of its day
    whose cell is LECTURE.lab; None without a lab, or when the schedule has no such cell."""
    day = lecture.day - 1
    found = (time for time, cells in course.slots if list(cells[day : day + 1]) == [lecture.lab])
    return next(found, None) if lecture.lab else None


def lab_session_minutes(lecture: t.Lecture, course: t.Course) -> int | None:
    """The length of the lecture's lab in the course schedule, from its slot's time."""
    time = lab_slot(lecture, course)
    return slot_minutes(time) if time else None


def timed_frames(doc: Doc, topics) -> list[tuple[Doc, Frame]]:
    """Every frame of the lecture in the order it is shown: the lecture's, its topics', the rest."""
    split = len(doc.frames) if doc.topics_at is None else doc.topics_at
    return [
        *((doc, f) for f in doc.frames[:split]),
        *((s.doc, f) for s in topics for f in s.doc.frames),
        *((doc, f) for f in doc.frames[split:]),
    ]


def timing_problem(lecture: t.Lecture, doc: Doc, topics) -> str | None:
    """Once any frame declares its {minutes}, every frame does, and they add up to the lecture's slot
    (its session in the schedule), as the lab plan adds up to the lab's."""
    frames = timed_frames(doc, topics)
    if all(f.minutes is None for _, f in frames):
        return None
    missing = [f"{d.where(f.line)} '{f.plain_title}'" for d, f in frames if f.minutes is None]
    if missing:
        return (
            "the lecture's timing needs every frame's minutes: add ```{minutes} N``` to "
            + "; ".join(missing[:5])
            + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        )
    slot = slot_minutes(lecture.session)
    total = sum(f.minutes or 0 for _, f in frames)
    if slot is None:
        return (
            f"LECTURE.session '{lecture.session}' has no end, so its frames' minutes ({total:g}) cannot "
            "be checked against it: write the slot as start–end, e.g. 09:00–10:00, in the schedule and here"
        )
    if abs(total - slot) < 1e-9:
        return None
    longest = sorted(frames, key=lambda df: -(df[1].minutes or 0))[:3]
    gap = abs(total - slot)
    what = f"{'trim' if total > slot else 'give'} {gap:g}{' more' if total < slot else ''} minute{'s' * (gap != 1)}"
    return (
        f"the frames' minutes add up to {total:g}, but the lecture's slot {lecture.session} is {slot} minutes: "
        f"{what} (the longest frames: "
        + "; ".join(f"{d.where(f.line)} '{f.plain_title}' {f.minutes:g}" for d, f in longest)
        + ")"
    )


def lab_plan_problem(lecture: t.Lecture, course: t.Course, doc: Doc, topics) -> str | None:
    """The lab's time plan (the {minutes} of the lecture's and each topic's lab part) must add up to
    the lab session in the schedule."""
    if not lecture.lab:
        return None
    session = lab_session_minutes(lecture, course)
    if session is None:
        return (
            f"lab '{lecture.lab}': no slot of day {lecture.day} in the course schedule has that name; "
            "make LECTURE.lab match the schedule"
        )
    parts = {"lecture.md": doc.minutes, **{f"{s.name}.md": s.doc.minutes for s in topics}}
    missing = [name for name, minutes in parts.items() if minutes is None]
    if missing:
        return "the lab plan needs each part's time: add ```{minutes} N``` after '# Lab' in " + ", ".join(missing)
    total = sum(parts.values())
    if total != session:
        return (
            f"the lab plan adds up to {total} minutes ("
            + ", ".join(f"{n} {m}" for n, m in parts.items())
            + f"), but '{lecture.lab}' is {session} minutes in the schedule"
        )
    return None


def _lecture_doc(folder: Path, lecture: t.Lecture) -> Doc:
    path = folder / "lecture.md"
    if not path.exists():
        return Doc(path, lecture.title, ())
    doc = parse_file(path)
    problems = list(doc.problems)
    for frame in doc.frames:
        for block in walk(frame.blocks):
            if isinstance(block, (Figure, Listing)) or (isinstance(block, Generated) and block.kind != "schedule"):
                problems.append(
                    (
                        block.line,
                        "figures, listings and topic tables belong to topics; move this frame into a topic's Markdown",
                    )
                )
    problems += [(line, p) for line, path in doc.values if (p := lecture_path_problem(path, lecture.topics))]
    problems += [p for frame in doc.frames for p in math_problems(frame.blocks)]
    problems += unsettable_problems(doc)
    return dataclasses.replace(doc, problems=tuple(sorted(problems)))


def choose(found: Discovered, name: str | None, root: Path) -> LectureSource:
    """The lecture NAME (its package's folder or its slug) of those found under `root`; without a
    name, the course's only lecture."""
    chosen = [lec for lec in found.lectures if name in (lec.path.name, lec.lecture.slug)] if name else found.lectures
    if len(chosen) != 1:
        names = [f"{lec.path.name} ({lec.lecture.slug})" for lec in found.lectures]
        known = [n for lec in found.lectures for n in (lec.path.name, lec.lecture.slug)]
        what = f"no lecture '{name}'{did_you_mean(name, known)}" if name else "more than one lecture"
        raise UsageError(f"{what} in {rel(root)}; name one of: {', '.join(names) or 'none'}")
    return chosen[0]


def topic_source(folder: Path, name: str, module: str) -> TopicSource:
    """Read a topic's module and Markdown; a TopicError lists every problem found in either."""
    path, md = folder / f"{name}.py", folder / f"{name}.md"
    init = folder / "__init__.py"
    if not name.isidentifier() or not name.isascii():
        raise TopicError(f"{rel(init)}: topics: '{name}' is not a module name; use ASCII letters, digits and _")
    if not path.exists():
        known = [p.stem for p in folder.glob("*.py") if p.stem != "__init__"]
        raise TopicError(
            f"{rel(init)}: topics: no module '{name}.py' in {rel(folder)}"
            f"{did_you_mean(name, known)}; fix the name or add the file"
        )
    outline = read(path)
    problems = list(outline.problems) + notebook_clashes(path)
    if problems:
        raise _error(path, problems)
    if not declares(path, "TOPIC"):
        raise TopicError(
            f"{rel(path)}: TOPIC: expected a Topic(...) at module level, found nothing; declare TOPIC = Topic(...)"
        )
    if not md.exists():
        raise TopicError(
            f"{rel(md)}: file not found; a topic's slides are Markdown beside its module "
            f"('nnarch new {name} --lecture {folder.name}' writes both)"
        )
    doc = parse_file(md)
    names = Names(
        outline.metrics, outline.facts, outline.variants, frozenset(e.solution for e in doc.exercises), outline.seeds
    )
    problems = list(doc.problems) + doc_problems(doc, outline, names, outline.figures)
    if problems:
        raise _error(md, problems)
    problems = module_unsettable_problems(outline, doc)  # what the handouts show of the module
    problems += [(line, f"claims: {p}") for line, path in outline.claim_paths if (p := path_problem(path, names))]
    if problems:
        raise _error(path, problems)
    return TopicSource(name, path, doc, outline, module)


def _error(path: Path, problems) -> TopicError:
    return TopicError.listing([f"{rel(path)}:{line}: {message}" for line, message in problems])


def syntax_errors(root: Path, found: Discovered) -> list[TopicError]:
    """Every Python file under `root` that does not compile, the topics' helpers included."""
    # a topic module is read by discover, which reports its syntax errors already
    checked = {(lec.path / f"{name}.py").resolve() for lec in found.lectures for name in lec.lecture.topics}
    errors = []
    for path in sorted(Path(root).rglob("*.py")):
        if path.resolve() in checked or "__pycache__" in path.parts:
            continue
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        except SyntaxError as error:
            errors.append(TopicError(f"{rel(path)}:{error.lineno}: syntax error: {error.msg}; fix the line"))
    return errors
