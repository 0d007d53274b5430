"""Lab material: handouts, notebooks, the course page and the student zip."""

from __future__ import annotations

import ast
import html
import json
import re
import shutil
import subprocess
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from nnarch.source import markdown as md
from nnarch.source.discover import discover
from nnarch.source.values import fill, format_value
from nnarch.toolchain import package_version

from .browser import page
from .conftest import LECTURES
from .test_lecture_pdf import pdf_text

NNARCH = Path(__file__).resolve().parent.parent / "nnarch"

SOURCES = {s.name: s for s in discover(LECTURES).lectures[0].topics}
EXERCISES = [(name, e) for name, s in SOURCES.items() for e in s.doc.exercises]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def solution_fragments(topic: str, exercise, results: dict) -> list[str]:
    """Pieces only a solution contains: lines of its body found nowhere else in the module, and the
    prose of the answer with the run's values filled in."""
    outline = SOURCES[topic].outline
    source = outline.listing(exercise.solution)
    elsewhere = squash("".join(s.outline.source for s in SOURCES.values()).replace(source, ""))
    body = source.split('"""')[-1]
    lines = [squash(line) for line in body.splitlines() if line.strip()]
    prose = [
        squash(fill(span[1], results))
        for block in md.walk(exercise.answer)
        if isinstance(block, md.Para)
        for span in block.spans
        if span[0] == "text"
    ]
    return [line for line in lines if line not in elsewhere] + [p for p in prose if len(p) >= 12]


def visible(path_or_data, name: str) -> str:
    """The text a reader sees in a file: PDF text, HTML without tags, notebook cell sources."""
    if name.endswith(".pdf"):
        if isinstance(path_or_data, bytes):
            return subprocess.run(
                ["pdftotext", "-", "-"], input=path_or_data, capture_output=True, check=True
            ).stdout.decode()
        return pdf_text(path_or_data)
    data = path_or_data if isinstance(path_or_data, bytes) else path_or_data.read_bytes()
    if name.endswith(".ipynb"):
        return "\n".join(c.source for c in nbformat.reads(data.decode(), as_version=4).cells)
    return html.unescape(re.sub(r"<[^>]+>", "", data.decode()))


def student_texts(out: Path) -> dict[str, str]:
    folder = out / "nn-architectures"
    texts = {
        name: visible(folder / name, name) for name in ("handout.pdf", "slides.pdf", "handout.html", "slides.html")
    }
    for notebook in (folder / "notebooks").glob("*.ipynb"):  # the solutions are in instructor/notebooks/
        texts[notebook.name] = visible(notebook, notebook.name)
    with zipfile.ZipFile(out / "nn-architectures-student.zip") as archive:
        for name in archive.namelist():
            texts[f"zip:{name}"] = visible(archive.read(name), name)
    return texts


def test_every_topic_has_exercises_with_solutions():
    assert sorted(SOURCES) == ["cnn", "ffnn", "gnn", "lstm"]
    assert all(SOURCES[name].doc.exercises for name in SOURCES)
    assert all(e.answer for _, e in EXERCISES)  # every exercise is answered for instructors


def test_no_solution_reaches_any_student_artifact(lecture_out):
    out = lecture_out.parent
    texts = {name: squash(text) for name, text in student_texts(out).items()}
    assert len([n for n in texts if n.startswith("zip:")]) == 12
    instructor = squash(visible(lecture_out / "instructor" / "handout-instructor.html", "handout-instructor.html"))
    report = json.loads((lecture_out / "report.json").read_text())["topics"]
    for topic, exercise in EXERCISES:
        fragments = solution_fragments(topic, exercise, report[topic])
        assert fragments and all(f in instructor for f in fragments), topic  # the check can fail
        for fragment in fragments:
            if len(fragment) < 12:
                continue  # too short to be a solution's tell (e.g. "returnNone" also starts a starter)
            leaks = [name for name, text in texts.items() if fragment in text]
            assert leaks == [], f"{topic}: '{fragment}' in {leaks}"
    notebooks = [*(lecture_out / "notebooks").glob("*.ipynb"), *(lecture_out / "instructor").rglob("*.ipynb")]
    assert len(notebooks) == 2 * len(SOURCES)
    for notebook in notebooks:
        cells = nbformat.read(notebook, as_version=4).cells
        tagged = [c for c in cells if "solution" in c.metadata.get("tags", [])]
        assert bool(tagged) == ("instructor" in notebook.parts) == notebook.stem.endswith("-solution"), notebook


def _bound(source: str) -> set[str]:
    """The names a module's or a cell's top level binds: definitions, imports, assignments, loops."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Assign, ast.For)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def test_check_reserves_exactly_the_names_a_notebook_binds_beside_the_topics_code(lecture_out):
    """What `check` refuses a topic to define (its notebook would replace it) is what the notebooks
    bind after their setup cell, beyond the topic module's own names: no more, no less."""
    from nnarch.source.validate import LAB_NAMES, NOTEBOOK_CELLS

    beside, every = set(), set()
    for name, source in SOURCES.items():
        notebook = nbformat.read(lecture_out / "instructor" / "notebooks" / f"{name}-solution.ipynb", as_version=4)
        cells = [c for c in notebook.cells if c.cell_type == "code" and "setup" not in c.metadata.get("tags", [])]
        bound = set().union(*(_bound(c.source) for c in cells))
        beside |= bound - _bound(source.path.read_text())
        every |= bound
    reserved = set(LAB_NAMES) | NOTEBOOK_CELLS
    assert beside <= reserved, f"a notebook binds {beside - reserved}, which check lets a topic define"
    assert reserved <= every, f"check refuses {reserved - every}, which no notebook binds"


def test_student_notebooks_are_valid_and_leave_the_exercises_open(lecture_out):
    for name, source in SOURCES.items():
        notebook = nbformat.read(lecture_out / "notebooks" / f"{name}.ipynb", as_version=4)
        nbformat.validate(notebook)
        starters = [c for c in notebook.cells if "# your code here" in c.source]
        assert len(starters) == len(source.doc.exercises)
        for number, cell in enumerate(starters, start=1):
            assert f'raise NotImplementedError("Exercise {number}: fill in' in cell.source
            body = cell.source.splitlines()[1:]  # the signature's docstring and the body, as in the source
            assert all(line.startswith("    ") for line in body if line.strip()), cell.source


def _check_cell(lecture_out, name: str, number: int) -> str:
    notebook = nbformat.read(lecture_out / "notebooks" / f"{name}.ipynb", as_version=4)
    return [c.source for c in notebook.cells if "check" in c.metadata.get("tags", [])][number - 1]


@pytest.mark.parametrize("topic, exercise", EXERCISES, ids=lambda e: getattr(e, "solution", e))
def test_every_checker_takes_the_solution_and_rejects_wrong_answers(lecture_out, topic, exercise):
    """The student notebook's check, run on the build's answer, a changed one and nothing at all."""
    from nnarch.documents import answers

    number = SOURCES[topic].doc.exercises.index(exercise) + 1
    answer = json.loads((lecture_out / "report.json").read_text())["topics"][topic]["answers"][exercise.solution]
    cell = _check_cell(lecture_out, topic, number)
    _, key, _, form = _check_arguments(cell)[:4]
    tolerance = exercise.tolerance
    assert form == answers.answer_form(answer) and (f"tolerance={tolerance!r}" in cell) == bool(tolerance)
    answers.check_answer(answer, key, number, form, tolerance=tolerance)
    # another answer: its floats scaled (beyond its tolerance squared) and nudged, its integers too
    ratio = answers.step_ratio(tolerance) if tolerance else 1 + answers.TOLERANCE
    nudged = _scaled(_scaled(answer, max(1.5, ratio**3)), 1.0, 0.01, 1)
    with pytest.raises(AssertionError, match=f"Exercise {number}: .* is not the answer yet"):
        answers.check_answer(nudged, key, number, form, tolerance=tolerance)
    for other in ("a text", [1.0] * 7 if not isinstance(answer, list) else 0.5):  # another form: said so
        with pytest.raises(AssertionError, match=f"Exercise {number}: the answer should be {re.escape(form)}, but"):
            answers.check_answer(other, key, number, form, tolerance=tolerance)
    with pytest.raises(NotImplementedError, match=f"Exercise {number}: fill in"):
        answers.check_answer(None, key, number, form, tolerance=tolerance)
    # rounding at the third digit either way is within the default tolerance; a number from training,
    # which another CPU rounds differently, within its exercise's tolerance either way
    factor = ratio**0.99 if tolerance else 1 + 4e-4
    for near in (factor, 1 / factor):
        answers.check_answer(_scaled(answer, near), key, number, form, tolerance=tolerance)


def _check_arguments(cell: str) -> list:
    """The literal arguments of a check cell's check_answer call (the answer variable as None)."""
    call = next(
        node
        for node in ast.walk(ast.parse(cell))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "check_answer"
    )
    return [ast.literal_eval(a) if not isinstance(a, ast.Name) else None for a in call.args]


def test_a_pair_answer_with_one_part_off_hears_which(lecture_out):
    """The deeper network's parameters right and its test MSE a hundred times off: the check says
    the second value is off and the first is right."""
    from nnarch.documents import answers

    cell = _check_cell(lecture_out, "ffnn", 2)
    _, key, _, form = _check_arguments(cell)[:4]
    params, mse = json.loads((lecture_out / "report.json").read_text())["topics"]["ffnn"]["answers"]["deeper_network"]
    with pytest.raises(AssertionError, match=r"its second value \(.*\) is off, the other is right"):
        answers.check_answer([params, mse * 100], key, 2, form, tolerance="3x")
    with pytest.raises(AssertionError, match=r"its first value \(.*\) is off, the other is right"):
        answers.check_answer([params + 16, mse], key, 2, form, tolerance="3x")


def _scaled(answer, factor: float, plus: float = 0.0, more: int = 0):
    """An answer with each float times `factor` plus `plus`, each integer plus `more`."""
    return json.loads(
        json.dumps(answer), parse_float=lambda s: float(s) * factor + plus, parse_int=lambda s: int(s) + more
    )


def test_an_answer_of_the_wrong_form_hears_what_was_expected(lecture_out):
    """The topic's own check runs before the comparison, and the form is checked before the value:
    an accuracy of 829, and the spike's two values where the whole field is asked for."""
    from nnarch.documents import answers

    cnn = {**vars(answers), "accuracy_at_noise_05": lambda run: 829, "run": None}
    with pytest.raises(AssertionError, match="an accuracy is a share of the functions, between 0 and 1"):
        exec(_check_cell(lecture_out, "cnn", 1), cnn)
    gnn = {**vars(answers), "spike_after_one_step": lambda run: [0.2, 0.8], "run": None}
    with pytest.raises(AssertionError, match=r"should be a list of 40 numbers, but it is a pair of .*: \[0\.2, 0\.8\]"):
        exec(_check_cell(lecture_out, "gnn", 1), gnn)


def _shown_numbers(answer) -> list[str]:
    """How an answer's numbers are written where they could leak: integers of three digits or more,
    and floats to three decimals."""
    if isinstance(answer, list):
        return [n for a in answer for n in _shown_numbers(a)]
    if isinstance(answer, int) and abs(answer) >= 100:
        return [str(answer), f"{answer:,}"]
    if isinstance(answer, float) and answer not in (0.0, 1.0):
        return [f"{answer:.3f}", f"{answer:.2e}"]
    return []


def test_every_answer_is_in_the_instructor_edition_and_in_no_student_file(lecture_out):
    report = json.loads((lecture_out / "report.json").read_text())["topics"]
    instructor = visible(lecture_out / "instructor" / "handout-instructor.html", "handout-instructor.html")
    texts = student_texts(lecture_out.parent)
    for topic, exercise in EXERCISES:
        answer = report[topic]["answers"][exercise.solution]
        numbers = _shown_numbers(answer)
        if not numbers or (isinstance(answer, list) and len(answer) > 10):  # the spike's field: its values
            continue  # are c and 1 - c, from the prompt's own numbers; checked by digest
        assert any(n in instructor for n in numbers), (topic, exercise.title, numbers)
        for name, text in texts.items():
            assert not any(n in text for n in numbers[:1] + numbers[2:3]), (topic, name, numbers)


def test_the_student_handout_is_a_lab_sheet_without_build_checks(lecture_out):
    text = " ".join(visible(lecture_out / "handout.html", "handout.html").split())
    assert "Learning objectives" in text and "Time plan" in text
    assert re.search(r"Total ?(\d+) minutes", text).group(1) == "60"  # the lab's hour in the schedule
    assert "claim checked at build time" not in text and "Provenance" not in text
    assert "test_accuracy" not in text and "test accuracy" in text
    html = (lecture_out / "handout.html").read_text()
    assert all(f'href="notebooks/{name}.ipynb"' in html for name in SOURCES)
    assert "claim checked at build time" in visible(lecture_out / "instructor" / "handout-instructor.html", "x.html")


# Parameter counts must match exactly; metrics within this tolerance (the notebook runs the same
# seeded loop on one thread, so in practice they agree to the last digit).
METRIC_TOLERANCE = 1e-6


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_solution_notebook_runs_and_reproduces_the_build(lecture_out, name, tmp_path):
    folder = tmp_path / "notebooks"  # a solution runs beside the nnarch_lab.py copied beside it
    shutil.copytree(lecture_out / "instructor" / "notebooks", folder)
    notebook = nbformat.read(folder / f"{name}-solution.ipynb", as_version=4)
    report = json.loads((lecture_out / "report.json").read_text())["topics"][name]
    # an answer of two different parts, given the other way round, is rejected (its check cell again)
    pairs = [
        cell.source
        for cell, exercise in zip(
            [c for c in notebook.cells if "check" in c.metadata.get("tags", [])], SOURCES[name].doc.exercises
        )
        if _is_pair(report["answers"][exercise.solution])
    ]
    for source in pairs:
        swapped = re.sub(r"^answer = (.+)$", r"answer = list(\1)[::-1]", source, count=1, flags=re.M)
        guarded = "try:\n" + textwrap.indent(swapped, "    ")
        guarded += "\nexcept AssertionError as error:\n    print('rejected:', error)"
        notebook.cells.append(nbformat.v4.new_code_cell(guarded))
        # the right pair as one-element tensors, as torch computes them, is as right
        tensors = re.sub(r"^answer = (.+)$", r"answer = [torch.tensor(v) for v in \1]", source, count=1, flags=re.M)
        notebook.cells.append(nbformat.v4.new_code_cell(tensors))
    notebook.cells.append(nbformat.v4.new_code_cell("import json\nprint(json.dumps(results))"))  # every digit
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    results = next(c for c in notebook.cells if "results" in c.metadata.get("tags", []))
    shown = {line.split(": ")[0]: line.split(": ")[1] for line in results.outputs[0]["text"].splitlines()}
    measured = json.loads(notebook.cells[-1].outputs[0]["text"])
    assert measured["params"] == report["params"]["total"]
    for metric, value in report["metrics"].items():
        assert measured["metrics"][metric] == pytest.approx(value, rel=METRIC_TOLERANCE, abs=METRIC_TOLERANCE)
        assert shown[metric] == format_value(value)  # printed as the slides write it
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert printed.count("correct") == len(SOURCES[name].doc.exercises) + len(pairs)  # every check passed
    assert printed.count("rejected:") == len(pairs), printed  # and every swapped pair failed


def _is_pair(answer) -> bool:
    return isinstance(answer, list) and len(answer) == 2 and answer[0] != answer[1]


def test_notebooks_carry_the_build_s_own_training_loop_and_types(lecture_out):
    """The loop a student runs is the module the build runs (runtime.py), and the types are
    topic.py's: copied from their source into nnarch_lab.py beside the notebooks, never a second
    copy that could drift; the notebooks import it and start with the topic's own code."""
    from nnarch.source.outline import read

    runtime, types = read(NNARCH / "runtime.py"), read(NNARCH / "topic.py")
    lab = (lecture_out / "notebooks" / "nnarch_lab.py").read_text()
    for function in ("make_optimizer", "supervised_step", "train_epoch", "evaluate", "fit"):
        assert runtime.listing(function) in lab, function
    assert types.listing("Splits") in lab and types.listing("Run") in lab
    for name, source in SOURCES.items():
        notebook = nbformat.read(lecture_out / "notebooks" / f"{name}.ipynb", as_version=4)
        code = [c.source for c in notebook.cells if c.cell_type == "code" and c.metadata.get("tags") != ["setup"]]
        assert "from nnarch_lab import" in code[0] and "def train_epoch" not in "".join(code)
        assert source.outline.listing(next(iter(source.outline.definitions))) in code[1]  # the topic's code


def test_handouts_carry_provenance_and_results(lecture_out):
    assert "Provenance" in pdf_text(lecture_out / "instructor" / "handout-instructor.pdf")
    for edition in ("handout.pdf", "instructor/handout-instructor.pdf"):
        text = pdf_text(lecture_out / edition)
        assert f"torch {package_version('torch')}" in text
        assert re.search(r"commit [0-9a-f]{7,}|commit unknown", text)
        report = json.loads((lecture_out / "report.json").read_text())["topics"]
        assert f"{report['cnn']['params']['total']:,}" in text
        for name in SOURCES:
            assert f"notebooks/{name}.ipynb" in text
    assert "instructor edition" in pdf_text(lecture_out / "instructor" / "handout-instructor.pdf")
    assert "instructor edition" not in pdf_text(lecture_out / "handout.pdf")


def test_course_page_opens_and_every_link_resolves(lecture_out):
    index = lecture_out.parent / "index.html"
    with page() as (tab, requests):
        tab.goto(index.as_uri())
        links = tab.eval_on_selector_all("a", "els => els.map(e => [e.closest('td').textContent, e.href])")
        days = tab.eval_on_selector_all("thead th", "els => els.map(e => e.textContent)")
    assert days == ["Time", "Day 1", "Day 2", "Day 3", "Day 4", "Day 5"]
    assert len(links) == 2 + 1 + 2 + 1 + 4 + 1  # slides; the zip, handouts, nnarch_lab.py, notebooks, requirements
    assert links[2][1].endswith("nn-architectures-student.zip")  # the lab's first link: install from it
    assert any(h.endswith("/notebooks/nnarch_lab.py") for _, h in links)  # every notebook imports it
    for _cell, href in links:
        assert href.startswith("file://") and Path(href[len("file://") :]).is_file(), href
    assert all("Neural Network Architectures" in c for c, h in links if "slides" in h)
    lab = discover(LECTURES).lectures[0].lecture.lab
    assert all(lab in c for c, h in links if "slides" not in h)
    assert not [r for r in requests if not r.startswith(("file:", "data:"))]


def test_student_zip_holds_the_student_files_only(lecture_out):
    with zipfile.ZipFile(lecture_out.parent / "nn-architectures-student.zip") as archive:
        names = archive.namelist()
    assert sorted(names) == sorted(
        [
            "nn-architectures/README.md",
            "nn-architectures/requirements.txt",
            "nn-architectures/environment.yml",
            "nn-architectures/notebooks/nnarch_lab.py",
            "nn-architectures/slides.pdf",
            "nn-architectures/slides.html",
            "nn-architectures/handout.pdf",
            "nn-architectures/handout.html",
        ]
        + [f"nn-architectures/notebooks/{n}.ipynb" for n in SOURCES]
    )
    order = discover(LECTURES).lectures[0].lecture.topics  # as the handout and the course page list them
    assert [n for n in names if n.endswith(".ipynb")] == [f"nn-architectures/notebooks/{t}.ipynb" for t in order]


def test_a_time_plan_that_misses_the_lab_session_is_a_check_error(tmp_path):
    import shutil

    lectures = tmp_path / "lectures"
    shutil.copytree(LECTURES, lectures, ignore=shutil.ignore_patterns("__pycache__"))
    slides = lectures / "nn_architectures" / "ffnn.md"
    slides.write_text(slides.read_text().replace("```{minutes} 12", "```{minutes} 20"))
    errors = [str(e) for lec in discover(lectures).lectures for e in lec.errors]
    assert any("the lab plan adds up to 68 minutes" in e and "is 60 minutes in the schedule" in e for e in errors), (
        errors
    )


def test_the_solutions_are_linked_from_the_instructor_page_only(lecture_out):
    """What is not for students is in the lecture's instructor/ folder, opened by its index.html;
    the rest of the build links nothing in it."""
    folder = lecture_out / "instructor"
    page = (folder / "index.html").read_text()
    for name in SOURCES:
        assert f'href="notebooks/{name}-solution.ipynb"' in page
    assert 'href="handout-instructor.pdf"' in page and "nnarch grade SUBMISSIONS" in page
    links = re.findall(r'href="([^"#]+)"', page)  # each a file of the build, the student zip too
    assert f"../../{lecture_out.name}-student.zip" in links
    assert [link for link in links if not (folder / link).is_file()] == []
    outside = [
        p for p in lecture_out.rglob("*") if p.is_file() and "instructor" not in p.relative_to(lecture_out).parts
    ]
    assert not [p.name for p in outside if "solution" in p.name or "instructor" in p.name or "presenter" in p.name]
    assert not [p for p in outside if p.suffix == ".html" and "instructor/" in p.read_text()]
    course = (lecture_out.parent / "index.html").read_text()
    assert "solution" not in course and "instructor" not in course
    with zipfile.ZipFile(lecture_out.parent / f"{lecture_out.name}-student.zip") as archive:
        assert not [n for n in archive.namelist() if "solution" in n or "instructor" in n]


def test_an_exercise_tolerance_is_a_share_or_a_factor(tmp_path):
    """':tolerance:' says how far a student's answer from training may be from the build's: a share
    or a factor above 1; anything else is a problem at its line, with an example."""
    from nnarch.source.markdown import parse

    def parsed(tolerance: str):
        text = f"# T\n\n## Frame\n\nText.\n\n# Lab\n\n## Retrain\n\n```{{exercise}} solve\n:tolerance: {tolerance}\n```"
        doc = parse(text, tmp_path / "t.md")
        return [e.tolerance for e in doc.exercises], [(line, p) for line, p in doc.problems]

    assert parsed("5%") == (["5%"], []) and parsed("3x") == (["3x"], [])
    for bad in ("5", "0.5x", "150%", "yes"):
        (line, problem), *_ = parsed(bad)[1]
        assert line == 11 and f"':tolerance: {bad}': write a share, e.g. 5%" in problem, bad


def test_an_answer_form_reads_as_english():
    """What a student hears when the form is wrong: a tensor of shape (1, 40) is a list of one item."""
    from nnarch.documents.answers import answer_form

    assert answer_form([[0.5] * 40]) == "a list of one item (a list of 40 numbers)"
    assert answer_form((0.2, 0.8)) == "a pair of (a number, a number)"
    assert answer_form([1.0, 2, "x"]) == "3 values of (a number, a number, a text)"
