"""`make bench`: nnarch's build against plain scripts, in one invocation on one machine.

(a) the four reference scripts in bench/, at every seed nnarch trains (run again after (i)), and
one latexmk of the built deck;
(b) a cold build (and two more, for the median that is compared with sphinx-gallery's, also of
three, run alternately); (c) a no-op build; (d) a rebuild after a text-only edit of one topic; (e) a
rebuild after a model edit of one topic; (f) `nnarch serve`: a saved text edit until the served deck
and the PDF show it; (g) two cold builds at once; (h) the peers, Jupyter Book and sphinx-gallery, on
the same cases (see peers.py), sphinx-gallery twice: its scripts at the recipes' seeds, as the
solution notebooks train, and at every seed, as nnarch trains; (i) a cold build with `--jobs 1`,
one topic at a time, whose training times are compared with the reference scripts', which also
train alone; (j) `nnarch serve`:
a saved model edit until the served deck shows it, against that topic's training time. Prints each
figure, the ratios the project targets, and the peak memory (RSS) of the build's own process.

nnarch runs as its users run it: the `nnarch` command, each build a fresh process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import peers  # noqa: E402

TOPICS = ("ffnn", "gnn", "cnn", "lstm")
NNARCH = [str(Path(sys.executable).parent / "nnarch")]


def nnarch_build(lectures: Path, out: Path, *options: str) -> list[str]:
    """The `nnarch build` command of a lectures folder into an output folder, on the CPU."""
    return [*NNARCH, "build", "--lectures", str(lectures), "--out", str(out), "--device", "cpu", *options]


def timed(cmd, cwd=ROOT, env=None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (of the process itself), and stdout of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env and {**os.environ, **env},
    )
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(map(str, cmd))} failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def _train_seconds(output: str) -> float:
    """What a reference script reports: its training's seconds."""
    return float(output.rsplit("train_seconds=", maxsplit=1)[-1])


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"bench: '{old}' not found in {path}"
    path.write_text(text.replace(old, new))


def without_seeds(folder: Path) -> None:
    """The lecture as it would be with no `seeds`: the run at the recipe's seed alone, the slides
    showing its values where they show the medians, no seeds figure, no claim about a share."""
    for module in folder.glob("*.py"):
        text = re.sub(r"\n    seeds=range\(\d+\),", "", module.read_text())
        text = re.sub(r'\n        FigureSpec\("seeds", "seeds"[^\n]*', "", text)
        claim = r"\n *within\((?:[^()]|\([^()]*\))*\),?"  # with one level of parentheses inside
        text = re.sub(claim, lambda m: "\n" if "share=" in m[0] else m[0], text)
        module.write_text(text)
    for slides in folder.glob("*.md"):
        text = re.sub(
            r"\{\{([\w.]+):spread(?::([^}]*))?\}\}",
            lambda m: "{{" + m[1] + (f":{m[2]}" if m[2] else "") + "}}",
            slides.read_text(),
        )
        text = re.sub(r"\{\{((?:topics\.\w+\.)?)seeds\.(?:median|min|max)\.", r"{{\1", text)
        text = re.sub(r"\{\{(?:topics\.\w+\.)?seeds\.count\}\}", "1", text)
        slides.write_text(re.sub(r"!\[[^\]]*\]\(seeds\)\{[^}]*\}\n", "", text))


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="nnarch-bench-"))
    (work / "tmp").mkdir()
    os.environ.update(TMPDIR=str(work / "tmp"))
    try:
        _main(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _main(work: Path) -> None:
    problem = peers.available()
    if problem:
        sys.exit(f"bench: the peers' environment is missing; run {problem}")
    lectures, out = work / "lectures", work / "build"
    shutil.copytree(ROOT / "lectures", lectures, ignore=shutil.ignore_patterns("__pycache__"))
    build = nnarch_build(lectures, out)
    rows, peak = [], 0.0

    reference = {}
    every_seed = {"BENCH_SEEDS": "all"}  # the scripts train at each seed nnarch trains
    for topic in TOPICS:
        seconds, rss, output = timed([sys.executable, str(ROOT / "bench" / f"{topic}.py")], env=every_seed)
        reference[topic] = [_train_seconds(output)]
        rows.append((f"(a) reference script {topic}.py", seconds, rss))
        peak = max(peak, rss)
    # The training ratios compare nnarch's loop with a plain one, each topic alone as the reference
    # scripts run (in the cold build two topics share the machine: its caches, its memory bus). The
    # machine's speed drifts over minutes (the LSTM's 15 epochs take 3 s or 4.5 s), so the scripts
    # run again right after nnarch, and nnarch is compared with the mean of the two runs around it.
    alone = work / "alone"
    shutil.copytree(ROOT / "lectures", alone / "lectures", ignore=shutil.ignore_patterns("__pycache__"))
    by_itself_seconds, by_itself_rss, _ = timed(nnarch_build(alone / "lectures", alone / "build", "--jobs", "1"))
    by_itself = json.loads((alone / "build" / "nn-architectures" / "report.json").read_text())["topics"]
    for topic in TOPICS:
        script = [sys.executable, str(ROOT / "bench" / f"{topic}.py")]
        reference[topic].append(_train_seconds(timed(script, env=every_seed)[2]))

    cold, rss, _ = timed(build)
    rows.append(("(b) cold nnarch build", cold, rss))
    peak = max(peak, rss)
    report = json.loads((out / "nn-architectures" / "report.json").read_text())["topics"]
    # Cold builds vary by 10 % from run to run here, and the machine's speed drifts over minutes: the
    # comparison with sphinx-gallery takes the medians of three cold builds on each side, run
    # alternately.
    colds, gallery_colds = [cold], []
    for n in (2, 3, 4):
        gallery_colds.append(peers.sphinx_gallery_cold(work / f"gallery{n}"))
        if n < 4:
            colds.append(timed(nnarch_build(lectures, work / f"cold{n}"))[0])

    deck = work / "latex"
    shutil.copytree(out / ".work" / "nn_architectures", deck)
    # latexmk's first run in the folder has no database of its own yet (nnarch's passes leave none):
    # the timed one is latexmk after an edit, one pass
    timed(["latexmk", "-pdf", "-interaction=nonstopmode", "-silent", "slides.tex"], deck)
    latex, rss, _ = timed(["latexmk", "-pdf", "-g", "-interaction=nonstopmode", "-silent", "slides.tex"], deck)
    rows.append(("(a) one latexmk of the deck", latex, rss))

    noop, rss, _ = timed(build)
    rows.append(("(c) no-op build", noop, rss))

    edit(lectures / "nn_architectures" / "cnn.md", "Typical data", "Typical inputs")
    text_edit, rss, _ = timed(build)
    rows.append(("(d) rebuild after a text edit (cnn)", text_edit, rss))
    after_text = json.loads((out / "nn-architectures" / "report.json").read_text())["topics"]

    edit(
        lectures / "nn_architectures" / "gnn.py",
        "def __init__(self, n_nodes=N_NODES, hidden_size=16)",
        "def __init__(self, n_nodes=N_NODES, hidden_size=8)",
    )
    model_edit, rss, _ = timed(build)
    rows.append(("(e) rebuild after a model edit (gnn)", model_edit, rss))
    after_model = json.loads((out / "nn-architectures" / "report.json").read_text())["topics"]
    rows.append(("(i) cold build, --jobs 1: one topic at a time", by_itself_seconds, by_itself_rss))
    single = work / "single"
    shutil.copytree(ROOT / "lectures", single / "lectures", ignore=shutil.ignore_patterns("__pycache__"))
    without_seeds(single / "lectures" / "nn_architectures")
    one_seed, one_seed_rss, _ = timed(nnarch_build(single / "lectures", single / "build"))
    rows.append(("(j) cold build with one seed per topic (what the seeds add: (b) - (j))", one_seed, one_seed_rss))
    peak = max(peak, *(r[2] for r in rows))
    to_html, to_pdf, model_html, gnn_training = serve_edits(lectures, out)
    loaded = two_at_once(work)
    notebooks = out / "nn-architectures" / "instructor" / "notebooks"  # the solution notebooks
    others = {
        "Jupyter Book + jupyter-cache": peers.jupyter_book(notebooks, work / "peers"),
        "sphinx-gallery": peers.sphinx_gallery(work / "peers"),
        # the same work as nnarch's: the scripts at every seed nnarch trains (not the exercises,
        # which nnarch also solves at each seed)
        "sphinx-gallery, every seed": peers.sphinx_gallery(work / "peers-seeds", all_seeds=True),
    }
    others["sphinx-gallery"]["cold build"] = statistics.median(gallery_colds)  # the alternating ones
    cases = {
        "cold build": statistics.median(colds),
        "no-op": noop,
        "text-only edit": text_edit,
        "model edit": model_edit,
    }

    print(f"{'measurement':44} {'seconds':>8} {'peak RSS MB':>12}")
    for name, seconds, rss in rows:
        print(f"{name:44} {seconds:8.2f} {rss:12.0f}")
    scripts = sum(timed_row[1] for timed_row in rows if timed_row[0].startswith("(a)"))
    print()
    print(f"cold build / sequential sum of (a):   {cold / scripts:.2f}  (target <= 1.0)")
    print(
        f"cold builds (b), three:               {', '.join(f'{c:.2f}' for c in colds)} s; "
        f"sphinx-gallery's: {', '.join(f'{c:.2f}' for c in gallery_colds)} s"
    )
    print(f"no-op build:                          {noop:.2f} s  (target <= 0.5 s)")
    print(f"text edit / one latexmk:              {text_edit / latex:.2f}  (target <= 1.5)")
    print(f"retrained after a text edit:          {_trained(after_text) or 'none'}")
    print(f"retrained after a model edit of gnn:  {_trained(after_model) or 'none'}  (target: gnn only)")
    for topic in TOPICS:
        ours, theirs = by_itself[topic]["stages"]["train"], statistics.mean(reference[topic])
        print(
            f"training {topic:5} nnarch / reference:  {ours:.2f} s / {theirs:.2f} s "
            f"({' and '.join(f'{r:.2f}' for r in reference[topic])}) = "
            f"{ours / theirs:.2f}  (target <= 1.05; {report[topic]['stages']['train']:.2f} s "
            "in the cold build, beside another topic)"
        )
    print(f"peak RSS:                             {peak:.0f} MB  (target <= 1536 MB)")
    print(
        f"serve: save -> served HTML updated:   median {statistics.median(to_html):.2f} s of "
        f"{', '.join(f'{t:.2f}' for t in to_html)}  (target <= 0.5 s and <= one latexmk, {latex:.2f} s)"
    )
    print(f"serve: save -> PDF updated / latexmk: median {statistics.median(to_pdf) / latex:.2f}  (target <= 1.5)")
    print(
        f"serve: model edit -> served HTML:     {model_html:.2f} s, gnn's training {gnn_training:.2f} s: "
        f"{model_html - gnn_training:.2f} s more  (target <= 1 s more)"
    )
    print()
    names = list(others)
    print(f"{'case':16}" + "".join(f"{n:>30}" for n in names) + f"{'nnarch':>10}")
    for case, seconds in cases.items():
        print(f"{case:16}" + "".join(f"{others[n][case]:>28.2f} s" for n in names) + f"{seconds:>8.2f} s")
    book, gallery = others["Jupyter Book + jupyter-cache"], others["sphinx-gallery"]
    print(f"text edit / Jupyter Book markdown edit:  {text_edit / book['text-only edit']:.2f}  (target <= 1.0)")
    print(
        f"cold build / sphinx-gallery cold:        {cases['cold build'] / gallery['cold build']:.2f}  "
        "(medians of 3; target <= 1.0, aim 0.8)"
    )
    print(f"model edit / sphinx-gallery code edit:   {model_edit / gallery['model edit']:.2f}  (target <= 1.0)")
    seeded = others["sphinx-gallery, every seed"]
    print(
        "at equal work (sphinx-gallery's scripts at every seed):  "
        f"cold {cases['cold build'] / seeded['cold build']:.2f}, model edit {model_edit / seeded['model edit']:.2f}"
    )
    print(f"no-op:                                   {noop:.2f} s  (target <= 0.25 s)")
    print(f"two cold builds at once / one alone:     {loaded / cold:.2f}  (target <= 2.2)")


def serve_edits(lectures: Path, out: Path, edits: int = 5) -> tuple[list, list, float, float]:
    """Seconds from saving a text edit to (the served deck showing it, the PDF being replaced), for
    `edits` successive edits of one sentence under a running `nnarch serve`; then the seconds from
    saving a model edit of gnn to the served deck showing its new parameter count, and gnn's
    training time in that build."""
    server = subprocess.Popen(
        NNARCH + ["serve", "--port", "0", "--lectures", str(lectures), "--out", str(out), "--device", "cpu"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in server.stdout:
            found = re.search(r"at (http://127\.0\.0\.1:\d+/)\?key=(\S+)", line)
            if found:
                break
        else:
            sys.exit("bench: nnarch serve did not start")
        threading.Thread(target=server.stdout.read, daemon=True).start()
        url = found[1] + f"nn-architectures/slides.html?key={found[2]}"
        pdf = out / "nn-architectures" / "slides.pdf"
        to_html, to_pdf = [], []
        source = lectures / "nn_architectures" / "cnn.md"
        for n in range(edits):
            time.sleep(1.0)  # let the server settle, as an author pauses between saves
            before = os.stat(pdf).st_mtime_ns
            text = source.read_text()
            old = f"Typical inputs ({n - 1})" if n else "Typical inputs"
            saved = time.perf_counter()
            source.write_text(text.replace(old, f"Typical inputs ({n})"))
            while f"Typical inputs ({n})" not in urllib.request.urlopen(url).read().decode():
                time.sleep(0.005)
            to_html.append(time.perf_counter() - saved)
            while not pdf.exists() or os.stat(pdf).st_mtime_ns == before:
                time.sleep(0.005)
            to_pdf.append(time.perf_counter() - saved)
        time.sleep(1.0)

        def deck() -> str:  # the served deck without the reload script, whose serial changes
            page = urllib.request.urlopen(url).read().decode()
            return re.sub(r"<script>/\* nnarch serve \*/.*?</script>", "", page, flags=re.S)

        before = deck()
        report = out / "nn-architectures" / "report.json"
        old_total = json.loads(report.read_text())["topics"]["gnn"]["params"]["total"]
        saved = time.perf_counter()
        edit(lectures / "nn_architectures" / "gnn.py", "hidden_size=8)", "hidden_size=10)")
        while deck() == before:  # gnn's figures and numbers change
            time.sleep(0.005)
        model_html = time.perf_counter() - saved
        while json.loads(report.read_text())["topics"]["gnn"]["params"]["total"] == old_total:
            time.sleep(0.05)  # the release, once LaTeX is done: gnn's training time is in its report
        return to_html, to_pdf, model_html, json.loads(report.read_text())["topics"]["gnn"]["stages"]["train"]
    finally:
        server.terminate()
        server.wait()


def two_at_once(work: Path) -> float:
    """Wall seconds of two cold builds of separate copies, started together: the slower one."""
    commands = []
    for n in (1, 2):
        lectures = work / f"loaded{n}" / "lectures"
        shutil.copytree(ROOT / "lectures", lectures, ignore=shutil.ignore_patterns("__pycache__"))
        commands.append(nnarch_build(lectures, lectures.parent / "build"))  # as cold as (b)
    start = time.perf_counter()
    running = [subprocess.Popen(c, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in commands]
    if any(p.wait() for p in running):
        sys.exit("bench: a build of the loaded run failed")
    return time.perf_counter() - start


def _trained(topics: dict) -> str:
    return ", ".join(name for name, entry in topics.items() if entry["status"] == "trained")


if __name__ == "__main__":
    main()
