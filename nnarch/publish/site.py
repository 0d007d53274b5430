"""Site: the course page (build/index.html) and each lecture's student download (a zip)."""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Sequence
from pathlib import Path

from nnarch.documents.launch import launch_links
from nnarch.documents.notebooks import LAB_MODULE
from nnarch.documents.render import html_environment
from nnarch.publish.staging import published_files
from nnarch.source.discover import lab_slot

STUDENT_FILES = (
    "README.md",
    "requirements.txt",
    "environment.yml",
    "slides.pdf",
    "slides.html",
    "handout.pdf",
    "handout.html",
    f"notebooks/{LAB_MODULE}.py",
)


def student_files(folder: Path, order: Sequence[str] = ()) -> list[Path]:
    """What a student should have of a built lecture, from the files nnarch published there (its
    manifest): never an instructor edition, a solution, or a file someone else put there. The
    notebooks in the topics' `order` (the handout's)."""
    published = published_files(folder)
    names = [name for name in STUDENT_FILES if name in published]
    notebooks = [n for n in published if n.startswith("notebooks/") and n.endswith(".ipynb")]  # not instructor/'s
    rank = {f"notebooks/{topic}.ipynb": i for i, topic in enumerate(order)}
    names += sorted(notebooks, key=lambda n: (rank.get(n, len(rank)), n))
    return [folder / name for name in names]


def zip_name(slug: str) -> str:
    """The student zip of a lecture, beside its folder in build/."""
    return f"{slug}-student.zip"


def student_zip(folder: Path, name: str, order: Sequence[str] = ()) -> bytes:
    """A reproducible zip (fixed timestamps, the files' own modes) of the student files of a lecture
    folder, under NAME/ in the archive, its notebooks in the topics' `order`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in student_files(folder, order):
            info = zipfile.ZipInfo(f"{name}/{path.relative_to(folder)}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | stat.S_IMODE(path.stat().st_mode)) << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def course_page(course, lectures, folders: dict) -> str:
    """build/index.html: the schedule, with links to the files of each released lecture (`folders`:
    slug → the folder its files are in now, staged or published)."""
    links = {}
    for lecture in lectures:
        folder = folders.get(lecture.slug)
        if folder is None:
            continue
        # by the slot the lecture declares (day and session), whatever the schedule's cell says
        links[(lecture.day, lecture.session)] = [
            ("slides (PDF)", f"{lecture.slug}/slides.pdf"),
            ("slides (HTML)", f"{lecture.slug}/slides.html"),
        ]
        lab = [  # the zip first: a student installs from its README.md before the lab
            ("everything for students (zip, with the install steps)", zip_name(lecture.slug)),
            ("handout (PDF)", f"{lecture.slug}/handout.pdf"),
            ("handout (HTML)", f"{lecture.slug}/handout.html"),
        ]
        for p in student_files(folder, lecture.topics):
            if p.suffix == ".ipynb":
                lab.append((f"notebook: {p.stem}", f"{lecture.slug}/notebooks/{p.name}"))
                lab += [
                    (f"{p.stem} in {label}", url) for label, url in launch_links(course.launch, lecture.slug, p.name)
                ]
            elif p.suffix == ".py":  # nnarch_lab.py, which every notebook imports
                lab.append((f"{p.name}: save it beside the notebooks", f"{lecture.slug}/notebooks/{p.name}"))
        lab.append(("the packages the notebooks need (requirements.txt)", f"{lecture.slug}/requirements.txt"))
        lab_time = lab_slot(lecture, course)
        if lab_time:
            links[(lecture.day, lab_time)] = links.get((lecture.day, lab_time), []) + lab
    rows = [
        {
            "time": time,
            "cells": [{"text": text, "links": links.get((day, time), [])} for day, text in enumerate(cells, start=1)],
        }
        for time, cells in course.slots
    ]
    return html_environment().get_template("index.html.j2").render(course=course, rows=rows)
