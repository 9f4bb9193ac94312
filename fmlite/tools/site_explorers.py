"""The static site's explorers: each rebuilt live explorer rendered over its site grid, and its HTML.

For every notebook whose widget module has `site_explorers` (`fmlite.widgets.site_grid`), `explorer_pictures`
rebuilds the explorers under the notebooks' lecture style (`site_style`), renders every allowed setting of each
grid (the live explorer draws it), encodes it as the site shows it (`site_picture`) and writes the controls,
the inline manifest and the picture as HTML (`explorer_html`); `fmlite/tools/site_player.js` moves them in the
browser. `fmlite.tools.site` puts the HTML where the notebook shows the explorer and writes the pictures.
"""
from __future__ import annotations

import contextlib
import html
import json
from pathlib import Path

__all__ = ["WIDGET_VIEW", "is_explorer", "explorer_cells", "site_style", "explorer_html", "explorer_pictures"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def is_explorer(out: dict) -> bool:
    """Whether a widget-view output is an explorer (an Explorer's VBox, or an `interact`), not a progress bar."""
    return "".join(out["data"].get("text/plain", "")).startswith(("VBox(", "interactive("))


def explorer_cells(nb: dict) -> int:
    """How many explorers notebook `nb` shows: its widget-view outputs that are explorers (not progress bars),
    in the order of its cells (the order `site_explorers` returns them and `saved_pictures` reads them)."""
    return sum(1 for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
               if WIDGET_VIEW in o.get("data", {}) and is_explorer(o))


@contextlib.contextmanager
def site_style():
    """Within the block, figures are drawn as a notebook's setup cell draws them at lecture scale 1
    (`lecture_style(1.0)`, whatever FMLITE_LECTURE_SCALE says); afterwards matplotlib's rcParams and the lecture
    scale are as they were."""
    import matplotlib as mpl

    from ..plotting import style

    saved, scale = dict(mpl.rcParams), style._scale
    try:
        style.lecture_style(1.0)
        yield
    finally:
        mpl.rcParams.update(saved)
        style._scale = scale


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _option_labels(grid, name: str) -> list[str]:
    """The readouts of a control's site values: the grid's labels, a dropdown's option labels, else as
    `SiteGrid.label` writes them."""
    control = grid.explorer.controls[name]
    if name not in grid.labels and hasattr(control, "_options_labels"):
        by_value = dict(zip(control._options_values, control._options_labels))
        return [str(by_value.get(v, v)) for v in grid.values[name]]
    return [grid.label(name, v) for v in grid.values[name]]


def _render_explorer(grid, folder: str) -> tuple[dict, dict]:
    """Render every allowed setting of `grid` (the live explorer draws it), as the site shows it.

    Returns (manifest, files): the manifest the page holds inline (`explorer_html`) and {path in the site:
    WebP bytes}, one picture per allowed setting named by its grid indices joined by "-"."""
    import io

    from PIL import Image

    from ..widgets.site_grid import site_picture

    from concurrent.futures import ThreadPoolExecutor

    ex, names = grid.explorer, list(grid.values)
    start = ex.values  # the notebook's setting: the page starts at the grid setting nearest it
    index = {n: {v: i for i, v in enumerate(grid.values[n])} for n in names}
    keys, encoded = [], []
    with ThreadPoolExecutor(max_workers=2) as pool:  # WebP encoding (GIL released) overlaps the next drawing
        for setting, picture in grid.render():
            keys.append("-".join(str(index[n][setting[n]]) for n in names))
            encoded.append(pool.submit(site_picture, picture))
        files = {f"{folder}{key}.webp": future.result() for key, future in zip(keys, encoded)}
    size = Image.open(io.BytesIO(next(iter(files.values())))).size

    def near(n):
        values = grid.values[n]
        if start[n] in index[n]:
            return index[n][start[n]]
        if all(isinstance(v, (int, float)) for v in values) and isinstance(start[n], (int, float)):
            return min(range(len(values)), key=lambda i: abs(values[i] - start[n]))
        return 0
    first = [near(n) for n in names]
    allowed = [[int(i) for i in k.split("-")] for k in keys]
    initial = min(allowed, key=lambda idx: sum(abs(a - b) for a, b in zip(idx, first)))
    width = min(ex.width, size[0])
    manifest = {"base": folder, "title": grid.title, "names": names,
                "descriptions": [ex.controls[n].description or n for n in names],
                "kinds": ["select" if hasattr(ex.controls[n], "_options_labels") else "range" for n in names],
                "labels": [_option_labels(grid, n) for n in names], "settings": keys, "initial": initial,
                "width": width, "height": round(size[1] * width / size[0])}
    return manifest, files


def explorer_html(manifest: dict, uid: str) -> str:
    """The site's explorer: its manifest inline, the controls at the initial setting, and the picture."""
    data = json.dumps(manifest, ensure_ascii=False).replace("</", "<\\/")
    rows, at = [], manifest["initial"]
    for c, (desc, kind, labels) in enumerate(zip(manifest["descriptions"], manifest["kinds"], manifest["labels"])):
        ident = f"{uid}-{c}"
        if kind == "select":
            options = "".join(f'<option value="{i}"{" selected" if i == at[c] else ""}>{html.escape(lab)}</option>'
                              for i, lab in enumerate(labels))
            control = f'<select id="{ident}" data-control="{c}" aria-label="{_attr(desc)}">{options}</select>'
        else:
            control = (f'<input id="{ident}" type="range" min="0" max="{len(labels) - 1}" step="1" value="{at[c]}" '
                       f'data-control="{c}" aria-label="{_attr(desc)}" aria-valuetext="{_attr(labels[at[c]])}">'
                       f'<output for="{ident}" data-readout="{c}">{html.escape(labels[at[c]])}</output>')
        rows.append(f'<div class="fmlite-control"><label for="{ident}">{html.escape(desc)}</label>{control}</div>')
    key = "-".join(map(str, at))
    stated = ", ".join(f"{d} = {lab[i]}" for d, lab, i in zip(manifest["descriptions"], manifest["labels"], at))
    n = len(manifest["settings"])
    return (f'<div class="fmlite-explorer" id="{uid}">'
            f'<script type="application/json" class="fmlite-manifest">{data}</script>'
            f'<div class="fmlite-controls">{"".join(rows)}</div>'
            f'<img class="fmlite-picture" src="{_attr(manifest["base"] + key)}.webp" width="{manifest["width"]}" '
            f'height="{manifest["height"]}" alt="the explorer\'s picture at {_attr(stated)}">'
            f'<p class="fmlite-note">Interactive: move the controls (mouse, touch or arrow keys); each of the {n} '
            f'settings shows the picture the live explorer draws for it.</p></div>')


def explorer_pictures(files: list[Path], nbs: list, quick: bool) -> tuple[dict, dict]:
    """Rebuild the explorers of every notebook whose widget module has `site_explorers` and render them.

    Returns ({notebook index: [explorer HTML, ...]}, {path in the site: picture bytes}).
    Raises ValueError: a module returns another number of explorers than its notebook shows."""
    from ..widgets.site_grid import site_explorers_of

    html_of, pictures = {}, {}
    with site_style():
        for i, (f, nb) in enumerate(zip(files, nbs)):
            count = explorer_cells(nb)
            number = f.stem[:2]
            recipe = site_explorers_of(number) if count and number.isdigit() else None
            if recipe is None:
                continue
            grids = recipe(quick=quick)
            if len(grids) != count:
                raise ValueError(f"{f.name} shows {count} explorers but site_explorers of notebook {number} returns "
                                 f"{len(grids)}; they must match one for one, in the order of the cells")
            html_of[i] = []
            for grid in grids:
                manifest, files_of = _render_explorer(grid, f"explorers/{number}-{grid.title}/")
                pictures.update(files_of)
                html_of[i].append(explorer_html(manifest, f"explorer-{number}-{grid.title}"))
            del grids
    return html_of, pictures
