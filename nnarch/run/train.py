"""Train: a topic's data, model and variants, trained with its recipe through the common loop
(runtime.py), with the checks and limits of a build."""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from nnarch.errors import EnvironmentProblem, NnarchError, TopicError, TrainingError, rel
from nnarch.run.usercode import call, topic_error
from nnarch.runtime import fit, supervised_step
from nnarch.topic import Recipe, Splits, Topic

# One CPU thread per training: results then do not depend on how many cores or parallel jobs a
# build has (floating-point sums change with the thread count), and these small models train as
# fast on one thread as on two. Parallelism comes from --jobs, one topic per process.
TRAIN_THREADS = 1
LOSSES = {"mse": nn.MSELoss, "cross_entropy": nn.CrossEntropyLoss}


@dataclass(frozen=True)
class Fit:
    """One trained model: the model (on the CPU, in eval mode) and its per-epoch losses."""

    model: nn.Module
    train_loss: tuple[float, ...]
    test_loss: tuple[float, ...]


@dataclass(frozen=True)
class Trained:
    """A topic after training: its data, the main fit, the variants' fits, and the time it took."""

    topic: Topic
    path: Path
    recipe: Recipe
    data: Splits
    fit: Fit
    variants: dict
    device: str
    seconds: float


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when present, else the CPU; 'cuda' without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise EnvironmentProblem(
            "--device cuda: no CUDA device is available here; use --device auto or "
            "cpu, or build on a machine with a GPU"
        )
    return torch.device(device)


def make_data(topic: Topic, path: Path, budget: str = "full") -> Splits:
    """The topic's seeded splits; a data function that takes `budget` is told the budget."""
    kwargs = {"budget": budget} if "budget" in inspect.signature(topic.data).parameters else {}
    data = call(topic.data, topic.recipe_for(budget).seed, where=path, what="data", **kwargs)
    if not isinstance(data, Splits):
        raise TopicError(
            f"{rel(path)}: data: expected data(seed) to return Splits(train, test), found {type(data).__name__}"
        )
    return data


def train_topic(
    topic: Topic,
    path: Path,
    device: str = "auto",
    on_epoch: Callable[[str, int, float], None] | None = None,
    budget: str = "full",
    max_seconds: float | None = None,
) -> Trained:
    """Build the data, train the model and every variant with the topic's recipe."""
    start = time.perf_counter()
    where = rel(path)
    dev = resolve_device(device)
    recipe = topic.recipe_for(budget)
    limits = [s for s in (recipe.max_seconds, max_seconds) if s]
    recipe = replace(recipe, max_seconds=min(limits)) if limits else recipe
    data = make_data(topic, path, budget)
    threads = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    try:
        fit = fit_model(
            build_model(topic, path),
            data,
            recipe,
            dev,
            where,
            lambda e, loss: on_epoch and on_epoch(topic.name, e, loss),
        )
        variants = {
            name: fit_model(build_model(topic, path, name), data, recipe, dev, where) for name in topic.variants
        }
    finally:
        torch.set_num_threads(threads)
    return Trained(topic, path, recipe, data, fit, variants, dev.type, time.perf_counter() - start)


def restore_topic(topic: Topic, path: Path, states: dict, entry: dict, budget: str = "full") -> Trained:
    """A Trained rebuilt from cached weights and histories, without training."""

    def restored(name, variant=None):
        model = build_model(topic, path, variant)
        model.load_state_dict(states[name])
        history = entry["histories"][name]
        return Fit(model.eval(), tuple(history["train"]), tuple(history["test"]))

    return Trained(
        topic,
        path,
        topic.recipe_for(budget),
        make_data(topic, path, budget),
        restored("model"),
        {name: restored(f"variant:{name}", name) for name in topic.variants},
        entry["device"],
        entry["seconds"],
    )


def checkpoint(trained: Trained) -> tuple[dict, dict]:
    """The state dicts and the JSON entry that `restore_topic` needs."""
    fits = {"model": trained.fit, **{f"variant:{n}": f for n, f in trained.variants.items()}}
    states = {name: f.model.state_dict() for name, f in fits.items()}
    histories = {name: {"train": list(f.train_loss), "test": list(f.test_loss)} for name, f in fits.items()}
    return states, {"histories": histories, "device": trained.device, "seconds": trained.seconds}


def fit_model(
    model: nn.Module,
    data: Splits,
    recipe: Recipe,
    device: torch.device,
    where: str,
    on_epoch: Callable[[int, float], None] | None = None,
) -> Fit:
    """Train `model` on `data.train` for `recipe.epochs` (runtime.fit), stopping with the topic's
    error on a loss that is not finite, on code that fails, or past the recipe's time limit."""
    model = model.to(device)
    train = tuple(_to(x, device) for x in data.train)
    test = tuple(_to(x, device) for x in data.test)
    if recipe.step is None:
        _check_output_shape(model, train, recipe.loss, where)
    started, epoch = time.perf_counter(), 0

    def check(done: int, history) -> None:
        nonlocal epoch
        epoch = done
        train_loss, test_loss = history.train_loss[-1], history.test_loss[-1]
        if not math.isfinite(train_loss) or not math.isfinite(test_loss):
            raise TrainingError(
                f"{where}: recipe: the loss became {train_loss:g} (train) / {test_loss:g} "
                f"(test) at epoch {done}; lower recipe.lr or check the data for NaN"
            )
        if on_epoch:
            on_epoch(done, train_loss)
        if recipe.max_seconds and done < recipe.epochs and time.perf_counter() - started > recipe.max_seconds:
            raise TrainingError(
                f"{where}: recipe: training stopped at epoch {done} of {recipe.epochs} "
                f"after the {recipe.max_seconds:g} s limit (max_seconds or "
                "--max-train-seconds); lower the epochs, raise the limit, or preview "
                "with --budget quick"
            )

    try:
        history = fit(
            model,
            train,
            test,
            loss_function(recipe),
            recipe.optimizer,
            recipe.lr,
            recipe.epochs,
            recipe.batch_size,
            recipe.seed,
            recipe.step or supervised_step,
            check,
        )
    except NnarchError:
        raise
    except (Exception, SystemExit) as error:  # the topic's code: a NameError is the topic's too
        if isinstance(error, RuntimeError) and ("shape" in str(error) or "size" in str(error)):
            raise TrainingError(
                f"{where}: model: its output does not fit the data at epoch {epoch + 1}: "
                f"{str(error).splitlines()[0]}; make the last layer's size match the "
                "targets"
            ) from None
        raise topic_error(error, Path(where), "training (model forward or recipe.step)") from error
    return Fit(model.cpu().eval(), tuple(history.train_loss), tuple(history.test_loss))


def loss_function(recipe: Recipe):
    """The recipe's loss as a callable: a named one from LOSSES, or the topic's own."""
    return LOSSES[recipe.loss]() if isinstance(recipe.loss, str) else recipe.loss


def _check_output_shape(model, train, loss, where) -> None:
    """Catch a last layer of the wrong size before MSE silently broadcasts it against the targets. In
    eval mode, so that the probe changes nothing (a BatchNorm's running statistics): the notebook,
    which has no probe, trains the same model."""
    model.eval()
    try:
        with torch.no_grad():
            output = call(model, train[0][:2], where=Path(where), what="model forward (on two samples)")
    finally:
        model.train()
    target = train[1][:2]
    ok = (
        output.ndim == 2 and output.shape[0] == target.shape[0] and target.ndim == 1
        if loss == "cross_entropy"
        else output.shape == target.shape
        if loss == "mse"
        else True
    )
    if not ok:
        shape = lambda t: "(B, " + ", ".join(map(str, t.shape[1:])) + ")"  # noqa: E731
        raise TrainingError(
            f"{where}: model: output shape {shape(output)} does not fit the targets "
            f"{shape(target)} for loss '{loss}'; make the last layer's size match"
        )


def build_model(topic: Topic, path: Path, variant: str | None = None) -> nn.Module:
    """The topic's model (or one of its variants), initialised from the recipe's seed."""
    torch.manual_seed(topic.recipe.seed)  # the full and the quick recipe start from the same weights
    factory, field = (topic.model, "model") if variant is None else (topic.variants[variant], f"variants.{variant}")
    where = rel(path)
    model = call(factory, where=path, what=field)
    if not isinstance(model, nn.Module):
        raise TopicError(f"{where}: {field}: expected a factory returning an nn.Module, got {type(model).__name__}")
    return model


def _to(x, device):
    return x.to(device) if hasattr(x, "to") else x
