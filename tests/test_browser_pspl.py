"""The PSPL attention-map explorer in a real browser, without a kernel.

Uses the session fixtures of ``tests/conftest.py`` (the smoke-profile book, its server and headless
Chromium; ``SRLIB_BOOK_HTML=_build/html`` checks an existing build). Moves the explorer's
``step`` and ``delta`` sliders and checks that the displayed frame changes each time.
"""
from __future__ import annotations

import hashlib
import json
import time

import pytest

from chromium import SCREENSHOTS, assert_no_console_errors, frame_shot, frame_shot_changed, open_page, visible_frame_src

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE = "book/pspl/attention.html"
VIEWER = ".srlib-frame-viewer"


def _focus_slider(cdp, label: str) -> bool:
    return cdp.eval(f"""(() => {{
        const c = [...document.querySelectorAll('{VIEWER} ~ * .srlib-frame-control, .srlib-frame-control')]
            .find(el => (el.querySelector('.widget-label') || {{}}).textContent?.trim() === {json.dumps(label)});
        const h = c && c.querySelector('.noUi-handle');
        if (!h) return false; h.scrollIntoView(); h.focus(); return document.activeElement === h;
    }})()""")


def _save_viewport_shot(cdp, path):
    """Screenshot of the viewport with the explorer scrolled to the top (the page is long: no beyond-viewport capture)."""
    import base64

    cdp.eval(f"window.scrollTo(0, document.querySelector('{VIEWER}').parentElement.getBoundingClientRect().top + window.scrollY - 10)")
    time.sleep(0.5)
    data = base64.b64decode(cdp.send("Page.captureScreenshot", format="png")["data"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def test_pspl_explorer_sliders_change_the_frame(browser, server):
    open_page(browser, server + PAGE)
    assert browser.eval("document.querySelector('h1') && document.querySelector('h1').textContent"), "no heading"
    browser.wait_for(f"document.querySelectorAll('{VIEWER} img').length > 0", 60, "the PSPL explorer to render")
    labels = browser.eval("[...document.querySelectorAll('.srlib-frame-control .widget-label')].map(l => l.textContent.trim())")
    for axis in ("image", "step", "delta", "gamma", "mu"):
        assert axis in labels, f"explorer control {axis!r} missing; controls: {labels}"
    browser.eval(f"document.querySelector('{VIEWER}').scrollIntoView()")
    browser.wait_for(f"""(() => {{ const i = [...document.querySelectorAll('{VIEWER} img')].find(i => i.offsetParent !== null);
        return !!i && i.complete && i.naturalWidth > 0; }})()""", 30, "the first frame to be decoded")
    time.sleep(0.5)
    _save_viewport_shot(browser, SCREENSHOTS / "pspl-explorer.png")
    seen = {visible_frame_src(browser, VIEWER)}
    assert next(iter(seen)).startswith(("data:", "blob:", "http")), seen
    for axis in ("step", "delta"):
        before = visible_frame_src(browser, VIEWER)
        before_png = frame_shot(browser, VIEWER)
        assert _focus_slider(browser, axis), f"slider handle of {axis!r} not found"
        for kind in ("keyDown", "keyUp"):
            browser.send("Input.dispatchKeyEvent", type=kind, key="ArrowRight", code="ArrowRight",
                         windowsVirtualKeyCode=39, nativeVirtualKeyCode=39)
        after = browser.wait_for(f"""(() => {{ const imgs = [...document.querySelectorAll('{VIEWER} img')]
            .filter(i => i.offsetParent !== null); return imgs.length === 1 && imgs[0].src !== {json.dumps(before)}
            ? imgs[0].src : null; }})()""", 30, f"the frame to change after moving {axis}")
        assert after not in seen, f"moving {axis} showed a frame already seen"
        seen.add(after)
        after_png = frame_shot_changed(browser, before_png, VIEWER)
        assert hashlib.sha256(before_png).digest() != hashlib.sha256(after_png).digest(), \
            f"{axis} moved but the explorer looks the same"
    assert_no_console_errors(browser, PAGE)
