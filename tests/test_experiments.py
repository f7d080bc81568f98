"""The experiment registry: loading, budgets, finding checks, currency, and the workflow."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from reprolib import experiments, stats
from reprolib.evaluate import PER_IMAGE_COLUMNS
from reprolib.experiments import Experiment, Run
from reprolib.provenance import REPO_ROOT
from reprolib.runs import write_evaluation


def _mark_scored(run_dir: Path) -> None:
    """What :func:`reprolib.evaluate.evaluate_run` leaves in a scored run folder (the scores
    themselves do not matter here)."""
    per_image = pd.DataFrame(columns=PER_IMAGE_COLUMNS)
    write_evaluation(run_dir, per_image, pd.DataFrame(columns=["dataset"]))


def _exp(checks) -> Experiment:
    runs = tuple(Run(n, "r") for n in ("A", "B", "C"))
    return Experiment("p/t", "t", "p", runs, {"datasets": ["Set5"]}, checks=tuple(checks))


def _scores(means: dict[str, float], seeds: int = 3, images: int = 12) -> pd.DataFrame:
    """Per-image PSNR of runs with the given true means: image effects shared by every run,
    small seed and residual noise (deterministic)."""
    rng = np.random.default_rng(0)
    image_effect = rng.normal(0.0, 1.5, images)
    rows = []
    for run, mu in means.items():
        for k in range(seeds):
            seed_effect = rng.normal(0.0, 0.03)
            for i in range(images):
                psnr = 28.0 + mu + image_effect[i] + seed_effect + rng.normal(0.0, 0.05)
                rows.append({"run": run, "seed": k, "dataset": "Set12", "setting": "sigma25",
                             "image": f"{i:02d}", "psnr": psnr})  # fmt: skip
    return pd.DataFrame(rows)


def _facts(runs, seeds=3, converged=True, gain=2.0) -> dict[str, stats.RunFacts]:
    return {r: stats.RunFacts(seeds, converged, 0.01 if converged else 0.2, gain) for r in runs}


def _check(exp, means, **facts):
    return experiments.check_findings(
        exp, "cpu", pd.DataFrame(), scores=_scores(means), facts=_facts(means, **facts)
    )


def test_order_increasing_and_peak_checks():
    exp = _exp(
        [
            {"finding": "f-order", "kind": "order", "runs": ["A", "B", "C"]},
            {"finding": "f-inc", "kind": "increasing", "runs": ["C", "B", "A"]},
            {"finding": "f-peak", "kind": "peak", "run": "B"},
        ]
    )
    got = _check(exp, {"A": 1.0, "B": 0.5, "C": 0.0})
    assert dict(zip(got.claim_id, got.verdict)) == {
        "f-order": "holds", "f-inc": "holds", "f-peak": "does not hold"
    }  # fmt: skip
    assert got.conclusive.all() and (got.budget == "cpu").all() and (got.p_value < 0.05).all()
    assert got.margin_db[0] == pytest.approx(0.5, abs=0.1)  # weakest adjacent pair
    got = _check(exp, {"A": 0.0, "B": 0.5, "C": -0.5})
    assert dict(zip(got.claim_id, got.verdict)) == {
        "f-order": "does not hold", "f-inc": "does not hold", "f-peak": "holds"
    }  # fmt: skip


def test_an_ordering_within_noise_is_inconclusive_with_the_interval_as_reason():
    exp = _exp([{"finding": "f", "kind": "order", "runs": ["A", "B", "C"]}])
    got = _check(exp, {"A": 1.0, "B": 0.5, "C": 0.5})  # B vs C: no true difference
    assert got.verdict[0] == "inconclusive" and not got.holds[0]
    assert got.reason[0].startswith("interval includes 0 (weakest pair B - C")
    assert got.ci_low[0] < 0 < got.ci_high[0]


def test_the_verdict_rule_gates_seeds_convergence_learning_and_missing_runs():
    exp = _exp([{"finding": "f", "kind": "order", "runs": ["A", "B"]}])
    means = {"A": 1.0, "B": 0.0}
    assert _check(exp, means).verdict[0] == "holds"
    for kw, why in [
        (dict(seeds=1), "too few seeds (< 3): A (1), B (1)"),
        (dict(converged=False), "not converged"),
        (dict(gain=0.05), "learned nothing"),
    ]:
        got = _check(exp, means, **kw)
        assert got.verdict[0] == "inconclusive" and got.reason[0].startswith(why), got.reason[0]
        assert "the intervals alone would say 'holds'" in got.reason[0]
    got = experiments.check_findings(
        exp, "cpu", pd.DataFrame(), scores=_scores({"A": 1.0}), facts=_facts(["A"])
    )
    assert got.verdict[0] == "inconclusive" and got.reason[0] == "not trained at this budget: B"


def test_an_untrained_baseline_needs_no_seeds_or_convergence_but_the_trained_run_does():
    exp = _exp([{"finding": "f", "kind": "peak", "run": "A", "runs": ["A", "BM3D"]}])
    scores = _scores({"A": 1.0, "BM3D": 0.0})
    scores = scores[(scores.run == "A") | (scores.seed == 0)]  # BM3D: measured once
    bm3d = stats.RunFacts(1, True, 0.0, np.inf, trained=False)
    facts = {**_facts(["A"]), "BM3D": bm3d}
    got = experiments.check_findings(exp, "cpu", pd.DataFrame(), scores=scores, facts=facts)
    assert got.verdict[0] == "holds" and got.seeds[0] == 3
    assert "BM3D: no training" in got.runs[0]
    facts = {**_facts(["A"], seeds=2), "BM3D": bm3d}
    got = experiments.check_findings(exp, "cpu", pd.DataFrame(), scores=scores, facts=facts)
    assert got.verdict[0] == "inconclusive"
    assert got.reason[0].startswith("too few seeds (< 3): A (2);"), got.reason[0]


def test_baseline_scores_are_the_protocol_measurements_on_the_runs_cells(monkeypatch, tmp_path):
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    (tmp_path / "protocol").mkdir()
    rows = [
        # memnet_denoise and red score alike (one measurement kept); dncnn_denoise does not
        # (uint8 output), and sigma70 / BSD68 are cells the runs were not scored on.
        ("memnet_denoise", "BSD200", "sigma50", "BM3D", "1", 25.0),
        ("red", "BSD200", "sigma50", "BM3D", "1", 25.0),
        ("memnet_denoise", "BSD200", "sigma70", "BM3D", "1", 23.0),
        ("dncnn_denoise", "BSD200", "sigma50", "BM3D", "1", 24.0),
        ("memnet_denoise", "BSD200", "sigma50", "JPEG", "1", 20.0),
    ]
    cols = ["protocol", "dataset", "setting", "method", "image", "psnr"]
    pd.DataFrame(rows, columns=cols).assign(ssim=0.7).to_csv(
        tmp_path / "protocol" / "per_image.csv", index=False
    )
    exp = Experiment(
        "p/t", "t", "p", (Run("A", "memnet_denoise_identity_adam"),), {}, baselines=("BM3D",)
    )
    runs_scores = pd.DataFrame(
        [{"run": "A", "method": "A", "seed": 0, "dataset": "BSD200", "setting": "sigma50",
          "image": "1", "psnr": 26.0, "ssim": 0.8}]
    )  # fmt: skip
    got = experiments.baseline_scores(exp, runs_scores, "cpu")
    assert got[["run", "seed", "setting", "image", "psnr"]].values.tolist() == [
        ["BM3D", 0, "sigma50", "1", 25.0]
    ]
    assert set(experiments.baseline_facts(exp, got)) == {"BM3D"}
    none = experiments.baseline_scores(Experiment("p/t", "t", "p", exp.runs, {}), runs_scores,
                                       "cpu")  # fmt: skip
    assert none.empty
    # an entry without baselines: adding the (empty) baseline scores keeps the numbers numeric
    both = pd.concat([runs_scores, none], ignore_index=True)
    assert both["psnr"].dtype == np.float64 and both["seed"].dtype == np.int64


def test_an_interior_peak_needs_an_inner_run_above_both_ends():
    exp = _exp([{"finding": "f", "kind": "interior_peak", "runs": ["A", "B", "C"]}])
    assert _check(exp, {"A": 0.0, "B": 0.6, "C": 0.1}).verdict[0] == "holds"
    assert _check(exp, {"A": 0.0, "B": 0.3, "C": 0.9}).verdict[0] == "does not hold"
    assert _check(exp, {"A": 0.0, "B": 0.0, "C": 0.0}).verdict[0] == "inconclusive"


def test_input_baseline_scores_the_degraded_input_on_the_cells_the_runs_were_scored_on(
    monkeypatch, tmp_path
):
    shutil.copytree(experiments.claims.claims_dir(), tmp_path / "claims")
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    exp = Experiment("p/t", "t", "p", (Run("A", "r"),), {})
    run_dir = exp.run_dir(exp.runs[0], "cpu")
    run_dir.mkdir(parents=True)
    (run_dir / "train_summary.json").write_text("{}")
    pd.DataFrame(
        [{"protocol": "memnet_sr", "dataset": "Set5", "setting": "x2", "psnr": 35.0,
          "ssim": 0.95, "n_images": 5}]
    ).to_csv(run_dir / "metrics.csv", index=False)  # fmt: skip
    base = experiments.input_baseline(exp, "cpu")
    # Bicubic x2 on Set5 under MemNet's protocol: 33.66 dB in MemNet Table 4.
    assert base.psnr[0] == pytest.approx(33.66, abs=0.02)
    assert (run_dir.parent / "input_baseline.csv").exists()
    cached = experiments.input_baseline(exp, "cpu")  # read back: the very same numbers
    assert (cached.psnr[0], cached.ssim[0]) == (base.psnr[0], base.ssim[0])
    summ = experiments.summary(exp, "cpu")
    gain = summ.set_index("metric").loc["psnr", "gain"]
    assert gain == pytest.approx(35.0 - base.psnr[0])


def test_unknown_ids_and_budgets_are_rejected():
    with pytest.raises(KeyError, match="unknown experiment"):
        experiments.get("memnet/table99")
    with pytest.raises(ValueError, match="unknown budget"):
        experiments.check_budget("huge")


def test_registry_entries_are_well_formed():
    from reprolib import claims, recipes
    from reprolib.train import build_model

    reg = experiments.load()
    assert len(reg) >= 10
    tables = set(claims.load_claims()[["paper", "table"]].itertuples(index=False, name=None))
    finding_ids = set(claims.load_findings().claim_id)
    targets = yaml.safe_load((REPO_ROOT / "reprolib" / "protocol_targets.yaml").read_text())
    untrained = {t["method"] for t in targets} - {"DnCNN"}  # published weights: a trained model
    from reprolib.figures import FIGURES

    for eid, e in reg.items():
        assert eid.startswith(e.paper + "/")
        # the report renders title and note as Markdown: a raw tag (e.g. "VDSR_x<s>") would
        # strike through the rest of the page
        assert not re.search(r"<[A-Za-z/][^>]*>", f"{e.title} {e.note}"), f"{eid}: HTML in note"
        assert set(e.analyses) <= set(FIGURES), f"{eid}: unknown analyses {e.analyses}"
        for t in e.tables:
            assert (e.paper, t) in tables, f"{eid}: no claims for {t}"
        for c in e.checks:
            assert c["finding"] in finding_ids, f"{eid}: unknown finding {c['finding']}"
            named = c.get("runs", []) + ([c["run"]] if "run" in c else [])
            known = {r.name for r in e.runs} | set(e.baselines)
            assert set(named) <= known, f"{eid}: check names unknown runs"
        assert set(e.baselines) <= untrained, f"{eid}: baselines not measured by the protocol"
        for finding in e.unchecked:  # a finding is either checked here or said not to be
            assert finding in finding_ids, f"{eid}: unknown finding {finding}"
            assert finding not in {c["finding"] for c in e.checks}, f"{eid}: {finding} twice"
        for r in e.runs:
            # Unknown recipes, bad overrides or model keywords raise here, before any training.
            recipe = recipes.get_recipe(r.recipe, sigma=r.sigma, budget="smoke", **r.overrides)
            build_model(recipe)


def test_inpainting_entry_scores_the_claimed_cells_and_leaves_the_foe_finding_unchecked():
    """rednet/sec5.6: RED30's LIVE1 cells of the claims file are its evaluation grid; the
    finding compares RED30 with FoE, which is cited, so no check can express it."""
    from reprolib import claims

    exp = experiments.get("rednet/sec5.6")
    c = claims.load_claims("rednet")
    cells = c[(c.table == "sec5.6") & (c.method == "RED30")]
    grid = exp.recipe_for(exp.runs[0], "cpu")
    assert set(zip(cells.dataset, cells.setting)) == {
        (d, s) for d in grid.test_sets for s in grid.test_settings
    }
    assert grid.name == "red_inpaint" and grid.model == "red30" and exp.runs[0].label == "RED30"
    assert exp.tables == ("sec5.6",) and exp.seeds == (0, 1, 2)
    assert exp.checks == () and "FoE" in exp.note


def test_inpainting_entry_trains_and_scores_at_the_smoke_budget(tmp_path, data_root):
    """The whole path of Sec. 5.6: corrupted BSD300 patches, RED30, LIVE1 font10/font20/scratch
    (first image only; ~20 s on one busy core)."""
    from reprolib import evaluate, train

    exp = experiments.get("rednet/sec5.6")
    recipe = exp.recipe_for(exp.runs[0], "smoke")
    summary = train.train(recipe, None, tmp_path, device="cpu", progress=False, threads=1)
    assert summary["status"] == "finished"
    m = evaluate.evaluate_run(tmp_path, limit=1, threads=1, progress=False)
    assert list(m.setting) == ["font10", "font20", "scratch"]
    assert (m.dataset == "LIVE1").all() and (m.protocol == "red_inpaint").all()
    assert (m.n_images == 1).all() and m.psnr.between(5, 60).all()


def test_spec_hash_changes_with_budget_overrides_and_recipe_values(monkeypatch):
    exp = Experiment("p/t", "t", "p", (Run("A", "red_denoise", sigma=50),), {})
    a = exp.runs[0]
    b = Run("B", "red_denoise", {"model": "red10"}, sigma=50)
    assert exp.spec_hash(a, "cpu") != exp.spec_hash(a, "smoke")
    assert exp.spec_hash(a, "cpu") != exp.spec_hash(b, "cpu")
    before = exp.spec_hash(a, "cpu")
    # editing the recipe itself (here: its learning rate) makes finished runs stale ...
    orig = experiments.recipes.get_recipe
    monkeypatch.setattr(
        experiments.recipes, "get_recipe", lambda *x, **k: orig(*x, **{**k, "lr": 5e-4})
    )
    assert exp.spec_hash(a, "cpu") != before
    monkeypatch.undo()
    # ... but its citation text does not
    monkeypatch.setattr(
        experiments.recipes, "get_recipe", lambda *x, **k: orig(*x, **{**k, "source": "edited"})
    )
    assert exp.spec_hash(a, "cpu") == before


@pytest.mark.skipif(
    shutil.which("snakemake") is None
    and not experiments.REPO_ROOT.joinpath(".venv/bin/snakemake").exists(),
    reason="snakemake not installed",
)
def test_snakemake_dry_run_lists_exactly_the_missing_runs():
    exe = shutil.which("snakemake") or str(experiments.REPO_ROOT / ".venv/bin/snakemake")
    out = subprocess.run(
        [exe, "-n", "-c2", "--config", "budget=cpu"],
        cwd=experiments.REPO_ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    jobs = set(re.findall(r"wildcards: experiment=(\S+), run=(\S+), seed=(\d+)", out.stdout))
    status = experiments.run_status(["cpu"])
    missing = status[status["state"] != "current"]
    assert jobs == {(r.experiment, r.run, str(r.seed)) for r in missing.itertuples()}
    assert "rule reports" in out.stdout or not jobs


def test_run_skips_current_resumes_unfinished_and_overwrites_stale(monkeypatch, tmp_path):
    """`reprolib run`: a current run is skipped, a run with no stamp continues (no overwrite),
    and a finished run whose spec changed is trained again from scratch (overwrite)."""
    from reprolib import runner

    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    exp = Experiment("p/t", "t", "p", (Run("A", "red_denoise", sigma=50),), {})
    monkeypatch.setattr(experiments, "get", lambda eid: exp)
    calls = []

    def fake_execute(nb, out, params, **kw):
        calls.append((out.name, dict(params)))
        if out.name == "train.ipynb":
            _mark_scored(out.parent)

    monkeypatch.setattr(runner, "execute", fake_execute)
    d = exp.run_dir(exp.runs[0], "smoke")
    experiments.run("p/t", "smoke")  # nothing there: train, no overwrite
    assert calls[0][1]["overwrite"] is False
    calls.clear()
    experiments.run("p/t", "smoke")  # current: only the report
    assert [c[0] for c in calls] == ["report_smoke.ipynb"]
    calls.clear()
    stamp = json.loads((d / "spec.json").read_text())
    (d / "spec.json").write_text(json.dumps({**stamp, "hash": "an-older-spec"}))
    experiments.run("p/t", "smoke")  # stale: trained again over the old run
    assert calls[0][1]["overwrite"] is True
    assert json.loads((d / "spec.json").read_text())["hash"] == stamp["hash"]
    # Stale only because the evaluation grid changed: the finished weights are scored again.
    calls.clear()
    trained = experiments.recipes.recipe_to_dict(exp.recipe_for(exp.runs[0], "smoke"))
    (d / "train_summary.json").write_text(json.dumps({"status": "finished",
                                                      "recipe_fields": trained}))  # fmt: skip
    (d / "model.pt").write_bytes(b"weights")
    exp.eval["sets"] = ["Set12"]  # a new grid: a new spec hash, the same training recipe
    experiments.run("p/t", "smoke")
    assert calls[0][1]["overwrite"] is False


def test_a_run_paused_by_the_deadline_resumes_and_later_runs_wait(monkeypatch, tmp_path):
    """`reprolib run --max-minutes`: the run in progress gets the minutes left and, paused with
    a checkpoint (no metrics), no spec stamp - so the next call resumes it (no overwrite) instead
    of training it again as a stale run; once the deadline has passed no run starts."""
    from reprolib import runner

    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    runs_ = (Run("A", "red_denoise", sigma=50), Run("B", "red_denoise", sigma=30))
    exp = Experiment("p/t", "t", "p", runs_, {})
    monkeypatch.setattr(experiments, "get", lambda eid: exp)
    calls = []

    def pausing_execute(nb, out, params, **kw):  # training stops at its deadline: no metrics
        calls.append((out.parent.name, out.name, dict(params)))
        if out.name == "train.ipynb":
            out.parent.mkdir(parents=True, exist_ok=True)
            (out.parent / "checkpoint.pt").write_bytes(b"state")

    monkeypatch.setattr(runner, "execute", pausing_execute)
    experiments.run("p/t", "smoke", deadline=time.time() + 600)
    trained = [c for c in calls if c[1] == "train.ipynb"]
    assert [c[0] for c in trained] == ["A", "B"]
    assert 9.0 < trained[0][2]["max_minutes"] <= 10.0
    d = exp.run_dir(exp.runs[0], "smoke")
    assert not (d / "spec.json").exists()  # paused: not stamped as scored
    assert experiments.run_state(exp, exp.runs[0], "smoke") == "partial"
    calls.clear()
    experiments.run("p/t", "smoke")  # no deadline: resumes, never overwrites
    assert [c[2]["overwrite"] for c in calls if c[1] == "train.ipynb"] == [False, False]
    assert all(c[2]["max_minutes"] is None for c in calls if c[1] == "train.ipynb")
    calls.clear()
    experiments.run("p/t", "smoke", deadline=time.time() - 1)  # passed: only the report
    assert [c[1] for c in calls] == ["report_smoke.ipynb"]


def test_cli_run_rejects_a_non_positive_max_minutes(capsys):
    from reprolib import cli

    assert cli.main(["run", "memnet/table1", "--max-minutes", "0"]) == 2
    assert "--max-minutes must be positive" in capsys.readouterr().err


def test_a_run_with_the_same_training_recipe_reuses_trained_weights(
    monkeypatch, tmp_path, finished_run
):
    """Two entries sharing a training recipe (e.g. NLRN T=4 in Table 2 and Fig. 6) train once;
    the second copies the weights and is evaluated on its own grid. A different recipe value
    (here the learning rate) is never matched."""
    from reprolib import recipes, runner

    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    first = Experiment("p/a", "a", "p", (Run("X", "red_denoise", sigma=50),), {})
    second = Experiment("p/b", "b", "p", (Run("Y", "red_denoise", sigma=50),), {"sets": ["Set12"]})
    donor = finished_run(first)
    (donor / "log.csv").write_text("iteration,loss\n")
    target = second.run_dir(second.runs[0], "smoke")
    assert experiments.find_trained(second.recipe_for(second.runs[0], "smoke")) == donor
    other = recipes.with_overrides(second.recipe_for(second.runs[0], "smoke"), {"lr": 1.0})
    assert experiments.find_trained(other) is None
    monkeypatch.setattr(experiments, "get", lambda eid: second)
    params = []

    def fake_execute(nb, out, p, **kw):
        params.append(dict(p))
        _mark_scored(out.parent)

    monkeypatch.setattr(runner, "execute", fake_execute)
    experiments.run("p/b", "smoke")
    assert (target / "model.pt").read_bytes() == b"weights"
    assert (target / "REUSED_FROM").read_text().strip() == "p/a/smoke/X"
    assert params[0]["overrides"]["test_sets"] == ["Set12"] and params[0]["overwrite"] is False


def test_run_trains_only_the_named_runs_and_rejects_unknown_names(monkeypatch, tmp_path, capsys):
    """`reprolib run ID --runs B` trains B alone (then the entry's report); a run name the
    entry does not have stops the command before any training, naming the entry's runs."""
    from reprolib import cli, runner

    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    runs = (Run("A", "red_denoise", sigma=50), Run("B", "red_denoise", sigma=30))
    exp = Experiment("p/t", "t", "p", runs, {})
    monkeypatch.setattr(experiments, "get", lambda eid: exp)
    calls = []

    def fake_execute(nb, out, params, **kw):
        calls.append(str(Path(out).relative_to(tmp_path)))
        if Path(out).name == "train.ipynb":
            _mark_scored(Path(out).parent)

    monkeypatch.setattr(runner, "execute", fake_execute)
    assert cli.main(["run", "p/t", "--budget", "smoke", "--runs", "B"]) == 0
    assert calls == ["p/t/smoke/B/train.ipynb", "p/t/report_smoke.ipynb"]
    calls.clear()
    assert cli.main(["run", "p/t", "--budget", "smoke", "--runs", "B", "C"]) == 2
    assert calls == []
    assert "p/t has no run 'C'; its runs: A, B" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("a", "b", "budget"),
    [
        *[(a, b, budget) for budget in ("cpu", "gpu") for a, b in [
            ("nlrn/table1:embedded_gaussian", "nlrn/table2:NLRN"),  # NLRN's default distance
            ("memnet/table2:MemNet_291_MS", "memnet/table1:MemNet"),  # 291 images, multi-sup.
            ("memnet/table4:MemNet", "memnet/table1:MemNet"),
            ("nlrn/table6:MemNet", "memnet/table1:MemNet"),  # nlrn_sr scores as memnet_sr
            ("nlrn/table6:VDSR", "memnet/table4:VDSR"),
            ("rednet/table4:VDSR_x3_Set14", "rednet/table4:VDSR_x2"),  # one VDSR, all scales
            ("rednet/table2:RED20", "rednet/fig6:RED20"),
            ("rednet/table3:RED30_sigma10", "rednet/table2:RED30_sigma10"),  # per-level RED30
            ("nlrn/table5:RED_sigma70", "rednet/table2:RED30_sigma70"),
            ("nlrn/table3:RED", "rednet/table2:RED30"),
            ("nlrn/table3:NLRN_400", "nlrn/table4:NLRN_sigma50"),
            ("nlrn/table3:NLRN_300", "nlrn/table5:NLRN_sigma50"),
            ("nlrn/table3:MemNet", "memnet/table3:MemNet"),  # one model for sigma 30/50/70
            ("nlrn/table5:MemNet", "memnet/table3:MemNet"),
            ("rednet/fig7:Block2_RED", "rednet/fig6:RED20"),  # each sweep's default point
            ("rednet/fig8:no_downsample", "rednet/fig6:RED20"),
            ("rednet/fig10:K3", "rednet/fig6:RED20"),
            ("rednet/fig11:P50", "rednet/fig6:RED20"),
            ("rednet/fig12:S2", "rednet/fig6:RED20"),
        ]],
        ("nlrn/table2:NLRN", "nlrn/fig6:T4", "cpu"),  # T = 4 is the cpu budget's unrolling
        ("rednet/fig9:F32", "rednet/fig6:RED20", "cpu"),  # 32 channels is the cpu budget's
    ],
)  # fmt: skip
def test_runs_the_papers_describe_as_one_network_train_one_recipe(a, b, budget):
    """The registry's shared runs really share a training recipe, so their weights are trained
    once (an explicit default value in one of them would make them look different)."""
    from reprolib import recipes

    def recipe(ref: str):
        eid, name = ref.split(":")
        exp = experiments.get(eid)
        return exp.recipe_for(next(r for r in exp.runs if r.name == name), budget)

    assert recipes.recipe_diff(recipe(a), recipe(b), training_only=True) == []
    other = experiments.get("nlrn/table1")  # and a real ablation is a different recipe
    euclid = other.recipe_for(next(r for r in other.runs if r.name == "euclidean"), budget)
    assert recipes.recipe_diff(euclid, recipe("nlrn/table2:NLRN"), training_only=True) != []


def test_run_status_and_progress_read_each_runs_state_from_results(monkeypatch, tmp_path):
    """current (scored under this spec), stale (scored under another), partial (training
    started), not run; reused weights count no training time, and a missing run whose recipe
    was trained elsewhere says so."""
    from reprolib import recipes

    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    runs = tuple(Run(n, "red_denoise", sigma=50) for n in ("A", "B", "C")) + (
        Run("D", "red_denoise", sigma=30),
    )
    exp = Experiment("p/t", "t", "p", runs, {})
    monkeypatch.setattr(experiments, "load", lambda: {"p/t": exp})
    budget = "smoke"

    def scored(name: str, spec_hash: str, wall_s: float, reused: bool = False) -> None:
        d = exp.run_dir(next(r for r in runs if r.name == name), budget)
        _mark_scored(d)
        (d / "spec.json").write_text(json.dumps({"hash": spec_hash}))
        fields = recipes.recipe_to_dict(exp.recipe_for(runs[0], budget))
        (d / "train_summary.json").write_text(json.dumps(
            {"status": "finished", "recipe_fields": fields, "iterations": 10, "wall_s": wall_s}
        ))  # fmt: skip
        (d / "model.pt").write_bytes(b"w")
        if reused:
            (d / "REUSED_FROM").write_text("p/t/smoke/A\n")

    scored("A", exp.spec_hash(runs[0], budget), 3600.0)
    scored("B", exp.spec_hash(runs[1], budget), 3600.0, reused=True)
    scored("C", "an-older-spec", 7200.0)
    partial = exp.run_dir(runs[3], budget)
    partial.mkdir(parents=True)
    (partial / "log.csv").write_text("iteration,loss\n")

    status = experiments.run_status([budget]).set_index("run")
    assert status["state"].to_dict() == {"A": "current", "B": "current", "C": "stale",
                                         "D": "partial"}  # fmt: skip
    assert status.loc["B", "reused_from"] == "p/t/smoke/A"
    assert status.loc["C", "weights_at"] == "p/t/smoke/A"  # same sigma-50 recipe, finished
    assert status.loc["D", "weights_at"] == ""  # sigma 30: nothing trained
    row = experiments.progress(budget).iloc[0]
    assert (row["runs"], row["current"], row["training_h"]) == (4, 2, 1.0)
    assert row["missing"] == "C (stale; trained weights exist), D (partial)"
    assert row["command"] == "reprolib run p/t --budget smoke"
    assert set(experiments.run_status(["cpu"])["state"]) == {"not run"}


def test_per_image_scores_and_each_runs_lowest_image(monkeypatch, tmp_path):
    """Per-image scores of every scored run (image names stay strings: "01", not 1), and per
    run and cell the lowest image with its distance below the run's median, by hand."""
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    exp = Experiment("p/t", "t", "p", (Run("A", "r"), Run("B", "r", method="Bee"), Run("C", "r")),
                     {})  # fmt: skip
    for name, psnr in (("A", [30.0, 28.0, 14.0]), ("B", [29.0, 29.5, 30.5])):
        d = exp.run_dir(next(r for r in exp.runs if r.name == name), "cpu")
        d.mkdir(parents=True)
        pd.DataFrame({
            "protocol": "p", "dataset": "Set12", "setting": "sigma25", "method": "m",
            "image": ["01", "02", "03"], "psnr": psnr, "ssim": [0.8, 0.8, 0.5], "seconds": 1.0,
        }).to_csv(d / "per_image.csv", index=False)  # fmt: skip
    scores = experiments.per_image(exp, "cpu")
    assert len(scores) == 6 and set(scores["run"]) == {"A", "B"}  # C has not been scored
    assert scores.loc[scores["run"] == "B", "method"].unique().tolist() == ["Bee"]
    assert scores["image"].tolist()[:3] == ["01", "02", "03"]
    low = experiments.lowest_images(scores).set_index("run")
    assert low.loc["A", "image"] == "03" and low.loc["B", "image"] == "01"
    assert low.loc["A", "median"] == 28.0 and low.loc["A", "below_median"] == 14.0
    assert low.loc["B", "below_median"] == pytest.approx(0.5)
    empty = experiments.per_image(Experiment("p/u", "u", "p", (Run("Z", "r"),), {}), "cpu")
    assert empty.empty and experiments.lowest_images(empty).empty


def test_reports_entries_rerenders_only_entries_with_scored_runs_and_trains_nothing(
    monkeypatch, tmp_path
):
    """`reprolib reports --entries`: each entry with a current run gets its report re-executed
    (no training notebook), before the summary pages that read the reports' CSVs."""
    from reprolib import chapters, cli, runner

    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    done = Experiment("p/done", "d", "p", (Run("A", "red_denoise", sigma=50),), {})
    empty = Experiment("p/empty", "e", "p", (Run("B", "red_denoise", sigma=50),), {})
    registry = {"p/done": done, "p/empty": empty}
    monkeypatch.setattr(experiments, "load", lambda: registry)
    monkeypatch.setattr(experiments, "get", registry.__getitem__)
    monkeypatch.setattr(chapters, "write_toc", lambda: "")
    monkeypatch.setattr(chapters, "write_headline", lambda: "")
    d = done.run_dir(done.runs[0], "cpu")
    _mark_scored(d)
    (d / "spec.json").write_text(json.dumps({"hash": done.spec_hash(done.runs[0], "cpu")}))
    calls = []
    monkeypatch.setattr(
        runner, "execute", lambda nb, out, params, title=None: calls.append((nb, str(out)))
    )
    assert cli.main(["reports", "--entries", "--budget", "cpu"]) == 0
    assert calls[0] == (experiments.REPORT_NOTEBOOK, str(tmp_path / "p/done/report_cpu.ipynb"))
    assert not any("train" in nb or "p/empty" in out for nb, out in calls)
    assert [nb for nb, _ in calls[1:3]] == ["notebooks/comparison.ipynb",
                                            "notebooks/scoreboard.ipynb"]  # fmt: skip


def test_an_entry_spanning_tables_lists_each_measured_cell_once(monkeypatch, tmp_path):
    """RED's Tables 4, 5 and 6 report Set5, Set14 and BSD100: a RED30 cell appears once, under
    the table that claims it (Set5 x3 = 33.82 dB in Table 4), not once per table."""
    shutil.copytree(experiments.claims.claims_dir(), tmp_path / "claims")
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    exp = Experiment(
        "rednet/t", "t", "rednet", (Run("RED30", "red_sr"),), {},
        tables=("table4", "table5", "table6"),
    )  # fmt: skip
    run_dir = exp.run_dir(exp.runs[0], "cpu")
    run_dir.mkdir(parents=True)
    (run_dir / "train_summary.json").write_text("{}")
    cells = [("Set5", 5), ("Set14", 14), ("Urban100", 100)]  # Urban100: claimed by no table
    pd.DataFrame(
        [{"protocol": "red_sr", "dataset": d, "setting": "x3", "psnr": 30.0, "ssim": 0.9,
          "n_images": n} for d, n in cells]
    ).to_csv(run_dir / "metrics.csv", index=False)  # fmt: skip
    pd.DataFrame(
        [{"protocol": "red_sr", "dataset": d, "setting": "x3", "n_images": n, "psnr": 28.0,
          "ssim": 0.8} for d, n in cells]
    ).to_csv(run_dir.parent / "input_baseline.csv", index=False)  # fmt: skip
    summ = experiments.summary(exp, "cpu")
    psnr = summ[summ.metric == "psnr"].set_index("dataset")
    assert len(psnr) == 3 and not summ.duplicated(["dataset", "setting", "metric"]).any()
    assert psnr.loc["Set5", "table"] == "table4" and psnr.loc["Set5", "claimed"] == 33.82
    assert psnr.loc["Set14", "table"] == "table5"
    assert psnr.loc["Urban100", "table"] == "table4" and pd.isna(psnr.loc["Urban100", "claimed"])
    assert (psnr["gain"] == 2.0).all()
    # Writing it replaces this budget's rows whole (a stale cell goes), other budgets stay.
    stale = summ.iloc[[0]].assign(table="table6", dataset="Set5")
    smoke = summ.iloc[[0]].assign(budget="smoke")
    pd.concat([stale, smoke]).to_csv(exp.folder / "summary.csv", index=False)
    monkeypatch.setattr(experiments, "get", lambda eid: exp)
    experiments.report("rednet/t", "cpu")
    written = pd.read_csv(exp.folder / "summary.csv")
    assert len(written) == len(summ) + 1 and (written.budget == "smoke").sum() == 1
    assert not ((written.table == "table6") & (written.dataset == "Set5")).any()


def test_checking_entries_names_each_entry_that_judges_a_finding_once():
    checking = experiments.checking_entries(experiments.load())
    assert checking["memnet-tab1-connections"] == ["memnet/table1"]
    assert checking["nlrn-tab5-mv"] == ["nlrn/table5"]
    assert all(len(ids) == len(set(ids)) for ids in checking.values())


def test_unchecked_reasons_name_the_entry_that_gives_them():
    reasons = experiments.unchecked_reasons(experiments.load())
    assert reasons["rednet-tab8-blind-sr"].endswith("(registry entry rednet/table8)")
    assert "CSCN" in reasons["rednet-tab8-blind-sr"]
    checking = experiments.checking_entries(experiments.load())
    assert not set(reasons) & set(checking), "a finding both checked and said uncheckable"


def test_runs_scored_under_two_protocols_on_one_cell_each_take_their_own_input(
    monkeypatch, tmp_path
):
    """MemNet Table 3 scores MemNet (protocol memnet_denoise) and RED30 (protocol red) on BSD200
    sigma 50: each run's row appears once, with the input score of its own protocol."""
    shutil.copytree(experiments.claims.claims_dir(), tmp_path / "claims")
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    exp = Experiment(
        "memnet/t", "t", "memnet", (Run("MemNet", "r"), Run("RED30", "r", method="RED")), {},
        tables=("table3",),
    )  # fmt: skip
    for run, protocol, psnr in (("MemNet", "memnet_denoise", 24.5), ("RED30", "red", 24.9)):
        run_dir = exp.run_dir(next(r for r in exp.runs if r.name == run), "cpu")
        run_dir.mkdir(parents=True)
        (run_dir / "train_summary.json").write_text("{}")
        pd.DataFrame(
            [{"protocol": protocol, "dataset": "BSD200", "setting": "sigma50", "psnr": psnr,
              "ssim": 0.6, "n_images": 200}]
        ).to_csv(run_dir / "metrics.csv", index=False)  # fmt: skip
    pd.DataFrame(
        [{"protocol": p, "dataset": "BSD200", "setting": "sigma50", "n_images": 200,
          "psnr": 14.0 + k, "ssim": 0.2} for k, p in enumerate(("memnet_denoise", "red"))]
    ).to_csv(exp.folder / "cpu" / "input_baseline.csv", index=False)  # fmt: skip
    psnr = experiments.summary(exp, "cpu").query("metric == 'psnr'").set_index("run")
    assert len(psnr) == 2
    assert psnr.loc["MemNet", "gain"] == pytest.approx(10.5)
    assert psnr.loc["RED30", "gain"] == pytest.approx(9.9)


# ------------------------------------------------- VDSR against MemNet, RED30 and NLRN
def _cells(exp: Experiment, run: str) -> set[tuple[str, str]]:
    grid = exp.eval_for(next(r for r in exp.runs if r.name == run))
    return {(d, s) for d in grid["sets"] for s in grid["settings"]}


def _claimed(paper: str, table: str, metric: str) -> dict[tuple[str, str, str], float]:
    from reprolib import claims

    c = claims.load_claims(paper)
    c = c[(c.table == table) & (c.metric == metric)]
    return {(r.dataset, r.setting, r.method): float(r.value) for r in c.itertuples()}


@pytest.mark.parametrize(
    ("eid", "finding", "table"),
    [
        ("memnet/table4", "memnet-tab4-sr-best", "table4"),
        ("rednet/table4", "rednet-tab7-vs-vdsr-drcn", "table7"),
        ("nlrn/table6", "nlrn-tab6-sr-best", "table6"),
    ],
)
def test_each_vdsr_check_claims_what_the_papers_table_prints_on_every_cell_it_compares(
    eid, finding, table
):
    """Every (better, worse) pair a check claims holds in the paper's own numbers on every cell
    the two runs share (a check pools those cells), and VDSR is a run of the check."""
    exp = experiments.get(eid)
    checks = [c for c in exp.checks if c["finding"] == finding]
    assert checks and exp.seeds == (0, 1, 2)
    for c in checks:
        runs = [c["run"], *(r for r in c["runs"] if r != c["run"])] if c["kind"] == "peak" else c[
            "runs"]  # fmt: skip
        assert any(r.startswith("VDSR") for r in runs)
        paper = _claimed(exp.paper, table, c.get("metric", "psnr"))
        label = {r.name: r.label for r in exp.runs}
        for better, worse in stats.expected_pairs(c["kind"], runs):
            shared = _cells(exp, better) & _cells(exp, worse)
            assert shared, (better, worse)
            for d, s in shared:
                assert paper[(d, s, label[better])] > paper[(d, s, label[worse])], (d, s, c)


def test_red_vdsr_runs_cover_red30s_cells_under_reds_protocol_with_one_training():
    from reprolib.recipes import recipe_diff

    exp = experiments.get("rednet/table4")
    for scale in ("x2", "x3", "x4"):
        both = _cells(exp, f"VDSR_{scale}") | _cells(exp, f"VDSR_{scale}_Set14")
        assert both == _cells(exp, f"RED30_{scale}")
        assert not _cells(exp, f"VDSR_{scale}") & _cells(exp, f"VDSR_{scale}_Set14")
    vdsr = [r for r in exp.runs if r.name.startswith("VDSR")]
    assert len(vdsr) == 6 and {r.label for r in vdsr} == {"VDSR"}
    for budget in ("cpu", "gpu"):
        first = exp.recipe_for(vdsr[0], budget)
        assert first.protocol == "red_sr" and first.name == "vdsr_sr_identity_adam"
        for r in vdsr[1:]:  # one model for x2/x3/x4, scored per scale: trained once
            assert recipe_diff(first, exp.recipe_for(r, budget), training_only=True) == []
