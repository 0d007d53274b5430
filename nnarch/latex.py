"""Compile: run latexmk (pdflatex) on a deck and turn a failure into the frame, line and error."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

from .errors import EnvironmentProblem, LatexError

INSTALL_HINT = ("sudo apt-get install latexmk texlive-latex-recommended texlive-pictures lmodern "
                "(or run 'make slides', which installs them when it can)")
FRAME_MARK = re.compile(r"^% nnarch-frame (\d+)$")
OVERFULL = re.compile(r"^Overfull \\([hv])box \((\d+(?:\.\d+)?)pt too (?:wide|high)\)")
SHIPPED = re.compile(r"\[(\d+)(?=[\s\]<{]|$)")
TOLERANCE_PT = 1.0
ERROR_LINE = re.compile(r"^(?:.*?\.tex:(\d+): |! )(.*)$")


def require_latexmk() -> str:
    """The path of latexmk, or an EnvironmentProblem saying how to install it."""
    found = shutil.which("latexmk")
    if not found:
        raise EnvironmentProblem(f"latexmk: not found on PATH; install TeX Live: {INSTALL_HINT}")
    return found


def compile_pdf(tex_path: Path, frame_titles: dict[int, str], timeout: int = 300) -> Path:
    """Run latexmk in the .tex file's folder; return the PDF, or raise LatexError. A document whose
    source and figures are what its PDF was made from is not compiled again."""
    latexmk = require_latexmk()
    inputs = _inputs_digest(tex_path)
    stamp, pdf = tex_path.with_suffix(".inputs"), tex_path.with_suffix(".pdf")
    if pdf.exists() and stamp.exists() and stamp.read_text() == inputs:
        return pdf
    # Reproducible PDFs: pdfTeX takes its dates from SOURCE_DATE_EPOCH when FORCE_SOURCE_DATE is set.
    env = dict(os.environ, FORCE_SOURCE_DATE="1")
    env.setdefault("SOURCE_DATE_EPOCH", "1700000000")
    fmt = _format(tex_path, env, timeout)
    if fmt and _one_pass(tex_path, env, timeout, fmt):
        stamp.write_text(inputs)
        return pdf
    plain = [latexmk, "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "-silent"]
    if fmt:
        proc = _run(plain + [f"-jobname={tex_path.stem}", f"-pdflatex=pdflatex -fmt={fmt[0]} %O %S",
                             fmt[1]], tex_path, env, timeout)
    if not fmt or proc.returncode != 0 or not pdf.exists():
        # A run killed half-way leaves .aux and latexmk's database inconsistent: start clean, from
        # the document itself, whose line numbers the error names.
        for leftover in tex_path.parent.glob(tex_path.stem + ".*"):
            if leftover.suffix != ".tex":
                leftover.unlink()
        proc = _run(plain + [tex_path.name], tex_path, env, timeout)
        if fmt and proc.returncode == 0:  # the format was what failed: make it again next time
            (tex_path.parent / f"{fmt[0]}.fmt").unlink(missing_ok=True)
    if proc.returncode != 0 or not pdf.exists():
        log = tex_path.with_suffix(".log")
        text = log.read_text(errors="replace") if log.exists() else proc.stdout + proc.stderr
        raise LatexError(explain_failure(tex_path, text, frame_titles))
    stamp.write_text(inputs)
    return pdf


PREAMBLE_END = "% nnarch: the lines above are precompiled into a format (latex.py)"
AUXILIARY = (".aux", ".nav", ".snm", ".toc", ".out", ".vrb")  # what a pass reads back from the last


def _format(tex_path: Path, env: dict, timeout: int) -> tuple[str, str] | None:
    """(format, body file), both in format/STEM/, for a document whose template marks where its
    preamble ends: the preamble is loaded once into a pdfTeX format (beamer's alone takes 0.3 s of
    every pass), and each pass reads the body only. The format is made again when the preamble, or
    any file TeX read to make it (a package, LaTeX's own format), changes. None for any other
    document, or if pdfTeX cannot make one."""
    head, marker, body = tex_path.read_text().partition(PREAMBLE_END + "\n")
    pdftex = shutil.which("pdftex")
    if not marker or not pdftex:
        return None
    where = f"format/{tex_path.stem}"  # each document's own: making one never removes another's
    folder, name = tex_path.parent / where, _digest(head, pdftex, str(os.stat(pdftex).st_mtime_ns))[:12]
    fmt, read = folder / f"{name}.fmt", folder / f"{name}.read"
    if not (fmt.exists() and read.exists() and _unchanged(json.loads(read.read_text()))):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        (folder / f"{name}.tex").write_text(head + "\\dump\n")
        made = _run([pdftex, "-ini", "-recorder", "-interaction=nonstopmode", "-halt-on-error",
                     f"-jobname={name}-new", f"-output-directory={where}", "&pdflatex", f"{where}/{name}.tex"],
                    tex_path, env, timeout)
        new = folder / f"{name}-new.fmt"
        if made.returncode != 0 or not new.exists():
            return None
        read.write_text(json.dumps(_read_by(folder / f"{name}-new.fls")))
        os.replace(new, fmt)  # a dump cut short never passes for a format
    body_path = folder / "body.tex"
    if not body_path.exists() or body_path.read_text() != body:
        body_path.write_text(body)
    return f"{where}/{name}", f"{where}/body.tex"


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


def _one_pass(tex_path: Path, env: dict, timeout: int, fmt: tuple[str, str]) -> bool:
    """After an edit, one pdflatex pass is all the document needs when its auxiliary files come out
    of the pass as they went in: the fixpoint latexmk looks for. Run it directly, without latexmk's
    bookkeeping (about 0.2 s: Perl, and hashing every file the run read); anything else (a first
    build, a new page or section, an error) goes to latexmk."""
    before = _auxiliary(tex_path)
    pdflatex = shutil.which("pdflatex")
    if not before or not pdflatex:
        return False
    proc = _run([pdflatex, f"-fmt={fmt[0]}", f"-jobname={tex_path.stem}", "-interaction=nonstopmode",
                 "-halt-on-error", "-file-line-error", fmt[1]], tex_path, env, timeout)
    return proc.returncode == 0 and tex_path.with_suffix(".pdf").exists() and _auxiliary(tex_path) == before


def _auxiliary(tex_path: Path) -> dict[str, bytes]:
    return {suffix: path.read_bytes() for suffix in AUXILIARY
            if (path := tex_path.with_suffix(suffix)).exists()}


def _inputs_digest(tex_path: Path) -> str:
    import hashlib
    digest = hashlib.sha256(tex_path.read_bytes())
    for figure in sorted((tex_path.parent / "figures").glob("*.pdf")):
        digest.update(figure.name.encode() + figure.read_bytes())
    return digest.hexdigest()


RUNNING: set = set()  # latexmk process groups of this build, stopped together on an interrupt


def _run(cmd, tex_path: Path, env: dict, timeout: int) -> subprocess.CompletedProcess:
    # latexmk in a process group of its own, so that stopping it stops its pdflatex too
    proc = subprocess.Popen(cmd, cwd=tex_path.parent, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    RUNNING.add(proc)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise LatexError(f"{tex_path}: latexmk did not finish within {timeout} s") from None
    except BaseException:
        _stop(proc)
        raise
    finally:
        RUNNING.discard(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def _stop(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def stop_all() -> None:
    """Stop every latexmk (and its pdflatex) this build started."""
    for proc in list(RUNNING):
        _stop(proc)


def explain_failure(tex_path: Path, log: str, frame_titles: dict[int, str]) -> str:
    """The frame title, the .tex line and the log's error lines of a failed LaTeX run."""
    lines = log.splitlines()
    errors, tex_line = [], None
    for i, line in enumerate(lines):
        match = ERROR_LINE.match(line)
        if match:
            tex_line = tex_line or (int(match.group(1)) if match.group(1) else None)
            errors.extend(text for text in lines[i:i + 3] if text.strip())
            if len(errors) >= 6:
                break
    for line in lines:
        found = re.match(r"^l\.(\d+) ", line)
        if tex_line is None and found:
            tex_line = int(found.group(1))
    frame = _frame_at(tex_path, tex_line, frame_titles) if tex_line else None
    frame = f"'{frame[0]}' ({frame[1]})" if frame else None
    where = f"{tex_path}:{tex_line}" if tex_line else str(tex_path)
    head = f"{where}: LaTeX failed" + (f" in frame {frame}" if frame else "")
    body = "\n  ".join(errors[:6]) or "(no error lines in the log)"
    hint = f"fix that frame's text (slides.tex line {tex_line})" if tex_line else \
        "look for unbalanced braces or $ in the text of the frames"
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
                problems.append(_layout_message(kind, amount, pages.get(int(page)),
                                                f"{tex_path.name}, page {page}"))
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


def _frame_at(tex_path: Path, line_no: int, frame_titles: dict[int, str]) -> str | None:
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
