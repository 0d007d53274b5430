"""The pipeline on the fixture lecture: determinism, LaTeX failures, failing topics."""

from __future__ import annotations

import re

import pytest

from nnarch.build import Options, build
from nnarch.errors import LatexError
from nnarch.run.train import train_topic
from nnarch.source.discover import discover

from .conftest import edit, topic_of


def test_training_is_deterministic(fixture_lectures):
    source = discover(fixture_lectures).lectures[0].topics[0]
    first = train_topic(topic_of(source), source.path, "cpu")
    second = train_topic(topic_of(source), source.path, "cpu")
    assert first.fit.train_loss == second.fit.train_loss
    assert first.fit.test_loss == second.fit.test_loss


def test_latex_failure_names_frame_line_and_error(fixture_lectures, tmp_path):
    slides = fixture_lectures / "tiny" / "lecture.md"
    slides.write_text(slides.read_text().replace("for the tests.", "for the tests.\n\n$$\nx = \\undefinedmacro{1}\n$$"))
    result = build(Options(fixture_lectures, tmp_path / "build", "cpu"))
    errors = [e for e in result.errors if isinstance(e, LatexError)]
    assert len(errors) == 1
    message = str(errors[0])
    assert re.match(r"\S*tiny/lecture\.md:1: LaTeX failed in frame 'Welcome' \(\S*slides\.tex:\d+\)", message)
    assert "Undefined control sequence" in message  # the author's file first, then the LaTeX
    assert not (tmp_path / "build" / "tiny" / "slides.pdf").exists()


def test_a_broken_topic_does_not_stop_the_others(fixture_lectures, tmp_path):
    (fixture_lectures / "tiny" / "broken.py").write_text("import torch\nTOPIC = 1 +\n")
    init = fixture_lectures / "tiny" / "__init__.py"
    init.write_text(init.read_text().replace('topics=("line", "plane")', 'topics=("broken", "line")'))
    result = build(Options(fixture_lectures, tmp_path / "build", "cpu"))
    assert [o.name for o in result.outcomes if o.status == "trained"] == ["line"]
    assert any("broken.py:2: syntax error" in str(e) for e in result.errors)
    assert (tmp_path / "build" / "preview" / "tiny" / "slides.pdf").exists()  # a preview, not a release
    assert not (tmp_path / "build" / "tiny").exists()
    assert not result.ok


@pytest.mark.parametrize("option", ["fail_fast"])
def test_fail_fast_stops_before_training(fixture_lectures, tmp_path, option):
    (fixture_lectures / "tiny" / "broken.py").write_text("x = 1\n")
    init = fixture_lectures / "tiny" / "__init__.py"
    init.write_text(init.read_text().replace('topics=("line", "plane")', 'topics=("broken", "line")'))
    result = build(Options(fixture_lectures, tmp_path / "build", "cpu", fail_fast=True))
    assert result.outcomes == () and len(result.errors) == 1
    assert "broken.py: TOPIC: expected a Topic(...) at module level, found nothing" in str(result.errors[0])


def test_same_sources_give_the_same_files(fixture_lectures, tmp_path):
    first = build(Options(fixture_lectures, tmp_path / "one", "cpu"))
    second = build(Options(fixture_lectures, tmp_path / "two", "cpu"))
    assert first.ok and second.ok
    for name in (
        "instructor/slides.tex",
        "slides.html",
        "slides.pdf",
        "notebooks/line.ipynb",
        "figures/line-loss.svg",
        "figures/line-loss.pdf",
    ):
        assert (tmp_path / "one" / "tiny" / name).read_bytes() == (tmp_path / "two" / "tiny" / name).read_bytes(), name
    assert (tmp_path / "one" / "tiny-student.zip").exists()


def test_a_build_from_the_records_writes_what_the_cold_build_wrote(fixture_lectures, tmp_path):
    """A rebuild restores every topic from its record: its files must be the cold build's, byte for
    byte (metrics declared out of alphabetical order once came back sorted)."""
    line = fixture_lectures / "tiny" / "line.py"
    edit(
        line,
        '    figures=[FigureSpec("loss", "loss_curve")],',
        '    figures=[FigureSpec("loss", "loss_curve")],\n    metrics={"weight": weight, "bias": bias},',
    )
    edit(
        line,
        "TOPIC = Topic(",
        "def weight(run):\n    return run.model.fc.weight.item()\n\n\n"
        "def bias(run):\n    return run.model.fc.bias.item()\n\n\nTOPIC = Topic(",
    )
    out = tmp_path / "b"
    assert build(Options(fixture_lectures, out, "cpu")).ok
    cold = {p: p.read_bytes() for p in (out / "tiny").rglob("*") if p.is_file() and p.name != "report.json"}
    (out / ".work" / "stamp.json").unlink()  # no longer up to date: everything renders from records
    again = build(Options(fixture_lectures, out, "cpu"))
    assert again.ok and {o.status for o in again.outcomes} == {"cached"}
    assert "weight" in (out / "tiny" / "handout.html").read_text()
    for path, data in cold.items():
        assert path.read_bytes() == data, path
