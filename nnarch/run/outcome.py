"""Outcome: what happened to one topic, and what a build tells its caller while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nnarch.errors import NnarchError
from nnarch.run.record import ClaimOutcome


@dataclass
class TopicOutcome:
    """One row of the summary: what happened to a topic and what it measured."""

    name: str
    path: Path
    status: str = "pending"  # "trained", "cached" (weights or record reused), or "failed"
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    params: int | None = None
    headline: tuple[str, float] | None = None
    claims: tuple[ClaimOutcome, ...] = ()
    error: NnarchError | None = None


class Progress:
    """What the build tells its caller while it runs; the CLI draws it, tests ignore it."""

    def topic_started(self, name: str, epochs: int) -> None: ...
    def epoch(self, name: str, epoch: int, loss: float) -> None: ...
    def topic_finished(self, outcome: TopicOutcome) -> None: ...
    def stage(self, text: str) -> None: ...
