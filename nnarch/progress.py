"""Progress: rich progress bars for the build (topic, epoch, loss) on a terminal; on anything else
(CI, a log file) a plain line per topic every few seconds. And the tables the commands print."""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

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


def summary_table(result) -> Table:
    """The build's summary: per topic its result, time, parameters, headline number and claims."""
    table = Table(title="nnarch build")
    for column in ("topic", "result", "time", "parameters", "headline", "claims"):
        table.add_column(column, justify="right" if column in ("time", "parameters") else "left")
    for o in result.outcomes:
        headline = f"{o.headline[0].split('.')[-1]} = {o.headline[1]:.4g}" if o.headline else "–"
        if o.error:  # the reason, in short; the whole message follows the table
            reason = str(o.error).splitlines()[-1].strip()
            headline = escape(reason if len(reason) <= 60 else reason[:59] + "…")
        passed = sum(c.ok for c in o.claims)
        claims = f"{passed}/{len(o.claims)}" if o.claims else "–"
        colour = "green" if o.status != "failed" else "red"
        table.add_row(
            o.name,
            f"[{colour}]{o.status}[/]",
            f"{o.seconds:.1f} s",
            f"{o.params:,}" if o.params is not None else "–",
            headline,
            claims,
        )
    return table


def parameter_table(title: str, counted: dict) -> Table:
    """A model's parameters, layer by layer, and their total."""
    table = Table(title=title)
    for column in ("layer", "type", "tensors", "parameters"):
        table.add_column(column, justify="right" if column == "parameters" else "left")
    for layer in counted["layers"]:
        tensors = " + ".join("×".join(map(str, s)) for s in layer["shapes"])
        table.add_row(layer["name"], layer["type"], tensors, f"{layer['count']:,}")
    table.add_row("total", "", "", f"{counted['total']:,}", style="bold")
    return table
