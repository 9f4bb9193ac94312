"""The static site (`python -m fmlite site`): built from the committed notebooks into a temporary folder and
opened in the real browser of tests/test_browser.py (Debian chromium via playwright) with every request
that is not a local file refused: each page loads, shows its images, typesets its math, links only to
pages and anchors that exist, and shows no raw widget text."""
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from fmlite.tools.site import build_site, strip_widgets
from fmlite.tools.site_index import estimated_minutes, notebook_summary

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
def site(quick_site):
    return quick_site


def test_every_notebook_has_a_page_listed_on_the_index(site):
    out, pages = site
    assert [p.name for p in pages] == ["index.html"] + [p.stem + ".html" for p in NOTEBOOKS]
    index = (out / "index.html").read_text()
    for p in NOTEBOOKS:
        assert f'href="{p.stem}.html"' in index
    for page in pages:
        text = page.read_text()
        assert "cdnjs" not in text and "require.js" not in text
        # the one link to a notebook is the page's own, copied into the site, with how to run it live
        own = page.stem + ".ipynb"
        assert set(re.findall(r'href="([^"]+\.ipynb)"', text)) == ({own} if page.name != "index.html" else set())
        if page.name != "index.html":
            assert (out / own).read_bytes() == (ROOT / "notebooks" / own).read_bytes()
            assert f"jupyter lab notebooks/{own}" in text


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


# ------------------------------------------------------------------ issue 22: the explorers on the site
from fmlite.tools.site_index import notebook_summary as _summary, teaches  # noqa: E402
from fmlite.tools.site_explorers import explorer_cells  # noqa: E402
from fmlite.widgets.site_grid import site_explorers_of  # noqa: E402


def _manifests(page: Path) -> list[dict]:
    found = re.findall(r'<script[^>]*class="fmlite-manifest"[^>]*>(.*?)</script>', page.read_text(), re.S)
    return [json.loads(m.replace("<\\/", "</")) for m in found]


def test_every_explorer_with_a_site_grid_is_on_its_page_with_a_consistent_manifest(site):
    """Each page shows as many explorers as its notebook; where the notebook's module has site_explorers, the
    manifest is inline, lists exactly the grid's allowed settings, and every picture it names is written (and no
    other); the controls carry the live explorer's names, readouts and options."""
    out, _ = site
    with_pictures = 0
    for nb_path in NOTEBOOKS:
        page = out / (nb_path.stem + ".html")
        nb = _nb(nb_path.name)
        number = nb_path.stem[:2]
        manifests = _manifests(page)
        recipe = site_explorers_of(number)
        if recipe is None:
            assert manifests == [] and page.read_text().count('class="fmlite-live"') >= explorer_cells(nb)
            continue
        from fmlite.tools.site_explorers import site_style
        with site_style():
            grids = recipe(quick=True)
        assert len(manifests) == len(grids) == explorer_cells(nb) >= 1, nb_path.name
        for m, grid in zip(manifests, grids):
            with_pictures += 1
            assert m["base"] == f"explorers/{number}-{grid.title}/"
            assert m["names"] == list(grid.values) and m["descriptions"] == [
                grid.explorer.controls[n].description or n for n in grid.values]
            assert [len(lab) for lab in m["labels"]] == [len(v) for v in grid.values.values()]
            allowed = {"-".join(str(grid.values[n].index(s[n])) for n in grid.values) for s in grid.settings()}
            assert set(m["settings"]) == allowed and len(m["settings"]) == len(allowed)
            assert "-".join(map(str, m["initial"])) in allowed
            written = {p.name for p in (out / m["base"]).iterdir()}
            assert written == {k + ".webp" for k in allowed}
            for k in m["settings"]:
                assert (out / m["base"] / f"{k}.webp").read_bytes()[8:12] == b"WEBP"
            for n, kind, labels in zip(m["names"], m["kinds"], m["labels"]):
                control = grid.explorer.controls[n]
                if kind == "select":
                    assert set(labels) <= set(control._options_labels)
                else:
                    assert labels == [grid.label(n, v) for v in grid.values[n]]
    assert with_pictures >= 2  # notebooks 00 and 01 at least
    assert (out / "site_player.js").read_bytes() == (ROOT / "fmlite" / "tools" / "site_player.js").read_bytes()


def test_the_quick_site_keeps_to_the_size_budgets(site):
    """Whole site < 80 MB, any page with its pictures < 15 MB (the full build's budgets, see bench/site_build.py)."""
    out, pages = site
    for page in pages:
        size = page.stat().st_size + sum((out / m["base"] / f"{k}.webp").stat().st_size
                                         for m in _manifests(page) for k in m["settings"])
        assert size < 15e6, (page.name, size)
    assert sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) < 80e6


def test_no_pictures_keeps_the_note_on_running_the_notebook_live(tmp_path):
    out = tmp_path / "site"
    pages = build_site(out, pictures=False)
    assert not (out / "explorers").exists() and not (out / "site_player.js").exists()
    for nb_path in NOTEBOOKS:
        text = (out / (nb_path.stem + ".html")).read_text()
        assert 'class="fmlite-explorer"' not in text and "site_player.js" not in text
        assert text.count("Interactive explorer: run this notebook live") == explorer_cells(_nb(nb_path.name))
    assert "--no-pictures" in pages[0].read_text()  # the front page says this build has no explorer pictures


def test_what_it_teaches_states_the_learning_goals_whole():
    for nb_path in NOTEBOOKS:
        s = _summary(_nb(nb_path.name))
        assert len(s["goals"]) >= 3, nb_path.name
        assert all(g.endswith((".", ";")) for g in s["goals"]), s["goals"]  # a goal wrapped over lines is whole
        assert teaches(s).startswith("- ")
    assert teaches({"title": "09 · Flow maps", "goals": []}) == "Flow maps"


def _explorer_notebook(folder: Path) -> Path:
    import nbformat
    folder.mkdir(exist_ok=True)
    view = {"output_type": "display_data", "metadata": {},
            "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2,
                                                                  "version_minor": 0},
                     "text/plain": "VBox(children=(HBox(children=(FloatSlider(value=0.5),)),))"}}
    cell = nbformat.v4.new_code_cell("explorer")
    cell["outputs"] = [nbformat.from_dict(view)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 05 · Demo\n\nText $x$.\n"), cell])
    nbformat.write(nb, folder / "05_demo.ipynb")
    return folder


def _demo_grids(steps=(1, 2, 4)):
    from fmlite.widgets import Explorer, int_slider, t_slider
    from fmlite.widgets.site_grid import SiteGrid

    def draw(fig, t, steps):
        fig.add_subplot().set_title(f"{t:.2f} {steps}")
    ex = Explorer(draw, {"t": t_slider(0.5), "steps": int_slider("steps", 2, 1, 4)}, figsize=(2, 1.5))
    on_grid = lambda s: abs(s["t"] * s["steps"] - round(s["t"] * s["steps"])) < 1e-9  # noqa: E731
    return lambda quick=False: [SiteGrid("demo", ex, {"t": (0.0, 0.25, 0.5, 1.0), "steps": steps}, allowed=on_grid)]


def test_only_allowed_settings_are_written_and_a_changed_grid_leaves_no_old_picture(tmp_path, monkeypatch):
    import fmlite.widgets.site_grid as site_grid
    src = _explorer_notebook(tmp_path / "nb")
    monkeypatch.setattr(site_grid, "site_explorers_of", lambda number: _demo_grids() if number == "05" else None)
    out = tmp_path / "site"
    build_site(out, src, animation=tmp_path / "none.gif")
    (m,) = _manifests(out / "05_demo.html")
    assert sorted(m["settings"]) == ["0-0", "0-1", "0-2", "1-2", "2-1", "2-2", "3-0", "3-1", "3-2"]
    assert sorted(p.stem for p in (out / "explorers" / "05-demo").iterdir()) == sorted(m["settings"])
    assert m["initial"] == [2, 1]  # the explorer's t = 0.5, steps = 2
    monkeypatch.setattr(site_grid, "site_explorers_of", lambda number: _demo_grids(steps=(1, 4)))
    build_site(out, src, animation=tmp_path / "none.gif")
    (m,) = _manifests(out / "05_demo.html")
    assert sorted(p.stem for p in (out / "explorers" / "05-demo").iterdir()) == sorted(m["settings"])
    assert "3-1" in m["settings"] and "2-2" not in m["settings"]
    # a picture the user changed is theirs: refused without --force
    (out / "explorers" / "05-demo" / "3-1.webp").write_bytes(b"mine")
    with pytest.raises(ValueError, match=r"changed since \(explorers/05-demo/3-1.webp\); pass --force"):
        build_site(out, src, animation=tmp_path / "none.gif")
    build_site(out, src, animation=tmp_path / "none.gif", force=True)
    assert (out / "explorers" / "05-demo" / "3-1.webp").read_bytes()[8:12] == b"WEBP"


def test_a_module_with_another_number_of_explorers_is_refused(tmp_path, monkeypatch):
    import fmlite.widgets.site_grid as site_grid
    src = _explorer_notebook(tmp_path / "nb")
    monkeypatch.setattr(site_grid, "site_explorers_of", lambda number: lambda quick=False: _demo_grids()() * 2)
    with pytest.raises(ValueError, match="shows 1 explorers but site_explorers of notebook 05 returns 2"):
        build_site(tmp_path / "site", src, animation=tmp_path / "none.gif")
    assert not (tmp_path / "site" / "index.html").exists()
