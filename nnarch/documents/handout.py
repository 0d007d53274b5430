"""Handouts: the lab handout of a lecture, per topic its goal, code, recipe, results and exercises.

Built in two editions from the same content: the student edition has the exercises' prompts and
hints; the instructor edition adds their solutions and ends in a provenance table. Each page's
footer gives nnarch's version, the commit, the build time, torch's version and the device.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from nnarch import __version__
from nnarch.documents.deck import number_frames, parts
from nnarch.documents.launch import launch_links
from nnarch.documents.presenting import timing_table
from nnarch.documents.render import Context, Html, Tex, blocks_view
from nnarch.layout import HANDOUT_WIDTH
from nnarch.source import markdown as md
from nnarch.source.blocks import text_spans
from nnarch.source.values import format_spread, format_value, lookup, range_spec, spread_paths
from nnarch.toolchain import package_version


def provenance(lectures: Path, device: str) -> dict:
    """Where the numbers come from: packages, commit, device and time of this build."""
    try:
        commit = (
            subprocess.run(
                ["git", "describe", "--always", "--dirty", "--abbrev=10"],
                cwd=lectures,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.TimeoutExpired):
        commit = "unknown"
    # reproducible-builds.org: SOURCE_DATE_EPOCH fixes every date a build writes
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)
    return {
        "commit": commit,
        "device": device,
        "built": when.strftime("%Y-%m-%d"),
        "versions": {
            "python": platform.python_version(),
            "torch": package_version("torch"),
            "torch-geometric": package_version("torch-geometric"),
            "nnarch": __version__,
        },
    }


def assemble_handout(lecture, course, runs: list, prov: dict, instructor: bool) -> dict:
    """Template variables of both targets for one edition of the handout: a lab sheet (objectives,
    time plan, per topic the steps, what to reproduce and the exercises); the instructor edition
    adds the answers with their numbers and the build's checks."""
    views = {}
    overview = Context(lecture.doc, {"topics": {run.name: run.results for run in runs}}, {}, course)
    for target in (Tex(), Html()):
        intro = blocks_view([*lecture.doc.lab, _plan(lecture, runs)], overview, target, HANDOUT_WIDTH)
        sections = []
        for run in runs:
            doc = run.source.doc
            ctx = Context(doc, run.results, run.figures, course, run.source.outline)
            figures = [
                md.Figure(b.name, b.caption, b.alt, b.line)
                for frame in doc.frames
                for b in md.walk(frame.blocks)
                if isinstance(b, md.Figure)
            ]
            sections.append(
                {
                    "title": target.inline(((("text", doc.title),)), ctx),
                    "blocks": blocks_view(_blocks(run, instructor), ctx, target, HANDOUT_WIDTH),
                    "figures": blocks_view(figures, ctx, target, HANDOUT_WIDTH),
                    "exercises": [
                        _exercise(e, n, ctx, target, instructor) for n, e in enumerate(doc.exercises, start=1)
                    ],
                    "notebook": f"notebooks/{run.name}.ipynb",  # as students have it
                    "href": f"{'../' if instructor else ''}notebooks/{run.name}.ipynb",  # from instructor/ too
                    "launch": target.inline(_launch(course, lecture.lecture.slug, run.name), ctx),
                    "seed": run.manifest["recipe"]["seed"],
                    "device": run.manifest["device"],
                }
            )
        views[target.name] = {
            "presenting": _presenting(lecture, course, runs, target) if instructor else None,
            "title": lecture.lecture.title,
            "course": course.title,
            "lab": lecture.lecture.lab or f"Lab: {lecture.lecture.title}",
            "day": lecture.lecture.day,
            "instructor": instructor,
            "intro": intro,
            "sections": sections,
            "provenance": prov,
        }
    return views


def _presenting(lecture, course, runs: list, target) -> dict:
    """The instructor's part on presenting the lecture: its time plan and each frame's notes."""
    numbered = number_frames(parts(lecture, course, runs))
    table = timing_table(numbered)
    overview = Context(lecture.doc, {"topics": {run.name: run.results for run in runs}}, {}, course)
    pitfalls = [_lead("Pitfalls to expect"), *lecture.doc.pitfalls]
    return {
        "timing": blocks_view([table], overview, target, HANDOUT_WIDTH) if table else [],
        "pitfalls": blocks_view(pitfalls, overview, target, HANDOUT_WIDTH) if lecture.doc.pitfalls else [],
        "frames": [
            {
                "title": target.inline(
                    (
                        ("text", f"{number}. "),
                        *frame.title,
                        ("text", f" ({frame.minutes:g} min)" if frame.minutes else ""),
                    ),
                    ctx,
                    frame.line,
                ),
                "blocks": blocks_view(frame.notes, ctx, target, HANDOUT_WIDTH),
            }
            for _, frames, ctx in numbered
            for number, frame in frames
            if frame.notes
        ],
    }


def _launch(course, slug: str, name: str) -> tuple:
    """' Open it in Colab, Binder, JupyterHub.' as spans, for a course that says where its notebooks live."""
    links = launch_links(course.launch, slug, f"{name}.ipynb")
    if not links:
        return ()
    spans: list = [("text", " Open it in ")]
    for i, (label, url) in enumerate(links):
        spans += [("text", ", " if i else ""), ("link", url, text_spans(label))]
    return (*spans, ("text", "."))


def _lead(words: str) -> md.Para:
    """A bold line that opens a part of the instructor edition."""
    return md.Para((("strong", text_spans(words)),), 1)


def _plan(lecture, runs) -> md.Table:
    """The time plan of the lab session: the lecture's own part and each topic's, in minutes."""
    parts = [("Start and end (see above)", lecture.doc.minutes or 0)]
    parts += [(run.source.title, run.source.doc.minutes or 0) for run in runs]
    rows = [(text_spans(name), text_spans(str(minutes))) for name, minutes in parts]
    total = sum(minutes for _, minutes in parts)
    rows.append(((("strong", text_spans("Total")),), (("strong", text_spans(f"{total} minutes")),)))
    return md.Table((text_spans("Time plan"), text_spans("minutes")), tuple(rows), 1)


def label(name: str) -> str:
    """A metric's name in words: 'test_accuracy' → 'test accuracy', 'roc_auc' → 'ROC AUC'."""
    return " ".join(w.upper() if w in ("mse", "rms", "roc", "auc", "mae") else w for w in name.split("_"))


def _metric(results: dict, name: str) -> str:
    """A metric of the run shown, and in a topic with seeds its median and range across them, the
    four numbers in one format (0.830 beside 0.815, not 0.83)."""
    own, path = results["metrics"][name], f"metrics.{name}"
    if "seeds" not in results:
        return format_value(own)
    spec = range_spec([own, *(lookup(results, p) for p in spread_paths(path))])
    return f"{format_value(own, spec)} (seed {results['recipe']['seed']}); {format_spread(results, path, spec)}"


def _verdict(claim) -> tuple:
    words = "holds" if claim.ok else "fails"
    words += f" at {claim.held} of {claim.runs} seeds" if claim.runs else ""
    return text_spans(words) if claim.ok else (("em", text_spans(words)),)


def _blocks(run, instructor: bool) -> list:
    results, recipe, model = run.results, run.manifest["recipe"], run.manifest["model_class"]
    rows = [[text_spans("parameters"), text_spans(format_value(results["params"]["total"]))]]
    history = results["history"]
    rows += [[text_spans(label(name)), text_spans(_metric(results, name))] for name in results["metrics"]]
    rows += [
        [
            text_spans("final train / test loss"),
            text_spans(f"{format_value(history['final_train'])} / {format_value(history['final_test'])}"),
        ]
    ]
    claims = [
        [
            text_spans(c.text),
            text_spans(format_value(c.measured)),
            text_spans("" if c.bound is None else format_value(c.bound)),
            _verdict(c),
        ]
        for c in run.claims
    ]
    header = ["loss", "optimizer", "learning rate", "epochs", "batch size", "seed"]
    values = [
        recipe["loss"],
        recipe["optimizer"],
        f"{recipe['lr']:g}",
        str(recipe["epochs"]),
        str(recipe["batch_size"]),
        str(recipe["seed"]),
    ]
    at_seed = f" at seed {recipe['seed']}" if "seeds" in results else ""
    doc = run.source.doc
    answers = [_lead("Answers to the steps"), *doc.lab_answers] if instructor else []
    pitfalls = [_lead("Pitfalls to expect"), *doc.pitfalls] if instructor else []
    return [
        *doc.lab,
        *(answers if doc.lab_answers else []),
        *(pitfalls if doc.pitfalls else []),
        *(
            [md.Listing(model, None, text_spans("The model, as it was trained"), 1)]
            if model in run.source.outline.definitions
            else []
        ),
        md.Generated("param", 1),
        md.Table(tuple(text_spans(h) for h in header), (tuple(text_spans(v) for v in values),), 1),
        md.Para((("em", text_spans("Results to reproduce")), ("text", " (the notebook prints the same numbers):")), 1),
        md.Table((text_spans("quantity"), text_spans("value")), tuple(tuple(r) for r in rows), 1),
        *(
            [
                md.Table(
                    (
                        text_spans("claim checked at build time"),
                        text_spans("measured" + at_seed),  # the outcome counts every seed
                        text_spans("against" + at_seed),
                        text_spans("outcome"),
                    ),
                    tuple(tuple(r) for r in claims),
                    1,
                )
            ]
            if claims and instructor
            else []
        ),
    ]


def _exercise(exercise, number: int, ctx, target, instructor: bool) -> dict:
    blocks = list(exercise.prompt)
    if exercise.hints:
        blocks += [md.Para((("strong", text_spans("Hints")),), exercise.line), *exercise.hints]
    if instructor:
        blocks.append(md.Listing(exercise.solution, None, text_spans("Solution"), exercise.line))
        blocks += list(exercise.answer)
    return {
        "title": target.inline(text_spans(f"Exercise {number}: {exercise.title}"), ctx),
        "blocks": blocks_view(blocks, ctx, target, HANDOUT_WIDTH),
    }
