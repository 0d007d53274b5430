"""Draw: render each topic's figures in one style, as PDF (Beamer), SVG (HTML) and a small PNG (nnarch diff)."""

from __future__ import annotations

import io
import math
import re
import statistics
import warnings
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from cycler import cycler

from nnarch.errors import TopicError, rel
from nnarch.files import copy_atomic, write_atomic
from nnarch.layout import MIN_TEXT_PT, SLOTS
from nnarch.run.measure import Measured
from nnarch.run.record import FigureFiles, figure_key
from nnarch.run.train import loss_function
from nnarch.run.usercode import call
from nnarch.toolchain import slide_fonts

if TYPE_CHECKING:
    from nnarch.cache.store import Cache

BLUE, RED, GREY, DARK = "#1f5fa8", "#c0392b", "#8c8c8c", "#222222"
PT = 1 / 72.27  # inches per TeX point
FAMILY = "nnarch slides sans"  # the slides' font files, under a name no installed font has
# A figure is drawn at its slot's size (layout.SLOTS) and included at scale 1, so these sizes are
# the sizes on the slide.
STYLE: Any = {  # matplotlib types rcParams by key: a dict of them is checked when it is used
    "font.family": FAMILY,
    "mathtext.fontset": "cm",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.titlepad": 3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.4,
    "figure.dpi": 100,
    "legend.frameon": False,
    "legend.borderaxespad": 0.2,
    "figure.constrained_layout.use": True,
    "figure.constrained_layout.h_pad": 0.02,
    "figure.constrained_layout.w_pad": 0.02,
    "svg.hashsalt": "nnarch",
    "svg.fonttype": "path",
    "axes.prop_cycle": cycler(color=[BLUE, RED, "#2e8b57", "#8e44ad", GREY]),
}
# Saved as checked: each format draws once, at the positions laid out for the check. So the figure
# loses its layout engine outright: "none" would leave a placeholder, for which every savefig draws
# the figure an extra time, and savefig itself puts back a None engine by reading rcParams.
SAVING: Any = {**STYLE, "figure.constrained_layout.use": False, "figure.autolayout": False}


@cache
def use_slide_fonts() -> None:
    """Make FAMILY name exactly the files TeX Live sets the slides with (toolchain.slide_fonts).
    A family name such as "Latin Modern Sans" would be resolved through matplotlib's font cache,
    which lists every optical size of it where fontconfig knows TeX Live's fonts, and picks one by
    chance; an entry of our own for each file leaves nothing to chance (and no fallback)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    for path in slide_fonts().values():
        entry = font_manager.ttfFontProperty(FT2Font(str(path)))
        font_manager.fontManager.ttflist.append(replace(entry, name=FAMILY))


def draw_topic(measured: Measured, out_dir: Path, cache: Cache, train_key: str) -> dict[str, FigureFiles]:
    """Draw every figure of one topic into `out_dir`, or copy it from the cache, where a figure of
    the same training (`train_key`) and figure code was kept; return them by name."""
    topic = measured.trained.topic
    out_dir.mkdir(parents=True, exist_ok=True)
    run = measured.run
    files = {}
    for spec in topic.figures:
        stem = out_dir / f"{topic.name}-{spec.name}"
        files[spec.name] = drawn = FigureFiles.at(spec.name, stem, spec.size)
        cached = cache.figure_paths(figure_key(train_key, spec))
        if all(map(intact, cached)):
            for source, target in zip(cached, drawn.paths):
                copy_atomic(source, target)
        else:
            save_figure(draw_figure(spec, run, measured.trained.path), stem)
            for target, source in zip(cached, drawn.paths):
                copy_atomic(source, target)
    return files


def intact(path: Path) -> bool:
    """A cached figure file that is what it claims to be: a whole PDF, PNG or SVG, not a link."""
    if path.is_symlink() or not path.is_file():
        return False
    data = path.read_bytes()
    if path.suffix == ".pdf":
        return data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    if path.suffix == ".png":
        return data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82")
    return b"<svg" in data[:2048] and data.rstrip().endswith(b"</svg>")


def draw_figure(spec, run, path: Path) -> plt.Figure:
    """One figure, drawn at its slot's size; a broken figure function names its figure."""
    width, height = SLOTS[spec.size]
    use_slide_fonts()
    with plt.rc_context({**STYLE, "figure.figsize": (width * PT, height * PT)}):
        draw = spec.draw if spec.kind == "custom" else KINDS[spec.kind]
        args = (run,) if spec.kind == "custom" else (run, spec)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig = call(draw, *args, where=path, what=f"figures: '{spec.name}'")
            if not isinstance(fig, plt.Figure):
                raise TopicError(
                    f"{rel(path)}: figures: '{spec.name}': draw must return a matplotlib "
                    f"Figure, got {type(fig).__name__}"
                )
            fig.set_size_inches(width * PT, height * PT)
            _house_style(fig)
            problems = text_problems(fig)  # lays the figure out once, and draws no pixels
    with plt.rc_context(SAVING):
        fig.set_layout_engine(None)  # see SAVING
    problems += sorted(
        {
            str(w.message).split(" (")[0] + " in the font; write it as math ($...$)"
            for w in caught
            if "missing from" in str(w.message)
        }
    )
    if problems:
        plt.close(fig)
        raise TopicError(
            f"{rel(path)}: figures: '{spec.name}': "
            + "; ".join(problems[:4])
            + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
            + f"; the slot '{spec.size}' is {width}×{height} pt: use fewer or shorter "
            "labels, fewer panels, or a larger slot"
        )
    return fig


def _house_style(fig: plt.Figure) -> None:
    """What every figure gets whoever drew it: log axes labelled 1e−3 at full size (mathtext's
    10^-3 sets the exponent at 70 %, under the minimum), and no labels on minor log ticks."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for ax in fig.axes:
        ax.get_xlim(), ax.get_ylim()  # settles the autoscaled limits
        for axis in _axes_of(ax):
            if axis.get_scale() == "log":
                low, high = sorted(axis.get_view_interval())
                if low > 0 and math.log10(high / low) < 2:  # too few decades: label 1, 2 and 5 of each
                    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                axis.set_major_formatter(FuncFormatter(_scientific))
                axis.set_minor_formatter(NullFormatter())


def _scientific(value, _position) -> str:
    """2e−3: one digit and the exponent, all at the label's size."""
    if value <= 0:
        return ""
    exponent = math.floor(math.log10(value) + 1e-9)
    digit = round(value / 10**exponent)
    return f"{digit}e{exponent}".replace("-", "\N{MINUS SIGN}")


def text_problems(fig: plt.Figure) -> list[str]:
    """Text under the minimum size, text outside the figure, and text colliding with other text or
    with an axes it does not belong to — as it will be on the slide."""
    from matplotlib.text import Text

    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # Agg's canvas, set above
    frame = fig.bbox.padded(1)
    ticks, drawn = set(), []
    for ax in fig.axes:
        for axis in _axes_of(ax):
            every = axis.get_major_ticks() + axis.get_minor_ticks()
            ticks |= {id(label) for tick in every for label in (tick.label1, tick.label2)}
            if ax.axison:
                drawn += _drawn_tick_labels(axis)
    texts = [t for t in fig.findobj(Text) if id(t) not in ticks] + drawn
    texts = [t for t in texts if t.get_visible() and t.get_text().strip() and t.get_alpha() != 0]
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    problems = []
    for text, box in boxes:
        label = f"'{text.get_text().strip()[:30]}'"
        if text.get_fontsize() < MIN_TEXT_PT - 0.01:
            problems.append(f"text {label} is {text.get_fontsize():.1f} pt (at least {MIN_TEXT_PT:g})")
        elif re.search(r"\$[^$]*[_^][^$]*\$", text.get_text()) and text.get_fontsize() * 0.7 < MIN_TEXT_PT:
            problems.append(
                f"text {label} has sub- or superscripts at {0.7 * text.get_fontsize():.1f} pt "
                f"(at least {MIN_TEXT_PT:g}); write them out or make the text larger"
            )
        if not (frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)):
            problems.append(f"text {label} leaves the figure")
        for ax in fig.axes:
            if ax is not text.axes and ax.get_visible() and ax.axison and _overlap(box, ax.bbox):
                problems.append(f"text {label} runs into another panel")
                break
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            if _overlap(box_a, box_b):
                problems.append(f"text '{a.get_text().strip()[:30]}' collides with '{b.get_text().strip()[:30]}'")
    return problems


def _axes_of(ax) -> list:
    """The x and y axis of a panel (and z of a 3-D one)."""
    return [axis for axis in (ax.xaxis, ax.yaxis, getattr(ax, "zaxis", None)) if axis is not None]


def _drawn_tick_labels(axis) -> list:
    """The tick labels an axis draws: those of the ticks inside its view (the others exist but are
    not drawn)."""
    low, high = sorted(axis.get_view_interval())
    slack = 1e-10 * (high - low)
    labels = []
    for locations, ticks in (
        (axis.get_majorticklocs(), axis.get_major_ticks),
        (axis.get_minorticklocs(), axis.get_minor_ticks),
    ):
        at = list(locations)
        for location, tick in zip(at, ticks(len(at))):
            if low - slack <= location <= high + slack:
                labels += [tick.label1, tick.label2]
    return labels


def _overlap(a, b, tolerance: float = 1.0) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance and min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance


def save_figure(fig: plt.Figure, stem: Path) -> None:
    """Save a drawn figure as stem.pdf, stem.svg and a small stem.png, as it was laid out (see
    SAVING), and close it."""
    with plt.rc_context(SAVING):
        _save(fig, stem.with_suffix(".pdf"), metadata={"CreationDate": None, "ModDate": None})
        _save(fig, stem.with_suffix(".svg"), metadata={"Date": None})
        _save(fig, stem.with_suffix(".png"), metadata={"Software": None}, dpi=PNG_DPI)
    plt.close(fig)


PNG_DPI = 50
"""The PNG is for comparing a release with its baseline (`nnarch diff`): small, and coarse enough
that a figure's text looks alike whatever the FreeType that drew it."""


def _save(fig, path: Path, metadata: dict, **options) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix[1:], metadata=metadata, **options)  # exactly the slot's size
    write_atomic(path, buffer.getvalue())


def loss_curve(run, spec) -> plt.Figure:
    """Train and test loss per epoch on a log scale."""
    fig, ax = plt.subplots()
    epochs = range(1, len(run.history.train_loss) + 1)
    ax.semilogy(epochs, run.history.train_loss, label="train", color=BLUE)
    ax.semilogy(epochs, run.history.test_loss, label="test", color=RED, linestyle="--")
    ax.set(xlabel="epoch", ylabel="loss")
    ax.legend()
    return fig


def prediction(run, spec) -> plt.Figure:
    """1-D regression: the true function, the training samples and the trained network."""
    x_dense, y_dense = run.extras["x_dense"], run.extras["y_dense"]
    with torch.no_grad():
        y_model = run.model(x_dense)
    fig, ax = plt.subplots()
    ax.plot(x_dense.squeeze(-1), y_dense.squeeze(-1), color=DARK, label="truth")
    ax.scatter(run.data.train[0].squeeze(-1), run.data.train[1].squeeze(-1), s=6, color=GREY, label="samples", zorder=3)
    ax.plot(x_dense.squeeze(-1), y_model.squeeze(-1), color=RED, linestyle="--", label="network")
    ax.set(xlabel="$x$", ylabel="$y$")
    fig.legend(loc="outside upper center", ncols=3)  # above the axes: the curves fill them
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

    forward = ["input x"] + [f"{r['name']}\n{r['type']}" for r in rows] + [type(loss_fn).__name__]
    width = max(len(forward), len(backward))
    fig, ax = plt.subplots()
    ax.set_axis_off()
    for i, label in enumerate(forward):
        _box(ax, i, 1.0, label, BLUE)
        if i:
            _arrow(ax, i - 1 + 0.4, 1.0, i - 0.4, 1.0, BLUE)
    start = len(forward) - 1
    for j, (label, grads) in enumerate(backward):
        x = start - j
        _box(ax, x, 0.0, label.replace("Backward", "\nBackward"), RED)
        if grads:
            ax.text(x, -0.38, "\n".join(rf"$\partial L/\partial$ {g}" for g in grads), ha="center", va="top", color=RED)
        if j:
            _arrow(ax, x + 1 - 0.4, 0.0, x + 0.4, 0.0, RED)
    ax.text(-0.45, 1.42, "forward pass (modules)", color=BLUE, ha="left", va="bottom")
    ax.text(-0.45, 0.42, "backward pass (autograd, from the loss)", color=RED, ha="left", va="bottom")
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(-1.05, 1.65)
    return fig


def _backward_chain(node, names) -> list[tuple[str, list[str]]]:
    """Follow the autograd graph from the loss towards the input along its longest path."""
    chain = []
    while node is not None:
        grads: list[str] = []
        nexts: list[Any] = []
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
    ax.text(
        x,
        y,
        label,
        ha="center",
        va="center",
        color=color,
        linespacing=1.1,
        bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": color},
    )


def _arrow(ax, x0, y0, x1, y1, color) -> None:
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": color, "lw": 1})


def seeds(run, spec) -> plt.Figure:
    """The final test loss of the model and each variant at every seed: a grey line per seed (a
    ranking that changes between seeds crosses), the median as a blue diamond."""
    runs = run.results["seeds"]["runs"]
    variants = list(run.results["variants"])
    losses = [[r["history"]["final_test"], *(r["variants"][n]["final_test"] for n in variants)] for r in runs]
    fig, ax = plt.subplots()
    columns = range(len(variants) + 1)
    for row in losses:
        ax.plot(columns, row, color=GREY, marker="o", markersize=2.5, linewidth=0.7)
    medians = [statistics.median(column) for column in zip(*losses)]
    ax.plot([], [], color=GREY, marker="o", markersize=2.5, linewidth=0.7, label=f"one seed (of {len(runs)})")
    ax.plot(columns, medians, color=BLUE, marker="D", markersize=4, linestyle="none", label="median")
    labels = [run.results["params"]["architecture"], *(run.results["variants"][n]["architecture"] for n in variants)]
    ax.set_xticks(list(columns), labels)
    ax.set(yscale="log", ylabel="final test loss", xlim=(-0.3, len(variants) + 0.3))
    fig.legend(loc="outside upper center", ncols=2)
    return fig


KINDS = {"loss_curve": loss_curve, "prediction": prediction, "compute_graph": compute_graph, "seeds": seeds}
