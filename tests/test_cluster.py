"""`nnarch build --scheduler`: training on a real Dask cluster (a scheduler and worker processes on
127.0.0.1, started from the test's own temporary folder, so no worker sees the repository)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
import torch

from nnarch.build import Options, Progress, build

from .conftest import LECTURES, edit

pytestmark = pytest.mark.slow  # see tests/conftest.py

BIN = Path(sys.executable).parent


@pytest.fixture
def start_cluster(tmp_path):
    """start_cluster(workers, preload=None) -> (address, {worker address: pid}); stopped afterwards."""
    processes = []

    def start(workers: int = 2, preload: str | None = None):
        folder = tmp_path / f"cluster{len(processes)}"
        folder.mkdir()
        scheduler_file = folder / "scheduler.json"
        processes.append(
            subprocess.Popen(
                [
                    BIN / "dask",
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    scheduler_file,
                ],
                cwd=folder,
                stderr=subprocess.DEVNULL,
            )
        )
        extra = ["--preload", preload] if preload else []
        for _ in range(workers):
            processes.append(
                subprocess.Popen(
                    [
                        BIN / "dask",
                        "worker",
                        "--scheduler-file",
                        scheduler_file,
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        *extra,
                    ],
                    cwd=folder,
                    stderr=subprocess.DEVNULL,
                )
            )
        from distributed import Client

        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        with Client(scheduler_file=str(scheduler_file), set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=60)
            return client.scheduler.address, client.run(os.getpid)

    yield start
    for process in processes:
        process.kill()
        process.wait()


class KillFirstWorker(Progress):
    """Kills the worker that trains the first topic, at that topic's first epoch."""

    def __init__(self, pids: dict):
        self.pids, self.killed = pids, None
        self.workers = defaultdict(list)  # task (a topic or a seed of it) -> the workers it started on, in order

    def stage(self, text):
        found = re.match(r"(\w+(?: seed \d+)?): training on (\S+)", text)  # a topic, or one of its seeds
        if found:
            self.workers[found[1]].append(found[2])

    def epoch(self, name, epoch, loss):
        if self.killed is None and epoch == 1:
            self.killed = name
            os.kill(self.pids[self.workers[name][-1]], signal.SIGKILL)


def _topics(report: Path) -> dict:
    """The report's numbers per topic, without timings."""
    topics = json.loads(report.read_text())["topics"]
    return {name: {k: v for k, v in entry.items() if k not in ("seconds", "stages")} for name, entry in topics.items()}


def test_the_lecture_trains_on_the_cluster_as_here_and_survives_a_killed_worker(start_cluster, lecture_out, tmp_path):
    address, pids = start_cluster(2)
    progress = KillFirstWorker(pids)
    out = tmp_path / "out"
    result = build(Options(LECTURES, out, "cpu", scheduler=address), progress)
    assert result.ok, [str(e) for e in result.errors]

    # every topic trained there, and the one whose worker died started again on the other
    topics = {task.split()[0] for task in progress.workers}  # each seed of a topic is a task of its own
    assert {o.name: o.status for o in result.outcomes} == dict.fromkeys(topics, "trained")
    assert any(" seed " in task for task in progress.workers)
    entries = [json.loads(p.read_text()) for p in (out / ".cache" / "train").glob("*/entry.json")]
    assert entries and {e.get("worker") for e in entries} <= set(pids) and len(entries) == len(progress.workers)
    restarted = progress.workers[progress.killed]
    assert len(restarted) == 2 and restarted[0] != restarted[1], progress.workers

    # the same numbers as the local build, and bit-identical weights under the same cache keys
    assert _topics(out / "nn-architectures" / "report.json") == _topics(lecture_out / "report.json")
    local = lecture_out.parent / ".cache" / "train"
    for folder in (out / ".cache" / "train").iterdir():
        ours = torch.load(folder / "weights.pt", weights_only=True)
        theirs = torch.load(local / folder.name / "weights.pt", weights_only=True)
        assert ours.keys() == theirs.keys()
        for model in ours:
            assert all(torch.equal(ours[model][k], theirs[model][k]) for k in ours[model]), model


def test_a_topic_error_on_a_worker_reads_as_it_does_here(start_cluster, fixture_lectures, tmp_path):
    edit(fixture_lectures / "tiny" / "line.py", "    x = inputs(32, g)", "    x = inputs(32, g) + [][0]")
    here = build(Options(fixture_lectures, tmp_path / "here", "cpu"))
    address, _ = start_cluster(1)
    there = build(Options(fixture_lectures, tmp_path / "there", "cpu", scheduler=address))
    assert [o.status for o in there.outcomes] == ["failed", "trained"]
    assert [str(e) for e in there.errors] == [str(e) for e in here.errors]
    assert re.match(r"\S*line\.py:22: data: IndexError", str(there.errors[0])), there.errors[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_exit_3_naming_it(fixture_lectures, tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    done = subprocess.run(
        [BIN / "nnarch", "build", "--lectures", fixture_lectures, "--out", tmp_path / "b", "--scheduler-timeout", "1"],
        env={**os.environ, "NNARCH_SCHEDULER": address},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and address in errors[0], done.stderr
    assert not (tmp_path / "b" / "tiny").exists()


def test_without_dask_the_scheduler_option_says_how_to_install_it(fixture_lectures, tmp_path):
    """Dask is an extra: a machine without it gets one line that names the extra, exit 3."""
    hide = "import sys; sys.modules['distributed'] = None; from nnarch.cli import main; main()"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            hide,
            "build",
            "--lectures",
            fixture_lectures,
            "--out",
            tmp_path / "b",
            "--scheduler",
            "tcp://127.0.0.1:8786",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "pip install 'nnarch[cluster]'" in done.stderr and "Traceback" not in done.stderr


def test_a_worker_with_another_nnarch_is_refused_before_anything_trains(start_cluster, fixture_lectures, tmp_path):
    preload = tmp_path / "other_nnarch.py"
    preload.write_text("import nnarch\nnnarch.__version__ = '0.0.0-other'\n")
    address, _ = start_cluster(1, preload=str(preload))
    done = subprocess.run(
        [BIN / "nnarch", "build", "--lectures", fixture_lectures, "--out", tmp_path / "b", "--scheduler", address],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 3, done.stderr
    assert "nnarch 0.0.0-other there" in done.stderr, done.stderr
    assert "training on" not in done.stderr and not (tmp_path / "b" / ".cache" / "train").exists()


def test_ctrl_c_cancels_the_submitted_tasks(start_cluster, tmp_path):
    from distributed import Client

    address, _ = start_cluster(1)
    build_ = subprocess.Popen(
        [BIN / "nnarch", "build", "--out", tmp_path / "b", "--scheduler", address],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=LECTURES.parent,
    )
    for line in build_.stdout:
        if "training on" in line:  # one topic runs on the only worker, the others wait for it
            break
    build_.send_signal(signal.SIGINT)
    assert build_.wait(timeout=60) == 130, build_.stdout.read()
    with Client(address, set_as_default=False) as client:
        deadline = time.monotonic() + 90  # generous: a busy machine is slow, not wrong
        while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
            assert time.monotonic() < deadline, "tasks still on the scheduler after Ctrl-C"
            time.sleep(0.2)


def _build(lectures, out, *options: str) -> subprocess.CompletedProcess:
    """`nnarch build` of `lectures` into `out`, in its own process."""
    command = [BIN / "nnarch", "build", "--lectures", lectures, "--out", out, *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_a_port_that_is_no_scheduler_fails_within_the_timeout(fixture_lectures, tmp_path):
    """A dashboard or any HTTP server accepts the connection but never speaks Dask."""
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    server = HTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        start = time.monotonic()
        done = _build(
            fixture_lectures, tmp_path / "b", "--scheduler", f"tcp://127.0.0.1:{port}", "--scheduler-timeout", "2"
        )
        assert done.returncode == 3 and "no Dask scheduler answered within 2 s" in done.stderr, done.stderr
        assert time.monotonic() - start < 60
        done = _build(fixture_lectures, tmp_path / "b", "--scheduler", f"http://127.0.0.1:{port}")
        assert done.returncode == 2 and "write tcp://HOST:PORT" in done.stderr, done.stderr
        assert not (tmp_path / "b" / "tiny").exists()
    finally:
        server.shutdown()


def test_ctrl_c_stops_the_training_on_the_workers(start_cluster, fixture_lectures, tmp_path):
    """A cancelled task's training stops on its worker within seconds (it polls the build's cancel
    event between epochs), so the next build does not wait behind it."""
    from distributed import Client

    from .robustness.test_actions import with_slow_topic

    lectures = with_slow_topic(fixture_lectures, epochs=10**7)
    address, _ = start_cluster(1)
    build_ = subprocess.Popen(
        [BIN / "nnarch", "build", "--lectures", lectures, "--out", tmp_path / "b", "--scheduler", address],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in build_.stdout:
        if "slow: training on" in line:
            break
    build_.send_signal(signal.SIGINT)
    assert build_.wait(timeout=60) == 130, build_.stdout.read()
    with Client(address, set_as_default=False) as client:
        deadline = time.monotonic() + 60
        while any(client.run(lambda dask_worker: dask_worker.state.executing_count).values()):
            assert time.monotonic() < deadline, "the worker still trains after the build was stopped"
            time.sleep(0.2)


def test_a_lecture_too_large_to_send_is_one_line(start_cluster, fixture_lectures, tmp_path):
    """Every task carries its lecture's files: a folder with a large data file is refused before
    anything is sent, naming the file."""
    with open(fixture_lectures / "tiny" / "recording.bin", "wb") as handle:
        handle.truncate(80 * 2**20)  # sparse
    address, _ = start_cluster(1)
    done = _build(fixture_lectures, tmp_path / "b", "--scheduler", address)
    assert done.returncode == 2, done.stderr
    assert re.search(r"would carry 80 MB of files \(the largest \S*recording\.bin, 80 MB\)", done.stderr), done.stderr
    assert not (tmp_path / "b" / "tiny").exists()


def test_a_task_carries_the_lecture_and_the_helpers_it_imports_but_no_dot_files(fixture_lectures):
    from nnarch.run.cluster import _payload

    (fixture_lectures / "tiny" / ".env").write_text("TOKEN=secret\n")
    (fixture_lectures / "tiny" / ".git").mkdir()
    (fixture_lectures / "tiny" / ".git" / "config").write_text("[remote]\n")
    (fixture_lectures / "shared").mkdir()
    (fixture_lectures / "shared" / "consts.py").write_text("OFFSET = 1.0\n")
    line = fixture_lectures / "tiny" / "line.py"
    line.write_text("from ..shared.consts import OFFSET  # noqa\n" + line.read_text())
    files = _payload(fixture_lectures, "tiny", "line", "cpu", "full", None, "b")["files"]
    assert "shared/consts.py" in files and "tiny/line.py" in files
    assert not [name for name in files if "/." in f"/{name}"], sorted(files)
