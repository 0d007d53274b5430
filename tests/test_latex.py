"""Compiling: a preamble precompiled once into a format, pass after pass to latexmk's fixpoint."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nnarch.documents.latex import PREAMBLE_END, Compiler, preamble
from nnarch.documents.render import render_preamble
from nnarch.errors import LatexError

pytestmark = pytest.mark.slow  # see tests/conftest.py

HEAD = "\\documentclass{article}\n\\usepackage{lmodern}\n"
BODY = (
    "\\begin{document}\n\\pagestyle{empty}\nThe end is on page \\pageref{end}.\n\\newpage\nThe end.\\label{end}\n"
    "\\end{document}\n"
)


def document(folder: Path, name: str, head: str = HEAD, body: str = BODY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.tex"
    path.write_text(f"{head}{PREAMBLE_END}\n{body}")
    return path


def pages(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    return [" ".join(page.split()) for page in text.split("\f") if page.strip()]


def formats(folder: Path, name: str) -> list[Path]:
    return sorted((folder / "format" / name).glob("*.fmt"))


def test_a_first_compile_resolves_its_cross_references(tmp_path):
    pdf = Compiler().compile(document(tmp_path, "notes"), {})
    assert pages(pdf) == ["The end is on page 2.", "The end."]
    assert len(formats(tmp_path, "notes")) == 1


def test_documents_with_one_preamble_share_its_format(tmp_path):
    for name in ("student", "teacher"):
        assert pages(Compiler().compile(document(tmp_path, name), {}, preamble="lab"))[0] == "The end is on page 2."
    assert len(formats(tmp_path, "lab")) == 1 and not (tmp_path / "format" / "student").exists()


def test_a_prepared_format_is_the_one_the_compile_uses(tmp_path):
    Compiler().prepare_format(tmp_path, "notes", HEAD).join()
    [made] = formats(tmp_path, "notes")
    before = made.stat().st_mtime_ns
    Compiler().compile(document(tmp_path, "notes"), {})
    assert formats(tmp_path, "notes") == [made] and made.stat().st_mtime_ns == before


def test_a_changed_preamble_makes_a_new_format(tmp_path):
    Compiler().compile(document(tmp_path, "notes"), {})
    [old] = formats(tmp_path, "notes")
    pdf = Compiler().compile(document(tmp_path, "notes", HEAD + "\\renewcommand{\\familydefault}{\\sfdefault}\n"), {})
    [new] = formats(tmp_path, "notes")
    assert new != old and pages(pdf)[0] == "The end is on page 2."


def test_an_error_in_the_body_names_the_line_of_the_document(tmp_path):
    tex = document(tmp_path, "notes", body="\\begin{document}\nfine\n\\undefinedmacro\n\\end{document}\n")
    with pytest.raises(LatexError) as failed:
        Compiler().compile(tex, {})
    assert str(failed.value).startswith(f"{tex}:6: LaTeX failed")  # \\undefinedmacro's line
    assert "Undefined control sequence" in str(failed.value) and "at notes.tex line 6" in str(failed.value)


@pytest.mark.parametrize(
    "template, document_name",
    [("slides", "slides.tex"), ("handout", "handout.tex"), ("handout", "handout-instructor.tex")],
)
def test_each_template_preamble_is_what_its_documents_start_with(lecture_out, template, document_name):
    """What a first build precompiles before its topics run is the preamble of what it compiles."""
    built = lecture_out.parent / ".work" / "nn_architectures" / document_name
    assert render_preamble(template) == preamble(built.read_text())
    assert len(formats(built.parent, template)) == 1


def deck(folder: Path, frames: int, starts: tuple[int, int]) -> Path:
    """A deck on the real slides preamble that gives `frames` and its sections' first pages up front."""
    body = (
        f"\\begin{{document}}\n\\nnguess{{{frames}}}{{\\nnsection{{1}}{{One}}{{{starts[0]}}}"
        f"\\nnsection{{2}}{{Two}}{{{starts[1]}}}}}\n"
        "\\begin{frame}{Outline}\\tableofcontents\\end{frame}\n"
        "\\section{One}\n\\begin{frame}{First}a\\end{frame}\n"
        "\\section{Two}\n\\begin{frame}{Second}b\\end{frame}\n\\end{document}\n"
    )
    return document(folder, "slides", render_preamble("slides"), body)


@pytest.mark.parametrize("frames, starts, one_pass", [(5, (2, 4), True), (9, (2, 4), False), (5, (3, 4), False)])
def test_a_deck_is_right_whether_its_guesses_were_or_not(tmp_path, frames, starts, one_pass):
    """Right guesses: one pass is final. A wrong one is noticed, and the second pass puts it right."""
    pdf = Compiler().compile(deck(tmp_path, frames, starts), {})
    text = pages(pdf)
    assert [page.split()[-1] for page in text] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    assert text[0].startswith("Outline One Two")
    assert text[1].startswith("One One Two") and text[3].startswith("Two One Two")  # the dividers
    assert ("nnarch: one pass is enough" in (tmp_path / "slides.log").read_text()) == one_pass
