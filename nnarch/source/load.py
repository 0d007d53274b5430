"""Load: import a module of the lectures folder afresh and validate the declaration it makes.

Only what must run is imported: the course and lecture declarations on every build, a topic module
only when its results are not cached (that import brings torch).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType

from nnarch import topic as t
from nnarch.errors import TopicError, did_you_mean, rel
from nnarch.files import read_source
from nnarch.layout import SLOTS
from nnarch.source.outline import declaration_problems, recipe_problems, syntax_tree
from nnarch.source.validate import doc_problems
from nnarch.source.values import Names, path_problem


def load_module(path: Path, name: str, package: bool = False) -> ModuleType:
    """Execute a module afresh; turn what goes wrong into a TopicError naming the file and line."""
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[str(path.parent)] if package else None
    )
    assert spec is not None and spec.loader is not None, f"{path}: not a Python file"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        sys.modules.pop(name, None)
        raise TopicError(
            f"{rel(path)}:{error.lineno}: syntax error: {error.msg}; fix the line and build again"
        ) from None
    except ImportError as error:
        sys.modules.pop(name, None)
        raise TopicError(
            f"{rel(path)}:{_line_in(error, path)}: cannot import: {error}; install the package or fix the import"
        ) from None
    except (Exception, SystemExit) as error:
        sys.modules.pop(name, None)
        where = f"{rel(path)}:{_line_in(error, path)}"
        kind = "SystemExit (a module must not exit)" if isinstance(error, SystemExit) else type(error).__name__
        raise TopicError(
            _declaration_problem(error, path, where) or f"{where}: {kind} while importing: {error}"
        ) from None
    return module


def load_topic(source) -> tuple[t.Topic, ModuleType]:
    """Import a discovered topic's module, with fresh helper modules; validate its TOPIC. In a
    process that did not discover it (a worker process), its packages are set up first."""
    package = source.module.rsplit(".", 1)[0]
    if package not in sys.modules:
        ensure_package(package.split(".")[0], source.path.parent.parent)
        load_module(source.path.parent / "__init__.py", package, package=True)
    for name in [m for m in sys.modules if m.startswith(package + ".")]:
        del sys.modules[name]  # helpers edited since the last import must not survive
    module = load_module(source.path, source.module)
    topic = declared(module, source.path, "TOPIC", t.Topic)
    validate_topic(topic, source, module)
    return topic, module


def declared(module: ModuleType, path: Path, name: str, kind: type):
    value = getattr(module, name, None)
    if not isinstance(value, kind):
        found = "nothing" if value is None else type(value).__name__
        raise TopicError(
            f"{rel(path)}: {name}: expected a {kind.__name__}(...) at module level, "
            f"found {found}; declare {name} = {kind.__name__}(...)"
        )
    return value


def validate_topic(topic: t.Topic, source, module: ModuleType) -> None:
    """Raise one TopicError listing every problem of a declaration, each with its field and fix."""
    problems = list(_field_problems(topic))
    for spec in topic.figures:
        problems += _figure_problems(spec)
        if getattr(spec, "kind", None) == "seeds" and not topic.seeds:
            problems.append(
                f"figures: '{spec.name}': kind 'seeds' draws the runs at several seeds; declare seeds=range(5)"
            )
    names = Names(
        frozenset(topic.metrics),
        frozenset(topic.facts),
        frozenset(topic.variants),
        frozenset(e.solution for e in source.doc.exercises),
        bool(topic.seeds) if isinstance(topic.seeds, (list, tuple, range)) else None,
    )
    for claim in topic.claims:
        problems += [f"claims: '{claim.text}': {p}" for p in _paths(claim.value, names)]
        if claim.op == "within":
            problems += [f"claims: '{claim.text}': {p}" for p in _paths(claim.bound, names)]
    problems += [f"headline: {p}" for p in _paths(topic.headline, names)]
    for metric, tolerance in dict(topic.tolerances).items():
        if metric not in topic.metrics:
            known = ", ".join(topic.metrics) or "none declared"
            problems.append(
                f"tolerances: '{metric}' is no metric{did_you_mean(metric, topic.metrics)}; metrics: {known}"
            )
        elif isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
            problems.append(f"tolerances: '{metric}': expected a relative tolerance such as 0.05, found {tolerance!r}")
    for exercise in source.doc.exercises:
        for name in filter(None, (exercise.solution, exercise.check)):
            if not inspect.isfunction(getattr(module, name, None)):
                problems.append(f"exercise '{exercise.title}': '{name}' is not a function")
    if problems:
        listed = "\n  ".join(problems)
        raise TopicError(f"{rel(source.path)}: {len(problems)} problem(s) in TOPIC:\n  {listed}")
    figures = {s.name: s.size for s in topic.figures}
    md_problems = doc_problems(source.doc, source.outline, names, figures)
    if md_problems:
        raise TopicError.listing([f"{source.doc.where(line)}: {message}" for line, message in md_problems])


def _paths(path, names: Names) -> list[str]:
    if not isinstance(path, str):
        return [f"expected a value path like 'metrics.test_mse', found {path!r}"]
    problem = path_problem(path, names)
    return [problem] if problem else []


def _field_problems(topic: t.Topic):
    for name, ok, want in [
        ("name", isinstance(topic.name, str) and topic.name, "a non-empty str"),
        ("model", callable(topic.model), "a function or class returning an nn.Module"),
        ("data", callable(topic.data), "a function data(seed) -> Splits"),
        ("recipe", isinstance(topic.recipe, t.Recipe), "a Recipe(...)"),
        ("metrics", isinstance(topic.metrics, dict), "a dict {name: fn(run)}"),
        ("facts", isinstance(topic.facts, dict), "a dict {name: value or fn(run)}"),
        ("variants", isinstance(topic.variants, dict), "a dict {name: factory}"),
    ]:
        if not ok:
            yield f"{name}: expected {want}, found {type(getattr(topic, name)).__name__}"
    # the notebooks call these by their names: each must be a function (or class) of its own
    named: list[tuple[str, object]] = [("data", topic.data)]
    named += [(f"metrics.{k}", fn) for k, fn in (topic.metrics if isinstance(topic.metrics, dict) else {}).items()]
    named += [(f"figures.{spec.name}.draw", spec.draw) for spec in topic.figures if getattr(spec, "draw", None)]
    named += [("recipe.step", getattr(topic.recipe, "step", None))] if getattr(topic.recipe, "step", None) else []
    if isinstance(topic.model, functools.partial) and not _literal_arguments(topic.model):
        yield (
            "model: a functools.partial's arguments must be plain values (numbers, strings, tuples), "
            "which the notebook can write; define a function (def) that builds the model"
        )
    for name, fn in named:
        if callable(fn) and not hasattr(fn, "__name__"):
            yield (
                f"{name}: expected a function, found {type(fn).__name__}; the notebook calls it by its name, "
                "so define a function (def) that calls it"
            )
    seeds = topic.seeds
    if not isinstance(seeds, (list, tuple, range)) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds
    ):
        yield f"seeds: expected seeds as non-negative ints, such as range(5), found {seeds!r}"
    for claim in topic.claims:
        share = getattr(claim, "share", 1.0)
        if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share <= 1:
            yield f"claims: '{claim.text}': share: expected a share of the seeds in (0, 1], found {share!r}"
    for field, recipe in (("recipe", topic.recipe), ("quick", topic.quick)):
        if isinstance(recipe, t.Recipe):
            yield from (f"{field}.{p}" for _, p in recipe_problems(recipe))
        elif recipe is not None:
            yield f"{field}: expected a Recipe(...), found {type(recipe).__name__}"


def _figure_problems(spec) -> list[str]:
    if not isinstance(spec, t.FigureSpec):
        return [f"figures: expected FigureSpec(...), found {type(spec).__name__}"]
    where = f"figures: '{spec.name}'"
    problems = []
    if spec.kind not in t.FIGURE_KINDS:
        problems.append(f"{where}: unknown kind '{spec.kind}'{did_you_mean(spec.kind, t.FIGURE_KINDS)}")
    if spec.kind == "custom" and not callable(spec.draw):
        problems.append(f"{where}: kind 'custom' needs draw=fn(run) -> Figure")
    if spec.size not in SLOTS:
        problems.append(
            f"{where}: size: expected one of {', '.join(map(repr, SLOTS))}, found "
            f"{spec.size!r}{did_you_mean(str(spec.size), SLOTS)}"
        )
    return problems


def _literal_arguments(made: functools.partial) -> bool:
    """Whether a partial's function has a name and its arguments are values a notebook can write."""
    try:
        for value in [*made.args, *made.keywords.values()]:
            ast.literal_eval(repr(value))
    except (ValueError, SyntaxError):
        return False
    return getattr(made.func, "__name__", "<lambda>") != "<lambda>"


def _declaration_problem(error: BaseException, path: Path, where: str) -> str | None:
    """Explain a missing or misspelled field of a declaration (Topic, Recipe, FigureSpec ...): the
    innermost such call around the failing line, as `check` reports it."""
    if not isinstance(error, TypeError):
        return None
    line = int(_line_in(error, path))
    around = [p for p in declaration_problems(syntax_tree(read_source(path), str(path))) if p[0] <= line <= p[1]]
    return f"{where}: {min(around, key=lambda p: p[1] - p[0])[2]}" if around else None


def _line_in(error: BaseException, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == path]
    return str(frames[-1].lineno) if frames else "1"


def package_name(root: Path) -> str:
    # A package name unique to this lectures/ folder, so that two folders (a test fixture and the real
    # lecture) can be loaded in one process without their modules replacing each other.
    return "nnarch_lectures_" + hashlib.sha1(str(root).encode()).hexdigest()[:10]


def ensure_package(package: str, root: Path) -> None:
    if package not in sys.modules:
        module = ModuleType(package)
        module.__path__ = [str(root)]
        sys.modules[package] = module
