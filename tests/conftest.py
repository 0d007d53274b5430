"""Shared fixtures: the real lecture built once per session, and a copy of the fixture lecture."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from nnarch.build import Options, build
from nnarch.source.load import load_topic

ROOT = Path(__file__).resolve().parent.parent
LECTURES = ROOT / "lectures"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "lectures"


# Tests that train, run LaTeX, a browser, a Jupyter kernel or a Dask cluster are `slow`: those that use
# these fixtures are marked here, the others by their module (pytestmark). `make test-fast` runs the rest.
SLOW_FIXTURES = {"lecture_out", "fixture_lectures", "released"}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def lecture_out(tmp_path_factory, worker_id) -> Path:
    """build/nn-architectures of a full build of the real lecture (trains every model, runs latexmk),
    made once per test session: under pytest-xdist the first worker builds it, the others wait for
    it and find it up to date."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    out = shared / "lecture-build"
    with FileLock(str(shared / "lecture-build.lock")):
        result = build(Options(LECTURES, out, "cpu"))
    assert result.ok, "\n".join(str(e) for e in result.errors)
    return out / "nn-architectures"


@pytest.fixture
def fixture_lectures(tmp_path) -> Path:
    """A private copy of tests/fixtures/lectures that a test may edit."""
    target = tmp_path / "lectures"
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def topic_of(source):
    """The imported TOPIC of a discovered topic."""
    return load_topic(source)[0]


@pytest.fixture
def trainings(monkeypatch):
    """Counts calls of the training loop per topic file (variants count too)."""
    import nnarch.run.train

    counts = Counter()
    original = nnarch.run.train.fit_model

    def counting(model, data, recipe, device, where, *args, **kwargs):
        counts[Path(where).stem] += 1
        return original(model, data, recipe, device, where, *args, **kwargs)

    monkeypatch.setattr(nnarch.run.train, "fit_model", counting)
    return counts


def edit(path: Path, old: str, new: str) -> None:
    """Replace text that must be there."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
