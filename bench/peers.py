"""The peers' training loops and networks for bench/run.py, written the way each library's documented example
writes them. Only bench/run.py imports this; TorchCFM and Meta's flow_matching come from `pip install -e ".[bench]"`
and are imported lazily, so the plain loop works without them.

Every `*_step(model, sampler, ...)` returns a closure `step()` that takes one optimiser step on a fresh batch
from `sampler(n)` (the same `fmlite.datasets.sample_2d("moons", n)` for every runner) and returns nothing; the
driver in bench/run.py times the calls. Each model maps (x (B, 2), t (B,)) -> (B, 2) through `velocity(model)`.

Sources followed (stored copies read through the search tool; line-level citations next to the code):
- TorchCFM 1.0.7: examples/8_gaussians_to_2_moons.py in atong01/conditional-flow-matching (section "Conditional FM",
  the script form of examples/2D_tutorials/Flow_matching_tutorial.ipynb): `MLP(dim=2, time_varying=True)`
  (w=64, three SELU hidden layers), `torch.optim.Adam(model.parameters())` (lr 1e-3), batch 256,
  `t, xt, ut = FM.sample_location_and_conditional_flow(x0, x1)`, `vt = model(torch.cat([xt, t], dim=-1))`
  (t[:, None] in 1.0.7, where t is (B,)), `loss = torch.mean((vt - ut) ** 2)`. Departures: sigma 0.0 (the example
  uses 0.1, which blurs the target by N(0, 0.1^2)) and x0 ~ N(0, I) (the example starts from 8 Gaussians), so that
  every runner learns the same flow N(0, I) -> moons.
- Meta flow_matching 1.0.10: examples/2d_flow_matching.ipynb in facebookresearch/flow_matching for the library
  calls (`AffineProbPath(scheduler=CondOTScheduler())`, `path.sample(t=t, x_0=x_0, x_1=x_1)`,
  `torch.pow(vf(x_t, t) - dx_t, 2).mean()`, `ODESolver(velocity_model=...).sample(...)`), and
  examples/standalone_flow_matching.ipynb for the small 2-D recipe (`Flow(dim=2, h=64)`: Linear(3, 64), ELU,
  Linear(64, 64), ELU, Linear(64, 64), ELU, Linear(64, 2) on cat(t, x_t); `Adam(flow.parameters(), 1e-2)`;
  batch 256 of `make_moons(256, noise=0.15)`; x_0 = randn_like(x_1); t = rand(B, 1); MSE loss). The standalone
  example computes x_t and dx_t by hand; here the library's AffineProbPath does (the same formulas, see
  tests/test_bench.py). The library's own 2-D notebook (4 Swish layers of 512, batch 4,096, lr 1e-3, 20,001 steps)
  is too large for a 2-core CPU run and is not benchmarked.
"""
import torch
from torch import nn


def velocity(model: nn.Module):
    """A (x (B, 2), t (B,)) -> (B, 2) callable for `fmlite.solvers.integrate`, whatever the model's convention."""
    kind = getattr(model, "bench_input", "fmlite")
    if kind == "cat_x_t":  # TorchCFM's MLP(time_varying=True): input cat([x, t])
        return lambda x, t: model(torch.cat([x, t[:, None].to(x.dtype)], dim=-1))
    if kind == "cat_t_x":  # Meta's standalone Flow: input cat((t, x_t))
        return lambda x, t: model.net(torch.cat([t[:, None].to(x.dtype), x], dim=-1))
    return model


# ----- plain PyTorch: the loop a reader would write from COURSE.md, on the same network -------------------------------
def plain_step(model, sampler, batch=256, lr=1e-3):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def step():
        x_1 = sampler(batch)
        x_0 = torch.randn_like(x_1)
        t = torch.rand(batch)
        x_t = (1 - t[:, None]) * x_0 + t[:, None] * x_1
        loss = torch.mean((model(x_t, t) - (x_1 - x_0)) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


# ----- TorchCFM -------------------------------------------------------------------------------------------------------
def torchcfm_step(model, sampler, batch=256, lr=1e-3, sigma=0.0):
    """TorchCFM's tutorial loop (8_gaussians_to_2_moons.py, lines "optimizer.zero_grad()" to "optimizer.step()")."""
    from torchcfm.conditional_flow_matching import ConditionalFlowMatcher
    FM = ConditionalFlowMatcher(sigma=sigma)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)  # the tutorial: Adam(model.parameters()), lr 1e-3
    v = velocity(model)

    def step():
        optimizer.zero_grad()
        x0 = torch.randn(batch, 2)  # the tutorial draws sample_8gaussians(batch); here N(0, I) like every runner
        x1 = sampler(batch)
        t, xt, ut = FM.sample_location_and_conditional_flow(x0, x1)
        vt = v(xt, t)
        loss = torch.mean((vt - ut) ** 2)
        loss.backward()
        optimizer.step()
    return step


def torchcfm_model():
    """The tutorial's network: torchcfm.models.MLP(dim=2, time_varying=True), w=64, SELU."""
    from torchcfm.models import MLP
    model = MLP(dim=2, time_varying=True)
    model.bench_input = "cat_x_t"
    return model


# ----- Meta flow_matching ---------------------------------------------------------------------------------------------
def meta_step(model, sampler, batch=256, lr=1e-3):
    """The training loop of examples/2d_flow_matching.ipynb (cell "Train"), with its batch and lr as arguments."""
    from flow_matching.path import AffineProbPath
    from flow_matching.path.scheduler import CondOTScheduler
    path = AffineProbPath(scheduler=CondOTScheduler())
    optim = torch.optim.Adam(model.parameters(), lr=lr)
    vf = velocity(model)

    def step():
        optim.zero_grad()
        x_1 = sampler(batch)
        x_0 = torch.randn_like(x_1)
        t = torch.rand(x_1.shape[0])
        path_sample = path.sample(t=t, x_0=x_0, x_1=x_1)
        loss = torch.pow(vf(path_sample.x_t, path_sample.t) - path_sample.dx_t, 2).mean()
        loss.backward()
        optim.step()
    return step


class MetaFlow(nn.Module):
    """The network of examples/standalone_flow_matching.ipynb: `Flow(dim=2, h=64)`, ELU, input cat(t, x_t)."""

    bench_input = "cat_t_x"

    def __init__(self, dim: int = 2, h: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim + 1, h), nn.ELU(), nn.Linear(h, h), nn.ELU(),
                                 nn.Linear(h, h), nn.ELU(), nn.Linear(h, dim))


def meta_solve(model: nn.Module, x_0: torch.Tensor, steps: int, method: str):
    """Meta's `ODESolver.sample` with a fixed step 1/steps from t = 0 to 1 (2d_flow_matching.ipynb, cell "Sample").

    Returns (x at t = 1, number of velocity evaluations counted)."""
    from flow_matching.solver import ODESolver
    from flow_matching.utils import ModelWrapper

    v = velocity(model)
    calls = [0]

    class Wrapped(ModelWrapper):
        def forward(self, x, t, **extras):
            calls[0] += 1
            return v(x, t.expand(x.shape[0]).to(x.dtype))

    solver = ODESolver(velocity_model=Wrapped(model))
    with torch.no_grad():
        x = solver.sample(x_init=x_0, step_size=1.0 / steps, method=method,
                          time_grid=torch.tensor([0.0, 1.0]), return_intermediates=False)
    return x, calls[0]


# ----- Meta flow_matching on curved spaces (bench/manifolds.py, notebook 12) ------------------------------------------
# Source: examples/2d_riemannian_flow_matching_sphere.ipynb and examples/2d_riemannian_flow_matching_flat_torus.ipynb
# in facebookresearch/flow_matching (1.0.10): `GeodesicProbPath(scheduler=CondOTScheduler(), manifold=Sphere())`,
# `path.sample(t=t, x_0=x_0, x_1=x_1)` (x_t and dx_t by torch.func.jvp under vmap), the loss
# `torch.pow(vf(x_t, t) - dx_t, 2).mean()`, `torch.optim.Adam(vf.parameters(), lr)`, `RiemannianODESolver` for
# sampling. Departures, so that both runners learn the same flow with the same network, batch and threads:
# - the source is the uniform distribution on the space for both (the examples exp-map or wrap a Gaussian);
# - the data are fmlite's vMF mixture (sphere) and wrapped Gaussians (torus), the same pool for both (the examples
#   wrap a 2-D checkerboard onto the sphere / torus);
# - the network is fmlite's ManifoldMLP (hidden 128, 3 SiLU layers, tangent output; the examples use a 512-wide
#   Swish MLP with ProjectToTangent), batch 256 and lr 3e-3 for both (the examples use batch 4,096, lr 1e-3, and
#   5,001 steps: too large for a 2-core CPU);
# - t ~ U(0, 1) as in the examples; quality is measured for both with the same sampler (fmlite's Riemannian
#   Euler, 16 NFE). Meta's RiemannianODESolver "euler" step is x + h v followed by projx (the projected naive
#   step of fmlite.manifolds.solvers), not the exponential map.
def meta_manifold_step(model, sampler, space: str, batch: int = 256, lr: float = 3e-3):
    """One Adam step per call on Meta's GeodesicProbPath with the uniform source: returns the closure step()."""
    from flow_matching.path import GeodesicProbPath
    from flow_matching.path.scheduler import CondOTScheduler
    from flow_matching.utils.manifolds import FlatTorus, Sphere

    from fmlite.manifolds import get_space
    manifold = Sphere() if space == "sphere" else FlatTorus()
    ours = get_space(space)
    path = GeodesicProbPath(scheduler=CondOTScheduler(), manifold=manifold)
    optim = torch.optim.Adam(model.parameters(), lr=lr)

    def step():
        optim.zero_grad()
        x_1 = sampler(batch)
        x_0 = ours.sample_uniform(batch)
        t = torch.rand(batch)
        s = path.sample(t=t, x_0=x_0, x_1=x_1)
        loss = torch.pow(model(s.x_t, s.t.reshape(-1)) - s.dx_t, 2).mean()
        loss.backward()
        optim.step()
    return step


def meta_manifold_solve(model, x_0, steps: int, space: str, method: str = "euler"):
    """Meta's RiemannianODESolver from t = 0 to 1 in `steps` equal steps (projx and proju on)."""
    from flow_matching.solver import RiemannianODESolver
    from flow_matching.utils.manifolds import FlatTorus, Sphere
    manifold = Sphere() if space == "sphere" else FlatTorus()

    class Wrapped(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x, t, **extras):
            return self.inner(x, t.reshape(-1).expand(len(x)))
    solver = RiemannianODESolver(manifold=manifold, velocity_model=Wrapped(model))
    with torch.no_grad():
        # step_size=None: the steps are the time grid's (a step_size of 1 is refused by the solver)
        return solver.sample(x_init=x_0, step_size=None, method=method,
                             time_grid=torch.linspace(0.0, 1.0, steps + 1))
