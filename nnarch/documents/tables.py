"""Tables: the rows of a Markdown table, and of the tables nnarch computes (parameters per layer,
traced shapes, the variants' comparison, the course schedule), as spans for any target."""

from __future__ import annotations

from typing import Any

from nnarch.errors import TopicError
from nnarch.source import markdown as md
from nnarch.source.blocks import text_spans
from nnarch.source.discover import lab_slot
from nnarch.source.values import format_value, lookup, range_spec, spread_paths


def table_rows(block: Any, ctx: Any) -> tuple[list[Any], list[Any]]:
    """Header and rows of a table block, as spans (numbers filled in from the run)."""
    r = ctx.results
    if isinstance(block, md.Table):
        return list(block.header), [list(row) for row in block.rows]
    code = lambda s: (("code", s),)  # noqa: E731
    bold = lambda s: (("strong", text_spans(s)),)  # noqa: E731
    if block.kind == "param":
        rows = [
            [
                code(layer["name"]),
                text_spans(" + ".join("×".join(map(str, s)) or "1" for s in layer["shapes"])),
                text_spans(format_value(layer["count"])),
            ]
            for layer in r["params"]["layers"]
        ]
        total = [bold("total"), (), bold(format_value(r["params"]["total"]))]
        return [text_spans(h) for h in ("layer", "tensors", "parameters")], rows + [total]
    if block.kind == "shape":

        def shape(s: list[int] | None) -> str:
            return "(" + ", ".join(map(str, s)) + ")" if s else "–"

        return [text_spans(h) for h in ("layer", "input", "output")], [
            [code(row["name"]), text_spans(shape(row["input"])), text_spans(shape(row["output"]))]
            for row in r["shapes"]
        ]
    if block.kind == "variant":
        return _variants(r)
    if block.kind == "schedule":
        return _schedule(ctx.course, ctx.lecture)
    raise TopicError(f"{ctx.where(block.line)}: unknown block {type(block).__name__}")


def _variants(r: dict) -> tuple[list, list]:
    """The model and its variants side by side: their final losses, or in a topic with seeds the
    median test loss across the seeds and its range."""
    models = {"this model": (r["params"]["architecture"], r["params"]["total"], r["history"])}
    models |= {name.replace("_", "-"): (v["architecture"], v["params"], v) for name, v in r["variants"].items()}
    if "seeds" not in r:
        rows = [
            [name, layers, format_value(n), format_value(h["final_train"]), format_value(h["final_test"])]
            for name, (layers, n, h) in models.items()
        ]
        header = ["model", "layers", "parameters", "final train loss", "final test loss"]
        return [text_spans(h) for h in header], [[text_spans(c) for c in row] for row in rows]
    paths = ["history"] + [f"variants.{name}" for name in r["variants"]]
    rows = []
    for (name, (layers, n, _)), path in zip(models.items(), paths):
        median, low, high = (lookup(r, p) for p in spread_paths(f"{path}.final_test"))
        spec = range_spec([median, low, high])
        shown = [format_value(v, spec) for v in (median, low, high)]
        rows.append([name, layers, format_value(n), shown[0], f"{shown[1]} to {shown[2]}"])
    header = ["model", "layers", "parameters", f"test loss, median of {r['seeds']['count']} seeds", "range"]
    return [text_spans(h) for h in header], [[text_spans(c) for c in row] for row in rows]


def _schedule(course, lecture) -> tuple[list, list]:
    """The course's lecture sessions, day by day, with this lecture's in bold followed by its lab's
    hour (LECTURE.lab's slot): the other labs and the breaks are left out, so that the whole week is
    readable on one frame."""

    def shown(cells):
        filled = [c for c in cells if c.strip()]
        return len(filled) * 2 > len(cells) and len(set(filled)) > 1 and not all(c.startswith("Lab") for c in filled)

    def cell(day, row, text):
        today = lecture is not None and (day, course.slots[row][0]) == (lecture.day, lecture.session)
        if not today:
            return text_spans(text)
        slot = lab_slot(lecture, course)  # the lab's own hour: the row shows the lecture's
        lab = (("break",), *text_spans(f"then its lab{f', {slot}' if slot else ''}")) if lecture.lab else ()
        return (("strong", (("em", text_spans(text)),)), *lab)

    rows = [
        [text_spans(time), *(cell(day, row, text) for day, text in enumerate(cells, start=1))]
        for row, (time, cells) in enumerate(course.slots)
        if shown(cells)
    ]
    return [text_spans(h) for h in ["", *course.days]], rows
