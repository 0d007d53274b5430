"""Incremental builds, proven by counting training runs: what changed retrains, nothing else does."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnarch.build import Options, Progress, build

from .conftest import edit


def run(lectures, out, **options):
    result = build(Options(lectures, out, "cpu", **options))
    assert result.ok, [str(e) for e in result.errors]
    return {o.name: o.status for o in result.outcomes}


def test_first_build_trains_every_topic_once(fixture_lectures, tmp_path, trainings):
    assert run(fixture_lectures, tmp_path / "b") == {"line": "trained", "plane": "trained"}
    assert trainings == {"line": 1, "plane": 1}


def test_text_edit_does_not_retrain(fixture_lectures, tmp_path, trainings):
    run(fixture_lectures, tmp_path / "b")
    edit(fixture_lectures / "tiny" / "line.md", "{{params.total}} parameters", "{{params.total}} weights")
    edit(fixture_lectures / "tiny" / "line.md", "![Loss]", "![Loss per epoch]")
    edit(fixture_lectures / "tiny" / "line.py", '"training loss below 10"', '"training loss below ten"')
    assert run(fixture_lectures, tmp_path / "b") == {"line": "cached", "plane": "cached"}
    assert trainings == {"line": 1, "plane": 1}
    assert "2 weights" in (tmp_path / "b" / "tiny" / "slides.html").read_text()


def test_model_edit_retrains_only_that_topic(fixture_lectures, tmp_path, trainings):
    run(fixture_lectures, tmp_path / "b")
    edit(fixture_lectures / "tiny" / "line.py", "self.fc = nn.Linear(1, 1)", "self.fc = nn.Linear(1, 1, bias=True)")
    assert run(fixture_lectures, tmp_path / "b") == {"line": "trained", "plane": "cached"}
    assert trainings == {"line": 2, "plane": 1}


def test_helper_edit_in_another_module_retrains_its_user(fixture_lectures, tmp_path, trainings):
    run(fixture_lectures, tmp_path / "b")
    edit(fixture_lectures / "tiny" / "helpers.py", "SLOPE = 3.0", "SLOPE = 2.5")
    assert run(fixture_lectures, tmp_path / "b") == {"line": "trained", "plane": "cached"}
    edit(fixture_lectures / "tiny" / "helpers.py", "torch.rand(n, 1, generator=g)", "torch.rand(n, 1, generator=g) * 2")
    assert run(fixture_lectures, tmp_path / "b") == {"line": "trained", "plane": "cached"}
    assert trainings == {"line": 3, "plane": 1}


def test_recipe_change_retrains(fixture_lectures, tmp_path, trainings):
    run(fixture_lectures, tmp_path / "b")
    edit(fixture_lectures / "tiny" / "plane.py", "epochs=30", "epochs=31")
    assert run(fixture_lectures, tmp_path / "b") == {"line": "cached", "plane": "trained"}


def test_cached_result_equals_fresh_one(fixture_lectures, tmp_path):
    run(fixture_lectures, tmp_path / "b")
    fresh = json.loads((tmp_path / "b" / "tiny" / "report.json").read_text())["topics"]
    edit(fixture_lectures / "tiny" / "lecture.md", "A fixture lecture", "The fixture lecture")
    assert run(fixture_lectures, tmp_path / "b") == {"line": "cached", "plane": "cached"}
    cached = json.loads((tmp_path / "b" / "tiny" / "report.json").read_text())["topics"]
    for name in ("line", "plane"):
        for field in ("params", "metrics", "history", "claims", "shapes"):
            assert cached[name][field] == fresh[name][field]


def test_force_retrains_the_named_topic(fixture_lectures, tmp_path, trainings):
    run(fixture_lectures, tmp_path / "b")
    assert run(fixture_lectures, tmp_path / "b", force=("plane",)) == {"line": "cached", "plane": "trained"}


def build_in_subprocess(lectures: Path, out: Path) -> str:
    """Build with the CLI in a fresh interpreter; fail unless it imported neither torch nor any topic."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from nnarch.cli import app\n"
        f"r = CliRunner().invoke(app, ['build', '--lectures', {str(lectures)!r}, '--out', {str(out)!r}, "
        "'--device', 'cpu'])\n"
        "print(r.output)\n"
        "assert r.exit_code == 0\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert not [m for m in sys.modules if m.startswith('nnarch_lectures_')\n"
        "            and m.endswith(('line', 'plane', 'helpers'))], 'topics imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_noop_build_imports_neither_torch_nor_the_topics(fixture_lectures, tmp_path):
    run(fixture_lectures, tmp_path / "b")
    assert "up to date" in build_in_subprocess(fixture_lectures, tmp_path / "b")


def test_text_edit_rebuilds_without_importing_torch(fixture_lectures, tmp_path):
    run(fixture_lectures, tmp_path / "b")
    edit(fixture_lectures / "tiny" / "line.md", "{{params.total}} parameters", "{{params.total}} weights")
    edit(fixture_lectures / "tiny" / "lecture.md", "A fixture lecture", "The fixture lecture")
    output = " ".join(build_in_subprocess(fixture_lectures, tmp_path / "b").split())
    assert re.search(r"line │ cached", output) and re.search(r"plane │ cached", output), output
    html = (tmp_path / "b" / "tiny" / "slides.html").read_text()
    assert "2 weights" in html and "The fixture lecture" in html


def test_parallel_jobs_give_the_same_numbers(fixture_lectures, tmp_path):
    run(fixture_lectures, tmp_path / "one")
    assert run(fixture_lectures, tmp_path / "two", jobs=2) == {"line": "trained", "plane": "trained"}
    one = json.loads((tmp_path / "one" / "tiny" / "report.json").read_text())["topics"]
    two = json.loads((tmp_path / "two" / "tiny" / "report.json").read_text())["topics"]
    assert one["line"]["history"] == two["line"]["history"]
    assert one["plane"]["history"] == two["plane"]["history"]


def test_weights_trained_by_parallel_jobs_serve_a_plain_build(fixture_lectures, tmp_path, trainings):
    # line.py imports a helper module; loading plane.py next must not change line's cache key
    run(fixture_lectures, tmp_path / "b", jobs=2)
    assert not trainings  # both trained in the workers
    shutil.copytree(tmp_path / "b" / ".cache" / "train", tmp_path / "c" / ".cache" / "train")  # weights only
    assert run(fixture_lectures, tmp_path / "c") == {"line": "cached", "plane": "cached"}
    assert not trainings


def test_the_longest_topic_starts_first(fixture_lectures, tmp_path):
    """Topics are handed to the workers longest first, by the time each took at its last run, so
    that the longest does not start last and keep the build waiting."""
    edit(
        fixture_lectures / "tiny" / "plane.py",
        "def make_data(seed):\n",
        "def make_data(seed):\n    __import__('time').sleep(1)\n",
    )

    class Starts(Progress):
        def __init__(self):
            self.order = []

        def topic_started(self, name, epochs):
            self.order.append(name)

    first = Starts()
    build(Options(fixture_lectures, tmp_path / "b", "cpu", jobs=1), first)
    assert first.order == ["line", "plane"]  # nothing known yet: in the lecture's order
    again = Starts()
    build(Options(fixture_lectures, tmp_path / "b", "cpu", jobs=1, force=("all",)), again)
    assert again.order == ["plane", "line"]


def test_a_build_with_nothing_to_train_starts_no_worker_pool(fixture_lectures, tmp_path, monkeypatch):
    import nnarch.run.executor

    run(fixture_lectures, tmp_path / "b")
    edit(fixture_lectures / "tiny" / "line.md", "{{params.total}} parameters", "{{params.total}} weights")
    monkeypatch.setattr(nnarch.run.executor, "Workers", lambda *args: pytest.fail("a pool started with nothing to run"))
    assert run(fixture_lectures, tmp_path / "b", jobs=2) == {"line": "cached", "plane": "cached"}


def test_quick_budget_reports_but_does_not_enforce_claims_and_never_releases(fixture_lectures, tmp_path):
    out = tmp_path / "b"
    assert build(Options(fixture_lectures, out, "cpu")).ok
    released = {p: p.read_bytes() for p in out.glob("tiny/*.pdf")}
    edit(
        fixture_lectures / "tiny" / "line.py", 'below("history.final_train", 10.0', 'below("history.final_train", 1e-12'
    )
    result = build(Options(fixture_lectures, out, "cpu", budget="quick"))
    assert result.ok and result.artifacts == () and result.previews
    line = json.loads((out / "preview" / "tiny" / "report.json").read_text())["topics"]["line"]
    assert [c["ok"] for c in line["claims"]] == [True, False]
    assert {p: p.read_bytes() for p in out.glob("tiny/*.pdf")} == released  # the release is as it was
    assert build(Options(fixture_lectures, out, "cpu", budget="quick")).up_to_date  # its outputs are stamped


def test_quick_recipe_change_does_not_retrain_a_full_build(fixture_lectures, tmp_path, trainings):
    run(fixture_lectures, tmp_path / "b")
    edit(
        fixture_lectures / "tiny" / "plane.py",
        '    recipe=Recipe(loss="mse", lr=0.1, epochs=30, batch_size=10, seed=2),',
        '    recipe=Recipe(loss="mse", lr=0.1, epochs=30, batch_size=10, seed=2),\n'
        '    quick=Recipe(loss="mse", lr=0.1, epochs=3, batch_size=10, seed=2),',
    )
    assert run(fixture_lectures, tmp_path / "b") == {"line": "cached", "plane": "cached"}
    assert run(fixture_lectures, tmp_path / "b", budget="quick") == {"line": "trained", "plane": "trained"}
    report = json.loads((tmp_path / "b" / "preview" / "tiny" / "report.json").read_text())["topics"]["plane"]
    assert report["recipe"]["epochs"] == 3 and report["history"]["epochs"] == 3


def test_a_topic_saved_while_it_runs_is_not_recorded_under_its_old_sources(fixture_lectures, tmp_path, monkeypatch):
    import nnarch.run.measure
    from nnarch.cache.store import Cache
    from nnarch.run.record import record_key
    from nnarch.source.discover import discover

    sources = {s.name: s for s in discover(fixture_lectures).lectures[0].topics}
    before = {name: record_key(s, fixture_lectures, "cpu", "full") for name, s in sources.items()}
    measure, saved = nnarch.run.measure.measure, []

    def measure_while_saving(trained):
        if not saved:  # the author saves line.py while the build measures it
            edit(fixture_lectures / "tiny" / "line.py", '"""A fixture topic', '"""Saved mid-build. A fixture topic')
            saved.append(True)
        return measure(trained)

    monkeypatch.setattr(nnarch.run.measure, "measure", measure_while_saving)
    run(fixture_lectures, tmp_path / "b")
    cache = Cache(tmp_path / "b" / ".cache")
    assert not cache.has_record(before["line"])  # its results come from code that was not its sources
    assert cache.has_record(before["plane"])


def test_a_model_class_keys_the_same_before_and_after_its_first_instance(tmp_path, monkeypatch):
    """PyG's MessagePassing attaches generated code to the user's class when the first layer is
    built: a training key computed before (a cluster build) and after (the topic's other seeds)
    must agree, or the weights trained elsewhere are never found."""
    from nnarch.cache.fingerprint import fingerprint

    (tmp_path / "layer.py").write_text(
        "import torch\nfrom torch_geometric.nn import MessagePassing\n\n\n"
        "class Conv(MessagePassing):\n    def __init__(self):\n        super().__init__(aggr='add')\n\n"
        "    def forward(self, x, edge_index):\n        return self.propagate(edge_index, x=x)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import layer

    before = fingerprint(layer.Conv)
    layer.Conv()
    assert "propagate" in vars(layer.Conv)  # PyG did attach its code
    assert fingerprint(layer.Conv) == before
