"""Markdown: parse a topic's (or a lecture's) slide text into frames of format-neutral blocks.

One dialect, parsed by markdown-it-py with mdit-py-plugins; nothing here imports torch:

- ``# Title`` (first line of a topic file): the topic's section title; ``# Lab`` starts the lab part.
- ``## Title`` starts a frame (in the lab part: an exercise); ``### Heading`` is a heading inside it.
- ``:::: columns`` holding ``::: column`` blocks splits a frame (the outer fence needs more colons).
- ``$…$`` and ``$$…$$`` math (``\\\\`` and ``&`` align the lines of a display); ``costs $5 and $10``
  stays text; ``\\$`` and ``\\*`` are the characters themselves.
- ``{{metrics.test_mse}}``: a value from the run; ``![caption](name){fig-alt="…"}``: a figure of the topic.
- Fenced directives for what nnarch computes: ```` ```{listing} MLP ```` (options ``:lines: 3-9``,
  ``:caption: …``), ``{param-table}``, ``{shape-table}``, ``{variant-table}``, ``{schedule}``,
  ``{exercise} solution_function`` (option ``:check: check_function``) and, in a lecture's file,
  ``{topics}`` where the topics' frames go.
- In an exercise: ``::: hints`` and ``::: answer`` (the answer is for the instructor edition only);
  an ``::: answer`` in the lab part before its exercises answers the questions of its steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown_it.tree import SyntaxTreeNode

from nnarch.errors import did_you_mean
from nnarch.files import read_source
from nnarch.source.blocks import (  # noqa: F401 - the blocks this parser builds, read as md.Para etc.
    Code,
    Columns,
    Doc,
    Exercise,
    Figure,
    Frame,
    Generated,
    Heading,
    ListBlock,
    Listing,
    MathBlock,
    Para,
    Table,
    plain,
    walk,
)
from nnarch.source.dialect import parser
from nnarch.source.values import VALUE_REF, read_paths

DIRECTIVES = ("listing", "param-table", "shape-table", "variant-table", "schedule", "exercise", "topics", "minutes")
CONTAINERS = ("columns", "column", "hints", "answer")
_OPTION = re.compile(r"^:([\w-]+):\s*(.*)$")


_MD = parser()


def parse_file(path: Path) -> Doc:
    """Parse one .md file; syntax problems are collected in `Doc.problems` (not text: a TopicError)."""
    return parse(read_source(path), Path(path))


def parse(text: str, path: Path) -> Doc:
    builder = _Builder(path)
    return builder.build(SyntaxTreeNode(_MD.parse(text)))


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
        lab: list[Any] = []
        lab_answers: list[Any] = []
        exercises: list[Exercise] = []
        part, body = "slides", list[Any]()
        current: tuple[Any, ...] | None = None

        def close():
            nonlocal current, body
            if current is not None:
                if part == "slides":
                    for stray in [b for b in body if isinstance(b, (_ExerciseDirective, _Box))]:
                        self.problem(
                            stray.line or current[2],
                            "{exercise}, ::: hints and ::: answer belong to exercises, after '# Lab'",
                        )
                    body = [b for b in body if not isinstance(b, (_ExerciseDirective, _Box))]
                    frames.append(Frame(current[0], current[1], tuple(body), current[2]))
                else:
                    exercises.append(self.exercise(current, body))
            elif body and part == "lab":  # before its exercises; its ::: answer is the instructor's
                answers = [b for b in body if isinstance(b, _Box) and b.kind == "answer"]
                lab.extend(b for b in body if not isinstance(b, (_ExerciseDirective, _Box)))
                lab_answers.extend(block for box in answers for block in box.blocks)
                for stray in [b for b in body if isinstance(b, (_ExerciseDirective, _Box)) and b not in answers]:
                    self.problem(stray.line or 1, "::: hints and {exercise} belong to an exercise, a '## Title'")
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
            elif node.type == "fence" and _directive(node)[0] == "topics":
                close()
                topics_at = len(frames)
            else:
                body.extend(self.blocks([node], current))
        close()
        return Doc(
            self.path,
            title,
            tuple(frames),
            tuple(lab),
            tuple(exercises),
            topics_at,
            minutes=self.minutes,
            problems=tuple(sorted(self.problems)),
            values=tuple(self.values),
            lab_answers=tuple(lab_answers),
        )

    def exercise(self, current, body) -> Exercise:
        title, line = current[1], current[2]
        directives = [b for b in body if isinstance(b, _ExerciseDirective)]
        if len(directives) != 1:
            self.problem(
                line,
                f"exercise '{title}': expected one ```{{exercise}} solution_function``` "
                "naming the function that solves it",
            )
        found = directives[0] if directives else _ExerciseDirective("", None, line)
        hints = tuple(b for c in body if isinstance(c, _Box) and c.kind == "hints" for b in c.blocks)
        answer = tuple(b for c in body if isinstance(c, _Box) and c.kind == "answer" for b in c.blocks)
        prompt = tuple(b for b in body if not isinstance(b, (_ExerciseDirective, _Box)))
        return Exercise(title, found.solution, found.check, prompt, hints, answer, line)

    # ----------------------------------------------------------------------------------------------
    # Blocks

    def blocks(self, nodes, frame) -> list:
        out = []
        for node in nodes:
            block = self.block(node, frame)
            if block is not None:
                out.append(block)
        return out

    def block(self, node, frame):
        line = _line(node)
        kind = node.type
        if kind == "paragraph":
            inline = node.children[0]
            figure = self.figure(inline)
            return figure if figure is not None else Para(self.spans(inline), line)
        if kind == "heading":
            return Heading(self.spans(node.children[0]), line)
        if kind in ("bullet_list", "ordered_list"):
            items = tuple(tuple(self.blocks(item.children, frame)) for item in node.children)
            return ListBlock(items, kind == "ordered_list", line)
        if kind == "math_block":
            self.scan(node.content, line)
            return MathBlock(node.content.strip(), line)
        if kind == "math_block_label":
            self.problem(node, "labelled display math ($$ … $$ (label)) is not supported; drop the label")
            return None
        if kind == "fence":
            return self.fence(node, frame)
        if kind == "code_block":
            return Code(node.content.rstrip("\n"), line)
        if kind == "table":
            return self.table(node)
        if kind == "container_block":
            return self.container(node, frame)
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

    def fence(self, node, frame=None):
        line = _line(node)
        name, argument = _directive(node)
        if name is None:
            return Code(node.content.rstrip("\n"), line)
        options = {}
        for text in node.content.splitlines():
            match = _OPTION.match(text.strip())
            if match:
                options[match.group(1)] = match.group(2).strip()
            elif text.strip():
                self.problem(line, f"{{{name}}}: '{text.strip()}' is not an option; write ':name: value'")
        if name not in DIRECTIVES:
            self.problem(
                line,
                f"unknown directive '{{{name}}}'{did_you_mean(name, DIRECTIVES)}; the "
                f"directives are {', '.join(DIRECTIVES)}",
            )
            return None
        allowed = {"listing": ("lines", "caption"), "exercise": ("check",)}.get(name, ())
        for option in options:
            if option not in allowed:
                self.problem(line, f"{{{name}}}: unknown option ':{option}:'{did_you_mean(option, allowed)}")
        if name in ("listing", "exercise") and not argument:
            what = "a class or function of the module" if name == "listing" else "its solution function"
            self.problem(line, f"{{{name}}}: name {what} after the braces")
        if name == "listing":
            caption = options.get("caption") and self.spans_of(options["caption"], line)
            return Listing(argument, self.line_range(options.get("lines"), line), caption or None, line)
        if name == "exercise":
            return _ExerciseDirective(argument, options.get("check"), line)
        if name == "topics":
            self.problem(line, "{topics} belongs between frames of a lecture's Markdown file")
            return None
        if name == "minutes":
            if frame is not None or not argument.isdigit():
                self.problem(
                    line,
                    "{minutes} N: the lab part's minutes, a whole number, after '# Lab' and before its first exercise",
                )
            else:
                self.minutes = int(argument)
            return None
        return Generated(name.removesuffix("-table"), line)

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

    def line_range(self, text, line):
        if text is None:
            return None
        match = re.fullmatch(r"(\d+)\s*-\s*(\d+)", text)
        if not match or int(match.group(1)) < 1 or int(match.group(2)) < int(match.group(1)):
            self.problem(line, f"{{listing}}: ':lines: {text}': expected a range like 3-12")
            return None
        return int(match.group(1)), int(match.group(2))

    def table(self, node):
        rows = []
        for section in node.children:
            for row in section.children:
                rows.append(tuple(self.spans(cell.children[0]) if cell.children else () for cell in row.children))
        return Table(rows[0], tuple(rows[1:]), _line(node))

    def container(self, node, frame):
        name = node.info.strip().split()[0] if node.info.strip() else ""
        line = _line(node)
        if name not in CONTAINERS:
            self.problem(
                line,
                f"unknown container '::: {name}'{did_you_mean(name, CONTAINERS)}; the "
                f"containers are {', '.join(CONTAINERS)}",
            )
            return None
        if name == "columns":
            columns = [
                c for c in node.children if c.type == "container_block" and c.info.strip().split()[0] == "column"
            ]
            if len(columns) != len(node.children) or not columns:
                self.problem(line, ":::: columns holds only '::: column' blocks")
            widths = tuple(self.column_width(c) for c in columns)
            if sum(w or 0 for w in widths) > 0.96 + 1e-9:
                self.problem(line, "the columns' widths add up to more than 96%; leave room between them")
            return Columns(tuple(tuple(self.blocks(c.children, frame)) for c in columns), line, widths)
        if name == "column":
            self.problem(
                line,
                "'::: column' outside ':::: columns'; open the columns with four colons "
                "(:::: columns … ::::) so that the inner ':::' do not close them",
            )
            return None
        return _Box(name, tuple(self.blocks(node.children, frame)), line)

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
        self.values += [(line, p) for m in VALUE_REF.finditer(text) for p in read_paths(m.group(1), m.group(2))]


@dataclass(frozen=True)
class _ExerciseDirective:
    solution: str
    check: str | None
    line: int


@dataclass(frozen=True)
class _Box:
    kind: str
    blocks: tuple
    line: int = 0


def _directive(node) -> tuple[str | None, str]:
    match = re.match(r"^\{([^}]*)\}\s*(.*)$", node.info.strip())
    if not match:
        return None, ""
    return match.group(1).strip(), match.group(2).strip()


def _line(node) -> int:
    while node is not None and not node.map:
        node = node.parent
    return node.map[0] + 1 if node is not None else 1


def inline(text: str) -> tuple:
    """Spans of one line of inline Markdown (table cells and tests); problems are ignored."""
    return _Builder(Path("<inline>")).spans_of(text, 1)
