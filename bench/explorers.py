"""Benchmark: server-side response time of every explorer (compute + draw + picture encode) per control change.

Builds each explorer the way its notebook does (same arguments, smaller seeded setup: shipped models where the
notebook uses them, an untrained network of the notebook's size where it trains one, since the timing does not
depend on the weights), moves each control through several values, and prints the median and max time of one
change (setting `ex.controls[name].value`, which redraws synchronously). The first visit of a new setting of a
cached control (steps, sigma, schedule) includes its computation; that is what a student waits for.

    python bench/explorers.py            # about a minute here
    python bench/explorers.py --repeat 3 # move every control through its values 3 times
    python bench/explorers.py --scale 1.6 # at lecture scale (as FMLITE_LECTURE_SCALE=1.6)

Targets (issue 13/14): controls that only redisplay (t, w): median <= 60 ms, max <= 100 ms; controls that
compute (steps, sigma, schedule, method): median <= 100 ms, max <= 150 ms; at a lecture scale above 1
every change < 150 ms.

One torch thread, as the notebooks that train set. Timings on a shared machine are inflated by its load.
"""
import argparse
import functools
import os
import statistics
import time

import torch


def setups():
    """name -> (build() -> Explorer, {control: [values]})."""
    from fmlite import widgets as W
    from fmlite.datasets import sample_2d, text_points
    from fmlite.gaussian_mixture import example_mixture
    from fmlite.models import MLP
    from fmlite.paths import LinearPath
    from fmlite.pretrained import load_pretrained, sample_images
    from fmlite.digit_metrics import digit_scores
    from fmlite.solvers import integrate

    ts = [0.0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0]
    out = {}
    shipped = functools.lru_cache(maxsize=None)(load_pretrained)   # each shipped model loaded once, when first used

    def nb00():
        model = load_pretrained("flow")
        flow = integrate(model, torch.randn(2000, 2, generator=torch.Generator().manual_seed(0)), 25, "midpoint",
                         return_trajectory=True)
        return W.trajectory_explorer(flow.trajectory, target=text_points("FLOW", 2000, seed=1), t=1.0, lim=2.5)
    out["00 trajectory"] = (nb00, {"t": ts})

    def nb01():
        g = torch.Generator().manual_seed(0)
        data = sample_2d("moons", 1000, seed=0)
        noise, eps = torch.randn(1000, 2, generator=g), torch.randn(1000, 2, generator=g)
        return W.interpolation_explorer(noise, data, eps, t=0.5, sigma=0.5, schedule="bridge", lim=2.8)
    out["01 interpolation"] = (nb01, {"t": ts, "sigma": [0.0, 0.25, 0.5, 0.75, 1.0],
                                      "schedule": ["constant", "sine", "bridge"]})

    def nb02():
        return W.vector_field_explorer(sample_2d("moons", 30, seed=0), n=300, seed=1, t=0.5)
    out["02 vector field"] = (nb02, {"t": [0.0, 0.1, 0.25, 0.4, 0.6, 0.75, 0.9, 0.95]})

    def nb03():
        torch.manual_seed(0)
        return W.learned_vs_exact_explorer(MLP(), sample_2d("moons", 256, seed=0), LinearPath(), t=0.8)
    out["03 learned vs exact"] = (nb03, {"t": [0.0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.95]})

    def nb04_traj():
        x_0 = torch.randn(600, 2, generator=torch.Generator().manual_seed(2))
        flow = integrate(shipped("moons_independent"), x_0, 50, "rk4", return_trajectory=True)
        return W.trajectory_explorer(flow.trajectory, target=sample_2d("moons", 2000, seed=1), trail=8, t=0.5)
    out["04 trajectory"] = (nb04_traj, {"t": ts})

    def nb04_solver():
        x_0 = torch.randn(300, 2, generator=torch.Generator().manual_seed(2))
        return W.solver_explorer(shipped("moons_independent"), x_0, target=sample_2d("moons", 2000, seed=1), steps=3,
                                 method="euler", t=1.0, reference_steps=50)
    out["04 solver"] = (nb04_solver, {"t": ts, "steps": [1, 2, 4, 8, 16, 32],
                                      "method": ["midpoint", "heun", "rk4", "euler"]})

    def nb05():
        data = sample_2d("moons", 200, seed=0)
        x_0 = torch.randn(600, 2, generator=torch.Generator().manual_seed(2))
        return W.noise_flow_explorer(data[:60], x_0[:300], t=0.5, sigma=1.0, schedule="sine")
    out["05 noise flow"] = (nb05, {"t": [k / 12 for k in range(13)], "sigma": [0.0, 0.5, 1.0, 1.5, 2.0],
                                   "schedule": ["constant", "bridge", "sine"]})

    def nb06():
        models = {"independent": load_pretrained("moons_independent"), "OT": load_pretrained("moons_ot"),
                  "reflow": load_pretrained("moons_reflow")}
        x_0 = torch.randn(300, 2, generator=torch.Generator().manual_seed(2))
        return W.straight_explorer(models, x_0, target=sample_2d("moons", 2000, seed=1), steps=1, t=1.0)
    out["06 straight"] = (nb06, {"t": ts, "steps": [2, 4, 8, 32, 1]})

    def nb07_flow():
        from fmlite.models import guided_velocity
        x_0 = torch.randn(10, 1, 8, 8, generator=torch.Generator().manual_seed(3))
        flow = integrate(guided_velocity(shipped("digits"), torch.arange(10), 1.0), x_0, steps=20, method="midpoint",
                         return_trajectory=True)
        return W.image_flow_explorer(flow.trajectory, ncol=5, t=0.5, size=6)
    out["07 image flow"] = (nb07_flow, {"t": ts})

    ws = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0]

    def nb07_guidance():
        labels = torch.arange(10).repeat_interleave(10)
        samples, scores = {}, {}
        for w in ws:
            x = sample_images(shipped("digits"), 100, labels=labels, w=w, steps=5, seed=8)
            samples[w] = x.reshape(10, 10, 1, 8, 8)[:, :8]
            scores[w] = digit_scores(x, labels)
        return W.guidance_explorer(samples, scores, w=1.0)
    out["07 guidance"] = (nb07_guidance, {"w": [0.0, 0.5, 1.5, 2.0, 3.0, 4.0, 1.0]})

    def nb08():
        torch.manual_seed(0)
        gmm, path = example_mixture(), LinearPath()
        model = MLP(hidden=64).requires_grad_(False)
        maps = W.log_density_maps(model, [k / 10 for k in range(11)], lim=3.5, n=30, steps=8)
        return W.likelihood_explorer(maps, lambda x, t: gmm.log_density(x, t, path), t=0.7)
    out["08 likelihood"] = (nb08, {"t": ts})
    return out


def measure(build, moves: dict, repeat: int = 1) -> dict:
    """control -> list of seconds per change (each value set in turn, `repeat` passes)."""
    ex = build()
    times = {}
    for _ in range(repeat):
        for name, values in moves.items():
            for v in values:
                if ex.controls[name].value == v:
                    continue
                start = time.perf_counter()
                ex.controls[name].value = v
                times.setdefault(name, []).append(time.perf_counter() - start)
                if ex.error is not None:
                    raise RuntimeError(f"{name} = {v}: {ex.error}")
    return times


#: Controls whose change recomputes something (the others only redisplay a cached or stored state).
COMPUTE = {"steps", "sigma", "schedule", "method"}
#: Explorers that compute on every move, whatever the control (issue 13: the vector field and the learned
#: vs exact field evaluate a field on the move).
COMPUTE_EXPLORERS = {"02 vector field", "03 learned vs exact"}


def target(control: str, scale: float, explorer: str = "") -> str:
    """The response target of a control (see the module docstring)."""
    if scale > 1.0:
        return "max < 150"
    compute = control in COMPUTE or explorer in COMPUTE_EXPLORERS
    return "median <= 100, max <= 150" if compute else "median <= 60, max <= 100"


def measure_all(scale: float = 1.0, repeat: int = 1, k: str = "") -> list[dict]:
    """Every explorer (whose name contains k) at lecture scale `scale`: one dict per control with keys
    explorer, control, median_ms, max_ms, target. Uses one torch thread and sets `lecture_style(scale)`."""
    from fmlite.plotting import lecture_style
    torch.set_num_threads(1)
    lecture_style(scale=scale)
    rows = []
    for name, (build, moves) in setups().items():
        if k not in name:
            continue
        for control, ts in measure(build, moves, repeat).items():
            rows.append({"explorer": name, "control": control, "median_ms": 1000 * statistics.median(ts),
                         "max_ms": 1000 * max(ts), "target": target(control, scale, name)})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="passes of every control through its values")
    parser.add_argument("-k", default="", help="only explorers whose name contains this")
    parser.add_argument("--scale", type=float, default=1.0, help="lecture scale (1.0 default, 1.6 projector)")
    args = parser.parse_args()
    print(f"cores {os.cpu_count()}, torch {torch.__version__}, load average {os.getloadavg()[0]:.2f}, "
          f"scale {args.scale}")
    print(f"{'explorer':22s}{'control':10s}{'median ms':>11s}{'max ms':>8s}  target")
    start = time.perf_counter()
    for row in measure_all(args.scale, args.repeat, args.k):
        print(f"{row['explorer']:22s}{row['control']:10s}{row['median_ms']:11.0f}{row['max_ms']:8.0f}  "
              f"{row['target']}", flush=True)
    print(f"total {time.perf_counter() - start:.0f} s, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
