"""The tools outside Python that a build needs (TeX Live and its fonts), found by file, and what to
install on this platform when one is missing. Torch-free: checked before any topic runs."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from nnarch.errors import EnvironmentProblem

# The faces of the slides' sans font (Beamer's \sffamily with lmodern) that figures use.
FONT_FILES = {"regular": "lmsans10-regular.otf", "bold": "lmsans10-bold.otf", "oblique": "lmsans10-oblique.otf"}

# What provides latexmk, pdflatex, Beamer, pgf and the Latin Modern fonts, by package manager.
_PACKAGES = {
    "apt-get": "sudo apt-get install latexmk texlive-latex-recommended texlive-pictures lmodern",
    "dnf": "sudo dnf install latexmk texlive-beamer texlive-pgf texlive-lm texlive-lm-math "
    "texlive-collection-latexrecommended",
    "pacman": "sudo pacman -S texlive-binextra texlive-latexrecommended texlive-pictures texlive-fontsrecommended",
}


_SYSTEM_BIN = ("/usr/bin", "/bin", "/usr/sbin", "/sbin")  # where a package manager is, whatever PATH says


def install_hint() -> str:
    """The command that installs TeX Live's parts on this machine, as its user would type it."""
    if platform.system() == "Darwin":
        return (
            "install MacTeX (brew install --cask mactex-no-gui), or TinyTeX and then "
            "'tlmgr install latexmk beamer pgf lm'"
        )
    for manager, command in _PACKAGES.items():
        if shutil.which(manager) or shutil.which(manager, path=os.pathsep.join(_SYSTEM_BIN)):
            return (
                command + " (or run 'make slides', which installs them when it can)"
                if manager == "apt-get"
                else command
            )
    return "install TeX Live (tug.org/texlive) or TinyTeX, then 'tlmgr install latexmk beamer pgf lm'"


@cache
def slide_fonts() -> dict[str, Path]:
    """The files of the slides' sans font, by face, as TeX Live itself finds them (kpsewhich): the
    same files pdflatex sets the slides with, on any TeX Live, MacTeX or TinyTeX."""
    kpsewhich = shutil.which("kpsewhich")
    if not kpsewhich:
        raise EnvironmentProblem(f"kpsewhich: not found on PATH (TeX Live is missing); {install_hint()}")
    names = list(FONT_FILES.values())
    found = subprocess.run([kpsewhich, *names], capture_output=True, text=True, timeout=60).stdout
    paths = {Path(line).name: Path(line) for line in found.splitlines() if line.strip()}
    missing = [name for name in names if name not in paths]
    if missing:
        raise EnvironmentProblem(
            f"fonts: TeX Live has no {', '.join(missing)} (the Latin Modern fonts "
            f"the figures are drawn with); {install_hint()}"
        )
    return {face: paths[name] for face, name in FONT_FILES.items()}


@cache
def fonts_digest() -> str:
    """The digest of the font files' bytes: a figure drawn with other files is another figure."""
    digest = hashlib.sha256()
    for face, path in sorted(slide_fonts().items()):
        digest.update(face.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@cache
def package_version(name: str) -> str:
    """An installed distribution's version, or "absent"."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"
