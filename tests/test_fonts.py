"""Figures use the slides' font files, found through TeX Live, whatever matplotlib's and fontconfig's
caches hold: the same sources give the same bytes on every machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnarch.errors import EnvironmentProblem
from nnarch.toolchain import slide_fonts

pytestmark = pytest.mark.slow  # see tests/conftest.py

# Drawn in a fresh interpreter, so that matplotlib builds its font cache in the MPLCONFIGDIR given.
DRAW = """
import json, sys
from pathlib import Path
import matplotlib.pyplot as plt
from matplotlib import font_manager
from nnarch.run.figures import FAMILY, draw_figure, save_figure
from nnarch.topic import FigureSpec

def draw(run):
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 1, 2], label="threshold")
    ax.set(xlabel="reconstruction error", ylabel="sequences", title="Latin Modern, 8–9 pt")
    ax.legend()
    return fig

out = Path(sys.argv[1])
save_figure(draw_figure(FigureSpec("probe", "custom", draw, size="column"), None, out / "probe.py"),
            out / "probe")
used = {face: font_manager.findfont(font_manager.FontProperties(family=FAMILY, weight=w, style=s))
        for face, w, s in (("regular", 400, "normal"), ("bold", 700, "normal"), ("oblique", 400, "oblique"))}
listed = sorted({f.fname for f in font_manager.fontManager.ttflist if "lmsans" in f.fname})
print(json.dumps({"used": used, "listed": listed}))
"""

TEX_FONTS = """<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>{dir}</dir><cachedir>{cache}</cachedir></fontconfig>"""


def _draw(tmp_path: Path, name: str, fontconfig_dirs: str) -> tuple[dict, bytes, bytes]:
    home = tmp_path / name
    (home / "out").mkdir(parents=True)
    conf = home / "fonts.conf"
    conf.write_text(TEX_FONTS.format(dir=fontconfig_dirs, cache=home / "fc-cache"))
    env = {
        **os.environ,
        "MPLCONFIGDIR": str(home / "mpl"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "FONTCONFIG_FILE": str(conf),
    }
    done = subprocess.run(
        [sys.executable, "-c", DRAW, str(home / "out")], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout.splitlines()[-1])
    return facts, (home / "out/probe.pdf").read_bytes(), (home / "out/probe.svg").read_bytes()


def test_figures_are_the_same_bytes_whether_or_not_fontconfig_lists_the_tex_fonts(tmp_path):
    fonts = slide_fonts()
    tex_dir = fonts["regular"].parent
    with_tex, pdf_a, svg_a = _draw(tmp_path, "listed", str(tex_dir))
    without, pdf_b, svg_b = _draw(tmp_path, "unlisted", str(tmp_path / "no-fonts-here"))
    # the first cache really holds the other optical sizes that used to win by chance
    assert any("lmsans12" in f or "lmsans8" in f for f in with_tex["listed"])
    assert not any("lmsans12" in f or "lmsans8" in f for f in without["listed"])
    expected = {face: str(path) for face, path in fonts.items()}
    assert with_tex["used"] == without["used"] == expected
    assert pdf_a == pdf_b
    assert svg_a == svg_b


def test_a_missing_slide_font_names_what_to_install(monkeypatch, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    kpsewhich = empty / "kpsewhich"
    kpsewhich.write_text("#!/bin/sh\nexit 1\n")  # a TeX Live without the Latin Modern fonts
    kpsewhich.chmod(0o755)
    monkeypatch.setenv("PATH", str(empty))
    slide_fonts.cache_clear()
    try:
        with pytest.raises(EnvironmentProblem, match=r"fonts: TeX Live has no lmsans10-regular.otf.*install"):
            slide_fonts()
    finally:
        slide_fonts.cache_clear()
