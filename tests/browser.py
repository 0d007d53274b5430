"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for the HTML tests."""

from __future__ import annotations

import shutil
from contextlib import contextmanager

from playwright.sync_api import sync_playwright

# Without the background-networking flags Chromium tries to reach Google's hosts at every start.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("chromium not found; run 'make test', which installs it (or: sudo apt-get install chromium)")
    return path


@contextmanager
def page(width: int = 1280, height: int = 720):
    """A fresh page; yields (page, requests) where requests lists every URL it asked for."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        try:
            tab = browser.new_page(viewport={"width": width, "height": height})
            requests = []
            tab.on("request", lambda r: requests.append(r.url))
            yield tab, requests
        finally:
            browser.close()
