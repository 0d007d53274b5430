"""Plan: decide which lectures and topics this build covers, whether the environment has what they
need (latexmk, the device, a Dask scheduler), and whether the last build is still up to date (the
no-op stamp: a digest of every input, `OUT/.work/stamp.json`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nnarch.errors import UsageError, did_you_mean
from nnarch.options import Options

if TYPE_CHECKING:  # the no-op check stays light: no Markdown parser
    from nnarch.source.discover import Discovered, LectureSource, TopicSource


@dataclass(frozen=True)
class Plan:
    lectures: tuple[LectureSource, ...]
    topics: tuple[TopicSource, ...]


def make_plan(discovered: Discovered, wanted: tuple[str, ...] = (), forced: tuple[str, ...] = ()) -> Plan:
    """All topics, or only those named on the command line (then only their lectures)."""
    every = [(lec, src) for lec in discovered.lectures for src in lec.topics]
    declared = {name for lec in discovered.lectures for name in lec.lecture.topics}
    for option, names in (("", wanted), ("--force ", forced)):
        for name in names:
            if name not in declared and not (option and name == "all"):
                raise UsageError(
                    f"{option}{name}: no topic of that name{did_you_mean(name, declared)}; "
                    "'nnarch list' shows the topics"
                )
    chosen = [(lec, src) for lec, src in every if not wanted or src.name in wanted]
    lectures = [lec for lec in discovered.lectures if not wanted or any(name in wanted for name in lec.lecture.topics)]
    return Plan(tuple(lectures), tuple(src for _, src in chosen))


def check_environment(options: Options) -> None:
    """What the build needs outside the project, checked once before any topic runs (each missing
    piece is one EnvironmentProblem, exit 3): LaTeX, the figures' fonts, the device asked for."""
    from nnarch.documents.latex import require_latexmk
    from nnarch.toolchain import slide_fonts

    require_latexmk()
    slide_fonts()
    if options.scheduler:
        from nnarch.run.cluster import check_address

        check_address(options.scheduler)
    if options.device == "cuda" and not options.scheduler:  # a cluster's workers have their own
        from nnarch.run.train import resolve_device

        resolve_device(options.device)


# --------------------------------------------------------------------------------------------------
# Up to date? Decided from file hashes alone, as make does: no torch, no topic module imported.


def _versioned() -> list[str]:
    """The packages whose versions can change what a build writes: those nnarch requires (its
    metadata: torch, matplotlib, jinja2, pylatexenc, nbformat, ...), and scipy, which PyG uses
    when it is there."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        required = [r for r in requires("nnarch") or [] if "extra ==" not in r]
    except PackageNotFoundError:  # run from a source tree that was never installed
        required = []
    return [re.split(r"[^A-Za-z0-9._-]", r, maxsplit=1)[0] for r in required] + ["scipy"]


def inputs_digest(options) -> str:
    from importlib.metadata import PackageNotFoundError, version

    from nnarch.cache.fingerprint import digest_files, files_under, user_closure
    from nnarch.toolchain import fonts_digest

    here = Path(__file__).resolve().parent
    root = Path(options.lectures).resolve()
    files = files_under(root)
    # the user's modules outside the lectures folder that its code imports (PYTHONPATH), by name
    outside = {p for f in files if f.suffix == ".py" for p in user_closure(f) if not p.is_relative_to(root)}
    versions = []
    for name in _versioned():
        try:
            versions.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name}=absent")
    settings = [options.device, options.budget, *options.topics, *versions, fonts_digest()]
    code = [p for p in here.rglob("*.py") if "__pycache__" not in p.parts]
    return digest_files(
        files,
        root,
        sorted(outside, key=lambda p: p.name),
        [*settings, digest_files([*(here.parent / "templates").glob("*"), *code], here.parent)],
    )


def _stamp(options) -> Path:
    """The last successful build's inputs and outputs: in the output folder, not the cache, which
    two output folders may share."""
    return options.out / ".work" / "stamp.json"


def up_to_date(options, inputs: str) -> list[Path] | None:
    """The outputs of the last successful build if nothing it depends on has changed, else None.
    `inputs`: the digest of the inputs as this build found them (inputs_digest)."""
    import json

    from nnarch.cache.fingerprint import file_digest

    try:
        stamp = json.loads(_stamp(options).read_text())
    except (OSError, ValueError):
        return None
    if options.force or stamp.get("inputs") != inputs:
        return None
    outputs = [Path(p) for p in stamp["outputs"]]
    if not all(p.exists() for p in outputs) or file_digest(outputs) != stamp["outputs_digest"]:
        return None
    return outputs


def record_success(options, outputs, inputs: str) -> None:
    """Remember the inputs (as the build found them when it began: a file saved while it ran is
    not in its outputs) and the outputs of a build that succeeded, for `up_to_date`."""
    import json

    from nnarch.cache.fingerprint import file_digest
    from nnarch.files import write_atomic

    outputs = sorted(str(p) for p in outputs)
    write_atomic(
        _stamp(options), json.dumps({"inputs": inputs, "outputs": outputs, "outputs_digest": file_digest(outputs)})
    )
