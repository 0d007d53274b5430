"""Preload: import what every topic run needs (torch, its compiler front end, matplotlib with the
slides' fonts) before any topic runs, with Python's cyclic garbage collector paused.

The imports make some 370,000 objects that live as long as the process, and the collections that
their allocations trigger walked them again and again: 0.5 s of a 2.5 s import. Afterwards they are
frozen, so that no later collection walks them and a forked worker does not copy their pages by
marking them. In a fresh process they are frozen without a last collection, which would take
0.25 s to free the few thousand cycles the imports left (a megabyte or two)."""

from __future__ import annotations

import gc
import importlib
import sys


def preload(*extra: str, collect: bool = False) -> None:
    """Import torch, torch._dynamo (torch.optim imports it at the first optimizer), nnarch's drawing
    (and matplotlib) and the modules named in `extra`. In a process that had not imported torch,
    that is done as above; in any other, they are just imported (a topic run's objects must not be
    frozen with them). `collect`: the process has done other work first (`serve`, a program that
    calls `build`), whose garbage is freed before anything is frozen."""
    names = ("torch._dynamo", "nnarch.figures", *extra)
    if "torch" in sys.modules:
        for name in names:
            importlib.import_module(name)
        return
    paused = gc.isenabled()
    gc.disable()
    try:
        for name in names:
            importlib.import_module(name)
    finally:
        if paused:
            gc.enable()
    if collect:
        gc.collect()
    gc.freeze()
