"""Stopping a command: SIGTERM and Ctrl-C end it the same way, each with its own exit code."""

from __future__ import annotations

import signal
from contextlib import contextmanager


class Terminated(BaseException):
    """SIGTERM arrived: stop like Ctrl-C, with its own exit code."""


def _stopping(signum, frame):
    """SIGTERM or Ctrl-C: stop once, and let a second signal during the shutdown (what `timeout`
    sends to the process and then its group) print nothing more."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def stoppable():
    """SIGTERM and Ctrl-C handled by _stopping while the block runs; once one has arrived, the
    others stay ignored until the command ends."""
    previous = {sig: signal.signal(sig, _stopping) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is _stopping:  # no stop began: back as it was
            for sig, handler in previous.items():
                signal.signal(sig, handler)
