"""Handouts: the lab handout of a lecture, per topic its goal, code, recipe, results and exercises.

Built in two editions from the same content: the student edition has the exercises' prompts and
hints; the instructor edition adds their solutions. Both end in a provenance table.
"""

from __future__ import annotations

import ast
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from . import topic as t
from .cache import package_version
from .errors import rel
from .render import Context, Html, Tex, block_view, format_value, frame_view


def provenance(lectures: Path, device: str) -> dict:
    """Where the numbers come from: packages, commit, device and time of this build."""
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=10"], cwd=lectures,
                                capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        commit = "unknown"
    return {"commit": commit, "device": device,
            "built": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "versions": {"python": platform.python_version(), "torch": package_version("torch"),
                         "torch-geometric": package_version("torch-geometric"), "nnarch": __version__}}


def assemble_handout(lecture, course, built: list, prov: dict, instructor: bool) -> dict:
    """Template variables of both targets for one edition of the handout."""
    views = {}
    for target in (Tex(), Html()):
        sections = []
        for source, measured, figures in built:
            ctx = Context(rel(source.path), measured.results, figures, course)
            sections.append({
                "title": target.inline(source.topic.title, ctx),
                "blocks": [block_view(b, ctx, target) for b in _blocks(source, measured)],
                "figures": [block_view(t.Fig(name), ctx, target) for name in figures],
                "exercises": [frame_view(f, ctx, target) for f in _exercises(source.topic, instructor)],
                "notebook": f"notebooks/{source.name}.ipynb",
                "seed": measured.trained.recipe.seed,
                "device": measured.trained.device,
            })
        views[target.name] = {"title": lecture.lecture.title, "course": course.title,
                              "lab": lecture.lecture.lab or f"Lab: {lecture.lecture.title}",
                              "day": lecture.lecture.day, "instructor": instructor,
                              "sections": sections, "provenance": prov}
    return views


def _blocks(source, measured) -> list:
    results = measured.results
    recipe = measured.trained.recipe
    loss = recipe.loss if isinstance(recipe.loss, str) else recipe.loss.__name__
    rows = [["parameters", format_value(results["params"]["total"])]]
    rows += [[f"`{name}`", format_value(value)] for name, value in results["metrics"].items()]
    rows += [["final train / test loss", f"{results['history']['final_train']:.3g} / "
              f"{results['history']['final_test']:.3g}"]]
    claims = [[claim.text, format_value(claim.measured), "holds" if claim.ok else "*fails*"]
              for claim in measured.claims]
    return [
        t.Text("*Goal.* " + " ".join(_docstring(source.path).split())),
        t.Listing(type(measured.trained.fit.model), caption="The model, as it was trained"),
        t.ParamTable(),
        t.Table(["loss", "optimizer", "learning rate", "epochs", "batch size", "seed"],
                [[loss, recipe.optimizer, format_value(recipe.lr), str(recipe.epochs),
                  str(recipe.batch_size), str(recipe.seed)]]),
        t.Text("*Results to reproduce* (the notebook prints the same numbers):"),
        t.Table(["quantity", "value"], rows),
        *([t.Table(["claim checked at build time", "measured", "outcome"], claims)] if claims else []),
    ]


def _exercises(topic, instructor: bool) -> list[t.Frame]:
    frames = []
    for number, exercise in enumerate(topic.exercises, start=1):
        blocks = [t.Text(exercise.prompt)]
        if exercise.hints:
            blocks.append(t.Bullets(list(exercise.hints), heading="Hints"))
        if instructor:
            blocks.append(t.Listing(exercise.solution, caption="Solution"))
            if exercise.explanation:
                blocks.append(t.Text(exercise.explanation))
        frames.append(t.Frame(f"Exercise {number}: {exercise.title}", blocks))
    return frames


def _docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text())) or ""
