"""Markdown: parse a topic's (or a lecture's) slide text into frames of format-neutral blocks.

One dialect, by markdown-it-py with mdit-py-plugins (docs/authoring.md has all of it); no torch here.
``# Title`` opens a topic, ``# Lab`` its lab part, ``## Title`` a frame (in the lab: an exercise);
``$…$``/``$$…$$`` math, ``{{metrics.test_mse}}`` values, ``![caption](name)`` figures. Directives:
``{listing}``, ``{param-table}``, ``{shape-table}``, ``{variant-table}``, ``{schedule}``, ``{topics}``,
``{minutes}``, ``{exercise}`` (``:check:``, ``:tolerance:``). Containers: ``:::: columns`` of
``::: column``, ``notes``, ``incremental``, ``fragment``; in the lab ``hints``, ``answer``, ``pitfalls``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown_it.tree import SyntaxTreeNode

from nnarch.errors import did_you_mean
from nnarch.files import read_source
from nnarch.source.blocks import (  # the blocks this parser builds, read as md.Para etc.
    Code,
    Columns,
    Doc,
    Exercise,
    Figure,
    Fragment,
    Frame,
    Generated,
    Heading,
    ListBlock,
    Listing,
    MathBlock,
    Para,
    Pause,
    Table,
    plain,
    walk,
)
from nnarch.source.dialect import parser
from nnarch.source.directives import ExerciseDirective, Minutes, directive, fence
from nnarch.source.values import VALUE_REF, checked_path, spec_problem

CONTAINERS = ("columns", "column", "notes", "incremental", "fragment", "hints", "answer", "pitfalls")


_MD = parser()


def parse_file(path: Path) -> Doc:
    """Parse one .md file; syntax problems are collected in `Doc.problems` (not text: a TopicError)."""
    return parse(read_source(path), Path(path))


@functools.lru_cache(maxsize=64)  # `serve` parses the files a save did not touch again: once per content
def parse(text: str, path: Path) -> Doc:
    builder = _Builder(path)
    return builder.build(SyntaxTreeNode(_MD.parse(text)))


def inline(text: str) -> tuple:
    """The spans of one line of inline Markdown, as a paragraph holds them (for tests and tools)."""
    return _Builder(Path("<inline>")).spans_of(text, 1)


class _Builder:
    def __init__(self, path: Path):
        self.path = path
        self.problems: list[tuple[int, str]] = []
        self.values: list[tuple[int, str]] = []

    def problem(self, node_or_line, message: str) -> None:
        line = node_or_line if isinstance(node_or_line, int) else _line(node_or_line)
        self.problems.append((line, message))

    def build(self, root: SyntaxTreeNode) -> Doc:
        title, topics_at = "", None
        self.minutes: int | None = None
        frames: list[Frame] = []
        exercises: list[Exercise] = []
        lab: dict[str, list[Any]] = {"lab": [], "answer": [], "pitfalls": []}
        part, body = "slides", list[Any]()
        current: tuple[Any, ...] | None = None

        def close():
            nonlocal current, body
            if current is not None and part == "slides":
                frames.append(self.frame(current, body))
            elif current is not None:
                exercises.append(self.exercise(current, body))
            elif body and part == "lab":  # before its exercises: its minutes and the instructor's boxes
                self.lab_intro(body, lab)
            elif body:
                self.problem(body[0].line, "text before the first frame; start a frame with '## Title'")
            current, body = None, []

        for node in root.children:
            if node.type == "heading" and node.tag == "h1":
                close()
                text = plain(self.spans(node.children[0])).strip()
                if text.lower() == "lab":
                    part = "lab"
                elif title or frames:
                    self.problem(
                        node,
                        f"'# {text}': a file has one '# Title' (its first line), and "
                        "'# Lab' before the exercises; use '## ' for a frame",
                    )
                else:
                    title = text
            elif node.type == "heading" and node.tag == "h2":
                close()
                inline = node.children[0]
                spans = self.spans(inline)
                current = (spans, plain(spans).strip(), _line(node), [])
            elif node.type == "fence" and directive(node)[0] == "topics":
                close()
                topics_at = len(frames)
            else:
                body.extend(self.blocks([node]))
        close()
        return Doc(
            self.path,
            title,
            tuple(frames),
            tuple(lab["lab"]),
            tuple(exercises),
            topics_at,
            minutes=self.minutes,
            problems=tuple(sorted(self.problems)),
            values=tuple(self.values),
            lab_answers=tuple(lab["answer"]),
            pitfalls=tuple(lab["pitfalls"]),
        )

    def frame(self, current, body) -> Frame:
        """A slide: its blocks, its speaker notes and its minutes; whatever belongs elsewhere is a problem."""
        spans, title, line = current[0], current[1], current[2]
        blocks: list[Any] = []
        notes: list[Any] = []
        minutes: float | None = None
        for b in body:
            if isinstance(b, _Box) and b.kind == "notes":
                notes.extend(b.blocks)
            elif isinstance(b, Minutes):
                if minutes is not None:
                    self.problem(b.line, f"frame '{title}': one {{minutes}} per frame")
                minutes = b.minutes
            elif isinstance(b, (ExerciseDirective, _Box)):
                self.problem(b.line or line, "{exercise}, ::: hints, ::: answer and ::: pitfalls belong after '# Lab'")
            else:
                blocks.append(b)
        for b in walk(blocks):
            if isinstance(b, (Minutes, _Box, ExerciseDirective)):
                self.problem(b.line, "{minutes} and ::: notes belong to the frame itself, not inside a column or list")
        for b in walk(notes):
            if isinstance(b, (Pause, Fragment, Figure, Listing, Generated, Minutes, _Box, ExerciseDirective)):
                self.problem(b.line, "speaker notes hold text, lists and math; no steps, figures, tables or code")
        if blocks and isinstance(blocks[-1], Pause):
            self.problem(blocks[-1].line, "'. . .' ends the frame, so its last step would be empty; remove it")
        return Frame(spans, title, tuple(blocks), line, tuple(notes), minutes)

    def lab_intro(self, body, lab: dict) -> None:
        """The lab part before its exercises: text for the sheet, its {minutes}, the instructor's
        ::: answer (to the questions of its steps) and ::: pitfalls."""
        for b in body:
            if isinstance(b, Minutes) and b.minutes == int(b.minutes):
                self.minutes = int(b.minutes)
            elif isinstance(b, Minutes):
                self.problem(b.line, "{minutes} N after '# Lab': the lab part's minutes, a whole number")
            elif isinstance(b, _Box) and b.kind in ("answer", "pitfalls"):
                lab[b.kind].extend(b.blocks)
            elif isinstance(b, (ExerciseDirective, _Box)) and getattr(b, "kind", "hints") == "hints":
                self.problem(b.line or 1, "::: hints and {exercise} belong to an exercise, a '## Title'")
            elif isinstance(b, (_Box, Pause, Fragment)):
                self.problem(b.line or 1, "::: notes, ::: fragment and '. . .' belong to frames, before '# Lab'")
            else:
                lab["lab"].append(b)

    def exercise(self, current, body) -> Exercise:
        title, line = current[1], current[2]
        directives = [b for b in body if isinstance(b, ExerciseDirective)]
        if len(directives) != 1:
            self.problem(
                line,
                f"exercise '{title}': expected one ```{{exercise}} solution_function``` "
                "naming the function that solves it",
            )
        for b in body:
            if isinstance(b, (Minutes, Pause, Fragment)) or (isinstance(b, _Box) and b.kind not in ("hints", "answer")):
                self.problem(
                    b.line or line,
                    f"exercise '{title}': an exercise holds its prompt, ::: hints and ::: answer; "
                    "{minutes} and ::: pitfalls go after '# Lab', before the first exercise",
                )
        found = directives[0] if directives else ExerciseDirective("", None, line)
        hints = tuple(b for c in body if isinstance(c, _Box) and c.kind == "hints" for b in c.blocks)
        answer = tuple(b for c in body if isinstance(c, _Box) and c.kind == "answer" for b in c.blocks)
        prompt = tuple(b for b in body if not isinstance(b, (ExerciseDirective, _Box, Minutes, Pause, Fragment)))
        return Exercise(title, found.solution, found.check, prompt, hints, answer, line, found.tolerance)

    # ----------------------------------------------------------------------------------------------
    # Blocks

    def blocks(self, nodes) -> list:
        out = []
        for node in nodes:
            block = self.block(node)
            if block is not None:
                out.append(block)
        return out

    def block(self, node):
        line = _line(node)
        kind = node.type
        if kind == "paragraph":
            inline = node.children[0]
            if inline.content.strip() == ". . .":
                return Pause(line)
            figure = self.figure(inline)
            return figure if figure is not None else Para(self.spans(inline), line)
        if kind == "heading":
            return Heading(self.spans(node.children[0]), line)
        if kind in ("bullet_list", "ordered_list"):
            items = tuple(tuple(self.blocks(item.children)) for item in node.children)
            return ListBlock(items, kind == "ordered_list", line)
        if kind == "math_block":
            self.scan(node.content, line)
            return MathBlock(node.content.strip(), line)
        if kind == "math_block_label":
            self.problem(node, "labelled display math ($$ … $$ (label)) is not supported; drop the label")
            return None
        if kind == "fence":
            return fence(self, node, line)
        if kind == "code_block":
            return Code(node.content.rstrip("\n"), line)
        if kind == "table":
            return self.table(node)
        if kind == "container_block":
            return self.container(node)
        if kind == "hr":
            self.problem(node, "'---' does nothing on a slide; start a new frame with '## Title'")
            return None
        self.problem(node, f"{kind.replace('_', ' ')} is not supported on slides")
        return None

    def figure(self, inline):
        images = [c for c in inline.children if c.type == "image"]
        if not images:
            return None
        rest = [c for c in inline.children if c.type != "image" and not (c.type == "text" and not c.content.strip())]
        image = images[0]
        line = _line(inline)
        if len(images) > 1 or rest:
            self.problem(line, 'a figure stands alone in its paragraph: ![caption](name){fig-alt="…"}')
        alt = re.sub(r"\\(.)", r"\1", str(image.attrs.get("fig-alt", ""))).strip()  # \" is a quote
        if not alt:
            self.problem(
                line,
                f"figure '{image.attrs.get('src', '')}': no alt text; add "
                '{fig-alt="what the figure shows"} after it',
            )
        self.scan(alt, line)
        return Figure(str(image.attrs.get("src", "")), self.spans(image), alt, line)

    def column_width(self, node) -> float | None:
        words = node.info.strip().split()[1:]
        if not words:
            return None
        match = re.fullmatch(r"(\d+)%", words[0])
        if not match or not 10 <= int(match.group(1)) <= 90 or len(words) > 1:
            self.problem(
                _line(node),
                f"'::: column {' '.join(words)}': a column's width is written "
                "as a percentage of the frame, e.g. '::: column 60%'",
            )
            return None
        return int(match.group(1)) / 100

    def table(self, node):
        rows = []
        for section in node.children:
            for row in section.children:
                rows.append(tuple(self.spans(cell.children[0]) if cell.children else () for cell in row.children))
        return Table(rows[0], tuple(rows[1:]), _line(node))

    def container(self, node):
        name = _container_name(node)
        line = _line(node)
        fence = node.nester_tokens.opening.markup
        if not node.nester_tokens.closing.markup:  # markdown-it ran it to the end of the file
            outer, up = None, node.parent  # the outermost container around it: maybe the one left open
            while up is not None:
                outer, up = (up if up.type == "container_block" else outer), up.parent
            inside = f" (or the '::: {_container_name(outer)}' at line {_line(outer)} it sits in)" if outer else ""
            self.problem(line, f"'{fence} {name}'{inside} is never closed; close it with a line of its own colons")
        if name not in CONTAINERS:
            self.problem(line, _unknown_container(name))
            return None
        if name == "columns":
            columns = [c for c in node.children if c.type == "container_block" and _container_name(c) == "column"]
            unknown = [c for c in node.children if c.type == "container_block" and _container_name(c) not in CONTAINERS]
            for c in unknown:  # a misspelt '::: colum', not a container put in the wrong place
                self.problem(_line(c), _unknown_container(_container_name(c)))
            if not unknown and (len(columns) != len(node.children) or not columns):
                self.problem(
                    line,
                    ":::: columns holds only '::: column' blocks; a container inside a column needs "
                    "fewer colons than the column's fence (::::: columns, :::: column, ::: notes)",
                )
            widths = tuple(self.column_width(c) for c in columns)
            if sum(w or 0 for w in widths) > 0.96 + 1e-9:
                self.problem(line, "the columns' widths add up to more than 96%; leave room between them")
            return Columns(tuple(tuple(self.blocks(c.children)) for c in columns), line, widths)
        if name == "column":
            self.problem(
                line,
                "'::: column' outside ':::: columns'; open the columns with four colons "
                "(:::: columns … ::::) so that the inner ':::' do not close them",
            )
            return None
        blocks = tuple(self.blocks(node.children))
        if name == "incremental":  # Quarto's: the list's items appear one step after another
            if len(blocks) != 1 or not isinstance(blocks[0], ListBlock):
                self.problem(line, "::: incremental holds one list, whose items then appear one per step")
                return None
            return dataclasses.replace(blocks[0], incremental=True)
        if name == "fragment":
            if not blocks:
                self.problem(line, "::: fragment is empty; put what should appear at the next step inside it")
            return Fragment(blocks, line)
        return _Box(name, blocks, line)

    # ----------------------------------------------------------------------------------------------
    # Inline text

    def spans(self, node) -> tuple:
        line = _line(node)
        out: list[tuple[Any, ...]] = []
        for child in node.children or ():
            kind = child.type
            if kind == "text":
                self.scan(child.content, line)
                out.append(("text", child.content))
            elif kind == "code_inline":
                self.scan(child.content, line)
                out.append(("code", child.content))
            elif kind == "math_inline":
                self.scan(child.content, line)
                out.append(("math", child.content))
            elif kind in ("em", "strong"):
                out.append((kind, self.spans(child)))
            elif kind == "link":
                out.append(("link", str(child.attrs.get("href", "")), self.spans(child)))
            elif kind == "softbreak":
                out.append(("text", " "))
            elif kind == "hardbreak":
                out.append(("break",))
            elif kind == "image":
                self.problem(line, "a figure stands alone in its paragraph")
            else:
                self.problem(line, f"inline {kind} is not supported")
        return tuple(out)

    def spans_of(self, text: str, line: int) -> tuple:
        tree = SyntaxTreeNode(_MD.parseInline(text))
        inline = tree.children[0]
        return self.spans(inline) if inline.children else ()

    def scan(self, text: str, line: int) -> None:
        for m in VALUE_REF.finditer(text):
            self.values.append((line, checked_path(m.group(1), m.group(2))))
            if problem := spec_problem(m.group(1), m.group(2)):
                self.problem(line, problem)


@dataclass(frozen=True)
class _Box:
    kind: str
    blocks: tuple
    line: int = 0


def _unknown_container(name: str) -> str:
    return f"unknown container '::: {name}'{did_you_mean(name, CONTAINERS)}; the containers are {', '.join(CONTAINERS)}"


def _container_name(node) -> str:
    """'::: notes', and Quarto's '::: {.notes}', are the container 'notes'."""
    words = node.info.strip().split()
    return words[0].strip("{}").lstrip(".") if words else ""


def _line(node) -> int:
    while node is not None and not node.map:
        node = node.parent
    return node.map[0] + 1 if node is not None else 1
