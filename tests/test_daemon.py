"""The build daemon: `nnarch build` hands its work to a warm process, with the same results, output
and exit codes as a build in its own process, and never to a daemon of another nnarch."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, edit

PYTHON = sys.executable


@pytest.fixture
def daemon_env(tmp_path):
    """An environment whose daemons live in the test's own temporary folder; stopped afterwards."""
    private = tmp_path / "tmp"
    private.mkdir()
    env = {**os.environ, "NNARCH_DAEMON": "1", "TMPDIR": str(private), "NNARCH_DAEMON_IDLE": "120"}
    yield env
    nnarch(env, "daemon", "stop")


def nnarch(env, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "nnarch", *map(str, args)], env=env, cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=600)


def daemon_status(env) -> str:
    return nnarch(env, "daemon", "status", "--wait", "60").stdout


def report(out: Path) -> dict:
    return json.loads((out / "tiny" / "report.json").read_text())["topics"]


def test_a_rebuild_runs_in_the_daemon_with_the_results_of_a_fresh_process(daemon_env, fixture_lectures,
                                                                            tmp_path):
    first = nnarch(daemon_env, "build", "--lectures", fixture_lectures, "--out", tmp_path / "b")
    assert first.returncode == 0, first.stderr
    assert "started a build daemon" in first.stderr
    assert "0 build(s)" in daemon_status(daemon_env)

    edit(fixture_lectures / "tiny" / "line.py", "lr=0.1, epochs=40", "lr=0.05, epochs=40")
    second = nnarch(daemon_env, "build", "--lectures", fixture_lectures, "--out", tmp_path / "b")
    assert second.returncode == 0, second.stderr
    assert "started a build daemon" not in second.stderr
    assert "1 build(s)" in daemon_status(daemon_env)  # it was the daemon's
    assert "line" in second.stdout and "trained" in second.stdout and "wrote" in second.stdout

    alone = nnarch(daemon_env, "build", "--no-daemon", "--lectures", fixture_lectures, "--out", tmp_path / "c")
    assert alone.returncode == 0, alone.stderr
    assert "1 build(s)" in daemon_status(daemon_env)
    ours, theirs = report(tmp_path / "b")["line"], report(tmp_path / "c")["line"]
    for key in ("params", "metrics", "history"):
        assert ours[key] == theirs[key]
    assert (tmp_path / "b" / "tiny" / "slides.pdf").exists()


def test_a_failing_topic_reads_and_exits_the_same_through_the_daemon(daemon_env, fixture_lectures, tmp_path):
    assert nnarch(daemon_env, "build", "--lectures", fixture_lectures, "--out", tmp_path / "b").returncode == 0
    daemon_status(daemon_env)
    edit(fixture_lectures / "tiny" / "line.py", "return self.fc(x)", "return self.fc(x) + undefined_name")
    through = nnarch(daemon_env, "build", "--lectures", fixture_lectures, "--out", tmp_path / "b")
    assert "1 build(s)" in daemon_status(daemon_env)
    alone = nnarch(daemon_env, "build", "--no-daemon", "--lectures", fixture_lectures, "--out", tmp_path / "c")
    assert through.returncode == alone.returncode == 1
    error = [line for line in through.stderr.splitlines() if line.startswith("error:")]
    assert error and "line.py" in error[0] and "undefined_name" in error[0]
    assert error == [line for line in alone.stderr.splitlines() if line.startswith("error:")]


def test_ctrl_c_reaches_the_build_in_the_daemon(daemon_env, fixture_lectures, tmp_path):
    assert nnarch(daemon_env, "build", "--lectures", fixture_lectures, "--out", tmp_path / "b").returncode == 0
    pid = int(daemon_status(daemon_env).split("pid ")[1].split(",")[0])
    edit(fixture_lectures / "tiny" / "line.py", "epochs=40", "epochs=400000")
    client = subprocess.Popen([PYTHON, "-m", "nnarch", "build", "--lectures", str(fixture_lectures),
                               "--out", str(tmp_path / "b"), "--jobs", "1"], env=daemon_env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in client.stdout:
        if "line: started" in line:
            break
    assert children(pid), "the build runs in a child of the daemon"
    client.send_signal(signal.SIGINT)
    rest = client.stdout.read()
    assert client.wait(timeout=60) == 130
    assert "interrupted (Ctrl-C)" in rest
    deadline = time.monotonic() + 10
    while children(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not children(pid), "the daemon's child stopped with its client"


def children(pid: int) -> list[str]:
    return subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()


def test_a_daemon_of_other_nnarch_sources_is_replaced_not_used(daemon_env, fixture_lectures, tmp_path):
    """An nnarch whose sources changed since its daemon started builds in its own process, and the
    old daemon gives way to one that runs the new sources."""
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "nnarch", copy / "nnarch", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "templates", copy / "templates")
    def run(*args):  # `python -m` from the copy's folder imports the copy
        return nnarch(daemon_env, *args, cwd=copy)
    try:
        assert run("build", "--lectures", fixture_lectures, "--out", tmp_path / "b").returncode == 0
        status = run("daemon", "status", "--wait", "60").stdout
        old = int(status.split("pid ")[1].split(",")[0])
        assert "0 build(s)" in status

        with (copy / "nnarch" / "render.py").open("a") as source:
            source.write("\n# an edit of nnarch itself\n")
        assert "another nnarch version" in run("daemon", "status").stdout
        edit(fixture_lectures / "tiny" / "line.md", "# A Straight Line", "# A Line")
        rebuilt = run("build", "--lectures", fixture_lectures, "--out", tmp_path / "b")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "started a build daemon" in rebuilt.stderr
        new = run("daemon", "status", "--wait", "60").stdout
        assert "0 build(s)" in new and f"pid {old}," not in new
        with pytest.raises(ProcessLookupError):
            os.kill(old, 0)
    finally:
        run("daemon", "stop")
