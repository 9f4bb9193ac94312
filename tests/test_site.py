"""The static site (`python -m fmlite site`): built from the committed notebooks into a temporary folder and
opened in the real browser of tests/test_browser.py (Debian chromium via playwright) with every request
that is not a local file refused: each page loads, shows its images, typesets its math, links only to
pages and anchors that exist, and shows no raw widget text."""
import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from fmlite.tools.site import build_site, estimated_minutes, notebook_summary, strip_widgets

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RAW_WIDGET_TEXT = ("interactive(children=", "VBox(children=", "HBox(children=", "Error displaying widget")


def _nb(name: str) -> dict:
    return json.loads((ROOT / "notebooks" / name).read_text())


def test_strip_widgets_replaces_every_widget_output_with_a_note_and_drops_the_state():
    for path in NOTEBOOKS:
        nb = _nb(path.name)
        widgets = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]
                   if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        clean = strip_widgets(nb, path.name)
        text = json.dumps(clean)
        assert "widget-view+json" not in text and "widgets" not in clean["metadata"]
        assert not any(raw in text for raw in RAW_WIDGET_TEXT)
        assert text.count("fmlite-live") == len(widgets) >= 1
        assert "widgets" in nb["metadata"]  # the original is left untouched


def test_summary_and_minutes_come_from_the_notebook():
    nb = {"cells": [{"cell_type": "markdown", "source": "# 09 · Test\n\nPrevious: x · Next: y\n\nFirst sentence "
                     "here. Second one.\n\n**Learning goals.** After this\n- one;\n- two.\n"},
                    {"cell_type": "code", "source": 'check("09.f", f)', "outputs": []}]}
    assert notebook_summary(nb) == {"title": "09 · Test", "summary": "First sentence here.", "goals": ["one;", "two."]}
    assert estimated_minutes(nb) == 5  # 21 words + one exercise (6) + one code cell (0.5) = 6.7 -> 5
    nb["cells"] += [{"cell_type": "code", "source": 'check("09.g", g)', "outputs": []}] * 2
    assert estimated_minutes(nb) == 20  # 0.2 + 3 * 6 + 3 * 0.5 = 19.7


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    pages = build_site(out)
    return out, pages


def test_every_notebook_has_a_page_listed_on_the_index(site):
    out, pages = site
    assert [p.name for p in pages] == ["index.html"] + [p.stem + ".html" for p in NOTEBOOKS]
    index = (out / "index.html").read_text()
    for p in NOTEBOOKS:
        assert f'href="{p.stem}.html"' in index
    for page in pages:
        text = page.read_text()
        assert ".ipynb\"" not in text and "cdnjs" not in text and "require.js" not in text


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
def test_every_page_renders_offline_in_chromium(site):
    playwright = pytest.importorskip("playwright.sync_api")
    from test_browser import BROWSER_ARGS  # tests/ is on sys.path (pytest prepend import mode, no __init__.py)
    out, pages = site
    refused = []

    def block(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            return route.continue_()
        refused.append(url)
        return route.abort()

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.route("**/*", block)
        for file in pages:
            page.goto(file.as_uri(), wait_until="load")
            # every page has math (the index in its summaries)
            page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0"
                                   " && document.querySelectorAll('.MathJax, .MathJax_Display').length > 0",
                                   timeout=20_000)
            assert page.locator(".MathJax_Error").count() == 0, file.name
            # the prose of every Markdown cell, without its code spans (`x ** 2` is code, not raw Markdown)
            prose = page.evaluate("() => [...document.querySelectorAll('.jp-MarkdownOutput, td')].map(e => {"
                                  " const c = e.cloneNode(true); c.querySelectorAll('code, pre').forEach(k => k.remove());"
                                  " return c.innerText; }).join(' ')")
            assert "$" not in prose, f"untypeset math in {file.name}"
            assert "**" not in prose, f"raw Markdown in {file.name}"
            sizes = page.evaluate("() => [...document.images].map(i => [i.complete, i.naturalWidth])")
            assert sizes and all(ok and w > 0 for ok, w in sizes), (file.name, sizes)
            text = page.evaluate("() => document.body.innerText")
            assert not [raw for raw in RAW_WIDGET_TEXT if raw in text], file.name
            for href in page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)"):
                url = urlparse(href)
                if url.scheme in ("http", "https", "mailto"):
                    continue  # outside links (references) are not part of the site
                assert url.scheme == "file", href
                target = Path(unquote(url.path))
                assert target.is_file() and target.parent == out, f"{file.name} links to missing {href}"
                if url.fragment and target == file:
                    found = page.evaluate("(f) => !!(document.getElementById(f) || document.getElementById("
                                          "decodeURIComponent(f)))", url.fragment)  # as the browser matches
                    assert found, f"{file.name}: anchor #{url.fragment} not found"
        page.screenshot(path=str(Path(os.environ.get("FMLITE_SCREENSHOT_DIR", "/tmp")) / "fmlite_site_last.png"))
        browser.close()
    assert refused == [], f"the site asked the network for {refused}"


# ------------------------------------------------------------------ issue 20: an interrupted build is repaired
import fmlite.tools.site as site_module  # noqa: E402
from fmlite.files import TEMP_PREFIX, OwnedFiles  # noqa: E402


def _tiny_notebooks(folder: Path, version: str) -> Path:
    import nbformat
    folder.mkdir(exist_ok=True)
    for i in range(3):
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_markdown_cell(f"# 0{i} · Part {i}\n\nText of version {version}, with $x_t$.\n"),
            nbformat.v4.new_code_cell("1 + 1")])
        nbformat.write(nb, folder / f"0{i}_part.ipynb")
    return folder


def _tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "mathjax" not in p.parts}


@pytest.fixture
def tiny(tmp_path):
    gif = tmp_path / "anim.gif"
    gif.write_bytes(b"GIF89a tiny")
    return {"old": _tiny_notebooks(tmp_path / "nb_old", "one"), "new": _tiny_notebooks(tmp_path / "nb_new", "two"),
            "animation": gif}


def test_an_interrupted_build_leaves_whole_files_and_the_next_build_repairs_it(tmp_path, tiny, monkeypatch):
    out = tmp_path / "site"
    build_site(out, tiny["old"], animation=tiny["animation"])
    old = _tree(out)
    clean = tmp_path / "clean"
    build_site(clean, tiny["new"], animation=tiny["animation"])
    new = _tree(clean)
    real, calls = site_module.write_bytes, []

    def ctrl_c_after_two(file, data):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(file)
        real(file, data)
    monkeypatch.setattr(site_module, "write_bytes", ctrl_c_after_two)
    with pytest.raises(KeyboardInterrupt):
        build_site(out, tiny["new"], animation=tiny["animation"])
    mixed = _tree(out)
    for name, data in mixed.items():
        if name != OwnedFiles.MANIFEST:
            assert data in (old[name], new[name]), f"{name} is neither the old nor the new page"
    assert mixed != old and not list(out.glob(TEMP_PREFIX + "*"))
    monkeypatch.setattr(site_module, "write_bytes", real)
    build_site(out, tiny["new"], animation=tiny["animation"])  # no --force needed: every file is the build's own
    assert _tree(out) == _tree(clean) and site_module._complete(site_module._mathjax_folder(), out / "mathjax")


def test_a_half_copied_mathjax_is_replaced_by_the_next_build(tmp_path, tiny, monkeypatch):
    out = tmp_path / "site"
    real = shutil.copytree

    copied = []

    def copy(a, b):
        if len(copied) == 20:
            raise KeyboardInterrupt
        copied.append(shutil.copy2(a, b))

    def cut_short(src, dst, *args, **kwargs):  # also the recursive calls of copytree for subfolders
        return real(src, dst, copy_function=copy)
    monkeypatch.setattr(shutil, "copytree", cut_short)
    with pytest.raises(KeyboardInterrupt):
        build_site(out, tiny["old"], animation=tiny["animation"])
    assert not (out / "mathjax").exists()  # the partial copy is only ever in a temporary folder
    monkeypatch.setattr(shutil, "copytree", real)
    build_site(out, tiny["old"], animation=tiny["animation"])
    assert site_module._complete(site_module._mathjax_folder(), out / "mathjax")
    assert not list(out.glob(TEMP_PREFIX + "*"))  # the leftover of the interrupted copy is gone


def test_an_incomplete_mathjax_from_an_older_build_is_refused_then_replaced_with_force(tmp_path, tiny):
    out = tmp_path / "site"
    (out / "mathjax").mkdir(parents=True)
    (out / "mathjax" / "MathJax.js").write_text("/* cut short */")
    with pytest.raises(ValueError, match="mathjax/ folder that a build did not write; pass --force"):
        build_site(out, tiny["old"], animation=tiny["animation"])
    build_site(out, tiny["old"], animation=tiny["animation"], force=True)
    assert site_module._complete(site_module._mathjax_folder(), out / "mathjax")


def test_edited_pages_are_replaced_only_with_force_and_other_files_are_kept(tmp_path, tiny):
    out = tmp_path / "site"
    build_site(out, tiny["old"], animation=tiny["animation"])
    build_site(out, tiny["new"], animation=tiny["animation"])  # its own pages: replaced without asking
    (out / "notes.txt").write_text("my notes\n")
    (out / "01_part.html").write_text("<p>edited by hand</p>\n")
    with pytest.raises(ValueError, match=r"changed since \(01_part.html\); pass --force to replace them"):
        build_site(out, tiny["old"], animation=tiny["animation"])
    assert (out / "01_part.html").read_text() == "<p>edited by hand</p>\n"
    build_site(out, tiny["old"], animation=tiny["animation"], force=True)
    assert "version one" in (out / "01_part.html").read_text() and (out / "notes.txt").read_text() == "my notes\n"
