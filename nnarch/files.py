"""Files: every file nnarch writes is written whole or not at all."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file. The
    temporary file is created with mode 0666 less the umask, as open() would: what a web server
    can serve, or what a private umask keeps private."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(100):
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{attempt}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"{path}: no free temporary name beside it")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def copy_atomic(source: Path, target: Path) -> None:
    write_atomic(target, Path(source).read_bytes())


def write_json(path: Path, data: object) -> None:
    """JSON as nnarch writes it: sorted keys, two-space indents, arrays as lists."""
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def read_source(path: Path) -> str:
    """A lecture's text file (Markdown or Python): UTF-8, a BOM allowed; anything else is one
    TopicError at the line of the first byte that is not text."""
    from nnarch.errors import TopicError, rel

    data = Path(path).read_bytes().removeprefix(b"\xef\xbb\xbf")  # a BOM, as some editors write
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise TopicError(
            f"{rel(path)}:{line}: byte 0x{data[error.start]:02x} is not UTF-8 text; save the file as UTF-8"
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise TopicError(f"{rel(path)}:{line}: a NUL byte: this is not a text file; save it as UTF-8 text")
    return text
