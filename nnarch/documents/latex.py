"""Compile: run latexmk (pdflatex) on a deck and turn a failure into the frame, line and error."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path

from nnarch.errors import EnvironmentProblem, LatexError
from nnarch.toolchain import install_hint

FRAME_MARK = re.compile(r"^% nnarch-frame (\d+)$")
OVERFULL = re.compile(r"^Overfull \\([hv])box \((\d+(?:\.\d+)?)pt too (?:wide|high)\)")
SHIPPED = re.compile(r"\[(\d+)(?=[\s\]<{]|$)")
TOLERANCE_PT = 1.0
ERROR_LINE = re.compile(r"^(?:.*?\.tex:(\d+): |! )(.*)$")


def require_latexmk() -> str:
    """The path of latexmk, or an EnvironmentProblem saying how to install it."""
    found = shutil.which("latexmk")
    if not found:
        raise EnvironmentProblem(f"latexmk: not found on PATH; install TeX Live: {install_hint()}")
    return found


class Compiler:
    """The LaTeX runs of one build, owned by it: `stop` ends every one under way (latexmk and its
    pdflatex, on an interrupt or a failure) and lets none start after it."""

    def __init__(self):
        self._running: set = set()
        self._stopped = False
        self._lock = threading.Lock()

    def compile(
        self, tex_path: Path, frame_titles: dict[int, tuple[str, str]], timeout: int = 300, preamble: str | None = None
    ) -> Path:
        """Compile a document in its folder; return the PDF, or raise LatexError. A document whose
        source and figures are what its PDF was made from is not compiled again. `preamble` names the
        format its preamble is precompiled into (see prepare_format), by default the document's own."""
        latexmk = require_latexmk()
        inputs = _inputs_digest(tex_path)
        stamp, pdf = tex_path.with_suffix(".inputs"), tex_path.with_suffix(".pdf")
        if pdf.exists() and stamp.exists() and stamp.read_text() == inputs:
            return pdf
        if not stamp.exists():  # the last compile here did not finish (killed, or failed): start clean
            for leftover in AUXILIARY:
                tex_path.with_suffix(leftover).unlink(missing_ok=True)
        stamp.unlink(missing_ok=True)  # until this compile finishes
        env = _environment()
        head, marker, body = tex_path.read_text().partition(PREAMBLE_END + "\n")
        fmt = _format(tex_path.parent, preamble or tex_path.stem, head, env, timeout, self.run) if marker else None
        if fmt and _passes(tex_path, body, fmt, env, timeout, self.run):
            stamp.write_text(inputs)
            return pdf
        # latexmk on the document itself, from a clean start (a run killed half-way leaves .aux
        # inconsistent): its errors name the lines of the .tex, and this says whether the format failed.
        for made in tex_path.parent.glob(tex_path.stem + ".*"):
            if made.suffix != ".tex":
                made.unlink()
        proc = self.run(
            [
                latexmk,
                "-pdf",
                "-interaction=nonstopmode",
                "-halt-on-error",
                "-file-line-error",
                "-silent",
                tex_path.name,
            ],
            tex_path.parent,
            env,
            timeout,
        )
        if proc.returncode != 0 or not pdf.exists():
            log = tex_path.with_suffix(".log")
            text = log.read_text(errors="replace") if log.exists() else proc.stdout + proc.stderr
            raise LatexError(explain_failure(tex_path, text, frame_titles))
        if fmt:  # the document is fine, so the format was what failed: make it again next time
            Path(f"{fmt}.fmt").unlink(missing_ok=True)
        stamp.write_text(inputs)
        return pdf

    def prepare_format(self, folder: Path, name: str, head: str) -> threading.Thread:
        """Make the format `name` for a preamble now, in the background, so that a first build makes
        it while its topics run rather than after them; a compile that needs it waits for it."""

        def make():
            with contextlib.suppress(Exception):  # the compile makes it again, and reports what fails
                _format(folder, name, head, _environment(), 300, self.run)

        thread = threading.Thread(target=make, name=f"format {name}", daemon=True)
        thread.start()
        return thread

    def run(self, cmd, cwd: Path, env: dict, timeout: int) -> subprocess.CompletedProcess:
        with self._lock:  # stop() comes before this, or stops this one too
            if self._stopped:
                raise LatexError(f"{cwd}: stopped")
            # latexmk in a process group of its own, so that stopping it stops its pdflatex too
            proc = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
            )
            self._running.add(proc)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise LatexError(f"{cwd / cmd[-1]}: {Path(cmd[0]).name} did not finish within {timeout} s") from None
        except BaseException:
            _stop(proc)
            raise
        finally:
            self._running.discard(proc)
        return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)

    def stop(self) -> None:
        """Stop every latexmk (and its pdflatex) under way, and start none for the compiles still
        running (a killed pass would otherwise go on to latexmk after the build has returned)."""
        with self._lock:
            self._stopped = True
            running = list(self._running)
        for proc in running:
            _stop(proc)


def _environment() -> dict:
    # Reproducible PDFs: pdfTeX takes its dates from SOURCE_DATE_EPOCH when FORCE_SOURCE_DATE is set.
    env = dict(os.environ, FORCE_SOURCE_DATE="1")
    env.setdefault("SOURCE_DATE_EPOCH", "1700000000")
    return env


PREAMBLE_END = "% nnarch: the lines above are precompiled into a format (latex.py)"
AUXILIARY = (".aux", ".nav", ".snm", ".toc", ".out")  # what a pass reads back from the last
MAX_PASSES = 5  # latexmk's own limit
# A document that reads nothing from a last pass says so with this line in its log: the handouts
# always, the deck when what it was given up front proved right (templates/*-preamble.tex.j2).
ONE_PASS = "nnarch: one pass is enough"
_MAKING: dict[Path, threading.Lock] = {}  # one lock per format folder: one dump at a time
_MAKING_LOCK = threading.Lock()


def preamble(text: str) -> str:
    """The part of a rendered document that goes into its format: the lines above the marker."""
    return text.partition(PREAMBLE_END)[0]


def _format(folder: Path, name: str, head: str, env: dict, timeout: int, run) -> Path | None:
    """The pdfTeX format (its path without .fmt) of a preamble, in folder/format/NAME/: the
    preamble is loaded once into a format (beamer's alone takes 0.3 s of every pass), and each
    pass reads the body only. Documents with one preamble share it. It is made again when the
    preamble, or any file TeX read to make it (a package, LaTeX's own format), changes. None if
    pdfTeX cannot make one."""
    pdftex = shutil.which("pdftex")
    if not pdftex:
        return None
    where = folder / "format" / name
    key = _digest(head, pdftex, str(os.stat(pdftex).st_mtime_ns))[:12]
    fmt, read = where / f"{key}.fmt", where / f"{key}.read"
    with _MAKING_LOCK:
        lock = _MAKING.setdefault(where, threading.Lock())
    with lock:
        if fmt.exists() and read.exists() and _unchanged(json.loads(read.read_text())):
            return fmt.with_suffix("")
        where.mkdir(parents=True, exist_ok=True)
        for old in where.iterdir():
            old.unlink()
        (where / f"{key}.tex").write_text(head + "\\dump\n")
        made = run(
            [
                pdftex,
                "-ini",
                "-recorder",
                "-interaction=nonstopmode",
                "-halt-on-error",
                f"-jobname={key}-new",
                "&pdflatex",
                f"{key}.tex",
            ],
            where,
            env,
            timeout,
        )
        new = where / f"{key}-new.fmt"
        if made.returncode != 0 or not new.exists():
            return None
        read.write_text(json.dumps(_read_by(where / f"{key}-new.fls")))
        os.replace(new, fmt)  # a dump cut short never passes for a format
        return fmt.with_suffix("")


def _read_by(fls: Path) -> dict[str, int]:
    """The files a TeX run read (its -recorder list), each with its modification time."""
    paths = {line[6:] for line in fls.read_text(errors="replace").splitlines() if line.startswith("INPUT /")}
    return {path: os.stat(path).st_mtime_ns for path in sorted(paths) if os.path.exists(path)}


def _unchanged(files: dict[str, int]) -> bool:
    try:
        return all(os.stat(path).st_mtime_ns == mtime for path, mtime in files.items())
    except OSError:
        return False


def _digest(*parts: str) -> str:
    import hashlib

    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _passes(tex_path: Path, body: str, fmt: Path, env: dict, timeout: int, run) -> bool:
    """pdflatex on the body with the format, pass after pass until the auxiliary files come out of
    a pass as they went in: latexmk's fixpoint (one pass after an edit that moves nothing, two on a
    first build), without its bookkeeping (about 0.2 s a run: Perl, and hashing every file the run
    read). False on an error or with no fixpoint: latexmk then compiles the document itself."""
    pdflatex = shutil.which("pdflatex")
    if not pdflatex:
        return False
    body_path = tex_path.with_suffix(".body.tex")
    if not body_path.exists() or body_path.read_text() != body:
        body_path.write_text(body)
    before = _auxiliary(tex_path)
    for _ in range(MAX_PASSES):
        proc = run(
            [
                pdflatex,
                f"-fmt={os.path.relpath(fmt, tex_path.parent)}",
                f"-jobname={tex_path.stem}",
                "-interaction=nonstopmode",
                "-halt-on-error",
                "-file-line-error",
                body_path.name,
            ],
            tex_path.parent,
            env,
            timeout,
        )
        if proc.returncode != 0 or not tex_path.with_suffix(".pdf").exists():
            return False
        after = _auxiliary(tex_path)
        if after == before or ONE_PASS in proc.stdout.splitlines():
            return True
        before = after
    return False


def _auxiliary(tex_path: Path) -> dict[str, bytes]:
    return {suffix: path.read_bytes() for suffix in AUXILIARY if (path := tex_path.with_suffix(suffix)).exists()}


def _inputs_digest(tex_path: Path) -> str:
    import hashlib

    digest = hashlib.sha256(tex_path.read_bytes())
    for figure in sorted((tex_path.parent / "figures").glob("*.pdf")):
        digest.update(figure.name.encode() + figure.read_bytes())
    return digest.hexdigest()


def _stop(proc) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def explain_failure(tex_path: Path, log: str, frame_titles: dict[int, tuple[str, str]]) -> str:
    """The frame title, the .tex line and the log's error lines of a failed LaTeX run."""
    lines = log.splitlines()
    errors: list[str] = []
    tex_line = None
    for i, line in enumerate(lines):
        match = ERROR_LINE.match(line)
        if match:
            tex_line = tex_line or (int(match.group(1)) if match.group(1) else None)
            errors.extend(text for text in lines[i : i + 3] if text.strip())
            if len(errors) >= 6:
                break
    for line in lines:
        found = re.match(r"^l\.(\d+) ", line)
        if tex_line is None and found:
            tex_line = int(found.group(1))
    frame = _frame_at(tex_path, tex_line, frame_titles) if tex_line else None
    where = f"{tex_path}:{tex_line}" if tex_line else str(tex_path)
    # the author's file first: the frame's Markdown, then where in the generated LaTeX
    head = f"{frame[1]}: LaTeX failed in frame '{frame[0]}' ({where})" if frame else f"{where}: LaTeX failed"
    body = "\n  ".join(errors[:6]) or "(no error lines in the log)"
    hint = (
        "look for unbalanced braces or $ in the text"
        if not tex_line
        else f"fix that frame's text ({tex_path.name} line {tex_line})"
        if frame
        else f"fix the text at {tex_path.name} line {tex_line}"
    )
    return f"{head}:\n  {body}\n  {hint}"


def layout_problems(tex_path: Path, pages: dict[int, tuple[str, str]]) -> list[str]:
    """Every box more than a point too wide or too high in a compiled document's log, as a message
    naming the frame (its title and Markdown file:line, by the page it is on) and what to do."""
    log = tex_path.with_suffix(".log")
    text = log.read_text(errors="replace") if log.exists() else ""
    problems, pending = [], []
    for line in text.splitlines():
        match = OVERFULL.match(line)
        if match and float(match.group(2)) > TOLERANCE_PT:
            pending.append((match.group(1), float(match.group(2))))
        for page in SHIPPED.findall(line):  # the page those boxes were on has just been written
            for kind, amount in pending:
                problems.append(_layout_message(kind, amount, pages.get(int(page)), f"{tex_path.name}, page {page}"))
            pending = []
    return problems


def _layout_message(kind: str, amount: float, frame, where: str) -> str:
    if kind == "v":
        what, fix = "too high", "cut or split it (frames are never shrunk)"
    else:
        what, fix = "too wide", "shorten the line, the listing, the formula or the table that runs off it"
    if frame:
        return f"{frame[1]}: frame '{frame[0]}' is {amount:.1f} pt {what}; {fix}"
    return f"{where}: a box is {amount:.1f} pt {what}; {fix}"


def _frame_at(tex_path: Path, line_no: int, frame_titles: dict[int, tuple[str, str]]) -> tuple[str, str] | None:
    """(title, Markdown file:line) of the frame that holds line `line_no` of the .tex."""
    if not tex_path.exists():
        return None
    current = None
    for number, line in enumerate(tex_path.read_text().splitlines(), start=1):
        if number > line_no:
            break
        match = FRAME_MARK.match(line)
        if match:
            current = frame_titles.get(int(match.group(1)))
    return current
