"""Outline: what a topic module defines and declares, read with `ast` — without importing it.

`check`, `list` and a text-only rebuild use this to validate the Markdown (figure, listing and value
names) and to show listings, so that they never import torch. The build re-checks the same names
against the imported module, which is the authority when the declaration is not a literal.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnarch import topic as t
from nnarch.errors import did_you_mean
from nnarch.files import read_source

_DECLARATIONS = {
    name: kind for name, kind in vars(t).items() if isinstance(kind, type) and dataclasses.is_dataclass(kind)
}


@dataclass(frozen=True)
class Outline:
    path: Path
    source: str
    definitions: dict  # "MLP", "MLP.forward", "make_data" -> (first line, last line)
    figures: dict | None  # figure name -> its slot's size (layout.SLOTS); None if not a literal list
    metrics: frozenset | None
    facts: frozenset | None
    variants: frozenset | None
    seeds: bool | None  # whether TOPIC names seeds; None if it could not be read statically
    imports: frozenset  # modules imported relative to the lecture package (".helpers" -> "helpers")
    problems: tuple  # (line, message)
    claim_lines: tuple = ()  # the line of each claim of TOPIC's claims, when they are a literal list
    claim_paths: tuple = ()  # (line, path) of each value path those claims write out
    figure_lines: dict = dataclasses.field(default_factory=dict)  # figure name -> its FigureSpec's line

    def listing(self, name: str, lines: tuple[int, int] | None = None) -> str:
        """The source of a class, function or method, dedented; `lines` counts from its first line."""
        first, last = self.definitions[name]
        text = textwrap.dedent("\n".join(self.source.splitlines()[first - 1 : last])).rstrip()
        if lines:
            text = textwrap.dedent("\n".join(text.splitlines()[lines[0] - 1 : lines[1]])).rstrip()
        return text

    def listing_length(self, name: str) -> int:
        first, last = self.definitions[name]
        return last - first + 1


def read(path: Path) -> Outline:
    """The outline of a Python file; a syntax error is its one problem."""
    return _outline(Path(path), read_source(path))


@functools.lru_cache(maxsize=64)  # once per content: `serve` reads the same modules on every save
def _outline(path: Path, source: str) -> Outline:
    try:
        tree = syntax_tree(source, str(path))
    except SyntaxError as error:
        return Outline(
            path,
            source,
            {},
            None,
            None,
            None,
            None,
            None,
            frozenset(),
            ((error.lineno or 1, f"syntax error: {error.msg}; fix the line and build again"),),
        )
    definitions = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            definitions[node.name] = _span(node)
            if isinstance(node, ast.ClassDef):
                for member in node.body:
                    if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        definitions[f"{node.name}.{member.name}"] = _span(member)
    problems = [(first, message) for first, _, message in declaration_problems(tree)]
    topic = _declaration(tree, "TOPIC")
    imports = frozenset(
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level >= 1 and n.module
    )
    imports |= frozenset(
        a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.level >= 1 and not n.module
        for a in n.names
    )
    keywords = {k.arg: k.value for k in topic.keywords} if topic is not None else {}
    complete = topic is not None and None not in keywords  # no Topic(**common): what it names is all

    def given(name, read, none):  # what a keyword names; unknown (None) where Topic(**common) may give it
        return read(keywords[name]) if name in keywords else (none if complete else None)

    return Outline(
        path,
        source,
        definitions,
        given("figures", _figures, {}),
        given("metrics", _keys, frozenset()),
        given("facts", _keys, frozenset()),
        given("variants", _keys, frozenset()),
        given("seeds", _seeds, False),
        imports,
        tuple(sorted(problems)),
        tuple(node.lineno for node in claims.elts) if isinstance(claims := keywords.get("claims"), ast.List) else (),
        tuple(_claim_paths(claims)) if isinstance(claims, ast.List) else (),
        _figure_lines(keywords.get("figures")),
    )


def _claim_paths(claims: ast.List):
    """(line, path) of the paths written out in below(...), above(...) and within(..., of=...)."""
    for call in claims.elts:
        if isinstance(call, ast.Call) and _called(call) in ("below", "above", "within"):
            named = {k.arg: k.value for k in call.keywords}
            for node in (call.args[0] if call.args else named.get("path"), named.get("of")):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    yield node.lineno, node.value


@functools.lru_cache(maxsize=64)
def syntax_tree(source: str, filename: str) -> ast.Module:
    """A module's syntax tree, parsed once per content (`serve` reads the same modules on every
    save); shared, so never changed by its readers."""
    return ast.parse(source, filename=filename)


def declares(path: Path, name: str) -> bool:
    """Whether the module assigns `name` at its top level."""
    try:
        tree = syntax_tree(read_source(path), str(path))  # the parse read() made of it
    except SyntaxError:
        return True  # reported as a syntax error instead
    return any(isinstance(n, ast.Assign) and any(getattr(x, "id", "") == name for x in n.targets) for n in tree.body)


def _seeds(node) -> bool | None:
    """Whether a `seeds=` argument asks for seeds: False for an empty literal, None if not literal."""
    if isinstance(node, (ast.Tuple, ast.List)):
        return bool(node.elts)
    return True if isinstance(node, ast.Call) and _called(node) == "range" else None


def _span(node) -> tuple[int, int]:
    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    return first, node.end_lineno


def _declaration(tree, name: str):
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(getattr(x, "id", "") == name for x in node.targets)
            and isinstance(node.value, ast.Call)
            and _called(node.value) == "Topic"
        ):
            return node.value
    return None


def _called(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def declaration_problems(tree: ast.Module) -> list[tuple[int, int, str]]:
    """(first line, last line, message) of each call of a declaration type (Topic, Recipe,
    FigureSpec, ...: nnarch.topic's dataclasses) with an unknown or a missing field. `check` reports
    them; an import that fails with a TypeError is explained by the innermost call around its line."""
    return [p for node in ast.walk(tree) if isinstance(node, ast.Call) for p in _call_problems(node)]


def _call_problems(call: ast.Call) -> list[tuple[int, int, str]]:
    kind = _DECLARATIONS.get(_called(call))
    if kind is None or any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return []
    fields = [f for f in dataclasses.fields(kind) if f.init]
    names = [f.name for f in fields]
    problems = []
    for keyword in call.keywords:
        if keyword.arg not in names:
            problems.append(
                (
                    call.lineno,
                    call.end_lineno or call.lineno,
                    f"{kind.__name__}(...): unknown field '{keyword.arg}'"
                    f"{did_you_mean(keyword.arg or '', names)}; the fields are "
                    f"{', '.join(names)}",
                )
            )
    if kind is t.Recipe and not problems and not call.args:
        problems += _literal_recipe_problems(call)
    given = set(names[: len(call.args)]) | {k.arg for k in call.keywords}
    missing = [
        f.name
        for f in fields
        if f.name not in given and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        problems.append(
            (
                call.lineno,
                call.end_lineno or call.lineno,
                f"{kind.__name__}(...): missing field "
                + ", ".join(f"'{m}'" for m in missing)
                + "; add "
                + ", ".join(f"{m}=..." for m in missing)
                + " (see docs/authoring.md)",
            )
        )
    return problems


def recipe_problems(recipe: t.Recipe) -> Iterator[tuple[str, str]]:
    """(field, "field: what is wrong") for each value of a Recipe that cannot train."""
    for name in ("epochs", "batch_size", "seed"):
        value, least = getattr(recipe, name), 0 if name == "seed" else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            yield name, f"{name}: expected a{' non-negative' if least == 0 else ' positive'} int, found {value!r}"
    if not isinstance(recipe.lr, (int, float)) or isinstance(recipe.lr, bool) or recipe.lr <= 0:
        yield "lr", f"lr: expected a positive number, found {recipe.lr!r}"
    if isinstance(recipe.loss, str) and recipe.loss not in ("mse", "cross_entropy"):
        yield "loss", f"loss: unknown loss '{recipe.loss}'{did_you_mean(recipe.loss, ['mse', 'cross_entropy'])}"
    if recipe.optimizer not in ("adam", "adamw", "sgd"):
        yield (
            "optimizer",
            f"optimizer: unknown optimizer '{recipe.optimizer}'"
            f"{did_you_mean(str(recipe.optimizer), ['adam', 'adamw', 'sgd'])}",
        )
    resources = recipe.resources or {}
    if not isinstance(resources, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and v > 0 for k, v in resources.items()
    ):
        yield "resources", f"resources: expected a dict of positive amounts such as {{'GPU': 1}}, found {resources!r}"


def _literal_recipe_problems(call: ast.Call) -> list[tuple[int, int, str]]:
    """What recipe_problems finds in the values a Recipe(...) call writes out (lr=3e-3, not lr=LR)."""
    literals: dict[str, Any] = {}  # what the author wrote, checked below
    lines: dict[str, int] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            continue
        try:
            literals[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, SyntaxError, TypeError):
            continue
        lines[keyword.arg] = keyword.value.lineno
    recipe = t.Recipe(**literals)
    return [(lines[f], lines[f], f"Recipe(...): {message}") for f, message in recipe_problems(recipe) if f in literals]


def _keys(node) -> frozenset | None:
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) for k in node.keys):
        return frozenset(k.value for k in node.keys if isinstance(k, ast.Constant))
    return None


def _figure_lines(node) -> dict:
    """The line of each FigureSpec(...) of a literal list whose name is written out."""
    specs = [(e, _spec_fields(e)) for e in node.elts] if isinstance(node, (ast.List, ast.Tuple)) else []
    return {f["name"].value: e.lineno for e, f in specs if f and isinstance(f.get("name"), ast.Constant)}


def _spec_fields(element) -> dict | None:
    """The arguments of a FigureSpec(...) call by field name; None for anything else."""
    if not (isinstance(element, ast.Call) and _called(element) == "FigureSpec"):
        return None
    fields = dict(zip(("name", "kind", "draw", "size"), element.args))
    return fields | {k.arg: k.value for k in element.keywords if k.arg}


def _figures(node) -> dict | None:
    if not isinstance(node, (ast.List, ast.Tuple)):
        return None
    figures = {}
    for element in node.elts:
        values = _spec_fields(element)
        if values is None:
            return None
        name, size = values.get("name"), values.get("size", ast.Constant("full"))
        if not (isinstance(name, ast.Constant) and isinstance(size, ast.Constant)):
            return None
        figures[name.value] = size.value
    return figures
