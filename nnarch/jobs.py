"""Jobs: train independent topics in parallel processes, without oversubscribing the cores."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def train_in_parallel(work: list[tuple], jobs: int, on_done) -> dict:
    """Train each (lectures root, lecture folder, topic, device, budget) in a pool of processes.

    Returns {topic: (state dicts, entry)} for the trainings that succeeded and {topic: error} for
    the others; `on_done(topic)` is called as each one finishes.
    """
    results = {}
    # Each training runs on one thread (see train.TRAIN_THREADS), so more workers than cores would
    # only make them wait for each other.
    jobs = max(1, min(jobs, os.cpu_count() or 1, len(work)))
    # spawn, not fork: a forked child of a process that already runs torch's thread pools can hang.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    try:
        futures = {pool.submit(train_one, *item): item[2] for item in work}
        for future in futures:
            name = futures[future]
            try:
                results[name] = future.result()
            except Exception as error:  # reported by the caller as that topic's failure
                results[name] = error
            on_done(name)
    except BaseException:  # interrupted: no worker may go on training as an orphan
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


def train_one(lectures: Path, lecture: str, topic: str, device: str, budget: str, max_seconds=None,
              on_start=None, on_epoch=None):
    """Train one topic of a lectures folder in this process: (state dicts, entry), as cached."""
    from .discover import discover
    from .load import load_topic
    from .train import checkpoint, train_topic
    found = discover(lectures)
    source = next(s for lec in found.lectures if lec.path.name == lecture
                  for s in lec.topics if s.name == topic)
    declared = load_topic(source)[0]
    if on_start:
        on_start(declared.recipe_for(budget).epochs)
    return checkpoint(train_topic(declared, source.path, device, on_epoch, budget=budget,
                                  max_seconds=max_seconds))
