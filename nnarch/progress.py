"""Progress: rich progress bars for the build (topic, epoch, loss) on a terminal; on anything else
(CI, a log file) a plain line per topic every few seconds."""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from nnarch.run.outcome import Progress as BuildProgress

LOG_EVERY_S = 5.0


class RichProgress(BuildProgress):
    """One bar per topic while it trains; stage lines for rendering and compiling."""

    def __init__(self, console: Console):
        self.console = console
        self.live = console.is_terminal
        self.bars = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not self.live,
        )
        self.tasks: dict[str, TaskID] = {}
        self.totals: dict[str, int] = {}
        self.logged: dict[str, float] = {}
        self.finished: set[str] = set()
        self.lock = threading.Lock()

    def __enter__(self):
        self.bars.__enter__()
        return self

    def __exit__(self, *exc):
        return self.bars.__exit__(*exc)

    def topic_started(self, name, epochs):
        with self.lock:  # workers' events arrive on other threads
            if name in self.tasks:  # trained elsewhere: the bar began with the worker's first event
                return
            self.tasks[name] = self.bars.add_task(name, total=epochs, loss="–")
            self.totals[name], self.logged[name] = epochs, time.monotonic()
        if not self.live:
            self.console.print(f"{name}: started ({epochs} epochs)", highlight=False)

    def epoch(self, name, epoch, loss):
        if name in self.finished:  # a worker's last events can arrive after its result
            return
        self.bars.update(self.tasks[name], completed=epoch, loss=f"{loss:.3e}")
        if not self.live and time.monotonic() - self.logged[name] >= LOG_EVERY_S:
            self.logged[name] = time.monotonic()
            self.console.print(f"{name}: epoch {epoch}/{self.totals[name]}, loss {loss:.3e}", highlight=False)

    def topic_finished(self, outcome):
        self.finished.add(outcome.name)
        if outcome.name in self.tasks and outcome.status != "failed":
            self.bars.update(self.tasks[outcome.name], completed=self.totals[outcome.name])
        if outcome.status == "failed" and outcome.name in self.tasks:
            self.bars.update(self.tasks[outcome.name], description=f"{outcome.name} ✗")
        if not self.live:
            self.console.print(f"{outcome.name}: {outcome.status} in {outcome.seconds:.1f} s", highlight=False)

    def stage(self, text):
        self.bars.console.print(f"[dim]{text}[/]")
