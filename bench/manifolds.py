"""Benchmark: flows on curved spaces (notebook 12) — quality against NFE for Riemannian vs naive Euler, and time to
a fixed quality against Meta's flow_matching (GeodesicProbPath + its loss), on the sphere and the flat torus.

Part 1 (quality vs NFE): the shipped models `sphere_vmf` and `torus_gaussians` sample `--samples` uniform points
(seed 2) with fmlite's Riemannian Euler (x <- exp_x(h v)), the naive step (x <- normalise(x + h v); on the torus
θ <- θ + arctan(h θ')), Riemannian midpoint and Meta's RiemannianODESolver (euler = x + h v then projx); the
energy distance to fresh data (great-circle metric on S², chordal metric in R⁴ on T²) at NFE 1 ... 64, next to
the noise floor (two fresh data sets).

Part 2 (time to quality): fmlite (`train(model, None, sampler, steps, loss=GeodesicFlowMatchingLoss(space))`)
and Meta's loop (bench/peers.py `meta_manifold_step`: GeodesicProbPath(CondOTScheduler(), Sphere/FlatTorus),
MSE loss) train the same `ManifoldMLP` (hidden 128, 3 layers, same initial weights), batch 256, Adam lr 3e-3,
one thread, uniform source, the same data pool (vMF mixture / wrapped Gaussians, 20,000 points, seed 0) until the
energy distance of `--eval` samples (Riemannian Euler, 16 NFE, the same sampler for both) to fresh data is
<= the target, checked every 100 steps (evaluation time excluded), capped at `--cap` steps.

    python bench/manifolds.py            # full run (seeds 0 1 2), writes data/manifolds_bench.json
    python bench/manifolds.py --quick    # one seed, smaller evaluation sets

Measured (full run, 241.6 s on a shared 2-core CPU, one thread, 2026-12-03): quality vs NFE, Riemannian /
naive Euler at 1, 4, 16 NFE: S² 0.0247 / 0.0234, 0.0013 / 0.0011, 0.0001 / 0.0001 (floor −0.0009); T² 0.0786 /
0.0785, 0.0018 / 0.0019, −0.0004 / −0.0004 (floor −0.0006). Time to ≤ 0.004 at 16 NFE, medians of 3 seeds:
S² fmlite 7.0 s (700 steps) vs Meta 8.7 s (600 steps): 1.25×; T² 3.0 s (400) vs 4.9 s (400): 1.64×. The 2×
goal is missed: the steps needed are the same and the shared network step dominates the cost of a step.
Results: bench/RESULTS.md, section "Curved spaces, notebook 12" (bench/MANIFOLDS.md).
"""
import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402

from fmlite import load_pretrained  # noqa: E402
from fmlite.files import write_text  # noqa: E402
from fmlite.manifolds import (GeodesicFlowMatchingLoss, ManifoldMLP, get_space, integrate_manifold,  # noqa: E402
                              manifold_energy_distance, sample_manifold_data)
from fmlite.train import train  # noqa: E402

SPACES = {"sphere": ("sphere_vmf", "vmf_mixture"), "torus": ("torus_gaussians", "wrapped_gaussians")}
NFES = (1, 2, 4, 8, 16, 32, 64)
SETTINGS = dict(hidden=128, layers=3, batch=256, lr=3e-3, threads=1, eval_every=100, eval_nfe=16,
                pool=20000, source="uniform")


def quality_vs_nfe(space_name: str, n: int) -> dict:
    model_name, data_name = SPACES[space_name]
    space, model = get_space(space_name), load_pretrained(model_name)
    x_0 = space.sample_uniform(n, torch.Generator().manual_seed(2))
    fresh = sample_manifold_data(data_name, n, seed=1)
    out = {"floor": manifold_energy_distance(space, sample_manifold_data(data_name, n, seed=3), fresh),
           "uniform": manifold_energy_distance(space, x_0, fresh)}
    for method in ("euler", "naive", "midpoint"):
        per = 2 if method == "midpoint" else 1
        out[method] = {nfe: round(manifold_energy_distance(space, integrate_manifold(space, model, x_0, nfe // per,
                                                                                     method).x, fresh), 5)
                       for nfe in NFES if nfe % per == 0}
    try:
        out["meta_euler"] = {nfe: round(manifold_energy_distance(
            space, peers.meta_manifold_solve(model, x_0, nfe, space_name), fresh), 5) for nfe in NFES}
    except ImportError:
        out["meta_euler"] = None
    return out


def _evaluator(space, data_name, n, target):
    x_0 = space.sample_uniform(n, torch.Generator().manual_seed(2))
    fresh = sample_manifold_data(data_name, n, seed=1)

    def quality(model):
        was = model.training
        model.eval()
        with torch.no_grad():
            q = manifold_energy_distance(space, integrate_manifold(space, model, x_0, SETTINGS["eval_nfe"]).x, fresh)
        model.train(was)
        return q
    return quality


def time_to_quality(space_name: str, runner: str, seed: int, target: float, cap: int, n_eval: int) -> dict:
    _, data_name = SPACES[space_name]
    space = get_space(space_name)
    pool = sample_manifold_data(data_name, SETTINGS["pool"], seed=0)
    torch.manual_seed(seed)
    model = ManifoldMLP(space, hidden=SETTINGS["hidden"], layers=SETTINGS["layers"])
    quality = _evaluator(space, data_name, n_eval, target)
    seen = {"q": float("nan"), "steps": cap}
    if runner == "fmlite":
        def callback(step, m):
            seen["q"] = quality(m)
            if seen["q"] <= target:
                seen["steps"] = step
                return True
            return None
        h = train(model, None, lambda k: pool[torch.randint(len(pool), (k,))], cap, batch_size=SETTINGS["batch"],
                  lr=SETTINGS["lr"], seed=seed, progress=False, callback=callback,
                  eval_every=SETTINGS["eval_every"], threads=1, loss=GeodesicFlowMatchingLoss(space))
        seconds = h.seconds
        steps = h.steps
    else:
        torch.manual_seed(seed)
        step = peers.meta_manifold_step(model, lambda k: pool[torch.randint(len(pool), (k,))], space_name,
                                        batch=SETTINGS["batch"], lr=SETTINGS["lr"])
        seconds, steps = 0.0, 0
        while steps < cap:
            start = time.perf_counter()
            for _ in range(SETTINGS["eval_every"]):
                step()
            seconds += time.perf_counter() - start
            steps += SETTINGS["eval_every"]
            seen["q"] = quality(model)
            if seen["q"] <= target:
                break
    return dict(steps=steps, seconds=round(seconds, 2), quality=round(seen["q"], 5), reached=seen["q"] <= target)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seeds", type=int, nargs="*", default=None)
    p.add_argument("--cap", type=int, default=3000)
    p.add_argument("--out", type=Path, default=ROOT / "data" / "manifolds_bench.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    seeds = args.seeds if args.seeds is not None else ([0] if args.quick else [0, 1, 2])
    n_curve, n_eval = (1000, 1000) if args.quick else (2000, 1500)
    targets = {"sphere": 0.004, "torus": 0.004}
    started = time.perf_counter()
    result = {"settings": {**SETTINGS, "seeds": seeds, "cap": args.cap, "n_curve": n_curve, "n_eval": n_eval,
                           "targets": targets, "torch": torch.__version__},
              "data": {k: v[1] for k, v in SPACES.items()}, "models": {k: v[0] for k, v in SPACES.items()},
              "nfe_curves": {}, "peer": {}}
    for space_name in SPACES:
        curve = quality_vs_nfe(space_name, n_curve)
        result["nfe_curves"][space_name] = curve
        print(f"{space_name}: floor {curve['floor']:.5f}, uniform {curve['uniform']:.4f}")
        for method in ("euler", "naive", "midpoint", "meta_euler"):
            if curve.get(method):
                print(f"  {method:10s} " + "  ".join(f"{k}:{v:.5f}" for k, v in curve[method].items()))
    for space_name in SPACES:
        runs = {r: [time_to_quality(space_name, r, s, targets[space_name], args.cap, n_eval) for s in seeds]
                for r in ("fmlite", "meta")}
        med = {r: statistics.median(x["seconds"] for x in runs[r]) for r in runs}
        ratio = med["meta"] / med["fmlite"]
        result["peer"][space_name] = {"target": targets[space_name], "nfe": SETTINGS["eval_nfe"], **runs,
                                      "median_seconds": med, "ratio": round(ratio, 2)}
        for r in runs:
            print(f"{space_name} {r:6s} " + "; ".join(f"{x['steps']} steps {x['seconds']} s q {x['quality']}"
                                                      f"{'' if x['reached'] else ' (cap)'}" for x in runs[r]))
        print(f"{space_name}: fmlite faster by {ratio:.2f}x (median {med['fmlite']:.1f} s vs {med['meta']:.1f} s)")
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["date"] = time.strftime("%Y-%m-%d")
    write_text(args.out, json.dumps(result, indent=1, default=str) + "\n")
    print(f"wrote {args.out} ({result['wall_seconds']} s)")


if __name__ == "__main__":
    main()
