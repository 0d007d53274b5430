"""The lab kit in the student zip: requirements.txt pinned to the versions the build used (torch's
CPU wheels by default, Jupyter included), an environment.yml for conda, and a README.md that says
how to install, open the notebooks, and what an unsolved exercise does."""

from __future__ import annotations

from nnarch.toolchain import package_version

# What the notebooks import, by the build's own versions. Jupyter is not part of a build: the
# release the kit asks for is fixed here, and `make test` installs the kit to prove it.
PINNED = {"torch": "torch", "torch-geometric": "torch_geometric", "numpy": "numpy", "matplotlib": "matplotlib"}
"""The packages the kit pins to the build's versions, each with the module it provides (what a
hosted kernel's setup cell looks for: launch.py)."""
JUPYTER = ("jupyterlab==4.6.6",)
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
DOWNLOAD = "a few hundred MB to download"  # torch's CPU wheel and the rest, for the README and the instructor
INSTALLED = "about 1.3 GB installed"  # the kit's virtualenv with torch's CPU build, as measured (du -sh)


def kit_documents(lecture, notebooks: list[str]) -> dict[str, str]:
    """{name: text} of the kit, for a lecture whose student notebooks are `notebooks` (in the
    handout's order)."""
    slug = lecture.lecture.slug
    return {
        "requirements.txt": requirements(),
        "environment.yml": environment(slug),
        "README.md": readme(lecture, notebooks),
    }


def pins() -> list[str]:
    """name==version of each package the notebooks need, as this build has them (a local version
    label such as +cpu dropped: the index decides the build)."""
    return [f"{name}=={package_version(name).split('+')[0]}" for name in PINNED]


# Only on Linux x86_64 is PyPI's torch a CUDA build (several GB), and only there does torch's CPU
# index label its build +cpu: asked for by that label, a network that blocks the index fails the
# install instead of quietly taking PyPI's.
CUDA_ON_PYPI = {"sys_platform": "linux", "platform_machine": "x86_64"}
X86_LINUX = " and ".join(f'{key} == "{value}"' for key, value in CUDA_ON_PYPI.items())
ELSEWHERE = " or ".join(f'{key} != "{value}"' for key, value in CUDA_ON_PYPI.items())  # PEP 508 has no "not"


def requirements() -> str:
    torch, *rest = pins()  # torch first (PINNED)
    return "\n".join(
        [
            "# The lab's packages, at the versions that built these notebooks' numbers.",
            f"# torch's CPU build (the kit is {INSTALLED}); for a CUDA build, delete the next line",
            "# and the torch line with +cpu, and remove the condition from the other torch line.",
            f"--extra-index-url {CPU_INDEX}",
            f"{torch}+cpu ; {X86_LINUX}",
            f"{torch} ; {ELSEWHERE}",
            *rest,
            *JUPYTER,
            "",
        ]
    )


def environment(slug: str) -> str:
    """conda: Python from conda-forge, the packages from requirements.txt with pip."""
    return "\n".join(
        [
            f"name: {slug}-lab",
            "channels:",
            "  - conda-forge",
            "dependencies:",
            "  - python=3.11",
            "  - pip",
            "  - pip:",
            "      - -r requirements.txt",
            "",
        ]
    )


def readme(lecture, notebooks: list[str]) -> str:
    slug, title = lecture.lecture.slug, lecture.lecture.title
    lab = lecture.lecture.lab or f"the lab of {title}"
    listed = "\n".join(f"{n}. `notebooks/{name}`" for n, name in enumerate(notebooks, start=1))
    return f"""# {lab}

The slides of *{title}* (`slides.pdf`, or `slides.html` in any browser, offline), the lab handout
(`handout.pdf`, `handout.html`) and one notebook per topic.

## Install (before the lab: {DOWNLOAD})

Python 3.11 or newer: the pinned numpy needs it (`python3 --version` says which you have; with an
older one, take the conda or the uv line, which bring their own). PyTorch has builds for Linux, Windows and
macOS on Apple silicon with a recent macOS; not for Intel Macs: there, open the notebooks on a
hosted Jupyter or another machine. In this folder, with one of:

- **venv**: `python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt`
  (Windows: `py -m venv .venv`, `.venv\\Scripts\\activate`, then the same `pip install`)
- **conda**: `conda env create -f environment.yml && conda activate {slug}-lab`
- **uv**: `uv venv --python 3.11 && . .venv/bin/activate &&
  uv pip install --index-strategy unsafe-best-match -r requirements.txt` (uv would otherwise take
  numpy and the rest from torch's index alone, which lacks their versions)

`requirements.txt` pins the versions that made the numbers in the slides and takes torch's CPU
build, {INSTALLED}; its comment says what to change for a CUDA build. If pip retries
`download.pytorch.org` again and again, or stops with "No matching distribution found for
torch==…+cpu", your network blocks that address: install on another network (the lab then runs
offline), or ask for it to be opened.

## Open the notebooks

`jupyter lab`, then open them in the handout's order:

{listed}

Run the cells from the top. Each notebook trains the lecture's model with the lecture's seed and
prints the numbers the slides show: on a CPU like the build's to the last digit; another kind of
CPU (another vector unit, ARM) rounds differently, and its numbers can differ in the last digits.

## The exercises

Each exercise is a function for you to fill in; until you do, it raises `NotImplementedError`, and
the cell after it says which exercise is still open. So *Run All* stops at the first exercise: that
is expected. Solve it, run its cell and the check below it, and go on. The checks tell you when an
answer has the wrong form (a list where a number is wanted, a share above 1) and whether it is
right within the stated tolerance.

The notebooks do not contain the answers: a check compares a digest of your answer, rounded to
three significant digits, with the build's; an answer that comes from training (it differs from
one CPU to another) within the tolerance its check names, such as 5%. That keeps an answer
from being read off the page; it does not stop anyone determined to search for it.
"""
