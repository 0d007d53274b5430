"""Release: a lecture's documents published as one set with its student zip and the course page, or,
when anything of it failed, put aside as a preview while the last release stays as it was."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from nnarch.errors import LayoutError
from nnarch.publish.site import course_page, student_zip, zip_name
from nnarch.publish.staging import stage_file, stage_folder, switch


def publish_lecture(
    lecture, discovered, files: dict, report: dict, release: bool, out: Path, progress
) -> tuple[list[Path], bool]:
    """Stage and switch in out/<slug>, its zip and index.html together when `release`, else
    out/preview/<slug>: (the files published, whether it was a release)."""
    slug = lecture.lecture.slug
    name = slug if release else f"preview/{slug}"
    staged, kept = stage_folder(name, files, report, out)
    if kept:
        progress.stage(
            f"{slug}: kept {len(kept)} file(s) nnarch did not make: {', '.join(kept[:5])}"
            + (" …" if len(kept) > 5 else "")
        )
    published = sorted(out / name / f for f in [*files, "report.json"])
    if not release:
        switch(out, [name])
        return published, False
    stage_file(zip_name(slug), student_zip(staged, slug, lecture.lecture.topics), out)
    lectures = [lec.lecture for lec in discovered.lectures]
    folders = {lec.slug: out / lec.slug for lec in lectures if (out / lec.slug / "slides.pdf").exists()}
    stage_file("index.html", course_page(discovered.course, lectures, {**folders, slug: staged}), out)
    switch(out, [slug, zip_name(slug), "index.html"])
    shutil.rmtree(out / "preview" / slug, ignore_errors=True)  # older than the release: no longer what builds
    with contextlib.suppress(OSError):
        (out / "preview").rmdir()  # when it is empty
    return [*published, out / zip_name(slug), out / "index.html"], True


def blocking(problems: list, budget: str, progress) -> list:
    """The problems that stop a release: all of them, but under --budget quick a frame that does not
    fit is only a warning."""
    if budget == "full":
        return problems
    for problem in [p for p in problems if isinstance(p, LayoutError)]:
        progress.stage(f"warning: {problem}")
    return [p for p in problems if not isinstance(p, LayoutError)]
