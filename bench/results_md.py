"""bench/RESULTS.md from the results of bench/run.py: the machine, the command, every table and the ratios."""
import platform
import statistics
import sys
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
THRESHOLD = 0.005  # energy distance that counts as "reached" in part (b)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(module):
    try:
        from importlib.metadata import version as v
        return v(module)
    except Exception:
        return "not installed"


def fmt_ratio(x):
    return f"{x:.2f}×" if x == x else "–"


def report(cfg, args, machine, results, seconds):
    names, rates = results["a"]
    L = [f"# Benchmark results{' (QUICK smoke run: not a measurement)' if args.quick else ''}", "",
         f"Command: `{' '.join(['python bench/run.py'] + sys.argv[1:])}`; {machine['date']}; the whole run took "
         f"{seconds / 60:.1f} min.", "",
         f"Machine: {machine['cores']} cores ({machine['cpu']}), load average at start {machine['load_start']}, "
         f"at end {machine['load_end']}; Python {platform.python_version()}, torch {torch.__version__} "
         f"({torch.get_num_threads()} threads for (b) and (c)"
         f"{', set by --threads' if args.threads else ', its default'}), torchcfm {version('torchcfm')}, flow_matching "
         f"{version('flow_matching')}, torchdiffeq {version('torchdiffeq')}. Timings include whatever else the "
         "machine ran; the runners are interleaved so that load hits all alike.", ""]
    if results["notes"]:
        L += ["Notes: " + " ".join(results["notes"]), ""]

    if names:
        L += table_a(cfg, names, rates)
    if results["b"]:
        L += table_b(cfg, results["b"])
    if results["c"]:
        L += table_c(cfg, results["c"])
    if results["d"][2]:
        L += table_d(cfg, *results["d"])
    if results["e"]:
        L += table_e(cfg, results["e"])
    flow_maps = BENCH / "FLOW_MAPS.md"   # written by bench/flow_maps.py, which splices it between these markers
    if flow_maps.exists():
        L += ["<!-- flow maps: bench/flow_maps.py -->", flow_maps.read_text().strip(), "<!-- end flow maps -->", ""]
    latent = BENCH / "LATENT.md"  # section (f), written by bench/latent.py (a run of its own)
    if latent.exists():
        L += [latent.read_text().strip(), ""]
    discrete = BENCH / "DISCRETE.md"   # written by bench/discrete.py
    if discrete.exists():
        L += ["## Discrete flow matching (bench/DISCRETE.md)", "", discrete.read_text().strip(), ""]
    manifolds = BENCH / "MANIFOLDS.md"   # written by hand from `python bench/manifolds.py` (notebook 12)
    if manifolds.exists():
        L += ["## Curved spaces, notebook 12 (bench/manifolds.py, bench/MANIFOLDS.md)", "",
              manifolds.read_text().strip(), ""]
    L += ["## History", "", "Earlier measurements (explorer response times before/after the in-place updates): "
          "[bench/HISTORY.md](HISTORY.md).", ""]
    tuning = BENCH / "TUNING.md"
    if tuning.exists():
        L += ["## Tuning study (bench/TUNING.md)", "", tuning.read_text().strip(), ""]
    return "\n".join(L)


def table_a(cfg, names, rates):
    """Steps/s per thread count and width; `names` = fmlite first, then the peers' loops, the bound (ALONE) last."""
    loops, alone = names[:-1], names[-1]
    libraries = [n for n in loops[1:] if not n.startswith("plain")]   # the plain loop is no library
    threads = sorted({n for (_, _, n) in rates})
    L = ["## (a) Training steps/s", "",
         f"Same network (`fmlite.models.MLP(dim=2, hidden=W)`, 3 hidden SiLU layers), batch 256, the same sampler "
         f"(`sample_2d(\"moons\", n)`), every runner at the same number of torch threads: the peers' loops and the "
         f"plain loop draw a fresh batch each step and use default Adam (lr 1e-3); `fmlite.train` runs with its "
         f"defaults (data drawn in pools, fused Adam, lr 1e-2) and `threads=` the row's count. \"{alone}\" is the "
         f"bound of any loop: the network's forward and backward and a fused Adam step on one fixed batch, nothing "
         f"else. The runners take turns in {cfg['rounds_a']} rounds of {cfg['chunk_a']} steps each (fmlite's `train` runs "
         f"throughout; its callback runs the other runners' turns, in a rotating order, and their time is left out of "
         f"fmlite's), after one round of warm-up; each cell is the median over the rounds of that runner's steps/s "
         "(wall time). Loops as the libraries' examples write them: bench/peers.py.", "",
         "| threads | width | " + " | ".join(names) + " | " + " | ".join(f"fmlite / {n}" for n in loops[1:])
         + " | bound / fastest library |",
         "|---" * (len(names) + len(loops) + 2) + "|"]
    summary = []
    for n in threads:
        for w in cfg["widths"]:
            med = {k: median(rates[(k, w, n)]) for k in names}
            fastest = max((med[k] for k in libraries), default=float("nan"))
            L.append(f"| {n} | {w} | " + " | ".join(f"{med[k]:.0f}" for k in names) + " | "
                     + " | ".join(fmt_ratio(med[loops[0]] / med[k]) for k in loops[1:])
                     + f" | {fmt_ratio(med[alone] / fastest)} |")
            paired = [r for r in _paired(rates, loops[0], libraries, w, n)]
            spread = f", rounds {min(paired):.2f}–{max(paired):.2f}" if len(paired) > 1 else ""
            summary.append(f"{n} thread{'s' if n > 1 else ''}, width {w}: {fmt_ratio(median(paired))}{spread} "
                           f"(bound {fmt_ratio(med[alone] / fastest)})")
    L += ["", "fmlite / fastest peer library, the median of the ratios within each round (a slow spell of the shared "
          "machine hits every runner of a round alike, and the ratio cancels it; target ≥ 1.5×), and in brackets the most any loop could reach, "
          f"{alone} / fastest library: " + "; ".join(summary) + ".", ""]
    return L


def _paired(rates, fmlite, libraries, width, threads):
    """Per round: fmlite's steps/s over the fastest library's in the same round."""
    reps = len(rates[(fmlite, width, threads)])
    return [rates[(fmlite, width, threads)][r] / max(rates[(k, width, threads)][r] for k in libraries)
            for r in range(reps) if libraries]


def table_b(cfg, b):
    L = ["## (b) Time to a fixed quality", "",
         f"Energy distance of 2,000 Euler-100 samples to 2,000 fresh moons ≤ {THRESHOLD}, checked every 100 steps, "
         f"evaluation time excluded, median over seeds {list(cfg['seeds_b'])}, cap {cfg['cap_b']} steps. "
         "Recipes: fmlite's defaults (`MLP(dim=2)`, `train(model, LinearPath(), sampler, steps, callback=..., "
         "eval_every=100)`, nothing else given); TorchCFM's tutorial (torchcfm `MLP(dim=2, time_varying=True)`, "
         "w=64, SELU; Adam lr 1e-3; batch 256; `ConditionalFlowMatcher(sigma=0.0)`); Meta's standalone example "
         "(`Flow(h=64)`, ELU; Adam lr 1e-2; batch 256; the path from `AffineProbPath(CondOTScheduler())`). "
         "Every recipe trains N(0, I) → fmlite's moons.", "",
         "| recipe | steps (per seed) | seconds (per seed) | median steps | median s | reached | fmlite faster by |",
         "|---|---|---|---|---|---|---|"]
    fm = b.get("fmlite defaults")
    fm_s = median([s for _, s, _ in fm]) if fm else float("nan")
    for name, runs in b.items():
        reached = sum(ed <= THRESHOLD for _, _, ed in runs)
        med_s = median([s for _, s, _ in runs])
        L.append(f"| {name} | {', '.join(str(n) for n, _, _ in runs)} | {', '.join(f'{s:.1f}' for _, s, _ in runs)}"
                 f" | {median([n for n, _, _ in runs]):.0f} | {med_s:.1f} | {reached}/{len(runs)} | "
                 f"{'–' if name == 'fmlite defaults' else fmt_ratio(med_s / fm_s)} |")
    L += ["", "\"fmlite faster by\" = peer median seconds / fmlite median seconds (target ≥ 2×). A seed that hit the "
          "cap counts its capped time.", ""]
    return L


def table_c(cfg, rows):
    L = ["## (c) Sampling: NFE, wall time and quality", "",
         f"`load_pretrained(\"moons_independent\")`, {cfg['n_c']} samples from the same noise, energy distance to "
         f"{cfg['n_c']} fresh moons; median wall time over {cfg['reps_c']} interleaved repetitions. fmlite: "
         "`fmlite.solvers.integrate`; Meta: `ODESolver.sample(step_size=1/steps)` (torchdiffeq fixed-grid methods; "
         "heun → heun2; torchdiffeq's rk4 is the 3/8-rule variant, fmlite's the classic one, hence their different "
         "results); NFE counted by wrapping the model.", "",
         "| NFE | method | fmlite ms | Meta ms | fmlite / Meta time | Meta calls | fmlite energy dist | Meta energy dist |",
         "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f_ms, m_ms = 1000 * median(r["fmlite_s"]), 1000 * median(r.get("meta_s", []))
        L.append(f"| {r['nfe']} | {r['method']} | {f_ms:.1f} | {m_ms:.1f} | {fmt_ratio(f_ms / m_ms)} | "
                 f"{r.get('meta_nfe', '–')} | {r['fmlite_ed']:.4f} | {r.get('meta_ed', float('nan')):.4f} |")
    return L + [""]


def table_d(cfg, total, rc, per, tail):
    L = ["## (d) Notebooks under nbval", "",
         f"One `pytest {cfg['notebooks']}` (strict nbval, pyproject addopts) in a subprocess: {total:.0f} s in all, "
         f"exit status {rc} ({tail}). Per notebook, the sum of its cells' times from the junit xml (kernel start "
         "not included):", "", "| notebook | seconds | passed |", "|---|---|---|"]
    L += [f"| {name} | {s:.1f} | {'yes' if ok else 'NO'} |" for name, (s, ok) in sorted(per.items())]
    return L + [""]


def table_e(cfg, e):
    L = ["## (e) Explorer response times", "",
         "Server-side time of one control change (compute + draw + picture encode), ms, from bench/explorers.py, one "
         f"torch thread, at `lecture_style(scale)` for scale {' and '.join(str(s) for s in cfg['scales'])}.", ""]
    for scale, (rows, how) in e.items():
        L += [f"Scale {scale} ({how}):", "", "| explorer | control | median | max | target median / max |",
              "|---|---|---|---|---|"]
        L += [f"| {r['explorer']} | {r['control']} | {r['median_ms']:.0f} | {r['max_ms']:.0f} | {r['target']} |"
              for r in rows]
        L.append("")
    return L


