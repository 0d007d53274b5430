"""Plan: decide which lectures and topics this build covers."""

from __future__ import annotations

from dataclasses import dataclass

from .discover import Discovered, LectureSource, TopicSource
from .errors import NnarchError, did_you_mean


@dataclass(frozen=True)
class Plan:
    lectures: tuple[LectureSource, ...]
    topics: tuple[TopicSource, ...]


def make_plan(discovered: Discovered, wanted: tuple[str, ...] = ()) -> Plan:
    """All topics, or only those named on the command line (then only their lectures)."""
    every = [(lec, src) for lec in discovered.lectures for src in lec.topics]
    declared = {name for lec in discovered.lectures for name in lec.lecture.topics}
    for name in wanted:
        if name not in declared:
            raise NnarchError(f"no topic '{name}'{did_you_mean(name, declared)}; "
                              "'nnarch list' shows the topics")
    chosen = [(lec, src) for lec, src in every if not wanted or src.name in wanted]
    lectures = [lec for lec in discovered.lectures
                if not wanted or any(name in wanted for name in lec.lecture.topics)]
    return Plan(tuple(lectures), tuple(src for _, src in chosen))
