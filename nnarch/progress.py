"""Progress: rich progress bars for the build (topic, epoch, loss), drawn on stderr."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .build import Progress as BuildProgress


class RichProgress(BuildProgress):
    """One bar per topic while it trains; stage lines for rendering and compiling."""

    def __init__(self, console: Console):
        self.console = console
        self.bars = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(),
                             console=console, transient=False)
        self.tasks = {}

    def __enter__(self):
        self.bars.__enter__()
        return self

    def __exit__(self, *exc):
        return self.bars.__exit__(*exc)

    def topic_started(self, name, epochs):
        self.tasks[name] = self.bars.add_task(name, total=epochs, loss="–")

    def epoch(self, name, epoch, loss):
        self.bars.update(self.tasks[name], completed=epoch, loss=f"{loss:.3e}")

    def topic_finished(self, outcome):
        if outcome.status == "failed" and outcome.name in self.tasks:
            self.bars.update(self.tasks[outcome.name], description=f"{outcome.name} ✗")

    def stage(self, text):
        self.bars.console.print(f"[dim]{text}[/]")
