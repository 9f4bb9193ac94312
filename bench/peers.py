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
- Meta flow_matching, MeanFlow: examples/2d_mean_flow.ipynb at commit 835f27b (cells "Model", "Train MeanFlow
  model" and "Sample from trained model") for bench/flow_maps.py: `meta_meanflow_step`, `MetaMeanFlowMLP` and
  `meta_meanflow_map`. The loop as written there: x_0 = data, x_1 = randn_like(x_0) (their time runs from data
  at 0 to noise at 1), r and t = sigmoid(randn - 0.4), r = t on `randperm(batch)[:int(batch * 0.75)]`, then
  swapped so that r <= t; `AffineProbPath(scheduler=CondOTScheduler()).sample(t=t, x_0=x_0, x_1=x_1)`;
  `v, dv_t = torch.func.jvp(avf, (x_t, r, t), (dx_t, zeros_like(r), ones_like(t)))`;
  `v_tgt = dx_t - (t - r)[:, None] * dv_t`; `loss = ((avf(x_t, r, t) - v_tgt.detach()) ** 2).mean()` (a second
  forward, as written); `(loss / (loss.detach() + 1e-8)).backward()`; `clip_grad_norm_(..., max_norm=1.0)`;
  Adam lr 3e-4; the network Linear(2 + 2, h), Swish, 4 x [Linear(h, h), Swish], Linear(h, 2) on cat(x, r, t)
  (raw times, no embedding); one-step sampling x = x_init - avf(x_init, 0, 1). A later commit of the notebook
  sets r = t for a single sample (`randperm(batch)[:int(batch * 0.75)]` became a scalar index): a bug, not
  followed. Departures, all so that both runners of bench/flow_maps.py get the same data, width, batch and
  threads: the data are fmlite's `sample_2d(data, n)` (theirs: a checkerboard scaled by 1 / 0.45), hidden
  width 128 (theirs 256), batch 256 (theirs 4,096), CPU, one thread, our seeds (theirs `manual_seed(42)`),
  training stopped at a quality bar or a step cap (theirs: 40,001 steps), no printing inside the loop; the
  drawing of r, t, the mask, the swap, the loss, the weighting and the clipping are theirs unchanged.
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


# ----- Meta flow_matching: MeanFlow (examples/2d_mean_flow.ipynb at 835f27b) -----------------------------------------
class MetaMeanFlowMLP(nn.Module):
    """The notebook's average-velocity network `MLP(input_dim=2, time_dim=1, hidden_dim=h)`: Swish, cat(x, r, t)."""

    def __init__(self, dim: int = 2, hidden: int = 128):
        super().__init__()
        swish = nn.SiLU  # their Swish: sigmoid(x) * x
        self.main = nn.Sequential(nn.Linear(dim + 2, hidden), swish(),
                                  *[nn.Sequential(nn.Linear(hidden, hidden), swish()) for _ in range(4)],
                                  nn.Linear(hidden, dim))

    def forward(self, x, r, t):
        r = r.reshape(-1, 1).expand(x.shape[0], 1).to(x.dtype)
        t = t.reshape(-1, 1).expand(x.shape[0], 1).to(x.dtype)
        return self.main(torch.cat([x, r, t], dim=1))


def meta_meanflow_step(model, sampler, batch=256, lr=3e-4):
    """One step of the notebook's training loop (cell "Train MeanFlow model"), data from `sampler`."""
    from flow_matching.path import AffineProbPath
    from flow_matching.path.scheduler import CondOTScheduler
    path = AffineProbPath(scheduler=CondOTScheduler())
    optim = torch.optim.Adam(model.parameters(), lr=lr)

    def step():
        optim.zero_grad()
        x_0 = sampler(batch)                       # data (their time: data at 0)
        x_1 = torch.randn_like(x_0)                # noise at 1
        r = torch.sigmoid(torch.randn(x_1.shape[0]) - 0.4)
        t = torch.sigmoid(torch.randn(x_1.shape[0]) - 0.4)
        mask = torch.randperm(batch)[:int(batch * 0.75)]
        r[mask] = t[mask]
        mask = r > t
        r[mask], t[mask] = t[mask], r[mask]
        path_sample = path.sample(t=t, x_0=x_0, x_1=x_1)
        x_t, dx_t = path_sample.x_t, path_sample.dx_t
        v, dv_t = torch.func.jvp(model, (x_t, r, t), (dx_t, torch.zeros_like(r), torch.ones_like(t)))
        v_tgt = dx_t - (t - r).unsqueeze(1) * dv_t
        loss = torch.pow(model(x_t, r, t) - v_tgt.detach(), 2).mean()
        (loss / (loss.detach() + 1e-8)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optim.step()
    return step


def meta_meanflow_map(model):
    """Their network as a flow map of fmlite's convention, for `fmlite.flow_maps.sample_flow_map`: with their time
    tau = 1 - t, u_bar(x, s, t) = -avf(x, 1 - t, 1 - s). One call from s = 0 to t = 1 gives x - avf(x, 0, 1), their
    sampler."""
    return lambda x, s, t: -model(x, 1 - t, 1 - s)


# ----- Meta flow_matching, discrete (bench/discrete.py) ---------------------------------------------------------------
# Source: examples/2d_discrete_flow_matching.ipynb in facebookresearch/flow_matching (read through the search tool):
# `MixtureDiscreteProbPath(scheduler=PolynomialConvexScheduler(n=2.0))`, `MixturePathGeneralizedKL(path=path)`,
# the MLP below (token embedding 128 per token, time through Linear(1, 1), Swish, 3 hidden layers of 128, logits over
# vocab_size + 1 ids: the mask too), `Adam(lr=1e-3)`, batch 4,096, t = rand(B) * (1 - 1e-3), x_0 all mask,
# `path.sample(t=t, x_0=x_0, x_1=x_1)`, `loss_fn(logits=..., x_1=x_1, x_t=x_t, t=t)`; sampling with
# `MixtureDiscreteEulerSolver(model=softmax wrapper, path=path, vocabulary_size=vocab_size + 1)`,
# step 1/64 on time_grid [0, 1 - 1e-3]. Departures, all in bench/discrete.py's favour of a like-for-like race:
# - the example trains the uniform source first; the race uses its mask branch (the same cell, source "mask");
# - data: `checkerboard_sampler` below, the law of the example's `inf_train_gen` written once and given to both
#   runners (fmlite draws it in pools through `train`, Meta's loop calls it every step as the example does);
# - 30,001 steps in the example; the race stops at a TV threshold or a step cap (`--cap`);
# - the race's TV is measured with fmlite's Euler sampler for both models (the same sampler; Meta's logits over the
#   mask are dropped, its posterior renormalised over the 128 real tokens); the final Meta model is also scored
#   with Meta's own solver (`meta_discrete_tv`), reported beside it;
# - one CPU thread for both (the example runs on a GPU).
def checkerboard_sampler(bins: int = 128):
    """n -> (n, 2) int64 checkerboard tokens on a bins x bins grid: the law of Meta's `inf_train_gen` (and of
    `fmlite.discrete.checkerboard_tokens`), drawn with torch."""
    side = bins // 4

    def sample(n: int) -> torch.Tensor:
        x1 = torch.randint(0, bins, (n,))
        x2 = torch.randint(0, side, (n,)) + 2 * side - torch.randint(0, 2, (n,)) * 2 * side + (x1 // side % 2) * side
        return torch.stack([x1, x2], 1)
    return sample


class MetaTokenMLP(nn.Module):
    """The MLP of examples/2d_discrete_flow_matching.ipynb: logits (B, length, vocab_size) over every id, mask too."""

    def __init__(self, vocab_size: int = 129, time_dim: int = 1, hidden_dim: int = 128, length: int = 2):
        super().__init__()
        self.vocab_size = vocab_size
        self.time_embedding = nn.Linear(1, time_dim)
        self.token_embedding = nn.Embedding(vocab_size, hidden_dim)
        self.main = nn.Sequential(nn.SiLU(), nn.Linear(hidden_dim * length + time_dim, hidden_dim), nn.SiLU(),
                                  nn.Linear(hidden_dim, hidden_dim), nn.SiLU(), nn.Linear(hidden_dim, hidden_dim),
                                  nn.SiLU(), nn.Linear(hidden_dim, vocab_size * length))

    def forward(self, x, t):
        t = self.time_embedding(t.unsqueeze(-1))
        x = self.token_embedding(x)
        b, n, d = x.shape
        return self.main(torch.cat([x.reshape(b, n * d), t], dim=1)).reshape(b, n, self.vocab_size)


def meta_discrete_step(model, sampler, batch=4096, lr=1e-3, mask_token=128, epsilon=1e-3):
    """One step of the example's training loop (mask source, kappa = t^2, generalized KL)."""
    from flow_matching.loss import MixturePathGeneralizedKL
    from flow_matching.path import MixtureDiscreteProbPath
    from flow_matching.path.scheduler import PolynomialConvexScheduler
    path = MixtureDiscreteProbPath(scheduler=PolynomialConvexScheduler(n=2.0))
    loss_fn = MixturePathGeneralizedKL(path=path)
    optim = torch.optim.Adam(model.parameters(), lr=lr)

    def step():
        optim.zero_grad()
        x_1 = sampler(batch)
        x_0 = torch.zeros_like(x_1) + mask_token
        t = torch.rand(x_1.shape[0]) * (1 - epsilon)
        path_sample = path.sample(t=t, x_0=x_0, x_1=x_1)
        logits = model(path_sample.x_t, path_sample.t)
        loss = loss_fn(logits=logits, x_1=x_1, x_t=path_sample.x_t, t=path_sample.t)
        loss.backward()
        optim.step()
    return step


def meta_discrete_posterior(model, vocab_size: int = 128):
    """The Meta network as an fmlite token posterior: logits over the real tokens 0..K-1 (the mask's dropped)."""
    def posterior(x, t):
        return model(x, t.to(torch.float32))[..., :vocab_size]
    return posterior


def meta_discrete_tv(model, bins: int, n: int, seed: int = 0, nfe: int = 64) -> float:
    """TV of n samples of Meta's `MixtureDiscreteEulerSolver` (the example's call) to the checkerboard grid law;
    a mask left in a sample counts as mass off the grid."""
    from flow_matching.path import MixtureDiscreteProbPath
    from flow_matching.path.scheduler import PolynomialConvexScheduler
    from flow_matching.solver import MixtureDiscreteEulerSolver
    from flow_matching.utils import ModelWrapper

    from fmlite.discrete import checkerboard_probabilities

    class Wrapped(ModelWrapper):
        def forward(self, x, t, **extras):
            return torch.softmax(self.model(x, t), dim=-1)

    path = MixtureDiscreteProbPath(scheduler=PolynomialConvexScheduler(n=2.0))
    solver = MixtureDiscreteEulerSolver(model=Wrapped(model), path=path, vocabulary_size=bins + 1)
    torch.manual_seed(seed)
    with torch.no_grad():
        x = solver.sample(x_init=torch.full((n, 2), bins, dtype=torch.long), step_size=1 / nfe,
                          time_grid=torch.tensor([0.0, 1.0 - 1e-3]))
    ok = (x < bins).all(1)
    counts = torch.bincount(x[ok, 0] * bins + x[ok, 1], minlength=bins * bins).double() / n
    law = checkerboard_probabilities(bins).flatten()
    return round(float(0.5 * ((counts - law).abs().sum() + (~ok).double().mean())), 4)


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
