"""Cluster: train topics on a Dask cluster (`nnarch build --scheduler tcp://HOST:PORT`).

Only training leaves this machine. Each topic is one task that carries what it needs: the files of
its lecture folder and `course.py` as bytes, the budget, the device and this machine's package
versions. A worker writes them into a private temporary folder, trains with the same seeded loop as
a local build (one thread) and returns the weights as bytes; here they are verified like a cache
entry before they are used. Dask does the rest: a worker that dies mid-training has its task
rescheduled on another (`distributed.scheduler.allowed-failures`), resources route GPU topics to GPU
workers, and progress comes back as worker events.
"""

from __future__ import annotations

import hashlib
import io
import platform
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from nnarch.cache.fingerprint import files_under, user_closure
from nnarch.errors import EnvironmentProblem, NnarchError, TrainingError, UsageError, rel
from nnarch.run.record import TRAINING_VERSIONED

EVENTS = "nnarch-training"
SCHEMES = ("tcp", "tls", "ucx", "inproc", "ws", "wss")  # Dask's comm protocols
PAYLOAD_LIMIT = 64 * 2**20  # the files one task may carry to a worker
# torch's thread count is global to a process: a worker with several threads trains one topic at a
# time, so that every training runs on exactly one thread, as it does locally.
_ONE_AT_A_TIME = threading.Lock()


def run_on_cluster(sources: list, options, progress, keys: dict):
    """(outcome, run) of each topic, in order: the topics that miss the cache train on the cluster
    all at once, while this process measures and draws each as soon as its weights are back."""
    from nnarch.cache.store import Cache
    from nnarch.run.runner import device_for, resources, run_topic, topic_training_key
    from nnarch.source.load import load_topic

    trainer = ClusterTrainer(options.scheduler, options.scheduler_timeout, progress)
    try:
        cache = Cache(options.cache_dir)
        errors: dict = {}
        submitted: dict = {}  # topic -> {training key: task}
        for source in sources:
            try:
                topic = load_topic(source)[0]
            except NnarchError as error:
                errors[source.name] = error
                continue
            for seed in topic.all_seeds():  # a topic with seeds: one task per seed
                key = topic_training_key(source, topic.at_seed(seed), options)
                if options.forced(source.name) or not cache.has_fit(key):
                    submitted.setdefault(source.name, {})[key] = trainer.submit(
                        options.lectures,
                        source.path.parent.name,
                        source.name,
                        device_for(topic, options),
                        options.budget,
                        options.max_train_seconds,
                        resources(topic, options),
                        None if seed == topic.recipe.seed else seed,
                    )
        if submitted:
            tasks = sum(len(s) for s in submitted.values())
            progress.stage(f"training {len(submitted)} topic(s) in {tasks} task(s) {trainer.where()}")
        for source in sources:
            elsewhere: NnarchError | str | None = errors.get(source.name)
            if source.name in submitted:
                try:
                    for key, task in submitted[source.name].items():
                        cache.store_fit(key, *trainer.result(task))
                    elsewhere = "trained"
                except NnarchError as error:
                    elsewhere = error
                except Exception:
                    elsewhere = None
            yield run_topic(source, options, progress, keys[source.name], elsewhere)
    finally:
        trainer.close()


class VersionSkew(EnvironmentProblem):
    """A worker has other versions of Python, nnarch or the numeric packages than this machine."""


class ClusterTrainer:
    """The Dask cluster at `address`: topics train there, one task each."""

    def __init__(self, address: str, timeout: float, progress):
        self.address, self.build, self.progress = address, uuid.uuid4().hex, progress
        self.client = connect(address, timeout)
        self.futures: list[tuple[Any, str]] = []
        try:
            check_workers(self.client, address)
            self.client.subscribe_topic(EVENTS, lambda event: _show(event[1], self.build, progress))
        except BaseException:
            self.client.close()
            raise

    def where(self) -> str:
        return f"on the Dask cluster at {self.address}"

    def submit(
        self,
        lectures: Path,
        lecture: str,
        topic: str,
        device: str,
        budget: str,
        max_seconds: float | None,
        resources: dict,
        seed: int | None = None,
    ):
        """Train `topic` there (at `seed` instead of its recipe's, for one of its `seeds`)."""
        payload = {**_payload(lectures, lecture, topic, device, budget, max_seconds, self.build), "seed": seed}
        from nnarch.run.runner import seed_label

        label = seed_label(topic, seed)
        if resources and not any(
            all(w.get("resources", {}).get(k, 0) >= v for k, v in resources.items())
            for w in self.client.scheduler_info()["workers"].values()
        ):
            self.progress.stage(
                f"{label}: waiting for a worker with {resources} (start one with "
                f"--resources {' '.join(f'{k}={v}' for k, v in resources.items())})"
            )
        task = f"nnarch-train-{topic}{'' if seed is None else f'-seed{seed}'}-{self.build[:8]}"
        future = self.client.submit(train_task, payload, key=task, resources=resources or None, pure=False)
        self.futures.append((future, label))
        return future, label

    @staticmethod
    def result(submitted):
        future, topic = submitted
        try:
            return receive(future.result())
        except NnarchError:
            raise
        except Exception as error:  # KilledWorker after every allowed retry, a lost scheduler
            raise TrainingError(
                f"{topic}: training on the Dask cluster failed: {type(error).__name__}: {error}"
            ) from None

    def close(self) -> None:
        """Cancel what is still queued or running (Ctrl-C, --fail-fast); then let the client go,
        even when the scheduler is gone."""
        pending = [f for f, _ in self.futures if not f.done()]
        try:
            if pending:
                from distributed import Event

                Event(_cancel_event(self.build), client=self.client).set()  # training stops within a second
                self.client.cancel(pending, force=True)
        except Exception:
            pass
        finally:
            self.client.close(timeout=5)


def _cancel_event(build: str) -> str:
    """The Dask event a build sets when it stops early: its tasks' training polls it."""
    return f"nnarch-cancel-{build}"


def versions() -> dict:
    """What must match between this machine and a worker for the weights to be the same: the
    release of each package (a CPU and a CUDA build of torch 2.13.0 are both 2.13.0; the device is
    in the cache key) and the platform, whose CPU kernels can round differently."""
    from nnarch import __version__
    from nnarch.toolchain import package_version

    return {
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "nnarch": __version__,
        **{name: package_version(name).split("+")[0] for name in TRAINING_VERSIONED},
    }


def skew(ours: dict, theirs: dict) -> str:
    """'torch 2.12.0 there, 2.13.0 here; ...' for each package that differs, or ''."""
    return "; ".join(
        f"{name} {theirs.get(name, 'absent')} there, {ours[name]} here"
        for name in ours
        if theirs.get(name) != ours[name]
    )


def refuse_skew(worker: str, ours: dict, theirs: dict) -> None:
    difference = skew(ours, theirs)
    if difference:
        raise VersionSkew(
            f"worker {worker}: {difference}; install the same versions on every worker "
            "(pip install -r requirements.lock) so that no build mixes them"
        )


def check_address(address: str) -> None:
    """A scheduler's address names one of Dask's protocols: http://… (its dashboard) is a usage error."""
    scheme = address.split("://", 1)[0] if "://" in address else "tcp"  # HOST:PORT is Dask's tcp too
    if scheme not in SCHEMES:
        raise UsageError(
            f"--scheduler {address}: not a Dask scheduler's address; write tcp://HOST:PORT "
            "(or tls://HOST:PORT for a cluster beyond your own machine)"
        )


def connect(address: str, timeout: float):
    try:
        from distributed import Client
    except ImportError:
        raise EnvironmentProblem(
            f"--scheduler {address}: Dask is not installed here; install it with "
            "pip install 'nnarch[cluster]' (or -r requirements.lock)"
        ) from None
    check_address(address)
    # A port that accepts connections but is not a scheduler (its dashboard, any HTTP server) never
    # answers Dask's handshake, and Client waits on: it is given the timeout, then abandoned.
    made: list = []

    def connecting() -> None:
        try:
            made.append(Client(address, timeout=timeout, set_as_default=False))
        except Exception as error:
            made.append(error)

    thread = threading.Thread(target=connecting, daemon=True)
    thread.start()
    thread.join(timeout + 5)
    result = made[0] if made else TimeoutError("no handshake")
    if not isinstance(result, Exception):
        return result
    try:
        raise result
    except (OSError, TimeoutError, ValueError) as error:
        raise EnvironmentProblem(
            f"--scheduler {address}: no Dask scheduler answered within {timeout:g} s "
            f"({type(error).__name__}); start one with `dask scheduler` or fix the "
            "address"
        ) from None


def check_workers(client, address: str) -> None:
    """Refuse workers that cannot import nnarch or whose versions differ, before anything trains.
    (Workers that join later are checked by each task.)"""
    ours = versions()
    try:
        found = client.run(versions, on_error="return")
    except Exception as error:
        raise EnvironmentProblem(
            f"--scheduler {address}: cannot ask the workers for their versions ({error})"
        ) from None
    for worker, theirs in sorted(found.items()):
        if isinstance(theirs, BaseException):
            raise VersionSkew(
                f"worker {worker}: cannot run nnarch ({type(theirs).__name__}: {theirs}); "
                f"install nnarch {ours['nnarch']} and its packages in the workers' environment"
            )
        refuse_skew(worker, ours, theirs)


def _payload(
    lectures: Path, lecture: str, topic: str, device: str, budget: str, max_seconds: float | None, build: str
) -> dict:
    root = lectures.resolve()
    named = {str(p.relative_to(lectures)): p for p in [*lectures.glob("*.py"), *files_under(lectures / lecture)]}
    named |= {  # the helpers beside the lecture that the topic imports (found resolved)
        str(p.relative_to(root)): p for p in user_closure(lectures / lecture / f"{topic}.py") if p.is_relative_to(root)
    }
    sizes = {name: path.stat().st_size for name, path in named.items()}
    if sum(sizes.values()) > PAYLOAD_LIMIT:
        largest = max(sizes, key=lambda name: sizes[name])
        raise UsageError(
            f"--scheduler: each task of {lecture} would carry {sum(sizes.values()) / 2**20:.0f} MB of files "
            f"(the largest {rel(named[largest])}, {sizes[largest] / 2**20:.0f} MB), over the "
            f"{PAYLOAD_LIMIT / 2**20:.0f} MB a task may; keep large data out of the lecture folder "
            "(a topic's data function can download or generate it)"
        )
    files = {name: path.read_bytes() for name, path in named.items()}
    return {
        "files": files,
        "lecture": lecture,
        "topic": topic,
        "device": device,
        "budget": budget,
        "max_seconds": max_seconds,
        "versions": versions(),
        "build": build,
        "shown_as": rel(lectures),
    }


def train_task(payload: dict) -> dict:
    """On a worker: unpack the lecture, train the topic, return its weights as bytes."""
    import torch
    from distributed import Event, get_worker

    from nnarch.run.runner import seed_label, train_one
    from nnarch.source.load import package_name

    worker = get_worker()
    refuse_skew(worker.address, payload["versions"], versions())

    label = seed_label(payload["topic"], payload.get("seed"))

    def tell(**event):
        worker.log_event(EVENTS, {"build": payload["build"], "topic": label, "worker": worker.address, **event})

    cancelled, checked = Event(_cancel_event(payload["build"])), [time.monotonic()]

    def epoch(_, number, loss):
        tell(epoch=number, loss=loss)
        if time.monotonic() - checked[0] >= 1.0:  # the build stopped (Ctrl-C, --fail-fast): stop too
            checked[0] = time.monotonic()
            if cancelled.is_set():
                raise TrainingError(f"{payload['topic']}: cancelled by the build that asked for it")

    with _ONE_AT_A_TIME, tempfile.TemporaryDirectory(prefix="nnarch-task-") as tmp:
        root = Path(tmp) / "lectures"
        for name, data in payload["files"].items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        try:
            states, entry = train_one(
                root,
                payload["lecture"],
                payload["topic"],
                payload["device"],
                payload["budget"],
                payload["max_seconds"],
                on_start=lambda _, epochs: tell(epochs=epochs),
                on_epoch=epoch,
                seed=payload.get("seed"),
            )
        except NnarchError as error:  # the same one-line error as locally, naming the user's file
            raise type(error)(str(error).replace(str(root.resolve()), payload["shown_as"])) from None
        finally:  # a long-lived worker keeps no lecture of an earlier task
            package = package_name(root.resolve())
            for name in [m for m in sys.modules if m.startswith(package)]:
                del sys.modules[name]
    buffer = io.BytesIO()
    torch.save(states, buffer)
    weights = buffer.getvalue()
    return {
        "weights": weights,
        "sha256": hashlib.sha256(weights).hexdigest(),
        "entry": {**entry, "worker": worker.address},
    }


def receive(result: dict) -> tuple[dict, dict]:
    """The state dicts and entry of a task's result, checked as a cache entry is."""
    import torch

    weights = result["weights"]
    if hashlib.sha256(weights).hexdigest() != result["sha256"]:
        raise TrainingError(
            f"the weights from worker {result['entry'].get('worker')} arrived damaged (checksum mismatch); build again"
        )
    states = torch.load(io.BytesIO(weights), weights_only=True, map_location="cpu")
    return states, result["entry"]


def _show(event: dict, build: str, progress) -> None:
    """A worker's event, shown as the local training's would be."""
    if event.get("build") != build:
        return  # another build on the same cluster
    if "epochs" in event:
        progress.topic_started(event["topic"], event["epochs"])
        progress.stage(f"{event['topic']}: training on {event['worker']}")
    else:
        progress.epoch(event["topic"], event["epoch"], event["loss"])
