"""Jobs: run topics whole (train, measure, draw, solve) in other processes beside the build.

A worker starts with torch and matplotlib imported (forked from the build, see START_METHOD) or
imports them while the build does (spawned). Each worker reports its epochs through a queue, which
feeds the same progress bars as a topic run in the build's own process.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .build import Progress

_events = None  # in a worker: the queue its epochs go to
# How workers start. "spawn": a fresh interpreter, which imports torch again beside the build; kept
# for builds inside other programs (serve, the tests), which may have run torch already: a forked
# child of a process whose torch thread pools run can hang. "fork": a copy of a build process that
# has run no torch computation, `nnarch build` (launch.py) or a daemon's build child (daemon.py),
# made once it has imported torch, torch._dynamo (which torch.optim imports at its first optimizer,
# 1 s) and matplotlib (preload.py), so that no worker imports them again: a cold build then uses 2 s
# less CPU.
START_METHOD = "spawn"
INHERITED_SOCKET: int | None = None  # in a daemon's build child: its connection to the client
RELAY_EVERY_S = 0.1  # a progress bar needs no more (rich redraws ten times a second)


class TopicPool:
    """A pool of `jobs` processes that run topics (one torch thread each, so never more processes
    than cores)."""

    def __init__(self, jobs: int, progress):
        jobs = max(1, min(jobs, os.cpu_count() or 1))
        if START_METHOD == "fork":  # see START_METHOD
            from .preload import preload
            preload()
        self.context = multiprocessing.get_context(START_METHOD)
        self.events = self.context.Queue()
        # one executor per worker: a worker that dies (a topic calling os._exit, a signal, the
        # kernel's OOM killer) breaks its own executor only, so the failure is that topic's
        self.pools = [self._executor() for _ in range(jobs)]
        self._lock, self._closing, self._died = threading.Lock(), False, {}
        self.listener = threading.Thread(target=_relay, args=(self.events, progress), daemon=True)
        self.listener.start()
        self.jobs = jobs

    def _executor(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(max_workers=1, mp_context=self.context, initializer=_start_worker,
                                   initargs=(self.events,))
        pool.submit(_warm)
        return pool

    def where(self) -> str:
        return f"in {self.jobs} background process{'es' if self.jobs > 1 else ''}"

    def share(self, options, sources: list, keys: dict) -> None:
        """Start running `sources` from the front. A worker is given its next topic only once it is
        free (an executor would queue them ahead), so that every topic not yet begun stays
        in `take_last`'s reach."""
        self._options, self._keys = options, keys
        self._waiting, self._finished = deque(sources), queue.SimpleQueue()
        for index in range(self.jobs):
            self._next(index)

    def _next(self, index: int) -> None:
        """Give a free worker the first waiting topic (also in the executor's thread, as a future's
        callback). A topic the pool can no longer take (it broke, or is closing) is handed back
        finished with no result, for the build to run."""
        with self._lock:
            if not self._waiting:
                return
            source = self._waiting.popleft()
            if not self._closing and self._died.pop(index, False):
                self.pools[index] = self._executor()  # its last topic died with it: a fresh worker
            pool = self.pools[index]
        try:
            future = pool.submit(_run_topic, self._options, source, self._keys[source.name])
        except Exception:  # noqa: BLE001 - a closing pool: never lose the topic
            self._finished.put((source, None))
            return
        future.add_done_callback(lambda done: self._done(index, source, done))

    def _done(self, index: int, source, future) -> None:
        if isinstance(future.exception(), BrokenProcessPool):
            self._died[index] = True
        self._finished.put((source, future))
        self._next(index)

    def take_last(self):
        """The last topic no worker has begun, now the build's to run; None if there is none."""
        with self._lock:
            return self._waiting.pop() if self._waiting else None

    def finished(self, wait: bool):
        """(source, future) of a topic the pool is done with (future None: it never ran), or None."""
        try:
            return self._finished.get(block=wait)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Stop now: no worker may go on training as an orphan (after Ctrl-C, or a topic that failed
        with --fail-fast); after a normal build nothing is left to stop."""
        # A worker killed while writing to the queue would leave its lock taken: nothing more is
        # put on it from here, and leaving the process never waits for its feeder thread.
        self.events.cancel_join_thread()
        with self._lock:
            self._closing = True
        for pool in self.pools:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.kill()
            pool.shutdown(wait=False, cancel_futures=True)


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
        on_start(topic, declared.recipe_for(budget).epochs)
    return checkpoint(train_topic(declared, source.path, device, on_epoch, budget=budget,
                                  max_seconds=max_seconds))


def _run_topic(options, source, key: str):
    import traceback

    from .build import run_topic
    from .cache import Cache
    outcome, run = run_topic(source, options, _Relayed(), None, Cache(options.cache_dir), key)
    if outcome.error:  # its traceback does not travel with it: its text does, for --debug
        outcome.error.remote_trace = "".join(traceback.format_exception(outcome.error))
    return outcome, run


class _Relayed(Progress):
    """A worker's progress: its epochs go to the build, which shows them (and says the rest). At
    most one epoch every RELAY_EVERY_S: each put wakes the queue's thread, which takes the GIL from
    the training loop, and a message for each of ffnn's 1500 epochs made it 0.3 s slower."""

    def __init__(self):
        self.sent, self.epochs = 0.0, 0

    def topic_started(self, name: str, epochs: int) -> None:
        self.epochs = epochs
        _events.put(("start", name, epochs))

    def epoch(self, name: str, epoch: int, loss: float) -> None:
        if epoch == self.epochs or time.monotonic() - self.sent >= RELAY_EVERY_S:  # and always the last
            self.sent = time.monotonic()
            _events.put(("epoch", name, epoch, loss))


def _start_worker(events) -> None:
    """A worker dies with the build that started it (even SIGKILLed), and a forked one lets go of
    what it inherited: the daemon client's connection, which must close when the build ends, and
    the progress display's streams, whose lock another thread may have held at the fork."""
    global _events
    _events = events
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if START_METHOD == "fork":
        if INHERITED_SOCKET is not None:
            os.close(INHERITED_SOCKET)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__


def _warm() -> None:
    from .preload import preload
    preload("torch_geometric", "nnarch.build", "nnarch.measure", "nnarch.train")


def _relay(events, progress) -> None:
    """In the build (a daemon thread, gone with it): the workers' epochs, shown as the build's own
    training would be."""
    while True:
        try:
            event = events.get()
        except Exception:  # noqa: BLE001 - a message cut short by a killed worker: the build is ending
            return
        if event[0] == "start":
            progress.topic_started(event[1], event[2])
        else:
            progress.epoch(*event[1:])
