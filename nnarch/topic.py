"""The declarations an instructor writes: topics, recipes, figures and claims. What a slide says is
in the Markdown file beside the topic module (see docs/authoring.md, "Writing a topic").

Nothing in this module trains, plots or writes files. A topic module builds one `Topic` at module level
(named `TOPIC`), a lecture package one `Lecture` (named `LECTURE`, in its `__init__.py`, with its own
frames in `lecture.md`), and `lectures/course.py` one `Course` (named `COURSE`). nnarch discovers them
and does the work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

# --------------------------------------------------------------------------------------------------
# Data and training


@dataclass(frozen=True)
class Splits:
    """What a topic's data function returns.

    Args:
        train: the training tuple, usually ``(inputs, targets)`` tensors with the sample axis first.
        test: the test tuple, same layout.
        extras: anything the figures or metrics need besides the splits (a dense grid and the
            true function, class names, ...). Values may be tensors, arrays, numbers or strings.
    """

    train: tuple[Any, ...]
    test: tuple[Any, ...]
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """How the common training loop in nnarch trains a topic's model.

    Args:
        loss: ``"mse"``, ``"cross_entropy"``, or a callable ``loss(prediction, target) -> tensor``.
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"``.
        lr: learning rate.
        epochs: passes over the training split.
        batch_size: samples per optimizer step.
        seed: seeds the data function, the model's initial weights and the batch order.
        step: optional special step ``step(model, batch, loss_fn) -> loss`` for a topic whose batch is
            not ``(inputs, targets)``. It is called for every training batch (nnarch then calls
            ``loss.backward()`` and the optimizer) and once on the whole test split for the test
            loss, there under ``torch.no_grad()`` and ``model.eval()``: a step that needs gradients
            itself (a PINN's derivatives) wraps its body in ``torch.enable_grad()``.
        max_seconds: stop training with a clear error when it takes longer than this (the model
            and each variant count separately); ``nnarch build --max-train-seconds`` sets a limit
            for every topic.
        resources: what a worker must have to train this topic on a Dask cluster
            (``nnarch build --scheduler``), as Dask worker resources: ``{"GPU": 1}`` sends the topic
            to workers started with ``--resources GPU=1``, where it trains on their GPU. Local builds
            ignore it.
    """

    loss: str | Callable[..., Any] = "mse"
    optimizer: str = "adam"
    lr: float = 1e-3
    epochs: int = 100
    batch_size: int = 32
    seed: int = 0
    step: Callable[..., Any] | None = None
    max_seconds: float | None = None
    resources: dict[str, float] | None = None


# --------------------------------------------------------------------------------------------------
# Figures

FIGURE_KINDS = ("loss_curve", "prediction", "compute_graph", "seeds", "custom")


@dataclass(frozen=True)
class FigureSpec:
    """One figure the build draws after training. Its caption and alt text are in the Markdown,
    where the figure is shown: ``![caption](name){fig-alt="what it shows"}``.

    Args:
        name: how the Markdown refers to it.
        kind: ``"loss_curve"`` (train and test loss per epoch), ``"prediction"`` (1-D regression: the
            truth from ``extras["x_dense"]``/``extras["y_dense"]``, the training samples and the
            model), ``"compute_graph"`` (forward modules and the autograd backward graph of the
            trained model), ``"seeds"`` (in a topic with `seeds`: the final test loss of the
            model and each variant at every seed, a line per seed), or ``"custom"`` with ``draw``.
        draw: for ``"custom"``: ``draw(run) -> matplotlib Figure`` (``run`` is a `Run`); must not
            save or show it.
        size: the slot it is drawn for, at exactly the size it is shown (see nnarch/layout.py):
            ``"full"`` (the frame's width, 398 × 120 pt), ``"column"`` (one of two columns, with
            room for text below, 191 × 128 pt), ``"tall"`` (a column to itself, 191 × 170 pt) or
            ``"small"`` (a diagram beside other things in a column, 120 × 95 pt).
    """

    name: str
    kind: str
    draw: Callable[..., Any] | None = None
    size: str = "full"


# --------------------------------------------------------------------------------------------------
# Claims: what the slides assert about the run, checked after training


@dataclass(frozen=True)
class Claim:
    """A statement about the run, checked after training; a false one fails the topic's build.

    Build claims with `below`, `above`, `loss_decreases` and `within`, not by hand. In a topic
    with `seeds`, a claim is checked at every seed and holds only where it holds at all of them,
    or at `share` of them (``share=0.6``: at 3 of 5 seeds at least).
    """

    text: str
    value: str
    op: str
    bound: Any = None
    factor: float = 1.0
    share: float = 1.0


def below(path: str, bound: float, text: str | None = None, share: float = 1.0) -> Claim:
    """The value at `path` is strictly below `bound`."""
    return Claim(text or f"{path} below {bound:g}", path, "<", bound, share=share)


def above(path: str, bound: float, text: str | None = None, share: float = 1.0) -> Claim:
    """The value at `path` is at least `bound`."""
    return Claim(text or f"{path} at least {bound:g}", path, ">=", bound, share=share)


def loss_decreases(split: str = "train", text: str | None = None, share: float = 1.0) -> Claim:
    """The final loss of `split` ("train" or "test") is below its first-epoch loss."""
    return Claim(text or f"{split} loss decreases", f"history.{split}", "decreases", share=share)


def within(path: str, of: str, factor: float, text: str | None = None, share: float = 1.0) -> Claim:
    """The value at `path` is at most `factor` times the value at `of`."""
    return Claim(text or f"{path} within {factor:g}x {of}", path, "within", of, factor, share)


# --------------------------------------------------------------------------------------------------
# Topics, lectures, the course


@dataclass
class Run:
    """What metrics, facts, figures and exercise solutions receive, in the build and in the notebooks.

    Args:
        model: the trained model (on the CPU, in eval mode).
        data: the topic's `Splits`.
        history: the per-epoch losses, ``history.train_loss`` and ``history.test_loss``.
        recipe: the recipe the model was trained with.
        results: what has been measured so far (``params``, ``shapes``, ``metrics`` ...), by the
            paths of report.json.
    """

    model: Any
    data: Splits
    history: Any
    recipe: Any
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def extras(self) -> dict[str, Any]:
        return self.data.extras


@dataclass(frozen=True)
class Topic:
    """One slide topic: a model, its data and recipe, and what to measure and draw. What the slides
    say is in the Markdown file of the same name beside the module (``ffnn.py`` → ``ffnn.md``).

    Args:
        name: short identifier used on the command line (``nnarch build ffnn``).
        model: factory returning the ``nn.Module`` to train; its class must live in the topic module
            so that slides can show its real source.
        data: ``data(seed) -> Splits``; pure and seeded.
        recipe: the training recipe.
        figures: figures to draw after training.
        metrics: ``{name: fn}`` with ``fn(run) -> float``, computed after training on a `Run`.
        facts: ``{name: value or fn}``: other things the slides show. A plain value (a constant of
            the module) or ``fn(run) -> str | number`` for one computed from the run, e.g. a matrix
            typeset as LaTeX from a tensor (``{{facts.adjacency}}``).
        claims: checked after training; a false one fails the build of this topic.
        variants: ``{name: factory}`` of further models trained with the same recipe and data, e.g. to
            compare depth and width; shown by ``{variant-table}``.
        headline: the path of the number shown in the build summary, e.g. ``"metrics.test_mse"``.
        quick: a cheaper recipe for previews (``nnarch build --budget quick``), usually
            ``dataclasses.replace(RECIPE, epochs=...)``; a data function that accepts a ``budget``
            keyword gets ``"quick"`` or ``"full"`` and may make fewer samples. Claims are reported,
            not enforced, in quick builds.
        seeds: repeat the whole run at these seeds too (``range(5)``): new data, initial weights
            and batch order at each, for the model and every variant. The metrics, the variants'
            losses and the exercises' numeric answers get their median, minimum and maximum
            across the seeds (``{{metrics.test_mse:spread}}``, ``seeds.median.<path>`` in
            report.json), and every claim must hold at each seed (or its ``share`` of them). The
            recipe's seed is the run the figures and plain values show; it is always one of them.
        tolerances: ``{metric: relative tolerance}`` for ``nnarch diff``: how far this metric may
            move from the accepted baseline before the change is reported (default 2 %).
    """

    name: str
    model: Callable[..., Any]
    data: Callable[..., Any]
    recipe: Recipe
    figures: Sequence[FigureSpec] = ()
    metrics: dict[str, Callable[..., Any]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    claims: Sequence[Claim] = ()
    variants: dict[str, Callable[..., Any]] = field(default_factory=dict)
    headline: str = "history.final_test"
    quick: Recipe | None = None
    seeds: Sequence[int] = ()
    tolerances: dict[str, float] = field(default_factory=dict)

    def recipe_for(self, budget: str) -> Recipe:
        """The recipe a build with this budget uses: `quick` for previews when there is one."""
        return self.quick if budget == "quick" and self.quick else self.recipe

    def all_seeds(self) -> list[int]:
        """The seeds the run is made at: the recipe's first, then the other `seeds`."""
        return [self.recipe.seed, *sorted(set(self.seeds) - {self.recipe.seed})]

    def at_seed(self, seed: int) -> Topic:
        """This topic with every recipe at `seed`: the run `seeds` asks to repeat."""
        quick = self.quick and replace(self.quick, seed=seed)
        return replace(self, recipe=replace(self.recipe, seed=seed), quick=quick)


@dataclass(frozen=True)
class Lecture:
    """A lecture: its place in the course and the order of its topics. Its own frames (intro and
    summary) are in ``lecture.md`` beside ``__init__.py``.

    Args:
        slug: the folder name under ``build/`` (``"nn-architectures"``).
        title: the deck's title.
        day: course day (1-5).
        session: the time slot in the schedule, e.g. ``"09:00-10:00"``.
        topics: topic module names in the order they appear.
        subtitle: shown on the title page.
        lab: the schedule's name of the lab that follows (gets the handout and notebooks).
    """

    slug: str
    title: str
    day: int
    session: str
    topics: Sequence[str]
    subtitle: str = ""
    lab: str = ""


@dataclass(frozen=True)
class Launch:
    """Where a course's built notebooks live online, so that the course page and the handouts can
    open them in Colab, Binder or a JupyterHub.

    Args:
        repo: the GitHub repository, ``"owner/name"``, that holds the build folder's contents.
        branch: its branch.
        folder: the build folder's path in the repository (``""`` if it is the root): a
            lecture's notebooks are at ``FOLDER/SLUG/notebooks/TOPIC.ipynb``.
        jupyterhub: a JupyterHub's address (``"https://hub.example.org"``), for nbgitpuller links.
    """

    repo: str
    branch: str = "main"
    folder: str = ""
    jupyterhub: str = ""


@dataclass(frozen=True)
class Course:
    """The course: its title and the schedule, ``slots`` of (time, [one entry per day]); `launch`
    says where its notebooks live online, if they do."""

    title: str
    days: Sequence[str]
    slots: Sequence[tuple[str, Sequence[str]]]
    launch: Launch | None = None
