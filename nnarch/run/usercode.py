"""Calling the code of a topic: every exception becomes a TopicError that says where, in the topic's own
files, it happened (as sphinx-gallery reports a failing example): nnarch's and the libraries' frames
stay out of the message; `--debug` shows the whole traceback.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from nnarch.errors import NnarchError, TopicError, did_you_mean, rel


def call(fn, *args, where: Path, what: str, fix: str = "", **kwargs):
    """fn(*args, **kwargs); an exception (SystemExit included) names `where`'s file:line and `what`."""
    try:
        return fn(*args, **kwargs)
    except NnarchError:
        raise
    except (Exception, SystemExit) as error:  # KeyboardInterrupt still stops the build
        raise topic_error(error, where, what, fix) from error


def topic_error(error: BaseException, where: Path, what: str, fix: str = "") -> TopicError:
    """A one-line error at the innermost frame of the lecture's own files."""
    folder = Path(where).resolve().parent
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve().is_relative_to(folder)]
    line = f":{frames[-1].lineno}" if frames else ""
    path = rel(frames[-1].filename) if frames else rel(where)
    kind = "SystemExit (a topic must not exit)" if isinstance(error, SystemExit) else type(error).__name__
    detail = str(error).splitlines()[0] if str(error) else ""
    if isinstance(error, AttributeError) and error.name and error.obj is not None:  # as Python's own traceback
        detail += did_you_mean(error.name, [n for n in dir(error.obj) if not n.startswith("_")])
    message = f"{path}{line}: {what}: {kind}" + (f": {detail}" if detail else "")
    return TopicError(message + (f"; {fix}" if fix else ""))
