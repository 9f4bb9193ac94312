"""The site's front page: the course map (title, what each notebook teaches, minutes) read from the notebooks.

`notebook_summary` reads a notebook's title, first sentence and learning goals from its first Markdown cell,
`estimated_minutes` the time to work through it, `teaches` what the map says it teaches; `index_page` writes
the page (`fmlite.tools.site` builds it with the other pages).
"""
from __future__ import annotations

import html
import re

from . import cell_source
from .site_explorers import WIDGET_VIEW

__all__ = ["MINUTES_PER", "notebook_summary", "estimated_minutes", "teaches", "index_page"]

#: Minutes to work through a notebook, estimated: prose at 100 words a minute, plus these per item.
MINUTES_PER = {"exercise": 6, "explorer": 3, "code cell": 0.5}


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
    goals = []
    for ln in (first[goals_at:].splitlines()[1:] if goals_at >= 0 else []):
        if ln.startswith("- "):
            goals.append(ln[2:].strip())
        elif goals and ln.startswith("  ") and ln.strip():  # a goal wrapped onto the next line
            goals[-1] += " " + ln.strip()
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


_INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>fmlite: the flow matching course</title>
{mathjax}
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;line-height:1.5;color:#222}}
.scroll{{overflow-x:auto}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:0.5em;text-align:left;
vertical-align:top}}td ul{{margin:0;padding-left:1.2em}}img{{max-width:100%;height:auto}}details{{font-size:90%;color:#444}}</style></head>
<body><h1>fmlite: flow matching you can touch</h1>
{animation}
<p>Noise at t = 0 flows into data at t = 1 along a learned velocity field. These pages are the course's
notebooks as committed, readable without Python and without a network: open <code>site/index.html</code> in a
browser (or serve the folder with any static server).</p>
<p><strong>The site is interactive</strong>: {interactive} Each page links to its notebook; to run the notebooks
live, <code>pip install -e .</code> in the repository, then <code>jupyter lab notebooks/</code>.</p>
<h2>Course map</h2>
<div class="scroll"><table><thead><tr><th>notebook</th><th>what it teaches</th><th>minutes</th></tr></thead><tbody>
{rows}
</tbody></table></div>
<p>Minutes are estimates: the text at 100 words a minute, about {ex} per exercise and {ep} per explorer.
Total: about {total} minutes.</p>
</body></html>
"""


def teaches(summary: dict) -> str:
    """What a notebook teaches, as Markdown: its learning goals (`notebook_summary`), or its topic (the title
    after "NN ·") where it states none."""
    if summary["goals"]:
        return "\n".join("- " + g for g in summary["goals"])
    return summary["title"].split("·", 1)[-1].strip()


def index_page(entries: list[dict], animation: str | None, mathjax: str = "") -> str:
    """The front page: the course map (one row per entry of `build_site`: page, title, goals, minutes, explorers),
    what the site's explorers do, the animation (a file name in the site, or None) and the `mathjax` script tags."""
    from nbconvert.filters.markdown import markdown2html  # the notebooks' own Markdown (math left to MathJax)
    rows = []
    for e in entries:
        rows.append(f'<tr><td><a href="{e["page"]}">{html.escape(e["title"])}</a></td>'
                    f'<td>{markdown2html(teaches(e))}</td><td>{e["minutes"]}</td></tr>')
    live, every = sum(e["explorers"] for e in entries), sum(e["explorer_cells"] for e in entries)
    which = f"its {live} explorers" if live == every else f"{live} of its {every} explorers"
    rest = "" if live == every else " (the others are a note on running their notebook live)"
    interactive = (f"{which} have the live explorers' controls (sliders and menus, by mouse, touch or keyboard) "
                   f"and show the picture the live explorer draws for each setting{rest}." if live else
                   "this build has no explorer pictures (built with --no-pictures); each explorer is a note on "
                   "running its notebook live.")
    anim = (f'<p><img src="{animation}" alt="Gaussian noise flowing into the word FLOW along the learned '
            'velocity field of notebook 00"></p>') if animation else ""
    return _INDEX.format(mathjax=mathjax, animation=anim, rows="\n".join(rows), ex=MINUTES_PER["exercise"],
                         interactive=interactive,
                         ep=MINUTES_PER["explorer"], total=sum(e["minutes"] for e in entries))
