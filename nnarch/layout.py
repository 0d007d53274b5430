"""Layout: the geometry of a 16:9 Beamer frame as the slides template sets it, in TeX points.

One place for the numbers that decide whether something fits: figures are drawn at the size of
their slot, listings and tables are set at a size chosen from the width they get, and the build
fails a frame that still does not fit (see latex.py's overfull-box check).
"""

from __future__ import annotations

TEXT_WIDTH = 398.3  # \textwidth of the 160 mm × 90 mm frame
HANDOUT_WIDTH = 472.0  # \textwidth of the A4 handout (2.2 cm margins)
COLUMN_GAP = 0.04  # of the text width, between columns
MIN_TEXT_PT = 8.0  # nothing on a slide is smaller (the footline aside)

# Figure slots: (width, height). "full" spans the frame, "column" is one of two columns with room
# for text below it, "tall" is a column that holds little besides the figure, "small" is a
# diagram beside other things in a column.
SLOTS = {"full": (398.0, 120.0), "column": (191.0, 128.0), "tall": (191.0, 170.0), "small": (120.0, 95.0)}

# Listings, in the slides' font sizes: (LaTeX size, points, width of one monospace character,
# baseline skip). The largest that fits the listing's longest line, and its lines in the height a
# frame has for a listing, is used: code as large as the room allows, 8 pt at the least.
CODE_SIZES = (("\\small", 10.0, 5.25, 12.0), ("\\footnotesize", 9.0, 4.725, 11.0), ("\\scriptsize", 8.0, 4.25, 9.5))
LISTING_HEIGHT = 170.0  # of a frame's body, for a listing's lines (its caption has the rest)

# Tables, likewise: (LaTeX size, points). A table is never scaled; a short one whose cells do not
# wrap is set at the largest size its columns fit at, a long or wrapping one at 8 pt.
TABLE_SIZES = (("\\small", 10.0), ("\\footnotesize", 9.0), ("\\scriptsize", 8.0))
TABLE_CHAR = 0.55  # of the font size: the width of a character, generously (digits are 0.5)
TABLE_PADDING = 8.0  # \tabcolsep (4 pt) either side of a column


def column_widths(fractions: list[float | None]) -> list[float]:
    """Each column's share of the text width: given ones as written, the rest split evenly."""
    free = 1 - COLUMN_GAP * (len(fractions) - 1) - sum(f for f in fractions if f)
    unset = [f for f in fractions if not f]
    share = free / len(unset) if unset else 0
    return [f or share for f in fractions]


def code_size(longest: int, width: float, lines: int = 0) -> tuple | None:
    """The largest code size whose longest line fits `width` points and whose `lines` fit the
    frame's height (the smallest size needs only the width); None if none fits the width."""
    for size in CODE_SIZES:
        tall = lines * size[3] > LISTING_HEIGHT and size is not CODE_SIZES[-1]
        if longest * size[2] <= width - 8 and not tall:  # semiverbatim sets lines a little in
            return size
    return None


def table_size(widest: list[int], rows: int, wraps: bool, width: float) -> str:
    """The LaTeX size of a table whose columns' longest cells have `widest` characters: 8 pt when it
    is long or its cells wrap, else the largest size at which its columns fit `width` points."""
    if not wraps and rows <= 6:
        for size, points in TABLE_SIZES:
            if sum(widest) * TABLE_CHAR * points + TABLE_PADDING * len(widest) <= width:
                return size
    return TABLE_SIZES[-1][0]


def listing_problem(name: str, source: str, width: float, in_column: bool, method: str = "") -> str | None:
    """Why a listing cannot be set at a readable size in its place, with what to do instead."""
    longest = max((len(line) for line in source.splitlines()), default=0)
    if code_size(longest, width) is not None:
        return None
    smallest = CODE_SIZES[-1]
    fits = int((width - 8) / smallest[2])
    where = "this column" if in_column else "the frame"
    one = f", one method ({method})" if method else ""
    return (
        f"listing '{name}': its longest line has {longest} characters, but {where} holds {fits} "
        f"at {smallest[1]:g} pt; show fewer lines (:lines:){one}, shorter lines, or give it more "
        "width (a wider '::: column 60%' or the full frame)"
    )


def script_depth(latex: str) -> int:
    """How deeply sub- and superscripts nest in a formula: x_i is 1, h^{(k)}_{d_k} is 2."""
    deepest, levels, level, pending = 0, [], 0, False
    for ch in latex:
        if ch in "^_":
            pending = True
            continue
        if pending:
            pending = False
            if ch == "{":
                levels.append(level)
                level += 1
            else:
                deepest = max(deepest, level + 1)
                continue
        elif ch == "{":
            levels.append(level)
        elif ch == "}" and levels:
            level = levels.pop()
            continue
        deepest = max(deepest, level)
    return deepest


def math_problem(latex: str, size_pt: float) -> str | None:
    """Scripts of a formula set in text of `size_pt` that would fall under the minimum (LaTeX sets
    the first script level at 8 pt in 11-pt text, the second at 6 pt; in 8-9 pt text, the first at
    6 pt)."""
    allowed = 1 if size_pt >= 10.5 else 0
    if script_depth(latex) > allowed:
        where = "a script inside a script" if allowed else "a sub- or superscript in 8-9 pt text"
        return (
            f"math '{latex[:40]}' has {where}, set under {MIN_TEXT_PT:g} pt; write it out "
            "in words or move it into the body text"
        )
    return None
