"""Dialect: the Markdown nnarch reads is CommonMark, parsed by markdown-it-py, with dollar math,
fenced containers (columns, hints, answers), attributes (a figure's alt text) and tables from
mdit-py-plugins."""

from __future__ import annotations

from markdown_it import MarkdownIt
from mdit_py_plugins.attrs import attrs_plugin
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.dollarmath.index import math_inline_dollar


def parser() -> MarkdownIt:
    """markdown-it with the plugins of the dialect: dollar math, fenced containers, attributes, tables."""
    md = MarkdownIt("commonmark", {"html": False})  # raw HTML stays text: never trusted
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=False)
    inline_math = math_inline_dollar(allow_space=False, allow_digits=False, allow_double=False)
    md.inline.ruler.at("math_inline", _first_character_fix(inline_math))
    md.use(container_plugin, "block", validate=lambda params, *_: bool(params.strip()))
    md.use(attrs_plugin)
    return md.enable("table")


def _first_character_fix(rule):
    """dollarmath looks at src[pos - 1] for a digit or backslash before an opening $, which at the
    start of a paragraph wraps round to its last character: "$N^2$ entries, 0" was no math. Make
    that look-behind see a space."""

    def guarded(state, silent):
        if state.pos != 0 or not state.src or state.src[-1] not in "0123456789\\":
            return rule(state, silent)
        src = state.src
        state.src = src + " "
        try:
            return rule(state, silent)
        finally:
            state.src = src

    return guarded
