"""Headless Chromium for the browser tests: where it is, a minimal DevTools Protocol client, and page helpers.

The session fixtures that use it (``built_book``, ``server``, ``browser``) are in ``tests/conftest.py``,
so every browser test module shares one smoke-profile book build and one Chromium.
"""
from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from srlib import book

REPO = book.REPO_ROOT
# where page screenshots go: _build/screenshots (ignored), unless SRLIB_SCREENSHOTS names a folder;
# `make screenshots` runs these tests on the cpu-profile book in _build/html and writes docs/screenshots/
SCREENSHOTS = Path(os.environ.get("SRLIB_SCREENSHOTS") or REPO / "_build" / "screenshots")
WIDTH = 1280
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--hide-scrollbars", "--mute-audio"]
# The DevTools domains whose events the tests read: Page (load), Network (requests), Runtime (uncaught
# exceptions, console.* calls), Log (the browser's own error entries: failed loads, blocked requests, ...).
CDP_DOMAINS = ("Network", "Page", "Runtime", "Log")

# Console messages a page may log without failing the browser tests: (pattern, why it is harmless).
# Nothing else is ignored: every uncaught exception (Runtime.exceptionThrown), console.error/assert
# call (Runtime.consoleAPICalled) and browser log entry of level error (Log.entryAdded) fails the test
# that loaded the page, naming page and message.
ALLOWED_CONSOLE_ERRORS: list[tuple[str, str]] = [
    (r"^browser network error: Failed to load resource: the server responded with a status of 404 .*"
     r"http://127\.0\.0\.1:\d+/favicon\.ico$",
     "Chromium asks every site for /favicon.ico; the book declares no icon, so the test server answers 404"),
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium not found: run `make browser` (apt-get install chromium)")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class CDP:
    """The smallest Chrome DevTools Protocol client: one page target, commands and recorded events."""

    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"CDP {method} failed: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def eval(self, expression: str):
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"JS error in {expression!r}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0, what: str = ""):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout} s waiting for {what or expression}")

    def drain(self, seconds: float = 0.0):
        """Collect pending events (e.g. network requests) for ``seconds``."""
        self.ws.settimeout(0.1)
        end = time.monotonic() + seconds
        try:
            while True:
                try:
                    msg = json.loads(self.ws.recv())
                    if "method" in msg:
                        self.events.append(msg)
                except Exception:
                    if time.monotonic() >= end:
                        break
        finally:
            self.ws.settimeout(60)

    def close(self):
        self.ws.close()


def open_page(cdp: CDP, url: str):
    """Navigate and wait for the load; ``cdp.events`` then holds this page's events only."""
    cdp.events.clear()
    cdp.send("Page.navigate", url=url)
    cdp.wait_for("document.readyState === 'complete'", 60, f"{url} to load")
    cdp.drain(0.5)


def page_screenshot(cdp: CDP, path: Path | None) -> bytes:
    """The whole page: the viewport is made as tall as the page (stable layout), shot, restored."""
    height = min(int(cdp.eval("Math.ceil(document.documentElement.scrollHeight)")), 16000)
    cdp.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=height, deviceScaleFactor=1, mobile=False)
    cdp.eval("window.scrollTo(0, 0)")
    time.sleep(0.5)
    try:
        shot = cdp.send("Page.captureScreenshot", format="png")
    finally:
        cdp.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900, deviceScaleFactor=1, mobile=False)
    data = base64.b64decode(shot["data"])
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return data


def _remote_object(arg: dict) -> str:
    if "value" in arg:
        return str(arg["value"])
    return str(arg.get("description") or arg.get("unserializableValue") or arg.get("type"))


def console_errors(events: list[dict]) -> list[str]:
    """Every page error and console error among DevTools ``events`` (one line each), less the allowed ones."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = (details.get("exception") or {}).get("description") or details.get("text", "")
            where = f"{details.get('url', '?')}:{details.get('lineNumber', '?')}"
            found.append(f"uncaught {' | '.join(text.splitlines()[:3])} ({where})")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(f"console.{params['type']}: " + " ".join(_remote_object(a) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            found.append(f"browser {entry.get('source', '')} error: {entry.get('text', '')} {entry.get('url', '')}".rstrip())
    return [m for m in found if not any(re.search(pattern, m) for pattern, _why in ALLOWED_CONSOLE_ERRORS)]


def assert_no_console_errors(cdp: CDP, page: str, settle: float = 0.5):
    """Fail naming ``page`` and every error it logged since :func:`open_page` (after ``settle`` s more)."""
    cdp.drain(settle)
    errors = console_errors(cdp.events)
    assert not errors, f"{page} logged {len(errors)} error(s):\n  " + "\n  ".join(errors)


def requested_urls(cdp: CDP) -> list[str]:
    return [e["params"]["request"]["url"] for e in cdp.events if e.get("method") == "Network.requestWillBeSent"]


def visible_frame_src(cdp: CDP, viewer: str = ".srlib-frame-viewer") -> str:
    """The ``src`` of the one visible frame image of ``viewer`` (else a message naming how many are visible)."""
    return cdp.eval(f"""(() => {{
        const imgs = [...document.querySelectorAll({json.dumps(viewer + ' img')})]
            .filter(i => i.offsetParent !== null && i.getBoundingClientRect().width > 0);
        return imgs.length === 1 ? imgs[0].src : 'visible images: ' + imgs.length;
    }})()""")


def frame_shot(cdp: CDP, viewer: str = ".srlib-frame-viewer") -> bytes:
    """A screenshot of the one visible frame of ``viewer``, taken once it is decoded and painted.

    Scrolls the image to the middle of the viewport, awaits ``img.decode()`` and two animation
    frames, then shoots the image's own rectangle inside the viewport (a clip of a region outside
    the viewport, or of a container whose layout is still settling, can come back blank).
    Fails if the shot is a single flat colour.
    """
    from PIL import Image

    rect = cdp.wait_for(f"""(async () => {{
        const imgs = [...document.querySelectorAll({json.dumps(viewer + ' img')})]
            .filter(i => i.offsetParent !== null && i.getBoundingClientRect().width > 0);
        if (imgs.length !== 1) return null;
        const img = imgs[0];
        img.scrollIntoView({{block: 'center'}});
        try {{ await img.decode(); }} catch (e) {{ return null; }}
        await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        const r = img.getBoundingClientRect();
        if (!(r.width > 0 && r.height > 0)) return null;
        return {{x: r.left + window.scrollX, y: Math.max(r.top, 0) + window.scrollY, width: r.width,
                 height: Math.min(r.bottom, window.innerHeight) - Math.max(r.top, 0)}};
    }})()""", 30, f"one decoded, visible frame in {viewer}")
    data = base64.b64decode(cdp.send("Page.captureScreenshot", format="png", clip={**rect, "scale": 1})["data"])
    lo, hi = Image.open(io.BytesIO(data)).convert("L").getextrema()
    assert hi > lo, f"the screenshot of the frame in {viewer} is one flat colour ({lo}); rect {rect}"
    return data


def frame_shot_changed(cdp: CDP, before: bytes, viewer: str = ".srlib-frame-viewer", timeout: float = 10.0) -> bytes:
    """Screenshots of the visible frame until one differs from ``before`` (painting can lag the src change)."""
    deadline = time.monotonic() + timeout
    while True:
        after = frame_shot(cdp, viewer)
        if hashlib.sha256(after).digest() != hashlib.sha256(before).digest() or time.monotonic() > deadline:
            return after
        time.sleep(0.3)
