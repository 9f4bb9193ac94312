"""Explorers: sliders that redraw a figure, for JupyterLab and lectures.

Each explorer is a pure drawing function `draw_*(fig, **params)` that draws the whole
figure from its parameters (tests call it directly), plus a thin ipywidgets wrapper,
`Explorer`, that redraws one pyplot-free Figure on every slider change, renders it to
a lossless WebP picture and swaps the bytes of a `widgets.Image` (no flicker, no output-area churn). The
sliders' readouts and the figure's title show the values; a `widgets.Label` keeps them as text (e.g.
"t = 0.25", for tests and screen readers) and is displayed only when a drawing fails.

Tests move the sliders programmatically: `ex.controls["t"].value = 0.7` redraws
synchronously, then `ex.image.value` holds the new picture. When a drawing raises after a
slider move, the picture says so and the label reads "t = 0.70: could not draw (...)",
so picture, label and slider never disagree; the error is kept in `ex.error`.

Layout: `explorer` (the framework), `render` (figure to picture: layout reuse, redrawing only what
changed, encoding), `trajectories` (shared by 00 and 04; `nb00_start_here` holds only 00's `site_explorers`), `site_grid`
(what the static site offers of each explorer), and one module per
notebook (`nb01_paths`, `nb02_vector_fields`, `nb03_training`, `nb04_sampling`, `nb05_noise`,
`nb06_straight`, `nb07_images`, `nb08_likelihoods`, `nb09_flow_maps`);
a new notebook adds one module and re-exports its explorers here.

Bad input: every `draw_*` / `update_*` helper raises ValueError for a t that is not one number in [0, 1]
(`fmlite.checks.check_time_value`: t = 7 is refused, never drawn at 1) and for steps that are not a whole
number >= 1 (`fmlite.checks.check_count`: 2.5 is refused, never run as 2); nothing is clipped or rounded.
"""
from .explorer import Explorer, dropdown, float_slider, int_slider, t_slider
from .trajectories import draw_trajectory, update_trajectory, trajectory_explorer
from .nb07_images import draw_image_flow, image_flow_explorer, draw_guidance, update_guidance, guidance_explorer
from .nb01_paths import draw_interpolation, interpolation_explorer, update_interpolation
from .nb02_vector_fields import draw_vector_field, update_vector_field, vector_field_explorer
from .nb03_training import draw_learned_vs_exact, update_learned_vs_exact, learned_vs_exact_explorer
from .nb04_sampling import draw_solver_paths, update_solver_paths, solver_explorer
from .nb05_noise import FlowCache, draw_noise_flow, noise_flow, noise_flow_explorer, start_noise, update_noise_flow
from .nb08_likelihoods import (LogDensityMaps, draw_log_densities, likelihood_explorer, update_log_densities, log_density_maps,
                               log_density_panel, model_log_density)
from .nb06_straight import STEP_CHOICES, euler_trajectories, draw_straight_paths, update_straight_paths, straight_explorer
from .nb09_flow_maps import FlowMapTables, draw_flow_map, update_flow_map, flow_map_explorer

__all__ = [
    "Explorer",
    "t_slider",
    "float_slider",
    "int_slider",
    "dropdown",
    "draw_trajectory",
    "trajectory_explorer",
    "draw_image_flow",
    "image_flow_explorer",
    "draw_guidance",
    "guidance_explorer",
    "draw_interpolation",
    "update_interpolation",
    "interpolation_explorer",
    "draw_vector_field",
    "update_vector_field",
    "vector_field_explorer",
    "draw_learned_vs_exact",
    "update_learned_vs_exact",
    "learned_vs_exact_explorer",
    "draw_solver_paths",
    "solver_explorer",
    "start_noise",
    "noise_flow",
    "FlowCache",
    "draw_noise_flow",
    "update_noise_flow",
    "noise_flow_explorer",
    "model_log_density", "LogDensityMaps", "log_density_maps", "log_density_panel", "draw_log_densities",
    "likelihood_explorer",
    "STEP_CHOICES",
    "euler_trajectories",
    "draw_straight_paths",
    "straight_explorer",
    "update_trajectory", "update_guidance", "update_solver_paths", "update_log_densities", "update_straight_paths",
    "FlowMapTables", "draw_flow_map", "update_flow_map", "flow_map_explorer",
]
