"""Interrupted, concurrent and ill-placed builds: the next build is right and build/ is never partial."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnarch.cli import app

from ..conftest import edit

SLOW_TOPIC = """
import torch
from torch import nn
from nnarch.topic import Recipe, Splits, Topic

EPOCHS = {epochs}


def make_data(seed):
    x = torch.linspace(0, 1, 8).unsqueeze(1)
    return Splits(train=(x, 2 * x), test=(x, 2 * x))


TOPIC = Topic(name="slow", model=lambda: nn.Linear(1, 1), data=make_data,
              recipe=Recipe(epochs=EPOCHS, batch_size=8))
"""


def with_slow_topic(lectures: Path, epochs: int, text: str = "first") -> Path:
    (lectures / "tiny" / "slow.py").write_text(SLOW_TOPIC.format(epochs=epochs))
    (lectures / "tiny" / "slow.md").write_text(f"# Slow\n\n## Slow Frame\n\n{text}\n")
    init = lectures / "tiny" / "__init__.py"
    init.write_text(init.read_text().replace('topics=("line", "plane")', 'topics=("line", "slow")'))
    return lectures


def start_build(lectures: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nnarch.cli", "build", "--lectures", str(lectures), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def lines_of(proc: subprocess.Popen) -> list[bytes]:
    """The lines a process prints, gathered as they come (by a thread, until it closes its output)."""
    lines: list[bytes] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, b"")), daemon=True).start()
    return lines


def printed(lines: list[bytes], pattern: bytes) -> bool:
    return any(re.search(pattern, line) for line in list(lines))


def build_ok(lectures: Path, out: Path) -> dict:
    result = CliRunner().invoke(app, ["build", "--lectures", str(lectures), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads((out / "tiny" / "report.json").read_text())["topics"]


def published(out: Path) -> dict:
    return {p.name: p.read_bytes() for p in (out / "tiny").iterdir() if p.is_file()}


def assert_nothing_partial(out: Path) -> None:
    """What a killed build leaves readers: the last release, whole. (A kill can strand a temporary
    file in the scratch folders, as SIGKILL cannot be caught; the next build sweeps it: see
    assert_swept.)"""
    assert not [p for p in (out / "tiny").rglob("*.tmp")], "temporary files in the release"
    for name, data in published(out).items():
        if name.endswith(".pdf"):
            assert data.rstrip().endswith(b"%%EOF"), name
        if name.endswith(".json"):
            json.loads(data)
        if name.endswith(".html"):
            assert data.rstrip().endswith(b"</html>"), name


def assert_swept(out: Path) -> None:
    assert not [p for p in out.rglob("*.tmp")], "a killed build's temporary files outlived the next build"


def wait_for(condition, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_sigkill_during_training_leaves_the_last_build_intact(fixture_lectures, tmp_path):
    lectures, out = with_slow_topic(fixture_lectures, epochs=5), tmp_path / "build"
    build_ok(lectures, out)
    before = published(out)
    with_slow_topic(lectures, epochs=10**7)
    proc = start_build(lectures, out)
    lines = lines_of(proc)
    wait_for(lambda: printed(lines, rb"slow: started") or proc.poll() is not None, seconds=300)
    assert proc.poll() is None, b"".join(lines).decode()  # training is under way
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert published(out) == before
    assert_nothing_partial(out)
    with_slow_topic(lectures, epochs=5, text="second")
    topics = build_ok(lectures, out)
    assert_swept(out)
    assert topics["slow"]["status"] == "cached" and topics["line"]["status"] == "cached"
    assert "second" in (out / "tiny" / "slides.html").read_text()


def _pdflatex_running(work: Path) -> bool:
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"pdflatex" in (proc / "cmdline").read_bytes() and Path(os.readlink(proc / "cwd")) == work:
                return True
        except OSError:
            continue
    return False


def test_sigkill_during_latex_leaves_the_last_build_intact(fixture_lectures, tmp_path):
    lectures, out = with_slow_topic(fixture_lectures, epochs=5), tmp_path / "build"
    build_ok(lectures, out)
    before = published(out)
    with_slow_topic(lectures, epochs=5, text="during latex")
    proc = start_build(lectures, out)
    wait_for(lambda: _pdflatex_running((out / ".work" / "tiny").resolve()) or proc.poll() is not None)
    assert proc.poll() is None, "the build finished before LaTeX could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert published(out)["slides.pdf"] == before["slides.pdf"]
    assert_nothing_partial(out)
    build_ok(lectures, out)
    assert_swept(out)
    text = subprocess.run(
        ["pdftotext", str(out / "tiny" / "slides.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "during latex" in text


def test_a_second_build_on_the_same_folder_exits_with_a_clear_message(fixture_lectures, tmp_path):
    lectures, out = with_slow_topic(fixture_lectures, epochs=10**7), tmp_path / "build"
    first = start_build(lectures, out)
    try:
        wait_for(lambda: (out / ".lock").exists() and (out / ".lock").read_text().strip() == str(first.pid))
        result = CliRunner().invoke(app, ["build", "--lectures", str(lectures), "--out", str(out)])
        assert result.exit_code == 4
        assert f"another nnarch build is running on this folder (pid {first.pid})" in result.output
        assert "--out DIR" in result.output
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


def test_unwritable_build_folder_names_the_fix(fixture_lectures, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    result = CliRunner().invoke(
        app, ["build", "--lectures", str(fixture_lectures), "--out", str(tmp_path / "a-file" / "build")]
    )
    assert result.exit_code == 3
    assert "a-file/build: cannot write there" in result.output and "pass --out DIR" in result.output
    assert "Traceback" not in result.output


def test_missing_latexmk_names_the_install_command_before_training(fixture_lectures, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH on which there is no latexmk
    result = CliRunner().invoke(app, ["build", "--lectures", str(fixture_lectures), "--out", str(tmp_path / "b")])
    assert result.exit_code == 3
    assert "latexmk: not found on PATH; install TeX Live: sudo apt-get install latexmk" in result.output
    assert not (tmp_path / "b" / ".cache" / "train").exists()  # failed before any training


def _statuses(lectures: Path, out: Path) -> dict:
    return {name: entry["status"] for name, entry in build_ok(lectures, out).items()}


@pytest.mark.parametrize("damage", [b"", b"not a pickle at all", None])
def test_corrupted_cache_entry_is_detected_and_retrained(fixture_lectures, tmp_path, damage):
    out = tmp_path / "b"
    _statuses(fixture_lectures, out)
    for weights in (out / ".cache" / "train").glob("*/weights.pt"):
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2] if damage is None else damage)
    init = fixture_lectures / "tiny" / "__init__.py"
    init.write_text(init.read_text() + "# edited: the topics run again and load their weights\n")
    assert _statuses(fixture_lectures, out) == {"line": "trained", "plane": "trained"}


class _Payload:
    """Unpickling this runs code: it would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_cached_weights_are_never_unpickled_as_code(fixture_lectures, tmp_path):
    out, marker = tmp_path / "b", tmp_path / "pwned"
    _statuses(fixture_lectures, out)
    payload = pickle.dumps({"model": _Payload(str(marker))})
    for entry in (out / ".cache" / "train").glob("*/entry.json"):
        (entry.parent / "weights.pt").write_bytes(payload)
        fields = json.loads(entry.read_text())  # a valid checksum: only the loader stands in the way
        entry.write_text(json.dumps({**fields, "sha256": hashlib.sha256(payload).hexdigest()}))
    init = fixture_lectures / "tiny" / "__init__.py"
    init.write_text(init.read_text() + "# edited: the topics run again and load their weights\n")
    assert _statuses(fixture_lectures, out) == {"line": "trained", "plane": "trained"}
    assert not marker.exists()


def test_a_cached_figure_that_is_a_link_or_truncated_is_drawn_again(fixture_lectures, tmp_path):
    out = tmp_path / "b"
    _statuses(fixture_lectures, out)
    pdfs = sorted((out / ".cache" / "figures").glob("*.pdf"))
    pdfs[0].unlink()
    pdfs[0].symlink_to("/etc/passwd")
    for svg in (out / ".cache" / "figures").glob("*.svg"):
        svg.write_bytes(svg.read_bytes()[:100])  # truncated
    shutil.rmtree(out / ".cache" / "records")  # the topics run again and reach for their figures
    _statuses(fixture_lectures, out)
    html = (out / "tiny" / "slides.html").read_text()
    assert "root:" not in html and b"root:" not in (out / "tiny" / "figures" / "line-loss.pdf").read_bytes()
    assert (out / "tiny" / "figures" / "line-loss.svg").read_text().rstrip().endswith("</svg>")


def test_a_cache_entry_with_a_valid_checksum_but_a_wrong_body_is_retrained(fixture_lectures, tmp_path):
    out = tmp_path / "b"
    _statuses(fixture_lectures, out)
    for entry in (out / ".cache" / "train").glob("*/entry.json"):
        fields = json.loads(entry.read_text())
        del fields["histories"]  # the weights and their checksum are intact
        entry.write_text(json.dumps(fields))
    shutil.rmtree(out / ".cache" / "records")
    assert _statuses(fixture_lectures, out) == {"line": "trained", "plane": "trained"}


SYS_EXIT = """
import sys

import torch
from torch import nn
from nnarch.topic import Recipe, Splits, Topic


def make_data(seed):
    sys.exit("no data today")


TOPIC = Topic(name="quits", model=lambda: nn.Linear(1, 1), data=make_data, recipe=Recipe(epochs=2))
"""

BAD_STEP = """
import torch
from torch import nn
from nnarch.topic import Recipe, Splits, Topic


def make_data(seed):
    x = torch.linspace(0, 1, 8).unsqueeze(1)
    return Splits(train=(x, 2 * x), test=(x, 2 * x))


def step(model, batch, loss_fn):
    inputs, targets = batch
    return loss_fn(model(inputs), targets) / undefined_scale


TOPIC = Topic(name="quits", model=lambda: nn.Linear(1, 1), data=make_data,
              recipe=Recipe(epochs=2, batch_size=8, step=step))
"""


BAD_ATTRIBUTE = BAD_STEP.replace(" / undefined_scale", "").replace(
    "    return Splits(train=(x, 2 * x), test=(x, 2 * x))",
    "    splits = Splits(train=(x, 2 * x), test=(x, 2 * x))\n    print(splits.tset)\n    return splits",
)


@pytest.mark.parametrize(
    "source, message",
    [
        (BAD_ATTRIBUTE, r"quits\.py:\d+: data: AttributeError: .*'tset' \(did you mean 'test'\?\)"),
        (SYS_EXIT, r"quits\.py:\d+: data: SystemExit \(a topic must not exit\): no data today"),
        (BAD_STEP, r"quits\.py:\d+: training \(model forward or recipe\.step\): NameError: name 'undefined_scale'"),
    ],
)
def test_user_code_that_exits_or_fails_is_that_topics_error(fixture_lectures, tmp_path, source, message):
    (fixture_lectures / "tiny" / "quits.py").write_text(source)
    (fixture_lectures / "tiny" / "quits.md").write_text("# Quits\n\n## Quits\n\nText.\n")
    init = fixture_lectures / "tiny" / "__init__.py"
    init.write_text(init.read_text().replace('topics=("line", "plane")', 'topics=("quits", "line")'))
    result = CliRunner().invoke(app, ["build", "--lectures", str(fixture_lectures), "--out", str(tmp_path / "b")])
    assert result.exit_code == 1, result.output
    assert re.search(message, " ".join(result.output.split())), result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    report = json.loads((tmp_path / "b" / "preview" / "tiny" / "report.json").read_text())
    assert report["topics"]["line"]["status"] == "trained"


def _group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("sig, code, jobs", [(signal.SIGTERM, 143, "2"), (signal.SIGINT, 130, "0")])
def test_an_interrupt_stops_training_workers_and_says_so(fixture_lectures, tmp_path, sig, code, jobs):
    lectures, out = with_slow_topic(fixture_lectures, epochs=10**7), tmp_path / "build"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnarch.cli", "build", "--lectures", str(lectures), "--out", str(out), "--jobs", jobs],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, b"")), daemon=True)
    reader.start()
    wait_for(lambda: any(b"slow: started" in line for line in lines) or proc.poll() is not None, seconds=300)
    assert proc.poll() is None, b"".join(lines).decode()  # training is under way (in a worker, or with --jobs 0 here)
    proc.send_signal(sig)
    proc.wait(timeout=120)
    reader.join(timeout=60)
    output = b"".join(lines).decode()
    assert proc.returncode == code, output
    assert "interrupted" in output and "Traceback" not in output
    wait_for(lambda: _group_is_gone(proc.pid), seconds=10)  # no worker left training as an orphan


def test_workers_die_with_a_killed_build(fixture_lectures, tmp_path):
    """SIGKILL gives the build no chance to stop its workers: they notice and end themselves."""
    lectures, out = with_slow_topic(fixture_lectures, epochs=10**7), tmp_path / "build"
    proc = start_build(lectures, out)
    lines = lines_of(proc)
    wait_for(lambda: printed(lines, rb"slow: started") or proc.poll() is not None, seconds=300)
    assert proc.poll() is None, b"".join(lines).decode()
    os.kill(proc.pid, signal.SIGKILL)  # the build alone, not its process group
    proc.wait()
    wait_for(lambda: _group_is_gone(proc.pid), seconds=60)


def test_an_interrupt_during_latex_stops_pdflatex(fixture_lectures, tmp_path):
    lectures, out = with_slow_topic(fixture_lectures, epochs=5), tmp_path / "build"
    build_ok(lectures, out)
    with_slow_topic(lectures, epochs=5, text="during latex")
    proc = start_build(lectures, out)
    wait_for(lambda: _pdflatex_running((out / ".work" / "tiny").resolve()) or proc.poll() is not None)
    assert proc.poll() is None, "the build finished before LaTeX could be interrupted"
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 143, output
    wait_for(lambda: not _pdflatex_running((out / ".work" / "tiny").resolve()), seconds=10)


def test_without_a_terminal_a_long_training_still_reports_progress(fixture_lectures, tmp_path):
    lectures, out = with_slow_topic(fixture_lectures, epochs=10**7), tmp_path / "build"
    proc = start_build(lectures, out)  # stdout and stderr are a pipe, not a terminal
    lines = lines_of(proc)
    wait_for(lambda: printed(lines, rb"slow: epoch \d+/10000000, loss") or proc.poll() is not None, seconds=300)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)
    assert printed(lines, rb"slow: started \(10000000 epochs\)"), b"".join(lines).decode()


def test_a_training_over_its_time_limit_is_that_topics_error(fixture_lectures, tmp_path):
    lectures, out = with_slow_topic(fixture_lectures, epochs=10**7), tmp_path / "build"
    result = CliRunner().invoke(
        app, ["build", "--lectures", str(lectures), "--out", str(out), "--max-train-seconds", "2"]
    )
    assert result.exit_code == 1, result.output
    assert re.search(
        r"slow\.py: recipe: training stopped at epoch \d+ of 10000000 after the 2 s limit",
        " ".join(result.output.split()),
    ), result.output
    assert json.loads((out / "preview" / "tiny" / "report.json").read_text())["topics"]["line"]["status"] == "trained"


def test_check_names_a_python_file_that_does_not_compile_and_a_non_ascii_topic(fixture_lectures):
    (fixture_lectures / "tiny" / "notes.py").write_text("def broken(:\n")
    init = fixture_lectures / "tiny" / "__init__.py"
    init.write_text(init.read_text().replace('topics=("line", "plane")', 'topics=("line", "plané")'))
    result = CliRunner().invoke(app, ["check", "--lectures", str(fixture_lectures)])
    assert result.exit_code == 1
    assert "notes.py:1: syntax error" in result.output
    assert "topics: 'plané' is not a module name; use ASCII letters" in result.output


def test_sigterm_to_the_build_then_its_group_is_one_line(fixture_lectures, tmp_path):
    """What `timeout` does: SIGTERM to the process, then to its whole group. The second signal
    arrives while the build stops; it must not add a traceback to the one line."""
    lectures, out = with_slow_topic(fixture_lectures, epochs=10**7), tmp_path / "build"
    for _ in range(2):
        code, output = _stopped_as_timeout_does(lectures, out)
        assert code == 143, output
        assert "Traceback" not in output and output.count("interrupted (SIGTERM)") == 1, output


def _stopped_as_timeout_does(lectures: Path, out: Path) -> tuple[int, str]:
    proc = start_build(lectures, out)
    lines = lines_of(proc)
    wait_for(lambda: printed(lines, rb"slow: started") or proc.poll() is not None, seconds=300)
    os.kill(proc.pid, signal.SIGTERM)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=120)
    wait_for(lambda: _group_is_gone(proc.pid), seconds=30)
    wait_for(lambda: printed(lines, rb"interrupted"), seconds=30)  # read to the end of its output
    return proc.returncode, b"".join(lines).decode()


def test_a_topic_that_blocks_is_stopped_at_its_time_limit_and_named(fixture_lectures, tmp_path):
    """A data function that waits forever: --max-topic-seconds stops that topic (its import and
    data count too), names it, and the other topic still builds."""
    line = fixture_lectures / "tiny" / "line.py"
    edit(line, "def make_data(seed):\n", "def make_data(seed):\n    __import__('time').sleep(10**6)\n")
    start = time.monotonic()
    result = CliRunner().invoke(
        app, ["build", "--lectures", str(fixture_lectures), "--out", str(tmp_path / "b"), "--max-topic-seconds", "5"]
    )
    assert result.exit_code == 1, result.output
    assert "line: running" in result.output
    assert re.search(r"line\.py: the topic ran longer than its 5 s limit \(--max-topic-seconds\)", result.output)
    assert time.monotonic() - start < 120
    report = json.loads((tmp_path / "b" / "preview" / "tiny" / "report.json").read_text())
    assert report["topics"]["plane"]["status"] == "trained"


def test_a_seed_whose_run_blocks_is_stopped_and_named(fixture_lectures, tmp_path):
    """A topic's run at one of its seeds waits forever: the limit stops that run (each seed's run has
    its own), the error names the seed, and the other topic still builds."""
    line = fixture_lectures / "tiny" / "line.py"
    edit(
        line,
        'figures=[FigureSpec("loss", "loss_curve")],',
        'figures=[FigureSpec("loss", "loss_curve")],\n    seeds=range(3),',
    )
    edit(
        line,
        "def make_data(seed):\n",
        "def make_data(seed):\n    if seed == 2:\n        __import__('time').sleep(10**6)\n",
    )
    out = tmp_path / "b"
    args = ["build", "--lectures", str(fixture_lectures), "--out", str(out), "--max-topic-seconds", "5", "--jobs", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "line.py: the topic ran longer than its 5 s limit (--max-topic-seconds) at seed 2" in said
    report = json.loads((out / "preview" / "tiny" / "report.json").read_text())
    assert report["topics"]["plane"]["status"] == "trained"
