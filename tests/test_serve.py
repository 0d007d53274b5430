"""`nnarch serve`: a real server process watching a copy of the fixture lecture, and a real Chromium
page that must follow the edits on its own."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from .browser import page
from .conftest import FIXTURE, edit

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(lectures folder, build folder, base URL, server process) of one `nnarch serve`."""
    import shutil
    root = tmp_path_factory.mktemp("serve")
    lectures = root / "lectures"
    shutil.copytree(FIXTURE, lectures, ignore=shutil.ignore_patterns("__pycache__"))
    server = subprocess.Popen([BIN / "nnarch", "serve", "--port", "0", "--lectures", lectures,
                               "--out", root / "build", "--device", "cpu"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "COLUMNS": "200"})
    url = None
    for line in server.stdout:
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        if found:
            url = found[1]
            break
    assert url, "nnarch serve did not start"
    threading.Thread(target=server.stdout.read, daemon=True).start()  # a full pipe would stop it
    yield lectures, root / "build", url, server
    server.terminate()
    server.wait(timeout=30)


def _slide_text(tab) -> str:
    return tab.inner_text(".slide:not([hidden])")


def _open_slide_with(tab, url: str, text: str) -> str:
    """Open the deck at the slide that shows `text`; its hash, such as '#5'."""
    tab.goto(url + "tiny/slides.html")
    number = tab.evaluate("t => [...document.querySelectorAll('.slide')].findIndex(s => "
                          "s.textContent.includes(t)) + 1", text)
    assert number > 1, text
    tab.goto(url + f"tiny/slides.html#{number}")
    assert text in _slide_text(tab)
    return f"#{number}"


def test_a_saved_bullet_shows_in_the_open_deck_on_the_same_slide(served):
    lectures, out, url, _ = served
    with page() as (tab, _):
        slide = _open_slide_with(tab, url, "2 parameters")
        edit(lectures / "tiny" / "line.md", "- {{params.total}} parameters", "- {{params.total}} trainable weights")
        tab.wait_for_function("() => document.body.innerText.includes('2 trainable weights')", timeout=30_000)
        assert tab.evaluate("location.hash") == slide
        assert "2 trainable weights" in _slide_text(tab)
    assert "nnarch serve" not in (out / "tiny" / "slides.html").read_text()  # only served pages get the script


def test_a_broken_save_shows_its_error_over_the_last_good_deck(served):
    lectures, out, url, _ = served
    published = (out / "tiny" / "slides.html").read_text()
    with page() as (tab, _):
        slide = _open_slide_with(tab, url, "Fitting a Line")
        before = _slide_text(tab)
        edit(lectures / "tiny" / "line.py", "class Line(nn.Module):", "class Line(nn.Module:")
        tab.wait_for_selector("#nnarch-error", timeout=30_000)
        assert re.search(r"line\.py:\d+: syntax error", tab.inner_text("#nnarch-error"))
        assert _slide_text(tab) == before
        assert (out / "tiny" / "slides.html").read_text() == published
        edit(lectures / "tiny" / "line.py", "class Line(nn.Module:", "class Line(nn.Module):")
        tab.wait_for_selector("#nnarch-error", state="detached", timeout=60_000)
        assert tab.evaluate("location.hash") == slide


def _get(url: str, path: str) -> tuple[int, bytes]:
    host, port = re.match(r"http://([\d.]+):(\d+)/", url).groups()
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", path)  # sent as written: http.client does not normalise '..'
    response = connection.getresponse()
    return response.status, response.read()


def test_nothing_outside_the_build_folder_is_served(served, tmp_path):
    _, out, url, _ = served
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the browser")
    (out / "tiny" / "leak.txt").symlink_to(secret)
    for path in ("/../secret.txt", "/tiny/../../secret.txt", "/%2e%2e/%2e%2e/etc/passwd", "/tiny/leak.txt",
                 "/.cache/stamp.json"):
        status, body = _get(url, path)
        assert status in (403, 404), path
        assert b"not for the browser" not in body and b"root:" not in body, path
    assert _get(url, "/tiny/slides.html")[0] == 200
