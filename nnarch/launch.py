"""The `nnarch` command's entry point. `nnarch build` goes straight to the build daemon when one runs
(daemon.py): this module imports nothing heavy, so handing a build over takes milliseconds, and the
daemon's child parses the command line as `nnarch` would. Everything else, and a build that no
daemon takes, runs in this process (cli.py)."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["build"] and "--no-daemon" not in argv and not {"--help", "-h"} & set(argv):
        from . import daemon
        if daemon.wanted():
            code = daemon.run(argv)
            if code is not None:
                sys.exit(code)
    from .cli import app
    app(prog_name="nnarch")


if __name__ == "__main__":
    main()
