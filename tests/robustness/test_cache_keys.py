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
