"""The built book in a real browser: offline, screenshots, and a viewer that reacts without a kernel.

The fixtures (``tests/conftest.py``) build the book at the smoke profile into a temporary build
directory with the same code as ``make book`` (:func:`srlib.book.run_book`), serve it on 127.0.0.1
and drive headless Chromium through the Chrome DevTools Protocol (``tests/chromium.py``). These
tests record every network request, write a 1280-px screenshot of every page (to
``_build/screenshots/``; ``make screenshots`` writes ``docs/screenshots/`` from the cpu-profile
book) and move the scale slider of the evaluation chapter's frame viewer, checking that the
displayed image changes.
"""
from __future__ import annotations

import hashlib
import io
import json
import re

import pytest

from chromium import (REPO, SCREENSHOTS, WIDTH, frame_shot, frame_shot_changed, open_page, page_screenshot,
                      requested_urls, visible_frame_src)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

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
        open_page(browser, server + rel)
        title = browser.eval("document.querySelector('h1') && document.querySelector('h1').textContent")
        assert title, f"{rel} has no heading"
        if browser.eval("document.querySelector('script[type=\"application/vnd.jupyter.widget-view+json\"]') !== null"):
            browser.wait_for("document.querySelectorAll('.srlib-frame-viewer img').length > 0", 60,
                             f"the frame viewer of {rel} to render (widget manager)")
        if browser.eval("document.querySelector('.math') !== null"):
            browser.wait_for("document.querySelector('mjx-container') !== null", 30, f"MathJax to typeset {rel}")
        browser.drain(1.0)
        png = page_screenshot(browser, SCREENSHOTS / f"{name}.png")
        from PIL import Image

        assert Image.open(io.BytesIO(png)).size[0] == WIDTH
    urls = requested_urls(browser)
    assert any("/html-manager/dist/embed-amd.js" in u for u in urls), "the widget manager was never requested"
    outside = [u for u in urls if not re.match(r"^(http://127\.0\.0\.1[:/]|file://|data:|blob:|about:)", u)]
    assert not outside, f"the book requested resources outside 127.0.0.1: {outside[:10]}"


def test_slider_changes_the_displayed_frame(browser, server):
    open_page(browser, server + PAGES["evaluation-protocol"])
    browser.wait_for("document.querySelectorAll('.srlib-frame-viewer img').length > 0", 60, "the frame viewer")
    browser.eval("document.querySelector('.srlib-frame-viewer').scrollIntoView()")
    before_src = visible_frame_src(browser)
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
