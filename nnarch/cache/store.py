"""Cache: trained weights, loss histories and drawn figures, keyed by exactly what produced them.

An entry is a folder named by its key, holding `weights.pt` (state dicts only, read back with
`torch.load(weights_only=True)`, so nothing in the cache is ever unpickled as code) and
`entry.json` (histories, timings and the SHA-256 of the weights). An entry whose checksum does not
match is treated as missing and removed: the topic retrains.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from nnarch.cache.fingerprint import digest_files, files_under
from nnarch.files import write_atomic


def data_files_digest(folder: Path) -> str:
    """Every file of a lecture folder that is neither code nor slides: data a topic may read."""
    return digest_files([p for p in files_under(folder) if p.suffix not in (".py", ".md")], folder)


FIGURE_FORMATS = (".pdf", ".svg", ".png")
"""Each figure as PDF (for LaTeX), SVG (for HTML) and a small PNG (for `nnarch diff`'s baseline)."""


class Cache:
    """The cache folder, normally build/.cache."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def load_fit(self, key: str) -> tuple[dict, dict] | None:
        """(state dicts by model name, entry) for a valid entry, else None (a bad one is removed)."""
        folder = self.root / "train" / key
        try:
            entry = json.loads((folder / "entry.json").read_text())
            data = (folder / "weights.pt").read_bytes()
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise ValueError("checksum mismatch")
            import io

            import torch

            states = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
            return states, entry
        except FileNotFoundError:
            return None
        except Exception:  # truncated, corrupted or foreign: drop it and retrain
            shutil.rmtree(folder, ignore_errors=True)
            return None

    def drop_fit(self, key: str) -> None:
        shutil.rmtree(self.root / "train" / key, ignore_errors=True)

    def has_fit(self, key: str) -> bool:
        """Whether an entry exists (its checksum is verified only when it is loaded)."""
        return (self.root / "train" / key / "entry.json").exists()

    def store_fit(self, key: str, states: dict, entry: dict) -> None:
        import io

        import torch

        buffer = io.BytesIO()
        torch.save(states, buffer)
        data = buffer.getvalue()
        folder = self.root / "train" / key
        write_atomic(folder / "weights.pt", data)
        # entry.json last: an entry without it is incomplete and never read.
        write_atomic(folder / "entry.json", json.dumps({**entry, "sha256": hashlib.sha256(data).hexdigest()}))

    def figure_paths(self, key: str) -> tuple[Path, ...]:
        """A figure's files, one per format of FIGURE_FORMATS."""
        folder = self.root / "figures"
        return tuple(folder / f"{key}{suffix}" for suffix in FIGURE_FORMATS)

    def load_record(self, key: str) -> dict | None:
        """A topic's record (see run/record.py) if it and every figure it names are intact, else None.
        Its first line is the SHA-256 of the rest: an edited record is dropped, and the topic runs."""
        path = self.root / "records" / f"{key}.json"
        try:
            checksum, _, text = path.read_bytes().partition(b"\n")
            if hashlib.sha256(text).hexdigest().encode() != checksum:
                raise ValueError("checksum mismatch")
            data = json.loads(text)
            for figure in data["figures"].values():
                if len(figure["sha256"]) != len(FIGURE_FORMATS):
                    raise ValueError("a figure format is missing")
                for file, digest in zip(self.figure_paths(figure["key"]), figure["sha256"]):
                    if file.is_symlink() or _sha256(file) != digest:
                        raise ValueError(f"{file} changed")
            return data
        except FileNotFoundError:
            return None
        except Exception:  # truncated, edited or missing figures: the topic runs again
            path.unlink(missing_ok=True)
            return None

    def has_record(self, key: str) -> bool:
        """Whether a record exists (it is verified only when it is loaded)."""
        return (self.root / "records" / f"{key}.json").exists()

    def store_record(self, key: str, data: dict) -> None:
        for figure in data["figures"].values():
            figure["sha256"] = [_sha256(p) for p in self.figure_paths(figure["key"])]
        # in the order the run made them, so that a restored record renders as the run did (a
        # metrics table in its declared order, not sorted)
        text = json.dumps(data).encode()
        write_atomic(self.root / "records" / f"{key}.json", hashlib.sha256(text).hexdigest().encode() + b"\n" + text)

    def last_seconds(self, topic: Path) -> float:
        """How long the topic module at `topic` trained the last time (0.0: never seen)."""
        return self._timings().get(f"{topic.parent.name}/{topic.name}", 0.0)

    def store_seconds(self, seconds: dict[Path, float]) -> None:
        """Remember how long topics trained, for the next build to start the longest first."""
        timings = self._timings()
        timings.update({f"{path.parent.name}/{path.name}": round(s, 3) for path, s in seconds.items()})
        write_atomic(self.root / "timings.json", json.dumps(timings, sort_keys=True))

    def _timings(self) -> dict:
        try:
            return json.loads((self.root / "timings.json").read_text())
        except (OSError, ValueError):
            return {}


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
