"""Release: a lecture's documents published as one set with its student zip and the course page, or,
when anything of it failed, put aside as a preview while the last release stays as it was."""

from __future__ import annotations

import contextlib
import filecmp
import shutil
from dataclasses import dataclass
from pathlib import Path

from nnarch.errors import LayoutError
from nnarch.publish.site import course_page, student_zip, zip_name
from nnarch.publish.staging import STAGING, stage_file, stage_folder, switch


@dataclass(frozen=True)
class Published:
    paths: list[Path]  # every file nnarch made, as published
    released: bool  # else a preview
    unchanged: list[Path]  # of the paths, those that were already there, byte for byte


def publish_lecture(lecture, discovered, files: dict, report: dict, release: bool, out: Path, progress) -> Published:
    """Stage and switch in out/<slug>, its zip and index.html together when `release`, else
    out/preview/<slug>."""
    slug = lecture.lecture.slug
    name = slug if release else f"preview/{slug}"
    staged, kept = stage_folder(name, files, report, out)
    if kept:
        progress.stage(
            f"{slug}: kept {len(kept)} file(s) nnarch did not make: {', '.join(kept[:5])}"
            + (" …" if len(kept) > 5 else "")
        )
    names = sorted([f"{name}/{f}" for f in [*files, "report.json"]])
    if release:
        stage_file(zip_name(slug), student_zip(staged, slug, lecture.lecture.topics), out)
        lectures = [lec.lecture for lec in discovered.lectures]
        folders = {lec.slug: out / lec.slug for lec in lectures if (out / lec.slug / "slides.pdf").exists()}
        stage_file("index.html", course_page(discovered.course, lectures, {**folders, slug: staged}), out)
        names += [zip_name(slug), "index.html"]
    unchanged = [out / n for n in names if _same(out / STAGING / n, out / n)]
    switch(out, [slug, zip_name(slug), "index.html"] if release else [name])
    if release:
        shutil.rmtree(out / "preview" / slug, ignore_errors=True)  # older than the release: no longer what builds
        with contextlib.suppress(OSError):
            (out / "preview").rmdir()  # when it is empty
    return Published([out / n for n in names], release, unchanged)


def _same(staged: Path, published: Path) -> bool:
    return published.is_file() and filecmp.cmp(staged, published, shallow=False)


def blocking(problems: list, budget: str, progress) -> list:
    """The problems that stop a release: all of them, but under --budget quick a frame that does not
    fit is only a warning."""
    if budget == "full":
        return problems
    for problem in [p for p in problems if isinstance(p, LayoutError)]:
        progress.stage(f"warning: {problem}")
    return [p for p in problems if not isinstance(p, LayoutError)]
