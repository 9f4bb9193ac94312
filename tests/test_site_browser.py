"""The static site's explorers in a real browser (issue 22): the quick site (`build_site(..., quick=True)`, the
session fixture `quick_site` of tests/conftest.py) opened from file:// in Debian's Chromium via playwright, as
tests/test_browser.py does. Every control of every explorer is moved with the keyboard: the picture must change
to the one the manifest names, and the readout must follow; no request may leave the site's folder, no console
error may occur, and at 390 px wide (a phone) no page may scroll sideways.
"""
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")

PICTURE = "(e) => e.querySelector('img.fmlite-picture').getAttribute('src')"


def _mathjax_font(message) -> bool:
    """MathJax's own probing for web fonts it does not need (TeX .otf fonts not shipped, a font at about:blank
    refused from file://): console errors of every page since the site began, not of the explorers."""
    url = message.location.get("url", "")
    return ("Access to font at 'about:blank'" in message.text or url == "about:blank"
            or ("/mathjax/fonts/" in url and url.endswith((".otf", ".woff", ".eot", ".svg"))))


def _watch(page, out: Path, outside: list, errors: list) -> None:
    """Refuse (and record) every request that is not a file in `out`; record console errors (but MathJax's font
    probing, `_mathjax_font`) and page errors."""
    def route(r):
        url = urlparse(r.request.url)
        if url.scheme == "data" or (url.scheme == "file" and Path(unquote(url.path)).is_relative_to(out)):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()
    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and not _mathjax_font(m) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))


def _readout(control) -> str:
    if control.evaluate("e => e.tagName") == "SELECT":
        return control.evaluate("e => e.options[e.selectedIndex].text")
    return control.evaluate("e => document.querySelector(`output[for='${e.id}']`).textContent")


def test_every_control_of_every_explorer_moves_its_picture_by_keyboard(quick_site):
    playwright = pytest.importorskip("playwright.sync_api")
    from test_browser import BROWSER_ARGS
    out, pages = quick_site
    outside, errors, moved, explorers = [], [], 0, 0
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _watch(page, out, outside, errors)
        for file in pages:
            page.goto(file.as_uri(), wait_until="load")
            roots = page.locator(".fmlite-explorer")
            if not roots.count():
                continue
            page.wait_for_function("n => document.querySelectorAll('.fmlite-explorer.fmlite-ready').length === n",
                                   arg=roots.count())
            for root in roots.all():
                explorers += 1
                manifest = json.loads(root.locator("script.fmlite-manifest").text_content())
                names = [f"{manifest['base']}{k}.webp" for k in manifest["settings"]]
                assert root.evaluate(PICTURE) in names
                for c, control in enumerate(root.locator("[data-control]").all()):
                    labels = manifest["labels"][c]
                    control.scroll_into_view_if_needed()
                    control.focus()
                    before, shown = root.evaluate(PICTURE), _readout(control)
                    assert shown in labels
                    at = labels.index(shown)
                    key = "ArrowLeft" if at == len(labels) - 1 else "ArrowRight"
                    if control.evaluate("e => e.tagName") == "SELECT":
                        key = "ArrowUp" if at == len(labels) - 1 else "ArrowDown"
                    page.keyboard.press(key)
                    page.wait_for_function(f"([id, old]) => ({PICTURE})(document.getElementById(id)) !== old",
                                           arg=[root.get_attribute("id"), before], timeout=5_000)
                    after = root.evaluate(PICTURE)
                    assert after in names, after
                    now = _readout(control)
                    assert now != shown and now in labels, (file.name, c, shown, now)
                    # the picture is the one of the setting every control now reads out
                    idx = [int(e.input_value()) for e in root.locator("[data-control]").all()]
                    assert after == f"{manifest['base']}{'-'.join(map(str, idx))}.webp"
                    assert idx[c] == labels.index(now)
                    page.wait_for_function("e => e.complete && e.naturalWidth > 0",
                                           arg=root.locator("img.fmlite-picture").element_handle())
                    moved += 1
        # a phone: 390 px wide, nothing scrolls sideways and every explorer's picture fits the width
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        _watch(phone, out, outside, errors)
        for file in pages:
            phone.goto(file.as_uri(), wait_until="load")
            phone.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0",
                                    timeout=20_000)
            assert phone.evaluate("() => document.scrollingElement.scrollWidth") <= 390, file.name
            for box in phone.evaluate("() => [...document.querySelectorAll('.fmlite-explorer img, "
                                      ".fmlite-explorer [data-control]')].map(e => e.getBoundingClientRect().right)"):
                assert box <= 390, (file.name, box)
        phone.screenshot(path=str(Path(os.environ.get("FMLITE_SCREENSHOT_DIR", "/tmp")) / "fmlite_site_phone.png"))
        browser.close()
    assert explorers >= 2 and moved >= 4  # notebooks 00 and 01 at least: t; t, sigma and schedule
    assert outside == [], f"the site asked for {outside}"
    assert errors == [], errors
