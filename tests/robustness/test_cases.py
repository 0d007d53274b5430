"""Each case is a topic module in cases/ built beside a good topic: a one-line error that names the
file (and line), the field and the fix; a non-zero exit; no traceback; the good topic still builds."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnarch.cli import app

CASES = Path(__file__).resolve().parent / "cases"

# case module -> (exit code, the message it must print)
EXPECTED = {
    "syntax_error": (1, r"case\.py:3: syntax error: '\(' was never closed; fix the line"),
    "import_error": (1, r"case\.py:1: cannot import: No module named 'not_a_real_package'; install"),
    "missing_field": (1, r"case\.py:5: Topic\(\.\.\.\): missing field 'data'; add data=\.\.\."),
    "misspelled_field": (1, r"case\.py:5: Recipe\(\.\.\.\): unknown field 'epoch' \(did you mean 'epochs'\?\)"),
    "ill_typed_field": (
        1,
        r"2 problems:\s+\S*case\.py:5: Recipe\(\.\.\.\): epochs: expected a positive int, found 'many'\s+"
        r"\S*case\.py:5: Recipe\(\.\.\.\): lr: expected a positive number, found -1",
    ),
    "unknown_claim_path": (
        1,
        r"case\.py:7: claims: value 'metrics\.acuracy': no metric 'acuracy' \(did you mean 'accuracy'\?\)",
    ),
    "unknown_tolerance": (
        1,
        r"case\.py: 2 problem\(s\) in TOPIC:\s+tolerances: 'acuracy' is no metric \(did you mean "
        r"'accuracy'\?\); metrics: accuracy\s+tolerances: 'accuracy': expected a relative tolerance",
    ),
    "unknown_figure": (
        1,
        r"case\.md:7: figure 'los': no such figure \(did you mean 'loss'\?\); declare it "
        r"in figures of case\.py",
    ),
    "unknown_value": (
        1,
        r"case\.md:5: value 'metrics\.acuracy': no metric 'acuracy' \(did you mean "
        r"'accuracy'\?\); declare it in metrics",
    ),
    "shape_mismatch": (
        1,
        r"case\.py: model: output shape \(B, 3\) does not fit the targets \(B, 1\) for "
        r"loss 'mse'; make the last layer's size match",
    ),
    "nan_loss": (
        1,
        r"case\.py: recipe: the loss became \S+ \(train\) / (nan|inf) \(test\) at epoch \d+; "
        r"lower recipe\.lr",
    ),
    "failed_claim": (
        1,
        r"case\.py:6: claims: claim 'training loss below 1e-12' is false: measured "
        r"[\d.e+-]+, bound 1e-12; improve the model or recipe, or change the claim",
    ),
    "unsettable_text": (
        1,
        r"2 problems:\s+\S*case\.md:5: the character '漢' \(U\+6F22 CJK UNIFIED "
        r"IDEOGRAPH-6F22\) has no form in the PDF; write it another way.*\s+\S*case\.md:7: "
        r"the character 'Ж' \(U\+0416 CYRILLIC CAPITAL LETTER ZHE\) is Cyrillic",
    ),
    "bad_math": (
        1,
        r"\S*case\.md:3: LaTeX failed in frame 'Broken Formula' \(\S*slides\.tex:\d+\):\s+"
        r"\./slides\.tex:\d+: Undefined control sequence",
    ),
}


def lecture_with(case: str, fixture_lectures: Path) -> Path:
    folder = fixture_lectures / "tiny"
    shutil.copy(CASES / f"{case}.py", folder / "case.py")
    markdown = CASES / f"{case}.md"
    shutil.copy(markdown if markdown.exists() else CASES / "_default.md", folder / "case.md")
    shutil.copy(CASES / "_base.py", folder / "_base.py")
    init = folder / "__init__.py"
    init.write_text(init.read_text().replace('topics=("line", "plane")', 'topics=("case", "line")'))
    return fixture_lectures


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case_fails_clearly_and_the_other_topic_builds(case, fixture_lectures, tmp_path):
    lectures, out = lecture_with(case, fixture_lectures), tmp_path / "build"
    result = CliRunner().invoke(app, ["build", "--lectures", str(lectures), "--out", str(out)])
    code, message = EXPECTED[case]
    assert result.exit_code == code, result.output
    assert re.search(message, result.output), result.output
    assert "Traceback" not in result.output
    if case != "bad_math":  # a LaTeX error stops that deck's PDF, nothing else
        report = json.loads((out / "preview" / "tiny" / "report.json").read_text())
        assert report["topics"]["line"]["status"] == "trained"  # in the preview: nothing is released
        assert (out / "preview" / "tiny" / "slides.pdf").exists() and not (out / "tiny").exists()


def test_debug_shows_the_traceback(fixture_lectures, tmp_path):
    lectures = lecture_with("nan_loss", fixture_lectures)
    result = CliRunner().invoke(app, ["build", "--lectures", str(lectures), "--out", str(tmp_path / "b"), "--debug"])
    assert result.exit_code == 1
    assert "Traceback" in result.output


def test_fail_fast_stops_at_the_first_error(fixture_lectures, tmp_path):
    lectures = lecture_with("missing_field", fixture_lectures)
    result = CliRunner().invoke(
        app, ["build", "--lectures", str(lectures), "--out", str(tmp_path / "b"), "--fail-fast"]
    )
    assert result.exit_code == 1
    assert "missing field 'data'" in result.output
    assert not (tmp_path / "b" / "tiny" / "slides.pdf").exists()


def test_check_rejects_what_the_pdf_cannot_set_before_anything_trains(fixture_lectures, tmp_path):
    lectures = lecture_with("unsettable_text", fixture_lectures)
    result = CliRunner().invoke(app, ["check", "--lectures", str(lectures)])
    assert result.exit_code == 1
    assert "case.md:5: the character '漢'" in result.output and "case.md:7: the character 'Ж'" in result.output


def test_check_finds_declaration_errors_without_training(fixture_lectures):
    lectures = lecture_with("misspelled_field", fixture_lectures)
    result = CliRunner().invoke(app, ["check", "--lectures", str(lectures)])
    assert result.exit_code == 1
    assert "did you mean 'epochs'" in result.output


def test_a_name_the_notebook_also_defines_is_a_check_error(fixture_lectures):
    """A topic's notebook carries nnarch's training loop beside the topic's code: a topic function
    of the same name would replace it there (or be replaced), so `check` refuses it."""
    line = fixture_lectures / "tiny" / "line.py"
    line.write_text(line.read_text() + "\n\ndef fit(model):\n    return model\n")
    result = CliRunner().invoke(app, ["check", "--lectures", str(fixture_lectures)])
    assert result.exit_code == 1
    assert re.search(r"line\.py:\d+: 'fit' is also a name the topic's notebook uses", result.output), result.output


def test_check_refuses_what_a_handout_would_show_of_the_module_but_cannot_set(fixture_lectures):
    """The instructor's handout lists the model's class and the exercises' solutions, and states the
    claims: a character the PDF cannot set there is a check error too, by the module's line."""
    line = fixture_lectures / "tiny" / "line.py"
    line.write_text(line.read_text() + "\n\nclass Unused:\n    pass  # Жук\n")
    result = CliRunner().invoke(app, ["check", "--lectures", str(fixture_lectures)])
    assert result.exit_code == 1
    assert re.search(r"line\.py:\d+: the character 'Ж'", result.output), result.output


def test_a_model_made_by_functools_partial_builds_and_its_notebook_calls_it(fixture_lectures, tmp_path):
    line = fixture_lectures / "tiny" / "line.py"
    text = line.read_text().replace("import torch\n", "import functools\n\nimport torch\n", 1)
    text = text.replace("    def __init__(self):\n", "    def __init__(self, scale=1.0):\n")
    line.write_text(text.replace("    model=Line,", "    model=functools.partial(Line, scale=1.0),"))
    result = CliRunner().invoke(app, ["build", "--lectures", str(fixture_lectures), "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    notebook = (tmp_path / "b" / "tiny" / "notebooks" / "line.ipynb").read_text()
    assert "model = Line(scale=1.0)" in notebook


def test_a_data_function_made_by_functools_partial_is_one_clear_error(fixture_lectures, tmp_path):
    line = fixture_lectures / "tiny" / "line.py"
    text = line.read_text().replace("import torch\n", "import functools\n\nimport torch\n", 1)
    line.write_text(text.replace("    data=make_data,", "    data=functools.partial(make_data),"))
    result = CliRunner().invoke(app, ["build", "--lectures", str(fixture_lectures), "--out", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert "data: expected a function, found partial" in result.output and "internal error" not in result.output


def test_a_markdown_file_that_is_not_text_is_one_error_and_a_bom_is_fine(fixture_lectures):
    md = fixture_lectures / "tiny" / "line.md"
    text = md.read_bytes()
    md.write_bytes(b"\xef\xbb\xbf" + text)  # what some Windows editors write first
    assert CliRunner().invoke(app, ["check", "--lectures", str(fixture_lectures)]).exit_code == 0
    md.write_bytes(text + b"\n\x89PNG\x00\xff binary")
    for command in ("check", "list"):
        result = CliRunner().invoke(app, [command, "--lectures", str(fixture_lectures)])
        errors = [line for line in result.output.splitlines() if line.startswith("error")]
        assert len(errors) == 1 and re.search(r"line\.md:\d+: byte 0x89 is not UTF-8 text", errors[0]), result.output
        assert "Traceback" not in result.output
