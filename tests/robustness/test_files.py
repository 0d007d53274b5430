"""Nothing lost: clean removes only what nnarch made and never while a build runs; what is published
can be served."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from nnarch.cli import app
from nnarch.publish.staging import ensure_writable

from ..conftest import LECTURES


def clean(folder):
    return CliRunner().invoke(app, ["clean", "--out", str(folder)])


def test_clean_refuses_the_sources_and_the_project(fixture_lectures, tmp_path):
    for folder in (fixture_lectures, fixture_lectures.parent):
        (folder / "keep.txt").write_text("mine")
        result = clean(folder)
        assert result.exit_code == 2, result.output
        assert "is not a build folder nnarch made" in result.output and "nothing removed" in result.output
        assert (folder / "keep.txt").exists()
    assert (fixture_lectures / "course.py").exists()


def test_clean_refuses_a_folder_nnarch_did_not_make(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"jpg")
    assert clean(tmp_path / "photos").exit_code == 2
    assert (tmp_path / "photos" / "holiday.jpg").exists()


def test_clean_waits_for_no_build_and_says_so(tmp_path):
    out = tmp_path / "build"
    ensure_writable(out)
    with open(out / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running build holds it
        result = clean(out)
    assert result.exit_code == 4 and "another nnarch build is running" in result.output
    assert out.exists()


def test_published_files_get_the_umasks_mode(fixture_lectures, tmp_path):
    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(app, ["build", "--lectures", str(fixture_lectures), "--out", str(tmp_path / "b")])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    for path in (tmp_path / "b" / "tiny").rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_two_builds_with_source_date_epoch_are_byte_identical(fixture_lectures, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    for out in ("one", "two"):
        result = CliRunner().invoke(app, ["build", "--lectures", str(fixture_lectures), "--out", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
    one = {
        p.relative_to(tmp_path / "one"): p.read_bytes()
        for p in (tmp_path / "one").rglob("*")
        if p.is_file() and ".cache" not in p.parts and ".work" not in p.parts and p.name != ".lock"
    }
    two = {
        p.relative_to(tmp_path / "two"): p.read_bytes()
        for p in (tmp_path / "two").rglob("*")
        if p.is_file() and ".cache" not in p.parts and ".work" not in p.parts and p.name != ".lock"
    }
    assert one.keys() == two.keys() and len(one) > 10
    # report.json records how long each stage took; everything a reader gets is identical
    assert [str(name) for name in one if one[name] != two[name]] == ["tiny/report.json"]
    assert b"2026-01-01" in one[Path("tiny/handout.html")]


def test_building_one_topic_is_a_preview_beside_the_full_deck(fixture_lectures, tmp_path):
    out = tmp_path / "b"

    def build(*topics):
        return CliRunner().invoke(
            app,
            [
                "build",
                *topics,
                "--lectures",
                str(fixture_lectures),
                "--out",
                str(out),
            ],
        )

    assert build().exit_code == 0
    full = {p: p.read_bytes() for p in (out / "tiny").rglob("*") if p.is_file()}
    zipped = (out / "tiny-student.zip").read_bytes()
    result = build("line")
    assert result.exit_code == 0, result.output
    assert {p: p.read_bytes() for p in (out / "tiny").rglob("*") if p.is_file()} == full
    assert (out / "tiny-student.zip").read_bytes() == zipped
    preview = (out / "preview" / "tiny" / "slides.html").read_text()
    assert "Fitting a Line" in preview and "Fitting a Plane" not in preview
    assert f"a preview in {out / 'preview' / 'tiny'}/ (some topics, or --budget quick)" in result.output
    again = build("line")  # up to date, and says where it is
    assert again.exit_code == 0 and f"up to date: {out / 'preview' / 'tiny' / 'slides.pdf'}" in again.output
    (out / "tiny" / "diff.html").write_text("what changed in the release before")  # as `nnarch diff` leaves it
    assert build().exit_code == 0  # a release: the older preview, and the older release's diff, are gone
    assert not (out / "preview").exists() and not (out / "tiny" / "diff.html").exists()


def test_the_course_page_links_a_lecture_by_its_slot_not_its_wording(fixture_lectures, tmp_path):
    # the schedule says "Tiny lecture", the lecture is titled "Tiny Lecture": linked all the same
    result = CliRunner().invoke(app, ["build", "--lectures", str(fixture_lectures), "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "b" / "index.html").read_text()
    assert 'href="tiny/slides.pdf"' in page


def test_check_reports_a_lecture_at_a_slot_the_schedule_lacks(fixture_lectures):
    init = fixture_lectures / "tiny" / "__init__.py"
    init.write_text(init.read_text().replace('session="09:00"', 'session="9:00"'))
    result = CliRunner().invoke(app, ["check", "--lectures", str(fixture_lectures)])
    assert result.exit_code == 1
    assert "LECTURE.session: '9:00' is no slot of the schedule (did you mean '09:00'?)" in result.output


def _build(lectures, out):
    return CliRunner().invoke(app, ["build", "--lectures", str(lectures), "--out", str(out)])


def _published(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_files_someone_else_put_there_are_neither_lost_nor_handed_out(fixture_lectures, tmp_path):
    out = tmp_path / "b"
    assert _build(fixture_lectures, out).exit_code == 0
    (out / "tiny" / "figures" / "my-sketch.png").write_bytes(b"png")
    (out / "tiny" / "notebooks" / "answers-key.ipynb").write_text("{}")
    slides = fixture_lectures / "tiny" / "line.md"
    slides.write_text(slides.read_text().replace("parameters", "weights"))
    assert _build(fixture_lectures, out).exit_code == 0
    assert (out / "tiny" / "figures" / "my-sketch.png").read_bytes() == b"png"
    import zipfile

    with zipfile.ZipFile(out / "tiny-student.zip") as archive:
        assert not [n for n in archive.namelist() if "answers-key" in n or "my-sketch" in n]
    assert "answers-key" not in (out / "index.html").read_text()


def test_a_full_disk_leaves_the_published_set_as_it_was(fixture_lectures, tmp_path, monkeypatch):
    import errno

    import nnarch.publish.staging as publish

    out = tmp_path / "b"
    assert _build(fixture_lectures, out).exit_code == 0
    before = _published(out / "tiny")
    original = publish.write_atomic

    def full(path, data):
        if ".staging" in Path(path).parts and Path(path).name == "slides.html":
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(path, data)

    monkeypatch.setattr(publish, "write_atomic", full)
    slides = fixture_lectures / "tiny" / "line.md"
    slides.write_text(slides.read_text().replace("parameters", "weights"))
    result = _build(fixture_lectures, out)
    assert result.exit_code == 3, result.output
    assert "the disk is full" in result.output and "the published files are unchanged" in result.output
    assert _published(out / "tiny") == before


def test_a_build_killed_while_switching_sets_leaves_the_old_set(fixture_lectures, tmp_path):
    from nnarch.publish.staging import sweep_temporaries

    out = tmp_path / "b"
    assert _build(fixture_lectures, out).exit_code == 0
    before = _published(out / "tiny")
    (out / "tiny").rename(out / ".old-tiny")  # as a kill between the two renames leaves it
    sweep_temporaries(out)
    assert _published(out / "tiny") == before


def test_a_build_leaves_no_generated_modules_in_the_temporary_folder(lecture_out, tmp_path):
    """PyG writes a module for each message-passing layer it compiles: into the build's scratch
    folder, which goes with the build, not into the system's temporary folder."""
    out, scratch = tmp_path / "b", tmp_path / "tmp"
    scratch.mkdir()
    shutil.copytree(lecture_out.parent / ".cache", out / ".cache")
    done = subprocess.run(
        [sys.executable, "-m", "nnarch", "build", "--lectures", str(LECTURES), "--out", str(out), "--force", "gnn"],
        env={**os.environ, "TMPDIR": str(scratch)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [p.name for p in scratch.rglob("*.py")], list(scratch.rglob("*"))
    assert not (out / ".work" / "tmp").exists()


def test_a_temporary_folder_too_deep_for_a_unix_socket_still_builds(fixture_lectures, tmp_path):
    """The fork server's socket lives in the temporary folder, and a socket's path is short (107
    bytes on Linux): a deeper TMPDIR gets spawned workers, not a crash."""
    deep = tmp_path / ("t" * 60) / ("m" * 60)
    deep.mkdir(parents=True)
    build = ["build", "--lectures", str(fixture_lectures), "--out", str(tmp_path / "b"), "--jobs", "2"]
    env = {**os.environ, "TMPDIR": str(deep)}
    done = subprocess.run(
        [sys.executable, "-m", "nnarch", *build], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "b" / "tiny" / "slides.pdf").exists()
