"""Fenced directives: ```{name} argument``` blocks, with ``:option: value`` lines, for what nnarch
computes or reads from a frame (listings, tables, exercises, minutes). Called by the Markdown
parser (markdown.py), whose `problem` collects what is wrong, by line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nnarch.errors import did_you_mean
from nnarch.source.blocks import Code, Generated, Listing

DIRECTIVES = ("listing", "param-table", "shape-table", "variant-table", "schedule", "exercise", "topics", "minutes")
_OPTION = re.compile(r"^:([\w-]+):\s*(.*)$")
_MINUTES = re.compile(r"\d+(\.\d+)?")
_TOLERANCE = re.compile(r"(\d+(\.\d+)?)\s*(%|x)")


@dataclass(frozen=True)
class ExerciseDirective:
    solution: str
    check: str | None
    line: int
    tolerance: str | None = None  # '5%' or '3x': how far a student's answer may be from the build's


@dataclass(frozen=True)
class Minutes:
    """```{minutes} N```: a frame's share of the lecture's slot, or the lab part's of the lab."""

    minutes: float
    line: int


def directive(node) -> tuple[str | None, str]:
    """(name, argument) of a fence whose info string is ``{name} argument``; (None, "") for code."""
    match = re.match(r"^\{([^}]*)\}\s*(.*)$", node.info.strip())
    if not match:
        return None, ""
    return match.group(1).strip(), match.group(2).strip()


def fence(builder, node, line: int):
    """The block a fence stands for: code, a directive's block, or None (with a problem noted)."""
    name, argument = directive(node)
    if name is None:
        return Code(node.content.rstrip("\n"), line)
    options = {}
    for text in node.content.splitlines():
        match = _OPTION.match(text.strip())
        if match:
            options[match.group(1)] = match.group(2).strip()
        elif text.strip():
            builder.problem(line, f"{{{name}}}: '{text.strip()}' is not an option; write ':name: value'")
    if name not in DIRECTIVES:
        builder.problem(
            line,
            f"unknown directive '{{{name}}}'{did_you_mean(name, DIRECTIVES)}; "
            f"the directives are {', '.join(DIRECTIVES)}",
        )
        return None
    allowed = {"listing": ("lines", "caption"), "exercise": ("check", "tolerance")}.get(name, ())
    for option in options:
        if option not in allowed:
            builder.problem(line, f"{{{name}}}: unknown option ':{option}:'{did_you_mean(option, allowed)}")
    if name in ("listing", "exercise") and not argument:
        what = "a class or function of the module" if name == "listing" else "its solution function"
        builder.problem(line, f"{{{name}}}: name {what} after the braces")
    if name == "listing":
        caption = options.get("caption") and builder.spans_of(options["caption"], line)
        return Listing(argument, line_range(builder, options.get("lines"), line), caption or None, line)
    if name == "exercise":
        tolerance = options.get("tolerance")
        tolerance = tolerance and _tolerance(builder, tolerance, line)
        return ExerciseDirective(argument, options.get("check"), line, tolerance)
    if name == "topics":
        builder.problem(line, "{topics} belongs between frames of a lecture's Markdown file")
        return None
    if name == "minutes":
        if not _MINUTES.fullmatch(argument):
            builder.problem(line, f"{{minutes}} '{argument}': write the minutes as a number, e.g. ```{{minutes}} 2```")
            return None
        return Minutes(float(argument), line)
    return Generated(name.removesuffix("-table"), line)


def _tolerance(builder, text: str, line: int) -> str | None:
    """':tolerance: 5%' or ':tolerance: 3x', as '5%' or '3x'; None, with a problem noted, else."""
    match = _TOLERANCE.fullmatch(text)
    if match and (0 < float(match.group(1)) < 100 if match.group(3) == "%" else float(match.group(1)) > 1):
        return match.group(1) + match.group(3)
    builder.problem(
        line,
        f"{{exercise}}: ':tolerance: {text}': write a share, e.g. 5% (an answer from training, which "
        "another CPU rounds differently), or a factor above 1, e.g. 3x (a training that amplifies that)",
    )
    return None


def line_range(builder, text, line):
    if text is None:
        return None
    match = re.fullmatch(r"(\d+)\s*-\s*(\d+)", text)
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < int(match.group(1)):
        builder.problem(line, f"{{listing}}: ':lines: {text}': expected a range like 3-12")
        return None
    return int(match.group(1)), int(match.group(2))
