"""bench/run.py and bench/peers.py: the peers' loops train the same objective, Meta's ODESolver agrees with
fmlite's solvers, the junit aggregation and the report. No timing is asserted; the peers' parts are skipped when
TorchCFM or flow_matching is not installed (`pip install -e ".[bench]"`)."""
import importlib.util
from argparse import Namespace
from pathlib import Path

import pytest
import torch

from fmlite.models import MLP
from fmlite.solvers import integrate

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _load("run")  # puts bench/ on sys.path, so its `import peers` and `import results_md` resolve
peers = _load("peers")
results_md = _load("results_md")


def _pair(n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g), 3 + torch.randn(n, 2, generator=g)


def test_torchcfm_sigma_zero_is_the_linear_path():
    pytest.importorskip("torchcfm")
    from torchcfm.conditional_flow_matching import ConditionalFlowMatcher
    x_0, x_1 = _pair()
    t, x_t, u_t = ConditionalFlowMatcher(sigma=0.0).sample_location_and_conditional_flow(x_0, x_1)
    assert t.shape == (7,)
    torch.testing.assert_close(x_t, (1 - t[:, None]) * x_0 + t[:, None] * x_1)
    torch.testing.assert_close(u_t, x_1 - x_0)


def test_meta_affine_path_is_the_linear_path():
    pytest.importorskip("flow_matching")
    from flow_matching.path import AffineProbPath
    from flow_matching.path.scheduler import CondOTScheduler
    x_0, x_1 = _pair(seed=1)
    t = torch.tensor([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0])
    s = AffineProbPath(scheduler=CondOTScheduler()).sample(t=t, x_0=x_0, x_1=x_1)
    torch.testing.assert_close(s.x_t, (1 - t[:, None]) * x_0 + t[:, None] * x_1)
    torch.testing.assert_close(s.dx_t, x_1 - x_0)


@pytest.mark.parametrize("method,meta", [("euler", "euler"), ("midpoint", "midpoint"), ("heun", "heun2")])
def test_meta_ode_solver_matches_fmlite(method, meta):
    pytest.importorskip("flow_matching")
    torch.manual_seed(0)
    model = MLP(hidden=16).eval()
    x_0 = torch.randn(9, 2, generator=torch.Generator().manual_seed(3))
    x, calls = peers.meta_solve(model, x_0, 3, meta)
    assert calls == integrate(model, x_0, 3, method).nfe
    torch.testing.assert_close(x, integrate(model, x_0, 3, method).x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["plain", "torchcfm", "meta"])
def test_every_loop_takes_steps_on_fresh_batches(name, one_thread):
    if name != "plain":
        pytest.importorskip({"torchcfm": "torchcfm", "meta": "flow_matching"}[name])
    torch.manual_seed(0)
    model = MLP(hidden=8)
    before = [p.detach().clone() for p in model.parameters()]
    drawn = []

    def sampler(n):
        drawn.append(n)
        return torch.randn(n, 2)

    step = getattr(peers, f"{name}_step")(model, sampler, batch=5)
    step()
    step()
    assert drawn == [5, 5]
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("build", ["torchcfm_model", "MetaFlow"])
def test_peer_networks_map_x_and_t_to_a_velocity(build):
    if build == "torchcfm_model":
        pytest.importorskip("torchcfm")
    model = getattr(peers, build)()
    x = torch.randn(4, 2)
    v = peers.velocity(model)(x, torch.full((4,), 0.3))
    assert v.shape == (4, 2)
    assert sum(p.numel() for p in model.parameters()) == 3 * 64 + 64 + 2 * (64 * 64 + 64) + 64 * 2 + 2


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="4">
<testcase classname="notebooks.00_start_here.ipynb" name="Cell 0" time="1.5" />
<testcase classname="notebooks.00_start_here.ipynb" name="Cell 1" time="2.25" />
<testcase classname="notebooks.03_training.ipynb" name="Cell 0" time="4.0" />
<testcase classname="notebooks.03_training.ipynb" name="Cell 1" time="0.5"><failure message="x">x</failure></testcase>
</testsuite></testsuites>"""


def test_per_notebook_sums_cells_and_flags_failures(tmp_path):
    xml = tmp_path / "j.xml"
    xml.write_text(JUNIT)
    assert run.per_notebook(xml) == {"00_start_here.ipynb": (3.75, True), "03_training.ipynb": (4.5, False)}


def test_report_has_every_table_and_ratio():
    names = ["fmlite train", "plain PyTorch", "TorchCFM loop", run.ALONE]
    rates = {(n, w, k): [r * k * 128 / w] for n, r in zip(names, (600.0, 300.0, 200.0, 800.0)) for w in (128, 256)
             for k in (1, 2)}
    results = dict(notes=[], a=(names, rates),
                   b={"fmlite defaults": [(1000, 2.0, 0.004)], "Meta standalone": [(3000, 8.0, 0.0049)]},
                   c=[dict(nfe=4, method="rk4", fmlite_s=[0.01], meta_s=[0.02], fmlite_ed=0.01, meta_ed=0.02,
                           meta_nfe=4)],
                   d=(50.0, 0, {"00_start_here.ipynb": (3.0, True)}, "8 passed"),
                   e={1.0: ([dict(explorer="00 trajectory", control="t", median_ms=20, max_ms=30,
                                  target="≤ 60 / 100")], "measure_all")})
    machine = dict(cores=2, cpu="cpu", load_start="0", load_end="0", date="today")
    text = results_md.report(run.QUICK, Namespace(quick=True, threads=None), machine, results, 90.0)
    for part in ("## (a)", "## (b)", "## (c)", "## (d)", "## (e)", "HISTORY.md"):
        assert part in text
    assert "| 1 | 128 | 600 | 300 | 200 | 800 | 2.00× | 3.00× | 4.00× |" in text
    assert "| 2 | 256 | 600 | 300 | 200 | 800 | 2.00× | 3.00× | 4.00× |" in text
    assert "1 thread, width 128: 3.00× (bound 4.00×)" in text  # against the fastest library (the plain loop is none)
    assert "| 4.00× |" in text  # Meta 8.0 s / fmlite 2.0 s
    assert "| 4 | rk4 | 10.0 | 20.0 | 0.50× |" in text
    assert "| 00_start_here.ipynb | 3.0 | yes |" in text


def test_time_to_quality_stops_at_the_threshold_and_reports_train_time(monkeypatch):
    """fmlite's row of (b) through the evaluation hook, with a stand-in `train` and quality (no peers needed)."""
    from fmlite.train import History
    values = iter([0.02, 0.004, 0.001])
    monkeypatch.setattr(run, "quality", lambda model, seed: next(values))

    def fake_train(model, path, sampler, steps, *, callback, eval_every, progress, seed):
        history = History()
        for done in range(eval_every, steps + 1, eval_every):
            history.steps, history.seconds = done, done / 100
            if callback(done, model):
                break
        return history

    monkeypatch.setattr(run, "train", fake_train)
    cfg = dict(run.QUICK, cap_b=1000, seeds_b=(0,))
    assert run.time_to_quality(cfg, False, False, hook=True) == {"fmlite defaults": [(200, 2.0, 0.004)]}


def test_network_and_adam_trains_the_network_on_its_fixed_batch():
    """The bound of part (a) takes real optimiser steps (on one fixed batch), so it cannot be beaten by skipping work."""
    from fmlite.models import MLP
    torch.manual_seed(0)
    model = MLP(hidden=16)
    before = [p.detach().clone() for p in model.parameters()]
    step = run.network_and_adam(model, batch=32)
    for _ in range(5):
        step()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_ratios_are_paired_within_each_round():
    """A slow round slows every runner: the ratio is taken within a round, then the median."""
    rates = {("fmlite", 128, 1): [300.0, 600.0, 450.0], ("A", 128, 1): [200.0, 500.0, 300.0],
             ("B", 128, 1): [100.0, 400.0, 350.0]}
    assert results_md._paired(rates, "fmlite", ["A", "B"], 128, 1) == [1.5, 1.2, 450.0 / 350.0]


def test_steps_per_second_takes_turns_in_rounds(monkeypatch, one_thread):
    """Part (a): train runs throughout and its callback runs every other runner's turn of chunk_a steps, in a
    rotating order; the warm-up round is not counted, and every runner gets one rate per counted round."""
    log = []

    def logged(name, make):
        def build(model, *args):
            step = make(model, *args)
            return lambda: (log.append(name), step())
        return build

    monkeypatch.setattr(run.peers, "plain_step", logged("plain", run.peers.plain_step))
    monkeypatch.setattr(run, "network_and_adam", logged("alone", run.network_and_adam))
    cfg = dict(run.QUICK, widths=(8,), threads_a=(1,), chunk_a=3, rounds_a=2)
    names, rates = run.steps_per_second(cfg, have_cfm=False, have_meta=False)
    assert names == ["fmlite train", "plain PyTorch", run.ALONE]
    assert all(len(rates[(n, 8, 1)]) == 2 and min(rates[(n, 8, 1)]) > 0 for n in names)
    turns = [log[i] for i in range(0, len(log), 3)]
    assert log == [name for name in turns for _ in range(3)]          # whole turns of chunk_a steps
    assert turns == ["plain", "alone", "alone", "plain", "plain", "alone"]   # rounds 0 (warm-up), 1, 2: rotated


# ----- bench/flow_maps.py and Meta's MeanFlow loop (issue 23, part c) --------------------------------------------------
def test_meta_meanflow_loop_takes_steps_on_fresh_batches(one_thread):
    pytest.importorskip("flow_matching")
    torch.manual_seed(0)
    model = peers.MetaMeanFlowMLP(hidden=8)
    before = [p.detach().clone() for p in model.parameters()]
    drawn = []

    def sampler(n):
        drawn.append(n)
        return torch.randn(n, 2)

    step = peers.meta_meanflow_step(model, sampler, batch=6)
    step()
    step()
    assert drawn == [6, 6]
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_meta_meanflow_map_is_their_one_step_sampler_in_our_time():
    from fmlite.flow_maps import sample_flow_map
    torch.manual_seed(0)
    model = peers.MetaMeanFlowMLP(hidden=8)
    x = torch.randn(5, 2)
    with torch.no_grad():
        theirs = x - model(x, torch.zeros(5), torch.ones(5))   # the notebook's cell "Sample from trained model"
        torch.testing.assert_close(sample_flow_map(peers.meta_meanflow_map(model), x, 1).x, theirs)


def _flow_maps_results():
    flow_maps = _load("flow_maps")
    rows = [dict(method=m, label=label, data=d, nfe=n, energy_distance=0.5 / n if m.startswith("fm") else 0.001,
                 seeds=[0.1], train_seconds=2.0) for m, label, _, n in flow_maps.ROWS for d in flow_maps.DATA]
    settings = dict(command="python bench/flow_maps.py", date="today", minutes=1.0, samples=5000, seeds=[0, 1, 2],
                    statistic="median", machine="cpu")
    choices = [dict(choice="recipe", data="moons", steps=3000, train_seconds=1.0, energy_distance_1=0.002,
                    energy_distance_2=0.003)]
    peer = dict(bar=0.01, cap=6000, data="moons", width=128, batch=256, threads=1,
                runs={"fmlite": [dict(steps=500, seconds=5.0, energy_distance=0.009)],
                      "Meta": [dict(steps=2000, seconds=20.0, energy_distance=0.0095)]},
                fmlite_seconds=5.0, meta_seconds=20.0, fmlite_steps=500, meta_steps=2000,
                reached={"fmlite": 1, "Meta": 1}, ratio=4.0)
    return flow_maps, dict(settings=settings, spread={"moons": 0.0004, "checkerboard": 0.0005}, rows=rows,
                           meanflow_choices=choices, peer=peer)


def test_flow_maps_report_has_every_table_and_verdict(tmp_path):
    flow_maps, results = _flow_maps_results()
    text = flow_maps.report(results)
    assert "| plain FM, Euler | 4 | 0.1250 | 2.0 | 0.1250 | 2.0 |" in text
    assert "| MeanFlow | 1 | 0.0010 | 2.0 | 0.0010 | 2.0 |" in text
    assert "moons: MeanFlow at 1 call 0.0010 against plain FM with 4 Euler calls 0.1250 (beats it)" in text
    assert "| recipe | 0.0020 | 0.0030 | 1.0 |" in text
    assert "| Meta | 2000 | 20.0 | 1/1 | 20.0 |" in text and "fmlite faster by 4.00x" in text
    assert "moons 0.0004, checkerboard 0.0005" in text


def test_flow_maps_section_is_spliced_once_before_the_history(tmp_path):
    flow_maps, results = _flow_maps_results()
    md = tmp_path / "RESULTS.md"
    md.write_text("# Benchmark results\n\n## (a) x\n\n## History\n\nold\n")
    for _ in range(2):
        flow_maps.splice(md, flow_maps.report(results))
    text = md.read_text()
    assert text.count("## Flow maps (bench/flow_maps.py)") == 1
    assert text.index("## (a) x") < text.index("## Flow maps") < text.index("## History") and text.endswith("old\n")


# ----- bench/discrete.py and the discrete section of bench/peers.py --------------------------------------------------
def test_the_shared_checkerboard_sampler_draws_the_grid_law():
    from fmlite.discrete import checkerboard_probabilities
    x = peers.checkerboard_sampler(128)(200_000)
    law = checkerboard_probabilities(128)
    assert x.dtype == torch.int64 and x.shape == (200_000, 2) and bool((law[x[:, 0], x[:, 1]] > 0).all())
    squares = torch.bincount(x[:, 0] // 32 * 4 + x[:, 1] // 32, minlength=16).double() / 200_000
    assert torch.allclose(squares, law.reshape(4, 32, 4, 32).sum((1, 3)).flatten(), atol=0.004)


def test_meta_mixture_path_is_fmlite_mixture_path():
    """Meta's MixtureDiscreteProbPath with kappa = t^2 keeps x_1 with probability t^2, else x_0, per token."""
    pytest.importorskip("flow_matching")
    from flow_matching.path import MixtureDiscreteProbPath
    from flow_matching.path.scheduler import PolynomialConvexScheduler
    torch.manual_seed(0)
    n = 40_000
    x_1 = torch.randint(0, 128, (n, 2))
    x_0 = torch.full_like(x_1, 128)
    t = torch.full((n,), 0.7)
    x_t = MixtureDiscreteProbPath(scheduler=PolynomialConvexScheduler(n=2.0)).sample(t=t, x_0=x_0, x_1=x_1).x_t
    assert bool(((x_t == x_1) | (x_t == 128)).all())
    assert abs((x_t == x_1).double().mean().item() - 0.49) < 0.01


def test_the_meta_discrete_loop_takes_steps_and_its_posterior_covers_the_real_tokens(one_thread):
    pytest.importorskip("flow_matching")
    torch.manual_seed(0)
    model = peers.MetaTokenMLP(vocab_size=9, hidden_dim=16)
    before = [p.detach().clone() for p in model.parameters()]
    step = peers.meta_discrete_step(model, peers.checkerboard_sampler(8), batch=32, mask_token=8)
    step()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    logits = peers.meta_discrete_posterior(model, 8)(torch.full((5, 2), 8), torch.full((5,), 0.5))
    assert logits.shape == (5, 2, 8)
    assert 0 <= peers.meta_discrete_tv(model, 8, 500, nfe=4) <= 1


def test_the_discrete_report_has_its_three_tables_and_the_verdict():
    discrete = _load("discrete")
    log = dict(fmlite=[(200, 14.0, 0.3), (400, 28.0, 0.24)], meta=[(200, 15.0, 0.5), (400, 30.0, 0.45)])
    results = dict(
        runs={"nfe,digits": dict(seconds=900, quick=False, date="today")},
        checkerboard=dict(samples=1000, bins=128, floor=0.04, nfe=[8, 16, 32, 64], train_steps=3000,
                          rows=[dict(source="mask", kappa="linear", tv=[0.3, 0.2, 0.1, 0.05], train_seconds=1.0)]),
        peer=dict(threshold=0.25, eval_samples=100, eval_floor=0.11, every=200, cap=3000, batch_size=4096, threads=1,
                  fmlite_steps=400, fmlite_seconds=28.0, fmlite_reached=True, meta_steps=1200, meta_seconds=90.0,
                  meta_reached=True, ratio=3.21, fmlite_ms_per_step=70.0, meta_ms_per_step=75.0,
                  meta_tv_with_meta_solver=0.2, log=log),
        digits=dict(confidence=0.82, real_confidence=0.89, ratio=0.92, class_shares=[0.1] * 10, nn_distance=2.5,
                    real_nn_distance=1.7, copies=0.01,
                    nfe_16=dict(confidence=0.8, real_confidence=0.89, ratio=0.9, class_shares=[0.1] * 10,
                                nn_distance=2.6, real_nn_distance=1.7, copies=0.0)))
    text = discrete.markdown(results)
    assert "| mask | linear | 0.3000 | 0.2000 | 0.1000 | 0.0500 |" in text
    assert "| data (floor) | – | 0.0400 | 0.0400 | 0.0400 | 0.0400 |" in text
    assert "**3.21** (goal (>= 2x) met)" in text and "fmlite: 200: 0.3, 400: 0.24; Meta: 200: 0.5, 400: 0.45." in text
    assert "| 64 | 0.82 | 0.89 | 0.92 | 10.0–10.0 % | 2.5 | 1.7 | 1.0 % |" in text
    assert 0 < discrete.floor(10_000, seed=0) < 0.6


def test_latent_bench_report_and_its_goals_follow_from_the_stored_rows():
    """bench/latent.py (notebook 11, a run of its own): data/latent_bench.json holds every row the notebook reads,
    its goal ratios are the ratios of those rows, and the markdown section names every row; no timing asserted."""
    import json
    latent = _load("latent")
    r = json.loads((BENCH.parent / "data" / "latent_bench.json").read_text())
    spaces = {row["space"] for row in r["rows"]}
    assert {"pixel", "vae", "ae", "vae2d"} <= spaces and {"real", "vae", "ae"} <= set(r["ceiling"])
    px = next(row for row in r["rows"] if row["space"] == "pixel" and row["w"] == 1.0)
    lat = next(row for row in r["rows"] if row["space"] == "vae" and row["w"] == 1.0)
    g = r["goals"]
    assert g["confidence_vs_pixel"] == pytest.approx(lat["confidence"] / px["confidence"], abs=1e-4)
    assert g["agreement_vs_ceiling"] == pytest.approx(lat["agreement"] / r["ceiling"]["vae"]["agreement"], abs=1e-4)
    assert g["time_ratio"] == pytest.approx(lat["ms_per_image"] / px["ms_per_image"], abs=1e-4)
    assert g["met"]["spread_vs_real"] == (abs(lat["spread"] / r["ceiling"]["real"]["spread"] - 1) <= 0.15)
    text = latent.markdown(r)
    assert text.startswith("## (f)") and all(row["name"] in text for row in r["rows"])


@pytest.mark.parametrize("space", ["sphere", "torus"])
def test_meta_geodesic_path_is_fmlites_and_its_euler_is_the_projected_naive_step(space):
    """bench/manifolds.py compares like with like: Meta's GeodesicProbPath gives fmlite's x_t and u_t, and its
    RiemannianODESolver euler step is fmlite's "naive" step on the sphere (x + h v, projected) and the Riemannian
    one on the flat torus."""
    pytest.importorskip("flow_matching")
    from flow_matching.path import GeodesicProbPath
    from flow_matching.path.scheduler import CondOTScheduler
    from flow_matching.utils.manifolds import FlatTorus, Sphere

    from fmlite.manifolds import GeodesicPath, ManifoldMLP, get_space, integrate_manifold
    ours = get_space(space)
    g = torch.Generator().manual_seed(4)
    x_0, x_1 = ours.sample_uniform(16, g), ours.sample_uniform(16, g)
    t = torch.rand(16, generator=g)
    meta = GeodesicProbPath(CondOTScheduler(), Sphere() if space == "sphere" else FlatTorus()).sample(
        t=t, x_0=x_0, x_1=x_1)
    s = GeodesicPath(ours).sample(x_0, x_1, t)
    torch.testing.assert_close(meta.x_t, s.x_t, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(meta.dx_t, s.u_t, atol=1e-4, rtol=1e-4)
    torch.manual_seed(0)
    model = ManifoldMLP(ours, hidden=16).eval()
    x = peers.meta_manifold_solve(model, x_0, 3, space)
    same = integrate_manifold(ours, model, x_0, 3, "naive" if space == "sphere" else "euler").x
    torch.testing.assert_close(x, same, atol=1e-5, rtol=1e-5)


def test_meta_manifold_loop_takes_steps_on_fresh_batches(one_thread):
    pytest.importorskip("flow_matching")
    from fmlite.manifolds import ManifoldMLP, sample_vmf_mixture
    torch.manual_seed(0)
    model = ManifoldMLP("sphere", hidden=8)
    before = [p.detach().clone() for p in model.parameters()]
    drawn = []

    def sampler(n):
        drawn.append(n)
        return sample_vmf_mixture(n, seed=None)
    step = peers.meta_manifold_step(model, sampler, "sphere", batch=5)
    step()
    step()
    assert drawn == [5, 5]
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
