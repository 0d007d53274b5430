"""Executor: where the topics run. One seam, chosen by the options:

- in worker processes (the default: one per core, at most one per topic unless a topic has seeds,
  whose runs at each seed are jobs of their own; `--jobs N` asks for N, and gets at most one per
  core). They are forked from
  multiprocessing's fork server, which imports torch, PyG, matplotlib and nnarch's run code once, so
  no worker imports them again; topics are handed out longest first (by their last training times),
  so that the longest does not start last. A worker that dies (os._exit, a signal, out of memory)
  fails its own topic only; every worker dies with the build.
- in the build's own process (`--jobs 0`): one after the other, for a debugger;
- on a Dask cluster (`--scheduler`): training there, measuring and drawing here (run/cluster.py).

Each way yields every topic's (outcome, run): as it finishes, or on a cluster in the lecture's order.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing.context import BaseContext
from multiprocessing.queues import Queue
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnarch.cache.store import Cache
from nnarch.errors import NnarchError, TopicError, rel
from nnarch.options import Options
from nnarch.run.outcome import Progress, TopicOutcome
from nnarch.run.runner import SeedRun, run_seed, run_topic, seed_label, seeds_of

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
    # a topic with seeds runs them in parallel: then every core can take a run
    runs = len(sources) if all(s.outline.seeds is False for s in sources) else cores()
    workers = min(runs if options.jobs is None else options.jobs, runs, cores())
    if workers == 0:
        for source in sources:
            yield run_topic(source, options, progress, keys[source.name])
        return
    cache = Cache(options.cache_dir)
    order = sorted(sources, key=lambda s: -cache.last_seconds(s.path))
    with Workers(workers, progress, (options.out / ".work" / ".scratch").absolute()) as pool:
        progress.stage(f"running {len(sources)} topic(s) in {workers} worker process(es)")
        yield from pool.run(order, replace(options, on_html=None), keys)  # a callback does not travel


def cores() -> int:
    """The cores this process may run on (a container's share, not the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# The fork server listens on a Unix socket in the temporary folder, whose path may not exceed 107
# bytes (Linux; 103 on macOS): multiprocessing adds "/pymp-XXXXXXXX/listener-XXXXXXXX" to it.
SOCKET_PATH_MAX = 100


def _context() -> BaseContext:
    """Workers forked from the fork server where the platform has one (Linux, macOS), else spawned;
    spawned too where the temporary folder's path is too long for the fork server's socket."""
    socket = os.path.join(tempfile.gettempdir(), "pymp-xxxxxxxx", "listener-xxxxxxxx")
    if "forkserver" not in multiprocessing.get_all_start_methods() or len(os.fsencode(socket)) > SOCKET_PATH_MAX:
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
    """Pools of worker processes running whole topics, with their epochs relayed to `progress`."""

    def __init__(self, count: int, progress: Progress, scratch: Path):
        self.count, self.progress, self.scratch = count, progress, scratch
        scratch.mkdir(parents=True, exist_ok=True)  # the workers' temporary files: gone with the pool
        self.context = _context()
        self.events: Queue[tuple[Any, ...]] = self.context.Queue()
        self.pids: dict[int, set[int]] = {}  # the workers of each pool not yet shut down, by its number
        self.running: dict[str, tuple[int, float]] = {}  # topic -> (its worker's pid, when it began)
        self.late: set[str] = set()  # topics stopped at their time limit
        self.done: set[int] = set()  # pools shut down: their workers have ended
        self.relay = threading.Thread(target=self._relay, daemon=True)
        self.relay.start()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop every worker still running (after Ctrl-C, or a failed topic with --fail-fast): none may
        go on training as an orphan. After a normal build every pool has been shut down."""
        self.events.cancel_join_thread()  # a killed worker may hold the queue's lock
        self.events.put(("stop",))
        self.relay.join(timeout=5)  # every pid a worker reported has been read
        for number, pids in self.pids.items():
            for pid in pids if number not in self.done else ():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.scratch, ignore_errors=True)  # PyG's generated modules, say

    def _pool(self, count: int) -> tuple[int, ProcessPoolExecutor]:
        number = len(self.pids) + 1
        self.pids[number] = set()
        pool = ProcessPoolExecutor(
            count, mp_context=self.context, initializer=_start_worker, initargs=(self.events, number, str(self.scratch))
        )
        return number, pool

    def _shut(self, number: int, pool: ProcessPoolExecutor, finished: bool) -> None:
        """A pool whose topics all came back (or broke it) ends its workers now; one left early keeps
        them, for __exit__ to kill."""
        pool.shutdown(wait=finished, cancel_futures=True)
        if finished:
            self.done.add(number)

    def run(self, sources: list[TopicSource], options: Options, keys: dict[str, str]) -> Iterator[Result]:
        """Each topic's (outcome, run) as it finishes. A topic with seeds says which first; its runs
        at each then share the workers with every other run, and the topic itself (its claims and
        figures, from the runs' numbers and its own seed's cached weights) follows once they are
        all back."""
        number, pool = self._pool(self.count)
        units: dict[Any, TopicSource] = {}  # each future: the topic whose job it is
        seeds: dict[str, dict[int, SeedRun]] = {}  # each topic waiting for its seeds: those back
        wanted: dict[str, list[int]] = {}
        ended: set[str] = set()  # topics yielded
        lost: dict[str, TopicSource] = {}
        finished = False

        def submit(source: TopicSource, function: Any, *args: Any) -> None:
            try:
                units[pool.submit(function, options, source, *args)] = source
            except BrokenProcessPool:
                lost[source.name] = source

        def end(name: str) -> None:  # its jobs not yet started are not needed any more
            ended.add(name)
            for future, other in units.items():
                if other.name == name:
                    future.cancel()

        def late(name: str) -> str | None:  # the job of the topic stopped at its time limit
            labels = [seed_label(name, None), *(seed_label(name, s) for s in wanted.get(name, []))]
            return next((label for label in labels if label in self.late), None)

        try:
            for source in sources:
                submit(source, _start_in_worker, keys[source.name])
            for future in self._as_completed(units, options.max_topic_seconds):
                source = units[future]
                if source.name in ended or source.name in lost:
                    continue  # a seed of a topic that failed, or that runs again alone
                try:
                    result = future.result()
                except BrokenProcessPool:
                    stopped = late(source.name)
                    if stopped:  # one of its jobs was stopped at its time limit: that is its failure
                        end(source.name)
                        yield self._late(source, options.max_topic_seconds, stopped)
                    else:
                        lost[source.name] = source
                    continue
                if isinstance(result, SeedRun):
                    seeds[source.name][result.seed] = result
                    if len(seeds[source.name]) == len(wanted[source.name]):
                        runs = tuple(seeds[source.name][s] for s in wanted[source.name])
                        submit(source, _run_in_worker, keys[source.name], runs)
                elif isinstance(result, list):  # the seeds the topic wants
                    wanted[source.name], seeds[source.name] = result, {}
                    for other in result:
                        submit(source, _seed_in_worker, other)
                else:
                    end(source.name)
                    yield _with_source(result, source)
            finished = True
        finally:
            self._shut(number, pool, finished)
        # A worker died, and the pool with it: which topic killed it is not known. Each topic the
        # pool lost runs again alone, its seeds one after the other (each within the limit); one
        # that kills its process again is the culprit.
        for source in lost.values():
            yield self._alone(source, options, keys[source.name], max(1, len(wanted.get(source.name, []))))

    def _as_completed(self, units: dict[Any, TopicSource], limit: float | None) -> Iterator[Any]:
        """The futures as they finish, those submitted meanwhile too; with a limit, a job that has run
        longer (its import and data included) has its worker killed: the pool breaks, and that
        topic fails. A job's begin and end come from its worker (`_job`)."""
        seen: set[Any] = set()
        while len(seen) < len(units):
            done, _ = wait(set(units) - seen, timeout=1.0 if limit else None, return_when=FIRST_COMPLETED)
            seen |= done
            yield from done
            for name, (pid, started) in list(self.running.items()):
                if limit and name not in self.late and time.monotonic() - started > limit:
                    self.late.add(name)
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)

    def _late(self, source: TopicSource, limit: float | None, label: str = "") -> Result:
        seed = label.removeprefix(source.name).strip()  # "seed 3", or "" for the topic's own run
        error = TopicError(
            f"{rel(source.path)}: the topic ran longer than its {limit:g} s limit (--max-topic-seconds)"
            f"{f' at {seed}' if seed else ''}, its import, data, training, measuring and drawing together "
            "(each seed's run apart); look for code that waits, or raise the limit"
        )
        return TopicOutcome(source.name, source.path, "failed", error=error), None

    def _alone(self, source: TopicSource, options: Options, key: str, runs: int) -> Result:
        """The topic run whole in a pool of its own: its `runs` (one per seed) within the limit each."""
        number, pool = self._pool(1)
        finished = False
        limit = options.max_topic_seconds and options.max_topic_seconds * runs
        try:
            future = pool.submit(_run_in_worker, options, source, key)
            result = _with_source(future.result(timeout=limit), source)
            finished = True
            return result
        except TimeoutError:  # its time limit, alone too: the pool's worker is killed (on leaving)
            return self._late(source, options.max_topic_seconds)
        except BrokenProcessPool:
            finished = True
            error = TopicError(
                f"{rel(source.path)}: the process running this topic ended abruptly "
                "(os._exit, a signal, or out of memory); a topic must not exit: look for "
                "os._exit or kill in its code, or lower its memory use"
            )
            return TopicOutcome(source.name, source.path, "failed", error=error), None
        finally:
            self._shut(number, pool, finished)

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
                if event[1] not in self.done:
                    self.pids.setdefault(event[1], set()).add(event[2])
            elif event[0] == "begin":
                self.running[event[1]] = (event[2], time.monotonic())
                self.progress.stage(f"{event[1]}: running")
            elif event[0] == "end":  # after its begin: one worker's events arrive in order
                self.running.pop(event[1], None)
            elif event[0] == "start":
                self.progress.topic_started(event[1], event[2])
            else:
                self.progress.epoch(*event[1:])


def _with_source(result: Result, source: TopicSource) -> Result:
    """A worker's (outcome, run), with this build's source object."""
    outcome, run = result
    return outcome, (replace(run, source=source) if run else None)


_events: Queue[tuple[Any, ...]] | None = None  # in a worker: the queue its pid and epochs go to


def _start_worker(events: Queue[tuple[Any, ...]], pool: int, scratch: str) -> None:
    """A worker says who it is, dies with the build that started it (even a SIGKILLed one), and
    keeps its temporary files in the build's scratch folder, which the build removes."""
    global _events  # noqa: PLW0603 - a worker's queue, set once by the pool's initializer
    _events = events
    tempfile.tempdir = scratch
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the build stops us
    events.put(("pid", pool, os.getpid()))
    parent = multiprocessing.parent_process()
    if parent is not None:

        def orphaned() -> None:
            parent.join()
            os._exit(1)

        threading.Thread(target=orphaned, daemon=True).start()


@contextlib.contextmanager
def _job(label: str) -> Iterator[Progress]:
    """One job in a worker: its begin and end (for the time limit), and its progress, relayed."""
    assert _events is not None, "a worker's queue is set by the pool's initializer"
    _events.put(("begin", label, os.getpid()))
    try:
        yield _Relayed(_events)
    finally:
        _events.put(("end", label))


def _start_in_worker(options: Options, source: TopicSource, key: str) -> Result | list[int]:
    """A topic run whole, or, when it has seeds, the seeds it runs at (the build runs each as a job
    of its own, then the topic with them: its claims and figures)."""
    from nnarch.source.load import load_topic

    wanted = []
    if source.outline.seeds is not False:  # it may declare seeds: import it to know
        with _job(source.name), contextlib.suppress(NnarchError):  # run_topic fails with it, as it should
            wanted = seeds_of(load_topic(source)[0])
    return wanted or _run_in_worker(options, source, key)


def _seed_in_worker(options: Options, source: TopicSource, seed: int) -> SeedRun | Result:
    """The topic's run at one of its seeds, or the topic's failure (its time that of this run)."""
    t0 = time.perf_counter()
    with _job(seed_label(source.name, seed)) as progress:
        try:
            return run_seed(source, seed, options, progress)
        except NnarchError as error:
            seconds = time.perf_counter() - t0
            return _failed(TopicOutcome(source.name, source.path, "failed", seconds=seconds, error=error)), None


def _run_in_worker(options: Options, source: TopicSource, key: str, seeds: tuple[SeedRun, ...] | None = None) -> Result:
    with _job(source.name) as progress:
        outcome, run = run_topic(source, options, progress, key, seeds=seeds)
    return _failed(outcome), run


def _failed(outcome: TopicOutcome) -> TopicOutcome:
    """A failed topic's traceback does not travel with it: its text does, for --debug."""
    if outcome.error:
        outcome.error.remote_trace = "".join(traceback.format_exception(outcome.error))
    return outcome


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
