"""Escaping and inline markup for both targets, and values filled in from the run."""

from __future__ import annotations

import pytest

from nnarch.errors import TopicError
from nnarch.render import Context, Html, Tex, fill, format_value, tex_escape

CTX = Context("topic.py", {"params": {"total": 208132}, "metrics": {"acc": 0.9251}}, {})


def test_tex_escape_neutralises_every_special_character():
    assert tex_escape(r"% & _ # $ { } ~ ^ \ ") == (r"\% \& \_ \# \$ \{ \} \textasciitilde{} "
                                                    r"\textasciicircum{} \textbackslash{} ")


def test_tex_escape_maps_non_ascii_to_commands():
    assert tex_escape("ü → α") == r'\"{u} \ensuremath{\rightarrow} \ensuremath{\alpha}'


def test_inline_markup_renders_for_each_target():
    text = "*fast* `x_1` and $a_1$ <b>&"
    assert Tex().inline(text, CTX) == r"\alert{fast} \texttt{x\_1} and $a_1$ \textless{}b\textgreater{}\&"
    html = Html().inline(text, CTX)
    assert "<em>fast</em>" in html and "<code>x_1</code>" in html and "<math" in html
    assert "&lt;b&gt;&amp;" in html and "<b>" not in html


def test_values_are_filled_and_formatted():
    assert fill("{{params.total}} params, acc {{metrics.acc:.1%}}", CTX) == "208,132 params, acc 92.5%"
    assert fill("$N={{params.total}}$", CTX, math=True) == "$N=208{,}132$"
    assert format_value(1.23456e-5) == "1.23e-05"


def test_unknown_value_names_the_file_and_path():
    with pytest.raises(TopicError, match=r"topic.py: frames: value 'metrics.auc' does not exist"):
        fill("{{metrics.auc}}", CTX)
