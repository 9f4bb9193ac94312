"""Notebook 03: a learned field against the exact field, over t.

Each explorer is a pure `draw_*(fig, ...)` function (tests and static figures call it) plus a thin
`Explorer` wrapper (see `fmlite.widgets.explorer`).
"""
from __future__ import annotations

from matplotlib.figure import Figure

from .explorer import Explorer, float_slider

__all__ = ["draw_learned_vs_exact", "learned_vs_exact_explorer"]


def draw_learned_vs_exact(fig: Figure, t: float, model, data, path, lim: float = 3.0, n: int = 15,
                          n_points: int = 1000, seed: int = 0) -> None:
    """Three panels at time t: the learned field v_theta(x, t), the exact marginal field u_t(x) of the
    finite data set (`fmlite.exact.marginal_velocity`), and the error |v_theta(x_t, t) - u_t(x_t)| at samples
    x_t ~ p_t (points coloured by the error: that is where sampling goes).

    Both arrow panels share one arrow scale, set by the exact field's speeds at the samples, so arrow
    lengths compare; arrows are capped at 1.5 grid spacings (`fmlite.plotting.arrows`).

    Args:
        fig: empty Figure. t: time in [0, 1] (0 = noise, 1 = data).
        model: velocity network model(x, t). data: the finite training set (N, 2). path: its `Path`.
        n: arrows per side. n_points: samples x_t drawn (with a fixed `seed`) for the error panel.
    """
    import torch

    from ..exact import marginal_velocity
    from ..plotting import COLORS, arrow_scale, arrows, error_points, scatter, setup_axes

    g = torch.Generator().manual_seed(seed)
    x_1 = data[torch.randint(0, len(data), (n_points,), generator=g)]
    x_0 = torch.randn(x_1.shape, generator=g, dtype=x_1.dtype)
    x_t = path.interpolate(x_0, x_1, float(t), eps=torch.randn(x_1.shape, generator=g, dtype=x_1.dtype))
    exact = lambda x, s: marginal_velocity(x, s, data, path)  # noqa: E731
    scale = arrow_scale(exact(x_t, torch.full((n_points,), float(t))).norm(dim=1), lim, n)
    axes = fig.subplots(1, 3)
    for ax, field, color, name in ((axes[0], model, COLORS["model"], "learned $v_\\theta$ (green)"),
                                   (axes[1], exact, COLORS["exact"], "exact $u_t(x)$ (purple)")):
        setup_axes(ax, lim, name)
        scatter(ax, data, color=COLORS["data"], s=4, alpha=0.3)
        arrows(ax, field, t, color, lim, n, scale=scale)
    setup_axes(axes[2], lim)
    _, err = error_points(axes[2], model, exact, x_t, t)
    axes[2].set_title(f"error $|v_\\theta - u_t(x)|$ at $x_t$: mean {err.mean():.2f}")
    fig.suptitle(f"t = {float(t):.2f}")


def learned_vs_exact_explorer(model, data, path, t: float = 0.5, lim: float = 3.0, n: int = 15,
                              t_max: float = 0.95) -> "Explorer":
    """Slider over t (0 to t_max) comparing a learned field with the exact field of its training set; see
    `draw_learned_vs_exact`. Redraws when the slider is released (a frame takes a few tenths of a second).
    t_max < 1 as in `vector_field_explorer`: at t = 1 the exact field is only a convention (see `fmlite.exact`)."""
    return Explorer(draw_learned_vs_exact, {"t": float_slider("t", t, 0.0, t_max, 0.05, continuous_update=False)},
                    figsize=(12.5, 4.2), model=model, data=data, path=path, lim=lim, n=n)
