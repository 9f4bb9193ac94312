"""Small helpers the explorer tests share (imported as `from drawing import ...`; pytest puts tests/ on the path)."""
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def agg_figure(size=(8.0, 4.0)):
    """A plain Figure with an Agg canvas, as the explorers draw into (small dpi: the tests read artists, not pixels)."""
    fig = Figure(figsize=size, dpi=50, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def by_gid(ax, gid):
    """The one collection of ax with this gid (the explorers tag the artists they move)."""
    found = [c for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, f"expected one artist with gid {gid!r}, found {len(found)}"
    return found[0]


def rotation(x, t):
    """A smooth field with a known flow: rotation at angular speed 1 (t is ignored)."""
    return torch.stack([-x[:, 1], x[:, 0]], dim=1)


def site_grids(module: str, threads: int | None = 1):
    """Body of a module-scoped `site` fixture (`yield from site_grids("nb06_straight")`): (full grids, quick grids)
    of `fmlite.widgets.<module>.site_explorers`, built once with `threads` torch threads (None: leave them), under
    the lecture style they set; matplotlib's rcParams and the thread count are restored after the module."""
    import importlib

    import matplotlib
    site_explorers = importlib.import_module(f"fmlite.widgets.{module}").site_explorers
    saved, before = dict(matplotlib.rcParams), torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield site_explorers(), site_explorers(quick=True)
    finally:
        torch.set_num_threads(before)
        matplotlib.rcParams.update(saved)
