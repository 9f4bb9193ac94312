"""What the static site shows of an explorer: its controls on a grid, and the live explorer's picture per setting.

The site (`python -m fmlite site`) has no kernel. For every explorer of a notebook it offers the same
controls (names, ranges, options), but each control moves on a declared **site grid** (t in steps of 0.05,
solver steps 1, 2, 4, ...), and for every setting of the grid it shows the picture the live `Explorer`
draws for it. A `SiteGrid` declares that grid for one explorer:

    SiteGrid(title, explorer, values={"t": T_GRID, "steps": (1, 2, 4)}, allowed=on_solver_grid)

- `values`: control name -> the values the site offers, in the order the site's control steps through them.
  Every control of the explorer has an entry, and every value is one the control can take (inside a slider's
  [min, max], one of a dropdown's options, a pair (low, high) within [min, max] for a range slider, which the
  site shows as one slider stepping through the pairs); `check` enforces this.
- `allowed`: settings the live explorer can show, when controls constrain each other (04's t snaps to the
  solver's grid for the chosen steps). The site offers only allowed settings; `render` checks that setting
  the controls really reaches each one (a snapping observer would otherwise move t behind our back).

Each notebook's widget module provides `site_explorers(quick=False) -> list[SiteGrid]`: its explorers, in
the order the notebook shows them, rebuilt in seconds from seeded recipes and the checkpoints in `data/`
exactly as the notebook builds them (so the pictures are the live ones). `quick=True` gives a grid of a
few settings per control for tests. `site_explorers_of(number)` finds that function for a notebook number.

Pictures on the site are lossy WebP at quality `SITE_QUALITY` (`site_picture`); `picture_difference` measures
how far such a picture is from the live one, and `TOLERANCE` is what the site keeps to (tests check it).
`saved_pictures(notebook)` reads the pictures and control values a committed notebook saved in its widget
state, in the order of its explorer cells: the live pictures that the rebuilt explorers must reproduce.
"""
from __future__ import annotations

import base64
import importlib
import io
import itertools
import json
import pkgutil
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable, Iterator

import ipywidgets as widgets
import numpy as np

from .explorer import Explorer

__all__ = ["SiteGrid", "site_explorers_of", "T_GRID", "T_GRID_QUICK", "SITE_QUALITY", "TOLERANCE", "site_picture",
           "picture_difference", "saved_pictures"]

#: WebP quality of the site's pictures (lossy): about a third of the lossless size for the course's plots.
SITE_QUALITY = 80
#: How far a site picture may be from the live one, in 0..255 levels per RGB channel: the mean absolute
#: difference, and the 99th percentile (lossy WebP blurs the edges of thin lines and small text).
TOLERANCE = {"mean": 3.0, "p99": 40.0}

#: t in steps of 0.05 over [0, 1] (21 values), and the few values a quick build (tests) uses.
T_GRID = tuple(round(0.05 * k, 2) for k in range(21))
T_GRID_QUICK = (0.0, 0.5, 1.0)


@dataclass
class SiteGrid:
    """One explorer as the site offers it (see the module docstring).

    Args:
        title: a short name for the explorer, unique within its notebook (used in file names: letters,
            digits, '-' only).
        explorer: the live `Explorer`, built as the notebook builds it.
        values: control name -> tuple of the values the site offers (floats for float sliders, ints for int
            sliders, option values for dropdowns), in order.
        allowed: optional predicate allowed(setting: dict) -> bool for settings the live explorer can show.
        labels: optional control name -> tuple of display strings for the values (default: as the
            explorer's readout writes them).

    Raises (from `check`, called on construction):
        ValueError: a control without values or values for no control, an empty value list, a duplicate, a
            value outside a slider's range or not among a dropdown's options, a bad title, or no allowed setting.
    """

    title: str
    explorer: Explorer
    values: dict
    allowed: Callable[[dict], bool] | None = None
    labels: dict = field(default_factory=dict)

    def __post_init__(self):
        self.values = {name: tuple(v) for name, v in self.values.items()}
        self.check()

    def check(self) -> None:
        """Raise ValueError unless the grid covers exactly the explorer's controls with values they can take."""
        if not self.title or not all(c.isalnum() or c == "-" for c in self.title):
            raise ValueError(f"site grid title {self.title!r} must be letters, digits and '-' only")
        controls = self.explorer.controls
        if set(self.values) != set(controls):
            raise ValueError(f"site grid of {self.title!r} covers {sorted(self.values)}, but the explorer's "
                             f"controls are {sorted(controls)}: give values for every control and no other")
        for name, values in self.values.items():
            c = controls[name]
            if not values:
                raise ValueError(f"site grid of {self.title!r}: control {name!r} has no values")
            if len(set(values)) != len(values):
                raise ValueError(f"site grid of {self.title!r}: control {name!r} repeats a value: {values}")
            if isinstance(c, (widgets.Dropdown, widgets.SelectionSlider, widgets.ToggleButtons)):
                options = [o[1] if isinstance(o, tuple) else o for o in c.options]
                bad = [v for v in values if v not in options]
                if bad:
                    raise ValueError(f"site grid of {self.title!r}: {name!r} values {bad} are not among its "
                                     f"options {options}")
            elif isinstance(c.value, tuple):   # a range slider: each value a pair (low, high), low <= high
                bad = [v for v in values
                       if not (isinstance(v, tuple) and len(v) == 2 and c.min <= v[0] <= v[1] <= c.max)]
                if bad:
                    raise ValueError(f"site grid of {self.title!r}: {name!r} is a range slider; its values must be "
                                     f"pairs (low, high) with {c.min} <= low <= high <= {c.max}, got {bad}")
            elif hasattr(c, "min") and hasattr(c, "max"):
                bad = [v for v in values if not c.min <= v <= c.max]
                if bad:
                    raise ValueError(f"site grid of {self.title!r}: {name!r} values {bad} lie outside the "
                                     f"slider's range [{c.min}, {c.max}]")
            if name in self.labels and len(self.labels[name]) != len(values):
                raise ValueError(f"site grid of {self.title!r}: {name!r} has {len(values)} values but "
                                 f"{len(self.labels[name])} labels")
        if not self.settings():
            raise ValueError(f"site grid of {self.title!r} allows no setting at all")

    def settings(self) -> list[dict]:
        """Every allowed setting of the grid, as dicts control name -> value (in grid order)."""
        names = list(self.values)
        every = (dict(zip(names, combo)) for combo in itertools.product(*self.values.values()))
        return [s for s in every if self.allowed is None or self.allowed(s)]

    def render(self) -> Iterator[tuple[dict, bytes]]:
        """Yield (setting, picture bytes) for every allowed setting, moving the live explorer's controls.

        Raises:
            ValueError: setting the controls did not reach the setting (an observer snapped a value:
                declare `allowed`), or the explorer could not draw it (its error is named).
        """
        ex = self.explorer
        for setting in self.settings():
            for name, value in setting.items():
                ex.controls[name].value = value
            if ex.values != setting:
                raise ValueError(f"site grid of {self.title!r}: asked for {setting}, the live explorer shows "
                                 f"{ex.values}; declare `allowed` so the site offers only what it can show")
            if ex.error is not None:
                raise ValueError(f"site grid of {self.title!r}: the explorer could not draw {setting}: {ex.error}")
            yield setting, ex.image.value

    def show_saved(self, saved: dict) -> bytes:
        """Move the live explorer to the control values a notebook saved (one entry of `saved_pictures`) and
        return its picture; a dropdown's saved option label is turned back into its value.

        Raises:
            ValueError: the saved values do not fit the controls (another number of them, an unknown option),
                or the explorer ended elsewhere (an observer moved a value).
        """
        ex = self.explorer
        if len(saved["values"]) != len(ex.controls):
            raise ValueError(f"{self.title!r}: the notebook saved {len(saved['values'])} control values for "
                             f"{len(ex.controls)} controls {list(ex.controls)}")
        setting = {}
        for (name, control), value in zip(ex.controls.items(), saved["values"]):
            if hasattr(control, "options"):
                by_label = {str(o[0] if isinstance(o, tuple) else o): (o[1] if isinstance(o, tuple) else o)
                            for o in control.options}
                if str(value) not in by_label:
                    raise ValueError(f"{self.title!r}: saved option {value!r} of {name!r} is not among {list(by_label)}")
                value = by_label[str(value)]
            if isinstance(value, list):    # a range slider's pair, saved as a JSON list
                value = tuple(value)
            setting[name] = value
            control.value = value
        if ex.values != setting:
            raise ValueError(f"{self.title!r}: asked for the saved {setting}, the live explorer shows {ex.values}")
        return ex.image.value

    def label(self, name: str, value) -> str:
        """The readout of one control value, as the site shows it."""
        if name in self.labels:
            return self.labels[name][self.values[name].index(value)]
        if isinstance(value, tuple):   # a range slider's pair, as its readout writes it
            return " – ".join(f"{v:.2f}" for v in value)
        return f"{value:.2f}" if isinstance(value, float) else str(value)


def site_explorers_of(number: str) -> Callable[..., list[SiteGrid]] | None:
    """The `site_explorers` function of notebook `number` ("00", "01", ...), or None if it has no explorer module.

    Looks for the widget module `fmlite.widgets.nbNN_*`.
    """
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):   # not `import ..widgets`: no import cycle
        if info.name.startswith(f"nb{number}_"):
            module = importlib.import_module(f"{__package__}.{info.name}")
            return getattr(module, "site_explorers", None)
    return None


def _pixels(picture: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(picture)).convert("RGB"), dtype=np.int16)


def site_picture(picture: bytes, quality: int = SITE_QUALITY) -> bytes:
    """The live picture (any format Pillow reads) as the site shows it: lossy WebP at `quality`, or the live
    picture itself where it is a WebP no larger than that (simple plots compress better losslessly)."""
    from PIL import Image

    out = io.BytesIO()
    image = Image.open(io.BytesIO(picture)).convert("RGB")
    image.save(out, "WEBP", quality=quality, method=4)
    if picture[8:12] == b"WEBP" and len(picture) <= out.tell():
        return picture
    return out.getvalue()


def picture_difference(a: bytes, b: bytes) -> dict:
    """{"mean", "p99", "max"}: absolute differences of two pictures' RGB levels (0..255).

    Raises:
        ValueError: the pictures differ in size (a different layout, not a small difference).
    """
    pa, pb = _pixels(a), _pixels(b)
    if pa.shape != pb.shape:
        raise ValueError(f"the pictures differ in size: {pa.shape[1]}x{pa.shape[0]} vs {pb.shape[1]}x{pb.shape[0]}")
    d = np.abs(pa - pb)
    return {"mean": float(d.mean()), "p99": float(np.percentile(d, 99)), "max": int(d.max())}


def saved_pictures(notebook) -> list[dict]:
    """The explorers a committed notebook saved, in the order of its cells: [{"values", "picture"}, ...].

    "values" lists the control values in the order of the explorer's controls (a dropdown's option label),
    "picture" is the bytes of the picture the live explorer showed for them when the notebook was saved.

    Raises:
        ValueError: the notebook has no saved widget state (run it and save it with widget state).
    """
    with open(notebook, encoding="utf-8") as f:
        nb = json.load(f)
    state = nb.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    if not state:
        raise ValueError(f"{notebook} holds no widget state; execute it with nbconvert (which saves it)")
    models = state["state"]

    def model(ref):
        return models[ref.replace("IPY_MODEL_", "")]

    found = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if not view or view["model_id"] not in models:
                continue
            box = models[view["model_id"]]["state"].get("children", [])
            parts = [model(c) for c in box]
            image = next((p for p in parts if p["model_name"] == "ImageModel"), None)
            row = next((p for p in parts if p["model_name"] == "HBoxModel"), None)
            if image is None or row is None:
                continue
            values = []
            for c in row["state"]["children"]:
                m = model(c)["state"]
                values.append(m["_options_labels"][m["index"]] if "_options_labels" in m else m["value"])
            data = next(b["data"] for b in image.get("buffers", []) if b["path"] == ["value"])
            found.append({"values": values, "picture": base64.b64decode(data)})
    return found
