"""Benchmark: MLP on moons with the package defaults.

Prints training steps per second and the energy distance of 2,000 samples to fresh
data after 2,000 steps, next to two references: fresh data against fresh data
(the floor set by sampling noise) and the untrained model.

    python bench/train_moons.py [--steps 2000] [--device auto]
"""
import argparse
import time

import torch

from fmlite.datasets import sample_2d
from fmlite.metrics import energy_distance, sliced_wasserstein
from fmlite.models import MLP
from fmlite.paths import LinearPath
from fmlite.solvers import integrate
from fmlite.train import train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = MLP(dim=2)
    untrained = MLP(dim=2)
    history = train(model, LinearPath(), lambda n: sample_2d("moons", n), steps=args.steps,
                    batch_size=args.batch_size, lr=1e-3, device=args.device, progress=False)
    model.cpu()
    fresh = sample_2d("moons", 2000, seed=12345)
    torch.manual_seed(1)
    noise = torch.randn(2000, 2)
    rows = [("fresh data (floor)", sample_2d("moons", 2000, seed=999))]
    for method, steps in (("euler", 100), ("rk4", 25)):
        start = time.perf_counter()
        x = integrate(model, noise, steps, method).x
        rows.append((f"trained, {method} {steps} steps ({time.perf_counter() - start:.2f} s)", x))
    rows.append(("untrained, euler 100 steps", integrate(untrained, noise, 100).x))

    print(f"device {history.device}: {history.steps} steps, batch {args.batch_size}, "
          f"{history.seconds:.1f} s, {history.steps_per_second:.0f} steps/s, "
          f"final loss (mean of last 100) {sum(history.loss[-100:]) / 100:.3f}")
    print(f"{'samples (2,000) vs fresh moons':45s} {'energy dist':>12s} {'sliced W2':>10s}")
    for name, x in rows:
        print(f"{name:45s} {energy_distance(x, fresh):12.4f} {sliced_wasserstein(x, fresh):10.4f}")


if __name__ == "__main__":
    main()
