"""A release is all or nothing: a lecture with a failed topic is never published; the last release
stays byte for byte, and what did build goes to build/preview/ with a frame per failed topic."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnarch.cli import app

from ..conftest import LECTURES, edit


def _build(lectures: Path, out: Path, *extra: str):
    return CliRunner().invoke(app, ["build", "--lectures", str(lectures), "--out", str(out), *extra])


def _release(out: Path) -> dict:
    """Every published file and its bytes: not the cache, the work folder, previews or the lock."""
    skip = {".cache", ".work", "preview", ".lock"}
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and not skip & set(p.relative_to(out).parts)
    }


@pytest.fixture
def released(fixture_lectures, tmp_path):
    out = tmp_path / "b"
    result = _build(fixture_lectures, out)
    assert result.exit_code == 0, result.output
    return fixture_lectures, out, _release(out)


def _assert_previewed(out: Path, result, topic: str) -> None:
    assert result.exit_code == 1, result.output
    assert "nothing was published: the last release is unchanged" in result.output
    preview = out / "preview" / "tiny"
    assert "NOT BUILT: topic &#39;" + topic in (preview / "slides.html").read_text()
    assert (preview / "slides.pdf").exists() and (preview / "report.json").exists()
    row = next(line for line in result.output.splitlines() if line.startswith(f"│ {topic} "))
    assert "failed" in row


def test_a_typo_in_a_topics_markdown_leaves_the_release_and_previews_the_rest(released):
    lectures, out, before = released
    edit(lectures / "tiny" / "plane.md", "{{params.total}}", "{{params.totl}}")
    result = _build(lectures, out)
    _assert_previewed(out, result, "plane")
    assert "plane.md:5: value 'params.totl'" in result.output
    assert _release(out) == before
    assert "Fitting a Line" in (out / "preview" / "tiny" / "slides.html").read_text()  # the rest did build


def test_a_false_claim_leaves_the_release_and_previews_the_rest(released):
    lectures, out, before = released
    edit(
        lectures / "tiny" / "line.py",
        'below("history.final_train", 10.0, "training loss below 10")',
        'below("history.final_train", 1e-12, "training loss below 1e-12")',
    )
    result = _build(lectures, out)
    _assert_previewed(out, result, "line")
    assert "claim 'training loss below 1e-12' is false" in result.output
    assert _release(out) == before


def test_cuda_without_a_gpu_is_one_line_exit_3_and_writes_nothing(released):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    lectures, out, before = released
    edit(lectures / "tiny" / "line.md", "parameters", "weights")  # something to build
    result = _build(lectures, out, "--device", "cuda")
    assert result.exit_code == 3, result.output
    assert result.output.count("error:") == 1 and "--device cuda: no CUDA device" in result.output
    assert _release(out) == before and not (out / "preview").exists()


def test_a_topic_that_exits_fails_without_ending_the_build(released):
    lectures, out, before = released
    edit(lectures / "tiny" / "line.py", "def make_data(seed):\n", "def make_data(seed):\n    import os; os._exit(0)\n")
    done = subprocess.run(
        [sys.executable, "-m", "nnarch", "build", "--lectures", str(lectures), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "line.py: the process running this topic ended abruptly" in done.stderr
    assert _release(out) == before and (out / "preview" / "tiny" / "slides.html").exists()


def test_student_zip_entries_have_the_files_modes(released):
    _, out, _ = released
    with zipfile.ZipFile(out / "tiny-student.zip") as archive:
        for info in archive.infolist():
            published = out / info.filename
            assert stat.S_IMODE(info.external_attr >> 16) == stat.S_IMODE(published.stat().st_mode), info.filename


def test_a_folder_without_a_manifest_keeps_what_nnarch_did_not_make(released):
    lectures, out, _ = released
    (out / "tiny" / ".nnarch-manifest.json").unlink()  # an older nnarch, or lost
    (out / "tiny" / "my-notes.txt").write_text("mine")
    edit(lectures / "tiny" / "line.md", "parameters", "weights")
    result = _build(lectures, out)
    assert result.exit_code == 0, result.output
    assert (out / "tiny" / "my-notes.txt").read_text() == "mine"
    assert "kept 1 file(s) nnarch did not make: my-notes.txt" in result.output


def test_a_large_file_someone_put_into_a_release_is_carried_without_being_read(released):
    """It stays the same file (a hard link into the new release): never read into memory, never
    written again, at every build."""
    lectures, out, _ = released
    large = out / "tiny" / "recording.mp4"
    with open(large, "wb") as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: 64 MB that take no disk
    before = large.stat().st_ino
    edit(lectures / "tiny" / "line.md", "parameters", "weights")
    result = _build(lectures, out)
    assert result.exit_code == 0, result.output
    assert large.stat().st_ino == before and large.stat().st_size == 64 * 1024 * 1024


def test_a_published_folder_that_cannot_be_replaced_is_one_line(released, monkeypatch):
    """A mount point or a read-only folder where the release goes: exit 3, one line naming it."""
    import errno

    lectures, out, before = released
    replace = os.replace

    def busy(source, target):
        if Path(source) == out / "tiny":
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(source), str(target))
        replace(source, target)

    monkeypatch.setattr(os, "replace", busy)
    edit(lectures / "tiny" / "line.md", "parameters", "weights")
    result = _build(lectures, out)
    assert result.exit_code == 3, result.output
    assert re.search(r"tiny: cannot be replaced \(Device or resource busy\)", result.output), result.output
    assert "internal error" not in result.output
    assert (out / "tiny" / "slides.pdf").read_bytes() == before["tiny/slides.pdf"]


def test_links_someone_put_into_a_release_stay_links(released, tmp_path):
    """A link to a private file is never copied into a readable file, and a link to a folder is kept
    (and said), not dropped."""
    lectures, out, _ = released
    private = tmp_path / "private.txt"
    private.write_text("not for students")
    private.chmod(0o600)
    (out / "tiny" / "notes.txt").symlink_to(private)
    (out / "tiny" / "extra").symlink_to(tmp_path, target_is_directory=True)
    edit(lectures / "tiny" / "line.md", "parameters", "weights")
    result = _build(lectures, out)
    assert result.exit_code == 0, result.output
    assert (out / "tiny" / "notes.txt").is_symlink() and (out / "tiny" / "extra").is_symlink()
    assert "kept 2 file(s) nnarch did not make" in result.output


def test_a_switch_cut_short_is_finished_by_the_next_build(released):
    from nnarch.publish.staging import STAGING, SWITCH, sweep_temporaries

    _lectures, out, _before = released
    staging = out / STAGING
    shutil.copytree(out / "tiny", staging / "tiny")
    (staging / "tiny" / "slides.html").write_text("new slides")
    (staging / "tiny-student.zip").write_bytes(b"new zip")
    (staging / SWITCH).write_text('["tiny", "tiny-student.zip"]')
    (out / "tiny").rename(out / ".old-tiny")  # killed between its two renames
    sweep_temporaries(out)
    assert (out / "tiny" / "slides.html").read_text() == "new slides"
    assert (out / "tiny-student.zip").read_bytes() == b"new zip"  # never new slides beside an old zip
    assert not staging.exists() and not (out / ".old-tiny").exists()


def test_a_release_half_staged_is_dropped_by_the_next_build(released):
    from nnarch.publish.staging import STAGING, sweep_temporaries

    _, out, before = released
    (out / STAGING / "tiny").mkdir(parents=True)
    (out / STAGING / "tiny" / "slides.html").write_text("half")
    sweep_temporaries(out)
    assert _release(out) == before and not (out / STAGING).exists()


def test_a_broken_topic_file_is_one_error_and_no_false_lab_plan(tmp_path):
    lectures = tmp_path / "lectures"
    shutil.copytree(LECTURES, lectures, ignore=shutil.ignore_patterns("__pycache__"))
    edit(lectures / "nn_architectures" / "ffnn.py", "class MLP(", "clas MLP(")
    result = CliRunner().invoke(app, ["check", "--lectures", str(lectures)])
    assert result.exit_code == 1
    assert result.output.count("syntax error") == 1
    assert "lab plan adds up" not in result.output
    assert "the lab plan's minutes are checked once the errors above are fixed" in result.output


def test_the_no_op_digest_holds_no_machine_identity(released, monkeypatch, tmp_path):
    import platform

    from nnarch.build import Options
    from nnarch.plan import inputs_digest

    lectures, out, _ = released
    digest = inputs_digest(Options(lectures, out, "cpu"))
    monkeypatch.setattr(platform, "node", lambda: "another-host")
    monkeypatch.setenv("USER", "someone-else")
    moved = tmp_path / "elsewhere" / "lectures"
    shutil.copytree(lectures, moved)
    assert inputs_digest(Options(moved, out, "cpu")) == digest
    for device in ("cpu", "auto"):
        assert _build(moved, out, "--device", device).exit_code == 0
        again = _build(moved, out, "--device", device)
        assert again.exit_code == 0 and "up to date" in again.output
