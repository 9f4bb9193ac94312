"""Notebook 07: an image batch flowing over t, and classifier-free guidance over w.

Each explorer is a pure `draw_*(fig, ...)` function (tests and static figures call it) plus a thin
`Explorer` wrapper (see `fmlite.widgets.explorer`).
"""
from __future__ import annotations

import textwrap

import ipywidgets as widgets
from matplotlib.figure import Figure

from ..checks import check_time_value
from .explorer import Explorer, t_slider
from .trajectories import _time_step

__all__ = ["draw_image_flow", "image_flow_explorer", "draw_guidance", "update_guidance", "guidance_explorer",
           "site_explorers"]


def draw_image_flow(fig: Figure, t: float, trajectory, ncol: int | None = None) -> None:
    """A grid of images at time t of a stored image trajectory (nearest stored step).

    Args:
        fig: empty Figure to draw into.
        t: time in [0, 1] (0 = noise, 1 = images); the trajectory is on a uniform grid of [0, 1].
        trajectory: (K + 1, B, 1, H, W) states in about [-1, 1], e.g.
            `integrate(model, x_0, steps, return_trajectory=True).trajectory`.
        ncol: images per row (default: about square).
    """
    t = check_time_value(t)
    from ..plotting import frame_index, image_grid, to_numpy
    tr = to_numpy(trajectory)
    if tr.ndim != 5:
        raise ValueError(f"draw_image_flow needs a trajectory of shape (K + 1, B, 1, H, W), got {tr.shape}")
    ax = fig.add_subplot(1, 1, 1)
    image_grid(ax, tr[frame_index(t, len(tr))].clip(-1, 1), ncol=ncol)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(f"t = {float(t):.2f}")


def image_flow_explorer(trajectory, t: float = 0.0, ncol: int | None = None, size: float = 4.5) -> Explorer:
    """Slider over t showing images flowing from noise (t = 0) to data (t = 1); see `draw_image_flow`."""
    import math
    ncol = ncol or math.ceil(math.sqrt(trajectory.shape[1]))
    rows = math.ceil(trajectory.shape[1] / ncol)
    return Explorer(draw_image_flow, {"t": t_slider(t, step=_time_step(trajectory))},
                    figsize=(size, size * rows / ncol + 0.5), trajectory=trajectory, ncol=ncol)


def draw_guidance(fig: Figure, w: float, samples: dict, scores: dict | None = None, row_labels=None) -> None:
    """Precomputed samples at guidance weight w, as rows (one per class), with their scores in the title.

    Args:
        fig: empty Figure to draw into.
        w: a key of `samples` (the guidance weight, see `fmlite.models.guided_velocity`).
        samples: w -> images (R, K, 1, H, W) (row i: K samples of class i).
        scores: optional w -> a `fmlite.digit_metrics.DigitScores` (or any object with `.summary()`).
        row_labels: R labels on the left (default 0..R-1).

    Raises:
        KeyError: w is not one of the precomputed weights (lists them).
    """
    from ..plotting import image_rows
    if w not in samples:
        raise KeyError(f"no samples precomputed for w = {w}; have {sorted(samples)}")
    images = samples[w]
    ax = fig.add_subplot(1, 1, 1)
    image_rows(ax, images, row_labels=row_labels if row_labels is not None else range(len(images)))
    ax.set_title(_guidance_title(w, scores), fontsize="small")


def _guidance_title(w, scores) -> str:
    title = f"w = {float(w):.2f}"
    if scores is not None and w in scores:  # wrapped so the scores fit above a narrow grid
        title += "\n" + textwrap.fill(scores[w].summary(), width=32)
    return title


def update_guidance(fig: Figure, w: float, samples: dict, scores: dict | None = None, row_labels=None):
    """In-place fast path of `draw_guidance` for another w: the new tiled images and title. Returns False
    (changing nothing) when the images of w have another shape than those shown."""
    from ..plotting import tile_images, to_numpy
    if w not in samples:
        raise KeyError(f"no samples precomputed for w = {w}; have {sorted(samples)}")
    im = to_numpy(samples[w])
    ax = fig.axes[0]
    tiled = tile_images(im.reshape(-1, *im.shape[2:]), ncol=im.shape[1])
    if tiled.shape != ax.images[0].get_array().shape:
        return False
    ax.images[0].set_data(tiled)
    ax.set_title(_guidance_title(w, scores), fontsize="small")
    return True


def guidance_explorer(samples: dict, scores: dict | None = None, w: float | None = None, row_labels=None,
                      size: float = 5.0) -> Explorer:
    """Slider over the precomputed guidance weights w (instant: nothing is sampled on a move); see `draw_guidance`."""
    options = sorted(samples)
    slider = widgets.SelectionSlider(options=options, value=options[0] if w is None else w, description="w",
                                     continuous_update=True)
    r, k = samples[options[0]].shape[:2]
    return Explorer(draw_guidance, {"w": slider}, figsize=(size * max(k / r, 0.6) + 0.6, size + 0.6),
                    update=update_guidance, cheap=("w",),
                    samples=samples, scores=scores, row_labels=row_labels)


# ----------------------------------------------------------------------------- the static site (issue 22)
def _image_flow_as_in_notebook(model) -> Explorer:
    """Notebook 07's first explorer, built as its cells build it: cell 24 (ten noise images of seed 3 flowing
    under `guided_velocity(model, 0..9, 1.0)`, midpoint, 20 steps, trajectory kept) and cell 28
    (`image_flow_explorer(flow.trajectory, ncol=5, t=0.5, size=6)`). `model` is cell 16's
    `load_pretrained("digits")`."""
    import torch

    from ..models import guided_velocity
    from ..solvers import integrate

    x_0 = torch.randn(10, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    flow = integrate(guided_velocity(model, torch.arange(10), 1.0), x_0, steps=20, method="midpoint",
                     return_trajectory=True)
    return image_flow_explorer(flow.trajectory, ncol=5, t=0.5, size=6)


def _guidance_as_in_notebook(model) -> Explorer:
    """Notebook 07's second explorer, built as its cells build it: cell 39 (10 of each digit for w in
    0, 0.5, 1, 1.5, 2, 3, 4 with `sample_images(model, 100, labels, w=w, steps=5, seed=8)`, 8 of each digit
    kept for the picture, all 100 scored by `digit_scores`) and cell 43 (`guidance_explorer(guided_samples,
    guided_scores, w=1.0)`). `model` is cell 16's `load_pretrained("digits")`."""
    import torch

    from ..digit_metrics import digit_scores
    from ..pretrained import sample_images

    ws = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0]
    digits_10 = torch.arange(10).repeat_interleave(10)
    guided_samples, guided_scores = {}, {}
    for w in ws:
        x = sample_images(model, 100, labels=digits_10, w=w, steps=5, seed=8)
        guided_samples[w] = x.reshape(10, 10, 1, 8, 8)[:, :8]
        guided_scores[w] = digit_scores(x, digits_10)
    return guidance_explorer(guided_samples, guided_scores, w=1.0)


def site_explorers(quick: bool = False) -> list:
    """Notebook 07's explorers as the static site offers them (`fmlite.widgets.site_grid`), in the notebook's
    order: the image flow over t (cell 28) and guidance over w (cell 43).

    Rebuilt as the notebook builds them (the shipped `load_pretrained("digits")`, the same seeds), under the
    notebook's setup cell: `lecture_style()` (global matplotlib rcParams, which the pictures depend on) and one
    torch thread while sampling (restored afterwards). Rebuild: 15-20 s on one thread of a 2-core CPU (37 s
    while other jobs loaded it), nearly all of it the guidance cell's sampling (7 weights x 100 digits x 10
    network evaluations, the guided weights on a double batch) and the first `digit_scores` (its classifier is
    fitted once per process, about 3.5 s); nothing shorter gives the same samples. Rendering all 28 settings: 2 s.

    Grids: t in steps of 0.05 over [0, 1] (`T_GRID`: the trajectory's 20 midpoint steps, one picture per
    stored state); w: every weight the notebook precomputed (the SelectionSlider offers no other).
    quick: t in `T_GRID_QUICK`, w in 0, 1, 4. The w readout is the SelectionSlider's option label ("1.0", not "1.00").
    """
    import torch

    from ..plotting import lecture_style
    from ..pretrained import load_pretrained
    from .site_grid import T_GRID, T_GRID_QUICK, SiteGrid

    lecture_style()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = load_pretrained("digits")
        flow, guidance = _image_flow_as_in_notebook(model), _guidance_as_in_notebook(model)
    finally:
        torch.set_num_threads(threads)
    ws = (0.0, 1.0, 4.0) if quick else tuple(guidance.controls["w"].options)
    return [SiteGrid("image-flow", flow, {"t": T_GRID_QUICK if quick else T_GRID}),
            SiteGrid("guidance", guidance, {"w": ws}, labels={"w": tuple(str(w) for w in ws)})]
