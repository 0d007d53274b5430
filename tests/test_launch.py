"""Launch anywhere: a course that says where its notebooks live gets Colab, Binder and JupyterHub
links in its handouts, and each notebook's first cell sets up a hosted kernel: tested with Colab,
Binder and a JupyterHub simulated (a google.colab module or the host's environment variable, a
package missing, pip and the download recorded)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
import types
import urllib.request

import nbformat
import pytest

from nnarch.build import Options, build
from nnarch.documents.kit import CPU_INDEX, pins

from .conftest import edit

LAUNCH = 'launch=Launch(repo="ecmwf/course", branch="main", folder="site", jupyterhub="https://hub.example.org"),'
RAW = "https://raw.githubusercontent.com/ecmwf/course/main/site/tiny/notebooks/nnarch_lab.py"


@pytest.fixture
def launched(fixture_lectures, tmp_path):
    course = fixture_lectures / "course.py"
    edit(course, "from nnarch.topic import Course", "from nnarch.topic import Course, Launch")
    edit(course, 'COURSE = Course(title="Fixture Course",', f'COURSE = Course(title="Fixture Course", {LAUNCH}')
    result = build(Options(fixture_lectures, tmp_path / "build", "cpu"))
    assert result.ok, result.errors
    return tmp_path / "build" / "tiny"


def test_a_course_that_says_where_its_notebooks_live_gets_launch_links(launched):
    handout = (launched / "handout.html").read_text()
    colab = "https://colab.research.google.com/github/ecmwf/course/blob/main/site/tiny/notebooks/line.ipynb"
    assert f'href="{colab}"' in handout
    assert "https://mybinder.org/v2/gh/ecmwf/course/main?labpath=site%2Ftiny%2Fnotebooks%2Fline.ipynb" in handout
    assert (
        "https://hub.example.org/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fecmwf%2Fcourse" in handout
    )
    notebook = nbformat.read(launched / "notebooks" / "line.ipynb", as_version=4)
    first = next(c for c in notebook.cells if c.cell_type == "code")
    assert first.metadata["tags"] == ["setup"] and RAW in first.source


@pytest.mark.parametrize("host", ["colab", "BINDER_LAUNCH_HOST", "JUPYTERHUB_API_URL"])
def test_the_first_cell_installs_only_what_a_hosted_kernel_lacks(launched, monkeypatch, tmp_path, host, capsys):
    notebook = nbformat.read(launched / "notebooks" / "line.ipynb", as_version=4)
    setup = next(c.source for c in notebook.cells if c.cell_type == "code")
    installed, fetched = [], []
    found = importlib.util.find_spec
    if host == "colab":
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:  # Binder and JupyterHub say so in the kernel's environment
        monkeypatch.setenv(host, "https://hosted.example.org/")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "torch_geometric" else found(name))
    version = importlib.metadata.version  # the kernel's numpy is another than the build's; its matplotlib
    # was installed without metadata: nothing to compare, and no reason to stop

    def version_of(name: str) -> str:
        if name == "matplotlib":
            raise importlib.metadata.PackageNotFoundError(name)
        return "1.0.0" if name == "numpy" else version(name)

    monkeypatch.setattr(importlib.metadata, "version", version_of)
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: installed.append(args[4:]))
    monkeypatch.setattr(urllib.request, "urlretrieve", lambda url, name: fetched.append((url, name)))
    monkeypatch.chdir(tmp_path)

    exec(setup, {})

    geometric = next(p for p in pins() if p.startswith("torch-geometric=="))
    assert installed == [["--quiet", "--extra-index-url", CPU_INDEX, geometric]]  # only what it lacks, pinned
    assert fetched == [(RAW, "nnarch_lab.py")]
    numpy = next(p for p in pins() if p.startswith("numpy==")).split("==")[1]
    said = capsys.readouterr().out
    assert f"Another version than the lecture's: numpy 1.0.0 (the lecture's: {numpy})" in said and "torch " not in said
    assert "matplotlib" not in said


def test_off_colab_the_first_cell_does_nothing(launched, monkeypatch, tmp_path):
    notebook = nbformat.read(launched / "notebooks" / "line.ipynb", as_version=4)
    setup = next(c.source for c in notebook.cells if c.cell_type == "code")
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    for name in (
        "NNARCH_HOSTED",
        "BINDER_LAUNCH_HOST",
        "BINDER_SERVICE_HOST",
        "JUPYTERHUB_API_URL",
        "COLAB_RELEASE_TAG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("installed on a local kernel"))
    monkeypatch.chdir(tmp_path)
    exec(setup, {})
