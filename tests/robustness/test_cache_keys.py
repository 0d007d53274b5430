"""Nothing stale: cache keys follow values, data files and versions, not types or paths."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from nnarch.build import Options, build

from ..conftest import edit


def statuses(lectures, out):
    result = build(Options(lectures, out, "cpu"))
    assert result.ok, [str(e) for e in result.errors]
    return {o.name: o.status for o in result.outcomes}


def test_a_tensor_constant_is_keyed_by_its_value(fixture_lectures, tmp_path, trainings):
    helpers = fixture_lectures / "tiny" / "helpers.py"
    edit(helpers, "SLOPE = 3.0", "SLOPE = torch.tensor(3.0)")
    statuses(fixture_lectures, tmp_path / "b")
    edit(helpers, "SLOPE = torch.tensor(3.0)", "SLOPE = torch.tensor(3.5)")
    assert statuses(fixture_lectures, tmp_path / "b")["line"] == "trained"
    assert trainings["line"] == 2


def test_a_numpy_constant_is_keyed_by_its_value(fixture_lectures, tmp_path, trainings):
    helpers = fixture_lectures / "tiny" / "helpers.py"
    edit(helpers, "import torch\n", "import numpy as np\nimport torch\n")
    edit(helpers, "SLOPE = 3.0", "SLOPE = float(np.float64(3.0))\nSCALE = np.float32(1.0)")
    edit(helpers, "return torch.rand(n, 1, generator=g)", "return float(SCALE) * torch.rand(n, 1, generator=g)")
    statuses(fixture_lectures, tmp_path / "b")
    edit(helpers, "SCALE = np.float32(1.0)", "SCALE = np.float32(2.0)")
    assert statuses(fixture_lectures, tmp_path / "b")["line"] == "trained"


def test_a_data_file_in_the_lecture_folder_is_part_of_the_key(fixture_lectures, tmp_path, trainings):
    (fixture_lectures / "tiny" / "offset.txt").write_text("1.0\n")
    edit(
        fixture_lectures / "tiny" / "line.py",
        "    return Splits(train=(x[:24], SLOPE * x[:24] + 1)",
        "    offset = float((Path(__file__).parent / 'offset.txt').read_text())\n"
        "    return Splits(train=(x[:24], SLOPE * x[:24] + offset)",
    )
    edit(fixture_lectures / "tiny" / "line.py", "import torch\n", "from pathlib import Path\n\nimport torch\n")
    statuses(fixture_lectures, tmp_path / "b")
    (fixture_lectures / "tiny" / "offset.txt").write_text("1.5\n")
    assert statuses(fixture_lectures, tmp_path / "b")["line"] == "trained"
    assert trainings["line"] == 2


def test_a_moved_checkout_keeps_its_cache(fixture_lectures, tmp_path, trainings):
    out = tmp_path / "b"
    statuses(fixture_lectures, out)
    moved = tmp_path / "elsewhere" / "lectures"
    shutil.copytree(fixture_lectures, moved)
    assert build(Options(moved, out, "cpu")).up_to_date  # nothing changed but the path
    edit(moved / "tiny" / "lecture.md", "A fixture lecture", "The fixture lecture")
    assert statuses(moved, out) == {"line": "cached", "plane": "cached"}
    assert trainings == {"line": 1, "plane": 1}


ROOT = Path(__file__).resolve().parents[2]


def test_a_slot_size_edit_redraws_the_figures(fixture_lectures, tmp_path):
    """The record key covers all of nnarch's code that makes a record (the run package, topic.py and
    what they import): a slot size changed in layout.py redraws the figures at the new size."""
    code = tmp_path / "code"
    shutil.copytree(ROOT / "nnarch", code / "nnarch", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "templates", code / "templates")
    out = tmp_path / "b"

    def figure_height() -> float:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "nnarch",
                "build",
                "--lectures",
                str(fixture_lectures),
                "--out",
                str(out),
                "--device",
                "cpu",
            ],
            env={**os.environ, "PYTHONPATH": str(code)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        box = re.search(
            rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", (out / "tiny" / "figures" / "line-loss.pdf").read_bytes()
        )
        return float(box.group(2))

    before = figure_height()
    layout = code / "nnarch" / "layout.py"
    layout.write_text(layout.read_text().replace('"full": (398.0, 120.0)', '"full": (398.0, 100.0)'))
    assert figure_height() < before


# Stale output: every change a topic can see reruns it; nothing it cannot see does.


def test_a_helper_in_a_sibling_folder_is_part_of_the_key(fixture_lectures, tmp_path, trainings):
    shared = fixture_lectures / "shared"  # a folder of helpers beside the lectures (no LECTURE in it)
    shared.mkdir()
    (shared / "consts.py").write_text("OFFSET = 1.0\n")
    (shared / "unused.py").write_text("NOTHING = 0\n")
    line = fixture_lectures / "tiny" / "line.py"
    edit(
        line,
        "from .helpers import SLOPE, inputs\n",
        "from ..shared.consts import OFFSET\nfrom .helpers import SLOPE, inputs\n",
    )
    edit(line, "SLOPE * x[:24] + 1)", "SLOPE * x[:24] + OFFSET)")
    assert statuses(fixture_lectures, tmp_path / "b") == {"line": "trained", "plane": "trained"}
    (shared / "unused.py").write_text("NOTHING = 1\n")  # no topic imports it
    assert statuses(fixture_lectures, tmp_path / "b") == {"line": "cached", "plane": "cached"}
    (shared / "consts.py").write_text("OFFSET = 1.5\n")
    assert statuses(fixture_lectures, tmp_path / "b")["line"] == "trained"
    assert trainings["line"] == 2


def test_a_module_on_the_python_path_is_part_of_the_key(fixture_lectures, tmp_path, trainings, monkeypatch):
    outside = tmp_path / "site"
    outside.mkdir()
    (outside / "course_constants.py").write_text("OFFSET = 1.0\n")
    monkeypatch.syspath_prepend(str(outside))
    line = fixture_lectures / "tiny" / "line.py"
    edit(line, "import torch\n", "import course_constants\nimport torch\n")
    edit(line, "SLOPE * x[:24] + 1)", "SLOPE * x[:24] + course_constants.OFFSET)")
    statuses(fixture_lectures, tmp_path / "b")
    (outside / "course_constants.py").write_text("OFFSET = 1.5\n")
    monkeypatch.delitem(__import__("sys").modules, "course_constants")
    assert statuses(fixture_lectures, tmp_path / "b")["line"] == "trained"
    assert trainings["line"] == 2


def test_an_instance_of_the_users_class_is_keyed_by_its_code(fixture_lectures, tmp_path, trainings):
    line = fixture_lectures / "tiny" / "line.py"
    edit(
        line,
        "def make_data(seed):\n",
        "from dataclasses import dataclass\n\n\n@dataclass(frozen=True)\nclass Shift:\n    by: float\n\n"
        "    def apply(self, y):\n        return y + 1\n\n\nSHIFT = Shift(1.0)\n\n\ndef make_data(seed):\n",
    )
    edit(line, "SLOPE * x[:24] + 1)", "SHIFT.apply(SLOPE * x[:24]))")
    statuses(fixture_lectures, tmp_path / "b")
    edit(line, "return y + 1", "return y + 1.5")
    assert statuses(fixture_lectures, tmp_path / "b")["line"] == "trained"
    assert trainings["line"] == 2


def test_a_record_edited_on_disk_is_dropped(fixture_lectures, tmp_path):
    out = tmp_path / "b"
    statuses(fixture_lectures, out)
    for record in (out / ".cache" / "records").glob("*.json"):
        record.write_bytes(record.read_bytes().replace(b'"total": 2', b'"total": 999999'))
    edit(fixture_lectures / "tiny" / "line.md", "{{params.total}} parameters", "{{params.total}} weights")
    assert statuses(fixture_lectures, out)["line"] == "cached"  # run again from its weights
    html = (out / "tiny" / "slides.html").read_text()
    assert "2 weights" in html and "999,999" not in html


def test_two_output_folders_sharing_a_cache_each_get_their_build(fixture_lectures, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    statuses(fixture_lectures, first)
    second.mkdir()
    (second / ".cache").symlink_to(first / ".cache")
    result = build(Options(fixture_lectures, second, "cpu"))
    assert result.ok and not result.up_to_date
    assert (second / "tiny" / "slides.pdf").exists()


def test_editors_and_systems_junk_changes_nothing(fixture_lectures, tmp_path, trainings):
    out = tmp_path / "b"
    statuses(fixture_lectures, out)
    tiny = fixture_lectures / "tiny"
    for junk in (".line.md.swp", ".DS_Store", "line.py~", "#line.md#", "Thumbs.db"):
        (tiny / junk).write_bytes(b"\x00junk")
    assert build(Options(fixture_lectures, out, "cpu")).up_to_date
    assert trainings == {"line": 1, "plane": 1}
    (tiny / "offset.txt").write_text("1.0\n")  # a data file any topic of the lecture may read
    assert statuses(fixture_lectures, out) == {"line": "trained", "plane": "trained"}


def test_an_instance_is_keyed_by_its_state_never_by_its_address(tmp_path):
    """Two equal instances of a user's class (with __slots__, or callable) give one key: nothing of
    an object's address (its default repr) reaches a key."""
    import importlib.util

    from nnarch.cache.fingerprint import fingerprint

    source = tmp_path / "user_module.py"
    source.write_text(
        "class Slotted:\n    __slots__ = ('scale',)\n\n    def __init__(self, scale):\n        self.scale = scale\n\n\n"
        "class Scaler:\n    def __init__(self, scale):\n        self.scale = scale\n\n"
        "    def __call__(self, x):\n        return self.scale * x\n"
    )
    spec = importlib.util.spec_from_file_location("user_module", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for kind in (module.Slotted, module.Scaler):
        assert fingerprint(kind(2.0)) == fingerprint(kind(2.0))
        assert fingerprint(kind(2.0)) != fingerprint(kind(3.0))
