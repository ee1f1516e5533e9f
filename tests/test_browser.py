"""The built book in a real browser: offline, screenshots, and a viewer that reacts without a kernel.

The fixtures (``tests/conftest.py``) build the book at the smoke profile into a temporary build
directory with the same code as ``make book`` (:func:`srlib.book.run_book`), serve it on 127.0.0.1
and drive headless Chromium through the Chrome DevTools Protocol (``tests/chromium.py``). These
tests visit every page once (``page_visits``), recording its network requests, page errors and
console errors, and papermill's parameter cells, and writing a 1280-px screenshot (to
``_build/screenshots/``; ``make screenshots`` writes ``docs/screenshots/`` from the cpu-profile
book); they check that the widget manager's MathJax 2 calls typeset through MathJax 3
(``book/_static/mathjax2-hub-shim.js``) and move the scale slider of the evaluation chapter's frame
viewer, checking that the displayed image changes.
"""
from __future__ import annotations

import hashlib
import io
import json
import re

import pytest

from chromium import (ALLOWED_CONSOLE_ERRORS, REPO, SCREENSHOTS, WIDTH, assert_no_console_errors, console_errors,
                      frame_shot, frame_shot_changed, open_page, page_screenshot, requested_urls, visible_frame_src)
from srlib import book

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
NOTEBOOK_PAGES = {nb.with_suffix(".html").as_posix() for nb in book.toc_notebooks(REPO)}
EXTERNAL = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)
# papermill's cell: tagged injected-parameters, its source starts with a bare "# Parameters" line
INJECTED_CELLS_JS = f"""[...document.querySelectorAll('.cell')].filter(c => {{
    const src = c.querySelector('.cell_input pre');
    return c.classList.contains('tag_{book.INJECTED_TAG}')
        || (!!src && /^# Parameters\\s*$/.test(src.textContent.split('\\n')[0]));
}}).map(c => c.textContent.trim().slice(0, 120))"""
BUILD_PARAMETERS_JS = f"[...document.querySelectorAll('.{book.BUILD_PARAMETERS_CLASS}')].map(n => n.textContent.trim())"


@pytest.fixture(scope="module")
def page_visits(browser, server):
    """Every page loaded once (widgets rendered, math typeset, screenshot written): what each one showed and logged."""
    from PIL import Image

    visits = {}
    for name, rel in PAGES.items():
        open_page(browser, server + rel)
        visit = {"problems": []}
        visit["title"] = browser.eval("document.querySelector('h1') && document.querySelector('h1').textContent")
        try:
            if browser.eval("document.querySelector('script[type=\"application/vnd.jupyter.widget-view+json\"]') !== null"):
                browser.wait_for("document.querySelectorAll('.srlib-frame-viewer img').length > 0", 60,
                                 f"the frame viewer of {rel} to render (widget manager)")
            if browser.eval("document.querySelector('.math') !== null"):
                browser.wait_for("document.querySelector('mjx-container') !== null", 30, f"MathJax to typeset {rel}")
        except AssertionError as err:  # recorded, so that the page's console errors are still reported
            visit["problems"].append(str(err))
        browser.drain(1.0)
        visit["width"] = Image.open(io.BytesIO(page_screenshot(browser, SCREENSHOTS / f"{name}.png"))).size[0]
        visit["injected"] = browser.eval(INJECTED_CELLS_JS)
        visit["build_parameters"] = browser.eval(BUILD_PARAMETERS_JS)
        visit["urls"] = requested_urls(browser)
        visit["errors"] = console_errors(browser.events)
        visits[rel] = visit
    return visits
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


def test_pages_render_offline_with_screenshots(page_visits):
    for rel, visit in page_visits.items():
        assert visit["title"], f"{rel} has no heading"
        assert not visit["problems"], f"{rel}: {visit['problems']}"
        assert visit["width"] == WIDTH
    urls = [u for visit in page_visits.values() for u in visit["urls"]]
    assert any("/html-manager/dist/embed-amd.js" in u for u in urls), "the widget manager was never requested"
    outside = [u for u in urls if not re.match(r"^(http://127\.0\.0\.1[:/]|file://|data:|blob:|about:)", u)]
    assert not outside, f"the book requested resources outside 127.0.0.1: {outside[:10]}"


def test_no_page_error_or_console_error_on_any_page(page_visits):
    # allowed ones (if any) are listed with their reason in tests/chromium.py: ALLOWED_CONSOLE_ERRORS
    errors = {rel: visit["errors"] for rel, visit in page_visits.items() if visit["errors"]}
    assert not errors, "pages logged errors (allowed: %s):\n" % [why for _, why in ALLOWED_CONSOLE_ERRORS] + "\n".join(
        f"  {rel}:\n" + "\n".join(f"    {e}" for e in errs) for rel, errs in errors.items())


def test_no_injected_parameters_cell_and_the_build_parameters_shown(page_visits):
    injected = {rel: visit["injected"] for rel, visit in page_visits.items() if visit["injected"]}
    assert not injected, f"papermill's injected-parameters cell is on the page: {injected}"
    for rel in NOTEBOOK_PAGES:
        notes = page_visits[rel]["build_parameters"]
        assert len(notes) == 1 and "profile = " in notes[0], \
            f"{rel}: expected one note giving the parameters this build used, found {notes}"


def test_widget_manager_mathjax2_call_typesets_with_mathjax3(browser, server):
    """The call the widget manager makes for every label (MathJax 2 API) typesets through the shim."""
    rel = PAGES["evaluation-protocol"]
    open_page(browser, server + rel)
    browser.wait_for("document.querySelectorAll('.srlib-frame-viewer img').length > 0", 60, "the frame viewer")
    assert browser.eval("typeof MathJax.typesetPromise === 'function' || !!MathJax.startup"), "MathJax 3 not loaded"
    typeset = browser.eval("""(async () => {
        const label = document.createElement('span');
        label.textContent = '\\\\(x^2\\\\)';
        document.querySelector('.srlib-frame-viewer').appendChild(label);
        MathJax.Hub.Queue(['Typeset', MathJax.Hub, label]);
        await MathJax.startup.promise;
        const done = label.querySelector('mjx-container') !== null;
        label.remove();
        return done;
    })()""")
    assert typeset, "MathJax.Hub.Queue(['Typeset', MathJax.Hub, el]) did not typeset el"
    assert_no_console_errors(browser, rel)


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
    assert_no_console_errors(browser, PAGES["evaluation-protocol"])
