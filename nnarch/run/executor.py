"""Executor: where the topics run. One seam, chosen by the options:

- in worker processes (the default: one per core, at most one per topic). They are forked from
  multiprocessing's fork server, which imports torch, PyG, matplotlib and nnarch's run code once, so
  no worker imports them again; topics are handed out longest first (by their last training times),
  so that the longest does not start last. A worker that dies (os._exit, a signal, out of memory)
  fails its own topic only; every worker dies with the build.
- in the build's own process (`--jobs 0`): one after the other, for a debugger;
- on a Dask cluster (`--scheduler`): training there, measuring and drawing here (run/cluster.py).

Each way yields every topic's (outcome, run) as it finishes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Generator, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing.context import BaseContext
from multiprocessing.queues import Queue
from typing import TYPE_CHECKING, Any

from nnarch.cache.store import Cache
from nnarch.errors import TopicError, rel
from nnarch.options import Options
from nnarch.run.outcome import Progress, TopicOutcome
from nnarch.run.runner import run_topic

if TYPE_CHECKING:
    from nnarch.run.record import TopicRun
    from nnarch.source.discover import TopicSource

Result = tuple[TopicOutcome, "TopicRun | None"]  # a topic's outcome, and its run when it succeeded

PRELOAD = ["nnarch.run.warm"]  # what every worker needs, imported once in the fork server
RELAY_EVERY_S = 0.1  # a progress bar needs no more epochs than this (rich redraws ten times a second)


def run_topics(
    sources: list[TopicSource], options: Options, progress: Progress, keys: dict[str, str]
) -> Generator[Result, None, None]:
    """(outcome, run) of each topic of `sources`, as each finishes; `keys` are their record keys."""
    if not sources:
        return
    if options.scheduler:
        from nnarch.run.cluster import run_on_cluster

        yield from run_on_cluster(sources, options, progress, keys)
        return
    workers = len(sources) if options.jobs is None else options.jobs
    workers = min(workers, len(sources), os.cpu_count() or 1)
    if workers == 0:
        for source in sources:
            yield run_topic(source, options, progress, keys[source.name])
        return
    cache = Cache(options.cache_dir)
    order = sorted(sources, key=lambda s: -cache.last_seconds(s.path))
    with Workers(workers, progress) as pool:
        progress.stage(f"running {len(sources)} topic(s) in {workers} worker process(es)")
        yield from pool.run(order, replace(options, on_html=None), keys)  # a callback does not travel


def _context() -> BaseContext:
    """Workers forked from the fork server where the platform has one (Linux, macOS), else spawned."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def warm_up() -> None:
    """Start the fork server now, so that a topic that must run later starts at once (it imports
    what the workers need): `serve` calls it in the background after its first build."""
    with ProcessPoolExecutor(1, mp_context=_context()) as pool:
        pool.submit(os.getpid).result()


class Workers:
    """A pool of worker processes running whole topics, with their epochs relayed to `progress`."""

    def __init__(self, count: int, progress: Progress):
        self.count, self.progress = count, progress
        self.context = _context()
        self.events: Queue[tuple[Any, ...]] = self.context.Queue()
        self.pids: set[int] = set()
        threading.Thread(target=self._relay, daemon=True).start()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop every worker now: none may go on training as an orphan (after Ctrl-C, or a failed
        topic with --fail-fast); after a normal build they are idle."""
        self.events.cancel_join_thread()  # a killed worker may hold the queue's lock
        self.events.put(("stop",))
        for pid in list(self.pids):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def _pool(self, count: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(count, mp_context=self.context, initializer=_start_worker, initargs=(self.events,))

    def run(self, sources: list[TopicSource], options: Options, keys: dict[str, str]) -> Iterator[Result]:
        pool = self._pool(self.count)
        lost: list[TopicSource] = []
        try:
            futures = {pool.submit(_run_in_worker, options, s, keys[s.name]): s for s in sources}
            for future in as_completed(futures):
                source = futures[future]
                try:
                    yield _with_source(future.result(), source)
                except BrokenProcessPool:
                    lost.append(source)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        # A worker died, and the pool with it: which topic killed it is not known. Each topic the
        # pool lost runs again alone; one that kills its process again is the culprit.
        for source in lost:
            yield self._alone(source, options, keys[source.name])

    def _alone(self, source: TopicSource, options: Options, key: str) -> Result:
        pool = self._pool(1)
        try:
            return _with_source(pool.submit(_run_in_worker, options, source, key).result(), source)
        except BrokenProcessPool:
            error = TopicError(
                f"{rel(source.path)}: the process running this topic ended abruptly "
                "(os._exit, a signal, or out of memory); a topic must not exit: look for "
                "os._exit or kill in its code, or lower its memory use"
            )
            return TopicOutcome(source.name, source.path, "failed", error=error), None
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _relay(self) -> None:
        """In the build (a daemon thread, gone with it): the workers' pids and epochs."""
        while True:
            try:
                event = self.events.get()
            except Exception:
                return
            if event[0] == "stop":
                return
            if event[0] == "pid":
                self.pids.add(event[1])
            elif event[0] == "start":
                self.progress.topic_started(event[1], event[2])
            else:
                self.progress.epoch(*event[1:])


def _with_source(result: Result, source: TopicSource) -> Result:
    """A worker's (outcome, run), with this build's source object."""
    outcome, run = result
    return outcome, (replace(run, source=source) if run else None)


_events: Queue[tuple[Any, ...]] | None = None  # in a worker: the queue its pid and epochs go to


def _start_worker(events: Queue[tuple[Any, ...]]) -> None:
    """A worker says who it is, and dies with the build that started it, even a SIGKILLed one."""
    global _events  # noqa: PLW0603 - a worker's queue, set once by the pool's initializer
    _events = events
    events.put(("pid", os.getpid()))
    parent = multiprocessing.parent_process()
    if parent is not None:

        def orphaned() -> None:
            parent.join()
            os._exit(1)

        threading.Thread(target=orphaned, daemon=True).start()


def _run_in_worker(options: Options, source: TopicSource, key: str) -> Result:
    outcome, run = run_topic(source, options, _Relayed(_events), key)
    if outcome.error:  # its traceback does not travel with it: its text does, for --debug
        outcome.error.remote_trace = "".join(traceback.format_exception(outcome.error))
    return outcome, run


class _Relayed(Progress):
    """A worker's progress, sent to the build, which shows it. At most one epoch every RELAY_EVERY_S:
    each message wakes the queue's thread, which takes the GIL from the training loop."""

    def __init__(self, events: Queue[tuple[Any, ...]] | None) -> None:
        assert events is not None, "a worker's queue is set by the pool's initializer"
        self.events, self.sent, self.epochs = events, 0.0, 0

    def topic_started(self, name: str, epochs: int) -> None:
        self.epochs = epochs
        self.events.put(("start", name, epochs))

    def epoch(self, name: str, epoch: int, loss: float) -> None:
        if epoch == self.epochs or time.monotonic() - self.sent >= RELAY_EVERY_S:  # and always the last
            self.sent = time.monotonic()
            self.events.put(("epoch", name, epoch, loss))
