"""The `nnarch` command's entry point. `nnarch build` goes straight to the build daemon when one runs
(daemon.py): this module imports nothing heavy, so handing a build over takes milliseconds, and the
daemon's child parses the command line as `nnarch` would. Everything else, and a build that no
daemon takes, runs in this process (cli.py)."""

from __future__ import annotations

import atexit
import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["build"] and "--no-daemon" not in argv and not {"--help", "-h"} & set(argv):
        from . import daemon
        if daemon.wanted():
            code = daemon.run(argv)
            if code is not None:
                sys.exit(code)
    if argv[:1] == ["build"]:
        from . import jobs
        jobs.START_METHOD = "fork"  # this process has run no torch computation (see jobs.py)
    from .cli import app
    try:
        app(prog_name="nnarch")
        code = 0
    except SystemExit as stop:
        code = exit_status(stop)
    # Every file is written and closed by now: leave without tearing down the interpreter, which
    # with torch, PyG and matplotlib loaded takes 0.6 s. The exit handlers still run.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def exit_status(stop: SystemExit) -> int:
    """The process's exit status for a SystemExit, as the interpreter would make it."""
    if stop.code is None or isinstance(stop.code, int):
        return stop.code or 0
    print(stop.code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    main()
