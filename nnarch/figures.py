"""Draw: render each topic's figures in one style, as PDF (Beamer) and SVG (HTML)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from .errors import TopicError, rel  # noqa: E402
from .measure import Measured  # noqa: E402
from .publish import copy_atomic  # noqa: E402
from .record import FigureFiles  # noqa: E402
from .train import loss_function  # noqa: E402
from .usercode import call  # noqa: E402

BLUE, RED, GREY, DARK = "#1f5fa8", "#c0392b", "#8c8c8c", "#222222"
SIZES = {"full": (5.6, 2.3), "column": (2.9, 2.3)}  # inches: drawn at the size they are shown
STYLE = {
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
    "xtick.labelsize": 7, "ytick.labelsize": 7, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.3, "lines.linewidth": 1.4, "figure.dpi": 100,
    "svg.hashsalt": "nnarch", "svg.fonttype": "path",
    "axes.prop_cycle": matplotlib.cycler(color=[BLUE, RED, "#2e8b57", "#8e44ad", GREY]),
}


def draw_topic(measured: Measured, out_dir: Path, cache=None, train_key: str | None = None
               ) -> dict[str, FigureFiles]:
    """Draw every figure of one topic into `out_dir` (or copy it from the cache); return them by name."""
    from .cache import figure_key
    topic = measured.trained.topic
    out_dir.mkdir(parents=True, exist_ok=True)
    run = measured.run
    files = {}
    for spec in topic.figures:
        stem = out_dir / f"{topic.name}-{spec.name}"
        cached = cache.figure_paths(figure_key(train_key, spec)) if cache and train_key else None
        if cached and all(p.exists() for p in cached):
            for source, suffix in zip(cached, (".pdf", ".svg")):
                copy_atomic(source, stem.with_suffix(suffix))
        else:
            with plt.rc_context(STYLE):
                fig = draw_figure(spec, run, measured.trained.path)
                _save(fig, stem.with_suffix(".pdf"), metadata={"CreationDate": None, "ModDate": None})
                _save(fig, stem.with_suffix(".svg"), metadata={"Date": None})
                plt.close(fig)
            if cached:
                for target, suffix in zip(cached, (".pdf", ".svg")):
                    copy_atomic(stem.with_suffix(suffix), target)
        files[spec.name] = FigureFiles(spec.name, stem.with_suffix(".pdf"), stem.with_suffix(".svg"),
                                       spec.size)
    return files


def draw_figure(spec, run, path: Path) -> plt.Figure:
    """One figure, drawn at the size it is shown; a broken figure function names its figure."""
    draw = spec.draw if spec.kind == "custom" else KINDS[spec.kind]
    args = (run,) if spec.kind == "custom" else (run, spec)
    fig = call(draw, *args, where=path, what=f"figures: '{spec.name}'")
    if not isinstance(fig, plt.Figure):
        raise TopicError(f"{rel(path)}: figures: '{spec.name}': draw must return a matplotlib Figure, "
                         f"got {type(fig).__name__}")
    fig.set_size_inches(*SIZES[spec.size])
    return fig


def _save(fig, path: Path, metadata: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format=path.suffix[1:], metadata=metadata, bbox_inches="tight", pad_inches=0.03)
    os.replace(tmp, path)


def loss_curve(run, spec) -> plt.Figure:
    """Train and test loss per epoch on a log scale."""
    fig, ax = plt.subplots()
    epochs = range(1, len(run.history.train_loss) + 1)
    ax.semilogy(epochs, run.history.train_loss, label="train", color=BLUE)
    ax.semilogy(epochs, run.history.test_loss, label="test", color=RED, linestyle="--")
    ax.set(xlabel="epoch", ylabel="loss")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def prediction(run, spec) -> plt.Figure:
    """1-D regression: the true function, the training samples and the trained network."""
    x_dense, y_dense = run.extras["x_dense"], run.extras["y_dense"]
    with torch.no_grad():
        y_model = run.model(x_dense)
    fig, ax = plt.subplots()
    ax.plot(x_dense.squeeze(-1), y_dense.squeeze(-1), color=DARK, label="truth $f(x)$")
    ax.scatter(run.data.train[0].squeeze(-1), run.data.train[1].squeeze(-1), s=6, color=GREY,
               label="training samples", zorder=3)
    ax.plot(x_dense.squeeze(-1), y_model.squeeze(-1), color=RED, linestyle="--",
            label=r"network $f_\theta(x)$")
    ax.set(xlabel="$x$", ylabel="$y$")
    ax.legend(frameon=False, loc="best")
    fig.tight_layout()
    return fig


def compute_graph(run, spec) -> plt.Figure:
    """The forward modules (top) and the autograd graph of the loss walked backward (bottom)."""
    model, (inputs, targets) = run.model, run.data.train[:2]
    rows = run.results["shapes"]
    loss_fn = loss_function(run.recipe)
    with torch.enable_grad():
        loss = loss_fn(model(inputs[:4]), targets[:4])
    names = {id(p): n for n, p in model.named_parameters()}
    backward = _backward_chain(loss.grad_fn, names)

    forward = ["input x"] + [f"{r['name']}: {r['type']}" for r in rows] + [type(loss_fn).__name__]
    width = max(len(forward), len(backward))
    fig, ax = plt.subplots()
    ax.set_axis_off()
    for i, label in enumerate(forward):
        _box(ax, i, 1.0, label, BLUE)
        if i:
            _arrow(ax, i - 1 + 0.42, 1.0, i - 0.42, 1.0, BLUE)
    start = len(forward) - 1
    for j, (label, grads) in enumerate(backward):
        x = start - j
        _box(ax, x, 0.0, label, RED)
        if grads:
            ax.text(x, -0.3, "\n".join(f"∂L/∂{g}" for g in grads), ha="center", va="top",
                    fontsize=5, color=RED)
        if j:
            _arrow(ax, x + 1 - 0.42, 0.0, x + 0.42, 0.0, RED)
    ax.text(-0.5, 1.45, "forward pass (modules)", color=BLUE, fontsize=7, ha="left")
    ax.text(-0.5, 0.45, "backward pass (autograd, from the loss)", color=RED, fontsize=7, ha="left")
    ax.set_xlim(-0.6, width - 0.4)
    ax.set_ylim(-0.85, 1.6)
    fig.tight_layout()
    return fig


def _backward_chain(node, names) -> list[tuple[str, list[str]]]:
    """Follow the autograd graph from the loss towards the input along its longest path."""
    chain = []
    while node is not None:
        grads, nexts = [], []
        for child, _ in node.next_functions:
            if child is None:
                continue
            leaf = _leaf_param(child, names)
            (grads if leaf else nexts).append(leaf or child)
        chain.append((type(node).__name__, sorted(grads)))
        node = max(nexts, key=_depth) if nexts else None
    return chain


def _leaf_param(node, names) -> str | None:
    # A weight reaches its AccumulateGrad through a transpose node (TBackward0); both count as "its grad".
    while node is not None and type(node).__name__ != "AccumulateGrad":
        children = [c for c, _ in node.next_functions if c is not None]
        if len(children) != 1 or type(node).__name__ not in ("TBackward0", "PermuteBackward0"):
            return None
        node = children[0]
    return names.get(id(node.variable), "param") if node is not None else None


def _depth(node) -> int:
    children = [c for c, _ in node.next_functions if c is not None]
    return 1 + max((_depth(c) for c in children), default=0)


def _box(ax, x, y, label, color) -> None:
    label = label.replace(": ", ":\n").replace("Backward", "\nBackward")
    ax.text(x, y, label, ha="center", va="center", fontsize=6, color=color,
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": color})


def _arrow(ax, x0, y0, x1, y1, color) -> None:
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops={"arrowstyle": "->", "color": color, "lw": 1})


KINDS = {"loss_curve": loss_curve, "prediction": prediction, "compute_graph": compute_graph}
