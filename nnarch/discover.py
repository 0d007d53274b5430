"""Discover: import the course, the lecture packages and their topic modules, and validate them."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import inspect
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from . import topic as t
from .errors import TopicError, did_you_mean, rel

VALUE_REF = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*(?::([^}]*))?\}\}")
RESULT_ROOTS = ("params", "history", "metrics", "facts", "variants", "recipe", "shapes", "data")
VARIANT_FIELDS = ("params", "final_train", "final_test")


@dataclass(frozen=True)
class TopicSource:
    """A topic module that imported and validated."""

    name: str
    path: Path
    topic: t.Topic


@dataclass(frozen=True)
class LectureSource:
    """A lecture package: its declaration, its valid topics in order, and the errors of the others."""

    path: Path
    lecture: t.Lecture
    topics: tuple[TopicSource, ...]
    errors: tuple[TopicError, ...]


@dataclass(frozen=True)
class Discovered:
    course: t.Course
    lectures: tuple[LectureSource, ...]


def discover(root: Path) -> Discovered:
    """Import and validate everything under `root` (the `lectures/` folder)."""
    root = Path(root).resolve()
    course_path = root / "course.py"
    if not course_path.exists():
        raise TopicError(f"{rel(course_path)}: file not found; create it with COURSE = Course(...)")
    package = _package(root)
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]  # helpers imported by an earlier discover may have changed since
    course = _declared(_load(course_path, f"{package}_course"), course_path, "COURSE", t.Course)
    lectures = tuple(_lecture(p.parent, package) for p in sorted(root.glob("*/__init__.py")))
    return Discovered(course, lectures)


def _lecture(folder: Path, package: str) -> LectureSource:
    init = folder / "__init__.py"
    name = f"{package}.{folder.name}"
    _ensure_parent(package, folder.parent)
    lecture = _declared(_load(init, name, package=True), init, "LECTURE", t.Lecture)
    topics, errors = [], []
    problems = _lecture_problems(lecture)
    if problems:
        errors.append(TopicError(f"{rel(init)}: {len(problems)} problem(s) in LECTURE:\n  "
                                 + "\n  ".join(problems)))
    for topic_name in lecture.topics:
        path = folder / f"{topic_name}.py"
        try:
            if not path.exists():
                known = [p.stem for p in folder.glob("*.py") if p.stem != "__init__"]
                raise TopicError(f"{rel(init)}: topics: no module '{topic_name}.py' in {rel(folder)}"
                                 f"{did_you_mean(topic_name, known)}; fix the name or add the file")
            module = _load(path, f"{name}.{topic_name}")
            declared = _declared(module, path, "TOPIC", t.Topic)
            validate_topic(declared, path, module)
            topics.append(TopicSource(topic_name, path, declared))
        except TopicError as error:
            errors.append(error)
    return LectureSource(folder, lecture, tuple(topics), tuple(errors))


def _lecture_problems(lecture: t.Lecture) -> list[str]:
    """Lecture frames may show topics' values ({{topics.ffnn.params.total}}) but no figures."""
    problems = []
    for frame in list(lecture.intro) + list(lecture.summary):
        for block in _walk(frame.blocks):
            if isinstance(block, t.Fig):
                problems.append(f"frames: '{frame.title}': Fig('{block.name}'): figures belong to "
                                "topics; move this frame into a topic")
            for text in _texts(block):
                for match in VALUE_REF.finditer(text):
                    parts = match.group(1).split(".")
                    if parts[0] != "topics" or len(parts) < 3 or parts[1] not in lecture.topics:
                        name = parts[1] if len(parts) > 1 else ""
                        problems.append(f"frames: '{frame.title}': value '{match.group(1)}': "
                                        f"expected topics.<topic>.<path> with a topic of this "
                                        f"lecture{did_you_mean(name, lecture.topics)}")
    return problems


def _package(root: Path) -> str:
    # A package name unique to this lectures/ folder, so that two folders (a test fixture and the real
    # lecture) can be loaded in one process without their modules replacing each other.
    return "nnarch_lectures_" + hashlib.sha1(str(root).encode()).hexdigest()[:10]


def _ensure_parent(package: str, root: Path) -> None:
    if package not in sys.modules:
        module = ModuleType(package)
        module.__path__ = [str(root)]
        sys.modules[package] = module


def _load(path: Path, name: str, package: bool = False) -> ModuleType:
    """Execute a module afresh; turn what goes wrong into a TopicError naming the file and line."""
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[str(path.parent)] if package else None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        sys.modules.pop(name, None)
        raise TopicError(f"{rel(path)}:{error.lineno}: syntax error: {error.msg}; "
                         "fix the line and build again") from None
    except ImportError as error:
        sys.modules.pop(name, None)
        raise TopicError(f"{rel(path)}:{_line_in(error, path)}: cannot import: {error}; install "
                         "the package or fix the import") from None
    except Exception as error:
        sys.modules.pop(name, None)
        where = f"{rel(path)}:{_line_in(error, path)}"
        raise TopicError(_declaration_problem(error, where) or f"{where}: {type(error).__name__} "
                         f"while importing: {error}") from None
    return module


def _declaration_problem(error: Exception, where: str) -> str | None:
    """Explain a missing or misspelled field of a declaration type (Topic, Recipe, FigureSpec ...)."""
    match = re.match(r"(\w+)\.__init__\(\) (missing \d+ required .*?: (.*)|got an unexpected "
                     r"keyword argument '(\w+)')", str(error))
    if not isinstance(error, TypeError) or not match or not hasattr(t, match.group(1)):
        return None
    kind = getattr(t, match.group(1))
    if match.group(3):
        missing = re.findall(r"'(\w+)'", match.group(3))
        fields = ", ".join(f"'{m}'" for m in missing)
        return (f"{where}: {kind.__name__}(...): missing field {fields}; add "
                + ", ".join(f"{m}=..." for m in missing) + " (see 'Writing a topic' in README.md)")
    names = [f.name for f in dataclasses.fields(kind)]
    return (f"{where}: {kind.__name__}(...): unknown field '{match.group(4)}'"
            f"{did_you_mean(match.group(4), names)}; the fields are {', '.join(names)}")


def _line_in(error: BaseException, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == path]
    return str(frames[-1].lineno) if frames else "1"


def _declared(module: ModuleType, path: Path, name: str, kind: type):
    value = getattr(module, name, None)
    if not isinstance(value, kind):
        found = "nothing" if value is None else type(value).__name__
        raise TopicError(f"{rel(path)}: {name}: expected a {kind.__name__}(...) at module level, "
                         f"found {found}; declare {name} = {kind.__name__}(...)")
    return value


def validate_topic(topic: t.Topic, path: Path, module: ModuleType | None = None) -> None:
    """Raise one TopicError listing every problem of a declaration, each with its field and fix."""
    problems = list(_field_problems(topic))
    figure_names = [f.name for f in topic.figures]
    for spec in topic.figures:
        problems += _figure_problems(spec)
        if isinstance(spec, t.FigureSpec):
            problems += [f"figures: '{spec.name}': {p}" for text in (spec.caption, spec.alt)
                         for p in _text_problems(text, topic)]
    for frame in topic.frames:
        if not isinstance(frame, t.Frame):
            problems.append(f"frames: expected Frame(...), found {type(frame).__name__}")
            continue
        problems += _frame_problems(frame, topic, figure_names, module)
    for claim in topic.claims:
        problems += [f"claims: '{claim.text}': {p}" for p in _path_problems(claim.value, topic)]
        if claim.op == "within":
            problems += [f"claims: '{claim.text}': {p}" for p in _path_problems(claim.bound, topic)]
    problems += [f"headline: {p}" for p in _path_problems(topic.headline, topic)]
    for exercise in topic.exercises:
        problems += _exercise_problems(exercise, module)
        if isinstance(exercise, t.Exercise):
            texts = [exercise.title, exercise.prompt, exercise.explanation, *exercise.hints]
            problems += [f"exercises: '{exercise.title}': {p}" for text in texts
                         for p in _text_problems(text, topic)]
    if problems:
        lines = "\n  ".join(problems)
        raise TopicError(f"{rel(path)}: {len(problems)} problem(s) in TOPIC:\n  {lines}")


def _field_problems(topic: t.Topic):
    for name, ok, want in [("name", isinstance(topic.name, str) and topic.name, "a non-empty str"),
                           ("title", isinstance(topic.title, str), "a str"),
                           ("model", callable(topic.model), "a function or class returning an nn.Module"),
                           ("data", callable(topic.data), "a function data(seed) -> Splits"),
                           ("recipe", isinstance(topic.recipe, t.Recipe), "a Recipe(...)"),
                           ("metrics", isinstance(topic.metrics, dict), "a dict {name: fn(run)}"),
                           ("facts", isinstance(topic.facts, dict), "a dict {name: fn(run)}"),
                           ("variants", isinstance(topic.variants, dict), "a dict {name: factory}")]:
        if not ok:
            yield f"{name}: expected {want}, found {type(getattr(topic, name)).__name__}"
    if isinstance(topic.recipe, t.Recipe):
        for name in ("epochs", "batch_size", "seed"):
            value = getattr(topic.recipe, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "seed" else 1):
                yield f"recipe.{name}: expected a positive int, found {value!r}"
        if not isinstance(topic.recipe.lr, (int, float)) or topic.recipe.lr <= 0:
            yield f"recipe.lr: expected a positive number, found {topic.recipe.lr!r}"
        if isinstance(topic.recipe.loss, str) and topic.recipe.loss not in ("mse", "cross_entropy"):
            yield (f"recipe.loss: unknown loss '{topic.recipe.loss}'"
                   f"{did_you_mean(topic.recipe.loss, ['mse', 'cross_entropy'])}")
        if topic.recipe.optimizer not in ("adam", "adamw", "sgd"):
            yield (f"recipe.optimizer: unknown optimizer '{topic.recipe.optimizer}'"
                   f"{did_you_mean(topic.recipe.optimizer, ['adam', 'adamw', 'sgd'])}")


def _exercise_problems(exercise, module) -> list[str]:
    """Solutions and checks must be named functions of the topic module: notebooks copy their code."""
    if not isinstance(exercise, t.Exercise):
        return [f"exercises: expected Exercise(...), found {type(exercise).__name__}"]
    problems = []
    for field in ("solution", "check"):
        fn = getattr(exercise, field)
        if fn is None and field == "check":
            continue
        named = inspect.isfunction(fn) and fn.__name__ != "<lambda>"
        if not named or (module is not None and getattr(module, fn.__name__, None) is not fn):
            problems.append(f"exercises: '{exercise.title}': {field}: expected a function defined at "
                            "the top level of this module (not a lambda)")
    return problems


def _figure_problems(spec) -> list[str]:
    if not isinstance(spec, t.FigureSpec):
        return [f"figures: expected FigureSpec(...), found {type(spec).__name__}"]
    where = f"figures: '{spec.name}'"
    problems = []
    if spec.kind not in t.FIGURE_KINDS:
        problems.append(f"{where}: unknown kind '{spec.kind}'{did_you_mean(spec.kind, t.FIGURE_KINDS)}")
    if spec.kind == "custom" and not callable(spec.draw):
        problems.append(f"{where}: kind 'custom' needs draw=fn(run) -> Figure")
    if not (isinstance(spec.alt, str) and spec.alt.strip()):
        problems.append(f"{where}: alt: every figure needs alt text describing it")
    if spec.size not in ("full", "column"):
        problems.append(f"{where}: size: expected 'full' or 'column', found {spec.size!r}")
    return problems


def _frame_problems(frame, topic, figure_names, module) -> list[str]:
    where = f"frames: '{frame.title}'"
    problems = [f"{where}: {p}" for p in _text_problems(frame.title, topic)]
    for block in _walk(frame.blocks):
        if not isinstance(block, t.BLOCK_TYPES):
            problems.append(f"{where}: unknown block {type(block).__name__}; use one of "
                            + ", ".join(b.__name__ for b in t.BLOCK_TYPES))
            continue
        if isinstance(block, t.Fig) and block.name not in figure_names:
            problems.append(f"{where}: Fig('{block.name}'): no such figure"
                            f"{did_you_mean(block.name, figure_names)}; declare it in figures")
        if isinstance(block, t.Listing) and not (inspect.isclass(block.obj) or inspect.isfunction(block.obj)):
            problems.append(f"{where}: Listing: expected a class or function, found "
                            f"{type(block.obj).__name__}")
        for text in _texts(block):
            problems += [f"{where}: {p}" for p in _text_problems(text, topic)]
    return problems


def frame_texts(frame: t.Frame, math: bool = True):
    """Every piece of inline-markup text of a frame; without `math`, only text shown as text."""
    yield frame.title
    for block in _walk(frame.blocks):
        if math or not isinstance(block, t.Math):
            yield from (text for text in _texts(block) if math or "$" not in text)


def _walk(blocks):
    for block in blocks:
        yield block
        if isinstance(block, t.Columns):
            yield from _walk(list(block.left) + list(block.right))


def _texts(block) -> list[str]:
    if isinstance(block, t.Text):
        return [block.text]
    if isinstance(block, t.Bullets):
        return list(block.items) + ([block.heading] if block.heading else [])
    if isinstance(block, t.Math):
        return [block.latex]
    if isinstance(block, t.Table):
        return list(block.header) + [cell for row in block.rows for cell in row]
    return []


def _text_problems(text, topic) -> list[str]:
    if not isinstance(text, str):
        return [f"expected text (str), found {type(text).__name__}"]
    return [p for match in VALUE_REF.finditer(text) for p in _path_problems(match.group(1), topic)]


def _path_problems(path, topic) -> list[str]:
    """Check a value path against what the run will produce, before anything is trained."""
    if not isinstance(path, str):
        return [f"expected a value path like 'metrics.test_mse', found {path!r}"]
    parts = path.split(".")
    if parts[0] not in RESULT_ROOTS:
        return [f"value '{path}': unknown root '{parts[0]}'{did_you_mean(parts[0], RESULT_ROOTS)}; "
                f"paths start with one of {', '.join(RESULT_ROOTS)}"]
    for root, declared in (("metrics", topic.metrics), ("facts", topic.facts)):
        if parts[0] == root and (len(parts) < 2 or parts[1] not in declared):
            name = parts[1] if len(parts) > 1 else ""
            return [f"value '{path}': no {root[:-1]} '{name}'{did_you_mean(name, declared)}; "
                    f"declare it in {root}"]
    if parts[0] == "variants":
        if len(parts) < 2 or parts[1] not in topic.variants:
            name = parts[1] if len(parts) > 1 else ""
            return [f"value '{path}': no variant '{name}'{did_you_mean(name, topic.variants)}; "
                    "declare it in variants"]
        if len(parts) != 3 or parts[2] not in VARIANT_FIELDS:
            return [f"value '{path}': a variant has {', '.join(VARIANT_FIELDS)}"]
    if parts[0] == "recipe" and (len(parts) != 2 or parts[1] not in
                                 [f.name for f in dataclasses.fields(t.Recipe)]):
        return [f"value '{path}': no such recipe field"]
    return []
