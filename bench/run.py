"""`make bench`: nnarch's build against plain scripts, in one invocation on one machine.

(a) the four reference scripts in bench/ and one latexmk of the built deck; (b) a cold build;
(c) a no-op build; (d) a rebuild after a text-only edit of one topic; (e) a rebuild after a model
edit of one topic. Prints each figure, the ratios the project targets, and the peak memory (RSS).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOPICS = ("ffnn", "gnn", "cnn", "lstm")
NNARCH = [sys.executable, "-m", "nnarch.cli"]


def timed(cmd, cwd=ROOT) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (of the process itself), and stdout of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(map(str, cmd))} failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"bench: '{old}' not found in {path}"
    path.write_text(text.replace(old, new))


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="nnarch-bench-"))
    lectures, out = work / "lectures", work / "build"
    shutil.copytree(ROOT / "lectures", lectures, ignore=shutil.ignore_patterns("__pycache__"))
    build = NNARCH + ["build", "--lectures", str(lectures), "--out", str(out), "--device", "cpu"]
    rows, peak = [], 0.0

    reference = {}
    for topic in TOPICS:
        seconds, rss, output = timed([sys.executable, str(ROOT / "bench" / f"{topic}.py")])
        reference[topic] = float(output.split("train_seconds=")[-1])
        rows.append((f"(a) reference script {topic}.py", seconds, rss))
        peak = max(peak, rss)

    cold, rss, _ = timed(build)
    rows.append(("(b) cold nnarch build", cold, rss))
    peak = max(peak, rss)
    report = json.loads((out / "nn-architectures" / "report.json").read_text())["topics"]

    deck = work / "latex"
    shutil.copytree(out / ".work" / "nn_architectures", deck)
    latex, rss, _ = timed(["latexmk", "-pdf", "-g", "-interaction=nonstopmode", "-silent", "slides.tex"], deck)
    rows.append(("(a) one latexmk of the deck", latex, rss))

    noop, rss, _ = timed(build)
    rows.append(("(c) no-op build", noop, rss))

    edit(lectures / "nn_architectures" / "cnn.md", "Typical data", "Typical inputs")
    text_edit, rss, _ = timed(build)
    rows.append(("(d) rebuild after a text edit (cnn)", text_edit, rss))
    after_text = json.loads((out / "nn-architectures" / "report.json").read_text())["topics"]

    edit(lectures / "nn_architectures" / "gnn.py", "def __init__(self, n_nodes=N_NODES, hidden_size=16)",
         "def __init__(self, n_nodes=N_NODES, hidden_size=17)")
    model_edit, rss, _ = timed(build)
    rows.append(("(e) rebuild after a model edit (gnn)", model_edit, rss))
    after_model = json.loads((out / "nn-architectures" / "report.json").read_text())["topics"]
    peak = max(peak, *(r[2] for r in rows))

    print(f"{'measurement':44} {'seconds':>8} {'peak RSS MB':>12}")
    for name, seconds, rss in rows:
        print(f"{name:44} {seconds:8.2f} {rss:12.0f}")
    scripts = sum(timed_row[1] for timed_row in rows if timed_row[0].startswith("(a)"))
    print()
    print(f"cold build / sequential sum of (a):   {cold / scripts:.2f}  (target <= 1.0)")
    print(f"no-op build:                          {noop:.2f} s  (target <= 0.5 s)")
    print(f"text edit / one latexmk:              {text_edit / latex:.2f}  (target <= 1.5)")
    print(f"retrained after a text edit:          {_trained(after_text) or 'none'}")
    print(f"retrained after a model edit of gnn:  {_trained(after_model) or 'none'}  (target: gnn only)")
    for topic in TOPICS:
        ours = report[topic]["stages"]["train"]
        print(f"training {topic:5} nnarch / reference:  {ours:.2f} s / {reference[topic]:.2f} s = "
              f"{ours / reference[topic]:.2f}  (target <= 1.05)")
    print(f"peak RSS:                             {peak:.0f} MB  (target <= 1536 MB)")
    shutil.rmtree(work)


def _trained(topics: dict) -> str:
    return ", ".join(name for name, entry in topics.items() if entry["status"] == "trained")


if __name__ == "__main__":
    main()
