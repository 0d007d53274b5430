"""Options: what one build is asked to do, as the command line or a caller gives it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Budget(StrEnum):
    full = "full"
    quick = "quick"


@dataclass(frozen=True)
class Options:
    lectures: Path = Path("lectures")
    out: Path = Path("build")
    device: str = "auto"
    topics: tuple[str, ...] = ()
    fail_fast: bool = False
    budget: str = "full"  # "quick": the topics' quick recipes, claims not enforced
    force: tuple[str, ...] = ()  # topics to retrain even when cached; "all" for every one
    # processes that run topics; 0: none (this process runs them: the default for a caller, the
    # tests and a debugger); None: one per core (what `nnarch build` asks for unless told -j N)
    jobs: int | None = 0
    max_train_seconds: float | None = None  # a limit for every topic's training
    max_topic_seconds: float | None = None  # a limit for every topic as a whole (in worker processes)
    scheduler: str | None = None  # a Dask scheduler's address: train there (run/cluster.py)
    scheduler_timeout: float = 10.0  # seconds to wait for that scheduler to answer
    on_html: Callable[[Path, str], None] | None = None  # `serve`: (lecture folder, deck HTML) once rendered

    @property
    def cache_dir(self) -> Path:
        return self.out / ".cache"

    @property
    def preview(self) -> bool:
        """Some topics only, or their quick recipes: what builds goes to out/preview/, never a release."""
        return bool(self.topics) or self.budget == "quick"

    def forced(self, topic: str) -> bool:
        return topic in self.force or "all" in self.force

    def work_dir(self, lecture_folder: Path) -> Path:
        """Where a lecture's figures and LaTeX are made before they are published."""
        return self.out / ".work" / lecture_folder.name
