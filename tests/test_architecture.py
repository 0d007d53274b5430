"""The package's shape: the folder tree is the pipeline, and imports only run down it."""

from __future__ import annotations

import ast
from pathlib import Path

NNARCH = Path(__file__).resolve().parent.parent / "nnarch"

# Lowest first. A module may import its own layer and the layers below it, never one above.
LAYERS = [
    (
        "foundations",
        {
            "nnarch",
            "nnarch.errors",
            "nnarch.topic",
            "nnarch.escape",
            "nnarch.layout",
            "nnarch.files",
            "nnarch.options",
            "nnarch.toolchain",
            "nnarch.runtime",
        },
    ),
    ("source", {"nnarch.source"}),
    ("cache", {"nnarch.cache"}),
    ("run", {"nnarch.run"}),
    ("documents", {"nnarch.documents"}),
    ("publish", {"nnarch.publish"}),
    ("plan", {"nnarch.plan"}),
    ("build", {"nnarch.build"}),
    (
        "front ends",
        {
            "nnarch.progress",
            "nnarch.stopping",
            "nnarch.serve",
            "nnarch.grade",
            "nnarch.baseline",
            "nnarch.cli",
            "nnarch.__main__",
        },
    ),
]


def modules() -> dict[str, Path]:
    found = {}
    for path in NNARCH.rglob("*.py"):
        parts = path.relative_to(NNARCH.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The nnarch modules a module imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        for name in names:
            module = name
            while module and module not in known:  # nnarch.run.record.TopicRun -> nnarch.run.record
                module = module.rpartition(".")[0]
            if module:
                found.add(module)
    return found - {path_module(path)}


def path_module(path: Path) -> str:
    parts = path.relative_to(NNARCH.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    """The index in LAYERS of a module, or of the package it belongs to ("nnarch" itself is only
    the package's __init__, so a module missing from LAYERS is not taken for a foundation)."""
    name = module
    while name:
        for index, (_, members) in enumerate(LAYERS):
            if name in members and (name != "nnarch" or module == "nnarch"):
                return index
        name = name.rpartition(".")[0]
    raise AssertionError(f"{module}: in no layer of tests/test_architecture.py; add it to one")


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(path, set(found)) for name, path in found.items()}


def test_imports_only_run_down_the_pipeline():
    upward = [
        f"{module} ({LAYERS[layer(module)][0]}) imports {target} ({LAYERS[layer(target)][0]})"
        for module, targets in graph().items()
        for target in targets
        if layer(target) > layer(module)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycles():
    edges, cycles = graph(), []

    def visit(module, trail):
        if module in trail:
            cycles.append(" -> ".join(trail[trail.index(module) :] + [module]))
            return
        if module in done:
            return
        for target in sorted(edges.get(module, ())):
            visit(target, trail + [module])
        done.add(module)

    done: set[str] = set()
    for module in sorted(edges):
        visit(module, [])
    assert not cycles, "\n".join(cycles)


def test_no_module_is_too_long_to_read():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > 400}
    assert not long, long
    assert len((NNARCH / "build.py").read_text().splitlines()) <= 150
