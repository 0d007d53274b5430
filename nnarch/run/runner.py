"""Run one topic: import it, train it (or restore its weights), measure it, check its claims, draw
its figures and solve its exercises; or restore all of that from its record without importing it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nnarch.cache.fingerprint import fingerprint
from nnarch.cache.store import Cache, data_files_digest
from nnarch.errors import NnarchError
from nnarch.files import copy_atomic
from nnarch.options import Options
from nnarch.run.outcome import Progress, TopicOutcome
from nnarch.run.record import FigureFiles, TopicRun, from_json, record_key, training_key
from nnarch.source.values import lookup

if TYPE_CHECKING:
    from nnarch.source.discover import TopicSource


def topic_record_key(source: TopicSource, options: Options) -> str:
    # on a cluster 'auto' means the CPU unless a topic asks for a GPU (see device_for): another policy
    device = f"{options.device}@cluster" if options.scheduler else options.device
    return record_key(source, options.lectures, device, options.budget)


def restore(source: TopicSource, cache: Cache, key: str, options: Options):
    """(outcome, TopicRun) from the topic's record, without importing it; None if there is none."""
    t0 = time.perf_counter()
    data = cache.load_record(key)
    if data is None:
        return None
    figures = {}
    folder = options.work_dir(source.path.parent) / "figures"
    for name, figure in data["figures"].items():
        stem = folder / f"{source.name}-{name}"
        figures[name] = FigureFiles.at(name, stem, figure["size"])
        for cached, target in zip(cache.figure_paths(figure["key"]), figures[name].paths):
            copy_atomic(cached, target)
    run = from_json(source, data, figures)
    outcome = TopicOutcome(source.name, source.path, "cached", stages={"load": time.perf_counter() - t0})
    summarise(outcome, run)
    outcome.seconds = sum(outcome.stages.values())
    return outcome, run


def summarise(outcome: TopicOutcome, run: TopicRun) -> None:
    outcome.params = run.results["params"]["total"]
    outcome.headline = (run.manifest["headline"], lookup(run.results, run.manifest["headline"]))
    outcome.claims = run.claims


def run_topic(source: TopicSource, options: Options, progress: Progress, key: str, trained_elsewhere=None, seeds=None):
    """Import, train (or restore the weights), measure, check, draw and solve one topic: (outcome,
    run), the run None when it failed. `trained_elsewhere` is what training on a cluster gave:
    "trained" (the weights are in the cache), the topic's error, or None. `seeds`: the runs at each
    of the topic's seeds (run_seed), when the executor made them as jobs of their own; by default a
    topic with seeds makes them here, one after the other."""
    from nnarch.run.figures import draw_topic
    from nnarch.run.measure import claim_error, conclude, measure
    from nnarch.run.record import figure_key, manifest, to_json
    from nnarch.source.load import load_topic

    cache = Cache(options.cache_dir)
    outcome = TopicOutcome(source.name, source.path)
    try:
        if isinstance(trained_elsewhere, NnarchError):
            raise trained_elsewhere
        t0 = time.perf_counter()
        topic, module = load_topic(source)
        _one_thread()
        outcome.stages["import"] = time.perf_counter() - t0
        own = next((one for one in seeds or () if one.seed == topic.recipe.seed), None)  # its weights are cached
        elsewhere = trained_elsewhere == "trained" or own is not None
        t0 = time.perf_counter()
        trained, outcome.status, train_key = _train_or_restore(source, topic, options, progress, elsewhere)
        outcome.stages["train"] = trained.seconds if outcome.status == "trained" and not own else 0.0
        outcome.stages["load"] = time.perf_counter() - t0 - (0.0 if elsewhere else outcome.stages["train"])
        t0 = time.perf_counter()
        measured = measure(trained)
        answers = own.results["answers"] if own else solve_exercises(source, module, measured.run)
        outcome.stages["measure"] = time.perf_counter() - t0
        if seeds is None:
            loaded = (topic, module)
            seeds = tuple(run_seed(source, s, options, progress, elsewhere, loaded) for s in seeds_of(topic)[1:])
        if own:  # its status and time are the job's, counted below
            outcome.status = "cached"
        for one in seeds:
            outcome.status = "trained" if one.status == "trained" else outcome.status
            for stage, seconds in one.stages.items():
                outcome.stages[stage] += seconds
        others = tuple(one for one in seeds if one is not own)
        if others:  # the figures may draw every seed's numbers: their keys count too
            train_key = fingerprint(train_key, *(one.key for one in others))
        measured = conclude(measured, answers, tuple((one.seed, one.results) for one in others))
        if measured.failed_claims and options.budget == "full":
            outcome.claims = measured.claims
            raise claim_error(measured)
        t0 = time.perf_counter()
        figures = draw_topic(measured, options.work_dir(source.path.parent) / "figures", cache, train_key)
        outcome.stages["draw"] = time.perf_counter() - t0
        run = TopicRun(source, measured.results, measured.claims, figures, manifest(topic, trained))
        if topic_record_key(source, options) == key:  # else a file was saved while it ran: run it next time
            cache.store_record(key, to_json(run, {s.name: figure_key(train_key, s) for s in topic.figures}))
        summarise(outcome, run)
        return outcome, run
    except NnarchError as error:
        outcome.status, outcome.error = "failed", error
        return outcome, None
    finally:
        outcome.seconds = sum(outcome.stages.values())


@dataclass(frozen=True)
class SeedRun:
    """A topic's run at one of its seeds: its numbers with the exercises' answers (all that the
    claims and the spread need of it), its training key, whether it trained, and where its time
    went (train, load, measure)."""

    seed: int
    results: dict
    key: str
    status: str
    stages: dict


def seeds_of(topic) -> list[int]:
    """The seeds a topic runs at, its recipe's first, when it declares `seeds`; else none."""
    return topic.all_seeds() if topic.seeds else []


def run_seed(
    source: TopicSource, seed: int, options: Options, progress: Progress, trained_elsewhere=False, loaded=None
) -> SeedRun:
    """The topic's run at one of its seeds: trained or restored, measured and its exercises solved.
    `loaded`: the topic and its module, when already imported."""
    from nnarch.run.measure import measure
    from nnarch.source.load import load_topic

    topic, module = loaded or load_topic(source)
    _one_thread()
    own = seed == topic.recipe.seed  # the topic's own run: its progress is the topic's
    t0 = time.perf_counter()
    label = seed_label(source.name, None if own else seed)
    at = topic if own else topic.at_seed(seed)
    trained, status, key = _train_or_restore(source, at, options, progress, trained_elsewhere, label)
    train = trained.seconds if status == "trained" else 0.0
    t1 = time.perf_counter()
    measured = measure(trained)
    answers = solve_exercises(source, module, measured.run)
    load = t1 - t0 - (0.0 if trained_elsewhere else train)
    stages = {"train": train, "load": load, "measure": time.perf_counter() - t1}
    return SeedRun(seed, {**measured.results, "answers": answers}, key, status, stages)


def seed_label(topic: str, seed: int | None) -> str:
    """How a run at one of a topic's other seeds shows in the progress: 'ffnn seed 3'."""
    return topic if seed is None else f"{topic} seed {seed}"


def _one_thread() -> None:
    """Every torch computation of a topic on one thread, not only training: measuring, shape
    tracing and the exercises' solutions too. More threads buy these small models little, and the
    numbers must not depend on the machine's core count."""
    import torch

    from nnarch.run.train import TRAIN_THREADS

    if torch.get_num_threads() != TRAIN_THREADS:
        torch.set_num_threads(TRAIN_THREADS)


def solve_exercises(source: TopicSource, module, run) -> dict:
    """Each exercise's solution run on the trained model, checked by its own check: the answers."""
    from nnarch.run.usercode import call

    answers = {}
    for exercise in source.doc.exercises:
        what = f"exercise '{exercise.title}': {exercise.solution}"
        answer = call(getattr(module, exercise.solution), run, where=source.path, what=what)
        if exercise.check:
            call(
                getattr(module, exercise.check),
                answer,
                run,
                where=source.path,
                what=f"{what}: its check rejects the solution",
                fix="fix the solution or the check",
            )
        answers[exercise.solution] = _plain(answer)
    return answers


def _plain(value):
    """An answer as JSON: tensors and arrays as numbers or lists, tuples as lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def resources(topic, options: Options) -> dict:
    return dict(topic.recipe_for(options.budget).resources or {})


def device_for(topic, options: Options) -> str:
    """The device a topic trains on. On a cluster, 'auto' means a GPU only for a topic whose recipe
    asks for one (and so runs on a GPU worker): a CPU topic must give the local build's weights."""
    if options.scheduler:
        if options.device != "auto":
            return options.device
        return "cuda" if resources(topic, options).get("GPU") else "cpu"
    from nnarch.run.train import resolve_device

    return resolve_device(options.device).type


def topic_training_key(source: TopicSource, topic, options: Options) -> str:
    return training_key(topic, device_for(topic, options), options.budget, data_files_digest(source.path.parent))


def _train_or_restore(
    source: TopicSource,
    topic,
    options: Options,
    progress: Progress,
    trained_elsewhere: bool = False,
    label: str | None = None,
):
    """(Trained, "trained" or "cached", cache key): from the cache unless the key changed or forced
    (or it was just put there by training elsewhere). Its epochs show under `label` (the topic's
    name by default)."""
    from nnarch.run.train import checkpoint, restore_topic, train_topic

    cache = Cache(options.cache_dir)
    key = topic_training_key(source, topic, options)
    loaded = None if options.forced(source.name) and not trained_elsewhere else cache.load_fit(key)
    if loaded:
        try:
            status = "trained" if trained_elsewhere else "cached"
            return restore_topic(topic, source.path, *loaded, options.budget), status, key
        except NnarchError:
            raise  # the topic's own code failed: say so
        except Exception:  # an entry whose checksum holds but whose content does not fit: retrain
            cache.drop_fit(key)
    progress.topic_started(label or source.name, topic.recipe_for(options.budget).epochs)  # not when restored
    trained = train_topic(
        topic,
        source.path,
        options.device,
        (lambda _, epoch, loss: progress.epoch(label, epoch, loss)) if label else progress.epoch,
        options.budget,
        options.max_train_seconds,
    )
    cache.store_fit(key, *checkpoint(trained))
    return trained, "trained", key


def train_one(
    lectures: Path,
    lecture: str,
    topic: str,
    device: str,
    budget: str,
    max_seconds=None,
    on_start=None,
    on_epoch=None,
    seed: int | None = None,
):
    """Train one topic of a lectures folder in this process (at `seed`, one of its `seeds`, instead
    of its recipe's): (state dicts, entry), as cached. What a Dask worker runs (run/cluster.py)."""
    from nnarch.run.train import checkpoint, train_topic
    from nnarch.source.discover import discover
    from nnarch.source.load import load_topic

    found = discover(lectures)
    source = next(s for lec in found.lectures if lec.path.name == lecture for s in lec.topics if s.name == topic)
    declared = load_topic(source)[0]
    if seed is not None:
        declared = declared.at_seed(seed)
    if on_start:
        on_start(topic, declared.recipe_for(budget).epochs)
    return checkpoint(train_topic(declared, source.path, device, on_epoch, budget=budget, max_seconds=max_seconds))
