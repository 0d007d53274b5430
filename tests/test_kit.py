"""The student kit, done as a student does it: unpack the zip, install with the README's venv
command into a fresh environment, and run every student notebook to its first exercise and every
solution notebook to its end there.

This machine reaches PyPI but not download.pytorch.org, so the kit's CPU index is served from a
local folder holding the same CPU build of torch (which this machine's pip has on disk); the
requirements, the README's command and everything else are the kit's own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from nnarch.documents.kit import CPU_INDEX

from .test_lab import SOURCES

pytestmark = pytest.mark.slow
INSTALL_LIMIT = 1.5 * 2**30  # bytes, with torch's CPU build


def _size(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="module")
def kit(lecture_out, tmp_path_factory):
    """(the unpacked lecture folder, a Jupyter path with the kit's kernel) after the README's install."""
    root = tmp_path_factory.mktemp("student")
    with zipfile.ZipFile(lecture_out.parent / f"{lecture_out.name}-student.zip") as archive:
        archive.extractall(root)
    folder = root / lecture_out.name
    requirements = folder / "requirements.txt"
    pinned = next(line for line in requirements.read_text().splitlines() if line.startswith("torch=="))
    requirements.write_text(requirements.read_text().replace(CPU_INDEX, _cpu_index(root / "cpu-index", pinned)))
    readme = (folder / "README.md").read_text()
    command = re.search(r"\*\*venv\*\*: `([^`]+)`", readme).group(1)  # what a student copies
    python = Path(sys.base_prefix) / "bin" / "python3"  # a Python outside this project's venv
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{python.parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    kernels = root / "jupyter"
    subprocess.run(
        [folder / ".venv" / "bin" / "python", "-m", "ipykernel", "install", "--prefix", kernels, "--name", "kit"],
        check=True,
        capture_output=True,
    )
    return folder, kernels / "share" / "jupyter"


def _cpu_index(folder: Path, pinned: str) -> str:
    """A one-project package index, as download.pytorch.org/whl/cpu is, with the CPU build of
    torch this machine's pip finds for `pinned`: its file:// URL."""
    wheels = folder / "torch"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", wheels, pinned],
        check=True,
        capture_output=True,
    )
    links = "".join(f'<a href="{p.name.replace("+", "%2B")}">{p.name}</a>' for p in wheels.glob("*.whl"))
    (wheels / "index.html").write_text(f"<html><body>{links}</body></html>")
    assert "+cpu" in links, links  # the CPU build, as the real index has it
    return folder.as_uri()


def test_the_readme_install_is_small_and_has_what_the_notebooks_need(kit):
    folder, _ = kit
    venv = folder / ".venv"
    assert _size(venv) <= INSTALL_LIMIT, f"{_size(venv) / 2**30:.2f} GB"
    versions = subprocess.run(
        [venv / "bin" / "python", "-c", "import torch, torch_geometric, jupyterlab; print(torch.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert not torch_has_cuda(venv) and versions.strip().startswith("2.")


def torch_has_cuda(venv: Path) -> bool:
    return any((venv / "lib").glob("python3*/site-packages/nvidia"))


def _run(notebook_path: Path, jupyter: Path, monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    notebook = nbformat.read(notebook_path, as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="kit", resources={"metadata": {"path": str(notebook_path.parent)}}
    )
    try:
        client.execute()
    except CellExecutionError as error:
        notebook.error = error  # type: ignore[attr-defined]
    return notebook


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_student_notebook_runs_to_its_first_exercise(kit, name, monkeypatch):
    folder, jupyter = kit
    notebook = _run(folder / "notebooks" / f"{name}.ipynb", jupyter, monkeypatch)
    error = getattr(notebook, "error", None)
    if SOURCES[name].doc.exercises:
        assert error is not None and "NotImplementedError" in str(error) and "Exercise 1: fill in" in str(error)
        stopped = next(i for i, c in enumerate(notebook.cells) if any(o.get("ename") for o in c.get("outputs", [])))
        assert notebook.cells[stopped].metadata.get("tags") == ["check"]  # the stub itself only defines
        assert "Exercise 1" in "".join(c.source for c in notebook.cells[: stopped + 1] if c.cell_type == "markdown")
    else:
        assert error is None


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_solution_notebook_runs_to_its_end_in_the_kit(kit, name, monkeypatch, lecture_out):
    folder, jupyter = kit
    solution = folder / "notebooks" / f"{name}-solution.ipynb"
    solution.write_bytes((lecture_out / "instructor" / "notebooks" / solution.name).read_bytes())  # the instructor's
    notebook = _run(solution, jupyter, monkeypatch)
    assert getattr(notebook, "error", None) is None, notebook.error
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert printed.count("correct") == len(SOURCES[name].doc.exercises)


def test_the_kit_is_pinned_to_the_build_s_versions(lecture_out):
    from packaging.requirements import Requirement

    from nnarch.toolchain import package_version

    requirements = (lecture_out / "requirements.txt").read_text()
    wanted = [Requirement(line) for line in requirements.splitlines() if line and not line.startswith(("#", "--"))]
    for name in ("torch-geometric", "numpy", "matplotlib"):
        assert [str(r.specifier) for r in wanted if r.name == name] == [f"=={package_version(name)}"]
    # torch's CPU build asked for by its label where PyPI's is CUDA's (Linux x86_64), so that a
    # network blocking the CPU index fails the install; elsewhere PyPI's build is the CPU one
    torch = package_version("torch").split("+")[0]
    for system, machine in (("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "arm64"), ("win32", "AMD64")):
        where = {"sys_platform": system, "platform_machine": machine}
        chosen = [str(r.specifier) for r in wanted if r.name == "torch" and r.marker and r.marker.evaluate(where)]
        assert chosen == [f"=={torch}+cpu" if (system, machine) == ("linux", "x86_64") else f"=={torch}"], where
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in requirements
    assert any(line.startswith("jupyterlab==") for line in requirements.splitlines())
    assert "-r requirements.txt" in (lecture_out / "environment.yml").read_text()
