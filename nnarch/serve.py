"""Serve: build, serve the build folder on 127.0.0.1, and rebuild on every save.

This process stays warm for the author: a text edit re-renders from the records, and a topic whose
record changed runs in a worker forked from the fork server, which imports torch, PyG and matplotlib
once, started in the background after the first build (run/executor.py). Open pages hear of each
build over server-sent events: the deck's HTML is published as soon as it is rendered and its pages
reload then, keeping their slide (the slide number is in the URL's hash); the PDF and handouts
follow when LaTeX is done. A broken edit publishes nothing: the last good deck stays, with the error
over it and on the console.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
import traceback
from dataclasses import replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from rich.markup import escape

from nnarch import TEMPLATES
from nnarch.build import build
from nnarch.errors import EnvironmentProblem, NnarchError
from nnarch.options import Options

EVENTS = "/__nnarch/events"
COOKIE = "nnarch-key"  # (and the port) holds the session's key once the printed address was opened
WATCHED = (".html", ".svg")  # what a page shows; a change to one reloads the pages that show it
KEEPALIVE_S = 15

# Injected into HTML as it is served, never written into a file: published decks stay as they are.
# A page listens from the event its HTML was served at (so it misses no build), and only while it is
# visible: a browser gives a host six connections, and hidden tabs must not hold them.
SCRIPT = """<script>/* nnarch serve */(function () {
  var box = null, events = null, after = __AFTER__, banner = null;
  function uses(paths) {
    var here = [location.pathname.replace(/\\/$/, "/index.html")].concat([].map.call(document.images, function (i) {
      return new URL(i.src, location.href).pathname; }));
    return paths.some(function (p) { return here.indexOf(p) >= 0; });
  }
  function on(kind, handle) {
    events.addEventListener(kind, function (e) { after = +e.lastEventId || after; handle(e); });
  }
  function listen() {
    events = new EventSource("__EVENTS__?after=" + after);
    on("reload", function (e) {
      if (uses(JSON.parse(e.data).paths)) location.reload();  /* the hash keeps the slide */
    });
    on("failed", failed);
    on("built", function () { if (box) { box.remove(); box = null; } });
    on("diff", function (e) { differs(JSON.parse(e.data).text); });
  }
  function differs(text) {  /* the frames that differ from the accepted baseline (nnarch diff) */
    if (!text) { if (banner) { banner.remove(); banner = null; } return; }
    banner = banner || overlay("div", "nnarch-diff", "status", "bottom:2.6rem;padding:.4em 1.2em;" +
      "background:#fff3cd;color:#4d3800;font:14px/1.4 sans-serif;z-index:2147483646");
    banner.textContent = text;
  }
  function overlay(tag, id, role, css) {
    var element = document.createElement(tag);
    element.id = id;
    element.setAttribute("role", role);
    element.style.cssText = "position:fixed;left:0;right:0;margin:0;white-space:pre-wrap;" + css;
    return document.body.appendChild(element);
  }
  function failed(e) {
    box = box || overlay("pre", "nnarch-error", "alert", "top:0;padding:1em 1.5em;" +
      "background:#8b0000;color:#fff;font:18px/1.4 monospace;z-index:2147483647");
    box.textContent = "nnarch: the last save did not build; this is the last good version.\\n" +
      JSON.parse(e.data).message;
  }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && events) { events.close(); events = null; }
    else if (!document.hidden && !events) listen();
  });
  if (!document.hidden) listen();
  differs(__DIFF__);
})();</script>""".replace("__EVENTS__", EVENTS)


class Events:
    """Build events, numbered, for every open page to pick up in order."""

    def __init__(self):
        self.changed = threading.Condition()
        self.log: list[tuple[int, str, str]] = []

    @property
    def serial(self) -> int:
        return self.log[-1][0] if self.log else 0

    def send(self, kind: str, **data) -> None:
        with self.changed:
            self.log = [*self.log[-50:], (self.serial + 1, kind, json.dumps(data))]
            self.changed.notify_all()

    def after(self, seen: int, timeout: float) -> list[tuple[int, str, str]]:
        """The events numbered after `seen`, waiting up to `timeout` for one."""
        with self.changed:
            self.changed.wait_for(lambda: self.serial > seen, timeout)
            return [e for e in self.log if e[0] > seen]


class Handler(SimpleHTTPRequestHandler):
    """Files of the build folder only; HTML with the reload script; the event stream."""

    def __init__(self, *args, events: Events, site: Site, key: str, **kwargs):
        self.events, self.site, self.key, self.cookie = events, site, key, False
        super().__init__(*args, **kwargs)

    def do_GET(self):
        file = self._allowed()
        if file is None:
            return None
        if file == EVENTS:
            return self._stream()
        if file.suffix == ".html" and (file.is_file() or file in self.site.early):
            return self._html(file)
        return super().do_GET()

    def do_HEAD(self):
        if self._allowed() not in (None, EVENTS):
            super().do_HEAD()

    def _allowed(self):
        """The file a request asks for, EVENTS, or None once refused: another host (a page that
        rebinds its DNS name to 127.0.0.1), a path out of the build folder (`..` or a link), or
        nnarch's own folders (cache, work, staging)."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost"):
            return self.send_error(403, "served to 127.0.0.1 and localhost only")
        # The key in the address nnarch serve printed, or the cookie a first visit with it set: any
        # other local user of the machine is refused (on a shared lab machine, the solutions).
        given = parse_qs(urlsplit(self.path).query).get("key", [""])[0]
        held = _cookie(self.headers.get("Cookie") or "", self._cookie_name())
        key = self.key.encode()
        if not (secrets.compare_digest(given.encode(), key) or secrets.compare_digest(held.encode(), key)):
            return self.send_error(403, "this preview is its owner's: open the address nnarch serve printed")
        self.cookie = bool(given)
        path = unquote(urlsplit(self.path).path)
        if path == EVENTS:
            return EVENTS
        if ".." in path.split("/"):
            return self.send_error(403, "outside the served folder")
        file = Path(self.translate_path(self.path)).absolute()
        if file.is_dir() and (file / "index.html").is_file() and path.endswith("/"):
            file = file / "index.html"
        root = Path(self.directory).absolute()
        real = file.resolve()
        if not real.is_relative_to(root.resolve()):  # a link that leads out of the build folder
            return self.send_error(403, "outside the served folder")
        inside = file.relative_to(root) if file.is_relative_to(root) else Path()
        if any((root / Path(*inside.parts[: n + 1])).is_symlink() for n in range(len(inside.parts))):
            return self.send_error(403, "a link: the preview serves what nnarch published, not what links lead to")
        if any(part.startswith(".") for part in real.relative_to(root.resolve()).parts):
            return self.send_error(404)
        return file

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")  # a reload must fetch what the build just wrote
        if self.cookie:
            self.send_header("Set-Cookie", f"{self._cookie_name()}={self.key}; HttpOnly; SameSite=Strict; Path=/")
        super().end_headers()

    def _cookie_name(self) -> str:
        """Cookies ignore ports: each session's is named by its port, so two previews both work."""
        port = self.headers.get("Host", "").rpartition(":")[2]  # the Host header: 127.0.0.1:PORT
        return f"{COOKIE}-{port}"

    def log_message(self, *args):  # the console is for builds and errors
        pass

    def _html(self, file: Path):
        early = self.site.early.get(file)  # the deck of the build under way, before its PDF
        text = _allow_events(early if early is not None else file.read_text(encoding="utf-8"))
        at = text.rfind("</body>")
        diff = json.dumps(self.site.diff).replace("</", "<\\/")
        script = SCRIPT.replace("__AFTER__", str(self.events.serial)).replace("__DIFF__", diff)
        body = (text[:at] + script + text[at:] if at >= 0 else text + script).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        asked = parse_qs(urlsplit(self.path).query).get("after", [""])[0]
        last = self.headers.get("Last-Event-ID", "")  # a reconnection resumes where it stopped
        seen = max([int(n) for n in (asked, last) if n.isdigit()] or [self.events.serial])
        try:
            log = self.events.log
            if log and log[-1][1] == "failed" and log[-1][0] <= seen:
                self._send(*log[-1])  # a page opened while the sources are broken
            while True:
                news = self.events.after(seen, KEEPALIVE_S)
                for event in news:
                    self._send(*event)
                    seen = event[0]
                if not news:
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return

    def _send(self, serial: int, kind: str, data: str) -> None:
        self.wfile.write(f"id: {serial}\nevent: {kind}\ndata: {data}\n\n".encode())
        self.wfile.flush()


def _cookie(header: str, name: str) -> str:
    """The value of one cookie in a Cookie header, read leniently: another local app's cookies, which
    the browser sends to every port, may be anything."""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip()
    return ""


def _allow_events(html: str) -> str:
    """The page's own content security policy, widened for the served copy only: the reload script
    may run and may listen to this server's events."""

    def widen(match):
        policy = match[2] + "; connect-src 'self'"
        if "script-src" not in policy:
            policy += "; script-src 'unsafe-inline'"
        return match[1] + policy + match[3]

    return re.sub(r'(<meta http-equiv="Content-Security-Policy" content=")([^"]*)(")', widen, html, count=1)


class Site:
    """What the pages show: a digest per HTML and SVG file, to tell which ones a build changed, and
    the deck HTML a build under way has rendered. That HTML is served from memory, never written:
    if LaTeX or a later check then fails, the published set stays the last good one."""

    def __init__(self, out: Path):
        self.out = out
        self.early: dict[Path, str] = {}
        self.diff = ""  # the frames that differ from the accepted baselines (banner)
        self.digests = self._digests()

    def show_early(self, path: Path, html: str) -> list[str]:
        """Serve `html` at `path` until the build ends; the URL paths that changed."""
        self.early[path] = html
        digest = hashlib.sha256(html.encode()).hexdigest()
        if self.digests.get(path) == digest:
            return []
        self.digests[path] = digest
        return ["/" + path.relative_to(self.out).as_posix()]

    def _digests(self) -> dict:
        return {
            p: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in self.out.rglob("*")
            if p.suffix in WATCHED
            and p.is_file()
            and not {".cache", ".work", ".staging"} & set(p.relative_to(self.out).parts)
        }

    def changed(self) -> list[str]:
        """URL paths of the files that differ from the last call."""
        now = self._digests()
        paths = sorted(
            "/" + p.relative_to(self.out).as_posix() for p in {*now, *self.digests} if self.digests.get(p) != now.get(p)
        )
        self.digests = now
        return paths


def serve(options: Options, port: int, console, progress_factory) -> None:
    """Build, serve `options.out` on 127.0.0.1:port, rebuild on each save until Ctrl-C."""
    import watchfiles

    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    events, site = Events(), Site(out)
    key = secrets.token_urlsafe(24)  # this session's: in the address printed, never in a file
    try:
        server = ThreadingHTTPServer(
            ("127.0.0.1", port), partial(Handler, directory=str(out), events=events, site=site, key=key)
        )
    except OSError as error:
        raise EnvironmentProblem(
            f"--port {port}: cannot listen on 127.0.0.1:{port} ({error.strerror}); pick another port with --port"
        ) from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rebuild = partial(_rebuild, options, events, site, console, progress_factory)
    rebuild()
    from nnarch.run.executor import warm_up

    threading.Thread(target=warm_up, daemon=True).start()  # the first model edit needs no imports
    where = "preview/" if options.preview else ""  # --budget quick builds previews
    url = f"http://127.0.0.1:{server.server_address[1]}/{where}?key={key}"
    watched = [p for p in (Path(options.lectures), TEMPLATES) if p.exists()]
    console.print(
        f"serving {out} at {url} — watching {', '.join(str(p) for p in watched)}; Ctrl-C stops",
        highlight=False,
        soft_wrap=True,
    )
    try:
        for changes in watchfiles.watch(*watched, step=20, raise_interrupt=True):
            # not an editor's temporary file, made and gone within the batch (sed -i's sedXXXXXX)
            names = sorted(
                {Path(p).name for _, p in changes if Path(p).exists() or (watchfiles.Change.added, p) not in changes}
            )
            if names:
                console.print(f"changed: {', '.join(names)}", highlight=False)
            rebuild()
    finally:
        server.shutdown()


def _rebuild(options: Options, events: Events, site: Site, console, progress_factory) -> None:
    """One build in this process: fail fast (the last good deck stays), HTML first, then the rest."""
    started = time.perf_counter()

    def html_ready(folder: Path, html: str) -> None:
        changed = site.show_early(folder / "slides.html", html)
        if changed:
            events.send("reload", paths=changed)
            console.print(f"html updated in {time.perf_counter() - started:.2f} s", highlight=False)

    try:
        with progress_factory() as progress:
            result = build(replace(options, fail_fast=True, on_html=html_ready), progress)
    except NnarchError as error:  # a usage or environment problem: say it, keep serving
        result, problems = None, list[Exception]([error])
    except Exception as error:  # a bug in nnarch: keep serving, with the trace for a report
        _print_trace(console, error)
        result, problems = None, [error]
    else:
        problems = list[Exception](result.errors) if result else []
    finally:
        site.early.clear()
    for problem in problems:
        console.print(f"[bold red]error:[/] {escape(str(problem))}", highlight=False, soft_wrap=True)
    changed = site.changed()  # after a failure: back to the published deck
    if problems:
        if changed:
            events.send("reload", paths=changed)
        events.send("failed", message="\n".join(str(p) for p in problems))
        return
    events.send("built")
    if changed:
        events.send("reload", paths=changed)
    try:
        site.diff = _differences(options)
    except Exception as error:  # a bug in the comparison: the deck is built, keep serving it
        _print_trace(console, error)
        site.diff = ""
    events.send("diff", text=site.diff)
    assert result is not None  # no problems: the build returned
    what = "up to date" if result.up_to_date else f"built in {time.perf_counter() - started:.2f} s"
    console.print(what, highlight=False)


def _print_trace(console, error: BaseException) -> None:
    """A bug in nnarch while serving: its traceback, for a report; the server goes on."""
    console.print("".join(traceback.format_exception(error)), markup=False, highlight=False)


def _differences(options: Options) -> str:
    """What `nnarch diff` would report, in short: per lecture with an accepted baseline, the frames
    that differ from it ('' when none does)."""
    from nnarch import baseline
    from nnarch.source.discover import discover

    lines = []
    for lecture in discover(Path(options.lectures)).lectures:
        folder = lecture.path / baseline.BASELINE
        if (folder / "snapshot.json").exists():
            try:
                changes = baseline.compare(folder, Path(options.out) / lecture.lecture.slug)
            except NnarchError:
                continue
            if changes:
                what = "; ".join(changes.frame_titles() or changes.summary())
                lines.append(f"{lecture.lecture.title} differs from its accepted baseline ('nnarch diff'): {what}")
    return "\n".join(lines)
