"""Baseline: what changed on the slides since the last accepted release.

`accept` copies a built lecture's `snapshot.json` and its figures' small PNGs into a folder meant for
version control beside the lecture (`lectures/LECTURE/baseline/`). `compare` reads a new build
against it: numbers that moved beyond their tolerance, claims whose value or verdict changed,
parameter counts and shapes, frames added, removed or reworded (a word diff), and figures whose
difference image has an RMS beyond a perceptual tolerance (as pytest-mpl compares, with
matplotlib's own `calculate_rms`). `write_report` writes it as one HTML page.
"""

from __future__ import annotations

import base64
import difflib
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnarch.cache.fingerprint import BASELINE
from nnarch.errors import UsageError

__all__ = ["BASELINE", "Changes", "accept", "compare", "locate", "write_report"]
DEFAULT_TOLERANCE = {"count": 0.0, "metric": 0.02, "number": 0.005}
"""How far a number may move, relative to the baseline's, before it is reported: counts exactly;
measured metrics, losses and claims 2 % (what another CPU or a library's patch release moves);
every other number 0.5 %. A topic's `tolerances` set its own metrics' (recorded in the snapshot)."""
FIGURE_RMS = 2.0
"""The RMS (0–255) of a figure's difference image beyond which it has changed: pytest-mpl's default."""


@dataclass
class Changes:
    frames: list[dict] = field(default_factory=list)  # added, removed or reworded
    numbers: list[dict] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)
    models: list[dict] = field(default_factory=list)  # parameter counts and shapes
    figures: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.frames, self.numbers, self.claims, self.models, self.figures))

    def frame_titles(self) -> list[str]:
        """The frames that differ in any way: words, numbers or figures."""
        titles = [f["title"] for f in self.frames]
        titles += [n["where"] for n in self.numbers if n["where"].startswith("frame")]
        titles += [f["where"] for f in self.figures if f["where"]]
        return list(dict.fromkeys(titles))

    def summary(self) -> list[str]:
        counts = [
            (len(self.frames), "frame", "added, removed or reworded"),
            (len(self.numbers), "number", "moved beyond tolerance"),
            (len(self.claims), "claim", "changed in value or verdict"),
            (len(self.models), "model", "changed in parameters or shapes"),
            (len(self.figures), "figure", f"differs beyond RMS {FIGURE_RMS:g}"),
        ]
        lines = [f"{n} {word}{'s' if n != 1 else ''} {what}" for n, word, what in counts if n]
        return lines or ["nothing changed beyond tolerance"]


def locate(lectures: Path, out: Path, name: str | None) -> tuple[Path, Path, str]:
    """(baseline folder, built lecture folder, title) of the lecture NAME (its package's folder or
    its slug); without a name, the course's only lecture."""
    from nnarch.source.discover import choose, discover

    lecture = choose(discover(lectures), name, lectures)
    return lecture.path / BASELINE, out / lecture.lecture.slug, lecture.lecture.title


def release_snapshot(release: Path) -> dict:
    path = release / "snapshot.json"
    if not path.exists():
        raise UsageError(f"{path}: not found; build the lecture first ('nnarch build')")
    return json.loads(path.read_text())


def accept(release: Path, folder: Path) -> int:
    """Make the built lecture in `release` the baseline in `folder`; return the baseline's size in bytes."""
    data = release_snapshot(release)
    staged = folder.with_name(folder.name + ".new")
    shutil.rmtree(staged, ignore_errors=True)
    (staged / "figures").mkdir(parents=True)
    (staged / "snapshot.json").write_bytes((release / "snapshot.json").read_bytes())
    for topic in data["topics"].values():
        for stem in topic["figures"]:
            shutil.copyfile(release / "figures" / f"{stem}.png", staged / "figures" / f"{stem}.png")
    shutil.rmtree(folder, ignore_errors=True)
    staged.rename(folder)
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def compare(folder: Path, release: Path) -> Changes:
    """What the build in `release` changes against the baseline in `folder`."""
    if not (folder / "snapshot.json").exists():
        raise UsageError(f"{folder}: no baseline yet; make one from a build you trust with 'nnarch accept'")
    old, new = json.loads((folder / "snapshot.json").read_text()), release_snapshot(release)
    changes = Changes()
    _frames(old["frames"], new["frames"], changes)
    for name in sorted(set(old["topics"]) | set(new["topics"])):
        was, now = old["topics"].get(name), new["topics"].get(name)
        if was is None or now is None:
            changes.models.append({"topic": name, "what": "topic added" if was is None else "topic removed"})
            continue
        _topic(name, was, now, changes)
        for stem in sorted(set(was["figures"]) | set(now["figures"])):
            where = next((_label(f) for f in new["frames"] if stem in f["figures"]), "")
            figure = _figure(folder / "figures" / f"{stem}.png", release / "figures" / f"{stem}.png")
            if figure:
                changes.figures.append({"name": stem, "where": where, **figure})
    return changes


def _frames(old: list[dict], new: list[dict], changes: Changes) -> None:
    """Frames matched by file and title, in order; a frame whose title changed is still the same
    frame, reworded (a replaced run pairs its frames up, the rest were added or removed)."""
    matcher = difflib.SequenceMatcher(a=[f["key"] for f in old], b=[f["key"] for f in new], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        pairs = list(zip(old[i1:i2], new[j1:j2])) if op in ("equal", "replace") else []
        for a, b in pairs:
            _frame(a, b, changes)
        for f in old[i1 + len(pairs) : i2]:
            changes.frames.append({"status": "removed", "title": _label(f), "words": [("delete", f["text"])]})
        for f in new[j1 + len(pairs) : j2]:
            changes.frames.append({"status": "added", "title": _label(f), "words": [("insert", f["text"])]})


def _frame(a: dict, b: dict, changes: Changes) -> None:
    if a["text"] != b["text"]:
        changes.frames.append({"status": "reworded", "title": _label(b), "words": word_diff(a["text"], b["text"])})
    old_values = {v["ref"]: v for v in a["values"]}
    for v in b["values"]:
        was = old_values.get(v["ref"])
        if was is not None and _moved(was, v):
            changes.numbers.append(_number(_label(b), was, v))


def _label(frame: dict) -> str:
    return f"frame {frame['number']}: {frame['title']}"


def _topic(name: str, was: dict, now: dict, changes: Changes) -> None:
    if was["params"] != now["params"] or was["layers"] != now["layers"]:
        changes.models.append({"topic": name, "what": f"parameters {was['params']:,} → {now['params']:,}"})
    if was["shapes"] != now["shapes"]:
        changes.models.append({"topic": name, "what": "traced shapes changed"})
    old_numbers = {n["ref"]: n for n in was["handout"]}
    for n in now["handout"]:
        if n["ref"] in old_numbers and _moved(old_numbers[n["ref"]], n):
            changes.numbers.append(_number(f"handout: {name}", old_numbers[n["ref"]], n))
    old_claims = {c["text"]: c for c in was["claims"]}
    for c in now["claims"]:
        before = old_claims.pop(c["text"], None)
        if before is None:
            changes.claims.append({"topic": name, "text": c["text"], "old": "—", "new": _verdict(c)})
        elif before["ok"] != c["ok"] or before["held"] != c["held"] or _moved(before, c, key="measured"):
            changes.claims.append({"topic": name, "text": c["text"], "old": _verdict(before), "new": _verdict(c)})
    for c in old_claims.values():
        changes.claims.append({"topic": name, "text": c["text"], "old": _verdict(c), "new": "—"})


def _verdict(claim: dict) -> str:
    held = f" at {claim['held']} of {claim['runs']} seeds" if claim.get("runs") else ""
    return f"{claim['measured']:.4g}: {'holds' if claim['ok'] else 'fails'}{held}"


def tolerance(entry: dict) -> float:
    """The relative tolerance of a number of the snapshot: its own, or its kind's."""
    if "tolerance" in entry:
        return entry["tolerance"]
    kind = entry.get("kind", "number")
    if kind.startswith("metric:"):
        kind = "metric"
    return DEFAULT_TOLERANCE.get(kind, DEFAULT_TOLERANCE["number"])


def _moved(was: dict, now: dict, key: str = "value") -> bool:
    """Whether a number moved beyond the relative tolerance of its kind (the new entry's)."""
    a, b = was.get(key), now.get(key)
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return was.get("shown") != now.get("shown")
    scale = max(abs(a), abs(b))
    return scale > 0 and abs(a - b) > tolerance(now) * scale


def _number(where: str, was: dict, now: dict) -> dict:
    """A value that moved; a text value ('1–32–1', which has no number) has no relative change."""
    a, b = was.get("value"), now.get("value")
    numbers = isinstance(a, (int, float)) and isinstance(b, (int, float))
    change = ((b - a) / abs(a) if a else float("inf")) if numbers else None
    return {
        "where": where,
        "ref": now["ref"],
        "old": was.get("shown") or f"{a:.4g}",  # a text value is always shown
        "new": now.get("shown") or f"{b:.4g}",
        "change": change,
    }


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(op, words) runs of a word diff: 'equal', 'delete' or 'insert'."""
    a, b = old.split(), new.split()
    runs: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op in ("equal", "delete", "replace"):
            runs.append(("equal" if op == "equal" else "delete", " ".join(a[i1:i2])))
        if op in ("insert", "replace"):
            runs.append(("insert", " ".join(b[j1:j2])))
    return runs


def _figure(old: Path, new: Path) -> dict[str, Any] | None:
    """None when the figure looks the same, else its RMS and the old, new and difference images."""
    import numpy as np
    from matplotlib.testing.compare import calculate_rms
    from PIL import Image

    images = [np.asarray(Image.open(p).convert("RGB")).astype(np.int16) for p in (old, new) if p.exists()]
    if len(images) < 2 or images[0].shape != images[1].shape:  # added, removed or resized
        return {"rms": None, "old": _data_uri(old), "new": _data_uri(new), "diff": None}
    a, b = images
    rms = float(calculate_rms(a, b))
    if rms <= FIGURE_RMS:
        return None
    difference = np.clip(255 - np.abs(a - b).max(axis=2) * 4, 0, 255).astype(np.uint8)  # dark where it differs
    buffer = io.BytesIO()
    Image.fromarray(difference).save(buffer, format="PNG")
    return {"rms": rms, "old": _data_uri(old), "new": _data_uri(new), "diff": _png_uri(buffer.getvalue())}


def _data_uri(path: Path) -> str | None:
    return _png_uri(path.read_bytes()) if path.exists() else None


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def write_report(changes: Changes, title: str, path: Path) -> None:
    """diff.html: the summary, then per frame its words old and new, the numbers, claims, models
    and figures that changed (the figures old, new and their difference)."""
    from nnarch.documents.render import html_environment
    from nnarch.files import write_atomic

    write_atomic(path, html_environment().get_template("diff.html.j2").render(title=title, changes=changes))
