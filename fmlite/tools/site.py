"""The course as a static HTML site that works offline: `python -m fmlite site [--out site/] [--execute]`.

Every notebook in `notebooks/` (a glob, so a new notebook appears by itself) becomes one page,
converted by nbconvert's `lab` template from its committed outputs (`--execute` re-runs it first).
The site loads nothing from the network: MathJax 2 (HTML-CSS output with the STIX-Web fonts it ships) is copied from the `jupyter-server-mathjax`
package into `OUT/mathjax/`, and the template's require.js, widget-manager and mermaid scripts
(all from a CDN) are left out. Widgets need a kernel, so each explorer's output, each progress
bar and the saved widget state are replaced by a one-line note on running the notebook live.
Links to `NN_name.ipynb` point to `NN_name.html`; each page gets prev/next links, and `index.html`
holds the course map (title, what it teaches, minutes) and the flow animation `docs/flow.gif`.

Nothing is lost on the way (`fmlite.files`): everything is checked and converted before the first file
is written; each page is written to a temporary file and renamed into place; MathJax is copied into a
temporary folder and renamed to `mathjax/` only when complete (an incomplete `mathjax/` is replaced);
and `OUT/.fmlite-files.json` records what the build wrote, so a build interrupted midway is repaired by
the next one, while a page the user edited (or a file that was there before) is replaced only with
`force` (`--force`). Files of other names in OUT are left alone.
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
from . import cell_source

__all__ = ["build_site", "notebook_summary", "estimated_minutes", "strip_widgets", "ROOT"]

ROOT = Path(__file__).resolve().parents[2]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

#: Minutes to work through a notebook, estimated: prose at 100 words a minute, plus these per item.
MINUTES_PER = {"exercise": 6, "explorer": 3, "code cell": 0.5}

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
display:flex;justify-content:space-between;gap:1em}.fmlite-live{font-style:italic;color:#555}
.jp-OutputArea-output img{max-width:100%;height:auto}</style>
{%- endblock html_head_js_mathjax -%}
{%- block body_header -%}{{ super() }}{{ resources.fmlite_nav }}{%- endblock body_header -%}
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


def strip_widgets(nb: dict, name: str) -> dict:
    """A copy of notebook `nb` (nbformat 4 dict) without widgets: each widget-view output (explorer or tqdm
    bar) becomes a one-line note on running `name` live, and the saved widget state is dropped."""
    nb = copy.deepcopy(nb)
    nb["metadata"].pop("widgets", None)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                text = "".join(data.get("text/plain", ""))
                out = _live_note(name, "explorer" if text.startswith(("VBox(", "interactive(")) else "progress")
            outputs.append(out)
        cell["outputs"] = outputs
    return nb


def notebook_summary(nb: dict) -> dict:
    """Title, one-line summary and learning goals of a notebook, read from its first Markdown cell
    (layout of CONTRIBUTING.md: `# NN · Topic`, a Previous/Next line, a paragraph, **Learning goals.**)."""
    first = next((cell_source(c) for c in nb["cells"] if c["cell_type"] == "markdown"), "")
    lines = first.splitlines()
    title = next((ln.lstrip("# ").strip() for ln in lines if ln.startswith("# ")), "untitled")
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", first)]
    body = [p for p in paragraphs if p and not p.startswith("#") and "Previous" not in p[:20]
            and not p.startswith("**Learning goals")]
    summary = re.split(r"(?<=[.!?])\s", " ".join(body[0].split()), maxsplit=1)[0] if body else ""
    goals_at = first.find("**Learning goals")
    goals = [ln[2:].strip() for ln in first[goals_at:].splitlines()[1:] if ln.startswith("- ")] if goals_at >= 0 else []
    return {"title": title, "summary": summary, "goals": goals}


def estimated_minutes(nb: dict) -> int:
    """Minutes to work through a notebook, rounded to 5: its prose at 100 words a minute, plus
    `MINUTES_PER` exercise (a `check(` call), explorer (a widget output) and code cell."""
    words = sum(len(cell_source(c).split()) for c in nb["cells"] if c["cell_type"] == "markdown")
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    exercises = sum(cell_source(c).count("check(\"") for c in code)
    explorers = sum(1 for c in code for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})
                    and "".join(o["data"].get("text/plain", "")).startswith("VBox("))
    total = (words / 100 + MINUTES_PER["exercise"] * exercises + MINUTES_PER["explorer"] * explorers
             + MINUTES_PER["code cell"] * len(code))
    return max(5, int(5 * round(total / 5)))


def _nav(pages: list[str], i: int, titles: list[str]) -> str:
    prev = (f'<a href="{pages[i - 1]}">&larr; {html.escape(titles[i - 1])}</a>' if i > 0 else "<span></span>")
    nxt = (f'<a href="{pages[i + 1]}">{html.escape(titles[i + 1])} &rarr;</a>' if i + 1 < len(pages)
           else "<span></span>")
    return f'<nav class="fmlite-nav">{prev}<a href="index.html">Course map</a>{nxt}</nav>'


def _link_pages(text: str) -> str:
    """Point relative links to notebooks (`href="01_x.ipynb#part"`) at their pages (`01_x.html#part`)."""
    return re.sub(r'href="([^":#]+?)\.ipynb(#[^"]*)?"', lambda m: f'href="{m[1]}.html{m[2] or ""}"', text)


_INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>fmlite: the flow matching course</title>
{mathjax}
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;line-height:1.5;color:#222}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:0.5em;text-align:left;
vertical-align:top}}img{{max-width:100%;height:auto}}details{{font-size:90%;color:#444}}</style></head>
<body><h1>fmlite: flow matching you can touch</h1>
{animation}
<p>Noise at t = 0 flows into data at t = 1 along a learned velocity field. These pages are the course's
notebooks as committed, readable without Python; the sliders (explorers) need a live kernel:
<code>pip install -e .</code> in the repository, then <code>jupyter lab notebooks/</code>.</p>
<h2>Course map</h2>
<table><thead><tr><th>notebook</th><th>what it teaches</th><th>minutes</th></tr></thead><tbody>
{rows}
</tbody></table>
<p>Minutes are estimates: the text at 100 words a minute, about {ex} per exercise and {ep} per explorer.
Total: about {total} minutes.</p>
</body></html>
"""


def _index(entries: list[dict], animation: str | None) -> str:
    from nbconvert.filters.markdown import markdown2html  # the notebooks' own Markdown (math left to MathJax)
    rows = []
    for e in entries:
        goals = markdown2html("\n".join("- " + g for g in e["goals"])) if e["goals"] else ""
        details = f"<details><summary>learning goals</summary>{goals}</details>" if goals else ""
        rows.append(f'<tr><td><a href="{e["page"]}">{html.escape(e["title"])}</a></td>'
                    f'<td>{markdown2html(e["summary"])}{details}</td><td>{e["minutes"]}</td></tr>')
    anim = (f'<p><img src="{animation}" alt="Gaussian noise flowing into the word FLOW along the learned '
            'velocity field of notebook 00"></p>') if animation else ""
    return _INDEX.format(mathjax=_MATHJAX, animation=anim, rows="\n".join(rows), ex=MINUTES_PER["exercise"],
                         ep=MINUTES_PER["explorer"], total=sum(e["minutes"] for e in entries))


def _mathjax_folder() -> Path:
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise RuntimeError("the site needs MathJax from the package jupyter-server-mathjax: "
                           "pip install jupyter-server-mathjax (or pip install -e .)") from None
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def build_site(out: str | Path = "site", notebooks: str | Path | None = None, execute: bool = False,
               animation: str | Path | None = None, timeout: int = 600, force: bool = False) -> list[Path]:
    """Build the static site into `out` (created; pages of an earlier build are replaced) and return the pages.

    Args:
        out: the site's folder; its parent must exist.
        notebooks: folder of the `*.ipynb` files (default: the repository's `notebooks/`).
        execute: re-run every notebook (in its folder, `timeout` seconds per cell) before converting it;
            default False: the committed outputs are shown.
        animation: a GIF for the index page (default `docs/flow.gif` when present; none otherwise).
        force: replace files in `out` that an earlier build did not write, or that were edited since.

    Raises:
        FileNotFoundError: no notebooks found. RuntimeError: jupyter-server-mathjax is not installed.
        ValueError: `out` is a file, its parent folder is missing, it cannot be written, or (without `force`)
            it holds files of the site's names that a build did not write or that were changed since; raised
            before any notebook is converted, and the message names the path and the fix.
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
    names = ["index.html", *pages, *([anim_name] if anim_name else [])]
    owned.check(names, force)
    if (out / "mathjax").exists() and not owned.known and not force and not _complete(mathjax_src, out / "mathjax"):
        raise ValueError(f"--out {out} holds a mathjax/ folder that a build did not write; pass --force to "
                         "replace it, or give another --out")
    nbs = [nbformat.read(f, as_version=4) for f in files]
    if execute:
        from nbclient import NotebookClient
        for nb in nbs:
            NotebookClient(nb, timeout=timeout, resources={"metadata": {"path": str(src)}}).execute()
    summaries = [notebook_summary(nb) for nb in nbs]
    titles = [s["title"] for s in summaries]
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"fmlite_site.html.j2": _TEMPLATE})],
                            template_file="fmlite_site.html.j2")
    contents, entries = {}, []
    for i, (f, nb) in enumerate(zip(files, nbs)):
        minutes = estimated_minutes(nb)
        clean = nbformat.from_dict(strip_widgets(nb, f.name))
        body, _ = exporter.from_notebook_node(clean, resources={"metadata": {"name": titles[i]},
                                                                "fmlite_nav": _nav(pages, i, titles),
                                                                "fmlite_mathjax": _MATHJAX})
        contents[pages[i]] = _link_pages(body).encode("utf-8")
        entries.append({**summaries[i], "page": pages[i], "minutes": minutes})
    index = {"index.html": _index(entries, anim_name).encode("utf-8")}
    gif = {anim_name: anim.read_bytes()} if anim_name else {}
    contents = {**gif, **contents, **index}  # the index last: it links to everything else
    out.mkdir(exist_ok=True)
    _remove_leftovers(out)
    owned.begin({name: digest(data) for name, data in contents.items()})
    _install_mathjax(mathjax_src, out / "mathjax")
    for name, data in contents.items():
        write_bytes(out / name, data)
    owned.finish()
    return [out / "index.html", *(out / p for p in pages)]


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


def main_site(out: str | Path = "site", execute: bool = False, force: bool = False) -> int:
    """What `python -m fmlite site` runs: build, then print the pages and the time taken (raises as `build_site`)."""
    start = time.perf_counter()
    pages = build_site(out, execute=execute, force=force)
    print(f"wrote {len(pages)} pages to {Path(out)}/ in {time.perf_counter() - start:.1f} s; "
          f"open {Path(out) / 'index.html'} in a browser (works offline)")
    return 0
