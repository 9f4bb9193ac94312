"""Stand-in networks and input builders shared by the checkers of notebooks 09-11 (`nb09_flow_maps`,
`nb10_discrete`, `nb11_latent`): fixed, smooth float64 maps that refuse bad input with the same checks as the
package's networks (`fmlite.checks`, `fmlite.discrete.check_tokens`), so a wrong call fails with a message that
says so, and the seeded inputs the checkers feed them.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_flat_input, check_time, network_input
from .framework import Mismatch

__all__ = ["pairs", "TinyFlowMap", "tokens", "uniforms", "StandInTokenNet", "StandInEncoder", "StandInDecoder"]


# ----------------------------------------------------------------------------- notebook 09: flow maps
#: The (s, t) pairs every call draws from: s = t at both ends and inside, the whole interval, and pairs near the ends.
_PAIRS = ((0.35, 0.8), (0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (0.5, 0.5), (0.0, 0.3), (0.7, 1.0), (0.01, 0.99),
          (0.2, 0.55))


def pairs(B: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """float64 times s, t of shape (B,) with s <= t, B >= 5: an inner pair first (so s[0], t[0] used for the whole
    batch is caught), then (0, 1), s = t = 0, s = t = 1, and for B > 5 a share of inner pairs, shuffled."""
    chosen = [_PAIRS[0]] + [_PAIRS[i] for i in (1, 2, 3)] + list(_PAIRS[4:])[:B - 4]
    rest = chosen[1:]
    order = torch.randperm(len(rest), generator=torch.Generator().manual_seed(seed)).tolist()
    chosen = [chosen[0]] + [rest[i] for i in order]
    s, t = torch.tensor(chosen, dtype=torch.float64).T
    return s.contiguous(), t.contiguous()


class TinyFlowMap(torch.nn.Module):
    """A fixed, smooth, nonlinear float64 flow-map network ū(x, s, t) (B, dim) with parameters, that refuses the
    input `fmlite.models.FlowMapMLP` refuses (x (B, dim) floating; s, t numbers or (B,) in [0, 1]) with the same
    checks (`fmlite.checks`). ∂_s ū, ∂_t ū and ∇_x ū all differ, so a tangent on the wrong argument is caught.
    `calls` keeps the (s, t) of every call (for the sampler's checker).

    Args:
        dim: data dimension. strict: demand tensors s, t of shape (B,), as a sampler passes them."""

    def __init__(self, dim: int = 2, strict: bool = False):
        super().__init__()
        self.dim, self.strict, self.calls = dim, strict, []
        i = torch.arange(dim, dtype=torch.float64)
        self.A = torch.nn.Parameter(0.8 * torch.cos(1.0 + i[:, None] + 2.3 * i[None, :]))
        self.b = torch.nn.Parameter(1.5 * torch.cos(0.7 + 1.9 * i))
        self.c = torch.nn.Parameter(torch.sin(0.4 + 1.3 * i) - 0.5)
        self.E = torch.nn.Parameter(0.9 * torch.sin(0.5 + i[:, None] - 1.7 * i[None, :]))

    def forward(self, x, s, t):
        if not isinstance(x, Tensor) or x.dim() != 2:
            got = type(x).__name__ if not isinstance(x, Tensor) else f"a tensor of shape {tuple(x.shape)}"
            raise Mismatch(f"model(x, s, t) takes the points first, x of shape (B, {self.dim}), then s and t of "
                           f"shape (B,); you passed {got} as x")
        if self.strict and not all(isinstance(v, Tensor) and v.shape == (x.shape[0],) for v in (s, t)):
            raise Mismatch(f"call model(x, s, t) with s and t tensors of shape (B,) = ({x.shape[0]},), one time per "
                           "point, as a trained model is called: s = torch.full((B,), t_k, dtype=x.dtype)")
        try:
            network_input(x, x.dtype if x.is_floating_point() else torch.float64, owner=f"FlowMapMLP(dim={self.dim})")
            check_flat_input(x, self.dim, f"FlowMapMLP(dim={self.dim})")
            s = check_time(s, x.shape[0], like=x)
            t = check_time(t, x.shape[0], like=x)
        except ValueError as e:
            raise Mismatch(f"model(x, s, t) refused its input, as fmlite.models.FlowMapMLP would: {e}") from None
        self.calls.append((s.detach().clone(), t.detach().clone()))
        s, t = s[:, None], t[:, None]
        x = x.to(self.A.dtype)
        return torch.tanh(x @ self.A + s * self.b + t ** 2 * self.c) + (t - s) * torch.sin(x @ self.E) - 0.4 * s * t


# ----------------------------------------------------------------------------- notebook 10: discrete flows
def tokens(B: int, d: int, K: int, seed: int) -> Tensor:
    """Data tokens (B, d) int64 in 0..K-1 with every id used."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, K, (B, d), generator=g)
    x.view(-1)[:K] = torch.arange(K)
    return x


def uniforms(B: int, d: int, seed: int) -> Tensor:
    """(B, d) float64 uniforms in [0.02, 0.98): no row or column constant, none at 0."""
    g = torch.Generator().manual_seed(seed)
    return 0.02 + 0.96 * torch.rand(B, d, generator=g, dtype=torch.float64)


class StandInTokenNet(torch.nn.Module):
    """A fixed token network for the checks: logits (B, d, K) from x (B, d) int64 and t, with the input checks of
    `fmlite.discrete.TokenNet` (the same functions: int64 tokens in range, the mask id K only with the mask
    source, t one number or (B,) in [0, 1]). With `mask=True` the posterior of a revealed token is that token
    (as it is for the mask source: a revealed token is data), of a masked one a fixed spread over 0..K-1."""

    def __init__(self, vocab_size: int, length: int, mask: bool):
        super().__init__()
        self.vocab_size, self.length, self.mask_token = vocab_size, length, vocab_size if mask else None
        self.times = []

    def forward(self, x, t):
        from ..discrete import check_tokens
        if (isinstance(x, Tensor) and x.is_floating_point() and isinstance(t, Tensor) and t.dim() == 2
                and not t.is_floating_point()):
            raise Mismatch("model was called as model(t, x): the tokens come first, model(x_t, t)")
        try:
            x = check_tokens(x, self.vocab_size, self.mask_token, name="x", owner="TokenNet")
            if x.dim() != 2 or x.shape[1] != self.length:
                raise ValueError(f"TokenNet expects x of shape (B, {self.length}), got {tuple(x.shape)}")
            t = check_time(t, x.shape[0], like=torch.zeros((), dtype=torch.float64))
        except ValueError as e:
            raise Mismatch(f"model(x_t, t) refused its input, as fmlite.discrete.TokenNet would: {e}") from None
        self.times.append(t.clone())
        K = self.vocab_size
        k = torch.arange(K, dtype=torch.float64)
        logits = torch.cos(1.3 * k + 0.7 * x[..., None].double() + 2.1 * t[:, None, None]) * 2.0
        if self.mask_token is not None:
            seen = x < K
            own = torch.nn.functional.one_hot(x.clamp(max=K - 1), K).bool()
            logits = torch.where(seen[..., None] & ~own, torch.full_like(logits, -torch.inf), logits)
        return logits


# ----------------------------------------------------------------------------- notebook 11: latent flows
class StandInEncoder:
    """A fixed float64 encoder images (B, 1, 8, 8) -> codes (B, k), z = tanh(x W) · 1.5, refusing what the
    package's encoder refuses (another shape, integers); `calls` counts its calls."""

    def __init__(self, k: int):
        i, j = torch.arange(64, dtype=torch.float64)[:, None], torch.arange(k, dtype=torch.float64)[None]
        self.k, self.W, self.calls = k, 0.25 * torch.cos(0.7 + 1.3 * i + 2.1 * j + 0.1 * i * j), 0

    def __call__(self, x):
        if isinstance(x, Tensor) and x.dim() == 2:
            raise Mismatch(f"encoder(x) got a tensor of shape {tuple(x.shape)}: it encodes images (B, 1, 8, 8); "
                           "x_0 is already noise in the latent space, so encode only the data x_1")
        if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != (1, 8, 8):
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise Mismatch(f"encoder(x) expects images of shape (B, 1, 8, 8), got {got}")
        network_input(x, torch.float64, owner="encoder")
        self.calls += 1
        return 1.5 * torch.tanh(x.flatten(1) @ self.W)


class StandInDecoder:
    """A fixed float64 decoder codes (B, k) -> images (B, 1, 8, 8) in (-1, 1), x = tanh(z V + c), refusing what
    the package's decoder refuses; `calls` counts its calls."""

    def __init__(self, k: int):
        i, j = torch.arange(k, dtype=torch.float64)[:, None], torch.arange(64, dtype=torch.float64)[None]
        self.k, self.V, self.c, self.calls = k, 0.8 * torch.sin(0.3 + 1.7 * i + 0.9 * j), 0.1 * torch.cos(j[0]), 0

    def __call__(self, z):
        if isinstance(z, Tensor) and z.dim() == 4:
            raise Mismatch(f"decoder(z) got images of shape {tuple(z.shape)}: it decodes codes (B, {self.k}) once, "
                           "at the end")
        if not isinstance(z, Tensor):
            raise Mismatch(f"decoder(z) needs z as a tensor of shape (B, {self.k}), got {type(z).__name__}")
        try:
            network_input(z, torch.float64, owner="decoder")
            check_flat_input(z, self.k, f"decoder(latent_dim={self.k})")
        except ValueError as e:
            raise Mismatch(f"decoder(z) refused its input, as the package's decoder would: {e}") from None
        self.calls += 1
        return torch.tanh(z @ self.V + self.c).reshape(-1, 1, 8, 8)
