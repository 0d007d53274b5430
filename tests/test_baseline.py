"""`nnarch accept` and `nnarch diff`: what a build changes on the slides against the accepted
baseline, on the fixture lecture (two small topics: `line` with a loss figure, `plane`)."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from .conftest import FIXTURE, LECTURES, edit
from .test_cli import invoke


@pytest.fixture
def accepted(tmp_path):
    """(lectures, build folder) of the fixture lecture, built and accepted as its baseline."""
    lectures, out = tmp_path / "lectures", tmp_path / "build"
    shutil.copytree(FIXTURE, lectures, ignore=shutil.ignore_patterns("__pycache__"))
    build(lectures, out)
    result = invoke("accept", "--lectures", lectures, "--out", out)
    assert result.exit_code == 0 and "accepted" in result.output, result.output
    return lectures, out


def build(lectures, out) -> None:
    result = invoke("build", "--lectures", lectures, "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output


def diff(lectures, out):
    return invoke("diff", "tiny", "--lectures", lectures, "--out", out)


@pytest.mark.slow
def test_after_accept_nothing_differs_and_the_baseline_is_small_and_has_no_paths(accepted, tmp_path):
    lectures, out = accepted
    result = diff(lectures, out)
    assert result.exit_code == 0 and "nothing changed beyond tolerance" in result.output, result.output
    again = invoke("build", "--lectures", lectures, "--out", out, "--device", "cpu")
    assert "up to date" in again.output  # the baseline is not the lecture's content: nothing to rebuild
    baseline = lectures / "tiny" / "baseline"
    files = sorted(p.relative_to(baseline).as_posix() for p in baseline.rglob("*") if p.is_file())
    assert files == ["figures/line-loss.png", "snapshot.json"]
    assert sum((baseline / f).stat().st_size for f in files) < 40_000
    text = (baseline / "snapshot.json").read_text()
    assert str(tmp_path) not in text and "/root" not in text and "/home" not in text
    # the same sources in other folders give the same bytes
    again = tmp_path / "elsewhere"
    shutil.copytree(lectures, again / "lectures", ignore=shutil.ignore_patterns("__pycache__", "baseline"))
    build(again / "lectures", again / "build")
    assert (again / "build" / "tiny" / "snapshot.json").read_text() == text


def changed(lectures, out, file: str, old: str, new: str):
    """Edit a file of the lecture, build, and diff: (what diff printed, diff.html); it must exit 1."""
    edit(lectures / "tiny" / file, old, new)
    build(lectures, out)
    result = diff(lectures, out)
    assert result.exit_code == 1, result.output
    return result, (out / "tiny" / "diff.html").read_text()


@pytest.mark.slow
def test_a_text_edit_shows_as_that_frame_only(accepted):
    result, page = changed(
        *accepted, "line.md", "- {{params.total}} parameters", "- {{params.total}} trainable weights"
    )
    assert "1 frame added, removed or reworded" in result.output and "Fitting a Line" in result.output
    assert not re.search(r"number|claim|figure|model", result.output.split("wrote")[0].split("reworded")[1])
    assert "<del>parameters</del>" in page and "<ins>trainable weights</ins>" in page
    assert "Fitting a Plane" not in page


@pytest.mark.slow
def test_a_new_training_seed_moves_its_topics_numbers_and_figure_and_nothing_else(accepted):
    result, page = changed(*accepted, "line.py", "batch_size=8, seed=1)", "batch_size=8, seed=4)")
    assert "frame" not in result.output.split("\n")[0]  # no frame reworded
    numbers = re.findall(r"<tr><td>([^<]*)</td><td><code>([^<]*)</code>", page)
    assert numbers and all("Line" in where or "line" in where for where, _ in numbers), numbers
    assert any(ref.startswith("history.final") or ref.startswith("metrics") for _, ref in numbers)
    assert "line-loss" in page and "plane" not in page.lower().replace("fitting a plane", "")
    assert "1 figure differs" in result.output


@pytest.mark.slow
def test_a_figure_change_below_the_tolerance_is_not_reported(accepted):
    lectures, out = accepted
    png = out / "tiny" / "figures" / "line-loss.png"
    pixels = np.asarray(Image.open(png).convert("RGB")).copy()
    # a few pixels a shade darker: how another FreeType smooths a glyph's edge
    pixels[10:12, 10:14] = np.clip(pixels[10:12, 10:14].astype(int) - 60, 0, 255)
    Image.fromarray(pixels).save(png)
    assert diff(lectures, out).exit_code == 0
    pixels[:, : pixels.shape[1] // 3] = 0  # a third of it: a different figure
    Image.fromarray(pixels).save(png)
    result = diff(lectures, out)
    assert result.exit_code == 1 and "1 figure differs beyond RMS" in result.output


@pytest.mark.slow
def test_diff_without_a_baseline_says_how_to_make_one(fixture_lectures, tmp_path):
    build(fixture_lectures, tmp_path / "b")
    result = invoke("diff", "--lectures", fixture_lectures, "--out", tmp_path / "b")
    assert result.exit_code == 2 and "nnarch accept" in result.output
    result = invoke("diff", "nope", "--lectures", fixture_lectures, "--out", tmp_path / "b")
    assert result.exit_code == 2 and "no lecture 'nope'" in result.output and "tiny" in result.output
    assert json.loads((tmp_path / "b" / "tiny" / "snapshot.json").read_text())["lecture"] == "tiny"


@pytest.mark.slow
def test_the_lecture_shows_what_its_accepted_baseline_shows(lecture_out):
    """The course's own CI recipe: this repository's lecture, built fresh on this machine, against
    the baseline accepted and committed beside it. A change of what students see fails here until
    it is reviewed (`nnarch diff`) and accepted (`nnarch accept`)."""
    from nnarch.baseline import compare

    changes = compare(LECTURES / "nn_architectures" / "baseline", lecture_out)
    assert not changes, "\n".join(changes.summary() + changes.frame_titles())


def test_a_changed_text_value_is_listed_without_a_relative_change(tmp_path):
    """The lecture's architecture ('1–16–16–1', a value that is text) widened: diff lists the old and
    new text where a number would show its change (it used to stop with a KeyError, and serve too)."""
    from nnarch import baseline

    accepted = LECTURES / "nn_architectures" / baseline.BASELINE
    release = tmp_path / "release"
    shutil.copytree(accepted, release)
    text = (release / "snapshot.json").read_text()
    (release / "snapshot.json").write_text(text.replace("1–16–16–1", "1–32–32–1"))
    changes = baseline.compare(accepted, release)
    moved = [n for n in changes.numbers if n["ref"] == "{{params.architecture}}"]
    assert moved and all((n["old"], n["new"], n["change"]) == ("1–16–16–1", "1–32–32–1", None) for n in moved)
    assert f"{len(moved)} numbers moved beyond tolerance" in changes.summary()
    baseline.write_report(changes, "Neural Network Architectures", release / "diff.html")
    assert "1–32–32–1" in (release / "diff.html").read_text()
