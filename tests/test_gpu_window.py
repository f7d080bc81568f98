"""GPU windows (scripts/gpu_queue.py, gpu_window.sh, gpu_unpack.sh): the queue on the real
registry, its seeds tier on a synthetic results root, and the whole window as a CPU dry run
(2 smoke runs: train, pack, summary, unpack elsewhere, load, and no retraining afterwards)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import pandas as pd
import pytest

from reprolib import data, evaluate, experiments, recipes, stats
from reprolib.provenance import REPO_ROOT
from reprolib.restorers import load_model
from reprolib.train import build_model, train

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import gpu_queue  # noqa: E402


@pytest.fixture(scope="module")
def real_queue() -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    return gpu_queue.build_queue(["cpu", "gpu"], active_minutes=0, costs=False, notes=notes), notes


def test_queue_columns_and_priority_order(real_queue):
    q, _ = real_queue
    assert list(q.columns) == gpu_queue.COLUMNS
    assert len(q) > 0 and list(q["priority"]) == list(range(1, len(q) + 1))
    tier = q["tier"].map(gpu_queue.TIERS.index)
    assert tier.is_monotonic_increasing  # seeds, then headline, then the rest
    head = q[q["tier"] == "headline"]
    assert set(zip(head["experiment"], head["run"])) <= set(gpu_queue.HEADLINE)
    assert (head["budget"] == "gpu").all() and (head["seed"] == 0).all()
    rest = q[q["tier"] == "rest"]
    assert rest["budget"].map(["cpu", "gpu"].index).is_monotonic_increasing
    registry = experiments.load()
    keys = set()
    for row in q.itertuples():
        exp = registry[row.experiment]
        run = next(r for r in exp.runs if r.name == row.run)
        assert row.recipe == gpu_queue.train_name(run)
        assert not experiments.is_current(exp, run, row.budget, row.seed)
        keys.add(gpu_queue.training_key(exp.recipe_for(run, row.budget, row.seed)))
    assert len(keys) == len(q)  # every queued row trains something no other row trains


def test_headline_models_are_queued_or_accounted_for(real_queue):
    q, notes = real_queue
    registry = experiments.load()
    for eid, name in gpu_queue.HEADLINE:
        run = next(r for r in registry[eid].runs if r.name == name)
        queued = ((q["experiment"] == eid) & (q["run"] == name) & (q["budget"] == "gpu")).any()
        why = [n for n in notes if n.startswith(f"{eid} {name} seed 0 @gpu:")]
        assert queued or why or experiments.is_current(registry[eid], run, "gpu"), (eid, name)


def test_estimate_of_a_small_model(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path / "results"))  # no measured runs
    monkeypatch.setattr(gpu_queue, "_COUNTS", {})
    r = recipes.get_recipe("red_denoise", sigma=50, budget="cpu", model="red10")
    est = gpu_queue.estimate(r)
    assert est["est_gpu_s"] > 0 and est["est_cpu_h"] > 0 and est["ckpt_mib"] > 0
    assert est["cost_basis"].startswith("gpu=flops@")  # no CUDA bench rows yet
    if gpu_queue.BENCH.is_file():
        assert "cpu=bench(red_denoise_sigma50@cpu)" in est["cost_basis"]
    # A finished one-thread run of the same configuration is what a run costs here: it wins.
    for k, wall in enumerate((300.0, 900.0, 600.0)):  # the median, 0.6 s per iteration
        run = tmp_path / "results" / "rednet" / "x" / "cpu" / f"RED10_{k}"
        run.mkdir(parents=True)
        (run / "train_summary.json").write_text(json.dumps({
            "status": "finished", "device": "cpu", "threads": 1, "recipe": r.name,
            "budget": "cpu", "iterations": 1000, "wall_s": wall,
            "recipe_fields": recipes.recipe_to_dict(r),
        }))  # fmt: skip
    est = gpu_queue.estimate(r)
    assert "cpu=measured(3 runs of red_denoise_sigma50@cpu)" in est["cost_basis"]
    assert est["est_cpu_h"] == round(r.iterations * 0.6 / 3600, 2)
    flops, ops, params = gpu_queue._count(r)
    assert flops > 1e9 and ops > 10
    assert params == sum(p.numel() for p in build_model(r).parameters())
    assert (tmp_path / "reprolib" / "gpu_queue_counts.json").is_file()


def test_too_few_seeds_only():
    ok = stats.RunFacts(seeds=1, converged=True, change_db=0.01, gain_db=3.0)
    assert gpu_queue.too_few_seeds_only(["a", "b"], {"a": ok, "b": ok})
    three = stats.RunFacts(seeds=3, converged=True, change_db=0.01, gain_db=3.0)
    assert not gpu_queue.too_few_seeds_only(["a", "b"], {"a": three, "b": three})
    moving = stats.RunFacts(seeds=1, converged=False, change_db=0.2, gain_db=3.0)
    assert not gpu_queue.too_few_seeds_only(["a", "b"], {"a": ok, "b": moving})
    dead = stats.RunFacts(seeds=1, converged=True, change_db=0.0, gain_db=0.01)
    assert not gpu_queue.too_few_seeds_only(["a", "b"], {"a": ok, "b": dead})
    assert not gpu_queue.too_few_seeds_only(["a", "b"], {"a": ok})  # b not trained


def _fake_scored_run(exp, run, budget: str) -> None:
    d = exp.run_dir(run, budget)
    d.mkdir(parents=True)
    (d / "spec.json").write_text(json.dumps({"hash": exp.spec_hash(run, budget)}))
    (d / "metrics.csv").write_text("dataset,setting,psnr\nBSD200,sigma50,26.0\n")
    (d / "per_image.csv").write_text("dataset,setting,image,psnr,ssim\nBSD200,sigma50,1,26,0.7\n")
    log = pd.DataFrame({"iteration": [200, 400, 600, 800, 1000], "loss": 1.0, "lr": 1e-4,
                        "val_psnr": [25.0, 25.9, 26.0, 26.0, 26.01], "wall_s": 1.0,
                        "patches_per_s": 1.0})  # fmt: skip
    log.to_csv(d / "log.csv", index=False)


def test_seeds_tier_comes_first(tmp_path, monkeypatch):
    """rednet/fig6 scored, learned and converged with one seed each: seeds 1 and 2 of both
    runs are the queue's first rows."""
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    exp = experiments.get("rednet/fig6")
    for run in exp.runs:
        _fake_scored_run(exp, run, "cpu")
    pd.DataFrame([{"budget": "cpu", "metric": "psnr", "run": r.name, "gain": 5.0}
                  for r in exp.runs]).to_csv(exp.folder / "summary.csv", index=False)  # fmt: skip
    q = gpu_queue.build_queue(["cpu", "gpu"], active_minutes=0, costs=False)
    first = q[q["tier"] == "seeds"]
    assert list(first["priority"]) == [1, 2, 3, 4]
    assert set(zip(first["experiment"], first["run"], first["seed"], first["budget"])) == {
        ("rednet/fig6", r, k, "cpu") for r in ("RED20", "RED20_noskip") for k in (1, 2)
    }
    assert first["reason"].str.contains("rednet-fig6-val-psnr").all()
    assert (q.loc[q["tier"] == "headline", "priority"] > 4).all()


def test_pack_data_copies_what_fits_in_priority_order(tmp_path, data_root, monkeypatch):
    rows = [("memnet/table2", "MemNet_91"), ("nlrn/table4", "DnCNN")]  # T91+Set5, Train400+Set12
    queue = pd.DataFrame([{"priority": i, "experiment": e, "run": r, "seed": 0, "budget": "cpu"}
                          for i, (e, r) in enumerate(rows, 1)])  # fmt: skip
    dest = tmp_path / "gpu_data"
    info = gpu_queue.pack_data(dest, queue, max_mib=12)
    assert info["sets"] == ["T91", "Set5"] and info["mib"] <= 12
    assert len(info["rows_covered"]) == 1 and len(info["rows_left"]) == 1
    manifest = json.loads((dest / "MANIFEST.json").read_text())
    assert [d["name"] for d in manifest["datasets"]] == ["T91", "Set5"]
    gpu_queue.pack_data(dest, queue, max_mib=12)  # its own folder: replaced
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(SystemExit):
        gpu_queue.pack_data(tmp_path / "other", queue, max_mib=12)
    monkeypatch.setenv("REPROLIB_DATA", str(dest))
    assert data.verify("Set5") == 5
    with pytest.raises(data.DatasetError):
        data.files("Train400")


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_dry_run_window_packs_and_unpacks(tmp_path, data_root, monkeypatch, capsys):
    """``gpu_window.sh 1 --dry-run`` on 2 smoke runs, then ``gpu_unpack.sh`` elsewhere."""
    rows = [
        {"experiment": "nlrn/fig6", "run": "T1", "seed": 1, "budget": "cpu"},
        {"experiment": "rednet/table2", "run": "RED10", "seed": 0, "budget": "gpu"},
    ]
    queue = pd.DataFrame([{**r, "priority": i, "tier": "rest", "recipe": "-", "est_gpu_s": 1,
                           "est_cpu_h": 0.1, "cost_basis": "-", "ckpt_mib": 0.1, "reason": "test"}
                          for i, r in enumerate(rows, 1)])[gpu_queue.COLUMNS]  # fmt: skip
    queue.to_csv(tmp_path / "queue.csv", index=False)
    out = tmp_path / "out"
    env = {"REPROLIB_RESULTS": str(tmp_path / "gpu"), "OUT": str(out),
           "REPROLIB_PYTHON": sys.executable}  # fmt: skip
    done = _run(["bash", "scripts/gpu_window.sh", "1", "--dry-run", "--queue",
                 str(tmp_path / "queue.csv")], env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr

    files = sorted(p.name for p in out.iterdir())
    assert files == ["runs-1.tar.gz", "summary.txt"]
    assert all((out / f).stat().st_size < 16 * 2**20 for f in files)
    summary = (out / "summary.txt").read_text()
    assert "DRY RUN" in summary and summary.count(" finished ") == 2, summary
    assert "6/6" in summary and "T1" in summary and "RED10" in summary
    with tarfile.open(out / "runs-1.tar.gz") as tar:
        names = set(tar.getnames())
    for d in ("nlrn/fig6/smoke/T1__seed1", "rednet/table2/smoke/RED10"):
        for f in ("train_summary.json", "log.csv", "model.pt", "checkpoint.pt"):
            assert f"{d}/{f}" in names
        assert any(n.startswith(f"{d}/snapshots/model_") for n in names)
    assert "window.json" in names

    here = tmp_path / "here"
    unpack = ["bash", "scripts/gpu_unpack.sh", str(out)]
    got = _run(unpack, {"REPROLIB_RESULTS": str(here), "REPROLIB_PYTHON": sys.executable})
    assert got.returncode == 0, got.stdout + got.stderr
    assert got.stdout.count("installed (finished)") == 2
    assert "reprolib run nlrn/fig6 --budget smoke --runs T1 --seeds 1" in got.stdout
    monkeypatch.setenv("REPROLIB_RESULTS", str(here))
    for row in rows:
        exp = experiments.get(row["experiment"])
        run = next(r for r in exp.runs if r.name == row["run"])
        d = exp.run_dir(run, "smoke", row["seed"])
        assert d.is_relative_to(here)
        model, recipe = load_model(d)
        assert recipe.budget == "smoke" and sum(p.numel() for p in model.parameters()) > 0
        assert not (d / "spec.json").exists()  # so `reprolib run` does not treat it as stale

        def never(*_):
            raise AssertionError("an unpacked finished run was trained again")

        # what notebooks/train.ipynb (run by `reprolib run`) calls: it finds the run finished
        s = train(gpu_queue.train_name(run), "smoke", out_dir=d, progress=False, callback=never,
                  overrides=exp.overrides_for(run, row["seed"]))  # fmt: skip
        assert s["status"] == "finished" and s["iterations"] == 6

    import gpu_window  # the rest in-process (each bash call costs a Python start-up)

    assert gpu_window.unpack(out) == 0
    assert capsys.readouterr().out.count("kept (already finished") == 2

    summary_path = here / "rednet/table2/smoke/RED10/train_summary.json"
    info = json.loads(summary_path.read_text())
    info["recipe_fields"]["lr"] = 0.5  # a finished run of another recipe is here
    summary_path.write_text(json.dumps(info))
    assert gpu_window.unpack(out) == 1 and "REFUSED" in capsys.readouterr().out
    assert json.loads(summary_path.read_text())["recipe_fields"]["lr"] == 0.5
    assert gpu_window.unpack(out, force=True) == 0
    assert json.loads(summary_path.read_text())["recipe_fields"]["lr"] != 0.5


def test_rest_tier_puts_recipes_that_converge_and_cheap_runs_first(monkeypatch):
    """Within a budget: the recipe's smoothed converged share (10/12 above 1/1 above untrained
    above 0/6), then cost; the seeds and headline rows stay ahead, a later budget after."""
    plateaus = pd.DataFrame({"recipe": ["many", "one", "never"], "trainings": [12, 1, 6],
                             "converged": [10, 1, 0]})  # fmt: skip
    monkeypatch.setattr(
        experiments, "convergence_by_recipe",
        lambda budget: plateaus if budget == "cpu" else plateaus.iloc[:0],
    )  # fmt: skip

    def row(tier, run, recipe, budget="cpu", cpu_h=1.0, gpu_s=10.0):
        return {"tier": tier, "experiment": "e", "run": run, "seed": 0, "budget": budget,
                "recipe": recipe, "est_gpu_s": gpu_s, "est_cpu_h": cpu_h,
                "reason": "not run"}  # fmt: skip

    queue = pd.DataFrame([
        row("seeds", "s", "never"),
        row("rest", "g", "many", budget="gpu"),
        row("rest", "never", "never", cpu_h=0.1),
        row("rest", "new", "untrained"),
        row("rest", "one", "one", cpu_h=0.2),
        row("rest", "many_dear", "many", cpu_h=3.0),
        row("rest", "many_cheap", "many", cpu_h=0.5),
    ])  # fmt: skip
    out = gpu_queue._order_rest(queue, ["cpu", "gpu"])
    assert list(out["run"]) == ["s", "many_cheap", "many_dear", "one", "new", "never", "g"]
    reasons = out.set_index("run")["reason"]
    assert reasons["many_cheap"] == "not run; recipe converged in 10/12 trainings at cpu"
    assert reasons["new"] == "not run; recipe not yet trained at cpu"
    assert reasons["s"] == "not run"  # the seeds tier is left as it was


def test_verdict_plan_counts_training_left_and_evaluation(tmp_path, data_root, monkeypatch):
    """rednet/fig6 scored with seed 0 only (1 h of evaluation each, two images of 0.5 h); RED20
    seed 1 paused half way, RED20_noskip seed 2 trained and one of those images scored: the
    plan needs 4 seeds, 2.5 trainings of 2 h and 3.5 evaluations of 1 h. Once RED20_noskip's
    validation still moves, seeds cannot decide it: the row says it is blocked."""
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    monkeypatch.setattr(gpu_queue, "estimate", lambda recipe, bench=None: {"est_cpu_h": 2.0})
    exp = experiments.get("rednet/fig6")
    for run in exp.runs:
        _fake_scored_run(exp, run, "cpu")
        pd.DataFrame({"dataset": "BSD200", "setting": "sigma50", "image": ["1", "2"],
                      "psnr": 26.0, "ssim": 0.7, "seconds": 1800.0}).to_csv(
            exp.run_dir(run, "cpu") / "per_image.csv", index=False)  # fmt: skip
    pd.DataFrame([{"budget": "cpu", "metric": "psnr", "run": r.name, "gain": 5.0}
                  for r in exp.runs]).to_csv(exp.folder / "summary.csv", index=False)  # fmt: skip
    red20 = next(r for r in exp.runs if r.name == "RED20")
    paused = exp.run_dir(red20, "cpu", 1)
    paused.mkdir(parents=True)
    (paused / "checkpoint.pt").write_bytes(b"")
    half = exp.recipe_for(red20, "cpu", 1).iterations // 2
    (paused / "log.csv").write_text(f"iteration,loss\n{half},0.5\n")

    noskip = next(r for r in exp.runs if r.name == "RED20_noskip")
    stopped = exp.run_dir(noskip, "cpu", 2)
    (stopped / "evaluation_partial" / "0123abcd").mkdir(parents=True)
    (stopped / "train_summary.json").write_text(json.dumps({
        "status": "finished", "recipe_fields": recipes.recipe_to_dict(
            exp.recipe_for(noskip, "cpu", 2))}))  # fmt: skip
    grid = evaluate.grid_images(exp.recipe_for(noskip, "cpu", 2))
    (stopped / "evaluation_partial" / "0123abcd" / "BSD200__sigma50.csv").write_text(
        "dataset,setting,image,psnr\nBSD200,sigma50,1,26.0\n"  # image 1 of the 2 timed ones
    )

    # an observation read off a figure of RED20 counts RED20's missing seeds too
    analysis = exp.folder / "cpu" / "analysis"
    analysis.mkdir(parents=True)
    judged = {
        "finding": "fig-observed",
        "claim": "c",
        "verdict": "inconclusive (too few seeds: 1 < 3)",
        "seeds_showing": "1 of 1",
        "evidence": "e",
        "models": "rednet/fig6:RED20",
    }
    pd.DataFrame([judged]).to_csv(analysis / "x_judged.csv", index=False)

    plan = gpu_queue.verdict_plan(["cpu"])
    assert list(plan.columns) == gpu_queue.PLAN_COLUMNS
    row = plan.set_index("finding").loc["rednet-fig6-val-psnr"]
    assert row["blocked_by"] == "" and row["untested"] == "" and row["missing"] == 4
    observed = plan.set_index("finding").loc["fig-observed"]
    assert observed["runs"] == "RED20" and observed["missing"] == 2
    assert f"rednet/fig6 RED20 seed 1: resume at {half}/{2 * half}" in observed["items"]
    assert row["train_cpu_h"] == 5.0 and row["eval_cpu_h"] == 3.5 and row["total_cpu_h"] == 8.5
    half_scored = f"RED20_noskip seed 2: evaluate, 1/{grid} images scored (0 h + 0.5 h)"
    assert half_scored in row["items"]
    resumed = f"rednet/fig6 RED20 seed 1: resume at {half}/{2 * half} + evaluate (1 h + 1 h)"
    assert resumed in row["items"]

    # One training per distinct recipe: NLRN-MV scores NLRN's weights with the x8 ensemble.
    mv = plan.set_index("finding").loc["nlrn-tab5-mv"]
    reused = "nlrn/table5 NLRN_MV_sigma30 seed 0: evaluate (weights of NLRN_sigma30 seed 0)"
    assert reused in mv["items"]
    assert "NLRN_MV_sigma30 (recipe not trained yet)" in mv["untested"]

    log = pd.read_csv(exp.run_dir(noskip, "cpu") / "log.csv")
    log["val_psnr"] = [22.0, 23.0, 24.0, 25.0, 26.0]  # +1 dB over the last fifth
    log.to_csv(exp.run_dir(noskip, "cpu") / "log.csv", index=False)
    row = gpu_queue.verdict_plan(["cpu"]).set_index("finding").loc["rednet-fig6-val-psnr"]
    assert row["blocked_by"] == "RED20_noskip not converged"


def test_slim_tree_sets_results_aside_for_a_device_call_and_restores_them(tmp_path):
    """The committed results outgrew the 64 MiB a device call carries: --slim leaves only the
    code and the queue in both the index and the working tree, --restore puts back every byte."""
    root = tmp_path / "checkout"
    (root / "results" / "paper" / "run").mkdir(parents=True)
    (root / "reprolib").mkdir()

    def git(*args: str) -> str:
        cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
        return subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    (root / ".gitignore").write_text("results/**/checkpoint.pt\n")
    (root / "reprolib" / "code.py").write_text("x = 1\n")
    (root / "results" / "queue.csv").write_text("priority\n1\n")
    weights = root / "results" / "paper" / "run" / "model.pt"
    weights.write_bytes(os.urandom(3 * 2**20))
    (root / "results" / "paper" / "run" / "checkpoint.pt").write_bytes(b"ignored")
    git("add", ".")
    git("commit", "-q", "-m", "start")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert gpu_queue.travelling_mib(root=root) > 3
    assert gpu_queue.travelling_mib(root=root, slim=True) < 0.01

    left = gpu_queue.slim_tree(root)
    assert left < 0.01
    listed = set(git("ls-files", "-co", "--exclude-standard").split())
    assert listed == {".gitignore", "reprolib/code.py", "results/queue.csv"}
    assert sorted(p.name for p in (root / "results").rglob("*")) == ["queue.csv"]
    with pytest.raises(SystemExit, match="already set aside"):
        gpu_queue.slim_tree(root)
    (root / "results" / "new_run.csv").write_text("started in the slim tree")
    with pytest.raises(SystemExit, match="gained files"):
        gpu_queue.restore_tree(root)
    (root / "results" / "new_run.csv").unlink()

    gpu_queue.restore_tree(root)
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before
    assert git("status", "--porcelain") == ""
    assert not gpu_queue.stash_dir(root).exists()
    with pytest.raises(SystemExit, match="nothing to restore"):
        gpu_queue.restore_tree(root)
    weights.write_bytes(b"changed, not committed")
    with pytest.raises(SystemExit, match="uncommitted changes"):
        gpu_queue.slim_tree(root)
