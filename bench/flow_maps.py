"""Benchmark: one-step generation by flow maps (MeanFlow, distillation) against straight flows, and MeanFlow
against Meta's recipe (issue 23, part c). Not a timed test.

(1) Side by side, moons and checkerboard: energy distance of `--samples` samples to as many fresh data points
    (`fmlite.metrics.energy_distance`), median over `--seeds` seeds, next to the data-vs-data spread (two fresh
    data sets): plain FM (independent pairing) with Euler at 1, 2, 4, 8 calls and midpoint at 2, 4, 8; OT-FM and
    reflow with Euler at 1, 2, 4; the distilled map and MeanFlow at 1, 2, 4 calls (`sample_flow_map`), with
    training seconds. Recipes: `STRAIGHT_RECIPE` (`train_straight`) and `FLOW_MAP_RECIPE` (`train_flow_map`).
    Seed 0 is the shipped checkpoint of that recipe (`load_pretrained`, same seed; training is deterministic for
    a seed on a machine and torch build), with the training seconds it recorded when it was built; seeds 1, 2, ...
    are trained here (the distilled map of seed k distils the independent model of seed k; reflow of seed k
    reflows it). Sampling noise and fresh data: seeds 2000 + k and 1000 + k, spread 3000 + k.
(2) The MeanFlow choices that matter, on moons (seed 0, `--choice-steps` steps, fewer than the recipe's 5,000):
    (s, t) sampling, share of pairs with s = t, adaptive weighting, and the time embedding's top frequency.
(3) Against Meta's MeanFlow loop (examples/2d_mean_flow.ipynb at 835f27b, transcribed in bench/peers.py with
    every departure listed there): both runners draw from the same sampler (`sample_2d(data, n)`), at width 128,
    batch 256, one thread; each trains until the energy distance of 2,000 one-call samples to 2,000 fresh points
    is at most `--bar` (checked every 250 steps, evaluation time excluded), capped at `--cap` steps; median over
    seeds; ratio = Meta's seconds / fmlite's seconds (goal >= 2). fmlite runs its shipped recipe (FlowMapMLP,
    lr 3e-3, EMA 0.995: the EMA weights are checked), Meta its own (its MLP on raw times, lr 3e-4, no EMA).

Writes bench/FLOW_MAPS.md (spliced into bench/RESULTS.md as a section; bench/results_md.py keeps it there) and
data/flow_maps_bench.json (the table notebook 09 prints).

    python bench/flow_maps.py            # 3 seeds, 5,000 samples: 31 min here (load average 4-5 from other sessions)
    python bench/flow_maps.py --quick    # smoke: shipped models only, 1 seed, 1,000 samples, short runs (1.5 min)

Measured (2026-12-03, full run, medians of 3 seeds, energy distance at 1 call; data-vs-data -0.0006 / -0.0001):
moons / checkerboard: plain FM Euler 1 call 0.72 / 0.87, 4 calls 0.0366 / 0.0465, 8 calls 0.0075 / 0.0121; OT-FM
0.0015 / 0.0015; reflow 0.0009 / 0.0014; distilled 0.0014 / 0.0017; MeanFlow 0.0038 / 0.0179 (worse at 2 and 4
calls: 0.0077, 0.0120 / 0.0281, 0.0269). Goals met on both data sets: MeanFlow at 1 call beats plain FM at 4
Euler calls, the distilled map at 1 call beats 8. Against Meta's loop: 1,500 steps and 26.4 s against 2,750 steps
and 63.7 s to a one-call energy distance <= 0.01 on moons: fmlite 2.41x faster (1.8x fewer steps, and cheaper
steps: one JVP whose primal is the prediction, where Meta's loop runs a second forward pass and clips the
gradient; 10-18 ms against 16-36 ms a step on this loaded CPU). The full run took 31 min, over the 20 min aimed at, on a CPU shared with other sessions (the same
training runs took 2-3x less time on a quiet machine).
"""
import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from fmlite.datasets import sample_2d
from fmlite.files import write_text
from fmlite.flow_map_losses import MeanFlowLoss
from fmlite.flow_maps import sample_flow_map
from fmlite.metrics import energy_distance
from fmlite.models import FlowMapMLP
from fmlite.pretrained import load_pretrained
from fmlite.solvers import integrate
from fmlite.tools.flow_map_recipes import FLOW_MAP_OVERRIDES, FLOW_MAP_RECIPE, train_flow_map
from fmlite.tools.recipes import train_straight
from fmlite.train import train

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import peers  # noqa: E402

DATA = ("moons", "checkerboard")
#: (method, label, sampler, calls): the rows of table (1).
ROWS = ([("fm_euler", "plain FM, Euler", "independent", n) for n in (1, 2, 4, 8)]
        + [("fm_midpoint", "plain FM, midpoint", "independent", n) for n in (2, 4, 8)]
        + [("ot_euler", "OT-FM, Euler", "ot", n) for n in (1, 2, 4)]
        + [("reflow_euler", "reflow, Euler", "reflow", n) for n in (1, 2, 4)]
        + [("distilled", "distilled flow map", "distilled", n) for n in (1, 2, 4)]
        + [("meanflow", "MeanFlow", "meanflow", n) for n in (1, 2, 4)])
#: (label, MeanFlowLoss options, FlowMapMLP options): table (2); the first row is the shipped recipe.
CHOICES = [("recipe: logit-normal(0.4, 1), 75 % s = t, adaptive", {}, {}),
           ("uniform (s, t)", dict(time_sampling="uniform"), {}),
           ("25 % s = t", dict(equal_share=0.25), {}),
           ("0 % s = t", dict(equal_share=0.0), {}),
           ("100 % s = t (flow matching)", dict(equal_share=1.0), {}),
           ("no adaptive weighting", dict(weighting="none"), {}),
           ("time features up to 100 (the velocity MLP's)", {}, dict(max_freq=100.0))]


def samples(model, kind: str, method: str, calls: int, x_0):
    """Samples at t = 1 after `calls` network calls."""
    with torch.no_grad():
        if kind in ("distilled", "meanflow"):
            return sample_flow_map(model, x_0, calls).x
        steps = calls // (2 if method == "fm_midpoint" else 1)
        return integrate(model, x_0, steps, "midpoint" if method == "fm_midpoint" else "euler").x


def models_for(data: str, seed: int) -> dict:
    """kind -> (model, training seconds): shipped for seed 0, trained here for the others."""
    names = {"independent": "independent", "ot": "ot", "reflow": "reflow", "distilled": "distilled",
             "meanflow": "meanflow"}
    if seed == 0:
        out = {}
        for kind, suffix in names.items():
            model = load_pretrained(f"{data}_{suffix}")
            out[kind] = (model, float(model.meta["train_seconds"]))
        return out
    out, recipe = {}, dict(data=data, seed=seed)
    for kind, pairing in (("independent", "independent"), ("ot", "minibatch_ot")):
        start = time.perf_counter()
        out[kind] = (train_straight(pairing, device="cpu", progress=False, **recipe)[0], time.perf_counter() - start)
    start = time.perf_counter()
    out["reflow"] = (train_straight("reflow", device="cpu", progress=False, base=out["independent"][0], **recipe)[0],
                     time.perf_counter() - start)
    for kind in ("distilled", "meanflow"):
        start = time.perf_counter()
        model, _ = train_flow_map(kind, data, device="cpu", progress=False, teacher=out["independent"][0], seed=seed)
        out[kind] = (model, time.perf_counter() - start)
    return out


def side_by_side(args) -> tuple[list, dict]:
    rows, spread = [], {}
    for data in DATA:
        per_seed, floors = [], []
        for seed in range(args.seeds):
            trained = models_for(data, seed)
            fresh = sample_2d(data, args.samples, seed=1000 + seed)
            x_0 = torch.randn(args.samples, 2, generator=torch.Generator().manual_seed(2000 + seed))
            floors.append(energy_distance(sample_2d(data, args.samples, seed=3000 + seed), fresh))
            values = {(m, n): (energy_distance(samples(trained[k][0], k, m, n, x_0), fresh), trained[k][1])
                      for m, _, k, n in ROWS}
            per_seed.append(values)
            print(f"  (1) {data} seed {seed}: " + ", ".join(f"{m} {n}: {v[0]:.4f}" for (m, n), v in values.items()),
                  flush=True)
        spread[data] = statistics.median(floors)
        for method, label, _, calls in ROWS:
            eds = [v[method, calls][0] for v in per_seed]
            rows.append(dict(method=method, label=label, data=data, nfe=calls,
                             energy_distance=round(statistics.median(eds), 4),
                             seeds=[round(e, 4) for e in eds],
                             train_seconds=round(statistics.median(v[method, calls][1] for v in per_seed), 1)))
    return rows, spread


def choices(args) -> list:
    out = []
    pool = sample_2d("moons", 20000, seed=0)
    fresh = sample_2d("moons", args.samples, seed=1000)
    x_0 = torch.randn(args.samples, 2, generator=torch.Generator().manual_seed(2000))
    r = FLOW_MAP_RECIPE
    for label, loss_options, net_options in CHOICES:
        torch.manual_seed(0)
        model = FlowMapMLP(hidden=r["hidden"], layers=r["layers"], **net_options)
        history = train(model, None, lambda n: pool[torch.randint(0, len(pool), (n,))], steps=args.choice_steps,
                        batch_size=r["batch_size"], lr=r["lr"], ema=r["ema"], seed=0, device="cpu", progress=False,
                        loss=MeanFlowLoss(**loss_options))
        model = history.ema_model.eval()
        row = dict(choice=label, data="moons", steps=args.choice_steps, **loss_options, **net_options,
                   train_seconds=round(history.seconds, 1))
        for calls in (1, 2):
            row[f"energy_distance_{calls}"] = round(energy_distance(sample_flow_map(model, x_0, calls).x, fresh), 4)
        print(f"  (2) {label}: {row}", flush=True)
        out.append(row)
    return out


def race(args, seed: int) -> dict:
    """Steps and seconds each runner takes to reach the bar (evaluation excluded), for one seed."""
    x_0 = torch.randn(2000, 2, generator=torch.Generator().manual_seed(4000 + seed))
    fresh = sample_2d("moons", 2000, seed=5000 + seed)
    sampler = lambda n: sample_2d("moons", n)  # noqa: E731  the same for both runners

    def quality(flow_map_model):
        with torch.no_grad():
            return energy_distance(sample_flow_map(flow_map_model, x_0, 1).x, fresh)

    found = {}
    r = {**FLOW_MAP_RECIPE, **FLOW_MAP_OVERRIDES["meanflow"]}
    torch.manual_seed(seed)
    model = FlowMapMLP(hidden=128, layers=r["layers"])

    def callback(step, ema_model):
        found["ed"] = quality(ema_model)
        return found["ed"] <= args.bar

    history = train(model, None, sampler, args.cap, batch_size=256, lr=r["lr"], ema=r["ema"], seed=seed,
                    device="cpu", progress=False, loss=MeanFlowLoss(), callback=callback, eval_every=250, threads=1)
    out = {"fmlite": (history.steps, history.seconds, found["ed"])}
    torch.manual_seed(seed)
    meta_model = peers.MetaMeanFlowMLP(hidden=128)
    step, seconds, done, ed = peers.meta_meanflow_step(meta_model, sampler, batch=256, lr=3e-4), 0.0, 0, None
    while done < args.cap:
        start = time.perf_counter()
        for _ in range(250):
            step()
        seconds, done = seconds + time.perf_counter() - start, done + 250
        ed = quality(peers.meta_meanflow_map(meta_model))
        if ed <= args.bar:
            break
    out["Meta"] = (done, seconds, ed)
    print(f"  (3) seed {seed}: " + ", ".join(f"{k} {s} steps {t:.1f} s ({e:.4f})" for k, (s, t, e) in out.items()),
          flush=True)
    return out


def against_meta(args) -> dict:
    runs = [race(args, seed) for seed in range(args.seeds)]
    med = {k: (statistics.median(r[k][0] for r in runs), statistics.median(r[k][1] for r in runs)) for k in runs[0]}
    return dict(bar=args.bar, cap=args.cap, data="moons", width=128, batch=256, threads=1,
                runs={k: [dict(steps=r[k][0], seconds=round(r[k][1], 1), energy_distance=round(r[k][2], 4))
                          for r in runs] for k in runs[0]},
                fmlite_seconds=round(med["fmlite"][1], 1), meta_seconds=round(med["Meta"][1], 1),
                fmlite_steps=med["fmlite"][0], meta_steps=med["Meta"][0],
                reached={k: sum(r[k][2] <= args.bar for r in runs) for k in runs[0]},
                ratio=round(med["Meta"][1] / med["fmlite"][1], 2))


def report(results: dict) -> str:
    """The markdown section (bench/FLOW_MAPS.md) from the results that also go to the JSON."""
    s = results["settings"]
    L = [f"## Flow maps (bench/flow_maps.py)", "",
         f"Command: `{s['command']}`; {s['date']}; {s['minutes']} min; {s['machine']}.", "",
         f"### Side by side: energy distance of {s['samples']:,} samples to {s['samples']:,} fresh points, "
         f"median of {len(s['seeds'])} seed(s)", "",
         "Seed 0 is the shipped checkpoint (its recorded training time), the other seeds are trained in the run. "
         "Data-vs-data spread (two fresh data sets): " + ", ".join(f"{d} {v:.4f}"
                                                                  for d, v in results["spread"].items()) + ".", "",
         "| method | calls | " + " | ".join(f"{d} | {d} train s" for d in DATA) + " |",
         "|---|---|" + "---|---|" * len(DATA)]
    keys = []
    for row in results["rows"]:
        if (row["label"], row["nfe"]) not in keys:
            keys.append((row["label"], row["nfe"]))
    for label, nfe in keys:
        cells = []
        for d in DATA:
            row = next(r for r in results["rows"] if r["label"] == label and r["nfe"] == nfe and r["data"] == d)
            cells += [f"{row['energy_distance']:.4f}", f"{row['train_seconds']:.1f}"]
        L.append(f"| {label} | {nfe} | " + " | ".join(cells) + " |")
    L.append("")
    for d in DATA:
        get = {(r["method"], r["nfe"]): r["energy_distance"] for r in results["rows"] if r["data"] == d}
        L.append(f"- {d}: MeanFlow at 1 call {get['meanflow', 1]:.4f} against plain FM with 4 Euler calls "
                 f"{get['fm_euler', 4]:.4f} ({'beats it' if get['meanflow', 1] < get['fm_euler', 4] else 'does NOT'});"
                 f" distilled at 1 call {get['distilled', 1]:.4f} against 8 Euler calls {get['fm_euler', 8]:.4f} "
                 f"({'beats it' if get['distilled', 1] < get['fm_euler', 8] else 'does NOT'}).")
    if results["meanflow_choices"]:
        c = results["meanflow_choices"]
        L += ["", f"### MeanFlow choices (moons, seed 0, {c[0]['steps']:,} steps, {s['samples']:,} samples)", "",
              "| choice | 1 call | 2 calls | train s |", "|---|---|---|---|"]
        L += [f"| {r['choice']} | {r['energy_distance_1']:.4f} | {r['energy_distance_2']:.4f} | "
              f"{r['train_seconds']:.1f} |" for r in c]
    p = results["peer"]
    if p:
        L += ["", f"### Against Meta's MeanFlow loop (examples/2d_mean_flow.ipynb at 835f27b, bench/peers.py)", "",
              f"Time to a one-call energy distance <= {p['bar']} (2,000 samples against 2,000 fresh moons, checked "
              f"every 250 steps, evaluation excluded, cap {p['cap']:,} steps), width {p['width']}, batch "
              f"{p['batch']}, {p['threads']} thread, the same sampler; median over seeds.", "",
              "| runner | steps (per seed) | seconds (per seed) | reached | median s |", "|---|---|---|---|---|"]
        for k, runs in p["runs"].items():
            L.append(f"| {k} | {', '.join(str(r['steps']) for r in runs)} | "
                     f"{', '.join(str(r['seconds']) for r in runs)} | {p['reached'][k]}/{len(runs)} | "
                     f"{p[('fmlite' if k == 'fmlite' else 'meta') + '_seconds']} |")
        L += ["", f"fmlite faster by {p['ratio']:.2f}x (Meta's median seconds / fmlite's; goal >= 2x).", ""]
    return "\n".join(L)


def splice(results_md: Path, section: str) -> None:
    """Put `section` into bench/RESULTS.md: replace an earlier one, else insert it before '## History'."""
    start, end = "<!-- flow maps: bench/flow_maps.py -->", "<!-- end flow maps -->"
    text = results_md.read_text() if results_md.exists() else "# Benchmark results\n"
    block = f"{start}\n{section.strip()}\n{end}\n"
    if start in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end) + 1:]
    elif "## History" in text:
        text = text.replace("## History", block + "\n## History", 1)
    else:
        text = text.rstrip() + "\n\n" + block
    write_text(results_md, text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed (the shipped models), 1,000 samples, short runs")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--choice-steps", type=int, default=3000)
    parser.add_argument("--bar", type=float, default=0.01, help="one-call energy distance of part (3)")
    parser.add_argument("--cap", type=int, default=6000, help="step cap of part (3)")
    parser.add_argument("--out", type=Path, default=None, help="markdown file (default bench/FLOW_MAPS.md; "
                                                                  "--quick: bench/FLOW_MAPS-quick.md, no JSON)")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.samples, args.choice_steps, args.cap = 1, 1000, 200, 500
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows, spread = side_by_side(args)
    chosen = choices(args)
    peer = against_meta(args)
    minutes = round((time.perf_counter() - start) / 60, 1)
    argv = " ".join(sys.argv[1:])
    results = dict(settings=dict(command=f"python bench/flow_maps.py{' ' + argv if argv else ''}",
                                 date=time.strftime("%Y-%m-%d %H:%M"), minutes=minutes, samples=args.samples,
                                 seeds=list(range(args.seeds)), statistic="median",
                                 machine=f"{platform.machine()}, torch {torch.__version__}, 1 thread"),
                   spread={d: round(v, 4) for d, v in spread.items()}, rows=rows, meanflow_choices=chosen, peer=peer)
    section = report(results)
    print("\n" + section)
    out = args.out or BENCH / ("FLOW_MAPS-quick.md" if args.quick else "FLOW_MAPS.md")
    write_text(out, section + "\n")
    if not args.quick:
        splice(BENCH / "RESULTS.md", section)
        write_text(BENCH.parent / "data" / "flow_maps_bench.json", json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {out}" + ("" if args.quick else ", bench/RESULTS.md and data/flow_maps_bench.json"))


if __name__ == "__main__":
    main()
