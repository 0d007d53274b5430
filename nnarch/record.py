"""Record: what a topic's run left for the slides, handouts and notebooks — plain JSON, torch-free.

When a topic module runs (train or restore, measure, draw, solve the exercises), its record is
stored in the cache under a key of every file the module can depend on. A later build whose key
matches renders the topic's Markdown from the record alone: a text edit never imports torch.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .cache import package_version
from .fingerprint import digest_files, files_under
from .toolchain import fonts_digest

if TYPE_CHECKING:  # the no-op check stays light: no Markdown parser
    from .discover import TopicSource

VERSIONED = ("torch", "torch-geometric", "numpy", "matplotlib", "scipy")
NNARCH = Path(__file__).resolve().parent
# The modules that decide what a run produces; editing a renderer or a template re-renders only.
RUN_MODULES = ("topic.py", "train.py", "measure.py", "figures.py", "layout.py", "toolchain.py",
               "usercode.py", "record.py", "fingerprint.py", "cache.py", "load.py", "values.py")


@dataclass(frozen=True)
class ClaimOutcome:
    text: str
    measured: float
    bound: float | None
    ok: bool


@dataclass(frozen=True)
class FigureFiles:
    """A drawn figure: its PDF (for LaTeX) and SVG (for HTML), and the slot size it was drawn for."""

    name: str
    pdf: Path
    svg: Path
    size: str


@dataclass(frozen=True)
class TopicRun:
    """A topic after it ran: its results (report.json's paths), claims, figure files, and the facts
    about its declaration that notebooks and handouts need (the manifest)."""

    source: TopicSource
    results: dict
    claims: tuple  # ClaimOutcome
    figures: dict  # name -> FigureFiles
    manifest: dict

    @property
    def name(self) -> str:
        return self.source.name


def record_key(source: TopicSource, lectures: Path, device: str, budget: str) -> str:
    """Every file the topic's run can depend on, by content and by path relative to `lectures`.

    That is the topic module, everything else in its lecture folder except the Markdown and the
    other topic modules (unless it imports them), the lectures folder's own Python files, nnarch's
    run-time modules, and the versions of the packages that compute.
    """
    root = Path(lectures).resolve()
    folder = source.path.parent
    topics = {p.stem for p in folder.glob("*.md")} - {"lecture"}
    others = topics - {source.name} - source.outline.imports
    files = [p for p in files_under(folder) if p.suffix != ".md" and not (p.suffix == ".py" and p.stem in others)]
    files += [p for p in root.glob("*.py")]
    versions = [f"{name}={package_version(name)}" for name in VERSIONED]
    return digest_files(files, root, [NNARCH / m for m in RUN_MODULES],
                        [source.name, device, budget, __version__, *versions, fonts_digest()])


def manifest(topic, trained) -> dict:
    """What the notebooks and handouts need to know of a declaration, as plain data."""
    recipe = trained.recipe
    return {
        "model_class": type(trained.fit.model).__name__,
        "model_call": factory_call(topic.model),
        "data": topic.data.__name__,
        "recipe": {"loss": recipe.loss if isinstance(recipe.loss, str) else recipe.loss.__name__,
                   "custom_loss": not isinstance(recipe.loss, str), "optimizer": recipe.optimizer,
                   "lr": recipe.lr, "epochs": recipe.epochs, "batch_size": recipe.batch_size,
                   "seed": recipe.seed, "step": recipe.step.__name__ if recipe.step else None},
        "metrics": {name: fn.__name__ for name, fn in topic.metrics.items()},
        "custom_figures": [spec.draw.__name__ for spec in topic.figures if spec.kind == "custom"],
        "figures": {spec.name: spec.size for spec in topic.figures},
        "headline": topic.headline,
        "device": trained.device,
    }


def factory_call(factory) -> str:
    """Source text that builds the model: `Class()`, `function()`, or a lambda's body."""
    if getattr(factory, "__name__", "") != "<lambda>":
        return f"{factory.__name__}()"
    text = inspect.getsource(factory)
    text = text[text.index("lambda"):]
    for end in range(len(text), 0, -1):  # the shortest tail that leaves a parseable lambda
        try:
            node = ast.parse(text[:end].strip().rstrip(","), mode="eval").body
        except SyntaxError:
            continue
        if isinstance(node, ast.Lambda):
            return ast.unparse(node.body)
    raise ValueError(f"cannot read the model factory's source: {text[:60]!r}")


def to_json(run: TopicRun, figure_keys: dict) -> dict:
    """The record as stored: figures by their cache keys, everything else as it is."""
    return {"results": run.results, "claims": [dataclasses.asdict(c) for c in run.claims],
            "manifest": run.manifest,
            "figures": {name: {"key": figure_keys[name], "size": files.size}
                        for name, files in run.figures.items()}}


def from_json(source: TopicSource, data: dict, figures: dict) -> TopicRun:
    claims = tuple(ClaimOutcome(**c) for c in data["claims"])
    return TopicRun(source, data["results"], claims, figures, data["manifest"])


__all__ = ["TopicRun", "FigureFiles", "record_key", "manifest", "factory_call", "to_json", "from_json"]
