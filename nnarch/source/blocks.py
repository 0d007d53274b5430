"""Blocks: what a frame of slide text is made of, format-neutral, as the Markdown parser builds them
and every renderer reads them. Inline text is a tuple of spans: ("text", s), ("code", s),
("math", s), ("em", spans), ("strong", spans), ("link", href, spans), ("break",)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nnarch.errors import rel


@dataclass(frozen=True)
class Para:
    spans: tuple
    line: int


@dataclass(frozen=True)
class Heading:
    spans: tuple
    line: int


@dataclass(frozen=True)
class ListBlock:
    items: tuple  # one tuple of blocks per item
    ordered: bool
    line: int
    incremental: bool = False  # ::: incremental: on the slides, one item per step


@dataclass(frozen=True)
class MathBlock:
    latex: str
    line: int


@dataclass(frozen=True)
class Figure:
    name: str
    caption: tuple
    alt: str
    line: int


@dataclass(frozen=True)
class Listing:
    name: str
    lines: tuple[int, int] | None
    caption: tuple | None
    line: int


@dataclass(frozen=True)
class Generated:
    """A table nnarch computes: params, shapes, variants or schedule."""

    kind: str
    line: int


@dataclass(frozen=True)
class Table:
    header: tuple
    rows: tuple
    line: int


@dataclass(frozen=True)
class Code:
    source: str
    line: int


@dataclass(frozen=True)
class Columns:
    columns: tuple  # one tuple of blocks per column
    line: int
    widths: tuple = ()  # each column's share of the text width, None where not given


@dataclass(frozen=True)
class Pause:
    """``. . .``: on the slides, what follows appears at the next step."""

    line: int


@dataclass(frozen=True)
class Fragment:
    """``::: fragment``: on the slides, these blocks appear at a step of their own."""

    blocks: tuple
    line: int


@dataclass(frozen=True)
class Frame:
    title: tuple
    plain_title: str
    blocks: tuple
    line: int
    notes: tuple = ()  # ::: notes: the speaker's, never shown to the audience
    minutes: float | None = None  # {minutes} N: its share of the lecture's slot


@dataclass(frozen=True)
class Exercise:
    title: str
    solution: str
    check: str | None
    prompt: tuple
    hints: tuple
    answer: tuple
    line: int
    tolerance: str | None = None  # '5%' or '3x': how far a student's answer may be from the build's


@dataclass(frozen=True)
class Doc:
    """One parsed Markdown file. `problems` are (line, message) pairs found while parsing."""

    path: Path
    title: str
    frames: tuple
    lab: tuple = ()
    exercises: tuple = ()
    topics_at: int | None = None  # lecture files: the index of the frame the topics come before
    minutes: int | None = None  # the lab part's share of the lab session
    problems: tuple = ()
    values: tuple = ()  # (line, path) of every {{value}}
    lab_answers: tuple = ()  # the lab part's own ::: answer: the instructor's answers to its steps
    pitfalls: tuple = ()  # the lab part's ::: pitfalls: what to expect, for the instructor edition

    def where(self, line: int) -> str:
        return f"{rel(self.path)}:{line}"


def walk(blocks):
    """Every block, columns and list items included, depth first."""
    for block in blocks:
        yield block
        if isinstance(block, Columns):
            for column in block.columns:
                yield from walk(column)
        elif isinstance(block, ListBlock):
            for item in block.items:
                yield from walk(item)
        elif isinstance(block, Fragment):
            yield from walk(block.blocks)


def text_spans(s: str) -> tuple:
    """Plain text as spans: what nnarch writes into a table or heading it composes."""
    return (("text", s),)


def plain(spans) -> str:
    """The text of spans without markup (math and code as written)."""
    out = []
    for span in spans:
        if span[0] in ("text", "code", "math"):
            out.append(span[1])
        elif span[0] in ("em", "strong"):
            out.append(plain(span[1]))
        elif span[0] == "link":
            out.append(plain(span[2]))
    return "".join(out)
