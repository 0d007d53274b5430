"""The one family of exceptions nnarch raises; only cli.py prints them and picks the exit code."""

from __future__ import annotations

import difflib


class NnarchError(Exception):
    """Base of every error nnarch reports to a user. `exit_code` is what the CLI exits with."""

    exit_code = 1
    remote_trace: str | None = None  # its traceback in the worker process it was raised in


class TopicError(NnarchError):
    """A topic or lecture module is wrong: the message names the file, the field and the fix."""

    @classmethod
    def listing(cls, lines: list[str]) -> TopicError:
        """One error for several 'file:line: message' lines, each said once."""
        lines = list(dict.fromkeys(lines))  # e.g. one misspelled value twice in a paragraph
        return cls(lines[0] if len(lines) == 1 else f"{len(lines)} problems:\n  " + "\n  ".join(lines))


class TrainingError(NnarchError):
    """Training went wrong (a loss that is not finite, a shape that does not fit)."""


class ClaimError(NnarchError):
    """A claim a slide makes about the run is false."""


class LatexError(NnarchError):
    """latexmk failed; the message holds the frame, the .tex line and the log's error lines."""


class LayoutError(NnarchError):
    """A frame or page of a compiled document does not fit: a box is too wide or too high."""


class UsageError(NnarchError):
    """The command line asks for something that cannot be: an unknown topic, a folder to clean
    that nnarch did not make."""

    exit_code = 2


class EnvironmentProblem(NnarchError):
    """Something outside the project is missing or unusable (latexmk, a writable build/)."""

    exit_code = 3


class BuildBusy(NnarchError):
    """Another build holds the lock on the same build folder."""

    exit_code = 4


def did_you_mean(name: str, choices) -> str:
    """A " (did you mean 'x'?)" suffix for an unknown name, or "" when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def rel(path) -> str:
    """A path as a user would type it: relative to the working directory when it is inside it."""
    from pathlib import Path

    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
