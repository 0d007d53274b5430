"""The declarations an instructor writes: topics, recipes, figures, claims and format-neutral slides.

Nothing in this module trains, plots or writes files. A topic module builds one `Topic` at module level
(named `TOPIC`), a lecture package one `Lecture` (named `LECTURE`, in its `__init__.py`), and
`lectures/course.py` one `Course` (named `COURSE`). nnarch discovers them and does the work.

Text anywhere in slide content may use inline markup:

- ``*emphasis*``, ``$inline math$`` (LaTeX), `` `inline code` ``;
- ``{{path}}`` or ``{{path:format}}``: a value from the run, e.g. ``{{params.total}}`` or
  ``{{metrics.test_mse:.2e}}``. Paths are those of the topic's entry in ``report.json``:
  ``params.total``, ``params.formula``, ``params.architecture``, ``history.final_train``,
  ``metrics.<name>``, ``data.train`` (training samples), ``facts.<name>``,
  ``variants.<name>.params`` and so on. Integers are written with thousands separators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, Union

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

    train: tuple
    test: tuple
    extras: dict = field(default_factory=dict)


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
            not ``(inputs, targets)``; used for training and for evaluating the test loss.
    """

    loss: Union[str, Callable] = "mse"
    optimizer: str = "adam"
    lr: float = 1e-3
    epochs: int = 100
    batch_size: int = 32
    seed: int = 0
    step: Callable | None = None


# --------------------------------------------------------------------------------------------------
# Figures

FIGURE_KINDS = ("loss_curve", "prediction", "compute_graph", "custom")


@dataclass(frozen=True)
class FigureSpec:
    """One figure the build draws after training.

    Args:
        name: how slides refer to it (``Fig("fit")``).
        kind: ``"loss_curve"`` (train and test loss per epoch), ``"prediction"`` (1-D regression: the
            truth from ``extras["x_dense"]``/``extras["y_dense"]``, the training samples and the
            model), ``"compute_graph"`` (forward modules and the autograd backward graph of the
            trained model), or ``"custom"`` with ``draw``.
        caption: shown under the figure.
        alt: alternative text for readers who cannot see it (required).
        draw: for ``"custom"``: ``draw(run) -> matplotlib Figure``; must not save or show it.
        size: ``"full"`` for the whole frame width, ``"column"`` for one of two columns.
    """

    name: str
    kind: str
    caption: str
    alt: str
    draw: Callable | None = None
    size: str = "full"


# --------------------------------------------------------------------------------------------------
# Claims: what the slides assert about the run, checked after training


@dataclass(frozen=True)
class Claim:
    """A statement about the run, checked after training; a false one fails the topic's build.

    Build claims with `below`, `above`, `loss_decreases` and `within`, not by hand.
    """

    text: str
    value: str
    op: str
    bound: Any = None
    factor: float = 1.0


def below(path: str, bound: float, text: str | None = None) -> Claim:
    """The value at `path` is strictly below `bound`."""
    return Claim(text or f"{path} below {bound:g}", path, "<", bound)


def above(path: str, bound: float, text: str | None = None) -> Claim:
    """The value at `path` is at least `bound`."""
    return Claim(text or f"{path} at least {bound:g}", path, ">=", bound)


def loss_decreases(split: str = "train", text: str | None = None) -> Claim:
    """The final loss of `split` ("train" or "test") is below its first-epoch loss."""
    return Claim(text or f"{split} loss decreases", f"history.{split}", "decreases")


def within(path: str, of: str, factor: float, text: str | None = None) -> Claim:
    """The value at `path` is at most `factor` times the value at `of`."""
    return Claim(text or f"{path} within {factor:g}x {of}", path, "within", of, factor)


# --------------------------------------------------------------------------------------------------
# Slide content: format-neutral blocks that render to Beamer and to HTML


@dataclass(frozen=True)
class Text:
    """A paragraph of inline markup."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bullet list, with an optional bold heading above it."""

    items: Sequence[str]
    heading: str | None = None


@dataclass(frozen=True)
class Math:
    """Display math in LaTeX; lines separated by ``\\\\`` are aligned at ``&``."""

    latex: str


@dataclass(frozen=True)
class Fig:
    """A figure declared in the topic's `figures`, by name."""

    name: str


@dataclass(frozen=True)
class Table:
    """A table of inline-markup cells."""

    header: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Listing:
    """The source code of a class or function of the topic, as it ran (taken with `inspect`)."""

    obj: Any
    caption: str | None = None


@dataclass(frozen=True)
class ParamTable:
    """The trained model's parameters, layer by layer, with the total."""


@dataclass(frozen=True)
class ShapeTable:
    """Input and output shape of every layer, traced through one forward pass (B = batch)."""


@dataclass(frozen=True)
class VariantTable:
    """Parameters and final losses of the model and its variants, trained on the same data."""


@dataclass(frozen=True)
class ScheduleTable:
    """The course's five-day schedule (from `lectures/course.py`)."""


@dataclass(frozen=True)
class Columns:
    """Two columns side by side (stacked on narrow screens)."""

    left: Sequence["Block"]
    right: Sequence["Block"]


Block = Union[Text, Bullets, Math, Fig, Table, Listing, ParamTable, ShapeTable, VariantTable,
              ScheduleTable, Columns]
BLOCK_TYPES = (Text, Bullets, Math, Fig, Table, Listing, ParamTable, ShapeTable, VariantTable,
               ScheduleTable, Columns)


@dataclass(frozen=True)
class Frame:
    """One slide: a title and its blocks, top to bottom."""

    title: str
    blocks: Sequence[Block]


# --------------------------------------------------------------------------------------------------
# Lab exercises: in the handouts and the notebooks


@dataclass(frozen=True)
class Exercise:
    """A lab exercise for students, with its solution kept out of every student artifact.

    Args:
        title: a short title.
        prompt: the task, in inline markup.
        hints: hints shown to students.
        solution: a function ``solution(run)`` whose code solves the task and returns the answer;
            its docstring is the task as the notebook states it (students see the signature and the
            docstring, not the body). Instructor editions and solution notebooks show and run it.
        check: optional ``check(answer, run)`` that raises AssertionError when the answer is wrong;
            notebooks run it after the student's cell.
        explanation: optional text for the instructor edition: why the answer is what it is.
    """

    title: str
    prompt: str
    solution: Callable
    hints: Sequence[str] = ()
    check: Callable | None = None
    explanation: str = ""


# --------------------------------------------------------------------------------------------------
# Topics, lectures, the course


@dataclass(frozen=True)
class Topic:
    """One slide topic: a model, its data and recipe, what to measure and draw, and its frames.

    Args:
        name: short identifier used on the command line (``nnarch build ffnn``).
        title: the section title in the deck.
        model: factory returning the ``nn.Module`` to train; its class must live in the topic module
            so that slides can show its real source.
        data: ``data(seed) -> Splits``; pure and seeded.
        recipe: the training recipe.
        frames: the topic's slides.
        figures: figures to draw after training.
        metrics: ``{name: fn}`` with ``fn(run) -> float``, computed after training; ``run`` has
            ``model`` (trained, on the CPU, in eval mode), ``data`` (the Splits) and ``history``.
        facts: ``{name: fn}`` with ``fn(run) -> str | number``: other things the slides show that
            are computed, not typed, e.g. a matrix typeset as LaTeX from a tensor
            (``{{facts.adjacency}}``).
        claims: checked after training; a false one fails the build of this topic.
        variants: ``{name: factory}`` of further models trained with the same recipe and data, e.g. to
            compare depth and width; shown by `VariantTable`.
        headline: the path of the number shown in the build summary, e.g. ``"metrics.test_mse"``.
        exercises: the lab exercises for this topic (`Exercise`).
        quick: a cheaper recipe for previews (``nnarch build --budget quick``): fewer epochs; a
            data function that accepts a ``budget`` keyword gets ``"quick"`` or ``"full"`` and may
            make fewer samples. Claims are reported, not enforced, in quick builds.
    """

    name: str
    title: str
    model: Callable
    data: Callable
    recipe: Recipe
    frames: Sequence[Frame]
    figures: Sequence[FigureSpec] = ()
    metrics: dict = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    claims: Sequence[Claim] = ()
    variants: dict = field(default_factory=dict)
    headline: str = "history.final_test"
    quick: Recipe | None = None
    exercises: Sequence[Exercise] = ()

    def recipe_for(self, budget: str) -> Recipe:
        """The recipe a build with this budget uses: `quick` for previews when there is one."""
        return self.quick if budget == "quick" and self.quick else self.recipe


@dataclass(frozen=True)
class Lecture:
    """A lecture: its place in the course, the order of its topics, and its own frames.

    Args:
        slug: the folder name under ``build/`` (``"nn-architectures"``).
        title: the deck's title.
        day: course day (1-5).
        session: the time slot in the schedule, e.g. ``"09:00-10:00"``.
        topics: topic module names in the order they appear.
        intro: frames before the first topic.
        summary: frames after the last topic.
        lab: the schedule's name of the lab that follows (gets the handout and notebooks).
    """

    slug: str
    title: str
    day: int
    session: str
    topics: Sequence[str]
    intro: Sequence[Frame] = ()
    summary: Sequence[Frame] = ()
    subtitle: str = ""
    lab: str = ""  # the lab session that follows, as named in the schedule


@dataclass(frozen=True)
class Course:
    """The course: its title and the schedule, ``slots`` of (time, [one entry per day])."""

    title: str
    days: Sequence[str]
    slots: Sequence[tuple]
    short_title: str = ""
