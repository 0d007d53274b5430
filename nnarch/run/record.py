"""Record: what a topic's run left for the slides, handouts and notebooks — plain JSON, torch-free.

When a topic module runs (train or restore, measure, draw, solve the exercises), its record is
stored in the cache under a key of every file the module can depend on. A later build whose key
matches renders the topic's Markdown from the record alone: a text edit never imports torch.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnarch import __version__
from nnarch.cache.fingerprint import code_closure, digest_files, files_under, fingerprint, user_closure
from nnarch.cache.store import FIGURE_FORMATS
from nnarch.toolchain import fonts_digest, package_version

if TYPE_CHECKING:  # the no-op check stays light: no Markdown parser, no torch
    from nnarch.run.train import Trained
    from nnarch.source.discover import TopicSource
    from nnarch.topic import FigureSpec, Topic

VERSIONED = ("torch", "torch-geometric", "numpy", "matplotlib", "scipy")
TRAINING_VERSIONED = ("torch", "torch-geometric", "numpy", "scipy")
NNARCH = Path(__file__).resolve().parent.parent
RUN = Path(__file__).resolve().parent


@functools.cache
def code_digest(*modules: Path) -> str:
    """The digest of nnarch's code that `modules` run: they and every nnarch module they import.
    Editing a renderer or a template changes no run's key (it re-renders only)."""
    return digest_files(code_closure(modules, NNARCH), NNARCH)


@dataclass(frozen=True)
class ClaimOutcome:
    """A claim checked: the value and bound of the run the slides show, whether it holds, and in a
    topic with seeds at how many of them it held (`held` of `runs`)."""

    text: str
    measured: float
    bound: float | None
    ok: bool
    held: int | None = None
    runs: int | None = None


@dataclass(frozen=True)
class FigureFiles:
    """A drawn figure: its PDF (for LaTeX), SVG (for HTML) and small PNG (for comparing releases),
    and the slot size it was drawn for."""

    name: str
    pdf: Path
    svg: Path
    size: str

    @classmethod
    def at(cls, name: str, stem: Path, size: str) -> FigureFiles:
        return cls(name, stem.with_suffix(".pdf"), stem.with_suffix(".svg"), size)

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(self.pdf.with_suffix(suffix) for suffix in FIGURE_FORMATS)


@dataclass(frozen=True)
class TopicRun:
    """A topic after it ran: its results (report.json's paths), claims, figure files, and the facts
    about its declaration that notebooks and handouts need (the manifest)."""

    source: TopicSource
    results: dict[str, Any]
    claims: tuple[ClaimOutcome, ...]
    figures: dict[str, FigureFiles]
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return self.source.name


def record_key(source: TopicSource, lectures: Path, device: str, budget: str) -> str:
    """Every file the topic's run can depend on, by content and by path relative to `lectures`.

    That is the topic module, everything else in its lecture folder except the Markdown and the
    other topic modules (unless it imports them), the lectures folder's own Python files, every
    module of the user's that the topic imports wherever it lives (a sibling folder, PYTHONPATH;
    one outside `lectures` by its name), the code of nnarch's run package and `topic.py` with every
    module they import, and the versions of the packages that compute.
    """
    root = Path(lectures).resolve()
    folder = source.path.parent
    topics = {p.stem for p in folder.glob("*.md")} - {"lecture"}
    others = topics - {source.name} - source.outline.imports
    files = [p for p in files_under(folder) if p.suffix != ".md" and not (p.suffix == ".py" and p.stem in others)]
    files += [p for p in root.glob("*.py")]
    imported = user_closure(source.path)
    files += [p for p in imported if p.is_relative_to(root)]
    outside = sorted((p for p in imported if not p.is_relative_to(root)), key=lambda p: p.name)
    versions = [f"{name}={package_version(name)}" for name in VERSIONED]
    run_code = code_digest(*sorted(RUN.glob("*.py")), NNARCH / "topic.py")
    return digest_files(
        files, root, outside, [source.name, device, budget, __version__, *versions, fonts_digest(), run_code]
    )


def training_key(topic: Topic, device: str, budget: str, data_files: str = "") -> str:
    """What training depends on: the model, data and step code (and the constants, tensors and
    arrays they use, by value), the recipe, the lecture's data files, versions, device."""
    # where a topic may train (Recipe.resources) and how long it may take (max_seconds) are not how it
    # trains: routing it to GPU workers or changing its time limit retrains nothing
    recipe = dataclasses.replace(topic.recipe_for(budget), resources=None, max_seconds=None)
    return fingerprint(
        topic.model,
        topic.data,
        recipe,
        topic.variants,
        budget,
        device,
        *(package_version(p) for p in TRAINING_VERSIONED),
        __version__,
        code_digest(RUN / "train.py"),
        data_files,
    )


def figure_key(train_key: str, spec: FigureSpec) -> str:
    """What a figure depends on: the trained model, its spec and draw code, the plot style, the
    slot sizes and the font files it is drawn with."""
    return fingerprint(
        train_key,
        spec.kind,
        spec.draw,
        spec.size,
        package_version("matplotlib"),
        fonts_digest(),
        code_digest(RUN / "figures.py"),
    )


def manifest(topic: Topic, trained: Trained) -> dict[str, Any]:
    """What the notebooks and handouts need to know of a declaration, as plain data."""
    recipe = trained.recipe
    return {
        "model_class": type(trained.fit.model).__name__,
        "model_call": factory_call(topic.model),
        "data": topic.data.__name__,
        "recipe": {
            "loss": recipe.loss if isinstance(recipe.loss, str) else recipe.loss.__name__,
            "custom_loss": not isinstance(recipe.loss, str),
            "optimizer": recipe.optimizer,
            "lr": recipe.lr,
            "epochs": recipe.epochs,
            "batch_size": recipe.batch_size,
            "seed": recipe.seed,
            "step": recipe.step.__name__ if recipe.step else None,
        },
        "metrics": {name: fn.__name__ for name, fn in topic.metrics.items()},
        "custom_figures": [spec.draw.__name__ for spec in topic.figures if spec.kind == "custom" and spec.draw],
        "plots": [spec.kind for spec in topic.figures if spec.kind in ("prediction", "compute_graph")],
        "headline": topic.headline,
        "tolerances": dict(topic.tolerances),
        "device": trained.device,
    }


def factory_call(factory: Callable[..., Any]) -> str:
    """Source text that builds the model: `Class()`, `function()`, or a lambda's body."""
    if isinstance(factory, functools.partial):  # partial(Line, scale=1.0): Line(scale=1.0)
        arguments = [repr(a) for a in factory.args] + [f"{k}={v!r}" for k, v in factory.keywords.items()]
        return f"{factory.func.__name__}({', '.join(arguments)})"
    if getattr(factory, "__name__", "") != "<lambda>":
        return f"{factory.__name__}()"
    text = inspect.getsource(factory)
    text = text[text.index("lambda") :]
    for end in range(len(text), 0, -1):  # the shortest tail that leaves a parseable lambda
        try:
            node = ast.parse(text[:end].strip().rstrip(","), mode="eval").body
        except SyntaxError:
            continue
        if isinstance(node, ast.Lambda):
            return ast.unparse(node.body)
    raise ValueError(f"cannot read the model factory's source: {text[:60]!r}")


def to_json(run: TopicRun, figure_keys: dict[str, str]) -> dict[str, Any]:
    """The record as stored: figures by their cache keys, everything else as it is."""
    return {
        "results": run.results,
        "claims": [dataclasses.asdict(c) for c in run.claims],
        "manifest": run.manifest,
        "figures": {name: {"key": figure_keys[name], "size": files.size} for name, files in run.figures.items()},
    }


def from_json(source: TopicSource, data: dict[str, Any], figures: dict[str, FigureFiles]) -> TopicRun:
    claims = tuple(ClaimOutcome(**c) for c in data["claims"])
    return TopicRun(source, data["results"], claims, figures, data["manifest"])


__all__ = [
    "FigureFiles",
    "TopicRun",
    "factory_call",
    "figure_key",
    "from_json",
    "manifest",
    "record_key",
    "to_json",
    "training_key",
]
