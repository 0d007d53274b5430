"""Validate: what a topic's Markdown says, checked against what its module declares, before anything
runs: figures and listings that exist and fit their place, formulas whose scripts stay readable,
values the run will have, and characters the PDF can set. Each problem is (line, message)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from nnarch.errors import did_you_mean
from nnarch.escape import UnmappableCharacter, tex_escape
from nnarch.files import read_source
from nnarch.layout import SLOTS, TEXT_WIDTH, column_widths, listing_problem, math_problem
from nnarch.source.blocks import Code, Columns, Doc, Figure, Heading, ListBlock, Listing, MathBlock, Para, Table, walk
from nnarch.source.outline import Outline, syntax_tree
from nnarch.source.values import Names, path_problem


def doc_problems(doc: Doc, outline: Outline, names: Names, figures: dict | None) -> list:
    """(line, message) for every name in a topic's Markdown that its module does not declare."""
    problems = []
    if not doc.title:
        problems.append((1, "no '# Title' line; the file starts with the topic's section title"))
    shown = set()
    for frame in doc.frames + tuple(doc.exercises):
        blocks = frame.blocks if hasattr(frame, "blocks") else frame.prompt + frame.hints + frame.answer
        for block in walk(blocks):
            if isinstance(block, Figure):
                shown.add(block.name)
                if figures is not None and block.name not in figures:
                    problems.append(
                        (
                            block.line,
                            f"figure '{block.name}': no such figure"
                            f"{did_you_mean(block.name, figures)}; declare it in "
                            f"figures of {outline.path.name}",
                        )
                    )
            if isinstance(block, Listing):
                problems += _listing_problems(block, outline)
    for exercise in doc.exercises:
        for field, name in (("solution", exercise.solution), ("check", exercise.check)):
            if name and (name not in outline.definitions or "." in name):
                problems.append(
                    (
                        exercise.line,
                        f"exercise '{exercise.title}': {field} '{name}': no "
                        f"such function in {outline.path.name}"
                        f"{did_you_mean(name, outline.definitions)}",
                    )
                )
    for frame in doc.frames:
        problems += _placement_problems(frame, outline, figures) + math_problems(frame.blocks)
    for name in set(figures or ()) - shown:
        problems.append(
            (
                1,
                f"figure '{name}' is declared in {outline.path.name}"
                + (f":{outline.figure_lines[name]}" if name in outline.figure_lines else "")
                + " but never shown; show "
                f'it with ![caption]({name}){{fig-alt="…"}} or remove it',
            )
        )
    problems += [(line, p) for line, path in doc.values if (p := path_problem(path, names))]
    problems += unsettable_problems(doc, outline)
    return sorted(problems)


def _placement_problems(frame, outline: Outline, figures: dict | None) -> list:
    """Figures drawn for another slot than the one they are shown in; listings too wide to read."""
    problems = []
    for block, width, in_column in placed(frame.blocks):
        if isinstance(block, Figure) and figures and block.name in figures:
            slot = figures[block.name]
            if SLOTS[slot][0] > width + 1:
                fits = [name for name, (w, _) in SLOTS.items() if w <= width + 1]
                problems.append(
                    (
                        block.line,
                        f"figure '{block.name}' is drawn for the '{slot}' slot "
                        f"({SLOTS[slot][0]:g} pt wide) but shown "
                        f"{'in a column' if in_column else 'here'} of {width:.0f} pt; "
                        f"declare it with size={' or '.join(map(repr, fits)) or 'a smaller slot'}, "
                        "widen its column, or move it",
                    )
                )
        if isinstance(block, Listing) and block.name in outline.definitions:
            methods = [d for d in outline.definitions if d.startswith(block.name + ".")]
            problem = listing_problem(
                block.name, outline.listing(block.name, block.lines), width, in_column, methods[-1] if methods else ""
            )
            if problem:
                problems.append((block.line, problem))
    return problems


def unbalanced(latex: str) -> str | None:
    """What is unpaired in a formula: a brace, or a \\left or \\right (LaTeX would stop at the end of
    the frame, far from the Markdown line); None when all pair up."""
    depth = 0
    for token in re.findall(r"\\[A-Za-z]+|\\.|[{}]", latex):
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth < 0:
            return "a '}' that closes no '{'"
    lefts, rights = (len(re.findall(rf"\\{side}(?![A-Za-z])", latex)) for side in ("left", "right"))
    if depth:
        return f"{depth} '{{' never closed"
    return None if lefts == rights else f"{lefts} \\left against {rights} \\right"


def math_problems(blocks) -> list:
    """Formulas that would not compile (an unpaired brace, \\left or \\right), or whose sub- or
    superscripts would be set under the minimum size: in body text a script inside a script, in
    captions and tables any script."""

    def formulas(spans):
        for span in spans:
            if span[0] == "math":
                yield span[1]
            elif span[0] in ("em", "strong"):
                yield from formulas(span[1])
            elif span[0] == "link":
                yield from formulas(span[2])

    found = []
    for block in walk(blocks):
        if isinstance(block, (Para, Heading)):
            found += [(block.line, f, 11) for f in formulas(block.spans)]
        elif isinstance(block, MathBlock):
            found.append((block.line, block.latex, 11))
        elif isinstance(block, Figure) or (isinstance(block, Listing) and block.caption):
            found += [(block.line, f, 8) for f in formulas(block.caption)]
        elif isinstance(block, Table):
            found += [(block.line, f, 9) for row in (block.header, *block.rows) for cell in row for f in formulas(cell)]
    problems = []
    for line, latex, size in found:
        if wrong := unbalanced(latex):
            problems.append((line, f"math '{latex[:40]}' has {wrong}; pair it up"))
        elif problem := math_problem(latex, size):
            problems.append((line, problem))
    return problems


def unsettable_problems(doc: Doc, outline: Outline | None = None) -> list:
    """(line, message) for each character the PDF cannot set, in any text of the file (titles,
    paragraphs, captions, tables, code, the exercises) and in the listings it shows: the same
    escaping the build applies, run before anything trains."""

    def texts(spans):
        for span in spans:
            if span[0] in ("text", "code"):
                yield span[1], span[0] == "code"
            elif span[0] in ("em", "strong"):
                yield from texts(span[1])
            elif span[0] == "link":
                yield from texts(span[2])

    found = [(1, doc.title, False)] + [(frame.line, frame.plain_title, False) for frame in doc.frames]
    blocks = [b for frame in doc.frames for b in frame.blocks] + list(doc.lab) + list(doc.lab_answers)
    for exercise in doc.exercises:
        found.append((exercise.line, exercise.title, False))
        blocks += [*exercise.prompt, *exercise.hints, *exercise.answer]
    for block in walk(blocks):
        spans: tuple[Any, ...] | list[Any] = ()
        if isinstance(block, (Para, Heading)):
            spans = block.spans
        elif isinstance(block, Figure):
            spans = block.caption  # its alt text is the HTML's only
        elif isinstance(block, Table):
            spans = [span for row in (block.header, *block.rows) for cell in row for span in cell]
        elif isinstance(block, Code):
            found.append((block.line, block.source, True))
        elif isinstance(block, Listing):
            spans = block.caption or ()
            if outline is not None and not _listing_problems(block, outline):
                found.append((block.line, outline.listing(block.name, block.lines), True))
        found += [(block.line, text, code) for text, code in texts(spans)]
    return _unsettable(found)


def module_unsettable_problems(outline: Outline, doc: Doc) -> list:
    """(line, message) for each character the PDF cannot set in what the handouts show of a topic's
    module: its classes (the model, as it was trained), the exercises' solutions and the claims'
    texts."""
    tree = syntax_tree(outline.source, str(outline.path))
    shown = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    shown += [e.solution for e in doc.exercises if e.solution in outline.definitions]
    found = [(outline.definitions[name][0], outline.listing(name), True) for name in shown]
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "claims":
            found += [
                (c.lineno, c.value, False)
                for c in ast.walk(node.value)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            ]
    return sorted(_unsettable(found))


def _unsettable(found: list) -> list:
    """(line, message) for each (line, text, is code) that LaTeX escaping refuses."""
    problems = []
    for line, text, code in found:
        try:
            tex_escape(text, code=code)
        except UnmappableCharacter as error:
            problems.append((line, str(error)))
    return problems


def _listing_problems(block: Listing, outline: Outline) -> list:
    if block.name not in outline.definitions:
        return [
            (
                block.line,
                f"listing '{block.name}': no class or function of that name in "
                f"{outline.path.name}{did_you_mean(block.name, outline.definitions)}",
            )
        ]
    length = outline.listing_length(block.name)
    if block.lines and block.lines[1] > length:
        return [
            (block.line, f"listing '{block.name}': :lines: {block.lines[0]}-{block.lines[1]} but it has {length} lines")
        ]
    return []


LAB_NAMES = (
    "Splits",
    "Recipe",
    "Run",
    "fit",
    "check_answer",
    "number_text",
    "plot_loss",
    "plot_prediction",
    "print_backward",
)
"""What a topic's notebook imports from nnarch_lab.py, the module beside it (documents/notebooks.py)."""
NOTEBOOK_CELLS = frozenset(
    {"SimpleNamespace", "SEED", "data", "model", "history", "recipe", "run", "results", "metric", "value", "answer"}
)
"""What the notebook's own cells bind after the topic's code: a topic name of these would be replaced."""


def _defined(path: Path) -> dict[str, int]:
    """The names a module defines at its top level (functions, classes, assignments), with lines."""
    names: dict[str, int] = {}
    try:
        tree = syntax_tree(read_source(path), str(path))
    except SyntaxError:
        return names  # reported by the outline, with its line
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node.lineno
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    names[target.id] = node.lineno
    return names


def notebook_clashes(path: Path) -> list:
    """(line, message) for each name of a topic module that its notebook also defines: in the
    notebook one would replace the other."""
    return [
        (
            line,
            f"'{name}' is also a name the topic's notebook uses beside this code (from nnarch_lab.py "
            "or its own cells): there one would replace the other; rename it",
        )
        for name, line in sorted(_defined(path).items(), key=lambda item: item[1])
        if name in LAB_NAMES or name in NOTEBOOK_CELLS
    ]


def placed(blocks, width: float = TEXT_WIDTH, in_column: bool = False):
    """(block, width in points, whether it sits in a column) for every block, columns and lists
    included: where each thing will be set, known before anything is rendered."""
    for block in blocks:
        yield block, width, in_column
        if isinstance(block, Columns):
            shares = column_widths(list(block.widths) or [None] * len(block.columns))
            for share, column in zip(shares, block.columns):
                yield from placed(column, share * TEXT_WIDTH, True)
        elif isinstance(block, ListBlock):
            for item in block.items:
                yield from placed(item, width - 14, in_column)  # the list's indent


# "# (B, 16, 50)" after code: the shape a line's result has, as a listing's comment says it. Only
# shapes of numbers and the batch axis are checked; "(B, T, H)" names sizes the trace cannot.
_SHAPE_COMMENT = re.compile(r"#\s*(?:[\w ]+:\s*)?\((B(?:,\s*\d+)+)\)")
_MODULE_CALL = re.compile(r"self\.(\w+)\(")


def shape_comment_problems(outline: Outline, name: str, shapes: list[dict]) -> list[tuple[int, str]]:
    """(line of the module, message) for each `# (B, ...)` comment of a listing that the traced
    shapes contradict: on a line that calls a traced module, its output shape; on another line,
    some traced input or output shape."""
    if name not in outline.definitions or not shapes:
        return []
    first, last = outline.definitions[name]
    traced = {row["name"]: row for row in shapes}
    every = {_shape_text(s) for row in shapes for s in (row["input"], row["output"]) if s}
    problems = []
    for line, text in enumerate(outline.source.splitlines()[first - 1 : last], start=first):
        said = _SHAPE_COMMENT.search(text)
        if not said:
            continue
        comment = "(" + ", ".join(p.strip() for p in said.group(1).split(",")) + ")"
        calls = [c for c in _MODULE_CALL.findall(text[: said.start()]) if c in traced]
        if calls and comment != _shape_text(traced[calls[0]]["output"]):
            problems.append(
                (
                    line,
                    f"the comment says {comment}, but {calls[0]}'s output was traced as "
                    f"{_shape_text(traced[calls[0]]['output'])}; correct the comment",
                )
            )
        elif not calls and comment not in every:
            problems.append(
                (
                    line,
                    f"the comment says {comment}, a shape no layer had in the traced forward pass "
                    f"({', '.join(sorted(every))}); correct the comment",
                )
            )
    return problems


def _shape_text(shape: list) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"
