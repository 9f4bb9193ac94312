"""Notebook 11: a latent flow over t and the guidance weight w, decoded to digits, beside a 2-D latent's points.

The frames are computed once (`latent_flow_frames`: both flows integrated for every offered w, every stored
state of the 8-D flow decoded), so a move of either slider only picks stored arrays and moves artists
(`update_latent_flow`). `draw_latent_flow` is the pure drawing function (tests and static figures call it),
`latent_flow_explorer` the thin `Explorer` wrapper, `site_explorers` the static site's grid.
"""
from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from ..checks import check_count, check_time_value
from .explorer import Explorer, t_slider

__all__ = ["LatentFrames", "latent_flow_frames", "draw_latent_flow", "update_latent_flow", "latent_flow_explorer",
           "site_explorers"]


@dataclass
class LatentFrames:
    """Stored states of two latent flows, for every offered guidance weight.

    Attributes:
        images: w -> decoded states of the k-dimensional flow, (K + 1, R, C, 1, 8, 8) in (-1, 1): state i is
            the ODE at t = i / K, decoded as decoder(z_t * scale) (row r: digit r).
        points: w -> scaled 2-D codes of the 2-D flow, (K + 1, N, 2).
        labels: the requested digit of each 2-D point, (N,) ints in 0..9.
        codes: scaled 2-D codes of real digits, (M, 2), drawn faint behind the points.
        lim: half-width of the 2-D panel.
    """
    images: dict
    points: dict
    labels: np.ndarray
    codes: np.ndarray
    lim: float = 3.5

    def frame(self, t: float, w) -> int:
        """The stored state shown at time t (nearest on the uniform grid). Raises KeyError for a w not stored,
        ValueError for t outside [0, 1]."""
        from ..plotting import frame_index
        if w not in self.images:
            raise KeyError(f"no frames precomputed for w = {w}; have {sorted(self.images)}")
        return frame_index(t, len(self.images[w]))


def latent_flow_frames(flow, autoencoder, flow_2d, autoencoder_2d, ws=(0.0, 1.0, 2.0, 4.0), steps: int = 20,
                       per_digit: int = 6, n_points: int = 300, seed: int = 0) -> LatentFrames:
    """Integrate both latent flows for every w in `ws` (midpoint, `steps` steps, trajectories kept, the same noise
    for every w) and decode every stored state of the k-dimensional one.

    Args:
        flow, autoencoder: a class-conditional latent flow (`MLP(dim=k, num_classes=10)`) and the autoencoder
            whose scaled latents it was trained on (e.g. `load_pretrained("latent_flow_vae")`, `"digits_vae"`).
        flow_2d, autoencoder_2d: the same for a 2-D latent (`"latent_flow_vae2d"`, `"digits_vae2d"`).
        ws: the guidance weights offered. steps: ODE steps (>= 1). per_digit: images per digit (>= 1).
        n_points: 2-D points (>= 10; labels 0..9 in turn). seed: the noise seed (z_0 of both flows).

    Returns:
        LatentFrames (numpy arrays). Real codes: the 2-D autoencoder's scaled codes of all 1,797 digits.

    Raises:
        ValueError: counts that are not whole numbers (>= 1; n_points >= 10), and what `integrate` refuses.
    """
    import torch

    from ..datasets import load_digits
    from ..models import guided_velocity
    from ..solvers import integrate

    steps, per_digit = check_count(steps, "steps"), check_count(per_digit, "per_digit")
    n_points = check_count(n_points, "n_points", 10)
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(10).repeat_interleave(per_digit)
    z_0 = torch.randn(len(y), autoencoder.latent_dim, generator=g)
    y_2d = torch.arange(n_points) % 10
    z_0_2d = torch.randn(n_points, 2, generator=g)
    images, points = {}, {}
    with torch.no_grad():
        for w in ws:
            tr = integrate(guided_velocity(flow, y, w), z_0, steps, "midpoint", return_trajectory=True).trajectory
            x = autoencoder.decode(autoencoder.unscale_latents(tr.reshape(-1, tr.shape[-1])))
            images[w] = x.reshape(steps + 1, 10, per_digit, 1, 8, 8).numpy()
            points[w] = integrate(guided_velocity(flow_2d, y_2d, w), z_0_2d, steps, "midpoint",
                                  return_trajectory=True).trajectory.numpy()
        codes = autoencoder_2d.scale_latents(autoencoder_2d.encode(load_digits()[0])).numpy()
    return LatentFrames(images, points, y_2d.numpy(), codes)


_DIGIT_CMAP = "tab10"


def _title(t: float, w) -> str:
    return f"t = {t:.2f}, w = {float(w):g}: decoded z_t (left), 2-D latent (right)"


def draw_latent_flow(fig: Figure, t: float, w, frames: LatentFrames) -> None:
    """Left: the k-dimensional latent flow's states at time t decoded to digits (one row per digit); right: the 2-D latent flow's points at time t, coloured by the digit they were asked for
    (tab10 colours), over the real digits' codes (grey). The suptitle states t and w.

    Args:
        fig: empty Figure. t: time in [0, 1] (nearest stored state). w: a stored guidance weight.
        frames: `latent_flow_frames(...)`.

    Raises:
        ValueError: t not one number in [0, 1]. KeyError: w not stored (lists the stored ones).
    """
    t = check_time_value(t)
    from ..plotting import image_rows, setup_axes
    k = frames.frame(t, w)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [0.8, 1.0]})
    image_rows(left, frames.images[w][k], row_labels=range(frames.images[w].shape[1]))
    setup_axes(right, frames.lim)
    right.scatter(frames.codes[:, 0], frames.codes[:, 1], s=3, color="0.82", linewidths=0)
    right.scatter(*frames.points[w][k].T, s=9, c=frames.labels, cmap=_DIGIT_CMAP, vmin=-0.5, vmax=9.5,
                  linewidths=0)
    right.set_title("grey: real codes; colour: digit asked", fontsize="x-small")
    fig.suptitle(_title(t, w), fontsize="small")


def update_latent_flow(fig: Figure, t: float, w, frames: LatentFrames):
    """In-place fast path of `draw_latent_flow` for another t or w: new tiled digits, moved points, new suptitle.
    Returns False (changing nothing) when the stored images have another shape than those shown."""
    t = check_time_value(t)
    from ..plotting import tile_images
    k = frames.frame(t, w)
    left, right = fig.axes[:2]
    im = frames.images[w][k]
    tiled = tile_images(im.reshape(-1, *im.shape[2:]), ncol=im.shape[1])
    if tiled.shape != left.images[0].get_array().shape:
        return False
    left.images[0].set_data(tiled)
    right.collections[1].set_offsets(frames.points[w][k])
    fig.suptitle(_title(t, w), fontsize="small")
    return True


def latent_flow_explorer(frames: LatentFrames, t: float = 1.0, w=1.0, size: float = 5.0) -> Explorer:
    """Sliders over t (the stored states) and over the stored guidance weights w; see `draw_latent_flow`.
    Both only pick stored frames (nothing is integrated or decoded on a move)."""
    ws = sorted(frames.images)
    steps = len(frames.images[ws[0]]) - 1
    slider = widgets.SelectionSlider(options=ws, value=w, description="w", continuous_update=True)
    return Explorer(draw_latent_flow, {"t": t_slider(t, step=1.0 / steps), "w": slider},
                    figsize=(1.8 * size, size), update=update_latent_flow, cheap=("t", "w"), frames=frames)


# ----------------------------------------------------------------------------- the static site
def _as_in_notebook() -> Explorer:
    """Notebook 11's explorer, built as its cells build it: `latent_flow_frames` of the shipped latent_flow_vae /
    digits_vae and latent_flow_vae2d / digits_vae2d with its defaults, then `latent_flow_explorer(frames)`."""
    from ..pretrained import load_pretrained
    frames = latent_flow_frames(load_pretrained("latent_flow_vae"), load_pretrained("digits_vae"),
                                load_pretrained("latent_flow_vae2d"), load_pretrained("digits_vae2d"))
    return latent_flow_explorer(frames)


def site_explorers(quick: bool = False) -> list:
    """Notebook 11's explorer as the static site offers it (`fmlite.widgets.site_grid`): t in steps of 0.05 (the 20
    stored midpoint steps), w every stored weight (0, 1, 2, 4). Rebuilt as the notebook builds it, under its setup
    cell (`lecture_style()`, one torch thread, restored afterwards): about 2 s on one thread of a 2-core CPU.
    quick: t in `T_GRID_QUICK`, w in 0 and 4."""
    import torch

    from ..plotting import lecture_style
    from .site_grid import T_GRID, T_GRID_QUICK, SiteGrid

    lecture_style()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ex = _as_in_notebook()
    finally:
        torch.set_num_threads(threads)
    ws = (0.0, 4.0) if quick else tuple(ex.controls["w"].options)
    return [SiteGrid("latent-flow", ex, {"t": T_GRID_QUICK if quick else T_GRID, "w": ws},
                     labels={"w": tuple(str(w) for w in ws)})]
