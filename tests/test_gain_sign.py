"""Notebook 05: the exact field pushes points outwards (away from alpha_t xbar) only where the gain
g_t = beta_t beta'_t + sigma sigma' = (s_t^2)'/2 is positive. On the linear path: the sine schedule at scale 1
for t ~ 0.10-0.44, the bridge only above scale sqrt(2) (for t < (s^2/2 - 1)/(s^2 - 1)), constant sigma never."""
import math

import pytest
import torch

from fmlite.paths import BridgeSigma, ConstantSigma, CosinePath, LinearPath, SineSigma

T = torch.linspace(0, 1, 20_001, dtype=torch.float64)[1:-1]


def gain(path):
    c = path.field_coefficients(T)
    return c["beta_t"] * c["d_beta_t"] + c["sigma_d_sigma_t"]


def test_gain_is_half_the_rate_of_s_squared():
    path = LinearPath(SineSigma(1.3))
    c = path.field_coefficients(T)
    s2 = c["beta_t"] ** 2 + c["sigma_t"] ** 2
    numeric = torch.gradient(s2, spacing=(T,))[0] / 2
    assert torch.allclose(gain(path)[5:-5], numeric[5:-5], atol=1e-6)


def test_sine_at_scale_one_pushes_out_for_t_between_010_and_044():
    g = gain(LinearPath(SineSigma(1.0)))
    where = T[g > 0]
    assert abs(where.min().item() - 0.10) < 0.005 and abs(where.max().item() - 0.44) < 0.005
    assert torch.all(g[(T > where.min()) & (T < where.max())] > 0)          # one interval


@pytest.mark.parametrize("scale", [0.5, 1.0, 1.3, 1.41])
def test_bridge_at_or_below_sqrt2_never_pushes_out(scale):
    assert torch.all(gain(LinearPath(BridgeSigma(scale))) < 0)


@pytest.mark.parametrize("scale", [1.5, 2.0, 3.0])
def test_bridge_above_sqrt2_pushes_out_before_the_closed_form_time(scale):
    g = gain(LinearPath(BridgeSigma(scale)))
    limit = (scale ** 2 / 2 - 1) / (scale ** 2 - 1)
    assert torch.all(g[T < limit - 1e-3] > 0) and torch.all(g[T > limit + 1e-3] < 0)
    assert math.sqrt(2) < scale


@pytest.mark.parametrize("path", [LinearPath(ConstantSigma(0.5)), LinearPath(ConstantSigma(3.0)), CosinePath()])
def test_constant_sigma_and_the_cosine_path_never_push_out(path):
    assert torch.all(gain(path) < 0)
