"""The tools instructors would otherwise use, timed on the same work as nnarch (for `make bench`).

Jupyter Book 1.0 with jupyter-cache executes the four solution notebooks nnarch generates, and
sphinx-gallery runs the four scripts in bench/; so code, data, seeds and epochs are the same. Both run
from `.venv-bench` (bench/requirements.lock), apart from nnarch's own environment. Each peer is timed
on a cold build, a no-op build, a text-only edit of one topic (cnn) and a model edit of another (gnn:
16 hidden units become 8, as in nnarch's own model-edit case).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-bench" / "bin"
TOPICS = ("ffnn", "gnn", "cnn", "lstm")


def _timed(cmd, cwd: Path, env: dict | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env and {**os.environ, **env})
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(map(str, cmd))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"bench: '{old}' not found in {path}"
    path.write_text(text.replace(old, new, 1))


def jupyter_book(notebooks: Path, work: Path) -> dict:
    """Seconds per case for `jupyter-book build` of the solution notebooks, executed through
    jupyter-cache (a notebook whose code is unchanged is not executed again)."""
    book = work / "jupyter-book"
    book.mkdir(parents=True)
    for topic in TOPICS:
        shutil.copy(notebooks / f"{topic}-solution.ipynb", book / f"{topic}.ipynb")
    (book / "intro.md").write_text("# Neural Network Architectures\n\nThe four solution notebooks.\n")
    (book / "_config.yml").write_text(
        "title: bench\nauthor: bench\nonly_build_toc_files: true\n"
        "execute:\n  execute_notebooks: cache\n  timeout: 600\n"
    )
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n" + "".join(f"- file: {t}\n" for t in TOPICS)
    )
    build = [VENV / "jupyter-book", "build", "--quiet", str(book)]
    cases = {"cold build": _timed(build, book), "no-op": _timed(build, book)}
    cnn = book / "cnn.ipynb"
    notebook = json.loads(cnn.read_text())
    markdown = next(c for c in notebook["cells"] if c["cell_type"] == "markdown")
    markdown["source"] = ["Edited: "] + list(markdown["source"])
    cnn.write_text(json.dumps(notebook, indent=1))
    cases["text-only edit"] = _timed(build, book)
    _replace(book / "gnn.ipynb", "hidden_size=16):", "hidden_size=8):")
    cases["model edit"] = _timed(build, book)
    return cases


def sphinx_gallery(work: Path, all_seeds: bool = False) -> dict:
    """Seconds per case for `sphinx-build` of a gallery of the four bench scripts (sphinx-gallery
    runs a script again when its file changed); with `all_seeds`, the scripts train at every seed
    their topics declare, as nnarch does (BENCH_SEEDS=all), not at the recipe's alone."""
    site, build = _gallery(work)
    env = {"BENCH_SEEDS": "all"} if all_seeds else None
    cases = {"cold build": _timed(build, site, env), "no-op": _timed(build, site, env)}
    _replace(site / "examples" / "cnn.py", '"""Reference for', '"""Edited. Reference for')
    cases["text-only edit"] = _timed(build, site, env)
    _replace(site / "examples" / "gnn.py", "model = AdvectionGNN()", "model = AdvectionGNN(hidden_size=8)")
    cases["model edit"] = _timed(build, site, env)
    return cases


def sphinx_gallery_cold(work: Path) -> float:
    """Seconds of one cold `sphinx-build` of the gallery."""
    site, build = _gallery(work)
    return _timed(build, site)


def _gallery(work: Path) -> tuple[Path, list]:
    """A Sphinx project in work/ whose gallery is the four bench scripts, and the command that builds it."""
    site = work / "sphinx-gallery"
    examples = site / "examples"
    examples.mkdir(parents=True)
    shutil.copytree(ROOT / "lectures", site / "lectures", ignore=shutil.ignore_patterns("__pycache__"))
    for topic in TOPICS:  # sphinx-gallery sets no __file__: conf.py puts the lectures on sys.path
        script = (ROOT / "bench" / f"{topic}.py").read_text()
        (examples / f"{topic}.py").write_text(
            script.replace("sys.path.insert(0, str(Path(__file__).resolve().parent.parent))", "")
        )
    (examples / "GALLERY_HEADER.rst").write_text("Architectures\n=============\n")
    (site / "conf.py").write_text(
        "import os, sys\nsys.path.insert(0, os.path.abspath('.'))\n"
        "project = 'bench'\nextensions = ['sphinx_gallery.gen_gallery']\n"
        "sphinx_gallery_conf = {'examples_dirs': 'examples', 'gallery_dirs': 'auto_examples',\n"
        "                       'filename_pattern': r'.*\\.py', 'abort_on_example_error': True}\n"
    )
    (site / "index.rst").write_text("Bench\n=====\n\n.. toctree::\n\n   auto_examples/index\n")
    return site, [VENV / "sphinx-build", "-q", "-b", "html", ".", "_build/html"]


def available() -> str | None:
    """None when the peers' environment is there, else what to run."""
    if (VENV / "jupyter-book").exists() and (VENV / "sphinx-build").exists():
        return None
    return "make bench-env (creates .venv-bench from bench/requirements.lock)"
