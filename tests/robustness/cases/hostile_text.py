"""Text with every character that means something to LaTeX or HTML, and some that aren't ASCII."""

from nnarch.topic import (Bullets, Fig, FigureSpec, Frame, Listing, Recipe, Table, Text, Topic)

from ._base import Tiny, make_data

HOSTILE = r"100% & more_than # $5 {x} ~y ^z \path"
MARKUP = "<script>alert('x')</script> & \"quoted\" 'single'"
UNICODE = "Grüße → αβγ ΔΣ ≈ ≤ ×"


def strange_code():
    """Weird: 100% & {braces} \\ backslash, ü → α, <tags> & "quotes"."""
    return "# $not math$ ~ ^ _ %"


TOPIC = Topic(
    name="case", title=f"Hostile {HOSTILE}", model=Tiny, data=make_data, recipe=Recipe(epochs=2),
    figures=[FigureSpec("loss", "loss_curve", caption=f"Caption {HOSTILE} {UNICODE}",
                        alt=f"Alt {MARKUP}")],
    frames=[
        Frame(f"Title {HOSTILE}", [Bullets([HOSTILE, MARKUP, UNICODE], heading=UNICODE),
                                   Text(f"Text {MARKUP}")]),
        Frame(f"More {UNICODE}", [Table([HOSTILE, MARKUP], [[UNICODE, HOSTILE]]), Fig("loss"),
                                  Listing(strange_code)]),
    ],
)
