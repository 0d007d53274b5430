"""Text with every character that means something to LaTeX or HTML, and some that aren't ASCII."""

from nnarch.topic import FigureSpec, Recipe, Topic

from ._base import Tiny, make_data

HOSTILE = r"100% & more_than # $5 {x} ~y ^z \path"
MARKUP = "<script>alert('x')</script> & \"quoted\" 'single'"
UNICODE = "Grüße → αβγ ΔΣ ≈ ≤ ×"


def strange_code():
    """Weird: 100% & {braces} \\ backslash, ü → α, <tags> & "quotes"."""
    return "# $not math$ ~ ^ _ %"


TOPIC = Topic(name="case", model=Tiny, data=make_data, recipe=Recipe(epochs=2),
              figures=[FigureSpec("loss", "loss_curve")])
