"""Ground truth for Gaussian-mixture data: p_t, its score, x0_hat, x1_hat and the marginal velocity.

Setting: x_1 ~ sum_k w_k N(mu_k, Sigma_k) (Sigma_k positive definite), x_0 ~ N(0, I) and
eps ~ N(0, I) independent of x_1 and of each other (independent pairing), and a path
x_t = alpha_t x_1 + beta_t x_0 + sigma_t eps from `fmlite.paths`. With s_t^2 = beta_t^2 + sigma_t^2,
every x_t is again a Gaussian mixture with the same weights:

    p_t(x) = sum_k w_k N(x; alpha_t mu_k, C_k(t)),      C_k(t) = alpha_t^2 Sigma_k + s_t^2 I.

With responsibilities r_k(x) = P(component k | x_t = x) and d_k = x - alpha_t mu_k, Gaussian
conditioning inside each component gives

    score       grad log p_t(x) = -sum_k r_k C_k^-1 d_k
    x1_hat      E[x_1 | x_t = x] = sum_k r_k (mu_k + alpha_t Sigma_k C_k^-1 d_k)
    x0_hat      E[x_0 | x_t = x] = sum_k r_k beta_t C_k^-1 d_k = -beta_t * score
    velocity    u_t(x) = alpha'_t x1_hat + beta'_t x0_hat + sigma'_t E[eps | x]
                       = alpha'_t x1_hat - (beta_t beta'_t + sigma_t sigma'_t) * score.

Sigma_k = U_k diag(lam_k) U_k^T once; then C_k(t) = U_k diag(alpha_t^2 lam_k + s_t^2) U_k^T for every t,
so nothing is inverted per time. Everything runs in float64 with log-sum-exp responsibilities and is
finite on all of [0, 1] (C_k(t) is positive definite because Sigma_k is and s_0 = 1).
As covariances shrink to 0 the fields tend to those of `fmlite.exact` for the data set {mu_k}.

Sources: Lipman et al. 2023, eq. (8) (marginal velocity); Albergo, Boffi & Vanden-Eijnden 2023,
"Stochastic Interpolants", sec. 2-3 (velocity and score of Gaussian interpolants); Bishop 2006,
"Pattern Recognition and Machine Learning", sec. 2.3 (Gaussian conditioning).

Taught in notebook 08 (`notebooks/08_likelihoods_and_diffusion.ipynb`); notebook 06 uses it too.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .checks import check_batch, check_count, check_no_overflow, check_path, check_time, float_dtype
from .paths import Path
from .scores import path_coefficients

__all__ = ["GaussianMixture", "example_mixture"]


class GaussianMixture:
    """A Gaussian mixture sum_k w_k N(mu_k, Sigma_k) in R^D, with the exact fields of every path towards it.

    Args:
        weights: (K,), >= 0, summing to 1 (within 1e-6).
        means: (K, D).
        covariances: (K, D, D), symmetric positive definite.

    Raises:
        ValueError: wrong shapes, NaN/inf, negative weights or weights not summing to 1,
            a covariance that is not symmetric or not positive definite (the message names
            the component and its smallest eigenvalue).

    Methods take x (B, D) and t ((B,) or a number in [0, 1]) and return tensors in the dtype of x
    (computed in float64; integer x gives torch's default floating dtype, never truncated). They raise
    ValueError for x that is not a tensor (a list or numpy array: use torch.as_tensor), of another shape,
    an empty batch or NaN/inf (`fmlite.checks.check_batch`), a bad t, path=None (pass LinearPath()), or
    finite x so large that its squared distances overflow float64 (the message says to rescale);
    TypeError for a path that is not a `fmlite.paths.Path`.
    """

    def __init__(self, weights, means, covariances):
        w = torch.as_tensor(weights, dtype=torch.float64)
        mu = torch.as_tensor(means, dtype=torch.float64)
        cov = torch.as_tensor(covariances, dtype=torch.float64)
        if mu.dim() != 2:
            raise ValueError(f"means must have shape (K, D), got {tuple(mu.shape)}")
        k, d = mu.shape
        if w.shape != (k,):
            raise ValueError(f"weights must have shape (K,) = ({k},) to match means {tuple(mu.shape)}, got {tuple(w.shape)}")
        if cov.shape != (k, d, d):
            raise ValueError(f"covariances must have shape (K, D, D) = ({k}, {d}, {d}), got {tuple(cov.shape)}")
        for name, value in (("weights", w), ("means", mu), ("covariances", cov)):
            if not torch.isfinite(value).all():
                raise ValueError(f"{name} hold NaN or inf; give finite numbers")
        if k == 0:
            raise ValueError("a mixture needs at least one component, got means of shape (0, D)")
        if (w < 0).any():
            raise ValueError(f"weights must be >= 0 (they are probabilities), got {w.tolist()}; a negative weight "
                             "has no meaning as a mixture: drop that component or make the weight >= 0")
        if abs(w.sum().item() - 1) > 1e-6:
            raise ValueError(f"weights must sum to 1, got {w.tolist()} (sum {w.sum().item():.6g}); "
                             "divide them by their sum")
        if not torch.allclose(cov, cov.transpose(1, 2), atol=1e-10, rtol=1e-8):
            raise ValueError("covariances must be symmetric; use (C + C.transpose(-1, -2)) / 2")
        lam, vec = torch.linalg.eigh(cov)
        if (lam <= 0).any():
            bad = int((lam.min(dim=1).values <= 0).nonzero()[0])
            raise ValueError(f"covariance {bad} is not positive definite (smallest eigenvalue "
                             f"{lam[bad].min().item():.3g}); add a small multiple of the identity")
        self.weights, self.means, self.covariances = w, mu, cov
        self.eigenvalues, self.eigenvectors = lam, vec  # Sigma_k = U_k diag(lam_k) U_k^T
        self.dim = d

    def __repr__(self) -> str:
        return f"GaussianMixture(K={len(self.weights)}, D={self.dim})"

    def sample(self, n: int, generator: torch.Generator | None = None, dtype=None) -> Tensor:
        """n samples (n, D) of the mixture (dtype: torch's default unless given).

        Raises: ValueError if n is not a whole number >= 1 (`fmlite.checks.check_count`).
        """
        n = check_count(n, "n")
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        root = self.eigenvectors * self.eigenvalues.sqrt()[:, None, :]  # U diag(sqrt(lam)): root root^T = Sigma
        x = self.means[comp] + torch.einsum("nij,nj->ni", root[comp], noise)
        return x.to(dtype or torch.get_default_dtype())

    # ------------------------------------------------------------------ per-component quantities
    def _parts(self, x: Tensor, t, path: Path):
        x = check_batch(x, "x", owner="GaussianMixture")
        check_path(path, "GaussianMixture")
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (B, {self.dim}), got {tuple(x.shape)}")
        t = check_time(t, x.shape[0], like=x)
        c = path_coefficients(path, t)
        xf = x.double()
        a, s2 = c["alpha_t"][:, None, None], c["s2_t"][:, None, None]
        var = a ** 2 * self.eigenvalues[None] + s2  # (B, K, D): eigenvalues of C_k(t)
        diff = xf[:, None, :] - a * self.means[None]  # d_k, (B, K, D)
        proj = torch.einsum("kji,bkj->bki", self.eigenvectors, diff)  # U_k^T d_k
        maha = (proj ** 2 / var).sum(-1)   # (B, K) squared Mahalanobis distances
        check_no_overflow(maha, "the squared distances of x to the components", xf, self.means)
        logn = -0.5 * maha - 0.5 * torch.log(2 * math.pi * var).sum(-1)  # (B, K)
        logj = torch.log(self.weights)[None] + logn
        resp = torch.softmax(logj, dim=1)
        cinv_d = torch.einsum("kij,bkj->bki", self.eigenvectors, proj / var)  # C_k^-1 d_k
        return c, logj, resp, cinv_d, float_dtype(x)

    def log_prob(self, x: Tensor) -> Tensor:
        """log of the mixture density itself at x (B, D) -> (B,)."""
        return self.log_density(x, 1.0, _Identity())

    def log_density(self, x: Tensor, t, path: Path) -> Tensor:
        """log p_t(x), x (B, D) -> (B,). Differentiable in x. Raises ValueError for bad shapes or t."""
        _, logj, _, _, out = self._parts(x, t, path)
        return torch.logsumexp(logj, dim=1).to(out)

    def score(self, x: Tensor, t, path: Path) -> Tensor:
        """grad_x log p_t(x) = -sum_k r_k C_k(t)^-1 (x - alpha_t mu_k), (B, D)."""
        _, _, resp, cinv_d, out = self._parts(x, t, path)
        return -(resp[..., None] * cinv_d).sum(1).to(out)

    def x1_hat(self, x: Tensor, t, path: Path) -> Tensor:
        """E[x_1 | x_t = x] = sum_k r_k (mu_k + alpha_t Sigma_k C_k^-1 (x - alpha_t mu_k)), (B, D)."""
        c, _, resp, cinv_d, out = self._parts(x, t, path)
        cond = self.means[None] + c["alpha_t"][:, None, None] * torch.einsum("kij,bkj->bki", self.covariances, cinv_d)
        return (resp[..., None] * cond).sum(1).to(out)

    def x0_hat(self, x: Tensor, t, path: Path) -> Tensor:
        """E[x_0 | x_t = x] = -beta_t * score, (B, D) (0 at t = 1, where x_0 no longer matters)."""
        c, _, resp, cinv_d, out = self._parts(x, t, path)
        return (c["beta_t"][:, None] * (resp[..., None] * cinv_d).sum(1)).to(out)

    def velocity(self, x: Tensor, t, path: Path) -> Tensor:
        """Marginal velocity u_t(x) = alpha'_t x1_hat - (beta_t beta'_t + sigma_t sigma'_t) score, (B, D).

        sigma_t sigma'_t comes from `fmlite.scores.path_coefficients` (the schedule's `variance_rate`
        when it has one, else sigma_t * sigma'_t).

        Raises: ValueError for bad shapes, t, or a schedule whose sigma sigma' is not finite at t.
        """
        c, _, resp, cinv_d, out = self._parts(x, t, path)
        a = c["alpha_t"][:, None, None]
        cond = self.means[None] + a * torch.einsum("kij,bkj->bki", self.covariances, cinv_d)
        x1 = (resp[..., None] * cond).sum(1)
        score = -(resp[..., None] * cinv_d).sum(1)
        return (c["d_alpha_t"][:, None] * x1 - c["gain_t"][:, None] * score).to(out)

    def field(self, path: Path):
        """The marginal velocity as a callable (x, t) -> u_t(x), for `integrate` and `log_likelihood`."""
        return lambda x, t: self.velocity(x, t, path)


class _Identity(Path):
    """alpha = 1, beta = 0, sigma = 0 at every t: p_t is the mixture itself (used by log_prob)."""

    def alpha(self, t):
        return torch.ones_like(t)

    def beta(self, t):
        return torch.zeros_like(t)

    def alpha_derivative(self, t):
        return torch.zeros_like(t)

    def beta_derivative(self, t):
        return torch.zeros_like(t)


def example_mixture(dim: int = 2, components: int = 3, seed: int = 0) -> GaussianMixture:
    """A fixed, well-separated test mixture: unequal weights, anisotropic covariances.

    In 2-D (components = 3): means on a circle of radius 2, weights 0.5, 0.3, 0.2, each
    covariance a rotated diag(0.25, 0.03). Other sizes: means ~ 2 N(0, I), covariances
    A A^T / dim + 0.05 I with A standard normal, drawn from `seed`.

    Raises:
        ValueError: dim or components not a whole number >= 1, seed not a whole number >= 0
            (`fmlite.checks.check_count`).
    """
    dim, components, seed = check_count(dim, "dim"), check_count(components, "components"), check_count(seed, "seed", 0)
    if dim == 2 and components == 3:
        angles = torch.tensor([0.5, 2.6, 4.4], dtype=torch.float64)
        means = 2 * torch.stack([angles.cos(), angles.sin()], 1)
        rot = torch.stack([torch.stack([angles.cos(), -angles.sin()], -1),
                           torch.stack([angles.sin(), angles.cos()], -1)], -2)
        covs = rot @ torch.diag(torch.tensor([0.25, 0.03], dtype=torch.float64)) @ rot.transpose(1, 2)
        return GaussianMixture([0.5, 0.3, 0.2], means, covs)
    g = torch.Generator().manual_seed(seed)
    means = 2 * torch.randn(components, dim, generator=g, dtype=torch.float64)
    a = torch.randn(components, dim, dim, generator=g, dtype=torch.float64)
    covs = a @ a.transpose(1, 2) / dim + 0.05 * torch.eye(dim, dtype=torch.float64)
    return GaussianMixture(torch.full((components,), 1 / components, dtype=torch.float64), means, covs)
