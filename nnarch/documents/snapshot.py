"""Snapshot: what a lecture's release shows, as plain data (`snapshot.json`), so that `nnarch diff`
can say what changed against an accepted baseline: each frame's words (values left as their
``{{path}}``), every value a frame shows with the number behind it, the numbers of the handout, the
claims, parameter counts and traced shapes, and which figures each frame holds. No path, host or
time: the same release gives the same bytes on any machine."""

from __future__ import annotations

import json
from numbers import Number
from typing import Any

from nnarch.documents.deck import number_frames, parts
from nnarch.source import markdown as md
from nnarch.source.values import VALUE_REF, MissingValue, fill, lookup


def snapshot(lecture, course, runs: list) -> dict[str, Any]:
    tolerances = {run.name: run.manifest.get("tolerances", {}) for run in runs}
    frames = []
    for section, items, ctx in number_frames(parts(lecture, course, runs)):
        file = ctx.doc.path.name if ctx.doc else ""
        topic = file.removesuffix(".md") if ctx.outline else None
        for number, frame in items:
            texts: list[str] = []
            figures: list[str] = []
            _collect(frame.blocks, ctx, texts, figures)
            words = "\n".join([frame.plain_title, *texts])
            frames.append(
                {
                    "key": f"{file}: {frame.plain_title}",
                    "number": number,
                    "section": section or "",
                    "title": frame.plain_title,
                    "text": words,
                    "values": _values(words, ctx.results, topic, tolerances),
                    "figures": [f"{topic}-{name}" for name in figures] if topic else [],
                }
            )
    topics = {}
    for run in runs:
        results = run.results
        topics[run.name] = {
            "params": results["params"]["total"],
            "layers": {layer["name"]: layer["count"] for layer in results["params"].get("layers", [])},
            "shapes": results.get("shapes", []),
            "claims": [
                {"text": c.text, "measured": c.measured, "bound": c.bound, "ok": c.ok, "held": c.held, "runs": c.runs}
                | {"kind": "metric:claim"}  # a measured value: a metric's tolerance
                for c in run.claims
            ],
            "handout": _handout_numbers(results, tolerances[run.name]),
            "figures": sorted(f"{run.name}-{name}" for name in run.figures),
        }
    return {"lecture": lecture.lecture.slug, "frames": frames, "topics": topics}


def dumps(data: dict) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _collect(blocks, ctx, texts: list[str], figures: list[str]) -> None:
    """The words of blocks as lines, and the names of the figures among them."""
    for block in blocks:
        if isinstance(block, (md.Para, md.Heading)):
            texts.append(md.plain(block.spans))
        elif isinstance(block, md.ListBlock):
            for item in block.items:
                _collect(item, ctx, texts, figures)
        elif isinstance(block, md.MathBlock):
            texts.append(block.latex)
        elif isinstance(block, md.Figure):
            figures.append(block.name)
            texts.append(f"[figure {block.name}] {md.plain(block.caption)}")
        elif isinstance(block, md.Listing) and ctx.outline:
            texts.append(ctx.outline.listing(block.name, block.lines))
        elif isinstance(block, md.Code):
            texts.append(block.source)
        elif isinstance(block, md.Generated):
            texts.append(f"[{block.kind} table]")
        elif isinstance(block, md.Table):
            texts += [" | ".join(md.plain(cell) for cell in row) for row in (block.header, *block.rows)]
        elif isinstance(block, md.Columns):
            for column in block.columns:
                _collect(column, ctx, texts, figures)
        elif isinstance(block, md.Fragment):
            _collect(block.blocks, ctx, texts, figures)


def _values(text: str, results: dict, topic: str | None, tolerances: dict) -> list[dict]:
    """Each {{value}} of a frame: as shown, and the number behind it with its kind (and its
    topic's tolerance for a metric that declares one)."""
    found = []
    for match in VALUE_REF.finditer(text):
        try:
            shown = fill(match.group(0), results)
            value = lookup(results, match.group(1))
        except MissingValue:
            continue
        path = match.group(1)
        owner = path.split(".")[1] if path.startswith("topics.") else topic
        found.append({"ref": match.group(0), "shown": shown, **_number(path, value, tolerances.get(owner or "", {}))})
    return found


def _number(path: str, value, tolerances: dict) -> dict[str, Any]:
    """A number's value and kind, with its metric's declared tolerance if any; {} for what is no
    number."""
    if not isinstance(value, Number) or isinstance(value, bool):
        return {}
    kind = _kind(path, value)
    entry: dict[str, Any] = {"value": value, "kind": kind}
    if kind.startswith("metric:") and kind.removeprefix("metric:") in tolerances:
        entry["tolerance"] = tolerances[kind.removeprefix("metric:")]
    return entry


def _kind(path: str, value) -> str:
    last = path.rsplit(".", maxsplit=1)[-1]
    if isinstance(value, int) and not path.startswith(("metrics", "seeds")):
        return "count"
    if ".metrics." in f".{path}" or last.startswith("final_"):
        return f"metric:{last}"
    return "number"


def _handout_numbers(results: dict, tolerances: dict) -> list[dict]:
    """The numbers of the handout's "results to reproduce" and of the exercises' answers."""
    numbers = [("params.total", results["params"]["total"])]
    numbers += [(f"metrics.{k}", v) for k, v in results.get("metrics", {}).items()]
    numbers += [
        (f"history.{k}", results["history"][k]) for k in ("final_train", "final_test") if k in results["history"]
    ]
    for name, answer in results.get("answers", {}).items():
        values = answer if isinstance(answer, list) else [answer]
        numbers += [
            (f"answers.{name}" + (f".{i}" if isinstance(answer, list) else ""), v) for i, v in enumerate(values)
        ]
    return [{"ref": path, **entry} for path, value in numbers if (entry := _number(path, value, tolerances))]
