"""Render: turn parsed Markdown frames into Beamer LaTeX and self-contained HTML with Jinja2.

All text from the lectures passes through one escaper per target: `tex_escape` or HTML escaping.
Display and inline math are LaTeX by declaration; in HTML they become MathML (latex2mathml), so the
page needs no network and no script to show them. Nothing here imports torch: a text-only edit
renders from the topics' records.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup, escape

from nnarch import TEMPLATES
from nnarch.documents.mathml import html_primes, to_mathml
from nnarch.documents.tables import table_rows
from nnarch.errors import TopicError, did_you_mean, rel
from nnarch.escape import UnmappableCharacter, tex_escape
from nnarch.layout import TEXT_WIDTH, code_size, column_widths, listing_problem, table_size
from nnarch.source import markdown as md
from nnarch.source.validate import shape_comment_problems
from nnarch.source.values import BadFormat, MissingValue, fill


@dataclass(frozen=True)
class Context:
    """What a frame's text may refer to: its file, the run's results, drawn figures, listings."""

    doc: md.Doc | None
    results: dict[str, Any]
    figures: dict[str, Any] | None = None
    course: Any = None
    outline: Any = None  # outline.Outline of the topic module, for listings
    lecture: Any = None  # topic.Lecture, for the schedule

    def where(self, line: int) -> str:
        return self.doc.where(line) if self.doc else f"line {line}"

    def fill(self, text: str, line: int, math: bool = False) -> str:
        try:
            return fill(text, self.results, math)
        except MissingValue as missing:
            raise TopicError(
                f"{self.where(line)}: value '{missing.args[0]}' does not exist in the run "
                f"({missing.args[1]}); see report.json for the paths there are"
            ) from None
        except BadFormat as bad:
            raise TopicError(f"{self.where(line)}: {bad}") from None


class Target:
    """One output format: how inline spans and blocks become markup of that format."""

    name = ""

    def inline(self, spans, ctx: Context, line: int = 1) -> Markup:
        try:
            return self._inline(spans, ctx, line)
        except UnmappableCharacter as error:
            raise TopicError(f"{ctx.where(line)}: {error}") from None

    # What each target writes for a span or block of its kind.
    def text(self, s: str) -> str:
        raise NotImplementedError

    def code(self, s: str) -> str:
        raise NotImplementedError

    def math(self, s: str) -> str:
        raise NotImplementedError

    def emph(self, s: str) -> str:
        raise NotImplementedError

    def strong(self, s: str) -> str:
        raise NotImplementedError

    def link(self, href: str, s: str) -> str:
        raise NotImplementedError

    def linebreak(self) -> str:
        raise NotImplementedError

    def display(self, latex: str) -> str:
        raise NotImplementedError

    def listing(self, source: str) -> str:
        raise NotImplementedError

    def _inline(self, spans, ctx: Context, line: int) -> Markup:
        parts = []
        for span in spans:
            kind = span[0]
            if kind == "text":
                parts.append(self.text(ctx.fill(span[1], line)))
            elif kind == "code":
                parts.append(self.code(ctx.fill(span[1], line)))
            elif kind == "math":
                parts.append(self.math(ctx.fill(span[1], line, math=True)))
            elif kind == "em":
                parts.append(self.emph(self._inline(span[1], ctx, line)))
            elif kind == "strong":
                parts.append(self.strong(self._inline(span[1], ctx, line)))
            elif kind == "link":
                parts.append(self.link(span[1], self._inline(span[2], ctx, line)))
            elif kind == "break":
                parts.append(self.linebreak())
        return Markup("".join(parts))


class Tex(Target):
    name = "tex"

    def text(self, s):
        return tex_escape(s)

    def math(self, s):
        return f"${s}$"

    def code(self, s):
        return r"\texttt{" + tex_escape(s, typewriter=True) + "}"

    def emph(self, s):
        return r"\nnemph{" + s + "}"

    def strong(self, s):
        return r"\textbf{" + s + "}"

    def link(self, href, s):
        url = tex_escape(href, code=True).replace("%", r"\%").replace("#", r"\#")  # \url's own escapes
        return s + r"\footnote{\url{" + url + "}}"

    def linebreak(self):
        return r"\newline{}"  # in a table's cell too, where \\ would end the row

    def display(self, latex):
        body = rf"\begin{{aligned}}{latex}\end{{aligned}}" if r"\\" in latex else latex
        return Markup(rf"\[ {body} \]")

    def listing(self, source):
        return Markup(tex_escape(source, code=True))


class Html(Target):
    name = "html"

    def text(self, s):
        return str(escape(html_primes(s)))

    def math(self, s):
        return to_mathml(s, "inline")

    def code(self, s):
        return f"<code>{escape(s)}</code>"

    def emph(self, s):
        return f"<em>{s}</em>"

    def strong(self, s):
        return f"<strong>{s}</strong>"

    def link(self, href, s):
        return f'<a href="{escape(href)}">{s}</a>'

    def linebreak(self):
        return "<br>"

    def display(self, latex):
        body = rf"\begin{{split}}{latex}\end{{split}}" if r"\\" in latex else latex
        return Markup(to_mathml(body, "block"))

    def listing(self, source):
        return Markup(escape(source))  # plain, as in the PDF: one code style in both decks


class Steps:
    """Where a slide is in its steps while its blocks are rendered: each view carries the step it
    appears at (1: with the slide). A '. . .' and a ::: fragment start the next step; each item of
    an incremental list after its first takes one more."""

    def __init__(self) -> None:
        self.at = 1


def blocks_view(
    blocks, ctx: Context, target: Target, width: float = TEXT_WIDTH, steps: Steps | None = None
) -> list[dict]:
    """Blocks as dicts of finished markup for one target, set in `width` points; templates only
    arrange these. Without `steps` (handouts, notes) every block shows at once."""
    views = []
    for b in blocks:
        if isinstance(b, (md.Pause, md.Fragment)) and steps:
            steps.at += 1
        if isinstance(b, md.Fragment):
            views += blocks_view(b.blocks, ctx, target, width, steps)
        elif not isinstance(b, md.Pause):
            at = steps.at if steps else 1
            views.append({**block_view(b, ctx, target, width, steps), "step": at})
    for view, following in zip(views, views[1:] + [None]):
        view["tight"] = following is not None and following["kind"] == "list"  # a lead-in sits on its list
        # a lead-in to a formula shown with it: the display continues its paragraph, as in LaTeX's own
        # style (a display that opens a paragraph sits below an empty line)
        view["into_math"] = following is not None and following["kind"] == "math" and following["step"] == view["step"]
    return views


def block_view(block, ctx: Context, target: Target, width: float = TEXT_WIDTH, steps: Steps | None = None) -> dict:
    inline = lambda spans: target.inline(spans, ctx, block.line)  # noqa: E731
    if isinstance(block, md.Para):
        return {"kind": "text", "text": inline(block.spans)}
    if isinstance(block, md.Heading):
        return {"kind": "heading", "text": inline(block.spans)}
    if isinstance(block, md.ListBlock):
        items = []
        for n, item in enumerate(block.items):
            if steps and block.incremental and n:
                steps.at += 1
            first = item[0] if item and isinstance(item[0], md.Para) else None
            rest = item[1:] if first else item
            items.append(
                {
                    "text": inline(first.spans) if first else Markup(""),
                    "sub": blocks_view(rest, ctx, target, width - 14, steps),
                    "step": steps.at if steps else 1,
                }
            )
        return {"kind": "list", "ordered": block.ordered, "items": items}
    if isinstance(block, md.MathBlock):
        return {"kind": "math", "math": target.display(ctx.fill(block.latex, block.line, math=True))}
    if isinstance(block, md.Figure):
        return _figure_view(block, ctx, target)
    if isinstance(block, (md.Listing, md.Code)):
        source = ctx.outline.listing(block.name, block.lines) if isinstance(block, md.Listing) else block.source
        if isinstance(block, md.Listing) and "shapes" in ctx.results:  # its "# (B, 16, 50)" comments
            wrong = shape_comment_problems(ctx.outline, block.name, ctx.results["shapes"])
            if wrong:
                raise TopicError(f"{rel(ctx.outline.path)}:{wrong[0][0]}: listing '{block.name}': {wrong[0][1]}")
        caption = getattr(block, "caption", None)
        longest = max((len(line) for line in source.splitlines()), default=0)
        size = code_size(longest, width, len(source.splitlines()))
        if size is None:
            problem = listing_problem(getattr(block, "name", "code"), source, width, width < TEXT_WIDTH - 20)
            raise TopicError(f"{ctx.where(block.line)}: {problem}")
        try:
            code = target.listing(source)
        except UnmappableCharacter as error:
            raise TopicError(f"{ctx.where(block.line)}: listing: {error}") from None
        return {
            "kind": "listing",
            "code": code,
            "size": Markup(size[0]),
            "points": size[1],
            "caption": inline(caption) if caption else None,
        }
    if isinstance(block, md.Columns):
        shares = column_widths(list(block.widths) or [None] * len(block.columns))
        return {
            "kind": "columns",
            "columns": [
                {"width": share, "blocks": blocks_view(column, ctx, target, share * TEXT_WIDTH, steps)}
                for share, column in zip(shares, block.columns)
            ],
        }
    header, rows = table_rows(block, ctx)
    # Columns of long prose wrap (tabularx X columns share the width left over); short ones stay
    # as wide as their text. A table is never scaled.
    widest = [max(len(md.plain(row[i])) for row in [header, *rows]) for i in range(len(header))]
    wraps = [n > 16 for n in widest]
    # a strut ends each wrapped cell: its last line's descenders keep their distance from the rule
    spec = "".join(">{\\raggedright\\arraybackslash}X<{\\strut}" if w else "l" for w in wraps)
    return {
        "kind": "table",
        "header": [inline(h) for h in header],
        "wide": any(wraps),
        "spec": spec,
        "size": Markup(table_size(widest, len(rows), any(wraps), width)),
        "rows": [[inline(c) for c in row] for row in rows],
    }


def _figure_view(block: md.Figure, ctx: Context, target: Target) -> dict:
    drawn = ctx.figures or {}
    if block.name not in drawn:  # the module's figures could not be read without importing it (Topic(**common))
        raise TopicError(
            f"{ctx.where(block.line)}: figure '{block.name}': no such figure{did_you_mean(block.name, drawn)}; "
            f"declare it in the topic's figures"
        )
    files = drawn[block.name]
    view = {"kind": "figure", "caption": target.inline(block.caption, ctx, block.line), "size": files.size}
    if target.name == "tex":
        view["path"] = f"figures/{files.pdf.name}"
    else:
        data = base64.b64encode(files.svg.read_bytes()).decode("ascii")
        view["src"] = f"data:image/svg+xml;base64,{data}"
        view["alt"] = ctx.fill(block.alt, block.line)
    return view


def frame_view(frame: md.Frame, ctx: Context, target: Target) -> dict:
    """A frame as finished markup, in `steps` steps, with its speaker notes; `fragile` marks Beamer
    frames holding verbatim code."""
    steps = Steps()
    blocks = blocks_view(frame.blocks, ctx, target, steps=steps)
    return {
        "title": target.inline(frame.title, ctx, frame.line),
        "plain_title": frame.plain_title,
        "blocks": blocks,
        "steps": steps.at,
        "notes": blocks_view(frame.notes, ctx, target),
        "minutes": frame.minutes,
        "fragile": any(_has_listing(b) for b in blocks),
    }


def _has_listing(view) -> bool:
    if view["kind"] == "columns":
        return any(_has_listing(v) for column in view["columns"] for v in column["blocks"])
    if view["kind"] == "list":
        return any(_has_listing(v) for item in view["items"] for v in item["sub"])
    return view["kind"] == "listing"


@functools.cache
def tex_environment() -> jinja2.Environment:
    """Jinja2 for LaTeX: delimiters that don't collide with braces, and escaping of every value."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        block_start_string="((*",
        block_end_string="*))",
        variable_start_string="(((",
        variable_end_string=")))",
        comment_start_string="((=",
        comment_end_string="=))",
        line_statement_prefix=None,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=lambda v: v if isinstance(v, Markup) else tex_escape("" if v is None else v),
    )


@functools.cache
def html_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=lambda v: html_primes(v) if isinstance(v, str) and not isinstance(v, Markup) else v,
    )


def render_tex(name: str, views: dict) -> str:
    """The LaTeX source of a document ("slides" or "handout")."""
    return tex_environment().get_template(f"{name}.tex.j2").render(**views["tex"])


def render_preamble(name: str) -> str:
    """The preamble of a LaTeX document (DOCUMENTS in lecture.py), which needs no values: it can be
    precompiled before the topics have run (latex.prepare_format)."""
    from nnarch.documents.latex import preamble

    return preamble(tex_environment().get_template(f"{name}-preamble.tex.j2").render())


def render_html(name: str, views: dict, **more) -> str:
    """The HTML page of a document ("slides" or "handout"); `more`: what its template asks for too."""
    return html_environment().get_template(f"{name}.html.j2").render(**views["html"], **more)
