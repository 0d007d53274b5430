"""Render: turn format-neutral frames into Beamer LaTeX and self-contained HTML with Jinja2.

All text from topic modules passes through one escaper per target: `tex_escape` or HTML escaping.
Display and inline math are LaTeX by declaration; in HTML they become MathML (latex2mathml), so the
page needs no network and no script to show them.
"""

from __future__ import annotations

import base64
import inspect
import re
import textwrap
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import jinja2
from latex2mathml.converter import convert as _mathml
from markupsafe import Markup, escape

from . import topic as t
from .discover import VALUE_REF
from .errors import TopicError
from .measure import lookup

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
INLINE = re.compile(r"(\$[^$]+\$|`[^`]+`|\*[^*\s][^*]*\*)")

_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}"}
_GREEK = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho " \
         "varsigma sigma tau upsilon phi chi psi omega"
_TEX_UNICODE = {chr(0x3B1 + i): rf"\ensuremath{{\{name}}}" for i, name in enumerate(_GREEK.split())
                if name not in ("omicron", "varsigma")}
_TEX_UNICODE.update({"→": r"\ensuremath{\rightarrow}", "←": r"\ensuremath{\leftarrow}",
                     "⇒": r"\ensuremath{\Rightarrow}", "×": r"\ensuremath{\times}",
                     "·": r"\ensuremath{\cdot}", "≈": r"\ensuremath{\approx}",
                     "≤": r"\ensuremath{\leq}", "≥": r"\ensuremath{\geq}", "–": "--", "—": "---",
                     "…": r"\ldots{}", "Σ": r"\ensuremath{\Sigma}", "Δ": r"\ensuremath{\Delta}",
                     "“": "``", "”": "''", "’": "'", "‘": "`", "°": r"\ensuremath{^\circ}"})
_ACCENTS = {"\u0308": '"', "\u0301": "'", "\u0300": "`", "\u0302": "^", "\u0303": "~", "\u0327": "c"}


def tex_escape(text: str, code: bool = False) -> str:
    """Escape text for LaTeX (pdflatex + T1); in `code` mode only what semiverbatim still interprets."""
    out = []
    for ch in str(text):
        if code and ch in "\\{}":
            out.append({"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}"}[ch])
        elif not code and ch in _TEX_SPECIAL:
            out.append(_TEX_SPECIAL[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append(_tex_unicode(ch))
    return "".join(out)


def _tex_unicode(ch: str) -> str:
    if ch in _TEX_UNICODE:
        return _TEX_UNICODE[ch]
    base, *marks = unicodedata.normalize("NFD", ch)
    if ord(base) < 128 and len(marks) == 1 and marks[0] in _ACCENTS:
        return f"\\{_ACCENTS[marks[0]]}{{{base}}}"
    if ch in "ßæøåÆØÅœŒ":
        return {"ß": r"\ss{}", "æ": r"\ae{}", "ø": r"\o{}", "å": r"\aa{}", "Æ": r"\AE{}",
                "Ø": r"\O{}", "Å": r"\AA{}", "œ": r"\oe{}", "Œ": r"\OE{}"}[ch]
    return "?"  # pdflatex has no glyph for it; a visible stand-in beats a failed build


@dataclass(frozen=True)
class Context:
    """What values in a frame's text may refer to: the topic's results and its drawn figures."""

    where: str
    results: dict
    figures: dict
    course: t.Course | None = None


def fill(text: str, ctx: Context, math: bool = False) -> str:
    """Replace every {{path:fmt}} with the run's value, formatted for text or for math."""
    def value(match):
        try:
            v = lookup(ctx.results, match.group(1))
        except KeyError:
            parts = match.group(1).split(".")
            if parts[0] == "topics" and len(parts) > 1 and parts[1] not in ctx.results["topics"]:
                return "n/a"  # that topic failed or was not selected; the summary still builds
            raise TopicError(f"{ctx.where}: frames: value '{match.group(1)}' does not exist in the "
                             "run; see report.json for the paths there are") from None
        return format_value(v, match.group(2), math)
    return VALUE_REF.sub(value, text)


def format_value(value, spec: str | None = None, math: bool = False) -> str:
    """A number as the slides show it: integers with thousands separators, floats to 3 digits."""
    if spec:
        text = format(value, spec)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = f"{value:.3g}"
    return text.replace(",", "{,}") if math and isinstance(value, (int, float)) else text


class Target:
    """One output format: how inline markup and blocks become markup of that format."""

    name = ""

    def inline(self, text: str, ctx: Context) -> Markup:
        parts = []
        for piece in INLINE.split(text):
            if not piece:
                continue
            if not INLINE.fullmatch(piece):  # plain text, including a lone $, * or `
                parts.append(self.text(fill(piece, ctx)))
            elif piece.startswith("$"):
                parts.append(self.math(fill(piece[1:-1], ctx, math=True)))
            elif piece.startswith("`"):
                parts.append(self.code(fill(piece[1:-1], ctx)))
            elif piece.startswith("*"):
                parts.append(self.emph(self.inline(piece[1:-1], ctx)))
            else:
                parts.append(self.text(fill(piece, ctx)))
        return Markup("".join(parts))


class Tex(Target):
    name = "tex"

    def text(self, s):
        return tex_escape(s)

    def math(self, s):
        return f"${s}$"

    def code(self, s):
        return r"\texttt{" + tex_escape(s) + "}"

    def emph(self, s):
        return r"\alert{" + s + "}"

    def display(self, latex):
        body = rf"\begin{{aligned}}{latex}\end{{aligned}}" if r"\\" in latex else latex
        return Markup(rf"\[ {body} \]")

    def listing(self, source):
        return Markup(tex_escape(source, code=True))


class Html(Target):
    name = "html"

    def text(self, s):
        return str(escape(s))

    def math(self, s):
        return _to_mathml(s, "inline")

    def code(self, s):
        return f"<code>{escape(s)}</code>"

    def emph(self, s):
        return f"<em>{s}</em>"

    def display(self, latex):
        body = rf"\begin{{split}}{latex}\end{{split}}" if r"\\" in latex else latex
        return Markup(_to_mathml(body, "block"))

    def listing(self, source):
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
        return Markup(highlight(source, PythonLexer(), HtmlFormatter(nowrap=True, noclasses=True)))


def _to_mathml(latex: str, display: str) -> str:
    try:
        return _mathml(latex, display=display)
    except Exception:  # latex2mathml knows less LaTeX than pdflatex; show the source rather than fail
        return f'<code class="tex">{escape(latex)}</code>'


def block_view(block, ctx: Context, target: Target) -> dict:
    """A block as a dict of finished markup for one target; templates only arrange these."""
    inline = lambda s: target.inline(s, ctx)  # noqa: E731
    if isinstance(block, t.Text):
        return {"kind": "text", "text": inline(block.text)}
    if isinstance(block, t.Bullets):
        return {"kind": "bullets", "heading": inline(block.heading) if block.heading else None,
                "items": [inline(i) for i in block.items]}
    if isinstance(block, t.Math):
        return {"kind": "math", "math": target.display(fill(block.latex, ctx, math=True))}
    if isinstance(block, t.Fig):
        return _figure_view(block.name, ctx, target)
    if isinstance(block, t.Listing):
        source = textwrap.dedent(inspect.getsource(block.obj)).rstrip()
        return {"kind": "listing", "code": target.listing(source), "size": _code_size(source),
                "caption": inline(block.caption) if block.caption else None}
    if isinstance(block, t.Columns):
        return {"kind": "columns", "left": [block_view(b, ctx, target) for b in block.left],
                "right": [block_view(b, ctx, target) for b in block.right]}
    header, rows = _table(block, ctx)
    longest = max((len(c) for row in [header, *rows] for c in row), default=0)
    wide = longest > 28  # long prose cells wrap in equal-width columns instead of running off the frame
    width = f">{{\\raggedright\\arraybackslash}}p{{{0.86 / max(len(header) - 1, 1):.3f}\\linewidth}}"
    return {"kind": "table", "header": [inline(h) for h in header], "wide": wide,
            "spec": "l" + (width if wide else "l") * (len(header) - 1),
            "rows": [[inline(c) for c in row] for row in rows]}


def _code_size(source: str) -> str:
    """A LaTeX font size that fits the listing's longest line and line count on a frame."""
    lines = source.splitlines()
    widest = max(len(line) for line in lines)
    if widest > 46 or len(lines) > 18:
        return "\\tiny"
    return "\\scriptsize" if widest > 36 or len(lines) > 12 else "\\footnotesize"


def _figure_view(name, ctx, target) -> dict:
    files = ctx.figures[name]
    view = {"kind": "figure", "caption": target.inline(files.caption, ctx), "size": files.size}
    if target.name == "tex":
        view["path"] = f"figures/{files.pdf.name}"
    else:
        data = base64.b64encode(files.svg.read_bytes()).decode("ascii")
        view["src"] = f"data:image/svg+xml;base64,{data}"
        view["alt"] = fill(files.alt, ctx)
    return view


def _table(block, ctx) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a table block, in inline markup (numbers filled in from the run)."""
    r = ctx.results
    if isinstance(block, t.Table):
        return list(block.header), [list(row) for row in block.rows]
    if isinstance(block, t.ParamTable):
        rows = [[f"`{layer['name']}`", layer["type"], " + ".join("×".join(map(str, s)) or "1"
                 for s in layer["shapes"]), format_value(layer["count"])] for layer in r["params"]["layers"]]
        total = ["*total*", "", "", f"*{format_value(r['params']['total'])}*"]
        return ["layer", "type", "tensors", "parameters"], rows + [total]
    if isinstance(block, t.ShapeTable):
        shape = lambda s: "(" + ", ".join(map(str, s)) + ")" if s else "–"  # noqa: E731
        return ["layer", "type", "input", "output"], [
            [f"`{row['name']}`", row["type"], shape(row["input"]), shape(row["output"])]
            for row in r["shapes"]]
    if isinstance(block, t.VariantTable):
        rows = [["this model", r["params"]["architecture"], format_value(r["params"]["total"]),
                 f"{r['history']['final_train']:.2e}", f"{r['history']['final_test']:.2e}"]]
        rows += [[name.replace("_", "-"), v["architecture"], format_value(v["params"]),
                  f"{v['final_train']:.2e}", f"{v['final_test']:.2e}"] for name, v in r["variants"].items()]
        return ["model", "layers", "parameters", "final train loss", "final test loss"], rows
    if isinstance(block, t.ScheduleTable):
        course = ctx.course
        return ["Time"] + list(course.days), [[time, *cells] for time, cells in course.slots]
    raise TopicError(f"{ctx.where}: frames: unknown block {type(block).__name__}")


def frame_view(frame: t.Frame, ctx: Context, target: Target) -> dict:
    """A frame as finished markup; `fragile` marks Beamer frames holding verbatim code."""
    blocks = [block_view(b, ctx, target) for b in frame.blocks]
    return {"title": target.inline(frame.title, ctx), "plain_title": frame.title, "blocks": blocks,
            "fragile": any(_has_listing(b) for b in blocks)}


def _has_listing(view) -> bool:
    if view["kind"] == "columns":
        return any(_has_listing(v) for v in view["left"] + view["right"])
    return view["kind"] == "listing"


def tex_environment() -> jinja2.Environment:
    """Jinja2 for LaTeX: delimiters that don't collide with braces, and escaping of every value."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), block_start_string="((*", block_end_string="*))",
        variable_start_string="(((", variable_end_string=")))", comment_start_string="((=",
        comment_end_string="=))", line_statement_prefix=None, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined, autoescape=False,
        finalize=lambda v: v if isinstance(v, Markup) else tex_escape("" if v is None else v))


def html_environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_pair(name: str, views: dict) -> tuple[str, str]:
    """The LaTeX source and the HTML page of a document ("slides" or "handout")."""
    tex = tex_environment().get_template(f"{name}.tex.j2").render(**views["tex"])
    html = html_environment().get_template(f"{name}.html.j2").render(**views["html"])
    return tex, html
