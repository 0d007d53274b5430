"""Tables: the rows of a Markdown table, and of the tables nnarch computes (parameters per layer,
traced shapes, the variants' comparison, the course schedule), as spans for any target."""

from __future__ import annotations

from typing import Any

from nnarch.errors import TopicError
from nnarch.source import markdown as md
from nnarch.source.values import format_value


def _text(s: str) -> tuple:
    return (("text", s),)


def table_rows(block: Any, ctx: Any) -> tuple[list[Any], list[Any]]:
    """Header and rows of a table block, as spans (numbers filled in from the run)."""
    r = ctx.results
    if isinstance(block, md.Table):
        return list(block.header), [list(row) for row in block.rows]
    code = lambda s: (("code", s),)  # noqa: E731
    bold = lambda s: (("strong", _text(s)),)  # noqa: E731
    if block.kind == "param":
        rows = [
            [
                code(layer["name"]),
                _text(" + ".join("×".join(map(str, s)) or "1" for s in layer["shapes"])),
                _text(format_value(layer["count"])),
            ]
            for layer in r["params"]["layers"]
        ]
        total = [bold("total"), (), bold(format_value(r["params"]["total"]))]
        return [_text(h) for h in ("layer", "tensors", "parameters")], rows + [total]
    if block.kind == "shape":

        def shape(s: list[int] | None) -> str:
            return "(" + ", ".join(map(str, s)) + ")" if s else "–"

        return [_text(h) for h in ("layer", "input", "output")], [
            [code(row["name"]), _text(shape(row["input"])), _text(shape(row["output"]))] for row in r["shapes"]
        ]
    if block.kind == "variant":
        texts = [
            [
                "this model",
                r["params"]["architecture"],
                format_value(r["params"]["total"]),
                f"{r['history']['final_train']:.2e}",
                f"{r['history']['final_test']:.2e}",
            ]
        ]
        texts += [
            [
                name.replace("_", "-"),
                v["architecture"],
                format_value(v["params"]),
                f"{v['final_train']:.2e}",
                f"{v['final_test']:.2e}",
            ]
            for name, v in r["variants"].items()
        ]
        header = ["model", "layers", "parameters", "final train loss", "final test loss"]
        return [_text(h) for h in header], [[_text(c) for c in row] for row in texts]
    if block.kind == "schedule":
        return _schedule(ctx.course, ctx.lecture)
    raise TopicError(f"{ctx.where(block.line)}: unknown block {type(block).__name__}")


def _schedule(course, lecture) -> tuple[list, list]:
    """The course's lecture sessions, day by day, with this lecture's in bold: labs and breaks are
    left out, so that the whole week is readable on one frame."""

    def shown(cells):
        filled = [c for c in cells if c.strip()]
        return len(filled) * 2 > len(cells) and len(set(filled)) > 1 and not all(c.startswith("Lab") for c in filled)

    def cell(day, time, text):
        today = lecture is not None and (day, time) == (lecture.day, lecture.session)
        return (("strong", (("em", _text(text)),)),) if today else _text(text)

    rows = [
        [_text(time), *(cell(day, time, text) for day, text in enumerate(cells, start=1))]
        for time, cells in course.slots
        if shown(cells)
    ]
    return [_text(h) for h in ["", *course.days]], rows
