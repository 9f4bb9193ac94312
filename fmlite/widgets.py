"""Explorers: sliders that redraw a figure, for JupyterLab and lectures.

Each explorer is a pure drawing function `draw_*(fig, **params)` that draws the whole
figure from its parameters (tests call it directly), plus a thin ipywidgets wrapper,
`Explorer`, that redraws one pyplot-free Figure on every slider change, renders it to
PNG and swaps the bytes of a `widgets.Image` (no flicker, no output-area churn), and
states the current values in a `widgets.Label` (e.g. "t = 0.25").

Tests move the sliders programmatically: `ex.controls["t"].value = 0.7` redraws
synchronously, then `ex.image.value` holds the new PNG. When a drawing raises after a
slider move, the picture says so and the label reads "t = 0.70: could not draw (...)",
so picture, label and slider never disagree; the error is kept in `ex.error`.
"""
from __future__ import annotations

import io
import textwrap
from typing import Callable

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .paths import SIGMA_SCHEDULES, sigma_schedule

__all__ = ["Explorer", "t_slider", "float_slider", "int_slider", "dropdown",
           "draw_trajectory", "trajectory_explorer", "draw_image_flow", "image_flow_explorer", "draw_guidance",
           "guidance_explorer", "SIGMA_SCHEDULE_NAMES", "sigma_schedule_by_name", "draw_interpolation",
           "interpolation_explorer", "draw_vector_field", "vector_field_explorer", "draw_learned_vs_exact",
           "learned_vs_exact_explorer", "draw_solver_paths", "solver_explorer"]


def t_slider(value: float = 0.5, step: float = 0.01, description: str = "t", continuous_update: bool = True):
    """A slider for time t in [0, 1] (0 = noise, 1 = data)."""
    return widgets.FloatSlider(value=value, min=0.0, max=1.0, step=step, description=description,
                               continuous_update=continuous_update, readout_format=".2f")


def float_slider(description: str, value: float, min: float, max: float, step: float = 0.05,
                 continuous_update: bool = True):
    """A labelled float slider."""
    return widgets.FloatSlider(value=value, min=min, max=max, step=step, description=description,
                               continuous_update=continuous_update, readout_format=".2f")


def int_slider(description: str, value: int, min: int, max: int, step: int = 1, continuous_update: bool = False):
    """A labelled integer slider (no continuous update: integer controls usually mean recomputation)."""
    return widgets.IntSlider(value=value, min=min, max=max, step=step, description=description,
                             continuous_update=continuous_update)


def dropdown(description: str, options, value=None):
    """A labelled dropdown."""
    return widgets.Dropdown(options=options, value=value if value is not None else list(options)[0],
                            description=description)


def _format(name: str, value) -> str:
    return f"{name} = {value:.2f}" if isinstance(value, float) else f"{name} = {value}"


class Explorer:
    """Controls -> draw(fig, **values) -> PNG in an Image widget, with a Label stating the values.

    Args:
        draw: pure function draw(fig, **params) that draws everything into the empty Figure fig.
        controls: name -> ipywidgets value widget; names are draw's keyword arguments.
        figsize: size of the Figure in inches.
        dpi: resolution of the PNG.
        fixed: extra keyword arguments passed to draw unchanged (data, models, ...).

    Attributes:
        figure, image (widgets.Image), label (widgets.Label), controls, widget (the VBox to display).
        draws: how many times the figure has been drawn.
        error: the exception of the last drawing, or None when it succeeded. After a slider
            move whose drawing raises, the picture shows the message, the label states the values
            followed by "could not draw (message)", and nothing is raised (an exception in a
            widget callback would reach only JupyterLab's log console).

    Raises:
        TypeError: a control is not an ipywidgets value widget.
        Exception: whatever draw raises for the initial values (a setup error, shown in the cell).
    """

    def __init__(self, draw: Callable[..., None], controls: dict, figsize=(9.0, 4.0), dpi: int = 80, **fixed):
        for name, c in controls.items():
            if not isinstance(c, widgets.ValueWidget):
                raise TypeError(f"control {name!r} must be an ipywidgets value widget, got {type(c).__name__}")
        self.draw_fn, self.controls, self.fixed, self.dpi = draw, dict(controls), fixed, dpi
        self.figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.image = widgets.Image(format="png", layout=widgets.Layout(width=f"{int(figsize[0] * dpi)}px"))
        self.label = widgets.Label()
        self.draws, self.error = 0, None
        self.redraw()
        if self.error is not None:
            raise self.error
        for c in self.controls.values():
            c.observe(self._on_change, names="value")
        self.widget = widgets.VBox([widgets.HBox(list(self.controls.values())), self.label, self.image])

    @property
    def values(self) -> dict:
        """Current control values by name."""
        return {name: c.value for name, c in self.controls.items()}

    def _on_change(self, change) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Draw the figure from the current values and push the PNG to the Image widget.

        If the drawing raises, the figure shows the error in plain words instead, the label
        ends in "could not draw (...)" and `self.error` holds the exception; nothing is raised.
        """
        stated = ", ".join(_format(k, v) for k, v in self.values.items())
        self.figure.clear()
        try:
            self.draw_fn(self.figure, **self.values, **self.fixed)
            png = self._png()
        except Exception as err:  # noqa: BLE001 - shown in the widget, kept in self.error
            self.error = err
            message = f"{type(err).__name__}: {err}"
            self.figure.clear()
            self.figure.text(0.5, 0.5, "could not draw this view:\n" + textwrap.fill(message, 60), ha="center",
                             va="center", wrap=True, color="#d62728")
            self.image.value = self._png()
            self.label.value = f"{stated}: could not draw ({message})"
            return
        self.error = None
        self.image.value = png
        self.label.value = stated
        self.draws += 1

    def _png(self) -> bytes:
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=self.dpi)
        return buf.getvalue()

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


# ============================================================================ points moving along trajectories
def _time_step(trajectory) -> float:
    """Slider step of a trajectory of K + 1 states on a uniform grid of [0, 1] (one state: any step)."""
    return 1.0 / (len(trajectory) - 1) if len(trajectory) > 1 else 0.01


def draw_trajectory(fig: Figure, t: float, trajectory, target=None, trail: int = 0, lim: float = 3.0,
                    n_trails: int = 60) -> None:
    """Points of a flow at time t (nearest stored step), optionally with the target data faint behind
    and the last `trail` steps of a few paths drawn as lines (`fmlite.plotting.flow_snapshot` on one Axes).

    Args:
        fig: empty Figure to draw into.
        t: time in [0, 1] (0 = noise, 1 = data); the trajectory is assumed on a uniform grid of [0, 1].
        trajectory: (K + 1, B, 2) states, e.g. `integrate(..., return_trajectory=True).trajectory`.
        target: optional (N, 2) data cloud shown in light grey.
        trail: number of past steps drawn as lines (0 = none).
    """
    from .plotting import flow_snapshot
    flow_snapshot(fig.add_subplot(1, 1, 1), trajectory, t, target=target, trail=trail, lim=lim, n_trails=n_trails)


def trajectory_explorer(trajectory, target=None, trail: int = 0, lim: float = 3.0, t: float = 0.0,
                        size: float = 4.5) -> Explorer:
    """Slider over t moving the points along a stored trajectory (K + 1, B, 2); see `draw_trajectory`."""
    return Explorer(draw_trajectory, {"t": t_slider(t, step=_time_step(trajectory))}, figsize=(size, size),
                    trajectory=trajectory, target=target, trail=trail, lim=lim)


# ======================================================================= images: flow over t, guidance w (notebook 07)
def draw_image_flow(fig: Figure, t: float, trajectory, ncol: int | None = None) -> None:
    """A grid of images at time t of a stored image trajectory (nearest stored step).

    Args:
        fig: empty Figure to draw into.
        t: time in [0, 1] (0 = noise, 1 = images); the trajectory is on a uniform grid of [0, 1].
        trajectory: (K + 1, B, 1, H, W) states in about [-1, 1], e.g.
            `integrate(model, x_0, steps, return_trajectory=True).trajectory`.
        ncol: images per row (default: about square).
    """
    from .plotting import frame_index, image_grid, to_numpy
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
        scores: optional w -> a `fmlite.metrics.DigitScores` (or any object with `.summary()`).
        row_labels: R labels on the left (default 0..R-1).

    Raises:
        KeyError: w is not one of the precomputed weights (lists them).
    """
    from .plotting import image_rows
    if w not in samples:
        raise KeyError(f"no samples precomputed for w = {w}; have {sorted(samples)}")
    images = samples[w]
    ax = fig.add_subplot(1, 1, 1)
    image_rows(ax, images, row_labels=row_labels if row_labels is not None else range(len(images)))
    title = f"w = {float(w):.2f}"
    if scores is not None and w in scores:  # wrapped so the scores fit above a narrow grid
        title += "\n" + textwrap.fill(scores[w].summary(), width=32)
    ax.set_title(title, fontsize="small")


def guidance_explorer(samples: dict, scores: dict | None = None, w: float | None = None, row_labels=None,
                      size: float = 5.0) -> Explorer:
    """Slider over the precomputed guidance weights w (instant: nothing is sampled on a move); see `draw_guidance`."""
    options = sorted(samples)
    slider = widgets.SelectionSlider(options=options, value=options[0] if w is None else w, description="w",
                                     continuous_update=True)
    r, k = samples[options[0]].shape[:2]
    return Explorer(draw_guidance, {"w": slider}, figsize=(size * max(k / r, 0.6) + 0.6, size + 0.6),
                    samples=samples, scores=scores, row_labels=row_labels)


# ============================================================================ notebook 01: interpolation paths
#: The sigma(t) schedules of the interpolation explorer, by dropdown name (`fmlite.paths.SIGMA_SCHEDULES`).
SIGMA_SCHEDULE_NAMES = tuple(SIGMA_SCHEDULES)

#: Old name of `fmlite.paths.sigma_schedule`, kept so existing imports work.
sigma_schedule_by_name = sigma_schedule


def draw_interpolation(fig: Figure, t: float, sigma: float, schedule: str, x_0, x_1, eps, lim: float = 3.0,
                       n_paths: int = 12) -> None:
    """The stochastic interpolant x_t = (1 - t) x_0 + t x_1 + sigma(t) eps of a whole cloud at time t.

    Left: the data x_1 (faint blue), the conditional paths of the first n_paths pairs
    (orange, each with its own fixed eps) and the samples x_t (red; the scatter has
    gid "x_t" and its offsets are exactly `path.interpolate(x_0, x_1, t, eps)`).
    Right: sigma(t) on [0, 1] with the current t marked.

    Args:
        fig: empty Figure to draw into.
        t: time in [0, 1] (0 = noise, 1 = data).
        sigma: the scale of the schedule (>= 0).
        schedule: "constant", "bridge" or "sine" (see `fmlite.paths.sigma_schedule`).
        x_0, x_1, eps: noise, data and extra noise, each (B, 2), paired row by row.
    """
    import torch

    from .paths import LinearPath
    from .plotting import interpolant_panel, schedule_curve
    sched = sigma_schedule(schedule, sigma)
    grid = fig.add_gridspec(1, 2, width_ratios=[1.35, 1.0])
    ax = fig.add_subplot(grid[0])
    interpolant_panel(ax, float(t), LinearPath(sched), x_0, x_1, eps, n_paths=n_paths, lim=lim)
    ax.set_title(f"x_t at t = {float(t):.2f}")
    ax2 = fig.add_subplot(grid[1])
    schedule_curve(ax2, sched, t_mark=float(t), label="σ(t)")
    ax2.axvline(float(t), color="k", lw=1, ls=":")
    ax2.set_ylim(0, 1.1 * max(1.0, float(sigma)))
    ax2.set_box_aspect(1)
    value = float(sched(torch.tensor([float(t)]))[0])
    ax2.set_title(f"{schedule} σ(t): σ({float(t):.2f}) = {value:.2f}")


def interpolation_explorer(x_0, x_1, eps, t: float = 0.5, sigma: float = 0.5, schedule: str = "bridge",
                           lim: float = 3.0, n_paths: int = 12, size: float = 4.2) -> Explorer:
    """Sliders for t and the sigma scale, a dropdown for the schedule; see `draw_interpolation`.

    Controls are named "t", "sigma" and "schedule" (ex.controls["t"].value = 0.7 redraws).
    """
    controls = {"t": t_slider(t, continuous_update=False),
                "sigma": float_slider("σ scale", sigma, 0.0, 1.0, 0.05, continuous_update=False),
                "schedule": dropdown("schedule", list(SIGMA_SCHEDULE_NAMES), schedule)}
    return Explorer(draw_interpolation, controls, figsize=(2.2 * size, size), x_0=x_0, x_1=x_1, eps=eps, lim=lim,
                    n_paths=n_paths)


# ============================================================================ notebook 02: vector fields
def draw_vector_field(fig: Figure, t: float, data, x_0, x_1, path=None, lim: float = 3.0, n_grid: int = 17,
                      scale: float | None = None, colorbar: bool = True, normalize: bool = True) -> None:
    """The exact marginal velocity of a finite data set at time t as arrows coloured by speed,
    with samples x_t of p_t (red, gid "x_t") and the data points (blue).

    Args:
        fig: empty Figure to draw into.
        t: time in [0, 1] (0 = noise, 1 = data).
        data: the data set (N, 2) whose exact field `fmlite.exact.marginal_velocity` gives.
        x_0, x_1: noise and data pairs (B, 2) (x_1 drawn from data) for the samples
            x_t = `path.interpolate(x_0, x_1, t)`.
        path: a `fmlite.paths.Path` with sigma = 0 (default: the straight path).
        scale: arrow scale passed to `fmlite.plotting.quiver` (None: automatic).
        normalize: arrows of equal length, speed as colour (see `fmlite.plotting.field_panel`).
    """
    from .plotting import field_panel
    ax = fig.add_subplot(1, 1, 1)
    field_panel(ax, float(t), data, x_0, x_1, path, lim=lim, n_grid=n_grid, scale=scale, colorbar=colorbar,
                normalize=normalize)
    ax.set_title(f"exact field at t = {float(t):.2f}")


def vector_field_explorer(data, n: int = 300, seed: int = 0, t: float = 0.5, t_max: float = 0.95, path=None,
                          lim: float = 3.0, n_grid: int = 17, scale: float | None = None, normalize: bool = True,
                          size: float = 5.0) -> Explorer:
    """Slider over t (0 to t_max) for the exact field of `data` with n samples x_t; see `draw_vector_field`.

    The noise x_0 and the data points x_1 paired with it are drawn once from `seed`, so every
    position of the slider shows the same samples, moved along their straight paths.
    """
    import torch
    g = torch.Generator().manual_seed(seed)
    data = torch.as_tensor(data, dtype=torch.float32)
    x_0 = torch.randn(n, data.shape[1], generator=g)
    x_1 = data[torch.randint(0, len(data), (n,), generator=g)]
    controls = {"t": float_slider("t", t, 0.0, t_max, 0.01, continuous_update=False)}
    return Explorer(draw_vector_field, controls, figsize=(1.15 * size, size), data=data, x_0=x_0, x_1=x_1,
                    path=path, lim=lim, n_grid=n_grid, scale=scale, normalize=normalize)


# ============================================================================ notebook 03: learned vs exact field
def draw_learned_vs_exact(fig: Figure, t: float, model, data, path, lim: float = 3.0, n: int = 15,
                          n_points: int = 1000, seed: int = 0) -> None:
    """Three panels at time t: the learned field v_theta(x, t), the exact marginal field u_t(x) of the
    finite data set (`fmlite.exact.marginal_velocity`), and the error |v_theta - u_t| at samples
    x_t ~ p_t (points coloured by the error: that is where sampling goes).

    Both arrow panels share one arrow scale, set by the exact field's speeds at the samples, so arrow
    lengths compare; arrows are capped at 1.5 grid spacings (`fmlite.plotting.arrows`).

    Args:
        fig: empty Figure. t: time in [0, 1] (0 = noise, 1 = data).
        model: velocity network model(x, t). data: the finite training set (N, 2). path: its `Path`.
        n: arrows per side. n_points: samples x_t drawn (with a fixed `seed`) for the error panel.
    """
    import torch

    from .exact import marginal_velocity
    from .plotting import COLORS, arrow_scale, arrows, error_points, scatter, setup_axes

    g = torch.Generator().manual_seed(seed)
    x_1 = data[torch.randint(0, len(data), (n_points,), generator=g)]
    x_0 = torch.randn(x_1.shape, generator=g, dtype=x_1.dtype)
    x_t = path.interpolate(x_0, x_1, float(t), eps=torch.randn(x_1.shape, generator=g, dtype=x_1.dtype))
    exact = lambda x, s: marginal_velocity(x, s, data, path)  # noqa: E731
    scale = arrow_scale(exact(x_t, torch.full((n_points,), float(t))).norm(dim=1), lim, n)
    axes = fig.subplots(1, 3)
    for ax, field, color, name in ((axes[0], model, COLORS["model"], "learned $v_\\theta$"),
                                   (axes[1], exact, COLORS["exact"], "exact $u_t$")):
        setup_axes(ax, lim, name)
        scatter(ax, data, color=COLORS["data"], s=4, alpha=0.3)
        arrows(ax, field, t, color, lim, n, scale=scale)
    setup_axes(axes[2], lim)
    _, err = error_points(axes[2], model, exact, x_t, t)
    axes[2].set_title(f"error at $x_t$: mean {err.mean():.2f}")
    fig.suptitle(f"t = {float(t):.2f}")


def learned_vs_exact_explorer(model, data, path, t: float = 0.5, lim: float = 3.0, n: int = 15,
                              t_max: float = 0.95) -> "Explorer":
    """Slider over t (0 to t_max) comparing a learned field with the exact field of its training set; see
    `draw_learned_vs_exact`. Redraws when the slider is released (a frame takes a few tenths of a second).
    t_max < 1 as in `vector_field_explorer`: at t = 1 the exact field is only a convention (see `fmlite.exact`)."""
    return Explorer(draw_learned_vs_exact, {"t": float_slider("t", t, 0.0, t_max, 0.05, continuous_update=False)},
                    figsize=(12.5, 4.2), model=model, data=data, path=path, lim=lim, n=n)


# ============================================================================ notebook 04: solvers step by step
def draw_solver_paths(fig: Figure, t: float, steps: int, method: str, velocity, x_0, target=None,
                      reference=None, lim: float = 3.0, n_paths: int = 40) -> None:
    """Sample with `steps` steps of `method` and show the points at time t with their paths so far.

    The points sit at the last solver step at or before t; the first n_paths paths are drawn as
    polylines through the solver's steps (straight segments: that is all a fixed-step solver knows),
    over the same paths of an accurate `reference` trajectory in thin grey.

    Args:
        fig: empty Figure. t: time in [0, 1]. steps: number of solver steps >= 1.
        method: "euler", "midpoint", "heun" or "rk4". velocity: v(x, t), e.g. a trained model.
        x_0: the starting noise (B, 2). target: optional data (N, 2), drawn faint.
        reference: optional (K + 1, B, 2) accurate trajectory from the same x_0 (uniform grid of [0, 1]).
    """
    from .plotting import COLORS, SOLVER_STYLE, solver_panel
    from .solvers import integrate

    sol = integrate(velocity, x_0, int(steps), method, return_trajectory=True)
    ax = fig.add_subplot(1, 1, 1)
    shown = solver_panel(ax, sol.trajectory, t, SOLVER_STYLE.get(method, (COLORS["path"], "o"))[0], target,
                         reference, lim, n_paths)
    ax.set_title(f"{method}, {steps} step{'' if int(steps) == 1 else 's'}, NFE = {sol.nfe}: t = {shown:.2f}")


def solver_explorer(velocity, x_0, target=None, steps: int = 4, method: str = "euler", t: float = 1.0,
                    reference_steps: int = 100, lim: float = 3.0, size: float = 5.5) -> "Explorer":
    """Sliders t and steps and a method menu over `draw_solver_paths`; the grey reference paths are
    computed once here with RK4 and `reference_steps` steps."""
    from .solvers import integrate

    reference = integrate(velocity, x_0, reference_steps, "rk4", return_trajectory=True).trajectory
    controls = {"t": t_slider(t, step=0.01, continuous_update=False),
                "steps": int_slider("steps", steps, 1, 32),
                "method": dropdown("method", ["euler", "midpoint", "heun", "rk4"], method)}
    return Explorer(draw_solver_paths, controls, figsize=(size, size), velocity=velocity, x_0=x_0,
                    target=target, reference=reference, lim=lim)
