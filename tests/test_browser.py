"""The built book in a real browser: offline, screenshots, and a viewer that reacts without a kernel.

Builds the book at the smoke profile into a temporary build directory with the same code as
``make book`` (:func:`srlib.book.run_book`), serves it on 127.0.0.1, drives headless Chromium
through the Chrome DevTools Protocol (websocket-client), records every network request, writes
``docs/screenshots/<page>.png`` (1280 px wide) and moves the scale slider of the evaluation
chapter's frame viewer, checking that the displayed image changes.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from srlib import book

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = book.REPO_ROOT
# where page screenshots go: _build/screenshots (ignored), unless SRLIB_SCREENSHOTS names a folder;
# `make screenshots` runs these tests on the cpu-profile book in _build/html and writes docs/screenshots/
SCREENSHOTS = Path(os.environ.get("SRLIB_SCREENSHOTS") or REPO / "_build" / "screenshots")
WIDTH = 1280
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--hide-scrollbars", "--mute-audio"]


def _book_pages() -> dict:
    """Every page of _toc.yml: screenshot name ("pspl-attention") -> HTML path ("book/pspl/attention.html")."""
    from srlib.book import toc_documents

    pages = {}
    for doc in toc_documents(REPO):
        rel = doc.with_suffix(".html").as_posix()
        pages[doc.with_suffix("").as_posix().removeprefix("book/").replace("/", "-")] = rel
    return pages


PAGES = _book_pages()
EXTERNAL = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium not found: run `make browser` (apt-get install chromium)")


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The HTML book built at the smoke profile (same code as `make book`) in a temporary directory.

    ``SRLIB_BOOK_HTML=_build/html`` checks an existing build instead (e.g. the cpu-profile book).
    """
    existing = os.environ.get("SRLIB_BOOK_HTML")
    if existing:
        html = Path(existing).resolve()
        assert (html / "index.html").is_file(), f"SRLIB_BOOK_HTML={existing}: no index.html there; run `make book`"
        return html
    book.vendor(REPO, log=lambda *_: None)
    build_dir = tmp_path_factory.mktemp("book-build")
    html = book.run_book(REPO, profile="smoke", build_dir=build_dir, log=lambda *_: None)
    return html


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def server(built_book):
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


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


@pytest.fixture(scope="session")
def browser(server, tmp_path_factory):
    profile_dir = tmp_path_factory.mktemp("chromium-profile")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", f"--remote-debugging-port={port}",
         f"--window-size={WIDTH},900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        targets = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    targets = [t for t in json.load(r) if t.get("type") == "page"]
                if targets:
                    break
            except OSError:
                time.sleep(0.3)
        assert targets, "Chromium did not open its DevTools port within 30 s"
        cdp = CDP(targets[0]["webSocketDebuggerUrl"])
        cdp.send("Network.enable")
        cdp.send("Page.enable")
        cdp.send("Runtime.enable")
        cdp.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900, deviceScaleFactor=1, mobile=False)
        yield cdp
        cdp.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _open(cdp: CDP, url: str):
    cdp.send("Page.navigate", url=url)
    cdp.wait_for("document.readyState === 'complete'", 60, f"{url} to load")
    cdp.drain(0.5)


def _screenshot(cdp: CDP, path: Path | None) -> bytes:
    """The whole page: the viewport is made as tall as the page (stable layout), shot, restored."""
    height = min(int(cdp.eval("Math.ceil(document.documentElement.scrollHeight)")), 12000)
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


def _requested_urls(cdp: CDP) -> list[str]:
    return [e["params"]["request"]["url"] for e in cdp.events if e.get("method") == "Network.requestWillBeSent"]


# ------------------------------------------------------------------------------------ tests


def test_no_external_script_or_link_in_html(built_book):
    pages = sorted(built_book.rglob("*.html"))
    assert pages, f"no HTML pages under {built_book}"
    offenders = {}
    for page in pages:
        hits = [m.group(0) for m in EXTERNAL.finditer(page.read_text(encoding="utf-8", errors="replace"))]
        if hits:
            offenders[str(page.relative_to(built_book))] = hits[:3]
    assert not offenders, f"pages load resources from the internet: {offenders}"


def test_vendored_widget_manager_is_referenced(built_book):
    html = (built_book / PAGES["evaluation-protocol"]).read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-state+json" in html, "the widget state is not embedded in the page"
    for rel in ("requirejs/require.js", "html-manager/dist/embed-amd.js"):
        assert (built_book / rel).is_file(), f"{rel} was not copied into the HTML root"
        assert rel in html


def test_pages_render_offline_with_screenshots(browser, server):
    browser.events.clear()
    for name, rel in PAGES.items():
        _open(browser, server + rel)
        title = browser.eval("document.querySelector('h1') && document.querySelector('h1').textContent")
        assert title, f"{rel} has no heading"
        if browser.eval("document.querySelector('script[type=\"application/vnd.jupyter.widget-view+json\"]') !== null"):
            browser.wait_for("document.querySelectorAll('.srlib-frame-viewer img').length > 0", 60,
                             f"the frame viewer of {rel} to render (widget manager)")
        if browser.eval("document.querySelector('.math') !== null"):
            browser.wait_for("document.querySelector('mjx-container') !== null", 30, f"MathJax to typeset {rel}")
        browser.drain(1.0)
        png = _screenshot(browser, SCREENSHOTS / f"{name}.png")
        from PIL import Image

        assert Image.open(io.BytesIO(png)).size[0] == WIDTH
    urls = _requested_urls(browser)
    assert any("/html-manager/dist/embed-amd.js" in u for u in urls), "the widget manager was never requested"
    outside = [u for u in urls if not re.match(r"^(http://127\.0\.0\.1[:/]|file://|data:|blob:|about:)", u)]
    assert not outside, f"the book requested resources outside 127.0.0.1: {outside[:10]}"


def _visible_image_src(cdp: CDP) -> str:
    return cdp.eval("""(() => {
        const imgs = [...document.querySelectorAll('.srlib-frame-viewer img')]
            .filter(i => i.offsetParent !== null && i.getBoundingClientRect().width > 0);
        return imgs.length === 1 ? imgs[0].src : 'visible images: ' + imgs.length;
    })()""")


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


def test_slider_changes_the_displayed_frame(browser, server):
    _open(browser, server + PAGES["evaluation-protocol"])
    browser.wait_for("document.querySelectorAll('.srlib-frame-viewer img').length > 0", 60, "the frame viewer")
    browser.eval("document.querySelector('.srlib-frame-viewer').scrollIntoView()")
    before_src = _visible_image_src(browser)
    assert before_src.startswith(("data:", "blob:", "http")), before_src
    before_png = frame_shot(browser)

    # the scale axis is a SelectionSlider (noUiSlider): focus its handle and press the right arrow key
    assert browser.eval("""(() => { const h = document.querySelector('.srlib-frame-control .noUi-handle');
        if (!h) return false; h.focus(); return document.activeElement === h; })()"""), "slider handle not found"
    for kind in ("keyDown", "keyUp"):
        browser.send("Input.dispatchKeyEvent", type=kind, key="ArrowRight", code="ArrowRight",
                     windowsVirtualKeyCode=39, nativeVirtualKeyCode=39)
    after_src = browser.wait_for(f"""(() => {{ const imgs = [...document.querySelectorAll('.srlib-frame-viewer img')]
        .filter(i => i.offsetParent !== null); return imgs.length === 1 && imgs[0].src !== {json.dumps(before_src)}
        ? imgs[0].src : null; }})()""", 10, "the displayed frame to change after moving the slider")
    assert after_src != before_src
    after_png = frame_shot_changed(browser, before_png)
    assert hashlib.sha256(before_png).digest() != hashlib.sha256(after_png).digest(), \
        "the slider moved but the viewer looks the same"
    label = browser.eval("document.querySelector('.srlib-frame-control .widget-readout').textContent")
    assert label.strip() == "3", f"slider readout should show the second scale (3), shows {label!r}"
