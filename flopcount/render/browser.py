"""Headless Chromium for the HTML report: the DOM after its script ran, and screenshots.

Used by the HTML tests (a real browser runs the page's script) and by ``scripts/screenshot_html.py``.
Debian/Ubuntu: ``apt-get update && apt-get install -y chromium``. Chromium runs with a throw-away
profile and every background service off, so that nothing reaches the network.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from flopcount.errors import FlopcountError

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = "apt-get update && apt-get install -y chromium"
TIMEOUT_S = 60


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) executable on PATH, or None."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: list[str]) -> str:
    executable = find_chromium()
    if executable is None:
        raise FlopcountError(f"no chromium on PATH (install it: {INSTALL_HINT})")
    with tempfile.TemporaryDirectory(prefix="flopcount-chromium-") as profile:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}"]
        try:
            done = subprocess.run([executable, *flags, *args], capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise FlopcountError(f"chromium did not finish within {TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise FlopcountError(f"chromium exited with {done.returncode}: {lines[-1] if lines else 'no message'}")
    return done.stdout


def dump_dom(page: str | Path) -> str:
    """The serialized DOM of ``page`` (an HTML file) after its scripts ran."""
    return _run(["--dump-dom", Path(page).resolve().as_uri()])


def screenshot(page: str | Path, png: str | Path, *, width: int = 1280, height: int = 1400) -> Path:
    """Save a ``width`` x ``height`` screenshot of ``page`` to ``png``."""
    png = Path(png).resolve()
    _run([f"--screenshot={png}", f"--window-size={width},{height}", "--hide-scrollbars", Path(page).resolve().as_uri()])
    if not png.is_file():
        raise FlopcountError(f"chromium wrote no screenshot to {png}")
    return png
