"""Staging: a lecture's files staged complete, then switched in as one release; the build folder's
lock, its sweep after a killed build, and `clean`."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from nnarch.errors import BuildBusy, EnvironmentProblem, UsageError
from nnarch.files import copy_atomic, write_atomic, write_json

MARKER = ".nnarch-build"  # in every build folder nnarch made: `clean` removes nothing else


def ensure_writable(folder: Path) -> None:
    """Fail early, with the fix, when build/ cannot be written."""
    try:
        fresh = not folder.exists() or not any(folder.iterdir())
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
        if fresh or (folder / MARKER).exists():
            (folder / MARKER).write_text("made by nnarch: 'nnarch clean' may remove this folder\n")
    except OSError as error:
        raise EnvironmentProblem(
            f"{folder}: cannot write there ({error.strerror}); fix its permissions or pass --out DIR"
        ) from None


_PROJECT = ("course.py", "pyproject.toml", "Makefile", ".git", "lectures", "templates", "nnarch")


def clean(folder: Path, cache_only: bool = False) -> bool:
    """Remove a build folder nnarch made (or only its cache), holding its build lock; True if
    there was something to remove. Refuses anything else."""
    folder = Path(folder)
    if not folder.exists():
        return False
    found = [name for name in _PROJECT if (folder / name).exists()]
    if found or not (folder / MARKER).exists():
        why = f"it holds {', '.join(found)}" if found else f"it has no {MARKER} marker"
        raise UsageError(
            f"clean: {folder} is not a build folder nnarch made ({why}); nothing removed. "
            "Pass the folder you build into with --out, or remove it yourself"
        )
    with build_lock(folder):
        # the cache, and the up-to-date stamp that would say the next build has nothing to do
        targets = (
            [folder / ".cache", folder / ".work" / "stamp.json"]
            if cache_only
            else [p for p in folder.iterdir() if p.name != ".lock"]
        )
        for target in targets:
            _remove(target)
    if not cache_only:
        (folder / ".lock").unlink(missing_ok=True)
        folder.rmdir()
    return True


@contextmanager
def build_lock(folder: Path):
    """Hold an exclusive lock on the build folder; a second build exits with a clear message."""
    path = folder / ".lock"
    handle = open(path, "a+")  # noqa: SIM115 - held open while the build runs: the lock lives as long as it
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise BuildBusy(
            f"{folder}: another nnarch build is running on this folder (pid {owner}); "
            "wait for it to finish, or build into another folder with --out DIR"
        ) from None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)  # the kernel also drops it if the process is killed
        handle.close()


def sweep_temporaries(folder: Path) -> None:
    """Remove what a killed build left behind: temporary files and a half-staged release, or finish
    a switch that was under way (its list written) when the build died."""
    for leftover in folder.rglob(".*.tmp"):
        leftover.unlink(missing_ok=True)
    if (folder / STAGING / SWITCH).exists():
        _finish_switch(folder)
    shutil.rmtree(folder / STAGING, ignore_errors=True)
    for old in folder.rglob(".old-*"):  # a switch of an earlier version, killed between its renames
        target = old.with_name(old.name[len(".old-") :])
        if old.is_dir() and not target.exists():
            old.rename(target)
        else:
            _remove(old)


STAGING = ".staging"
SWITCH = "switch.json"  # in STAGING, written once everything is staged: the release's commit point
MANIFEST = ".nnarch-manifest.json"
AFTERWARDS = ("diff.html",)  # what `nnarch diff` writes into a release, of that release alone


def stage_folder(name: str, files: dict, report: dict, out: Path) -> tuple[Path, list[str]]:
    """Stage the files of out/NAME complete, in out/.staging/NAME, for `switch`: (the staged folder,
    the names of the files kept from the published one because nnarch did not make them). Files
    someone else put into the published folder are carried over; only what nnarch made is replaced.

    `files` maps a relative name to text, bytes or a file to copy."""
    staging, current = out / STAGING / name, out / name
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for relative, content in files.items():
            if isinstance(content, Path):
                copy_atomic(content, staging / relative)
            else:
                write_atomic(staging / relative, content)
        write_json(staging / "report.json", report)
        names = sorted([*files, "report.json"])
        write_atomic(staging / MANIFEST, json.dumps(names, indent=1) + "\n")
        kept = _not_ours(current, names)
        for theirs in kept:
            _carry(current / theirs, staging / theirs)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if error.errno == errno.ENOSPC:
            raise EnvironmentProblem(
                f"{out}: the disk is full ({error.strerror}); free some space or build "
                "elsewhere with --out DIR; the published files are unchanged"
            ) from None
        raise
    return staging, kept


def stage_file(name: str, data: bytes | str, out: Path) -> Path:
    """Stage out/NAME, for `switch`."""
    write_atomic(out / STAGING / name, data)
    return out / STAGING / name


def switch(out: Path, names: list[str]) -> None:
    """Put the staged out/.staging/NAME in place of out/NAME for every name, as one release: once
    the list is written, a build killed half-way through the renames is finished by the next one
    (sweep_temporaries), so the old release or the new one is what a build leaves, never a mix."""
    write_atomic(out / STAGING / SWITCH, json.dumps(names))
    _finish_switch(out)


def _finish_switch(out: Path) -> None:
    try:
        _renames(out)
    except OSError as error:  # a mount point, a read-only folder, a file in use
        target = Path(error.filename or out)
        raise EnvironmentProblem(
            f"{target}: cannot be replaced ({error.strerror}): it is a mount point, read-only or in use; "
            "publish into another folder with --out DIR (the next build here tries again)"
        ) from None


def _renames(out: Path) -> None:
    staging = out / STAGING
    names = json.loads((staging / SWITCH).read_text())
    for name in names:
        new, target = staging / name, out / name
        old = target.with_name(f".old-{target.name}")
        if not new.exists():
            continue  # switched before the build was killed
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            _remove(old)
            os.replace(target, old)
        os.replace(new, target)
    for name in names:
        target = out / name
        _remove(target.with_name(f".old-{target.name}"))
    shutil.rmtree(staging, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def published_files(folder: Path) -> list[str]:
    """The files nnarch published in a lecture's folder, by its manifest."""
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return []


def _not_ours(target: Path, new: list[str]) -> list[str]:
    """What to keep of a published folder: every entry its manifest does not list, or, with no
    manifest (an older nnarch made it, or it was lost), every entry this build does not make; but
    not the report `nnarch diff` wrote of the release replaced. Links stay links, never followed."""
    ours = set(published_files(target) or new) | {MANIFEST, *AFTERWARDS}
    kept = []
    for folder, dirs, files in os.walk(target):
        for entry in [*files, *(d for d in dirs if (Path(folder) / d).is_symlink())]:
            relative = str((Path(folder) / entry).relative_to(target))
            if relative not in ours and not entry.endswith(".tmp"):
                kept.append(relative)
    return sorted(kept)


def _carry(source: Path, target: Path) -> None:
    """A file kept from the published folder, without reading it (a link stays a link)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
