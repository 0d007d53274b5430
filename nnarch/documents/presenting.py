"""Presenting: what the presenter has beside the deck. The speaker notes as text (for pdfpc, which
reads a `.pdfpc` file next to the PDF), and the lecture's timing: each frame's
minutes against the slot, for the instructor edition and the HTML presenter view's pace."""

from __future__ import annotations

import functools
import json

from nnarch.source import markdown as md
from nnarch.source.blocks import text_spans


def notes_text(blocks, ctx) -> str:
    r"""Speaker notes as plain text with light Markdown (lists, `code`), values filled in; pdfpc shows
    Markdown but no maths, so formulas are written in Unicode (pylatexenc): $\pm 1$ as ±1."""
    out = []
    for block in blocks:
        if isinstance(block, (md.Para, md.Heading)):
            out.append(_spans(block.spans, ctx, block.line))
        elif isinstance(block, md.MathBlock):
            out.append(_unicode(ctx.fill(block.latex, block.line, math=True)))
        elif isinstance(block, md.ListBlock):
            items = [
                (f"{n}. " if block.ordered else "- ") + notes_text(item, ctx).replace("\n", "\n   ")
                for n, item in enumerate(block.items, start=1)
            ]
            out.append("\n".join(items))
    return "\n\n".join(out)


def _spans(spans, ctx, line: int) -> str:
    parts = []
    for span in spans:
        kind = span[0]
        if kind == "text":
            parts.append(ctx.fill(span[1], line))
        elif kind == "code":
            parts.append(f"`{ctx.fill(span[1], line)}`")
        elif kind == "math":
            parts.append(_unicode(ctx.fill(span[1], line, math=True)))
        elif kind in ("em", "strong"):
            mark = "*" if kind == "em" else "**"
            parts.append(mark + _spans(span[1], ctx, line) + mark)
        elif kind == "link":
            parts.append(f"{_spans(span[2], ctx, line)} ({span[1]})")
        elif kind == "break":
            parts.append("\n")
    return "".join(parts)


@functools.cache
def _unicode(latex: str) -> str:
    from pylatexenc.latex2text import LatexNodes2Text

    return LatexNodes2Text(math_mode="text").latex_to_text(latex).strip()


def pdfpc(deck: dict) -> str:
    """The deck's `.pdfpc` file (pdfpc's format 2): one entry per page of
    slides.pdf, each step a page, with the frame's notes and the lecture's duration."""
    pages: list[dict] = []

    def add(label: int, steps: int, note: str) -> None:
        for overlay in range(steps):
            page = {"idx": len(pages), "label": str(label), "overlay": overlay, "forcedOverlay": overlay > 0}
            pages.append({**page, "hidden": False, **({"note": note} if note else {})})

    add(1, 1, "")  # the title page
    add(2, 1, "")  # the outline
    label = 2
    for section in deck["sections"]:
        if section["title"]:
            label += 1
            add(label, 1, "")  # its divider
        for frame in section["frames"]:
            label = frame["number"]
            add(label, frame["steps"], frame["notes_text"])
    document: dict = {"pdfpcFormat": 2, "disableMarkdown": False}
    if deck.get("slot"):
        document["duration"] = deck["slot"]
    return json.dumps({**document, "pages": pages}, indent=1, ensure_ascii=False) + "\n"


def timing_table(numbered: list) -> md.Table | None:
    """The lecture's time plan: each frame's number, title and minutes, and the minute it should end
    at; None for a lecture whose frames declare no minutes."""
    rows: list[tuple] = []
    elapsed = 0.0
    for section, frames, _ in numbered:
        for i, (number, frame) in enumerate(frames):
            if frame.minutes is None:
                return None
            elapsed += frame.minutes
            name = "" if i else section or ("Opening" if not rows else "")  # each section named once
            minutes, end = text_spans(f"{frame.minutes:g}"), text_spans(f"{elapsed:g}")
            rows.append((text_spans(str(number)), text_spans(name), frame.title, minutes, end))
    if not rows:
        return None
    return md.Table(
        tuple(text_spans(h) for h in ("frame", "section", "title", "minutes", "ends at minute")), tuple(rows), 1
    )
