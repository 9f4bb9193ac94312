"""The whole benchmark in one run: fmlite against TorchCFM and Meta's flow_matching, side by side (issue 13).

    pip install -e ".[bench]"      # TorchCFM and flow_matching; the course never needs them
    python bench/run.py            # about 5 minutes on a quiet 2-core CPU; writes bench/RESULTS.md
    python bench/run.py --quick    # a smoke run of every part (about 2 minutes); writes bench/RESULTS-quick.md

Parts (runners interleaved, so machine noise hits all alike):
  (a) training steps/s on the same network (fmlite MLP, widths 128 and 256), batch 256, the same sampler, every
      runner at 1 and at 2 torch threads: fmlite's `train` against a plain PyTorch loop and the loops of TorchCFM's
      and Meta's examples (bench/peers.py), and the bound of any loop: the network's forward and backward and a
      fused Adam step alone, on a fixed batch. The runners take turns every 64 steps (inside train's callback).
  (b) time to a fixed quality: energy distance of 2,000 Euler-100 samples to 2,000 fresh moons <= 0.005, checked
      every 100 steps, evaluation excluded, median over 3 seeds; fmlite's defaults against each peer's 2-D recipe.
  (c) sampling wall time and quality at 1 to 100 NFE: fmlite's solvers against Meta's ODESolver, one trained model.
  (d) every notebook and the whole course under nbval (one pytest run, per-notebook times from its junit xml).
  (e) explorer response times (bench/explorers.py) at the default and at lecture scale.
A part whose peer is not installed is run without it and says so. Timings include whatever else the machine runs.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for p in (str(ROOT), str(BENCH)):
    if p not in sys.path:
        sys.path.insert(0, p)

import torch  # noqa: E402

import peers  # noqa: E402
from results_md import THRESHOLD, cpu_model, median, report  # noqa: E402
from fmlite.datasets import sample_2d  # noqa: E402
from fmlite.metrics import energy_distance  # noqa: E402
from fmlite.models import MLP  # noqa: E402
from fmlite.paths import LinearPath  # noqa: E402
from fmlite.solvers import METHODS, integrate  # noqa: E402
from fmlite.train import train  # noqa: E402

FULL = dict(widths=(128, 256), threads_a=(1, 2), chunk_a=64, rounds_a=20, seeds_b=(0, 1, 2), cap_b=6000,
            nfes=(1, 2, 4, 8, 16, 32, 100), n_c=2000, reps_c=3, notebooks="notebooks/", explorers="", scales=(1.0, 1.6))
QUICK = dict(widths=(128, 256), threads_a=(1, 2), chunk_a=8, rounds_a=2, seeds_b=(0,), cap_b=100, nfes=(1, 2, 4),
             n_c=500, reps_c=1, notebooks="notebooks/00_start_here.ipynb", explorers="00", scales=(1.0, 1.6))
META_METHODS = {"euler": "euler", "midpoint": "midpoint", "heun": "heun2", "rk4": "rk4"}  # torchdiffeq's names


def sampler(n):
    return sample_2d("moons", n)


def have(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def has_eval_hook():
    import inspect
    params = inspect.signature(train).parameters
    return "callback" in params and "eval_every" in params


# ----- (a) training steps/s -------------------------------------------------------------------------------------------
#: The runner of (a) that bounds every loop: forward, backward and a fused Adam step of the same network on one fixed
#: batch (no data, no path, no checks). No training loop of this network and optimiser can take steps faster.
ALONE = "network + Adam alone"


def network_and_adam(model, batch=256):
    """A step of `ALONE`: loss on a fixed batch, backward, fused Adam (fmlite's optimiser); nothing else."""
    from fmlite.optim import make_optimizer
    optimizer = make_optimizer(model.parameters(), 1e-2)
    g = torch.Generator().manual_seed(0)
    x, t, u = torch.randn(batch, 2, generator=g), torch.rand(batch, generator=g), torch.randn(batch, 2, generator=g)

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.mean((model(x, t) - u) ** 2).backward()
        optimizer.step()
    return step


def steps_per_second(cfg, have_cfm, have_meta):
    """rates[(runner, width, threads)] = [steps/s per round]; every runner at the same torch thread count.

    The runners take turns in rounds of `chunk_a` steps: `fmlite.train` runs the whole time, and its callback
    (called every `chunk_a` steps, its time left out of fmlite's) runs `chunk_a` steps of every other runner in a
    rotating order. A slow spell of the shared machine therefore hits every runner of a round alike, and the
    ratios within a round cancel it. `chunk_a` = 64 = one of `train`'s data pools, so that each fmlite round
    includes one pool draw. One round of every runner first, not counted, warms up caches and lazy imports."""
    runners = {"fmlite train": None, "plain PyTorch": peers.plain_step}
    if have_cfm:
        runners["TorchCFM loop"] = peers.torchcfm_step
    if have_meta:
        runners["Meta loop"] = peers.meta_step
    runners[ALONE] = lambda model, sampler: network_and_adam(model)
    names, others = list(runners), [n for n in runners if runners[n] is not None]
    chunk, rounds = cfg["chunk_a"], cfg["rounds_a"]

    def cell(width, threads):
        torch.set_num_threads(threads)
        steps = {}
        for k, name in enumerate(others):
            torch.manual_seed(k)
            steps[name] = runners[name](MLP(dim=2, hidden=width), sampler)
        rates = {name: [] for name in names}
        clock = {"last": 0.0}

        def take_turns(done, model):
            fmlite_seconds = time.perf_counter() - clock["last"]
            rnd = done // chunk - 1           # round 0 warms up and is not counted
            if rnd > 0:
                rates[names[0]].append(chunk / fmlite_seconds)
            for name in others[rnd % len(others):] + others[:rnd % len(others)]:
                start = time.perf_counter()
                for _ in range(chunk):
                    steps[name]()
                if rnd > 0:
                    rates[name].append(chunk / (time.perf_counter() - start))
            clock["last"] = time.perf_counter()

        torch.manual_seed(len(others))
        clock["last"] = time.perf_counter()
        train(MLP(dim=2, hidden=width), LinearPath(), sampler, (rounds + 1) * chunk, progress=False, seed=None,
              threads=threads, callback=take_turns, eval_every=chunk)
        return rates

    before = torch.get_num_threads()
    thread_counts = [n for n in cfg["threads_a"] if n <= (os.cpu_count() or 1)]
    rates = {}
    try:
        for threads in thread_counts:
            for width in cfg["widths"]:
                for name, r in cell(width, threads).items():
                    rates[(name, width, threads)] = r
                    print(f"  (a) {threads} thread(s) width {width} {name:20s} {median(r):7.0f} steps/s "
                          f"(rounds {min(r):.0f}-{max(r):.0f})", flush=True)
    finally:
        torch.set_num_threads(before)
    return names, rates


# ----- (b) time to a fixed quality ------------------------------------------------------------------------------------
def quality(model, seed, n=2000):
    """Energy distance of n Euler-100 samples to n fresh moons; draws nothing from torch's global generator."""
    noise = torch.randn(n, 2, generator=torch.Generator().manual_seed(10_000 + seed))
    x = integrate(peers.velocity(model), noise, 100, "euler").x
    return energy_distance(x, sample_2d("moons", n, seed=20_000 + seed))


def time_to_quality(cfg, have_cfm, have_meta, hook):
    runners = {}
    if hook:
        runners["fmlite defaults"] = None
    if have_cfm:
        runners["TorchCFM tutorial"] = (peers.torchcfm_model, lambda m: peers.torchcfm_step(m, sampler, 256, 1e-3))
    if have_meta:
        runners["Meta standalone"] = (peers.MetaFlow, lambda m: peers.meta_step(m, sampler, 256, 1e-2))

    def run(name, seed):
        torch.manual_seed(seed)
        if runners[name] is None:
            model, found = MLP(dim=2), {}  # history.steps and .seconds (callback time excluded) at the stop

            def callback(step, model):
                found["ed"] = quality(model, seed)
                return found["ed"] <= THRESHOLD

            history = train(model, LinearPath(), sampler, cfg["cap_b"], callback=callback, eval_every=100,
                            progress=False, seed=seed)
            return history.steps, history.seconds, found.get("ed", float("nan"))
        build, make_step = runners[name]
        model = build()
        step, seconds, done = make_step(model), 0.0, 0
        while done < cfg["cap_b"]:
            start = time.perf_counter()
            for _ in range(100):
                step()
            seconds += time.perf_counter() - start
            done += 100
            ed = quality(model, seed)
            if ed <= THRESHOLD:
                break
        return done, seconds, ed

    out = {name: [] for name in runners}
    for seed in cfg["seeds_b"]:
        for name in runners:
            out[name].append(run(name, seed))
            steps, seconds, ed = out[name][-1]
            print(f"  (b) seed {seed} {name:18s} {steps:5d} steps {seconds:6.1f} s  energy distance {ed:.4f}",
                  flush=True)
    return out


# ----- (c) sampling ---------------------------------------------------------------------------------------------------
def sampling(cfg, have_meta):
    from fmlite.pretrained import load_pretrained
    model = load_pretrained("moons_independent")
    x_0 = torch.randn(cfg["n_c"], 2, generator=torch.Generator().manual_seed(7))
    fresh = sample_2d("moons", cfg["n_c"], seed=8)
    rows = []
    for nfe in cfg["nfes"]:
        for method, (_, per_step, _) in METHODS.items():
            if nfe % per_step:
                continue
            steps, row = nfe // per_step, {"nfe": nfe, "method": method}
            for _ in range(cfg["reps_c"]):  # interleaved: fmlite, then Meta, each repetition
                start = time.perf_counter()
                x = integrate(model, x_0, steps, method).x
                row.setdefault("fmlite_s", []).append(time.perf_counter() - start)
                if have_meta:
                    start = time.perf_counter()
                    y, calls = peers.meta_solve(model, x_0, steps, META_METHODS[method])
                    row.setdefault("meta_s", []).append(time.perf_counter() - start)
            row["fmlite_ed"] = energy_distance(x, fresh)
            if have_meta:
                row["meta_ed"], row["meta_nfe"] = energy_distance(y, fresh), calls
            rows.append(row)
            print(f"  (c) NFE {nfe:3d} {method:8s} fmlite {1000 * median(row['fmlite_s']):7.1f} ms"
                  + (f"  Meta {1000 * median(row['meta_s']):7.1f} ms ({calls} calls)" if have_meta else ""), flush=True)
    return rows


# ----- (d) notebooks under nbval --------------------------------------------------------------------------------------
def per_notebook(xml: Path) -> dict:
    """notebook file name -> (seconds, passed) summed over its test cases in a pytest junit xml."""
    per = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        where = case.get("file") or case.get("classname", "?")  # nbval: classname "notebooks.00_start_here.ipynb"
        if ".ipynb" in where:
            where = where[:where.index(".ipynb")]
        name = where.replace("\\", "/").split("/")[-1].split("::")[0].rsplit(".", 1)[-1] + ".ipynb"
        seconds, ok = per.get(name, (0.0, True))
        failed = any(child.tag in ("failure", "error") for child in case)
        per[name] = (seconds + float(case.get("time", 0)), ok and not failed)
    return per


def notebooks(cfg):
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "nbval.xml"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env.pop("MPLBACKEND", None)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", cfg["notebooks"], f"--junitxml={xml}"],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        total = time.perf_counter() - start
        per = per_notebook(xml) if xml.exists() else {}
    tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    print(f"  (d) {total:.0f} s, pytest exit {proc.returncode}: {' '.join(tail)}", flush=True)
    return total, proc.returncode, per, " ".join(tail)


# ----- (e) explorers --------------------------------------------------------------------------------------------------
COMPUTE_ON_MOVE = {("02 vector field", "t"), ("03 learned vs exact", "t")}


def target(explorer, control):
    redisplay = control in ("t", "w") and (explorer, control) not in COMPUTE_ON_MOVE
    return "≤ 60 / 100" if redisplay else "≤ 100 / 150"


def explorer_times(cfg, scale):
    import explorers
    if hasattr(explorers, "measure_all") and not cfg["explorers"]:
        return explorers.measure_all(scale=scale), "measure_all"
    # Adapter over setups() + measure() (measure_all not in this branch yet, or a quick run filtered by name).
    from fmlite.plotting import lecture_style
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    lecture_style(scale=scale)
    rows = []
    try:
        for name, (build, moves) in explorers.setups().items():
            if cfg["explorers"] not in name:
                continue
            for control, ts in explorers.measure(build, moves).items():
                rows.append(dict(explorer=name, control=control, median_ms=1000 * statistics.median(ts),
                                 max_ms=1000 * max(ts), target=target(name, control)))
    finally:
        torch.set_num_threads(threads)
    return rows, "adapter over setups() + measure()"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run of every part (not a measurement)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the report (default bench/RESULTS.md, or bench/RESULTS-quick.md)")
    parser.add_argument("--skip", default="", help="parts to leave out, e.g. 'de' (for tests)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for (b) and (c), every runner alike (default: torch's own choice); "
                             "(a) runs at 1 and 2 threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = QUICK if args.quick else FULL
    out = args.out or BENCH / ("RESULTS-quick.md" if args.quick else "RESULTS.md")
    have_cfm, have_meta, hook = have("torchcfm"), have("flow_matching"), has_eval_hook()
    notes = []
    if not (have_cfm and have_meta):
        notes.append("Peers missing (install with `pip install -e \".[bench]\"`): "
                     + ", ".join(n for n, ok in (("torchcfm", have_cfm), ("flow_matching", have_meta)) if not ok)
                     + "; their columns are empty.")
    if not hook:
        message = ("fmlite.train has no evaluation hook yet (train(..., callback=..., eval_every=...)); part (b) "
                   "needs it: merge the branch that adds it to fmlite/train.py.")
        if not args.quick and "b" not in args.skip:
            raise SystemExit(message)
        notes.append(message + " The fmlite row of (b) is left out.")
    machine = dict(cores=os.cpu_count(), cpu=cpu_model(), load_start=" ".join(f"{x:.2f}" for x in os.getloadavg()),
                   date=datetime.now().strftime("%Y-%m-%d %H:%M"))
    start = time.perf_counter()
    results = dict(notes=notes, a=([], {}), b={}, c=[], d=(0.0, "skipped", {}, ""), e={})
    if "a" not in args.skip:
        print("(a) training steps/s", flush=True)
        results["a"] = steps_per_second(cfg, have_cfm, have_meta)
    if "b" not in args.skip:
        print("(b) time to quality", flush=True)
        results["b"] = time_to_quality(cfg, have_cfm, have_meta, hook)
    if "c" not in args.skip:
        print("(c) sampling", flush=True)
        results["c"] = sampling(cfg, have_meta)
    if "d" not in args.skip:
        print("(d) notebooks under nbval", flush=True)
        results["d"] = notebooks(cfg)
    if "e" not in args.skip:
        for scale in cfg["scales"]:
            print(f"(e) explorers at scale {scale}", flush=True)
            results["e"][scale] = explorer_times(cfg, scale)
    seconds = time.perf_counter() - start
    machine["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    out.write_text(report(cfg, args, machine, results, seconds) + "\n")
    print(f"whole run {seconds / 60:.1f} min; wrote {out}")


if __name__ == "__main__":
    main()
