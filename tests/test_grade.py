"""nnarch grade: three students hand in the FFNN notebook: one right, one wrong and unfinished, one
whose answer never ends. Each runs in its own kernel; the class report and the feedback say what
happened to each, and the one that loops costs its time limit, not the grading."""

from __future__ import annotations

import csv
import sys

import nbformat
from typer.testing import CliRunner

from nnarch.cli import app
from nnarch.grade import grade


def _student_notebook(lecture_out, body: str | None) -> nbformat.NotebookNode:
    """The student FFNN notebook with exercise 1's stub body replaced by `body`."""
    notebook = nbformat.read(lecture_out / "notebooks" / "ffnn.ipynb", as_version=4)
    if body is not None:
        stub = next(c for c in notebook.cells if 'raise NotImplementedError("Exercise 1' in c.source)
        lines = stub.source.splitlines()
        stub.source = "\n".join(lines[:-1] + [f"    {body}"])
    return notebook


def test_grade_reports_right_wrong_and_endless_submissions(lecture_out, tmp_path):
    submissions = tmp_path / "submitted"
    (submissions / "ada").mkdir(parents=True)
    solution = nbformat.read(lecture_out / "instructor" / "notebooks" / "ffnn-solution.ipynb", as_version=4)
    nbformat.write(solution, submissions / "ada" / "ffnn.ipynb")
    nbformat.write(_student_notebook(lecture_out, "return 1000"), submissions / "ben.ipynb")
    nbformat.write(_student_notebook(lecture_out, "while True:\n        pass"), submissions / "cy.ipynb")
    report = tmp_path / "graded"

    marks = grade(submissions, lecture_out, report, timeout=30, memory_mb=8192, progress=lambda text: None)

    result = {(m.student, m.exercise): m for m in marks}
    assert {m.student for m in marks} == {"ada", "ben", "cy"}
    assert result["ada", 1].result == result["ada", 2].result == "correct"
    assert result["ben", 1].result == "wrong" and result["ben", 1].answer == "1000"
    assert "1000 is not the answer yet" in result["ben", 1].message
    assert result["ben", 2].result == "not answered"
    assert result["cy", 1].result != "correct" and "30 s limit" in result["cy", 1].message

    rows = list(csv.DictReader((report / "grades.csv").open()))
    assert len(rows) == len(marks) == 6
    page = (report / "grades.html").read_text()
    assert "<code>1000</code> (1)" in page  # the common wrong answers
    feedback = (report / "feedback" / "ben.md").read_text()
    assert "**wrong**. Your answer: `1000`" in feedback and "not answered" in feedback


def test_grade_finds_the_only_lecture_and_says_what_is_missing(tmp_path, monkeypatch):
    """Without --lecture it grades against the course's only lecture; a folder without notebooks,
    a lecture not built and an install without Jupyter each get one line that says what to do."""
    runner = CliRunner()
    (tmp_path / "in").mkdir()
    result = runner.invoke(app, ["grade", str(tmp_path / "in"), "--out", str(tmp_path / "build")])
    assert result.exit_code == 2 and "no notebooks (.ipynb) to grade" in result.output
    (tmp_path / "in" / "ada.ipynb").write_text("{}")
    result = runner.invoke(app, ["grade", str(tmp_path / "in"), "--out", str(tmp_path / "build")])
    assert result.exit_code == 2
    assert "nn-architectures: not a built lecture" in result.output and "run nnarch build first" in result.output
    result = runner.invoke(app, ["grade", str(tmp_path / "in"), "--lecture", "nn-arch"])
    assert result.exit_code == 2 and "no lecture 'nn-arch'" in result.output
    monkeypatch.setitem(sys.modules, "nbclient", None)  # as if only the build's packages were installed
    result = runner.invoke(app, ["grade", str(tmp_path / "in"), "--out", str(tmp_path / "build")])
    assert result.exit_code == 2 and "nbclient is not installed: pip install 'nnarch[grade]'" in result.output
