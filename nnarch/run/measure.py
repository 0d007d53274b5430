"""Measure: parameter counts, traced shapes, the topic's metrics, and its claims checked."""

from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass

import torch
from torch import nn

from nnarch.errors import ClaimError, TopicError, rel
from nnarch.run.record import ClaimOutcome
from nnarch.run.train import Trained
from nnarch.run.usercode import call
from nnarch.source import outline
from nnarch.source.values import lookup
from nnarch.topic import Run


@dataclass(frozen=True)
class Measured:
    """A trained topic plus everything the slides and the report state about it."""

    trained: Trained
    results: dict
    claims: tuple[ClaimOutcome, ...]
    run: Run

    @property
    def failed_claims(self) -> list[ClaimOutcome]:
        return [c for c in self.claims if not c.ok]


def measure(trained: Trained) -> Measured:
    """Compute the results namespace of one topic and check its claims."""
    topic, fit = trained.topic, trained.fit
    results = {
        "params": count_parameters(fit.model),
        "shapes": trace_shapes(fit.model, trained.data.test[0][:2]),
        "history": _history(fit),
        "data": {"train": len(trained.data.train[0]), "test": len(trained.data.test[0])},
        "variants": {
            name: {
                "params": count_parameters(v.model)["total"],
                "architecture": architecture(v.model),
                "final_train": v.train_loss[-1],
                "final_test": v.test_loss[-1],
            }
            for name, v in trained.variants.items()
        },
        "recipe": {
            f.name: getattr(trained.recipe, f.name)
            for f in dataclasses.fields(trained.recipe)
            if isinstance(getattr(trained.recipe, f.name), (int, float, str))
        },
    }
    run = Run(fit.model, trained.data, fit, trained.recipe, results)
    results["metrics"] = {name: _metric(fn, run, trained.path, name) for name, fn in topic.metrics.items()}
    results["facts"] = {name: _fact(fn, run, trained.path, name) for name, fn in topic.facts.items()}
    return Measured(trained, results, (), run)  # claims are checked with the answers: `conclude`


def count_parameters(model: nn.Module) -> dict:
    """Trainable parameters per layer and in total; for a stack of Linear layers also the formula."""
    layers = []
    for name, module in model.named_modules():
        own = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if own:
            layers.append(
                {
                    "name": name,
                    "type": type(module).__name__,
                    "shapes": [list(p.shape) for p in own],
                    "count": sum(p.numel() for p in own),
                }
            )
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert total == sum(layer["count"] for layer in layers)
    return {
        "total": total,
        "layers": layers,
        "formula": _linear_formula(model, total),
        "architecture": architecture(model),
    }


def architecture(model: nn.Module) -> str:
    """Layer widths like '1–16–16–1' for a stack of Linear layers, else the class name."""
    linears = _linear_stack(model)
    if linears:
        return "–".join(str(n) for n in [linears[0].in_features] + [m.out_features for m in linears])
    return type(model).__name__


def _linear_stack(model: nn.Module) -> list[nn.Linear] | None:
    """The layers, if every module holding parameters is a Linear with bias, all trainable."""
    holders = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
    if (
        holders
        and all(isinstance(m, nn.Linear) and m.bias is not None for m in holders)
        and all(p.requires_grad for p in model.parameters())
    ):
        return [m for m in holders if isinstance(m, nn.Linear)]
    return None


def _linear_formula(model: nn.Module, total: int) -> str | None:
    """The slide's formula sum(n_in*n_out + n_out), term by term, as LaTeX; None if not all Linear."""
    linears = _linear_stack(model)
    if not linears:
        return None
    terms = [f"({m.in_features} \\cdot {m.out_features} + {m.out_features})" for m in linears]
    by_formula = sum(m.in_features * m.out_features + m.out_features for m in linears)
    assert by_formula == total, "the formula disagrees with parameters()"
    return " + ".join(terms) + f" = {by_formula}"


def trace_shapes(model: nn.Module, example) -> list[dict]:
    """Input and output shape of every leaf module during one forward pass, batch axis named B."""
    rows, hooks = [], []

    def record(name):
        def hook(module, inputs, output):
            first = output[0] if isinstance(output, tuple) else output
            rows.append(
                {
                    "name": name,
                    "type": type(module).__name__,
                    "input": _shape(inputs[0]) if inputs else None,
                    "output": _shape(first),
                }
            )

        return hook

    for name, module in model.named_modules():
        if name and not any(True for _ in module.children()):
            hooks.append(module.register_forward_hook(record(name)))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in hooks:
            h.remove()
    return rows


def _shape(x) -> list | None:
    if not isinstance(x, torch.Tensor):
        return None
    return ["B"] + list(x.shape[1:])


def _history(fit) -> dict:
    return {
        "train": list(fit.train_loss),
        "test": list(fit.test_loss),
        "epochs": len(fit.train_loss),
        "final_train": fit.train_loss[-1],
        "final_test": fit.test_loss[-1],
    }


def _metric(fn, run, path, name) -> float:
    value = _plain(call(fn, run, where=path, what=f"metrics: '{name}'"))
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TopicError(f"{rel(path)}: metrics: '{name}': expected a number, got {type(value).__name__}")
    return float(value)


def _fact(fn, run, path, name):
    value = _plain(call(fn, run, where=path, what=f"facts: '{name}'") if callable(fn) else fn)
    if not isinstance(value, (int, float, str)):
        raise TopicError(f"{rel(path)}: facts: '{name}': expected a str or number, got {type(value).__name__}")
    return value


def _plain(value):
    """Numbers as Python numbers: a 0-d tensor or numpy scalar becomes an int or float."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def conclude(measured: Measured, answers: dict, others: tuple[tuple[int, dict], ...] = ()) -> Measured:
    """`measured` (the run the slides show) with its exercises' `answers` and its claims checked.
    In a topic with seeds, `others` are the runs at its other seeds, (seed, results with their
    answers): each seed's numbers go under results["seeds"]["runs"], their median, minimum and
    maximum under results["seeds"]["median" | "min" | "max"] (by the same paths as the run's own),
    and each claim is checked at every seed."""
    results = {**measured.results, "answers": answers}
    everyone = [(measured.trained.recipe.seed, results), *others]
    if others:
        runs = [
            {
                "seed": seed,
                "history": {k: r["history"][k] for k in ("final_train", "final_test")},
                "metrics": r["metrics"],
                "variants": {n: {k: v[k] for k in ("final_train", "final_test")} for n, v in r["variants"].items()},
                "answers": r["answers"],
            }
            for seed, r in everyone
        ]
        results["seeds"] = {
            "seeds": [r["seed"] for r in runs],
            "count": len(runs),
            "runs": runs,
            **{name: _across([_without_seed(r) for r in runs], f) for name, f in STATISTICS.items()},
        }
    topic = measured.trained.topic
    claims = tuple(_check_across(c, [r for _, r in everyone]) if others else _check(c, results) for c in topic.claims)
    run = dataclasses.replace(measured.run, results=results)  # what figures see
    return dataclasses.replace(measured, results=results, claims=claims, run=run)


def _without_seed(run: dict) -> dict:
    return {k: v for k, v in run.items() if k != "seed"}


STATISTICS = {"median": statistics.median, "min": min, "max": max}


def _across(values: list, statistic):
    """The statistic of every number the runs hold at the same place (dicts by key, lists by index);
    what is not a number in every run is left out."""
    first = values[0]
    if isinstance(first, dict) and all(isinstance(v, dict) for v in values):
        out = {k: _across([v[k] for v in values], statistic) for k in first if all(k in v for v in values)}
        return {k: v for k, v in out.items() if v is not None}
    if isinstance(first, list) and all(isinstance(v, list) and len(v) == len(first) for v in values):
        items = [_across([v[i] for v in values], statistic) for i in range(len(first))]
        return items if all(v is not None for v in items) else None
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return statistic(values)
    return None


def _check_across(claim, results: list[dict]) -> ClaimOutcome:
    """A claim at every seed: it holds where it holds at `claim.share` of them; the value and bound
    shown are those of the first run (the one the slides show)."""
    outcomes = [_check(claim, r) for r in results]
    held = sum(o.ok for o in outcomes)
    needed = math.ceil(claim.share * len(outcomes) - 1e-9)
    first = outcomes[0]
    return ClaimOutcome(first.text, first.measured, first.bound, held >= needed, held, len(outcomes))


def _check(claim, results) -> ClaimOutcome:
    value = lookup(results, claim.value)
    if claim.op == "decreases":
        return ClaimOutcome(claim.text, value[-1], value[0], value[-1] < value[0])
    bound = lookup(results, claim.bound) * claim.factor if claim.op == "within" else claim.bound
    ok = {"<": value < bound, ">=": value >= bound, "within": value <= bound}[claim.op]
    return ClaimOutcome(claim.text, float(value), float(bound), bool(ok and math.isfinite(value)))


def claim_error(measured: Measured) -> ClaimError:
    """One error naming every failed claim with its measured value, at the first one's line."""
    path = measured.trained.path
    lines = outline.read(path).claim_lines if path.exists() else ()
    line = dict(enumerate(lines)) if len(lines) == len(measured.claims) else {}  # each claim's, when known
    failed = [(i, c) for i, c in enumerate(measured.claims) if not c.ok]
    first = failed[0][0]
    where = f"{rel(path)}:{line[first]}" if line else rel(path)
    problems = [
        f"claim '{c.text}'"
        + (f" (line {line[i]})" if line and i != first else "")
        + f" is false: measured {c.measured:.4g}"
        + (f", bound {c.bound:.4g}" if c.bound is not None else "")
        + (f" (it holds at {c.held} of {c.runs} seeds)" if c.runs else "")
        for i, c in failed
    ]
    return ClaimError(f"{where}: claims: " + "; ".join(problems) + "; improve the model or recipe, or change the claim")
