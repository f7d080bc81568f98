"""The experiment registry: loading, budgets, finding checks, currency, and the workflow."""

from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import pytest

from reprolib import experiments
from reprolib.experiments import Experiment, Run


def _exp(checks) -> Experiment:
    runs = tuple(Run(n, "r") for n in ("A", "B", "C"))
    return Experiment("p/t", "t", "p", runs, {"datasets": ["Set5"]}, checks=tuple(checks))


def _measured(values: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([{"method": k, "metric": "psnr", "measured": v} for k, v in values.items()])


def test_order_increasing_and_peak_checks():
    exp = _exp(
        [
            {"finding": "f-order", "kind": "order", "runs": ["A", "B", "C"]},
            {"finding": "f-inc", "kind": "increasing", "runs": ["C", "B", "A"]},
            {"finding": "f-peak", "kind": "peak", "run": "B"},
        ]
    )
    got = experiments.check_findings(exp, "cpu", _measured({"A": 30.0, "B": 29.0, "C": 28.0}))
    assert dict(zip(got.claim_id, got.holds)) == {"f-order": True, "f-inc": True, "f-peak": False}
    assert (got.budget == "cpu").all() and "A 30.000" in got.evidence[0]
    got = experiments.check_findings(exp, "cpu", _measured({"A": 28.0, "B": 29.0, "C": 27.0}))
    assert dict(zip(got.claim_id, got.holds)) == {"f-order": False, "f-inc": False, "f-peak": True}


def test_increasing_allows_slack():
    exp = _exp([{"finding": "f", "kind": "increasing", "runs": ["A", "B"], "slack": 0.05}])
    assert experiments.check_findings(exp, "cpu", _measured({"A": 30.0, "B": 29.97})).holds[0]


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
    for eid, e in reg.items():
        assert eid.startswith(e.paper + "/")
        for t in e.tables:
            assert (e.paper, t) in tables, f"{eid}: no claims for {t}"
        for c in e.checks:
            assert c["finding"] in finding_ids, f"{eid}: unknown finding {c['finding']}"
            named = c.get("runs", []) + ([c["run"]] if "run" in c else [])
            assert set(named) <= {r.name for r in e.runs}, f"{eid}: check names unknown runs"
        for r in e.runs:
            # Unknown recipes, bad overrides or model keywords raise here, before any training.
            recipe = recipes.get_recipe(r.recipe, sigma=r.sigma, budget="smoke", **r.overrides)
            build_model(recipe)


def test_spec_hash_changes_with_budget_and_overrides():
    exp = _exp([])
    a, b = exp.runs[0], Run("A", "r", {"model": "x"})
    assert exp.spec_hash(a, "cpu") != exp.spec_hash(a, "smoke")
    assert exp.spec_hash(a, "cpu") != exp.spec_hash(b, "cpu")


@pytest.mark.skipif(
    shutil.which("snakemake") is None
    and not experiments.REPO_ROOT.joinpath(".venv/bin/snakemake").exists(),
    reason="snakemake not installed",
)
def test_snakemake_dry_run_lists_every_experiment():
    exe = shutil.which("snakemake") or str(experiments.REPO_ROOT / ".venv/bin/snakemake")
    out = subprocess.run(
        [exe, "-n", "--config", "budget=smoke", "--forceall"],
        cwd=experiments.REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    for eid in experiments.load():
        assert eid in out.stdout
