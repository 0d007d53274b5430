"""Publish: write finished artifacts into build/ atomically, and the build report."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import BuildBusy, EnvironmentProblem


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def copy_atomic(source: Path, target: Path) -> None:
    write_atomic(target, Path(source).read_bytes())


def write_report(path: Path, report: dict) -> None:
    write_atomic(path, json.dumps(report, indent=2, sort_keys=True, default=_plain) + "\n")


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def ensure_writable(folder: Path) -> None:
    """Fail early, with the fix, when build/ cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-", delete=True)
        probe.close()
    except OSError as error:
        raise EnvironmentProblem(f"{folder}: cannot write there ({error.strerror}); fix its "
                                 "permissions or pass --out DIR") from None


def clean(folder: Path) -> bool:
    """Remove the build folder; True if there was one."""
    if folder.exists():
        shutil.rmtree(folder)
        return True
    return False


@contextmanager
def build_lock(folder: Path):
    """Hold an exclusive lock on the build folder; a second build exits with a clear message."""
    path = folder / ".lock"
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise BuildBusy(f"{folder}: another nnarch build is running on this folder (pid {owner}); "
                        "wait for it to finish, or build into another folder with --out DIR") from None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)  # the kernel also drops it if the process is killed
        handle.close()


def sweep_temporaries(folder: Path) -> None:
    """Remove temporary files a killed build left behind; finished artifacts are never temporary."""
    for leftover in folder.rglob(".*.tmp"):
        leftover.unlink(missing_ok=True)
