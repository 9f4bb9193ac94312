"""From N(0, I) to N(m, Sigma) in closed form: the flow of independent pairing and the optimal transport map.

Setting: x_0 ~ N(0, I) and x_1 ~ N(m, Sigma) in R^D, straight path x_t = t x_1 + (1 - t) x_0, and
Sigma = Q diag(lam) Q^T (lam_i > 0). Two ways to pair x_0 with x_1:

- **independent pairing** (plain flow matching). x_t is Gaussian, N(t m, C_t) with
  C_t = (1 - t)^2 I + t^2 Sigma, and the marginal field is affine,
      u_t(x) = m + Q diag((t lam_i - (1 - t)) / c_i(t)) Q^T (x - t m),   c_i(t) = (1 - t)^2 + t^2 lam_i.
  Its flow moves every eigen-coordinate of x_t - t m by the factor sqrt(c_i(t)):
      x_t = t m + Q diag(sqrt((1 - t)^2 + t^2 lam_i)) Q^T x_0,
  (check: d/dt sqrt(c_i) = (t lam_i - (1 - t)) / sqrt(c_i), which is the field above), and it ends at
      x_1 = m + Sigma^(1/2) x_0,
  the optimal transport (Brenier) map from N(0, I) to N(m, Sigma). The paths are not straight lines
  at constant speed: sqrt(c_i(t)) is never affine in t (for lam_i > 0), so even for Sigma = I and
  m = 0 a point runs in along its ray and back out (radius 1/sqrt(2) at t = 1/2), and with m != 0
  the path t m + sqrt(c(t)) x_0 bends in the plane of m and x_0.
- **OT pairing** x_1 = m + Sigma^(1/2) x_0: the same end points, reached on straight lines at constant
  speed, x_t = (1 - t) x_0 + t (m + Sigma^(1/2) x_0), with field
      v_t(x) = m + (Sigma^(1/2) - I) A_t^-1 (x - t m),   A_t = I + t (Sigma^(1/2) - I),
  so one Euler step is exact.

Sources: Liu et al. 2022 ("Flow Straight and Fast"), sec. 3 (rectified flow, straightness); Tong et al.
2024, sec. 3 (OT-CFM); Peyre & Cuturi 2019, "Computational Optimal Transport", Remark 2.31 (the OT map
between Gaussians). `fmlite.gaussian_mixture.GaussianMixture` with one component is the oracle in the tests.

Taught in notebook 06 (`notebooks/06_straight_paths.ipynb`).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .checks import check_batch, check_time, float_dtype

__all__ = ["GaussianToGaussian"]


class GaussianToGaussian:
    """Closed forms for transporting N(0, I) to N(mean, covariance) in R^D on the straight path.

    Args:
        mean: (D,). covariance: (D, D), symmetric positive definite.

    Raises:
        ValueError: wrong shapes, NaN/inf, a covariance that is not symmetric or not positive
            definite (the message gives its smallest eigenvalue).

    Methods take x_0 or x of shape (B, D) and t ((B,) or one number in [0, 1]); they compute in float64
    and return the dtype of their input (torch's default floating dtype for integer input, never
    truncated). They raise ValueError for x that is not a tensor (a list or numpy array: use
    torch.as_tensor), of another shape, an empty batch or NaN/inf (`fmlite.checks.check_batch`).
    """

    def __init__(self, mean, covariance):
        m = torch.as_tensor(mean, dtype=torch.float64)
        s = torch.as_tensor(covariance, dtype=torch.float64)
        if m.dim() != 1 or s.shape != (len(m), len(m)):
            raise ValueError(f"mean must be (D,) and covariance (D, D), got {tuple(m.shape)} and {tuple(s.shape)}")
        if not (torch.isfinite(m).all() and torch.isfinite(s).all()):
            raise ValueError("mean or covariance holds NaN or inf; give finite numbers")
        if not torch.allclose(s, s.T, atol=1e-10):
            raise ValueError("covariance must be symmetric; use (S + S.T) / 2")
        lam, q = torch.linalg.eigh(s)
        if lam.min() <= 0:
            raise ValueError(f"covariance must be positive definite, smallest eigenvalue {lam.min().item():.3g}")
        self.mean, self.covariance, self.eigenvalues, self.eigenvectors = m, s, lam, q
        self.dim = len(m)

    def __repr__(self) -> str:
        return f"GaussianToGaussian(dim={self.dim}, eigenvalues={[round(v, 4) for v in self.eigenvalues.tolist()]})"

    def _x(self, x: Tensor, name: str) -> Tensor:
        if isinstance(x, Tensor) and (x.dim() != 2 or x.shape[1] != self.dim):
            hint = "; for one point use x[None]" if x.shape == (self.dim,) else ""
            raise ValueError(f"{name} must be a tensor of shape (B, {self.dim}), got {tuple(x.shape)}{hint}")
        x = check_batch(x, name, owner=type(self).__name__)
        return x.double()

    def _scaled(self, x: Tensor, factors: Tensor) -> Tensor:
        """Q diag(factors) Q^T x, row by row; factors (B, D) or (D,)."""
        q = self.eigenvectors
        return ((x @ q) * factors) @ q.T

    def sqrt_covariance(self) -> Tensor:
        """Sigma^(1/2), (D, D), the symmetric square root."""
        q = self.eigenvectors
        return q @ torch.diag(self.eigenvalues.sqrt()) @ q.T

    def ot_map(self, x_0: Tensor) -> Tensor:
        """The optimal transport map x_0 -> m + Sigma^(1/2) x_0, (B, D) -> (B, D)."""
        x = self._x(x_0, "x_0")
        return (self.mean + self._scaled(x, self.eigenvalues.sqrt())).to(float_dtype(x_0))

    def independent_flow(self, x_0: Tensor, t) -> Tensor:
        """Where the flow of independent pairing carries x_0 by time t: t m + Q diag(sqrt(c_i(t))) Q^T x_0."""
        x = self._x(x_0, "x_0")
        t = check_time(t, len(x), like=x)[:, None]
        c = (1 - t) ** 2 + t ** 2 * self.eigenvalues
        return (t * self.mean + self._scaled(x, c.sqrt())).to(float_dtype(x_0))

    def independent_velocity(self, x: Tensor, t) -> Tensor:
        """The marginal field of independent pairing, u_t(x) = m + Q diag((t lam - (1 - t)) / c(t)) Q^T (x - t m)."""
        y = self._x(x, "x")
        t = check_time(t, len(y), like=y)[:, None]
        c = (1 - t) ** 2 + t ** 2 * self.eigenvalues
        return (self.mean + self._scaled(y - t * self.mean, (t * self.eigenvalues - (1 - t)) / c)).to(float_dtype(x))

    def ot_path(self, x_0: Tensor, t) -> Tensor:
        """The straight path of OT pairing, (1 - t) x_0 + t (m + Sigma^(1/2) x_0)."""
        x = self._x(x_0, "x_0")
        t = check_time(t, len(x), like=x)[:, None]
        return ((1 - t) * x + t * self.ot_map(x)).to(float_dtype(x_0))

    def ot_velocity(self, x: Tensor, t) -> Tensor:
        """The field of OT pairing, v_t(x) = m + (Sigma^(1/2) - I) A_t^-1 (x - t m), A_t = I + t (Sigma^(1/2) - I)."""
        y = self._x(x, "x")
        t = check_time(t, len(y), like=y)[:, None]
        root = self.eigenvalues.sqrt()
        return (self.mean + self._scaled(y - t * self.mean, (root - 1) / (1 + t * (root - 1)))).to(float_dtype(x))
