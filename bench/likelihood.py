"""Benchmark: log-likelihoods and SDE samples of an MLP trained on a 2-D Gaussian mixture.

Trains an MLP with the straight path on `fmlite.gaussian_mixture.example_mixture()` (three
anisotropic components), then prints

1. the mean absolute error of the model's log-likelihood against the exact log p_1 of the
   mixture, on 2,000 mixture samples and on a 50 x 50 grid over the samples' bounding box,
   for the exact divergence and for Hutchinson's estimator with 1, 4 and 16 Rademacher probes,
   with the wall time of each and the solver used;
2. the energy distance to 2,000 fresh mixture samples of SDE samples (Euler-Maruyama, 100 steps,
   g(t) = g0 sqrt(1 - t), score from the velocity) for g0 = 0, 0.5, 1, next to the floor
   (fresh samples against fresh samples) and the exact mixture velocity.

    python bench/likelihood.py [--steps 6000] [--solver rk4] [--solver-steps 50] [--threads 1]
"""
import argparse
import time

import torch

from fmlite.gaussian_mixture import example_mixture
from fmlite.likelihood import log_likelihood
from fmlite.metrics import energy_distance
from fmlite.models import MLP
from fmlite.paths import LinearPath
from fmlite.solvers import sample_sde
from fmlite.train import train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000, help="training steps")
    parser.add_argument("--solver", default="rk4")
    parser.add_argument("--solver-steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 is fastest on a busy CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start_all = time.perf_counter()

    gmm, path = example_mixture(), LinearPath()
    model = MLP(dim=2)
    history = train(model, path, lambda n: gmm.sample(n), steps=args.steps, batch_size=256, lr=1e-3,
                    device="cpu", progress=False)
    model.requires_grad_(False)
    print(f"MLP trained {history.steps} steps on example_mixture() (linear path) in {history.seconds:.1f} s, "
          f"final loss (mean of last 100) {sum(history.loss[-100:]) / 100:.3f}")

    samples = gmm.sample(2000, torch.Generator().manual_seed(1))
    lo, hi = samples.min(0).values, samples.max(0).values
    gx, gy = torch.meshgrid(torch.linspace(lo[0], hi[0], 50), torch.linspace(lo[1], hi[1], 50), indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    points = torch.cat([samples, grid])
    truth = gmm.log_prob(points)
    nfe = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}[args.solver] * args.solver_steps
    print(f"\nlog-likelihood, solver {args.solver} with {args.solver_steps} steps ({nfe} velocity evaluations), "
          f"{len(samples)} samples + 50x50 grid; exact mean log p: samples {truth[:2000].mean():.3f}, "
          f"grid {truth[2000:].mean():.3f}")
    print(f"{'divergence':22s} {'MAE samples':>12s} {'MAE grid':>10s} {'MAE all':>9s} {'seconds':>8s}")
    runs = [("exact (2 passes)", dict(divergence="exact"))] + [
        (f"hutchinson {k} probe{'s' if k > 1 else ''}", dict(divergence="hutchinson", probes=k,
                                                            generator=torch.Generator().manual_seed(k)))
        for k in (1, 4, 16)]
    for name, kwargs in runs:
        start = time.perf_counter()
        with torch.no_grad():
            lp = log_likelihood(model, points, args.solver_steps, args.solver, **kwargs)
        seconds = time.perf_counter() - start
        err = (lp - truth).abs()
        print(f"{name:22s} {err[:2000].mean():12.3f} {err[2000:].mean():10.3f} {err.mean():9.3f} {seconds:8.1f}")
    with torch.no_grad():
        lp = log_likelihood(gmm.field(path), points, args.solver_steps, args.solver)
    err = (lp - truth).abs()
    print(f"{'exact field, exact div':22s} {err[:2000].mean():12.2e} {err[2000:].mean():10.2e} {err.mean():9.2e}")

    fresh = gmm.sample(2000, torch.Generator().manual_seed(2))
    x_0 = torch.randn(2000, 2, generator=torch.Generator().manual_seed(3))
    print("\nSDE samples (Euler-Maruyama, 100 steps, g(t) = g0 sqrt(1 - t)), energy distance to 2,000 fresh samples")
    print(f"{'g0':>4s} {'trained MLP':>12s} {'exact field':>12s}")
    for g0 in (0.0, 0.5, 1.0):
        row = [energy_distance(sample_sde(v, x_0, 100, g0, path=path, generator=torch.Generator().manual_seed(4)).x,
                               fresh) for v in (model, gmm.field(path))]
        print(f"{g0:4.1f} {row[0]:12.4f} {row[1]:12.4f}")
    print(f"floor (fresh vs fresh samples): {energy_distance(gmm.sample(2000, torch.Generator().manual_seed(5)), fresh):.4f}")
    print(f"\ntotal {time.perf_counter() - start_all:.0f} s, {args.threads} thread(s)")


if __name__ == "__main__":
    main()
