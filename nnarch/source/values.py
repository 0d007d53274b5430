"""Values from the run on slides: `{{path}}` and `{{path:format}}` references, found, checked and
formatted. Torch-free, so that `check`, `new` and a text-only rebuild stay light.

Paths are those of a topic's entry in report.json: ``params.total``, ``metrics.test_mse``,
``facts.nodes``, ``variants.deep_narrow.params``, ``recipe.epochs``, ``data.train`` and so on; in a
lecture's own Markdown they start with ``topics.<topic>.``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nnarch.errors import did_you_mean

VALUE_REF = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*(?::([^}]*))?\}\}")
RESULT_ROOTS = ("params", "history", "metrics", "facts", "variants", "recipe", "shapes", "data", "answers", "seeds")
STATISTICS = ("median", "min", "max")
VARIANT_FIELDS = ("params", "final_train", "final_test", "architecture")
RECIPE_FIELDS = ("loss", "optimizer", "lr", "epochs", "batch_size", "seed")


class MissingValue(KeyError):
    """A value path that the run's results do not hold."""


class BadFormat(ValueError):
    """A `{{path:spec}}` whose format does not apply to the value the run gave."""


SPEC_HINT = "e.g. ',' for a count, '.3f' or '.2e' for a number, '.1%' for a share, 'spread' for the seeds' range"


def spec_problem(path: str, spec: str | None) -> str | None:
    """What is wrong with a reference's format whatever its value, checked before anything runs."""
    if spec is None:
        return None
    own = spec.partition(":")[2] if spec.split(":")[0] == "spread" else spec
    if not own:
        return None
    for sample in (0, 0.5, "text"):
        try:
            format(sample, own)
            return None
        except (ValueError, TypeError):
            continue
    return f"value '{path}': format '{own}' is not a Python format spec ({SPEC_HINT})"


@dataclass(frozen=True)
class Names:
    """What a topic declares that value paths may name; None where it could not be read statically."""

    metrics: frozenset | None = None
    facts: frozenset | None = None
    variants: frozenset | None = None
    answers: frozenset = field(default_factory=frozenset)
    seeds: bool | None = None  # whether the topic repeats its run at several seeds


def lookup(results: dict, path: str):
    """The value at a dotted path of the results namespace ('metrics.accuracy'); MissingValue(path,
    what the path holds where it goes wrong)."""
    value, parts = results, path.split(".")
    for i, part in enumerate(parts):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            where = ".".join(parts[:i]) or "the run"
            if isinstance(value, list):
                raise MissingValue(
                    path, f"{where} has {len(value)} items, 0 to {len(value) - 1}" if value else f"{where} is empty"
                )
            if isinstance(value, dict):
                raise MissingValue(
                    path, f"{where} holds {', '.join(sorted(map(str, value))[:12])}{did_you_mean(part, value)}"
                )
            raise MissingValue(path, f"{where} is a value, not a table")
    return value


def format_value(value, spec: str | None = None, math: bool = False) -> str:
    """A number as every document shows it, decided here: a count with thousands separators
    (1,944); any other number to three significant digits, below 0.01 (a loss) or from 1e5 on
    always in Python's scientific notation (0.982, 1.28e-05); in math a power of ten as one
    (1.28 \\times 10^{-5})."""
    if spec:
        try:
            text = format(value, spec)
        except (ValueError, TypeError):
            kind = type(value).__name__
            raise BadFormat(f"format '{spec}' does not apply to {value!r} (a {kind}); {SPEC_HINT}") from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        text = str(value)
    else:
        text = number_text(value)
    if not math or isinstance(value, bool) or not isinstance(value, (int, float)):
        return text
    text = text.replace(",", "{,}")  # a comma in math is punctuation: 1,944 would get a space
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa} \\times 10^{{{int(exponent)}}}" if e and exponent.lstrip("+-").isdigit() else text


SCIENTIFIC_BELOW = 1e-2 * (1 - 1e-6)  # a float32 0.01 (0.0099999998) is 0.01 too, not 1.00e-02


def number_text(value) -> str:
    """A number as text, the one rule of format_value (copied into the notebooks, which print so)."""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.2e}" if _scientific(value) else f"{value:.3g}"  # a loss: 9.31e-05 beside 7.66e-04


def _scientific(value: float) -> bool:
    return bool(value) and not SCIENTIFIC_BELOW <= abs(value) < 1e5


def _seeds_root(path: str) -> tuple[str, str]:
    """('seeds', path), or in a lecture's frame ('topics.<topic>.seeds', the topic's path)."""
    if path.startswith("topics."):
        topic, rest = path.split(".", 2)[1:]
        return f"topics.{topic}.seeds", rest
    return "seeds", path


def spread_paths(path: str) -> list[str]:
    """What `{{path:spread}}` reads: the median, minimum and maximum across the topic's seeds."""
    root, rest = _seeds_root(path)
    return [f"{root}.{statistic}.{rest}" for statistic in STATISTICS]


def checked_path(path: str, spec: str | None) -> str:
    """The path whose checks hold for a `{{path:spec}}` reference: a spread's median (its minimum
    and maximum are read by the same path under other statistics)."""
    return spread_paths(path)[0] if spec is not None and spec.split(":")[0] == "spread" else path


def format_spread(results: dict, path: str, spec: str | None = None, math: bool = False) -> str:
    """`{{path:spread}}`: the median across the seeds and their range, '1.3e-04 (5.9e-06 to 2.2e-04,
    5 seeds)'; `{{path:spread:.2f}}` formats each number so."""
    values = [lookup(results, p) for p in spread_paths(path)]
    if spec is None:
        spec = range_spec(values)
    median, low, high = (format_value(v, spec, math) for v in values)
    count = lookup(results, f"{_seeds_root(path)[0]}.count")
    words = (lambda s: f"\\text{{{s}}}") if math else (lambda s: s)
    return f"{median}{words(' (')}{low}{words(' to ')}{high}{words(f', {count} seeds)')}"


def range_spec(values: list) -> str | None:
    """One format for numbers shown together (a median and its range): scientific for all of them
    if any needs it; None (each its own) unless they are all floats."""
    if not all(isinstance(v, float) for v in values):
        return None
    return ".2e" if any(_scientific(v) for v in values) else "#.3g"


def fill(text: str, results: dict, math: bool = False) -> str:
    """Replace every {{path:fmt}} with the run's value; MissingValue for a path the run lacks."""

    def value(match):
        parts = match.group(1).split(".")
        spec = match.group(2)
        try:
            if spec is not None and spec.split(":")[0] == "spread":
                return format_spread(results, match.group(1), spec[len("spread:") :] or None, math)
            return format_value(lookup(results, match.group(1)), spec, math)
        except MissingValue:
            if parts[0] == "topics" and len(parts) > 1 and parts[1] not in results.get("topics", {}):
                return "n/a"  # that topic failed or was not selected; the summary still builds
            raise

    return VALUE_REF.sub(value, text)


def path_problem(path: str, names: Names) -> str | None:
    """What is wrong with a value path of a topic, checked before anything runs; None if fine."""
    parts = path.split(".")
    if parts[0] not in RESULT_ROOTS:
        return (
            f"value '{path}': unknown root '{parts[0]}'{did_you_mean(parts[0], RESULT_ROOTS)}; "
            f"paths start with one of {', '.join(RESULT_ROOTS)}"
        )
    name = parts[1] if len(parts) > 1 else ""
    if parts[0] == "seeds":
        if names.seeds is False:
            return f"value '{path}': the topic has no seeds; declare seeds=range(5) in TOPIC to repeat its run"
        if name in STATISTICS:
            rest = ".".join(parts[2:])
            return path_problem(rest, names) if rest else f"value '{path}': name a value after '{name}'"
        if name not in ("count", "seeds", "runs"):
            return f"value '{path}': seeds has count, seeds, runs and {', '.join(STATISTICS)}"
        return None
    for root in ("metrics", "facts", "variants", "answers"):
        declared = getattr(names, root)
        if parts[0] == root and declared is not None and name not in declared:
            where = "exercises in the Markdown" if root == "answers" else root
            return (
                f"value '{path}': no {root.rstrip('s')} '{name}'{did_you_mean(name, declared)}; declare it in {where}"
            )
    if parts[0] == "variants" and (len(parts) != 3 or parts[2] not in VARIANT_FIELDS):
        return f"value '{path}': a variant has {', '.join(VARIANT_FIELDS)}"
    if parts[0] == "recipe" and (len(parts) != 2 or parts[1] not in RECIPE_FIELDS):
        return f"value '{path}': no such recipe field{did_you_mean(name, RECIPE_FIELDS)}"
    return None


def lecture_path_problem(path: str, topics) -> str | None:
    """A lecture's own frames name values as topics.<topic>.<path>."""
    parts = path.split(".")
    if parts[0] != "topics" or len(parts) < 3 or parts[1] not in topics:
        name = parts[1] if len(parts) > 1 else ""
        return (
            f"value '{path}': expected topics.<topic>.<path> with a topic of this lecture{did_you_mean(name, topics)}"
        )
    return None
