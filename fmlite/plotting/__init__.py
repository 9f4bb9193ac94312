"""Plotting boilerplate for the course, so notebooks can show the math and hide the styling.

Every function draws into a matplotlib Axes it is given (or returns a new Figure),
never calls plt.show(), and works with a plain `matplotlib.figure.Figure`, so the
explorers in `fmlite.widgets` and the tests can use them without pyplot.

Sections, by concept: style (colours, lecture fonts, panels), points and paths (clouds,
conditional paths, trajectories and the frame shown at a time t), fields (`field_arrows`,
the one way a velocity field is drawn, and its shorthands), curves (schedules, losses,
quality against cost) and images (grids and labelled rows), each in its own module of this
package; every public name is re-exported here, so `from fmlite.plotting import ...` is all a
notebook needs.

Inputs: point clouds and trajectories may be tensors or numpy arrays (`to_numpy`); a time t must be one
number in [0, 1] and a count (n, n_grid, steps, frames) a whole number (ValueError otherwise, from
`fmlite.checks`: nothing is clipped or rounded); a path, where one is required, must not be None.
"""
from .style import COLORS, SOLVER_STYLE, lecture_scale, lecture_style, figure, to_numpy, setup_axes, legend_below
from .points import (conditional_paths, flow_snapshot, frame_index, interpolant_panel, scatter, solver_panel,
                     trajectories, update_interpolant_panel, update_solver_panel, velocity_arrows)
from .fields import (field_on_grid, arrow_scale, field_arrow_arrays, field_arrows, update_field_arrows, quiver,
                     arrows, field_panel, error_points, update_error_points, density, steady_colorbar)
from .curves import (schedule_curve, update_schedule_curve, schedule_axes, loss_curve, time_profile, quality_vs_nfe,
                     small_multiples)
from .images import tile_images, image_grid, image_rows, token_images

__all__ = [
    "COLORS",
    "SOLVER_STYLE",
    "lecture_style",
    "lecture_scale",
    "figure",
    "to_numpy",
    "setup_axes",
    "scatter",
    "trajectories",
    "conditional_paths",
    "velocity_arrows",
    "interpolant_panel",
    "update_interpolant_panel",
    "frame_index",
    "flow_snapshot",
    "solver_panel",
    "update_solver_panel",
    "legend_below",
    "field_on_grid",
    "arrow_scale",
    "field_arrow_arrays",
    "field_arrows",
    "update_field_arrows",
    "quiver",
    "arrows",
    "field_panel",
    "error_points",
    "update_error_points",
    "steady_colorbar",
    "density",
    "schedule_curve",
    "update_schedule_curve",
    "schedule_axes",
    "loss_curve",
    "time_profile",
    "quality_vs_nfe",
    "small_multiples",
    "tile_images",
    "image_grid",
    "image_rows",
    "token_images",
]
