"""Scaffold: `nnarch new` writes a topic that builds in its lecture as it is: a module and its
Markdown from templates/, the topic added to the lecture's `topics`, and, in a lecture with a lab,
a lab part with an exercise and a time of its own that keeps the lab plan adding up."""

from __future__ import annotations

import ast
from pathlib import Path

import jinja2

from nnarch import TEMPLATES
from nnarch.errors import UsageError
from nnarch.source.discover import choose, discover, timed_frames


def new_topic(lectures: Path, lecture: str | None, name: str, title: str) -> list[str]:
    """Write NAME.py and NAME.md into the lecture's folder (LECTURE: that folder or the lecture's
    slug; none: the only lecture) and add NAME to its topics; the lines to tell the author what was
    done and what is left."""
    if not (name.isidentifier() and name.isascii()):
        raise UsageError(f"new: '{name}' is not a valid module name; use ASCII letters, digits and _")
    if lecture and (lectures / lecture).is_dir() and not (lectures / lecture / "__init__.py").exists():
        raise UsageError(f"new: {lectures / lecture} is not a lecture (no __init__.py); create its LECTURE first")
    found = choose(discover(lectures), lecture, lectures)
    folder = found.path
    targets = [folder / f"{name}.py", folder / f"{name}.md"]
    for target in targets:
        if target.exists():
            raise UsageError(f"new: {target} already exists; pick another name")
    init = folder / "__init__.py"
    declaration = _with_topic(init.read_text(), name, init)  # before anything is written
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True
    )
    lab = bool(found.lecture.lab)
    timed = any(frame.minutes is not None for _, frame in timed_frames(found.doc, found.topics))
    for target in targets:
        target.write_text(
            env.get_template(f"topic{target.suffix}.j2").render(
                name=f'"{name}"', title=title or name.replace("_", " ").title(), lab=lab, timed=timed
            )
        )
    init.write_text(declaration)
    told = [f"wrote {targets[0]} and {targets[1]}, and added '{name}' to the topics in {init}"]
    if lab:
        parts = {"lecture.md": found.doc.minutes, **{f"{s.name}.md": s.doc.minutes for s in found.topics}}
        told.append(
            "its lab part has 0 minutes, so that the lab plan still adds up to the session; once "
            "its exercises are yours, move minutes to it from the others' {minutes} ("
            + ", ".join(f"{part} {minutes}" for part, minutes in parts.items() if minutes)
            + ")"
        )
    if timed:
        told.append(
            "its frame has 0 minutes, so that the lecture's frames still add up to its slot; give it "
            "minutes from the other frames' {minutes} when you present it"
        )
    told.append("next: 'nnarch build' shows its frame; edit both files to make it yours")
    return told


def _with_topic(source: str, name: str, path: Path) -> str:
    """The lecture's __init__.py with NAME appended to the topics=(...) of its Lecture(...)."""
    lines = source.splitlines(keepends=True)

    def offset(line: int | None, column: int | None) -> int:
        """The character offset in `source` of ast's (line, column), whose column counts UTF-8 bytes."""
        before = lines[(line or 1) - 1].encode()[: column or 0].decode()
        return sum(len(text) for text in lines[: (line or 1) - 1]) + len(before)

    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.keyword) and node.arg == "topics" and isinstance(node.value, (ast.Tuple, ast.List)):
            if not node.value.elts:
                at = offset(node.value.end_lineno, node.value.end_col_offset)
                return _parsed(source[: at - 1] + f'"{name}",' + source[at - 1 :], path)
            last = node.value.elts[-1]
            at = offset(last.end_lineno, last.end_col_offset)
            quote = source[offset(last.lineno, last.col_offset)]  # the file's own quotes
            return _parsed(source[:at] + f", {quote}{name}{quote}" + source[at:], path)
    raise UsageError(f"new: {path}: found no topics=(...) in its Lecture(...); add '{name}' to it yourself")


def _parsed(source: str, path: Path) -> str:
    """The new declaration, once Python reads it: a file nnarch cannot edit is left as it was."""
    try:
        ast.parse(source, str(path))
    except SyntaxError:
        raise UsageError(f"new: {path}: cannot add the topic to its topics=(...) here; add it yourself") from None
    return source
