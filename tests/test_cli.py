"""The command line on the fixture lecture: build, check, params, list, clean, and their exit codes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

from typer.testing import CliRunner

from nnarch.cli import app

from .conftest import LECTURES

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_build_fixture_lecture_writes_all_artifacts(fixture_lectures, tmp_path):
    out = tmp_path / "build"
    result = invoke("build", "--lectures", fixture_lectures, "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert re.search(r"line\s+│\s+trained", result.output)
    report = json.loads((out / "tiny" / "report.json").read_text())
    assert report["topics"]["line"]["params"]["total"] == 2
    for name in ("slides.pdf", "slides.html", "instructor/slides.tex"):
        assert (out / "tiny" / name).exists()
    assert f"wrote {out / 'tiny' / 'slides.pdf'}" in result.output
    assert f"to present: {out / 'tiny' / 'instructor' / 'index.html'}" in result.output
    assert f"for students: {out / 'tiny-student.zip'}" in result.output


def test_a_rebuild_says_which_files_changed(fixture_lectures, tmp_path):
    out = tmp_path / "build"
    assert invoke("build", "--lectures", fixture_lectures, "--out", out).exit_code == 0
    slides = fixture_lectures / "tiny" / "line.md"
    slides.write_text(slides.read_text() + "\n::: notes\nSay why the loss flattens.\n:::\n")
    result = invoke("build", "--lectures", fixture_lectures, "--out", out)
    assert result.exit_code == 0, result.output
    wrote = set(re.findall(r"^wrote \S+/tiny/(\S+)$", result.output, re.M))
    assert "instructor/slides-notes.pdf" in wrote  # the notes are in the notes deck
    assert "slides.pdf" not in wrote  # the students' deck has no notes: it is the same file
    assert re.search(r"^\d+ of the \d+ files unchanged$", result.output, re.M)


def test_failed_claim_fails_the_build_and_names_the_claim(fixture_lectures, tmp_path):
    topic = fixture_lectures / "tiny" / "line.py"
    topic.write_text(
        topic.read_text().replace(
            'below("history.final_train", 10.0, "training loss below 10")',
            'below("history.final_train", 1e-12, "training loss below 1e-12")',
        )
    )
    result = invoke("build", "--lectures", fixture_lectures, "--out", tmp_path / "build")
    assert result.exit_code == 1
    assert "line.py:31: claims: claim 'training loss below 1e-12' is false: measured" in result.output
    assert "Traceback" not in result.output


def test_check_names_file_and_missing_field(fixture_lectures):
    topic = fixture_lectures / "tiny" / "line.py"
    topic.write_text(topic.read_text().replace("    data=make_data,\n", ""))
    result = invoke("check", "--lectures", fixture_lectures)
    assert result.exit_code == 1
    assert re.search(r"tiny/line\.py:\d+: Topic\(\.\.\.\): missing field 'data'", result.output), result.output


def test_check_suggests_the_field_for_a_misspelled_name(fixture_lectures):
    topic = fixture_lectures / "tiny" / "line.py"
    topic.write_text(topic.read_text().replace("lr=0.1, epochs=40", "lr=0.1, epoch=40"))
    result = invoke("check", "--lectures", fixture_lectures)
    assert result.exit_code == 1
    assert "tiny/line.py" in result.output and "did you mean 'epochs'" in result.output


def test_check_names_an_unknown_figure_on_a_slide(fixture_lectures):
    slides = fixture_lectures / "tiny" / "line.md"
    slides.write_text(slides.read_text().replace("](loss)", "](losses)"))
    result = invoke("check", "--lectures", fixture_lectures)
    assert result.exit_code == 1
    assert re.search(r"tiny/line\.md:\d+: figure 'losses': no such figure \(did you mean 'loss'\?\)", result.output), (
        result.output
    )


def test_check_reports_markdown_mistakes_by_file_and_line(fixture_lectures):
    slides = fixture_lectures / "tiny" / "line.md"
    slides.write_text(
        slides.read_text() + "\n```{lisitng} Line\n```\n\n```{listing} Lin\n```\n\n"
        "![A plot](loss)\n\nValue {{metrics.mse}}.\n"
    )
    result = invoke("check", "--lectures", fixture_lectures)
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    for expected in (
        r"line\.md:12: unknown directive '\{lisitng\}' \(did you mean 'listing'\?\)",
        r"line\.md:15: listing 'Lin': no class or function of that name in line\.py "
        r"\(did you mean 'Line'\?\)",
        r"line\.md:18: figure 'loss': no alt text",
        r"line\.md:20: value 'metrics\.mse': no metric 'mse'",
    ):
        assert re.search(expected, output), (expected, output)


def test_a_misspelled_spread_is_reported_once(fixture_lectures):
    """`{{path:spread}}` reads three paths (median, minimum, maximum), and a paragraph may use it
    twice: one mistake, one line."""
    slides = fixture_lectures / "tiny" / "line.md"
    slides.write_text(slides.read_text() + "\nValue {{metrics.mse:spread}}, again {{metrics.mse:spread}}.\n")
    result = invoke("check", "--lectures", fixture_lectures)
    assert result.exit_code == 1
    assert len(re.findall(r"line\.md:\d+: value", result.output)) == 1, result.output
    assert "the topic has no seeds; declare seeds=range(5)" in result.output


def test_two_lectures_with_a_topic_of_the_same_name_are_refused(fixture_lectures):
    """A topic's name keys its cached runs: a second lecture's 'line' would be given the first's."""
    shutil.copytree(fixture_lectures / "tiny", fixture_lectures / "tiny2", ignore=shutil.ignore_patterns("baseline"))
    init = fixture_lectures / "tiny2" / "__init__.py"
    init.write_text(init.read_text().replace('slug="tiny"', 'slug="tiny2"'))
    result = invoke("check", "--lectures", fixture_lectures)
    assert result.exit_code == 1, result.output
    for name in ("line", "plane"):
        assert f"tiny2/__init__.py: LECTURE.topics: '{name}' is also a topic of" in result.output
    assert "tiny/__init__.py: LECTURE" not in result.output  # the first lecture is not at fault


def test_a_topic_declared_from_shared_settings_checks_and_builds(fixture_lectures, tmp_path):
    """TOPIC = Topic(**COMMON, ...): what check cannot read without importing it is not taken as
    absent; the build, which imports it, names a figure the Markdown shows and the module lacks."""
    topic = fixture_lectures / "tiny" / "line.py"
    text = topic.read_text().replace('    figures=[FigureSpec("loss", "loss_curve")],\n', "")
    common = 'COMMON = dict(figures=[FigureSpec("loss", "loss_curve")])\n'
    topic.write_text(text.replace("TOPIC = Topic(\n", common + "TOPIC = Topic(\n    **COMMON,\n"))
    assert invoke("check", "--lectures", fixture_lectures).exit_code == 0
    out = tmp_path / "build"
    assert invoke("build", "--lectures", fixture_lectures, "--out", out, "--device", "cpu").exit_code == 0
    slides = fixture_lectures / "tiny" / "line.md"
    slides.write_text(slides.read_text().replace("](loss)", "](losses)"))
    result = invoke("build", "--lectures", fixture_lectures, "--out", out, "--device", "cpu")
    assert result.exit_code == 1
    assert "line.md:10: figure 'losses': no such figure (did you mean 'loss'?)" in result.output, result.output


def test_a_misspelled_field_of_the_course_is_named_in_a_file_saved_with_a_bom(fixture_lectures):
    course = fixture_lectures / "course.py"
    course.write_bytes(b"\xef\xbb\xbf" + course.read_bytes().replace(b"title=", b"titel="))
    result = invoke("check", "--lectures", fixture_lectures)
    assert result.exit_code == 1
    assert "course.py:3: Course(...): unknown field 'titel' (did you mean 'title'?)" in result.output, result.output


def test_check_never_imports_torch(fixture_lectures):
    script = (
        "import sys\nfrom typer.testing import CliRunner\nfrom nnarch.cli import app\n"
        f"r = CliRunner().invoke(app, ['check', '--lectures', {str(fixture_lectures)!r}])\n"
        "assert r.exit_code == 0, r.output\nassert 'torch' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_passes_on_the_real_lecture():
    result = invoke("check")
    assert result.exit_code == 0, result.output
    assert "all valid" in result.output


def test_params_prints_per_layer_table_and_formula():
    result = invoke("params", "ffnn")
    assert result.exit_code == 0, result.output
    assert re.search(r"total\s.*\b321\b", result.output)
    assert "(1 · 16 + 16) + (16 · 16 + 16) + (16 · 1 + 1) = 321" in result.output


def test_unknown_topic_is_a_usage_error_that_leaves_nothing(fixture_lectures, tmp_path):
    result = invoke("build", "lien", "--lectures", fixture_lectures, "--out", tmp_path / "b")
    assert result.exit_code == 2
    assert "lien: no topic of that name (did you mean 'line'?)" in result.output
    result = invoke("build", "--force", "fnn", "--lectures", fixture_lectures, "--out", tmp_path / "b")
    assert result.exit_code == 2 and "--force fnn: no topic of that name" in result.output
    assert not (tmp_path / "b").exists()


def test_clean_removes_the_build_folder(tmp_path):
    from nnarch.publish.staging import ensure_writable

    ensure_writable(tmp_path / "build")  # what a build does first: the folder is marked as nnarch's
    (tmp_path / "build" / "x").mkdir()
    result = invoke("clean", "--out", tmp_path / "build")
    assert result.exit_code == 0 and not (tmp_path / "build").exists()


def test_new_writes_a_topic_that_checks_and_builds(fixture_lectures, tmp_path):
    result = invoke("new", "waves", "--lecture", "tiny", "--title", "Waves & Co", "--lectures", fixture_lectures)
    assert result.exit_code == 0, result.output
    assert "added 'waves' to the topics" in result.output
    assert 'topics=("line", "plane", "waves")' in (fixture_lectures / "tiny" / "__init__.py").read_text()
    assert invoke("check", "--lectures", fixture_lectures).exit_code == 0
    result = invoke("build", "--lectures", fixture_lectures, "--out", tmp_path / "b")
    assert result.exit_code == 0, result.output
    assert "Waves & Co" in (tmp_path / "b" / "tiny" / "slides.html").read_text().replace("&amp;", "&")
    again = invoke("new", "waves", "--lecture", "tiny", "--lectures", fixture_lectures)
    assert again.exit_code == 2 and "already exists" in again.output
    assert invoke("new", "swell", "--lectures", fixture_lectures).exit_code == 0  # the only lecture
    assert 'topics=("line", "plane", "waves", "swell")' in (fixture_lectures / "tiny" / "__init__.py").read_text()
    wrong = invoke("new", "surf", "--lecture", "tiny_", "--lectures", fixture_lectures)
    assert wrong.exit_code == 2 and "no lecture 'tiny_' (did you mean 'tiny'?)" in wrong.output


def test_new_in_the_real_lecture_builds_with_its_lab_plan(lecture_out, tmp_path):
    """In a lecture with a lab the new topic gets a lab part and an exercise, the lab plan still
    adds up, and the lecture builds with it (the other topics come from the first build's cache);
    with two new topics, too, whose sections no longer fit the outline in one column."""
    lectures, out = tmp_path / "lectures", tmp_path / "b"
    shutil.copytree(LECTURES, lectures, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(lecture_out.parent / ".cache", out / ".cache")
    result = invoke("new", "attention", "--lecture", "nn_architectures", "--lectures", lectures)
    assert result.exit_code == 0, result.output
    assert "move minutes to it from the others" in result.output and "ffnn.md 12" in result.output
    assert "its frame has 0 minutes" in result.output  # the lecture's timing, too, still adds up
    assert invoke("new", "diffusion", "--lecture", "nn-architectures", "--lectures", lectures).exit_code == 0  # slug
    assert invoke("check", "--lectures", lectures).exit_code == 0
    result = invoke("build", "--lectures", lectures, "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert re.search(r"attention\s*│ trained", result.output) and re.search(r"ffnn\s*│ cached", result.output)
    assert re.search(r"diffusion\s*│ trained", result.output)
    handout = (out / "nn-architectures" / "instructor" / "handout-instructor.html").read_text()
    assert "Count the parameters" in handout


def test_list_shows_which_topics_need_training(fixture_lectures, tmp_path):
    out = tmp_path / "b"
    before = invoke("list", "--lectures", fixture_lectures, "--out", out)
    assert before.exit_code == 0 and before.output.count("needs training") == 2
    assert invoke("build", "--lectures", fixture_lectures, "--out", out).exit_code == 0
    topic = fixture_lectures / "tiny" / "plane.py"
    topic.write_text(topic.read_text().replace("epochs=30", "epochs=31"))
    after = invoke("list", "--lectures", fixture_lectures, "--out", out)
    assert re.search(r"line\s.*cached", after.output) and re.search(r"plane\s.*needs training", after.output)


def test_a_lectures_folder_that_is_not_there_is_bad_usage(tmp_path):
    for command in (["build", "--out", tmp_path / "b"], ["check"]):
        result = invoke(*command, "--lectures", tmp_path / "lectrues")
        assert result.exit_code == 2 and "lectrues: no such folder; give --lectures the folder" in result.output
    assert not (tmp_path / "b").exists()
