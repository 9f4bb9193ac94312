"""Bad input, table by table: every public function refuses it with a message that names the fix, and the
inputs it accepts give the documented result (issue 20, part 3).

Tables of (function, bad input, expected words):
- BAD_X x FIELDS: every function taking a batch x (B, *D) against a list, a numpy array, None, NaN, inf,
  an empty batch, a 1-d x (one meaning everywhere: refused, with x[:, None] / x[None] as the fix), bool.
- BAD_COUNTS x COUNTS: every count (steps, probes, n_projections, n, components, frames, ...) against
  0, -1, 2.5, NaN, inf, "3", True and None: one message from `fmlite.checks.check_count`.
- BAD_TIMES x TIMED: every explorer / drawing helper taking a slider time t against 7.0, -0.5, NaN, "0.5"
  (nothing is clipped to [0, 1]).
- PATH_NONE: every function that needs a path, given path=None.
- ROWS: user callables (sigma, g, score, velocity) of the wrong shape, cutting the gradient, not broadcasting
  t or diverging, and the messages that used to give the wrong cause.
The accept list checks int -> float results equal to the float computation, float64 kept, requires_grad
kept and the one meaning of a 1-d x. `test_every_public_name_is_covered_or_skipped` walks every fmlite
`__all__` and fails on a name in neither the tables nor SKIPPED (which says why).
"""
from __future__ import annotations

import importlib
import pkgutil

import matplotlib
import numpy as np
import pytest
import torch

import fmlite
from fmlite import plotting, widgets
from fmlite.widgets.nb10_discrete import draw_token_flow, token_trajectories, update_token_flow
from fmlite.widgets import nb11_latent
from fmlite.autoencoder import Autoencoder, kl_divergence, reparameterise
from fmlite.couplings import independent, minibatch_ot
from fmlite.datasets import sample_2d, text_points
from fmlite.discrete import (MaskSource, MixturePath, TokenNet, check_kappa, check_vocab, checkerboard_tokens,
                             exact_posterior, sample_discrete)
from fmlite.digit_metrics import digit_probabilities, digit_scores, nearest_neighbour_distance
from fmlite.exact import log_density, marginal_velocity, naive_marginal_velocity, posterior_weights
from fmlite.flow_map_losses import DistillationLoss, MeanFlowLoss, distillation_pairs, sample_time_pairs
from fmlite.flow_maps import average_velocity, flow_map, meanflow_target, sample_flow_map
from fmlite.latent_flows import decode_samples, latent_fm_target, sample_latent_images
from fmlite.gaussian_mixture import GaussianMixture, example_mixture
from fmlite.gaussian_ot import GaussianToGaussian
from fmlite.likelihood import (draw_probes, exact_divergence, hutchinson_divergence, log_likelihood,
                               standard_normal_log_prob)
from fmlite.metrics import energy_distance, sliced_wasserstein, straightness
from fmlite.models import MLP, ConvNet, FlowMapMLP, guided_velocity
from fmlite.paths import CosinePath, LinearPath, Sigma
from fmlite.pretrained import sample_images
from fmlite.reflow import PairedData, reflow_pairs
from fmlite.scores import (convert, path_coefficients, score_from_velocity, score_to_velocity, score_to_x0_hat,
                           velocity_to_score, velocity_to_x1_hat, x0_hat_to_score)
from fmlite.solvers import integrate, sample_sde

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py

PATH = LinearPath()
DATA = torch.randn(12, 2, generator=torch.Generator().manual_seed(1))
GMM = example_mixture()
G2G = GaussianToGaussian(torch.tensor([1.0, -1.0]), torch.tensor([[1.0, 0.3], [0.3, 0.5]]))
X1 = torch.randn(8, 2, generator=torch.Generator().manual_seed(2))   # a partner batch for pair functions


def shrink(x, t):
    """A smooth velocity field that broadcasts t correctly: v(x, t) = -x (1 + t)."""
    return -x * (1 + t[:, None])


def _fig():
    return Figure()


def _ax():
    return Figure().add_subplot(1, 1, 1)


# ----------------------------------------------------------------------------- functions of a batch x (B, 2)
#: name -> call(x) with every other argument good. Values: float tensors unless said in RETURNS_NUMBER.
FIELDS = {
    "Path.sample": lambda x: PATH.sample(x, X1, 0.5).x_t,
    "Path.interpolate": lambda x: CosinePath(0.2).interpolate(x, X1, 0.5,
                                                              torch.ones_like(x) if torch.is_tensor(x) else None),
    "marginal_velocity": lambda x: marginal_velocity(x, 0.5, DATA, PATH),
    "naive_marginal_velocity": lambda x: naive_marginal_velocity(x, 0.5, DATA, LinearPath(0.3)),
    "log_density": lambda x: log_density(x, 0.5, DATA, PATH),
    "posterior_weights": lambda x: posterior_weights(x, 0.5, DATA, PATH),
    "integrate": lambda x: integrate(shrink, x, 3).x,
    "convert": lambda x: convert(x, x, 0.3, PATH, "velocity", "score"),
    "velocity_to_score": lambda x: velocity_to_score(x, x, 0.3, PATH),
    "score_to_velocity": lambda x: score_to_velocity(x, x, 0.3, PATH),
    "score_to_x0_hat": lambda x: score_to_x0_hat(x, x, 0.3, PATH),
    "x0_hat_to_score": lambda x: x0_hat_to_score(x, x, 0.3, PATH),
    "velocity_to_x1_hat": lambda x: velocity_to_x1_hat(x, x, 0.3, PATH),
    "score_from_velocity": lambda x: score_from_velocity(shrink, PATH)(x, torch.full((8,), 0.3)),
    "sample_sde": lambda x: sample_sde(shrink, x, 3, generator=torch.Generator().manual_seed(0)).x,
    "GaussianMixture.log_density": lambda x: GMM.log_density(x, 0.5, PATH),
    "GaussianMixture.log_prob": lambda x: GMM.log_prob(x),
    "GaussianMixture.score": lambda x: GMM.score(x, 0.3, PATH),
    "GaussianMixture.x0_hat": lambda x: GMM.x0_hat(x, 0.3, PATH),
    "GaussianMixture.x1_hat": lambda x: GMM.x1_hat(x, 0.3, PATH),
    "GaussianMixture.velocity": lambda x: GMM.velocity(x, 0.3, PATH),
    "GaussianMixture.field": lambda x: GMM.field(PATH)(x, 0.3),
    "GaussianToGaussian.ot_map": lambda x: G2G.ot_map(x),
    "GaussianToGaussian.independent_flow": lambda x: G2G.independent_flow(x, 0.5),
    "GaussianToGaussian.independent_velocity": lambda x: G2G.independent_velocity(x, 0.5),
    "GaussianToGaussian.ot_path": lambda x: G2G.ot_path(x, 0.5),
    "GaussianToGaussian.ot_velocity": lambda x: G2G.ot_velocity(x, 0.5),
    "exact_divergence": lambda x: exact_divergence(shrink, x, 0.5),
    "hutchinson_divergence": lambda x: hutchinson_divergence(shrink, x, 0.5,
                                                             generator=torch.Generator().manual_seed(0)),
    "log_likelihood": lambda x: log_likelihood(shrink, x, steps=2, method="euler"),
    "standard_normal_log_prob": lambda x: standard_normal_log_prob(x),
    "energy_distance": lambda x: energy_distance(x, DATA),
    "sliced_wasserstein": lambda x: sliced_wasserstein(x, DATA, n_projections=10),
    "independent": lambda x: independent(x, X1)[0],
    "minibatch_ot": lambda x: minibatch_ot(x, X1)[1],
    "reflow_pairs": lambda x: reflow_pairs(shrink, x, steps=2, method="euler")[1],
    "PairedData": lambda x: PairedData(x, X1)(4),
    "start_noise": lambda x: widgets.start_noise(x, LinearPath(0.5).sigma),
    "model_log_density": lambda x: widgets.model_log_density(shrink, x, 0.5, steps=2, method="euler"),
    "flow_map": lambda x: flow_map(shrink, x, 0.2, 0.8, steps=3),
    "average_velocity": lambda x: average_velocity(shrink, x, 0.3, torch.linspace(0.3, 1, len(x)), steps=3),
    "distillation_pairs": lambda x: distillation_pairs(shrink, x, 0.9, 0.1, steps=2),
    "sample_flow_map": lambda x: sample_flow_map(lambda y, s, t: -y * (t - s)[:, None], x, 3).x,
    "kl_divergence": lambda x: kl_divergence(x, X),
    "reparameterise": lambda x: reparameterise(x, X, X1),
    "latent_fm_target": lambda x: latent_fm_target(lambda z: z, X1, x, 0.5, 1.0).x_t,
    "decode_samples": lambda x: decode_samples(lambda z: 2 * z, shrink, x, 1.0, 2, "euler"),
}
#: Functions that return a Python float (no dtype or graph to keep).
RETURNS_NUMBER = {"energy_distance", "sliced_wasserstein"}
#: Functions whose result does not come from floating arithmetic on x (so no dtype to check).
NOT_ARITHMETIC = {"minibatch_ot", "PairedData", "posterior_weights", "independent"}

X = torch.randn(8, 2, generator=torch.Generator().manual_seed(3))
_nan, _inf = X.clone(), X.clone()
_nan[3, 1], _inf[5, 0] = float("nan"), float("inf")

#: (kind, bad x, expected words in the message)
BAD_X = [
    ("a list", X.tolist(), r"torch\.as_tensor"),
    ("a numpy array", X.numpy(), r"torch\.as_tensor"),
    ("None", None, r"tensor.*got None|None"),
    ("NaN", _nan, r"NaN"),
    ("inf", _inf, r"NaN or inf"),
    ("an empty batch", X[:0], r"empty|at least"),
    ("a 1-d x", X[:, 0], r"x\[:, None\]|x\[None\]|shape \(B, "),
    ("a bool tensor", X > 0, r"real|dtype"),
]
#: (function, kind, why it is not refused): the documented exceptions.
X_EXCEPTIONS = {
    ("Path.sample", "NaN"): "the training hot path scans nothing: train stops with TrainingDiverged naming the step "
                            "and 'the data contains NaN' (tests/test_train.py); Path.interpolate refuses it",
    ("Path.sample", "inf"): "as NaN",
    ("marginal_velocity", "an empty batch"): "documented: the exact field of no points is no points (test below)",
    ("naive_marginal_velocity", "an empty batch"): "as marginal_velocity",
    ("log_density", "an empty batch"): "as marginal_velocity",
    ("posterior_weights", "an empty batch"): "as marginal_velocity",
}


@pytest.mark.parametrize("kind, bad, words", BAD_X, ids=[row[0] for row in BAD_X])
@pytest.mark.parametrize("name", list(FIELDS))
def test_a_bad_batch_is_refused_with_the_fix(name, kind, bad, words):
    if (name, kind) in X_EXCEPTIONS:
        pytest.skip(X_EXCEPTIONS[name, kind])
    with pytest.raises((ValueError, TypeError), match=words):
        FIELDS[name](bad)


def test_the_mlp_refuses_what_it_can_in_o1():
    """A network's forward is the hot path: type, dtype and shape are checked (O(1)); NaN is not scanned there
    (train reports a NaN loss with its cause), and an empty batch maps to an empty batch."""
    net = MLP(dim=2, hidden=8, layers=1)
    for bad, words in [(X.tolist(), r"torch\.as_tensor"), (X.numpy(), r"torch\.as_tensor"), (None, "tensor"),
                       (X[:, 0], "t passed first"), (X > 0, "floating-point"), (torch.zeros(8, 3), r"\(B, 2\)")]:
        with pytest.raises(ValueError, match=words):
            net(bad, torch.full((len(X),), 0.5))
    assert net(X[:0], 0.5).shape == (0, 2)


def test_straightness_refuses_bad_trajectories():
    tr = integrate(shrink, X, 4, return_trajectory=True).trajectory
    diverged = tr.clone()
    diverged[2:] = float("inf")
    for bad, words in [(tr.tolist(), r"torch\.as_tensor"), (tr.numpy(), r"torch\.as_tensor"), (None, "None"),
                       (diverged, "diverge"), (tr[:1], "K >= 1"), (tr[:, :0], "B >= 1"), (tr[:, 0], r"shape")]:
        with pytest.raises(ValueError, match=words):
            straightness(bad)


@pytest.mark.parametrize("fn", [digit_probabilities, nearest_neighbour_distance, digit_scores])
def test_digit_metrics_refuse_bad_images(fn):
    img = torch.zeros(3, 1, 8, 8)
    nan = img.clone()
    nan[0, 0, 0, 0] = float("nan")
    for bad, words in [(img.tolist(), r"torch\.as_tensor"), (img.numpy(), r"torch\.as_tensor"), (None, "None"),
                       (nan, "NaN"), (img[:0], "N >= 1"), (img[:, 0], r"\(N, 1, 8, 8\)"), (img > 0, "dtype")]:
        with pytest.raises(ValueError, match=words):
            fn(bad)


# ----------------------------------------------------------------------------- counts
_TOKEN_PATH = MixturePath(MaskSource(3), "quadratic")
_TOKENS = torch.tensor([[0, 1], [2, 2], [1, 0]])
_EXACT_TOKENS = lambda x, t: exact_posterior(x, t, _TOKENS, _TOKEN_PATH).log()  # noqa: E731
_V0 = torch.zeros(4, 2)
_TR = integrate(shrink, torch.randn(6, 2), 4, return_trajectory=True).trajectory
COUNTS = {
    "integrate(steps)": lambda n: integrate(shrink, _V0, n),
    "sample_sde(steps)": lambda n: sample_sde(shrink, _V0, n),
    "log_likelihood(steps)": lambda n: log_likelihood(shrink, _V0, steps=n),
    "log_likelihood(probes)": lambda n: log_likelihood(shrink, _V0, steps=1, divergence="hutchinson", probes=n),
    "hutchinson_divergence(probes)": lambda n: hutchinson_divergence(shrink, _V0, 0.5, probes=n),
    "draw_probes(probes)": lambda n: draw_probes((4, 2), n),
    "sliced_wasserstein(n_projections)": lambda n: sliced_wasserstein(DATA, DATA, n_projections=n),
    "GaussianMixture.sample(n)": lambda n: GMM.sample(n),
    "example_mixture(components)": lambda n: example_mixture(components=n),
    "example_mixture(dim)": lambda n: example_mixture(dim=n),
    "reflow_pairs(steps)": lambda n: reflow_pairs(shrink, _V0, steps=n),
    "reflow_pairs(batch_size)": lambda n: reflow_pairs(shrink, _V0, steps=1, batch_size=n),
    "sample_2d(n)": lambda n: sample_2d("moons", n),
    "text_points(n)": lambda n: text_points("A", n),
    "sample_images(n)": lambda n: sample_images(None, n),
    "MLP(hidden)": lambda n: MLP(hidden=n),
    "frame_index(frames)": lambda n: plotting.frame_index(0.5, n),
    "trajectories(n)": lambda n: plotting.trajectories(_ax(), _TR, n=n),
    "conditional_paths(n)": lambda n: plotting.conditional_paths(_ax(), _V0, _V0, n=n),
    "conditional_paths(steps)": lambda n: plotting.conditional_paths(_ax(), _V0, _V0, steps=n),
    "field_on_grid(n)": lambda n: plotting.field_on_grid(shrink, 0.5, n=n),
    "draw_solver_paths(steps)": lambda n: widgets.draw_solver_paths(_fig(), 1.0, n, "euler", shrink, _V0),
    "update_solver_paths(steps)": lambda n: widgets.update_solver_paths(_fig(), 1.0, n, "euler", shrink, _V0),
    "euler_trajectories(steps)": lambda n: widgets.euler_trajectories({"a": shrink}, _V0, n),
    "draw_straight_paths(steps)": lambda n: widgets.draw_straight_paths(_fig(), 1.0, n, {"a": shrink}, _V0),
    "update_straight_paths(steps)": lambda n: widgets.update_straight_paths(_fig(), 1.0, n, {"a": shrink}, _V0),
    "token_trajectories(n)": lambda n: token_trajectories({}, {}, n),
    "draw_token_flow(steps)": lambda n: draw_token_flow(_fig(), 0.5, n, "mask", {}, {}),
    "update_token_flow(steps)": lambda n: update_token_flow(_fig(), 0.5, n, "mask", {}, {}),
    "model_log_density(steps)": lambda n: widgets.model_log_density(shrink, _V0, 0.5, steps=n),
    "log_density_maps(steps)": lambda n: widgets.log_density_maps(shrink, [0.5], n=3, steps=n),
    "log_density_maps(n)": lambda n: widgets.log_density_maps(shrink, [0.5], n=n),
    "noise_flow(steps)": lambda n: widgets.noise_flow(DATA, _V0, "sine", 0.5, steps=n),
    "flow_map(steps)": lambda n: flow_map(shrink, _V0, 0.0, 1.0, steps=n),
    "average_velocity(steps)": lambda n: average_velocity(shrink, _V0, 0.0, 1.0, steps=n),
    "sample_flow_map(steps)": lambda n: sample_flow_map(lambda y, s, t: y, _V0, n),
    "sample_time_pairs(batch)": lambda n: sample_time_pairs(n),
    "DistillationLoss(steps)": lambda n: DistillationLoss(shrink, steps=n),
    "FlowMapMLP(hidden)": lambda n: FlowMapMLP(hidden=n),
    # discrete flows (notebook 10)
    "sample_discrete(steps)": lambda n: sample_discrete(_EXACT_TOKENS, MaskSource(3).sample(4, 2), n, _TOKEN_PATH),
    "TokenNet(vocab_size)": lambda n: TokenNet(n, 2),
    "MaskSource.sample(n)": lambda n: MaskSource(3).sample(n, 2),
    "checkerboard_tokens(n)": lambda n: checkerboard_tokens(n),
    "Autoencoder(latent_dim)": lambda n: Autoencoder(latent_dim=n),
    "Autoencoder(hidden)": lambda n: Autoencoder(hidden=n),
    "decode_samples(steps)": lambda n: decode_samples(lambda z: z, shrink, _V0, 1.0, n),
    "sample_latent_images(n)": lambda n: sample_latent_images(MLP(), Autoencoder(latent_dim=2), n),
    "sample_latent_images(steps)": lambda n: sample_latent_images(MLP(), Autoencoder(latent_dim=2), 2, steps=n),
}
#: (bad count, expected words): one message for all.
BAD_COUNTS = [(0, r"got 0$"), (-1, r"got -1$"), (2.5, r"got float 2\.5; nothing is rounded"),
              (float("nan"), r"got float nan"), (float("inf"), r"got float inf"), ("3", r"convert it with int"),
              (True, r"got bool True"), (None, r"got NoneType None")]


@pytest.mark.parametrize("bad, words", BAD_COUNTS, ids=[repr(b) for b, _ in BAD_COUNTS])
@pytest.mark.parametrize("name", list(COUNTS))
def test_a_bad_count_is_refused_with_one_message(name, bad, words):
    with pytest.raises(ValueError, match=r"must be a (positive integer|whole number >= \d).*" + words):
        COUNTS[name](bad)


# ----------------------------------------------------------------------------- slider times of the explorers
_MAPS = widgets.LogDensityMaps(times=np.array([0.0, 0.5, 1.0]), maps=np.zeros((3, 4, 4)), lim=3.0)
_EXACT_LOGP = lambda x, t: GMM.log_density(x, t, PATH)  # noqa: E731
_IMAGES = torch.zeros(3, 4, 1, 8, 8)
_LATENT = nb11_latent.LatentFrames({1.0: np.zeros((3, 10, 2, 1, 8, 8))}, {1.0: np.zeros((3, 20, 2))},
                                   np.arange(20) % 10, np.zeros((5, 2)))
TIMED = {
    "draw_trajectory": lambda t: widgets.draw_trajectory(_fig(), t, _TR),
    "update_trajectory": lambda t: widgets.update_trajectory(_fig(), t, _TR),
    "draw_image_flow": lambda t: widgets.draw_image_flow(_fig(), t, _IMAGES),
    "draw_interpolation": lambda t: widgets.draw_interpolation(_fig(), t, 0.5, "bridge", _V0, _V0, _V0),
    "update_interpolation": lambda t: widgets.update_interpolation(_fig(), t, 0.5, "bridge", _V0, _V0, _V0),
    "draw_vector_field": lambda t: widgets.draw_vector_field(_fig(), t, DATA, _V0, _V0),
    "update_vector_field": lambda t: widgets.update_vector_field(_fig(), t, DATA, _V0, _V0),
    "draw_learned_vs_exact": lambda t: widgets.draw_learned_vs_exact(_fig(), t, shrink, DATA, PATH),
    "update_learned_vs_exact": lambda t: widgets.update_learned_vs_exact(_fig(), t, shrink, DATA, PATH),
    "draw_solver_paths": lambda t: widgets.draw_solver_paths(_fig(), t, 2, "euler", shrink, _V0),
    "update_solver_paths": lambda t: widgets.update_solver_paths(_fig(), t, 2, "euler", shrink, _V0),
    "draw_noise_flow": lambda t: widgets.draw_noise_flow(_fig(), t, 0.5, "sine", None),
    "update_noise_flow": lambda t: widgets.update_noise_flow(_fig(), t, 0.5, "sine", None),
    "draw_straight_paths": lambda t: widgets.draw_straight_paths(_fig(), t, 2, {"a": shrink}, _V0),
    "update_straight_paths": lambda t: widgets.update_straight_paths(_fig(), t, 2, {"a": shrink}, _V0),
    "draw_token_flow": lambda t: draw_token_flow(_fig(), t, 2, "mask", {}, {}),
    "update_token_flow": lambda t: update_token_flow(_fig(), t, 2, "mask", {}, {}),
    "draw_log_densities": lambda t: widgets.draw_log_densities(_fig(), t, _MAPS, _EXACT_LOGP),
    "update_log_densities": lambda t: widgets.update_log_densities(_fig(), t, _MAPS, _EXACT_LOGP),
    "LogDensityMaps.nearest": lambda t: _MAPS.nearest(t),
    "frame_index": lambda t: plotting.frame_index(t, 5),
    "flow_snapshot": lambda t: plotting.flow_snapshot(_ax(), _TR, t),
    "solver_panel": lambda t: plotting.solver_panel(_ax(), _TR, t),
    "interpolant_panel": lambda t: plotting.interpolant_panel(_ax(), t, PATH, _V0, _V0),
    "update_interpolant_panel": lambda t: plotting.update_interpolant_panel(_ax(), t, PATH, _V0, _V0),
    "conditional_paths(t_max)": lambda t: plotting.conditional_paths(_ax(), _V0, _V0, t_max=t),
    "field_on_grid": lambda t: plotting.field_on_grid(shrink, t),
    "field_arrow_arrays": lambda t: plotting.field_arrow_arrays(shrink, t),
    "field_arrows": lambda t: plotting.field_arrows(_ax(), shrink, t),
    "quiver": lambda t: plotting.quiver(_ax(), shrink, t),
    "arrows": lambda t: plotting.arrows(_ax(), shrink, t, "k"),
    "field_panel": lambda t: plotting.field_panel(_ax(), t, DATA),
    "error_points": lambda t: plotting.error_points(_ax(), shrink, shrink, _V0, t),
    "density": lambda t: plotting.density(_ax(), _EXACT_LOGP, t),
    "draw_latent_flow": lambda t: nb11_latent.draw_latent_flow(_fig(), t, 1.0, _LATENT),
    "update_latent_flow": lambda t: nb11_latent.update_latent_flow(_fig(), t, 1.0, _LATENT),
    "LatentFrames.frame": lambda t: _LATENT.frame(t, 1.0),
}
BAD_TIMES = [(7.0, r"\[0, 1\].*nothing is clipped"), (-0.5, r"\[0, 1\]"), (float("nan"), "NaN"),
             ("0.5", "number")]


@pytest.mark.parametrize("bad, words", BAD_TIMES, ids=[repr(b) for b, _ in BAD_TIMES])
@pytest.mark.parametrize("name", list(TIMED))
def test_a_slider_time_outside_0_1_is_refused_not_clipped(name, bad, words):
    with pytest.raises(ValueError, match=words):
        TIMED[name](bad)


# ----------------------------------------------------------------------------- path=None
PATH_NONE = {
    "marginal_velocity": lambda: marginal_velocity(X, 0.5, DATA, None),
    "naive_marginal_velocity": lambda: naive_marginal_velocity(X, 0.5, DATA, None),
    "log_density": lambda: log_density(X, 0.5, DATA, None),
    "posterior_weights": lambda: posterior_weights(X, 0.5, DATA, None),
    "convert": lambda: convert(X, X, 0.5, None, "velocity", "score"),
    "velocity_to_score": lambda: velocity_to_score(X, X, 0.5, None),
    "path_coefficients": lambda: path_coefficients(None, 0.5),
    "GaussianMixture.score": lambda: GMM.score(X, 0.5, None),
    "GaussianMixture.velocity": lambda: GMM.velocity(X, 0.5, None),
    "GaussianMixture.log_density": lambda: GMM.log_density(X, 0.5, None),
    "interpolant_panel": lambda: plotting.interpolant_panel(_ax(), 0.5, None, _V0, _V0),
    "update_interpolant_panel": lambda: plotting.update_interpolant_panel(_ax(), 0.5, None, _V0, _V0),
}


@pytest.mark.parametrize("name", list(PATH_NONE))
def test_path_none_is_refused_with_the_fix(name):
    with pytest.raises(ValueError, match=r"path=LinearPath\(\)"):
        PATH_NONE[name]()


def test_a_wrong_path_type_is_a_type_error():
    with pytest.raises(TypeError, match="fmlite.paths.Path"):
        marginal_velocity(X, 0.5, DATA, "linear")


# ----------------------------------------------------------------------------- user callables and causes
def _no_broadcast(x, t):
    return x * t          # t (B,) against x (B, 2): fails unless B == 2


def _diverges(x, t):
    return x * float("nan")


_T5 = torch.linspace(0.1, 0.9, 5)
ROWS = [
    # (what, call, expected words)
    ("Sigma that cuts the gradient (t.detach())",
     lambda: LinearPath(Sigma(lambda t: 0.5 * t.detach())).sample(X, X1, 0.5), r"cuts the gradient.*derivative="),
    ("Sigma through .item()-like numpy", lambda: Sigma(lambda t: torch.as_tensor(0.5 * t.detach().numpy()))
     .derivative(_T5), r"cuts the gradient.*torch operations"),
    ("Sigma returning (B, 1)", lambda: Sigma(lambda t: 0.5 * t[:, None])(_T5),
     r"sigma function .* returned shape \(5, 1\), expected \(5,\)"),
    ("Sigma returning (1,) for (B,)", lambda: Sigma(lambda t: t[:1])(_T5), r"returned shape \(1,\), expected \(5,\)"),
    ("Sigma derivative= of shape (B, 1)", lambda: Sigma(lambda t: t, derivative=lambda t: t[:, None]).derivative(_T5),
     r"derivative= .* returned shape \(5, 1\)"),
    ("Sigma derivative= not callable", lambda: Sigma(lambda t: t, derivative=1.0), r"callable"),
    ("g(t) of shape (B, 1)", lambda: sample_sde(shrink, X, 2, g=lambda t: t[:, None]),
     r"g\(t\) .* returned shape \(8, 1\), expected \(8,\)"),
    ("g(t) not a tensor", lambda: sample_sde(shrink, X, 2, g=lambda t: [0.5] * len(t)), r"g\(t\) .* torch tensor"),
    ("g0 a string", lambda: sample_sde(shrink, X, 2, g="0.5"), r"g0 must be a finite number"),
    ("score of the wrong shape", lambda: sample_sde(shrink, X, 2, score=lambda x, t: x[:, :1]),
     r"score\(x, t\) must return the shape of x \(8, 2\)"),
    ("velocity not broadcasting t: integrate", lambda: integrate(_no_broadcast, X, 2),
     r"x of shape \(8, 2\) and t of shape \(8,\).*t\[:, None\]"),
    ("velocity not broadcasting t: exact_divergence", lambda: exact_divergence(_no_broadcast, X, 0.5),
     r"x of shape \(8, 2\) and t of shape \(8,\).*t\[:, None\]"),
    ("velocity not broadcasting t: hutchinson_divergence", lambda: hutchinson_divergence(_no_broadcast, X, 0.5),
     r"x of shape \(8, 2\) and t of shape \(8,\).*t\[:, None\]"),
    ("velocity not broadcasting t: sample_sde", lambda: sample_sde(_no_broadcast, X, 2),
     r"x of shape \(8, 2\) and t of shape \(8,\).*t\[:, None\]"),
    ("velocity not broadcasting t: log_likelihood (names x, not the augmented state)",
     lambda: log_likelihood(_no_broadcast, X, 2), r"x of shape \(8, 2\) and t of shape \(8,\).*t\[:, None\]"),
    ("velocity of the wrong shape: log_likelihood", lambda: log_likelihood(lambda x, t: x[:, :1], X, 2),
     r"must return the shape of x \(8, 2\), got \(8, 1\)"),
    ("velocity not callable", lambda: integrate("model", X, 2), r"callable"),
    ("velocity producing NaN: log_likelihood", lambda: log_likelihood(_diverges, X, 2), r"NaN or inf.*diverge"),
    ("velocity producing NaN: sample_sde", lambda: sample_sde(_diverges, X, 2), r"NaN or inf.*diverge"),
    ("velocity producing NaN: exact_divergence",
     lambda: exact_divergence(lambda x, t: x * x.sum() * float("nan"), X, 0.5), r"NaN or inf.*diverge"),
    ("velocity producing NaN: hutchinson_divergence",
     lambda: hutchinson_divergence(lambda x, t: x * x.sum() * float("nan"), X, 0.5), r"NaN or inf.*diverge"),
    ("velocity producing NaN: reflow_pairs", lambda: reflow_pairs(_diverges, X, 2), r"NaN or inf.*diverge"),
    ("weights [1.5, -0.5] (sum 1, one negative)",
     lambda: GaussianMixture([1.5, -0.5], torch.zeros(2, 2), torch.eye(2).expand(2, 2, 2)), r">= 0 \(they are"),
    ("no components", lambda: GaussianMixture(torch.zeros(0), torch.zeros(0, 2), torch.zeros(0, 2, 2)),
     r"at least one component"),
    ("finite 1e200 clouds: energy_distance", lambda: energy_distance(1e200 * DATA.double(), DATA.double()),
     r"overflowed float64: the inputs are finite"),
    ("finite 1e200 clouds: minibatch_ot", lambda: minibatch_ot(1e200 * X.double(), X.double()),
     r"overflowed float64: the inputs are finite"),
    ("finite 1e200 values: straightness", lambda: straightness(1e200 * _TR.double()), r"overflowed float64"),
    *[(f"finite 1e200 points: {name}", (lambda f: lambda: f(1e200 * X.double()))(FIELDS[name]),
       r"overflowed float64: the inputs are finite but as large as \d\.\d+e\+200; rescale")
      for name in ("marginal_velocity", "naive_marginal_velocity", "log_density", "posterior_weights",
                   "GaussianMixture.log_density", "GaussianMixture.log_prob", "GaussianMixture.score",
                   "GaussianMixture.x0_hat", "GaussianMixture.x1_hat", "GaussianMixture.velocity",
                   "GaussianMixture.field", "log_likelihood", "standard_normal_log_prob", "model_log_density")],
    ("standard_normal_log_prob std = 0", lambda: standard_normal_log_prob(X, 0.0), r"std must be a finite number > 0"),
    ("source_std a string", lambda: log_likelihood(shrink, X, 2, source_std="1"), r"source_std must be"),
    ("straightness times with NaN", lambda: straightness(_TR, torch.tensor([0.0, 0.2, float("nan"), 0.7, 1.0])),
     r"NaN"),
    ("guidance weight a string", lambda: guided_velocity(ConvNet(width=16, blocks=1, num_classes=3), 1, "2"),
     r"w must be a number, got str"),
    ("model_log_density at t = 7", lambda: widgets.model_log_density(shrink, X, 7.0), r"\[0, 1\]"),
    ("flow map network x of the wrong width", lambda: FlowMapMLP(dim=3)(X, 0.1, 0.5), r"expects x of shape \(B, 3\)"),
    ("flow map network max_freq NaN", lambda: FlowMapMLP(max_freq=float("nan")), r"max_freq must be a finite number"),
    ("flow map network s outside [0, 1]", lambda: FlowMapMLP()(X, -0.1, 0.5), r"\[0, 1\].*nothing is clipped"),
    ("flow map network int x", lambda: FlowMapMLP()(X.long(), 0.1, 0.5), r"floating-point x.*x\.float\(\)"),
    ("flow_map t outside [0, 1]", lambda: flow_map(shrink, X, 0.0, 1.5), r"\[0, 1\]"),
    ("flow_map s of the wrong length", lambda: flow_map(shrink, X, torch.rand(3), 1.0), r"shape \(8,\)"),
    ("flow_map unknown method", lambda: flow_map(shrink, X, 0.0, 1.0, method="rk5"), r"unknown method 'rk5'"),
    ("flow_map velocity not broadcasting t", lambda: flow_map(_no_broadcast, X, 0.0, 1.0),
     r"x of shape \(8, 2\) and t of shape \(8,\).*t\[:, None\]"),
    ("flow_map velocity not callable", lambda: flow_map("model", X, 0.0, 1.0), r"callable"),
    ("sample_flow_map output of the wrong shape", lambda: sample_flow_map(lambda y, s, t: y[:, :1], X, 2),
     r"model\(x, s, t\) must return the shape of x \(8, 2\)"),
    ("sample_flow_map a velocity model (two arguments)", lambda: sample_flow_map(shrink, X, 2),
     r"model\(x, s, t\) with two times.*fmlite\.solvers\.integrate"),
    ("meanflow_target u_s of another shape", lambda: meanflow_target(FlowMapMLP(), X, 0.1, 0.5, X[:, :1]),
     r"u_s of the same shape"),
    ("meanflow_target int x_s", lambda: meanflow_target(FlowMapMLP(), X.long(), 0.1, 0.5, X), r"x_s\.float\(\)"),
    ("MeanFlowLoss unknown time sampling", lambda: MeanFlowLoss(time_sampling="beta"), r"unknown time_sampling"),
    ("MeanFlowLoss equal_share 1.5", lambda: MeanFlowLoss(equal_share=1.5), r"equal_share must be .* <= 1"),
    ("MeanFlowLoss time_std 0", lambda: MeanFlowLoss(time_std=0.0), r"time_std must be a finite number > 0"),
    ("MeanFlowLoss unknown weighting", lambda: MeanFlowLoss(weighting="cosine"), r"unknown weighting"),
    ("MeanFlowLoss adaptive_c NaN", lambda: MeanFlowLoss(adaptive_c=float("nan")), r"adaptive_c must be"),
    ("MeanFlowLoss a path that is not a Path", lambda: MeanFlowLoss(path="linear"), r"fmlite\.paths\.Path"),
    ("DistillationLoss teacher not callable", lambda: DistillationLoss("moons"), r"teacher must be a velocity"),
    ("DistillationLoss unknown method", lambda: DistillationLoss(shrink, method="rk5"), r"unknown method"),
    ("digit_scores float labels", lambda: digit_scores(torch.zeros(2, 1, 8, 8), torch.tensor([1.0, 2.0])),
     r"integers in 0\.\.9"),
    # discrete flows (notebook 10): tokens, the mask id, kappa
    ("float tokens: TokenNet", lambda: TokenNet(3, 2)(_TOKENS.float(), 0.5), r"integer token ids.*never rounded"),
    ("float tokens: MixturePath.sample", lambda: _TOKEN_PATH.sample(_TOKENS.float(), 0.5), r"integer token ids"),
    ("tokens >= K without a mask: exact_posterior",
     lambda: exact_posterior(_TOKENS, 0.5, _TOKENS + 1, _TOKEN_PATH), r"ids in 0..2 \(vocab_size = 3"),
    ("tokens > K with a mask: sample_discrete",
     lambda: sample_discrete(_EXACT_TOKENS, _TOKENS + 2, 2, _TOKEN_PATH), r"ids in 0..2 or the mask id 3"),
    ("a mask id inside the vocabulary", lambda: check_vocab(3, 1), r"inside the vocabulary 0..2"),
    ("kappa not increasing from 0 to 1", lambda: check_kappa(Sigma(lambda t: 1 - t)), r"increase from 0 at t = 0"),
    ("kappa decreasing on the way", lambda: MixturePath(MaskSource(3), Sigma(lambda t: t + 0.3 * torch.sin(
        2 * torch.pi * t))), r"decreases near"),
]


@pytest.mark.parametrize("what, call, words", ROWS, ids=[row[0] for row in ROWS])
def test_callables_and_causes_are_named(what, call, words):
    with pytest.raises((ValueError, TypeError), match=words) as info:
        call()
    assert "NaN or inf" not in str(info.value) or "1e200" not in what, "a finite value told it holds NaN or inf"
    if "weights" in what:
        assert "divide them by their sum" not in str(info.value)
    if "augmented" in what:
        assert "(8, 3)" not in str(info.value)


# ----------------------------------------------------------------------------- what is accepted
@pytest.mark.parametrize("name", [n for n in FIELDS if n not in NOT_ARITHMETIC])
def test_integers_are_computed_as_floats(name):
    """Integer x gives the float32 result of x.float(): never a result truncated to integers."""
    xi = torch.tensor([[1, -2], [0, 3], [2, 1], [-1, -1], [3, 0], [0, 0], [1, 1], [-2, 2]])
    got, want = FIELDS[name](xi), FIELDS[name](xi.float())
    if name in RETURNS_NUMBER:
        assert got == want
        return
    assert got.dtype == torch.float32 and torch.equal(got, want), name


def test_the_reported_truncations_are_gone():
    x, v = torch.tensor([[1, 2], [3, -1]]), torch.tensor([[2, 0], [1, 1]])
    score = convert(v, x, 0.3, PATH, "velocity", "score")
    assert score.is_floating_point() and torch.allclose(score, convert(v.float(), x.float(), 0.3, PATH, "velocity",
                                                                       "score"))
    assert not torch.equal(score, score.trunc())   # (0.3 v - x) / 0.7 is not a whole number here
    assert GMM.score(x, 0.3, PATH).is_floating_point()


@pytest.mark.parametrize("name", [n for n in FIELDS if n not in RETURNS_NUMBER | NOT_ARITHMETIC])
def test_float64_stays_float64(name):
    assert FIELDS[name](X.double()).dtype == torch.float64, name


#: Differentiable in x (the others integrate without a graph by design, or are not smooth in x).
DIFFERENTIABLE = ["Path.sample", "Path.interpolate", "marginal_velocity", "naive_marginal_velocity", "log_density",
                  "convert", "velocity_to_score", "score_to_velocity", "GaussianMixture.score",
                  "GaussianMixture.log_density", "GaussianMixture.velocity", "GaussianToGaussian.ot_map",
                  "GaussianToGaussian.ot_velocity", "standard_normal_log_prob", "independent", "kl_divergence",
                  "reparameterise", "latent_fm_target"]


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_requires_grad_is_kept(name):
    x = X.clone().requires_grad_(True)
    out = FIELDS[name](x)
    assert out.requires_grad, name
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert torch.isfinite(grad).all()


def test_integrate_and_log_likelihood_keep_the_graph_when_asked():
    x = X.clone().requires_grad_(True)
    assert integrate(shrink, x, 2, grad=True).x.requires_grad
    assert log_likelihood(shrink, x, 2).requires_grad


def test_one_meaning_of_a_1d_x_a_batch_of_scalars_is_written_x_none():
    """A 1-d x is refused by every function (table above); B scalars are x[:, None], the same everywhere."""
    s = torch.linspace(-1, 1, 5)
    assert torch.allclose(exact_divergence(lambda x, t: 2 * x, s[:, None], 0.5), torch.full((5,), 2.0))
    assert marginal_velocity(s[:, None], 0.5, DATA[:, :1], PATH).shape == (5, 1)
    assert integrate(lambda x, t: x, s[:, None], 2).x.shape == (5, 1)


def test_an_empty_batch_gives_an_empty_exact_field():
    assert marginal_velocity(X[:0], 0.5, DATA, PATH).shape == (0, 2)
    assert log_density(X[:0], 0.5, DATA, PATH).shape == (0,)


def test_good_sigma_functions_are_not_refused():
    for fn in (lambda t: 0.5 * t * (1 - t), lambda t: 0.5, lambda t: torch.full_like(t, 0.3),
               lambda t: 4 * t ** 2 * (1 - t)):
        s = Sigma(fn)
        assert s(_T5).shape == (5,) and torch.isfinite(s.derivative(_T5)).all()
    assert torch.allclose(Sigma(lambda t: 0.5 * t * (1 - t)).derivative(_T5), 0.5 * (1 - 2 * _T5))


def test_whole_float_counts_and_numpy_integers_are_accepted():
    assert integrate(shrink, X, 2.0).nfe == 2 and integrate(shrink, X, np.int64(2)).nfe == 2
    assert len(GMM.sample(np.int32(3))) == 3


# ----------------------------------------------------------------------------- every public name
_MINE = {"flow_maps", "flow_map_losses", "discrete", "checks", "paths", "schedules", "exact", "solvers", "scores", "gaussian_mixture", "gaussian_ot", "likelihood",
         "metrics", "digit_metrics", "couplings", "datasets", "models", "reflow", "pretrained", "plotting", "widgets",
         "autoencoder", "latent_flows", "manifolds"}
#: module (or name) -> why it is not in the tables above.
SKIPPED = {
    # modules whose input is files, data pools or the command line: each has its own table of bad input
    "train": "tests/test_train.py and test_train_loop.py (bad data, NaN, counts, devices)",
    "losses": "tests/test_train_losses.py (the loss protocol's errors) and test_train.py",
    "batches": "tests/test_train_loop.py and test_train_losses.py (pools of floats and tokens)",
    "optim": "tests/test_train_loop.py (devices, threads, learning-rate decay)",
    "checkpoints": "tests/test_checkpoints.py (folders, missing keys, Ctrl-C while saving)",
    "files": "tests/test_cli_outputs.py (a table of bad outputs for every command)",
    "cli": "tests/test_cli_outputs.py and test_cli.py", "cli_train": "tests/test_cli_outputs.py and test_cli.py",
    "site": "tests/test_cli_outputs.py and test_site.py", "solutions": "tests/test_cli_outputs.py and test_kit.py",
    "animate": "tests/test_cli_outputs.py and test_kit.py", "doctor": "writes nothing, reads no user input",
    "recipes": "seeded recipes of the shipped models, called by the command line (tests/test_cli.py)",
    "tools": "the tooling sub-package (cli, recipes, site, doctor, animate, solutions): tests/test_cli.py, test_kit.py",
    "exercises": "checkers: tests/exercises (wrong answers each must reject)", "__main__": "the command line",
    **{n: "the static site's grids and pictures: tests/test_site_grid.py refuses bad grids and pictures" for n in
       ("SITE_QUALITY", "SiteGrid", "TOLERANCE", "T_GRID", "T_GRID_QUICK", "picture_difference", "saved_pictures",
        "site_explorers_of", "site_picture", "site_explorers", "SIGMA_GRID")},
    "fmlite": "re-exports of checkpoints and pretrained", "__version__": "a string",
    # constants, registries and result records: nothing to call
    **{n: "a constant or registry" for n in ("SIGMA_MAX", "SIGMA_SCHEDULES", "METHODS", "QUANTITIES", "DIVERGENCES",
                                             "PROBES", "COUPLINGS", "DATASETS_2D", "MODELS", "DIGIT_CLASSIFIER",
                                             "PRETRAINED", "DIGITS_RECIPE", "FLOW_RECIPE", "SHORT_RUN", "COLORS",
                                             "SOLVER_STYLE", "STEP_CHOICES", "TOKEN_STEP_CHOICES")},
    **{n: "a result record (dataclass) built by the functions above" for n in
       ("PathSample", "Solution", "Likelihood", "DigitScores", "FlowCache")},
    # the checks themselves: tested in tests/test_paths.py, test_solvers.py and by every row above
    **{n: "one of the shared checks every row above goes through" for n in
       ("check_time", "broadcast_time", "check_flat_input", "check_count", "network_input", "model_dtype",
        "check_labels", "check_finite", "check_batch", "check_path", "check_returned", "call_velocity",
        "check_time_value", "float_dtype", "check_no_overflow")},
    # classes and factories whose arguments are scales, names or schedules (tests/test_paths.py refuses them)
    **{n: "takes a scale or a name, refused in tests/test_paths.py" for n in
       ("Schedule", "ConstantSigma", "BridgeSigma", "SineSigma", "as_schedule", "sigma_schedule", "Path")},
    "Sigma": "rows: cuts the gradient, wrong shapes", "LinearPath": "FIELDS Path.sample",
    "CosinePath": "FIELDS Path.interpolate",
    "marginal_velocity": "FIELDS", "naive_marginal_velocity": "FIELDS", "log_density": "FIELDS",
    "posterior_weights": "FIELDS", "GaussianMixture": "FIELDS and ROWS", "example_mixture": "COUNTS",
    "GaussianToGaussian": "FIELDS", "integrate": "FIELDS, COUNTS, ROWS", "path_coefficients": "PATH_NONE",
    "convert": "FIELDS", "velocity_to_score": "FIELDS", "score_to_velocity": "FIELDS", "score_to_x0_hat": "FIELDS",
    "x0_hat_to_score": "FIELDS", "velocity_to_x1_hat": "FIELDS", "score_from_velocity": "FIELDS",
    "sample_sde": "FIELDS, COUNTS, ROWS", "exact_divergence": "FIELDS", "hutchinson_divergence": "FIELDS",
    "draw_probes": "COUNTS", "log_likelihood": "FIELDS, COUNTS, ROWS", "standard_normal_log_prob": "FIELDS",
    "energy_distance": "FIELDS", "sliced_wasserstein": "FIELDS, COUNTS", "straightness": "its own test",
    "digit_classifier": "takes no input", "real_digit_scores": "takes no input",
    "digit_probabilities": "its own test", "nearest_neighbour_distance": "its own test", "digit_scores": "its own test",
    "independent": "FIELDS", "minibatch_ot": "FIELDS", "reflow_pairs": "FIELDS", "PairedData": "FIELDS",
    "sample_2d": "COUNTS (names: tests/test_datasets.py)", "text_points": "COUNTS (glyphs: tests/test_datasets.py)",
    "load_digits": "takes no input",
    "flow_map": "FIELDS, COUNTS, ROWS", "average_velocity": "FIELDS, COUNTS", "distillation_pairs": "FIELDS",
    "sample_flow_map": "FIELDS, COUNTS, ROWS", "sample_time_pairs": "COUNTS; its options in ROWS (MeanFlowLoss)",
    "meanflow_target": "ROWS; the training hot path (like Path.sample and the networks): NaN is not scanned, "
                       "train reports a NaN loss",
    "MeanFlowLoss": "ROWS", "DistillationLoss": "ROWS, COUNTS", "FlowMapMLP": "ROWS, COUNTS (as MLP)",
    "TIME_SAMPLINGS": "a constant", "WEIGHTINGS": "a constant",
    "Autoencoder": "COUNTS; images and latents refused in tests/test_autoencoder.py (BAD)",
    "AutoencoderLoss": "beta and model refused in tests/test_autoencoder.py (BAD)",
    "latent_data": "images and labels refused in tests/test_autoencoder.py (BAD)",
    "sample_latent_images": "COUNTS; labels, w and dimensions in tests/test_autoencoder.py (BAD)",
    "SinusoidalTimeEmbedding": "sizes through check_count (tests/test_models.py)", "MLP": "its own test, COUNTS",
    "ConvNet": "as MLP: network_input and shapes (tests/test_models.py)",
    "guided_velocity": "ROWS (w); labels refused in tests/test_images.py",
    "load_pretrained": "a name and a file (tests/test_checkpoints.py)", "sample_images": "COUNTS",
    "data_dir": "takes no input", "train_images": "a seeded recipe (tests/test_cli.py)", "train_digits": "a seeded recipe (tests/test_cli.py)",
    "train_flow": "a seeded recipe (tests/test_cli.py)",
    # plotting and widgets: display helpers take tensors or numpy arrays by design (to_numpy); their times and
    # counts are in TIMED and COUNTS
    **{n: "TIMED / COUNTS" for n in TIMED}, **{n: "TIMED / COUNTS" for n in ("trajectories", "conditional_paths")},
    **{n: "a display helper: figure, style or artists, no maths input" for n in
       ("lecture_style", "lecture_scale", "figure", "to_numpy", "setup_axes", "scatter", "velocity_arrows",
        "legend_below", "arrow_scale", "update_field_arrows", "update_error_points", "steady_colorbar",
        "schedule_curve", "update_schedule_curve", "schedule_axes", "loss_curve", "time_profile", "quality_vs_nfe",
        "small_multiples",
        "tile_images", "image_grid", "image_rows", "token_images", "update_solver_panel", "Explorer", "t_slider", "float_slider",
        "int_slider", "dropdown", "log_density_panel")},
    **{n: "builds the explorer from the draw_* / update_* helpers in TIMED (same checks)" for n in
       ("trajectory_explorer", "image_flow_explorer", "guidance_explorer", "interpolation_explorer",
        "vector_field_explorer", "learned_vs_exact_explorer", "solver_explorer", "noise_flow_explorer",
        "likelihood_explorer", "straight_explorer", "token_flow_explorer")},
    **{n: "precomputation for an explorer: goes through integrate / log_likelihood (FIELDS, COUNTS)" for n in
       ("noise_flow", "log_density_maps", "euler_trajectories")},
    "token_trajectories": "precomputation for notebook 10's explorer: COUNTS, and sample_discrete's own checks",
    "LogDensityMaps": "TIMED (nearest)",
    "LatentFrames": "TIMED (frame)", "latent_flow_explorer": "builds the explorer from draw_latent_flow (TIMED)",
    "latent_flow_frames": "precomputation for an explorer: counts through check_count, the flows through integrate",
    "snap_to_grid": "UI: moves the t slider onto the solver's step grid, visibly (tests/test_explorers_04.py)",
    **{n: "notebook 12's explorers and drawing on S² / T²: a t outside [0, 1], a bad count and a non-finite view "
          "angle are refused in tests/test_explorers_12.py" for n in
       ("CurvedFlow", "curved_flow", "draw_curved_flow", "update_curved_flow", "sphere_flow_explorer",
        "torus_flow_explorer", "arrow_grid", "notebook_flows", "ELEVATION", "view_matrix", "orthographic",
        "sphere_axes", "sphere_scatter", "update_sphere_scatter", "sphere_arrows", "update_sphere_arrows",
        "torus_axes")},
    **{n: "rendering machinery of the explorers: figures and widgets, no maths input" for n in
       ("BOX", "FigureRenderer", "LECTURE_SCALE_VARIABLE", "SLIDER_WIDTH", "dynamic_artists", "layout_signature",
        "picture_bytes", "picture_format", "picture_geometry", "scale_pyplot_figure", "size_control")},
    # discrete flows (notebook 10): tests/test_discrete_*.py hold their bad input; ROWS and COUNTS above the main ones
    **{n: "tokens: ROWS (float tokens, ids >= K, the mask id) and tests/test_discrete_paths.py" for n in
       ("check_tokens", "check_vocab", "MaskSource", "UniformSource", "make_source", "points_to_tokens",
        "tokens_to_points", "digits_to_tokens", "tokens_to_digits")},
    **{n: "kappa and the path: ROWS and tests/test_discrete_paths.py" for n in
       ("LinearKappa", "PowerKappa", "kappa_schedule", "check_kappa", "MixturePath")},
    **{n: "a constant, registry or result record of fmlite.discrete" for n in
       ("SOURCES", "KAPPA_SCHEDULES", "DiscretePathSample")},
    **{n: "tests/test_discrete_exact.py (tokens, lengths, empty data, path)" for n in
       ("data_weights", "exact_posterior", "all_weights_zero", "ExactPosterior", "in_data")},
    **{n: "tests/test_discrete_solvers.py (posteriors given as logits, kappa = 1, uniforms, h, steps) and COUNTS" for n in
       ("rate", "check_posterior", "jump_probability", "draw_tokens", "euler_step", "sample_discrete")},
    **{n: "tests/test_discrete_losses.py (data out of range, float data, no path, network inputs) and COUNTS" for n in
       ("DiscreteFlowLoss", "posterior_cross_entropy", "TokenNet")},
    **{n: "COUNTS and tests/test_discrete_paths.py" for n in
       ("checkerboard_tokens", "checkerboard_probabilities", "digit_tokens")},
    "path_of": "reads a loaded model's meta: refused without one (tests/test_discrete_pretrained.py)",
    **{n: "w is a key of precomputed samples: a KeyError lists the keys (tests/test_widgets.py)" for n in
       ("draw_guidance", "update_guidance")},
    **{n: "notebook 09's explorer: a pair (s, t) with s <= t on the grid and steps, refused in "
          "tests/test_explorers_09.py" for n in ("draw_flow_map", "update_flow_map", "flow_map_explorer")},
    **{n: "precomputation for notebook 09's explorer: a bad grid is refused in tests/test_explorers_09.py" for n in
       ("FlowMapTables", "flow_table")},
    "STEPS_MAX": "a constant",
    # fmlite.manifolds (notebook 12): points must lie on the space, so they have their own tables
    **{n: "MANIFOLD_FIELDS (points on S² / T²) and MANIFOLD_COUNTS" for n in
       ("Manifold", "Sphere", "FlatTorus", "GeodesicPath", "conditional_density", "marginal_density",
        "integrate_manifold", "manifold_energy_distance", "pairwise_distance", "ManifoldMLP", "sample_vmf",
        "sample_vmf_mixture", "sample_torus_checkerboard", "sample_wrapped_gaussians", "sample_manifold_data",
        "get_space", "GeodesicFlowMatchingLoss", "torus_features")},
    **{n: "a constant or registry" for n in ("SPACES", "LINEAR_KAPPA", "MANIFOLD_METHODS", "MANIFOLD_DATASETS",
                                             "VMF_CENTRES", "VMF_KAPPA")},
}


# ----------------------------------------------------------------------------- curved spaces (fmlite.manifolds)
from fmlite.manifolds import (FlatTorus, GeodesicPath, ManifoldMLP, Sphere, conditional_density,  # noqa: E402
                              integrate_manifold, manifold_energy_distance, marginal_density, sample_manifold_data,
                              sample_torus_checkerboard, sample_vmf, sample_vmf_mixture, sample_wrapped_gaussians)
from fmlite.manifolds import marginal_velocity as manifold_velocity  # noqa: E402

_S, _T = Sphere(), FlatTorus()
_SX, _TX = _S.sample_uniform(8, torch.Generator().manual_seed(4)), _T.sample_uniform(8, torch.Generator().manual_seed(5))
_SD, _TD = _S.sample_uniform(5), _T.sample_uniform(5)
#: name -> (call(x), a good x): every function of a batch of points on a space.
MANIFOLD_FIELDS = {
    "Sphere.exp_map": (lambda x: _S.exp_map(x, _S._project(_SX, torch.ones(8, 3))), _SX),
    "Sphere.log_map": (lambda x: _S.log_map(x, _SX), _SX),
    "Sphere.distance": (lambda x: _S.distance(_SX, x), _SX),
    "Sphere.project_tangent": (lambda x: _S.project_tangent(x, torch.ones(8, 3)), _SX),
    "FlatTorus.log_map": (lambda x: _T.log_map(x, _TX), _TX),
    "FlatTorus.exp_map": (lambda x: _T.exp_map(x, _TX), _TX),
    "GeodesicPath.sample": (lambda x: GeodesicPath(_S).sample(x, _SX, 0.5).u_t, _SX),
    "GeodesicPath.interpolate": (lambda x: GeodesicPath(_T).interpolate(_TX, x, 0.5), _TX),
    "conditional_density": (lambda x: conditional_density(_S, x, _SX, 0.5), _SX),
    "marginal_density": (lambda x: marginal_density(_T, x, _TD, 0.5), _TX),
    "marginal_velocity (manifolds)": (lambda x: manifold_velocity(_S, x, _SD, 0.5), _SX),
    "integrate_manifold": (lambda x: integrate_manifold(_S, lambda y, t: -y, x, 2).x, _SX),
    "manifold_energy_distance": (lambda x: manifold_energy_distance(_T, x, _TD), _TX),
    "ManifoldMLP": (lambda x: ManifoldMLP(_S, hidden=8)(x, 0.5), _SX),
}
#: (kind, make the bad x from the good one, expected words)
MANIFOLD_BAD = [
    ("a list", lambda x: x.tolist(), r"torch\.as_tensor"), ("a numpy array", lambda x: x.numpy(), r"torch\.as_tensor"),
    ("None", lambda x: None, r"None"), ("an empty batch", lambda x: x[:0], r"empty|at least"),
    ("a 1-d x", lambda x: x[:, 0], r"x\[:, None\]|x\[None\]"), ("a bool tensor", lambda x: x > 0, r"real"),
    ("NaN", lambda x: torch.where(torch.arange(len(x))[:, None] == 3, float("nan"), x), r"NaN"),
    ("off the space", lambda x: x * 1.5 if x.shape[1] == 3 else x + 7, r"unit sphere by more than|outside \[0, 2π\]"),
    ("the wrong width", lambda x: torch.zeros(len(x), 5), r"shape \(B, [23]\)"),
]


@pytest.mark.parametrize("kind, make, words", MANIFOLD_BAD, ids=[row[0] for row in MANIFOLD_BAD])
@pytest.mark.parametrize("name", list(MANIFOLD_FIELDS))
def test_a_bad_batch_of_points_is_refused_with_the_fix(name, kind, make, words):
    call, good = MANIFOLD_FIELDS[name]
    call(good)                                   # the good input is accepted
    with pytest.raises((ValueError, TypeError), match=words):
        call(make(good))


MANIFOLD_COUNTS = {
    "Sphere.sample_uniform(n)": lambda n: _S.sample_uniform(n), "FlatTorus.sample_uniform(n)": lambda n: _T.sample_uniform(n),
    "integrate_manifold(steps)": lambda n: integrate_manifold(_S, lambda y, t: -y, _SX, n),
    "sample_vmf(n)": lambda n: sample_vmf(torch.tensor([0.0, 0, 1]), 2.0, n),
    "sample_vmf_mixture(n)": lambda n: sample_vmf_mixture(n), "sample_torus_checkerboard(n)": lambda n: sample_torus_checkerboard(n),
    "sample_wrapped_gaussians(n)": lambda n: sample_wrapped_gaussians(n),
    "sample_manifold_data(n)": lambda n: sample_manifold_data("vmf_mixture", n), "ManifoldMLP(hidden)": lambda n: ManifoldMLP(_T, hidden=n),
}


@pytest.mark.parametrize("bad, words", BAD_COUNTS, ids=[repr(b) for b, _ in BAD_COUNTS])
@pytest.mark.parametrize("name", list(MANIFOLD_COUNTS))
def test_a_bad_count_on_a_space_is_refused_with_one_message(name, bad, words):
    with pytest.raises(ValueError, match=r"must be a (positive integer|whole number >= \d).*" + words):
        MANIFOLD_COUNTS[name](bad)


def test_manifold_times_names_and_spaces_are_refused():
    for t, words in ((1.5, r"\[0, 1\]"), (float("nan"), "NaN"), (1.0, "t < 1")):
        with pytest.raises(ValueError, match=words):
            manifold_velocity(_S, _SX, _SD, t)
    with pytest.raises(ValueError, match="unknown manifold data set"):
        sample_manifold_data("moons", 4)
    with pytest.raises(TypeError, match="a space must be"):
        GeodesicPath(3)
    with pytest.raises(ValueError, match="antipodal"):
        _S.log_map(_SX, -_SX)


def _public_names():
    names = set()
    for info in pkgutil.walk_packages(fmlite.__path__, "fmlite."):
        top = info.name.split(".")[1]
        if top not in _MINE:
            continue
        module = importlib.import_module(info.name)
        names |= set(getattr(module, "__all__", ()))
    return names


def test_every_public_name_is_covered_or_skipped():
    covered = set(SKIPPED) | set(FIELDS) | set(TIMED) | set(PATH_NONE)
    missing = sorted(n for n in _public_names() if n not in covered)
    assert not missing, f"public names in no table and not in SKIPPED: {missing}"
    others = {info.name.split(".")[1] for info in pkgutil.iter_modules(fmlite.__path__, "fmlite.")} - _MINE
    assert others <= set(SKIPPED), sorted(others - set(SKIPPED))
