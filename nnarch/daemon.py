"""The build daemon: a process that has imported torch, PyG and matplotlib once and forks a fresh
child for every `nnarch build`, so that a rebuild skips their import (about 3.5 s), as Gradle's
daemon skips the JVM's start.

`nnarch build` hands the daemon its command line, working folder, environment, umask, module path
and terminal (stdin, stdout and stderr as file descriptors, so colours, widths and progress bars are
the terminal's) and waits for the child's exit status; Ctrl-C and SIGTERM are passed on to the child.
The child has imported no topic module: it runs the same command a fresh process would. The daemon
answers only its own user (a 0700 folder, and the peer's uid), and only a client with the same
Python, packages and nnarch sources: any other is refused, and the daemon exits so that the next
build starts one that matches. It exits after NNARCH_DAEMON_IDLE seconds (default 1200) with no
build. NNARCH_DAEMON=0 (or `build --no-daemon`) keeps every build in its own process.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

IDLE_SECONDS = 1200.0  # NNARCH_DAEMON_IDLE overrides it
_PACKAGE = Path(__file__).resolve().parent
_MESSAGE = 1 << 20  # the largest request: a command line and an environment
_INHERITED: list[int] = []
_STATE = {"builds": 0, "since": time.monotonic()}  # in the daemon: builds forked, and when the last was


def wanted(option: bool = True) -> bool:
    """Use a daemon: unless switched off, and only on Linux (descriptor passing, peer credentials)
    with a real stdin, stdout and stderr to hand over."""
    if not option or os.environ.get("NNARCH_DAEMON", "1").lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
        return sys.stdout.fileno() == 1 and sys.stderr.fileno() == 2
    except (OSError, ValueError, AttributeError):  # a test runner's captured output, a closed stdin
        return False


def identity() -> str:
    """What a daemon must share with its client: the interpreter, nnarch's sources and the installed
    packages (a `pip install` touches its site-packages folder)."""
    digest = hashlib.sha256(f"{sys.executable}\0{sys.version}\0{_PACKAGE}".encode())
    for path in sorted(_PACKAGE.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    for entry in sys.path:
        if entry.endswith(("site-packages", "dist-packages")):
            try:
                digest.update(f"{entry}={os.stat(entry).st_mtime_ns}".encode())
            except OSError:
                pass
    return digest.hexdigest()


def socket_path() -> Path:
    """One daemon per interpreter and nnarch checkout, in a folder only this user may enter."""
    folder = Path(tempfile.gettempdir()) / f"nnarch-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077 or not folder.is_dir():
        raise PermissionError(f"{folder} is not this user's private folder")
    name = hashlib.sha256(f"{sys.executable}\0{_PACKAGE}".encode()).hexdigest()[:16]
    return folder / f"{name}.sock"


# -- the client: `nnarch build` ---------------------------------------------------------------------

def run(argv: list[str]) -> int | None:
    """Run `nnarch ARGV` in the daemon with this process's terminal: its exit status, or None if no
    daemon answered (or one refused), and the build should run here."""
    try:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        client.connect(str(socket_path()))
    except OSError:
        return None
    with client:
        umask = os.umask(0)
        os.umask(umask)
        request = {"identity": identity(), "argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
                   "umask": umask, "path": sys.path}
        try:
            socket.send_fds(client, [json.dumps(request).encode()], [0, 1, 2])
            answer = json.loads(client.recv(_MESSAGE) or b"{}")
        except (OSError, ValueError):
            return None
        if "pid" not in answer:
            return None  # refused: another version; it is gone, and this build starts a new one
        return _wait(client, answer["pid"])


def _wait(client: socket.socket, pid: int) -> int:
    """The child's exit status. Ctrl-C and SIGTERM of this process go to it meanwhile (SIGHUP as
    SIGTERM, so that it stops its workers and LaTeX), through a pidfd: never to a reused pid."""
    try:
        child = os.pidfd_open(pid)
    except (AttributeError, OSError):
        child = None

    def forward(signum, _frame):
        signum = signal.SIGTERM if signum == signal.SIGHUP else signum
        try:
            if child is not None:
                signal.pidfd_send_signal(child, signum)
            else:
                os.kill(pid, signum)
        except ProcessLookupError:  # it is gone, and something else holds the connection open
            raise KeyboardInterrupt from None
    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        data = client.recv(_MESSAGE)
    except KeyboardInterrupt:
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if child is not None:
            os.close(child)
    if not data:  # killed before it could say: its status is lost with it
        print(f"error: the build daemon's process {pid} ended without an exit status "
              "(killed?); run again, or with --no-daemon", file=sys.stderr)
        return 1
    return int(json.loads(data)["exit"])


def start() -> bool:
    """Start a daemon in the background for the next builds, unless one runs (or is starting)."""
    try:
        lock = os.open(_lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a daemon holds it: running, or importing
    finally:
        os.close(lock)
    subprocess.Popen([sys.executable, "-m", "nnarch.daemon"], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                     cwd=_PACKAGE.parent, env={k: v for k, v in os.environ.items() if k != "NNARCH_DAEMON"})
    return True


def status(wait: float = 0.0) -> dict | None:
    """A daemon's answer for this checkout: its pid, builds so far, idle seconds and whether it
    matches this client; None if none answers (waiting up to `wait` seconds for one that starts)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as probe:
                probe.connect(str(socket_path()))
                probe.send(json.dumps({"ping": True}).encode())
                answer = json.loads(probe.recv(_MESSAGE))
                answer["current"] = answer.pop("identity") == identity()
                return answer
        except (OSError, ValueError):
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)


def stop() -> bool:
    """Stop this checkout's daemon; whether one was running."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as client:
            client.connect(str(socket_path()))
            client.send(json.dumps({"stop": True}).encode())
            client.recv(_MESSAGE)
        return True
    except OSError:
        return False


def _lock_path() -> Path:
    return socket_path().with_suffix(".lock")


# -- the daemon ---------------------------------------------------------------------------------------

def main() -> None:
    global IDLE_SECONDS
    try:
        IDLE_SECONDS = float(os.environ.get("NNARCH_DAEMON_IDLE", IDLE_SECONDS))
    except ValueError:
        pass  # not a number of seconds: the default
    lock = os.open(_lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held for life: one daemon per socket
    except OSError:
        return
    me = identity()  # before the imports: the sources it is about to run
    _preload()
    path = socket_path()
    path.unlink(missing_ok=True)  # a daemon that died without removing it: the lock says it is gone
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(str(path))
    server.listen(16)
    _INHERITED.extend((server.fileno(), lock))  # what a build child closes
    server.settimeout(IDLE_SECONDS)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    try:
        while _serve_one(server, me):
            pass
    finally:
        server.close()
        path.unlink(missing_ok=True)


def _serve_one(server: socket.socket, me: str) -> bool:
    """Answer one connection; False when the daemon should exit."""
    try:
        conn, _ = server.accept()
    except socket.timeout:
        return False  # no connection for IDLE_SECONDS
    fds = []
    try:
        conn.settimeout(5)
        uid = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)[4:8]
        if int.from_bytes(uid, sys.byteorder) != os.getuid():
            return True
        data, fds, _, _ = socket.recv_fds(conn, _MESSAGE, 3)
        request = json.loads(data)
        if request.get("ping"):
            conn.send(json.dumps({"identity": me, "pid": os.getpid(), "builds": _STATE["builds"],
                                  "idle": round(time.monotonic() - _STATE["since"], 1)}).encode())
            return True
        if request.get("stop") or request.get("identity") != me:
            conn.send(json.dumps({"refused": "stopped" if request.get("stop") else "another version"}).encode())
            return False
        if len(fds) != 3:
            return True
        if os.fork() == 0:
            _child(conn, fds, request)  # never returns
        _STATE["builds"] += 1
        _STATE["since"] = time.monotonic()
        return True
    except (OSError, ValueError, KeyError):
        return True
    finally:
        for fd in fds:
            os.close(fd)
        conn.close()


def _preload() -> None:
    """Import what every build imports, and draw one figure: fonts and mathtext are then loaded
    too. Nothing here runs a torch computation, so torch's thread pool does not exist yet when a
    child is forked (OpenBLAS's, started by numpy's import, is fork-safe)."""
    import io

    from .preload import preload
    preload("torch_geometric")
    import matplotlib.pyplot as plt

    from . import build, deck, discover, figures, handout, load, measure, notebooks, render, train  # noqa: F401
    from . import progress  # noqa: F401
    from rich import console, progress as bars, table  # noqa: F401
    import typer

    from .cli import app
    # Parsing a command line imports typer's coercion (pydantic): 60 ms of every build otherwise.
    typer.main.get_command(app).commands["build"].make_context("build", [])
    for environment, suffix in ((render.tex_environment(), ".tex.j2"), (render.html_environment(), ".html.j2")):
        for name in [n for n in environment.list_templates() if n.endswith(suffix)]:
            environment.get_template(name)  # compiled once here; one that changes, again when used
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1], label=r"$\hat{y}$")
    ax.set_title("warm")
    for fmt in ("pdf", "svg", "png"):
        fig.savefig(io.BytesIO(), format=fmt)
    plt.close(fig)
    # What is loaded now stays for good: each child's collector skips it (instead of walking
    # torch's and matplotlib's objects again, and copying their pages to mark them).
    gc.unfreeze()  # preload froze the imports before their leftover cycles were freed
    gc.collect()
    gc.freeze()


def _child(conn: socket.socket, fds: list[int], request: dict) -> None:
    """One build, in a fresh fork with the client's terminal, folder and environment."""
    code = 1
    finished = threading.Event()
    try:
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in _INHERITED:  # the daemon's lock (still held by it) and listening socket
            os.close(fd)
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        _reopen_stdio()
        from rich.console import Console

        from . import cli
        cli.console, cli.out = Console(stderr=True), Console()  # made in the daemon, on /dev/null
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ["NNARCH_DAEMON"] = "0"  # the child builds; it never asks a daemon itself
        os.umask(request["umask"])
        from . import publish
        publish.FILE_MODE = 0o666 & ~request["umask"]  # computed when the daemon imported it
        sys.path[:] = request["path"]  # what the topics import comes from where the command looks
        sys.argv = ["nnarch", *request["argv"]]
        from . import jobs
        jobs.START_METHOD = "fork"  # workers forked from here have torch imported already
        jobs.INHERITED_SOCKET = conn.fileno()  # a worker closes it: the client waits for this child only
        conn.settimeout(None)
        conn.send(json.dumps({"pid": os.getpid()}).encode())
        threading.Thread(target=_watch_client, args=(conn, finished), daemon=True).start()
        from .cli import app
        try:
            app(args=request["argv"], prog_name="nnarch")
            code = 0
        except SystemExit as stop:
            from .launch import exit_status
            code = exit_status(stop)
    except BaseException:  # noqa: BLE001 - whatever happens, the client gets a status
        import traceback
        traceback.print_exc()
    finally:
        finished.set()
        try:  # no exit handlers: they are the daemon's (torch's alone take 35 ms), and a build's
            sys.stdout.flush()  # files are written and closed, its workers and LaTeX stopped
            sys.stderr.flush()
            conn.send(json.dumps({"exit": code}).encode())
        finally:
            os._exit(code)


def _reopen_stdio() -> None:
    """sys.stdout and friends anew on the client's descriptors (line-buffered on a terminal)."""
    import io
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        raw = io.FileIO(fd, mode, closefd=False)
        stream = io.TextIOWrapper(io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw),
                                  encoding="utf-8", errors="backslashreplace" if fd == 2 else "strict",
                                  line_buffering=os.isatty(fd))
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _watch_client(conn: socket.socket, finished: threading.Event) -> None:
    """A client that goes away (killed, its terminal closed) stops its build, as SIGTERM would."""
    try:
        conn.recv(1)
    except OSError:
        pass
    if not finished.is_set():
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    main()
