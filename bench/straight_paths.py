"""Benchmark: few-step sampling of straight flows (independent, mini-batch OT, reflow of each) on 2-D data.

For moons and eight_gaussians, trains with `fmlite.tools.recipes.train_straight` (STRAIGHT_RECIPE, MLP 64 x 3):
the independent model, the mini-batch OT model, and the reflow of each (pairs (x_0, ODE(x_0)) by RK4, a
fresh MLP trained on them), then prints the energy distance of `--samples` Euler samples to fresh data at
NFE = 1, 2, 4, 8, 32, 100, with the training wall time, as the median over the seeds, next to the
data-versus-data noise floor (two fresh data sets). Target: at 2 NFE the best straight model is within
1.5x of the energy distance of the independent model at 100 NFE.

    python bench/straight_paths.py                  # 3 seeds, 3,000 steps, 5,000 samples (about an hour here)
    python bench/straight_paths.py --quick          # 1 seed, 800 steps, 5,000 reflow pairs, 2,000 samples

Measured (full run, 829 s on a shared 2-core CPU, one thread; medians of 3 seeds; energy distance at NFE 1 / 2 / 100):
moons (floor 0.0006): independent 0.70 / 0.18 / 0.0000, OT 0.0014 / 0.0005, reflow of independent 0.0006 /
0.0003, reflow of OT 0.0006 / 0.0003; eight_gaussians (floor 0.0001): independent 1.07 / 0.18 / -0.0002,
OT 0.0027 / 0.0009, reflow of independent 0.0007 / 0.0003, reflow of OT 0.0010 / 0.0006. At 100 NFE the
independent model sits inside the noise floor, so "within 1.5x" is judged against max(its value, floor):
met on moons, missed on eight_gaussians by 0.0002 (0.0003 against 1.5 x 0.0001).
"""
import argparse
import statistics
import time

import torch

from fmlite.datasets import sample_2d
from fmlite.metrics import energy_distance
from fmlite.tools.recipes import train_straight
from fmlite.solvers import integrate

NFES = (1, 2, 4, 8, 32, 100)
MODELS = ("independent", "OT", "reflow of independent", "reflow of OT")


def run(data: str, seed: int, args) -> dict:
    """{model: (seconds, [energy distance per NFE])} and the noise floor, for one data set and seed."""
    recipe = dict(data=data, seed=seed, steps=args.steps, reflow_pairs=args.pairs, reflow_steps=args.reflow_steps)
    trained = {}
    for name, kind in (("independent", "independent"), ("OT", "minibatch_ot")):
        start = time.perf_counter()
        trained[name] = (*train_straight(kind, device="cpu", progress=False, **recipe)[:1],
                         time.perf_counter() - start)
    for base in ("independent", "OT"):
        start = time.perf_counter()
        model, _ = train_straight("reflow", device="cpu", progress=False, base=trained[base][0], **recipe)
        trained[f"reflow of {base}"] = (model, time.perf_counter() - start)
    fresh = sample_2d(data, args.samples, seed=1000 + seed)
    x_0 = torch.randn(args.samples, 2, generator=torch.Generator().manual_seed(2000 + seed))
    out = {}
    with torch.no_grad():
        for name, (model, seconds) in trained.items():
            out[name] = (seconds, [energy_distance(integrate(model, x_0, n, "euler").x, fresh) for n in NFES])
    floor = energy_distance(sample_2d(data, args.samples, seed=3000 + seed), fresh)
    return out, floor


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 800 steps, 5,000 pairs, 2,000 samples")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--pairs", type=int, default=20000, help="reflow pairs")
    parser.add_argument("--reflow-steps", type=int, default=50, help="RK4 steps that make the reflow pairs")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 is fastest on a busy CPU)")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.steps, args.pairs, args.reflow_steps, args.samples = 1, 800, 5000, 20, 2000
    torch.set_num_threads(args.threads)
    print(f"{args.seeds} seed(s), {args.steps} training steps, {args.pairs} reflow pairs (RK4, {args.reflow_steps} "
          f"steps), {args.samples} samples; Euler sampling; medians over seeds; reflow time = pairs + training")
    start_all = time.perf_counter()
    for data in ("moons", "eight_gaussians"):
        runs = [run(data, seed, args) for seed in range(args.seeds)]
        floor = statistics.median(abs(f) for _, f in runs)
        print(f"\n{data}: energy distance to fresh data (noise floor, data vs data: {floor:.4f})")
        print(f"{'model':22s} {'train s':>8s} " + "".join(f"{'NFE ' + str(n):>10s}" for n in NFES))
        medians = {}
        for name in MODELS:
            seconds = statistics.median(r[name][0] for r, _ in runs)
            values = [statistics.median(r[name][1][i] for r, _ in runs) for i in range(len(NFES))]
            medians[name] = values
            print(f"{name:22s} {seconds:8.1f} " + "".join(f"{v:10.4f}" for v in values))
        best_name = min(MODELS[1:], key=lambda n: medians[n][1])
        best, reference = medians[best_name][1], medians["independent"][-1]
        verdict = "met" if best <= 1.5 * max(reference, floor) else "NOT met"
        print(f"target: best straight model at 2 NFE ({best_name}, {best:.4f}) within 1.5x of independent at "
              f"100 NFE ({reference:.4f}; floor {floor:.4f}): {verdict}")
    print(f"\ntotal wall time {time.perf_counter() - start_all:.0f} s")


if __name__ == "__main__":
    main()
