"""The PSPL attention-map explorer in a real browser, without a kernel.

Uses the session fixtures of ``tests/conftest.py`` (the smoke-profile book, its server and headless
Chromium; ``SRLIB_BOOK_HTML=_build/html`` checks an existing build). Checks the frame it opens on,
that it fits the text column with panels shown at full size, then moves every control once (arrow
keys on a slider's handle or a dropdown) and checks that exactly the parts of the figure that depend
on that axis change (:data:`srlib.chapters.pspl.explorer.PART_AXES`), on screen as well as in ``src``.
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
BOX = ".srlib-frame-viewer-box"


def _panel(name: str) -> str:
    return f".srlib-frame-panel-{name}"


def _control_js(label: str) -> str:
    """JS expression: the explorer's control whose label is ``label``."""
    return (f"[...document.querySelectorAll('{BOX} .srlib-frame-control')].find(el => "
            f"(el.querySelector('.widget-label') || {{}}).textContent?.trim() === {json.dumps(label)})")


def _control_state(cdp, label: str):
    """``{"kind": "slider" | "dropdown", "index", "count", "text"}`` of a control (text: its readout or option)."""
    return cdp.eval(f"""(() => {{
        const c = {_control_js(label)};
        if (!c) return null;
        const sel = c.querySelector('select');
        if (sel) return {{kind: 'dropdown', index: sel.selectedIndex, count: sel.options.length,
                         text: sel.options[sel.selectedIndex].textContent.replace(/\u00a0/g, ' ').trim()}};
        const h = c.querySelector('.noUi-handle');
        if (!h) return null;
        return {{kind: 'slider', index: Number(h.getAttribute('aria-valuenow')), count: Number(h.getAttribute('aria-valuemax')) + 1,
                 text: (c.querySelector('.widget-readout') || {{}}).textContent?.trim()}};
    }})()""")


def _press(cdp, label: str) -> dict:
    """Focus the control and press the arrow key that moves it one value (back where it is at the end)."""
    state = _control_state(cdp, label)
    assert state and state["count"] >= 2, f"explorer control {label!r}: {state} (needs two values to move)"
    forward = state["index"] < state["count"] - 1
    target = "select" if state["kind"] == "dropdown" else ".noUi-handle"
    assert cdp.eval(f"""(() => {{ const c = {_control_js(label)}; const t = c && c.querySelector('{target}');
        if (!t) return false; t.scrollIntoView({{block: 'center'}}); t.focus(); return document.activeElement === t; }})()"""), \
        f"cannot focus the {state['kind']} of {label!r}"
    if state["kind"] == "dropdown":
        key, code = ("ArrowDown", 40) if forward else ("ArrowUp", 38)
    else:
        key, code = ("ArrowRight", 39) if forward else ("ArrowLeft", 37)
    for kind in ("keyDown", "keyUp"):
        cdp.send("Input.dispatchKeyEvent", type=kind, key=key, code=key, windowsVirtualKeyCode=code,
                 nativeVirtualKeyCode=code)
    moved = cdp.wait_for(f"""(() => {{ const c = {_control_js(label)}; const s = c.querySelector('select');
        const i = s ? s.selectedIndex : Number(c.querySelector('.noUi-handle').getAttribute('aria-valuenow'));
        return i !== {state['index']} ? i + 1 : 0; }})()""", 10, f"the control {label!r} to move")
    assert moved - 1 == state["index"] + (1 if forward else -1)
    return state


def _srcs(cdp, panels) -> dict:
    return {p: visible_frame_src(cdp, _panel(p)) for p in panels}


def _save_viewport_shot(cdp, path):
    """Screenshot of the viewport with the explorer scrolled to the top (the page is long: no beyond-viewport capture)."""
    import base64

    cdp.eval(f"window.scrollTo(0, document.querySelector('{BOX}').getBoundingClientRect().top + window.scrollY - 10)")
    time.sleep(0.5)
    data = base64.b64decode(cdp.send("Page.captureScreenshot", format="png")["data"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def test_pspl_explorer_every_control_changes_the_parts_that_depend_on_it(browser, server):
    from srlib.chapters.pspl.explorer import AXES, PANEL, PART_AXES

    open_page(browser, server + PAGE)
    assert browser.eval("document.querySelector('h1') && document.querySelector('h1').textContent"), "no heading"
    browser.wait_for(f"document.querySelectorAll('{VIEWER} img').length > 0", 120, "the PSPL explorer to render")
    labels = browser.eval(f"[...document.querySelectorAll('{BOX} .srlib-frame-control .widget-label')]"
                          ".map(l => l.textContent.trim())")
    assert labels == list(AXES), f"explorer controls {labels}, expected {list(AXES)}"
    browser.eval(f"document.querySelector('{VIEWER}').scrollIntoView()")
    browser.wait_for(f"""(() => {{ const imgs = [...document.querySelectorAll('{VIEWER} img')].filter(i => i.offsetParent !== null);
        return imgs.length === {len(PART_AXES)} && imgs.every(i => i.complete && i.naturalWidth > 0); }})()""", 60,
                     "one decoded frame per part of the figure")
    time.sleep(0.5)
    _save_viewport_shot(browser, SCREENSHOTS / "pspl-explorer.png")

    # it opens on a frame that shows something: the code's PSPL, its last snapshot, delta = 1
    opening = {label: _control_state(browser, label) for label in AXES}
    assert opening["model"]["text"] == "PSPL, code's step", opening["model"]
    assert opening["step"]["index"] == opening["step"]["count"] - 1, opening["step"]
    assert opening["delta"]["text"] == "1.0", opening["delta"]

    # nothing wider than the text column, and the maps at their own size (no shrinking)
    sizes = browser.eval(f"""(() => {{
        const article = document.querySelector('article').getBoundingClientRect();
        const imgs = [...document.querySelectorAll('{VIEWER} img')].filter(i => i.offsetParent !== null);
        const outputs = [...document.querySelectorAll('article .cell_output img, article .cell_output .widget-box')]
            .filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect());
        const texts = [...document.querySelectorAll('article .cell_output pre')].filter(e => e.offsetParent !== null);
        return {{article: [article.left, article.right],
                 scrolled: texts.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.slice(0, 80)),
                 viewer: document.querySelector('{VIEWER}').getBoundingClientRect().width,
                 widest: Math.max(...outputs.map(r => r.right)) - article.left,
                 shown: imgs.map(i => [i.naturalWidth, i.getBoundingClientRect().width])}};
    }})()""")
    column = sizes["article"][1] - sizes["article"][0]
    assert sizes["viewer"] <= column and sizes["widest"] <= column + 1, sizes
    assert not sizes["scrolled"], f"printed output wider than the text column: {sizes['scrolled']}"
    assert all(abs(natural - shown) < 1 for natural, shown in sizes["shown"]), f"frames scaled: {sizes['shown']}"
    assert min(natural for natural, _ in sizes["shown"]) >= PANEL, sizes["shown"]

    seen = {p: {s} for p, s in _srcs(browser, PART_AXES).items()}
    assert all(next(iter(s)).startswith(("data:", "blob:", "http")) for s in seen.values()), seen
    for axis in AXES:
        changes = [p for p, own in PART_AXES.items() if axis in own]
        stays = [p for p in PART_AXES if p not in changes]
        before = _srcs(browser, PART_AXES)
        before_png = frame_shot(browser, _panel(changes[0]))
        _press(browser, axis)
        after = browser.wait_for(f"""(() => {{ const before = {json.dumps(before)};
            const now = {{}};
            for (const p of {json.dumps(changes)}) {{
                const imgs = [...document.querySelectorAll('.srlib-frame-panel-' + p + ' img')].filter(i => i.offsetParent !== null);
                if (imgs.length !== 1 || imgs[0].src === before[p]) return null;
                now[p] = imgs[0].src;
            }}
            return now; }})()""", 30, f"the parts {changes} to change after moving {axis}")
        for p in changes:
            assert after[p] not in seen[p], f"moving {axis} showed a {p} frame already seen"
            seen[p].add(after[p])
        assert {p: s for p, s in _srcs(browser, stays).items()} == {p: before[p] for p in stays}, \
            f"moving {axis} changed parts that do not depend on it ({stays})"
        after_png = frame_shot_changed(browser, before_png, _panel(changes[0]))
        assert hashlib.sha256(before_png).digest() != hashlib.sha256(after_png).digest(), \
            f"{axis} moved but the explorer's {changes[0]} part looks the same"
    assert_no_console_errors(browser, PAGE)
