"""Grade: the notebooks students hand in after a lab. Each runs in a fresh Jupyter kernel with a
time limit per cell and a memory limit, beside the build's nnarch_lab.py, with the build's own
check cells in place of the submitted ones (a check edited to pass counts for nothing); every
exercise's check is read back. The result: a class report (grades.csv, grades.html: per student
and exercise, and the common wrong answers) and a feedback file per student. A notebook that
crashes, loops or prints megabytes is reported, never fatal.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from nnarch.documents.notebooks import LAB_MODULE
from nnarch.documents.render import html_environment
from nnarch.errors import UsageError, rel
from nnarch.files import write_atomic

OUTPUT_LIMIT = 2**20  # bytes a notebook may print before its output is cut and the fact reported


@dataclass(frozen=True)
class Mark:
    """One exercise of one submission."""

    student: str
    topic: str
    exercise: int
    title: str
    result: str  # "correct", "wrong", "not answered", "error", "not run"
    answer: str  # what the notebook printed as its answer
    message: str  # the check's words, or why the notebook did not get there


def grade(submissions: Path, lecture: Path, out: Path, timeout: float, memory_mb: int, progress=print) -> list[Mark]:
    """Grade every notebook under `submissions` against the built lecture folder `lecture`
    (build/<slug>), writing the reports into `out`; the marks."""
    try:  # the grade extra: not needed to build
        import ipykernel  # noqa: F401
        import nbclient  # noqa: F401
    except ImportError as error:
        raise UsageError(
            f"nnarch grade runs the notebooks in Jupyter kernels, and {error.name} is not installed: "
            "pip install 'nnarch[grade]' (make slides installs it with the rest of requirements.lock)"
        ) from None
    notebooks = sorted(p for p in submissions.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        raise UsageError(
            f"{rel(submissions)}: no notebooks (.ipynb) to grade; point nnarch grade at the folder of submissions"
        )
    if not (lecture / "notebooks" / f"{LAB_MODULE}.py").is_file():
        raise UsageError(f"{rel(lecture)}: not a built lecture (no notebooks/{LAB_MODULE}.py); run nnarch build first")
    marks: list[Mark] = []
    with tempfile.TemporaryDirectory(prefix="nnarch-grade-") as scratch:
        kernels = _limited_kernel(Path(scratch) / "kernels", memory_mb)
        for number, path in enumerate(notebooks):
            student = _student(path, submissions)
            progress(f"{student}: {path.name}")
            marks += _grade_one(path, student, lecture, Path(scratch) / str(number), kernels, timeout)
    write_reports(marks, out)
    return marks


def _student(path: Path, submissions: Path) -> str:
    """alice/ffnn.ipynb is alice's; a notebook directly in the folder is named by its file."""
    parts = path.relative_to(submissions).parts
    return parts[0] if len(parts) > 1 else path.stem


def _limited_kernel(folder: Path, memory_mb: int) -> Path:
    """A kernel spec that starts this Python's ipykernel with at most `memory_mb` of address space."""
    spec = folder / "nnarch-grade"
    spec.mkdir(parents=True)
    limit = memory_mb * 2**20
    start = (
        "import resource, runpy, sys; "
        f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit})); "
        "sys.argv = ['ipykernel_launcher', '-f', sys.argv[1]]; "
        "runpy.run_module('ipykernel_launcher', run_name='__main__')"
    )
    kernel = {
        "argv": [sys.executable, "-c", start, "{connection_file}"],
        "display_name": "nnarch grade",
        "language": "python",
    }
    write_atomic(spec / "kernel.json", json.dumps(kernel))
    return folder


def _grade_one(path: Path, student: str, lecture: Path, work: Path, kernels: Path, timeout: float) -> list[Mark]:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    try:
        notebook = nbformat.read(path, as_version=4)
        topic = notebook.metadata.get("nnarch", {}).get("topic")
    except Exception as error:  # not a notebook at all
        return [Mark(student, path.stem, 0, "", "error", "", f"{path.name} is not a readable notebook: {error}")]
    built = lecture / "notebooks" / f"{topic}.ipynb"
    if not topic or not built.is_file():
        return [
            Mark(student, str(topic or path.stem), 0, "", "error", "", f"{path.name} is not a notebook of this lab")
        ]
    reference = nbformat.read(built, as_version=4)
    references = [c for c in reference.cells if "check" in c.metadata.get("tags", [])]
    exercises = [(c.metadata["nnarch"]["exercise"], c.metadata["nnarch"]["title"]) for c in references]
    checks = [c.source for c in references]
    theirs = [c for c in notebook.cells if "check" in c.metadata.get("tags", [])]
    if len(theirs) != len(checks):
        return [
            Mark(
                student,
                topic,
                n,
                t,
                "not run",
                "",
                "the notebook's check cells were removed or added; hand in the lab's notebook",
            )
            for n, t in exercises
        ]
    for cell, source in zip(theirs, checks):
        cell.source = source  # the build's check, whatever the submission did to it
    work.mkdir(parents=True)
    shutil.copy2(lecture / "notebooks" / f"{LAB_MODULE}.py", work / f"{LAB_MODULE}.py")
    problem = ""
    # an asynchronous manager: with a blocking one, a busy kernel starves the client's time limit
    km = AsyncKernelManager(
        kernel_name="nnarch-grade", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)])
    )
    client = NotebookClient(
        notebook, km=km, timeout=timeout, allow_errors=True, resources={"metadata": {"path": str(work)}}
    )
    try:
        client.execute()  # starts the kernel, and shuts it down whatever happens
    except CellTimeoutError:
        problem = f"a cell ran longer than the {timeout:g} s limit (a loop that never ends?)"
    except DeadKernelError:
        problem = "the kernel died (out of memory, or the code exited)"
    except Exception as error:
        first = str(error).splitlines()[0] if str(error) else ""
        problem = f"the notebook could not run: {type(error).__name__}: {first}"
    printed = sum(len(o.get("text", "")) for c in notebook.cells for o in c.get("outputs", []))
    if printed > OUTPUT_LIMIT:
        problem = (
            problem + "; " if problem else ""
        ) + f"it printed {printed / 2**20:.1f} MB (the limit is {OUTPUT_LIMIT // 2**20} MB)"
    return [_mark(student, topic, n, t, cell, problem) for (n, t), cell in zip(exercises, theirs)]


def _mark(student: str, topic: str, number: int, title: str, cell, problem: str) -> Mark:
    outputs = cell.get("outputs", [])
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    answer = text.splitlines()[0][:200] if text.strip() else ""
    error = next((o for o in outputs if o.get("output_type") == "error"), None)
    if f"Exercise {number}: correct" in text:
        return Mark(student, topic, number, title, "correct", answer, "")
    if error is None:
        return Mark(student, topic, number, title, "not run", answer, problem or "the check did not run")
    message = f"{error['ename']}: {error['evalue']}"[:500]
    result = {"NotImplementedError": "not answered", "AssertionError": "wrong"}.get(error["ename"], "error")
    return Mark(student, topic, number, title, result, "" if result == "not answered" else answer, message)


def write_reports(marks: list[Mark], out: Path) -> None:
    """grades.csv, grades.html and feedback/<student>.md in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(Mark.__dataclass_fields__), lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(m) for m in marks)
    write_atomic(out / "grades.csv", table.getvalue())
    students = sorted({m.student for m in marks})
    exercises = sorted({(m.topic, m.exercise, m.title) for m in marks if m.exercise})
    by = {(m.student, m.topic, m.exercise): m for m in marks}
    wrong = {
        key: Counter(
            m.answer for m in marks if (m.topic, m.exercise, m.title) == key and m.result == "wrong" and m.answer
        ).most_common(3)
        for key in exercises
    }
    page = (
        html_environment()
        .get_template("grades.html.j2")
        .render(
            students=students, exercises=exercises, by=by, wrong=wrong, problems=[m for m in marks if not m.exercise]
        )
    )
    write_atomic(out / "grades.html", page)
    for student in students:
        lines = [f"# Feedback for {student}", ""]
        for m in (m for m in marks if m.student == student):
            head = f"{m.topic}, exercise {m.exercise}: {m.title}" if m.exercise else m.topic
            lines += [f"## {head}", "", f"**{m.result}**" + (f". Your answer: `{m.answer}`" if m.answer else ""), ""]
            if m.message:
                lines += [m.message, ""]
        write_atomic(out / "feedback" / f"{_safe(student)}.md", "\n".join(lines))


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name) or "student"
