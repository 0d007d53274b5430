"""`nnarch serve`: a real server process watching a copy of the fixture lecture, and a real Chromium
page that must follow the edits on its own."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .browser import page
from .conftest import FIXTURE, edit

pytestmark = pytest.mark.slow  # see tests/conftest.py

BIN = Path(sys.executable).parent


KEY: dict[str, str] = {}  # each served URL's key, as nnarch serve printed it


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(lectures folder, build folder, base URL, server process) of one `nnarch serve`."""
    root = tmp_path_factory.mktemp("serve")
    lectures = root / "lectures"
    shutil.copytree(FIXTURE, lectures, ignore=shutil.ignore_patterns("__pycache__"))
    server = subprocess.Popen(
        [BIN / "nnarch", "serve", "--port", "0", "--lectures", lectures, "--out", root / "build", "--device", "cpu"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    url = None
    for line in server.stdout:
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)\?key=(\S+)", line)
        if found:
            url, server.key = found[1], found[2]
            break
    assert url, "nnarch serve did not start"
    lines = []  # read all along: a full pipe would stop the server
    threading.Thread(target=lambda: [lines.append(line) for line in server.stdout], daemon=True).start()
    server.lines = lines
    KEY[url] = server.key
    yield lectures, root / "build", url, server
    server.terminate()
    server.wait(timeout=30)


def _settled(server, seen: int, timeout: float = 60) -> None:
    """Wait until the build a save started has finished (LaTeX included) or failed; `seen` is the
    number of console lines before the save."""
    deadline = time.monotonic() + timeout
    while not any(re.match(r"(built in|up to date|error:)", line) for line in server.lines[seen:]):
        assert time.monotonic() < deadline, "".join(server.lines[-20:])
        time.sleep(0.05)


def _slide_text(tab) -> str:
    return tab.inner_text(".slide:not([hidden])")


def _open_slide_with(tab, url: str, text: str) -> str:
    """Open the deck at the slide that shows `text`; its hash, such as '#5'. The first visit carries
    the key nnarch serve printed; its cookie admits the rest."""
    tab.goto(url + f"tiny/slides.html?key={KEY[url]}")
    number = tab.evaluate(
        "t => [...document.querySelectorAll('.slide')].findIndex(s => s.textContent.includes(t)) + 1", text
    )
    assert number > 1, text
    tab.goto(url + f"tiny/slides.html#{number}")
    assert text in _slide_text(tab)
    return f"#{number}"


def test_a_saved_bullet_shows_in_the_open_deck_on_the_same_slide(served):
    lectures, out, url, server = served
    with page() as (tab, _):
        slide = _open_slide_with(tab, url, "2 parameters")
        seen = len(server.lines)
        edit(lectures / "tiny" / "line.md", "- {{params.total}} parameters", "- {{params.total}} trainable weights")
        tab.wait_for_function("() => document.body.innerText.includes('2 trainable weights')", timeout=30_000)
        assert tab.evaluate("location.hash") == slide
        assert "2 trainable weights" in _slide_text(tab)
        _settled(server, seen)
    published = (out / "tiny" / "slides.html").read_text()
    assert "2 trainable weights" in published and "nnarch serve" not in published  # no script in files


def test_a_deck_that_renders_but_fails_in_latex_leaves_the_published_one(served):
    lectures, out, url, server = served
    published = (out / "tiny" / "slides.html").read_text()
    with page() as (tab, _):
        _open_slide_with(tab, url, "Fitting a Line")
        seen = len(server.lines)
        edit(lectures / "tiny" / "line.md", "## Fitting a Line\n", "## Fitting a Line\n\nBroken $\\foo x$\n")
        tab.wait_for_selector("#nnarch-error", timeout=60_000)
        assert "LaTeX failed" in tab.inner_text("#nnarch-error")
        tab.wait_for_function("() => !document.body.innerText.includes('Broken')", timeout=30_000)
        _settled(server, seen)
        assert (out / "tiny" / "slides.html").read_text() == published
        seen = len(server.lines)
        edit(lectures / "tiny" / "line.md", "## Fitting a Line\n\nBroken $\\foo x$\n", "## Fitting a Line\n")
        tab.wait_for_selector("#nnarch-error", state="detached", timeout=60_000)
        _settled(server, seen)


def test_a_broken_save_shows_its_error_over_the_last_good_deck(served):
    lectures, out, url, server = served
    published = (out / "tiny" / "slides.html").read_text()
    with page() as (tab, _):
        slide = _open_slide_with(tab, url, "Fitting a Line")
        before = _slide_text(tab)
        seen = len(server.lines)
        edit(lectures / "tiny" / "line.py", "class Line(nn.Module):", "class Line(nn.Module:")
        tab.wait_for_selector("#nnarch-error", timeout=30_000)
        assert re.search(r"line\.py:\d+: syntax error", tab.inner_text("#nnarch-error"))
        assert _slide_text(tab) == before
        assert (out / "tiny" / "slides.html").read_text() == published
        seen = len(server.lines)
        edit(lectures / "tiny" / "line.py", "class Line(nn.Module:", "class Line(nn.Module):")
        tab.wait_for_selector("#nnarch-error", state="detached", timeout=60_000)
        assert tab.evaluate("location.hash") == slide
        _settled(server, seen)


def _get(
    url: str, path: str, method: str = "GET", host: str | None = None, key: str | None = None
) -> tuple[int, bytes]:
    """A request as sent (http.client does not normalise '..'), with the session's key as a cookie
    unless another `key` ('' for none) is given."""
    address, port = re.match(r"http://([\d.]+):(\d+)/", url).groups()
    connection = http.client.HTTPConnection(address, int(port), timeout=10)
    key = KEY[url] if key is None else key
    cookie = f"other=x y; nnarch-key-{port}={key}"  # another local app's cookie, sent to every port
    headers = {**({"Host": host} if host else {}), **({"Cookie": cookie} if key else {})}
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def test_nothing_outside_the_build_folder_is_served(served):
    _, out, url, _ = served
    secret = out.parent / "secret.txt"  # beside the build folder: where '/../secret.txt' points
    secret.write_text("not for the browser")
    (out / "tiny" / "leak.txt").symlink_to(secret)
    (out / "tiny" / "cache-link").symlink_to(out / ".cache", target_is_directory=True)
    refused = {
        "/../secret.txt": 403,
        "/tiny/../../secret.txt": 403,
        "/%2e%2e/secret.txt": 403,
        "/tiny/leak.txt": 403,
        "/.cache/stamp.json": 404,
        "/tiny/cache-link/stamp.json": 403,  # a link, refused before what it leads to
    }
    for path, status in refused.items():
        for method in ("GET", "HEAD"):
            got, body = _get(url, path, method)
            assert got == status, (method, path, got)
            assert b"not for the browser" not in body and b"inputs" not in body, (method, path)
    assert _get(url, "/tiny/slides.html", host="attacker.example:80")[0] == 403  # DNS rebinding
    assert _get(url, "/tiny/slides.html")[0] == 200


def test_without_the_key_the_preview_is_refused(served):
    """Another local user of the machine does not have the key nnarch serve printed: every page,
    the solutions included, is 403 to them; the printed address admits its owner and sets a cookie."""
    _, _, url, server = served
    for path in (
        "/tiny/slides.html",
        "/tiny/instructor/handout-instructor.html",
        "/tiny/instructor/notebooks/line-solution.ipynb",
        "/",
    ):
        assert _get(url, path, key="")[0] == 403, path
        assert _get(url, path, key="not-the-key")[0] == 403, path
    address, port = re.match(r"http://([\d.]+):(\d+)/", url).groups()
    connection = http.client.HTTPConnection(address, int(port), timeout=10)
    connection.request("GET", f"/tiny/slides.html?key={server.key}")
    response = connection.getresponse()
    assert response.status == 200 and f"nnarch-key-{port}={server.key}" in (response.getheader("Set-Cookie") or "")
    assert _get(url, "/tiny/slides.html?key=%C3%A9", key="")[0] == 403  # not the key, not a crash


def test_a_save_that_changes_the_accepted_slides_names_the_frames_in_a_banner(served):
    """With a baseline accepted (`nnarch accept`), each build says on the open deck which frames now
    differ from it, and says nothing once they are back as accepted."""
    lectures, out, url, server = served
    subprocess.run([BIN / "nnarch", "accept", "--lectures", lectures, "--out", out], check=True, capture_output=True)
    with page() as (tab, _):
        _open_slide_with(tab, url, "Fitting a Plane")
        seen = len(server.lines)
        edit(lectures / "tiny" / "plane.md", "parameters, test loss", "weights, test loss")
        tab.wait_for_function(
            "() => (document.getElementById('nnarch-diff') || {}).textContent?.includes('Fitting a Plane')",
            timeout=60_000,
        )
        assert "Fitting a Line" not in tab.inner_text("#nnarch-diff")
        _settled(server, seen)
        seen = len(server.lines)
        edit(lectures / "tiny" / "plane.md", "weights, test loss", "parameters, test loss")
        tab.wait_for_selector("#nnarch-diff", state="detached", timeout=60_000)
        _settled(server, seen)
    shutil.rmtree(lectures / "tiny" / "baseline")
