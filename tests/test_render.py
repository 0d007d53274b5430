"""Escaping and inline Markdown for both targets, and values filled in from the run."""

from __future__ import annotations

import re

import pytest

from nnarch.documents.render import Context, Html, Tex
from nnarch.errors import TopicError
from nnarch.escape import UnmappableCharacter, tex_escape
from nnarch.source.markdown import inline
from nnarch.source.values import fill, format_value

RESULTS = {"params": {"total": 208132}, "metrics": {"acc": 0.9251}}
CTX = Context(None, RESULTS)


def test_tex_escape_neutralises_every_special_character():
    assert tex_escape(r"% & _ # $ { } ~ ^ \ ") == (
        r"\% \& \_ \# \$ \{ \} \textasciitilde{} "
        r"\textasciicircum{} \textbackslash{} "
    )


def test_tex_escape_maps_non_ascii_to_commands():
    assert tex_escape("ü → α") == r"\"u \textrightarrow{} \ensuremath{\alpha}"
    assert tex_escape("CO₂ m² β₁") == r"CO\ensuremath{_{2}} m\ensuremath{^{2}} \ensuremath{\beta}\ensuremath{_{1}}"
    assert tex_escape("a – b", code=True) == r"a \textendash{} b"  # not "--" in a listing


def test_a_character_without_a_latex_form_is_an_error_not_a_question_mark():
    with pytest.raises(UnmappableCharacter, match=r"'漢' \(U\+6F22 CJK UNIFIED IDEOGRAPH-6F22\) has no form"):
        tex_escape("漢")


def test_inline_markdown_renders_for_each_target():
    spans = inline("*fast* **bold** `x_1` and $a_1$ <b>&")
    assert Tex().inline(spans, CTX) == (
        r"\nnemph{fast} \textbf{bold} \texttt{x\_1} and $a_1$ "
        r"\textless{}b\textgreater{}\&"
    )
    html = Html().inline(spans, CTX)
    assert "<em>fast</em>" in html and "<strong>bold</strong>" in html and "<code>x_1</code>" in html
    assert "<math" in html and "&lt;b&gt;&amp;" in html and "<b>" not in html


def test_math_may_open_a_paragraph_that_ends_in_a_digit():
    assert inline("$N^2$ entries, mostly 0")[0] == ("math", "N^2")


def test_dollar_amounts_and_escapes_stay_text():
    assert Tex().inline(inline(r"costs $5 and $10, \$x\$ and \*not emphasis\*"), CTX) == (
        r"costs \$5 and \$10, \$x\$ and *not emphasis*"
    )


def test_values_are_filled_and_formatted():
    assert fill("{{params.total}} params, acc {{metrics.acc:.1%}}", RESULTS) == "208,132 params, acc 92.5%"
    assert fill("$N={{params.total}}$", RESULTS, math=True) == "$N=208{,}132$"
    assert format_value(1.23456e-5) == "1.23e-05"
    assert format_value(0.009999999776482582) == "0.01"  # a float32 0.01 is no loss to write as 1.00e-02


def test_unknown_value_names_the_file_and_line(tmp_path):
    from nnarch.source.markdown import parse

    doc = parse("# T\n\n## Frame\n\nSee {{metrics.auc}}.\n", tmp_path / "topic.md")
    with pytest.raises(
        TopicError, match=r"topic.md:5: value 'metrics.auc' does not exist in the run \(metrics holds acc"
    ):
        Html().inline(doc.frames[0].blocks[0].spans, Context(doc, RESULTS), 5)
    # what is there, where the path goes wrong: a list's items, a number that is no table
    results = {**RESULTS, "params": {"total": 208132, "layers": [{"count": 96}, {"count": 2592}]}}
    for path, what in (("params.layers.9.count", "params.layers has 2 items, 0 to 1"), ("params.total.x", "a value")):
        doc = parse(f"# T\n\n## Frame\n\nSee {{{{{path}}}}}.\n", tmp_path / "topic.md")
        with pytest.raises(TopicError, match=re.escape(f"value '{path}' does not exist in the run (") + ".*" + what):
            Html().inline(doc.frames[0].blocks[0].spans, Context(doc, results), 5)


def test_one_number_format_per_kind_everywhere():
    from nnarch.source.values import format_value

    assert format_value(1944) == "1,944" and format_value(1944, math=True) == "1{,}944"
    assert format_value(0.98213) == "0.982" and format_value(3.0) == "3"
    # a loss is always scientific below 0.01, so that a column of them reads alike
    assert [format_value(v) for v in (1.276e-5, 7.66e-4, 0.0112)] == ["1.28e-05", "7.66e-04", "0.0112"]
    assert format_value(1.276e-5, math=True) == "1.28 \\times 10^{-5}"


def test_a_short_table_is_set_as_large_as_its_room_allows(tmp_path):
    from nnarch.documents.render import block_view
    from nnarch.source.markdown import parse

    def table(rows: str):
        doc = parse(f"# T\n\n## Frame\n\n| layer | input |\n|---|---|\n{rows}", tmp_path / "t.md")
        return doc.frames[0].blocks[0], Context(doc, RESULTS)

    short = table("| conv1 | (B, 1, 50) |\n")
    assert block_view(*short, Tex(), width=191.0)["size"] == "\\small"  # a column has room for 10 pt
    assert block_view(*short, Tex(), width=80.0)["size"] == "\\scriptsize"  # a narrow one for 8 pt only
    assert block_view(*table("| 1 | 2 |\n" * 7), Tex())["size"] == "\\scriptsize"  # a long table


def test_a_format_that_fits_no_value_is_found_before_the_build_and_one_that_misfits_names_its_line(tmp_path):
    from nnarch.source.markdown import parse

    doc = parse("# T\n\n## Frame\n\n{{params.total:.2q}} and {{metrics.acc:spread:.2q}}\n", tmp_path / "t.md")
    assert [line for line, _ in doc.problems] == [5, 5]
    assert any("value 'params.total': format '.2q' is not a Python format spec (e.g. ','" in p for _, p in doc.problems)
    doc = parse("# T\n\n## Frame\n\nAccuracy {{metrics.acc:d}}, {{metrics.acc:spread}}.\n", tmp_path / "t.md")
    assert doc.problems == ()  # 'd' is a format for a count: only the run says the value is not one
    with pytest.raises(TopicError, match=r"t.md:5: format 'd' does not apply to 0.9251 \(a float\); e.g."):
        Html().inline(doc.frames[0].blocks[0].spans, Context(doc, RESULTS), 5)


def test_the_schedule_gives_the_lecture_and_its_lab_each_its_own_hour():
    """The schedule frame shows the lecture sessions only; the lecture's cell gives its lab's own
    hour, so that the two do not read as one hour."""
    from types import SimpleNamespace

    from lectures.course import COURSE
    from lectures.nn_architectures import LECTURE
    from nnarch.documents.tables import table_rows
    from nnarch.source.blocks import Generated

    _, rows = table_rows(Generated("schedule", 1), SimpleNamespace(course=COURSE, lecture=LECTURE, results={}))
    text = lambda spans: str(Html().inline(spans, Context(None, {})))  # noqa: E731
    cells = {text(row[0]): [text(cell) for cell in row[1:]] for row in rows}
    today = cells[LECTURE.session][LECTURE.day - 1]
    assert "Neural Network Architectures" in today and "then its lab, 10:00–11:00" in today
    assert "10:00–11:00" not in cells  # the labs' rows are left out: the lab is named in the lecture's cell


def test_a_lead_in_and_its_formula_are_one_paragraph_in_latex(tmp_path):
    """LaTeX sets a display that opens a paragraph below an empty line: a lead-in shown with its
    formula keeps the formula in its paragraph; one whose formula comes at a later step does not."""
    from jinja2 import ChoiceLoader, DictLoader

    from nnarch.documents.render import Steps, blocks_view, tex_environment
    from nnarch.source.markdown import parse

    text = "# T\n\n## Frame\n\nTerm by term:\n\n$$\nN = 1\n$$\n\nLater:\n\n. . .\n\n$$\nM = 2\n$$\n"
    doc = parse(text, tmp_path / "t.md")
    views = blocks_view(doc.frames[0].blocks, Context(doc, RESULTS), Tex(), steps=Steps())
    base = tex_environment()  # shared: a template of the test's own is added in an overlay
    each = '((* from "blocks.tex.j2" import block *))((* for b in views *))((( block(b, "x")|safe )))((* endfor *))'
    env = base.overlay(loader=ChoiceLoader([DictLoader({"t": each}), base.loader]))
    tex = env.get_template("t").render(views=views)
    assert "Term by term:\n\\[ N = 1 \\]" in tex  # no \par, no blank line between
    assert "Later:\\par\\medskip" in tex and "M = 2" in tex
