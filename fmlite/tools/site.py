"""The course as a static, interactive HTML site that works offline:
`python -m fmlite site [--out site/] [--execute] [--no-pictures] [--quick]`.

Every notebook in `notebooks/` (a glob, so a new notebook appears by itself) becomes one page,
converted by nbconvert's `lab` template from its committed outputs (`--execute` re-runs it first).
The site loads nothing from the network: MathJax 2 (HTML-CSS output with the STIX-Web fonts it ships) is copied from the `jupyter-server-mathjax`
package into `OUT/mathjax/`, and the template's require.js, widget-manager and mermaid scripts
(all from a CDN) are left out. Progress bars and the saved widget state need a kernel and are dropped
(a bar becomes a one-line note).

Explorers (issue 22): where a notebook's widget module has `site_explorers` (`fmlite.widgets.site_grid`),
its explorers are rebuilt, every allowed setting of their site grid is rendered by the live explorer and
written as a WebP picture to `OUT/explorers/NN-title/I-J-K.webp` (grid indices per control), and the
explorer's output becomes the same controls (native `<input type=range>` over grid indices, `<select>`),
readouts and the picture, played by `site_player.js` (copied into the site) from a manifest inline in the
page (`<script type="application/json">`: browsers refuse fetch() from file://). A notebook without
`site_explorers`, or a build with `pictures=False` (`--no-pictures`), keeps a one-line note on running the
notebook live. `quick=True` (`--quick`) uses the few-setting grids of tests.

Links to `NN_name.ipynb` point to `NN_name.html`; each page gets prev/next links, a link to its notebook
(copied into the site) and how to run it live, and `index.html` holds the course map (title, what it
teaches, minutes) and the flow animation `docs/flow.gif`.

Nothing is lost on the way (`fmlite.files`): everything is checked and converted before the first file
is written; each page is written to a temporary file and renamed into place; MathJax is copied into a
temporary folder and renamed to `mathjax/` only when complete (an incomplete `mathjax/` is replaced);
and `OUT/.fmlite-files.json` records what the build wrote (pictures included), so a build interrupted midway
is repaired by the next one, while a page the user edited (or a file that was there before) is replaced only
with `force` (`--force`). Pictures an earlier build wrote and this one does not (a changed grid) are removed;
files of other names in OUT are left alone.
"""
from __future__ import annotations

import copy
import html
import os
import re
import shutil
import time
from pathlib import Path

from ..files import TEMP_PREFIX, OwnedFiles, check_output_folder, digest, write_bytes
from .site_index import estimated_minutes, index_page, notebook_summary
from .site_explorers import WIDGET_VIEW, explorer_cells, explorer_pictures, is_explorer

__all__ = ["build_site", "strip_widgets", "PLAYER", "ROOT"]

ROOT = Path(__file__).resolve().parents[2]
#: The explorers' player, copied into every site (package data).
PLAYER = Path(__file__).with_name("site_player.js")

_MATHJAX = r"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({tex2jax: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
                              processEscapes: true, processEnvironments: true},
                    displayAlign: 'center', messageStyle: 'none', showMathMenu: false,
                    "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: 'STIX-Web', imageFont: null}});
</script>
<script src="mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"></script>
"""

_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
{{ resources.fmlite_mathjax }}
<style>.fmlite-nav{max-width:1100px;margin:0.8em auto;padding:0 1em;font-family:sans-serif;font-size:15px;
display:flex;flex-wrap:wrap;justify-content:space-between;gap:0.3em 1em}.fmlite-live{font-style:italic;color:#555}
.fmlite-run{max-width:1100px;margin:0.4em auto;padding:0 1em;font-family:sans-serif;font-size:14px;color:#444}
.jp-OutputArea-output img{max-width:100%;height:auto}
.fmlite-explorer{max-width:100%;font-family:sans-serif}
.fmlite-controls{display:flex;flex-wrap:wrap;gap:0.4em 1.5em;margin:0.3em 0 0.5em}
.fmlite-control{display:flex;align-items:center;gap:0.5em;max-width:100%}
.fmlite-control label{min-width:3.5em;text-align:right}
.fmlite-control input[type=range]{width:260px;max-width:calc(100vw - 11em);margin:0;height:2em}
.fmlite-control select{font-size:15px;padding:0.25em}
.fmlite-control output{min-width:3em;font-variant-numeric:tabular-nums}
.fmlite-explorer img.fmlite-picture{display:block;max-width:100%;height:auto}
.fmlite-note{font-size:13px;color:#555;margin:0.3em 0}
.jp-RenderedHTMLCommon table,.jp-RenderedMarkdown table{display:block;max-width:100%;overflow-x:auto}
.jp-RenderedHTMLCommon pre,.jp-OutputArea-output pre{overflow-x:auto}
.MathJax_Display{overflow-x:auto;overflow-y:hidden}
@media (max-width:600px){body{overflow-wrap:break-word}.jp-InputPrompt,.jp-OutputPrompt{display:none}
.jp-Cell{padding:2px}.jp-Notebook{padding:4px}}</style>
{{ resources.fmlite_player }}
{%- endblock html_head_js_mathjax -%}
{%- block body_header -%}{{ super() }}{{ resources.fmlite_nav }}{{ resources.fmlite_run }}{%- endblock body_header -%}
{% block body_footer %}{{ resources.fmlite_nav }}{{ super() }}{% endblock body_footer %}
"""


def _live_note(name: str, kind: str) -> dict:
    if kind == "explorer":
        text = (f"Interactive explorer: run this notebook live (jupyter lab notebooks/{name}) to drag its controls; "
                "the figure above shows it at several settings.")
    else:
        text = f"A progress bar while training: run this notebook live (jupyter lab notebooks/{name}) to watch it."
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": f'<p class="fmlite-live">{html.escape(text)}</p>', "text/plain": text}}


def strip_widgets(nb: dict, name: str, explorers: list[str] | None = None) -> dict:
    """A copy of notebook `nb` (nbformat 4 dict) without widgets: each widget-view output becomes a one-line
    note on running `name` live (explorer or tqdm bar), and the saved widget state is dropped.

    explorers: optional HTML of the site's explorers, one per explorer output in order (`explorer_cells`); the
    k-th explorer output becomes the k-th (a progress bar still becomes a note).
    Raises ValueError: `explorers` is given but its length is not the notebook's number of explorers."""
    if explorers is not None and len(explorers) != explorer_cells(nb):
        raise ValueError(f"{name} shows {explorer_cells(nb)} explorers, but {len(explorers)} were given")
    nb = copy.deepcopy(nb)
    nb["metadata"].pop("widgets", None)
    k = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                if not is_explorer(out):
                    out = _live_note(name, "progress")
                elif explorers is None:
                    out = _live_note(name, "explorer")
                else:
                    out = {"output_type": "display_data", "metadata": {},
                           "data": {"text/html": explorers[k], "text/plain": "explorer"}}
                    k += 1
            outputs.append(out)
        cell["outputs"] = outputs
    return nb


def _nav(pages: list[str], i: int, titles: list[str]) -> str:
    prev = (f'<a href="{pages[i - 1]}">&larr; {html.escape(titles[i - 1])}</a>' if i > 0 else "<span></span>")
    nxt = (f'<a href="{pages[i + 1]}">{html.escape(titles[i + 1])} &rarr;</a>' if i + 1 < len(pages)
           else "<span></span>")
    return f'<nav class="fmlite-nav">{prev}<a href="index.html">Course map</a>{nxt}</nav>'


def _link_pages(text: str) -> str:
    """Point relative links to notebooks (`href="01_x.ipynb#part"`) at their pages (`01_x.html#part`)."""
    return re.sub(r'href="([^":#]+?)\.ipynb(#[^"]*)?"', lambda m: f'href="{m[1]}.html{m[2] or ""}"', text)


def _mathjax_folder() -> Path:
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise RuntimeError("the site needs MathJax from the package jupyter-server-mathjax: "
                           "pip install jupyter-server-mathjax (or pip install -e .)") from None
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def _run_live(name: str) -> str:
    return (f'<p class="fmlite-run">The notebook: <a href="{name}" download>{html.escape(name)}</a>. To run it live '
            f'(every slider value, your own code): <code>pip install -e .</code> in the course repository, then '
            f'<code>jupyter lab notebooks/{html.escape(name)}</code>.</p>')


def build_site(out: str | Path = "site", notebooks: str | Path | None = None, execute: bool = False,
               animation: str | Path | None = None, timeout: int = 600, force: bool = False,
               pictures: bool = True, quick: bool = False) -> list[Path]:
    """Build the static site into `out` (created; pages of an earlier build are replaced) and return the pages.

    Args:
        out: the site's folder; its parent must exist.
        notebooks: folder of the `*.ipynb` files (default: the repository's `notebooks/`).
        execute: re-run every notebook (in its folder, `timeout` seconds per cell) before converting it;
            default False: the committed outputs are shown.
        animation: a GIF for the index page (default `docs/flow.gif` when present; none otherwise).
        force: replace files in `out` that an earlier build did not write, or that were edited since.
        pictures: render the explorers of every notebook that has `site_explorers` (False: each explorer is a
            note on running the notebook live, and the build takes seconds).
        quick: the explorers' few-setting grids (`site_explorers(quick=True)`, for tests).

    Raises:
        FileNotFoundError: no notebooks found. RuntimeError: jupyter-server-mathjax is not installed.
        ValueError: `out` is a file, its parent folder is missing, it cannot be written, or (without `force`)
            it holds files of the site's names that a build did not write or that were changed since; raised
            before any notebook is converted, and the message names the path and the fix. Also: a notebook's
            `site_explorers` returns another number of explorers than it shows.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    src = Path(notebooks) if notebooks is not None else ROOT / "notebooks"
    files = sorted(src.glob("*.ipynb"))
    if not files:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {src}")
    out = check_output_folder(out)
    mathjax_src = _mathjax_folder()
    anim = Path(animation) if animation is not None else ROOT / "docs" / "flow.gif"
    anim_name = anim.name if anim.is_file() else None
    pages = [f.stem + ".html" for f in files]
    owned = OwnedFiles(out, "python -m fmlite site")
    names = ["index.html", *pages, *(f.name for f in files), *([anim_name] if anim_name else [])]
    owned.check(names, force)
    if (out / "mathjax").exists() and not owned.known and not force and not _complete(mathjax_src, out / "mathjax"):
        raise ValueError(f"--out {out} holds a mathjax/ folder that a build did not write; pass --force to "
                         "replace it, or give another --out")
    nbs = [nbformat.read(f, as_version=4) for f in files]
    if execute:
        from nbclient import NotebookClient
        for nb in nbs:
            NotebookClient(nb, timeout=timeout, resources={"metadata": {"path": str(src)}}).execute()
    explorers, pictures_of = explorer_pictures(files, nbs, quick) if pictures else ({}, {})
    owned.check([*pictures_of, *(["site_player.js"] if explorers else [])], force)
    summaries = [notebook_summary(nb) for nb in nbs]
    titles = [s["title"] for s in summaries]
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"fmlite_site.html.j2": _TEMPLATE})],
                            template_file="fmlite_site.html.j2")
    contents, entries = {}, []
    marker = "<!--fmlite-run-live-->"
    for i, (f, nb) in enumerate(zip(files, nbs)):
        minutes = estimated_minutes(nb)
        clean = nbformat.from_dict(strip_widgets(nb, f.name, explorers.get(i)))
        player = '<script src="site_player.js" defer></script>' if i in explorers else ""
        body, _ = exporter.from_notebook_node(clean, resources={"metadata": {"name": titles[i]},
                                                                "fmlite_nav": _nav(pages, i, titles),
                                                                "fmlite_run": marker,
                                                                "fmlite_player": player,
                                                                "fmlite_mathjax": _MATHJAX})
        contents[pages[i]] = _link_pages(body).replace(marker, _run_live(f.name)).encode("utf-8")
        entries.append({**summaries[i], "page": pages[i], "minutes": minutes, "explorers": len(explorers.get(i, [])),
                        "explorer_cells": explorer_cells(nb)})
    index = {"index.html": index_page(entries, anim_name, _MATHJAX).encode("utf-8")}
    gif = {anim_name: anim.read_bytes()} if anim_name else {}
    copies = {f.name: f.read_bytes() for f in files}
    player = {"site_player.js": PLAYER.read_bytes()} if explorers else {}
    # pictures first, the index last: a page is written only after what it shows, the index after every page
    contents = {**pictures_of, **player, **gif, **copies, **contents, **index}
    out.mkdir(exist_ok=True)
    _remove_leftovers(out)
    owned.begin({name: digest(data) for name, data in contents.items()})
    _install_mathjax(mathjax_src, out / "mathjax")
    folders = set()
    for name, data in contents.items():
        parent = (out / name).parent
        if parent not in folders:
            parent.mkdir(parents=True, exist_ok=True)
            folders.add(parent)
        write_bytes(out / name, data)
    _remove_old_pictures(out, owned, contents)
    owned.finish()
    return [out / "index.html", *(out / p for p in pages)]


def _remove_old_pictures(out: Path, owned: OwnedFiles, contents: dict) -> None:
    """Remove the explorer pictures an earlier build wrote that this one did not (a grid that changed), and the
    folders they leave empty; a file the user changed there is kept."""
    for name, digests in owned.known.items():
        if name.startswith("explorers/") and name not in contents:
            file = out / name
            if file.is_file() and digest(file.read_bytes()) in digests:
                file.unlink()
    root = out / "explorers"
    if root.is_dir():
        for folder in sorted(root.iterdir(), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _remove_leftovers(out: Path) -> None:
    """Remove the temporary files and folders an interrupted build left in `out` (named `TEMP_PREFIX`...)."""
    for leftover in out.glob(TEMP_PREFIX + "*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _complete(source: Path, copy: Path) -> bool:
    """Whether folder `copy` holds every file of `source` with the same size (a copy that was not cut short)."""
    for file in source.rglob("*"):
        if file.is_file():
            mine = copy / file.relative_to(source)
            if not mine.is_file() or mine.stat().st_size != file.stat().st_size:
                return False
    return True


def _install_mathjax(source: Path, target: Path) -> None:
    """Copy MathJax into `target` through a temporary folder renamed into place; an incomplete copy is replaced."""
    if target.is_dir() and _complete(source, target):
        return
    fresh = target.parent / f"{TEMP_PREFIX}{target.name}-{os.getpid()}"
    shutil.copytree(source, fresh)
    if target.exists() or target.is_symlink():
        old = target.parent / f"{TEMP_PREFIX}old-{target.name}-{os.getpid()}"
        os.replace(target, old)
        os.replace(fresh, target)
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()
    else:
        os.replace(fresh, target)


def main_site(out: str | Path = "site", execute: bool = False, force: bool = False, pictures: bool = True,
              quick: bool = False) -> int:
    """What `python -m fmlite site` runs: build, then print the pages and the time taken (raises as `build_site`)."""
    start = time.perf_counter()
    pages = build_site(out, execute=execute, force=force, pictures=pictures, quick=quick)
    print(f"wrote {len(pages)} pages to {Path(out)}/ in {time.perf_counter() - start:.1f} s; "
          f"open {Path(out) / 'index.html'} in a browser (works offline)")
    return 0
