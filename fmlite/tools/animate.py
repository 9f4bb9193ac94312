"""An animated GIF of noise flowing into the word FLOW: `python -m fmlite animate [--out flow.gif]`.

The shipped flow model (`load_pretrained("flow")`, the MLP of notebook 00) carries Gaussian
noise x_0 at t = 0 into the word at t = 1: dx/dt = v_theta(x, t), solved with the midpoint
method, one frame per step, then a pause on the word. Frames are drawn with Pillow directly
(a 2 x 2 dot per point, grey at t = 0 turning to the data colour at t = 1), which keeps the file small.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["flow_frames", "write_gif", "MAX_BYTES"]

#: The README and the site show the GIF; it must stay at most this size.
MAX_BYTES = 1_000_000

_NOISE, _DATA = (140, 140, 140), (31, 119, 180)  # COLORS["noise"], COLORS["data"] of fmlite.plotting


def flow_frames(n_points: int = 3000, steps: int = 40, size: tuple[int, int] = (480, 270), hold: int = 12,
                seed: int = 0, model=None) -> list:
    """The frames of the animation, as PIL images (mode "P").

    Args:
        n_points: points drawn, >= 1. steps: midpoint steps from t = 0 to t = 1 (one frame each), >= 1.
        size: (width, height) in pixels, each >= 64. hold: extra frames showing the word at t = 1, >= 0.
        seed: seed of the noise x_0. model: a velocity v(x (B, 2), t (B,)) (default: the shipped flow model).

    Returns:
        steps + 1 + hold images.

    Raises:
        ValueError: a count or size out of range. FileNotFoundError: data/flow.pt is missing.
    """
    from PIL import Image, ImageDraw

    from ..checks import check_count
    from ..pretrained import load_pretrained
    from ..solvers import integrate
    n_points, steps = check_count(n_points, "n_points"), check_count(steps, "steps")
    if hold < 0 or min(size) < 64:
        raise ValueError(f"need hold >= 0 and a size of at least 64 x 64 pixels, got hold={hold}, size={size}")
    model = load_pretrained("flow") if model is None else model
    x_0 = torch.randn(n_points, 2, generator=torch.Generator().manual_seed(seed))
    sol = integrate(model, x_0, steps, "midpoint", return_trajectory=True)
    traj = sol.trajectory.detach().double()  # (steps + 1, n_points, 2)
    word = traj[-1]
    lo, hi = torch.quantile(word, 0.002, dim=0), torch.quantile(word, 0.998, dim=0)
    w, h = size
    top = 24  # room for the caption
    # the word fills 80% of the width (or of the height below the caption); far noise points leave the frame
    scale = min(0.8 * w / float(hi[0] - lo[0]), 0.8 * (h - top) / float(hi[1] - lo[1]))
    centre = (lo + hi) / 2
    frames = []
    for k in range(steps + 1 + hold):
        i = min(k, steps)
        t = float(sol.times[i])
        colour = np.array([round(a + t * (b - a)) for a, b in zip(_NOISE, _DATA)], dtype=np.uint8)
        pixels = np.full((h, w, 3), 255, dtype=np.uint8)
        px = ((traj[i, :, 0] - centre[0]) * scale + w / 2).round().long().numpy()
        py = ((centre[1] - traj[i, :, 1]) * scale + top + (h - top) / 2).round().long().numpy()
        for dx in (0, 1):  # a 2 x 2 dot per point
            for dy in (0, 1):
                inside = (px + dx >= 0) & (px + dx < w) & (py + dy >= top) & (py + dy < h)
                pixels[py[inside] + dy, px[inside] + dx] = colour
        img = Image.fromarray(pixels)
        ImageDraw.Draw(img).text((8, 6), f"t = {t:.2f}    noise (t = 0) flows into data (t = 1)", fill=(40, 40, 40))
        frames.append(img.quantize(colors=8, method=Image.Quantize.MEDIANCUT))
    return frames


def write_gif(out: str | Path = "flow.gif", frame_ms: int = 80, max_bytes: int = MAX_BYTES, force: bool = True,
              **kwargs) -> Path:
    """Write the animation (`flow_frames(**kwargs)`) as a looping GIF, `frame_ms` per frame; return the file.

    Everything about `out` is checked before the first frame is drawn; the GIF is written to a temporary
    file beside `out` and renamed into place only when it is complete and small enough, so an existing
    `out` is never lost (not to an error, a Ctrl-C, nor a GIF over the size limit).

    Args:
        out: a .gif file in an existing folder. force: replace an existing `out` (default True, as a library
            call; the command line passes --force, so there it is False unless asked for).

    Raises:
        ValueError: `out` does not end in .gif, is a folder, lies in a missing or unwritable folder, or exists
            and `force` is False (each message names the file and the fix); the GIF came out larger than
            `max_bytes` (nothing is written; use fewer points, steps or pixels); or frame_ms < 20.
    """
    from ..files import check_output_file, replace_atomically
    out = check_output_file(out, force=force, suffixes=(".gif",))
    if frame_ms < 20:
        raise ValueError(f"frame_ms must be >= 20 (browsers slow faster GIFs down), got {frame_ms}")
    frames = flow_frames(**kwargs)
    with replace_atomically(out) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0,
                       optimize=True)
        size = tmp.stat().st_size
        if size > max_bytes:
            raise ValueError(f"the GIF came out at {size:,} bytes, over the limit of {max_bytes:,}; "
                             f"use fewer points, steps or pixels ({out} was not written)")
    return out
