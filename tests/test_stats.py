"""The verdict statistics on constructed data with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reprolib import stats


def _scores(diff: float, seeds: int = 3, images: int = 12, seed_sd: float = 0.05,
            rng_seed: int = 1) -> pd.DataFrame:  # fmt: skip
    """Two runs on ``images`` images of two sets: B = A - ``diff`` on average, with image
    effects shared by both runs (what pairing removes), per-seed and per-image noise."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for dataset in ("Set12", "BSD68"):
        image_effect = rng.normal(0.0, 2.0, images)
        for run, mu in (("A", diff), ("B", 0.0)):
            for k in range(seeds):
                seed_effect = rng.normal(0.0, seed_sd)
                for i in range(images):
                    for setting in ("sigma25", "sigma50"):
                        psnr = 27.0 + mu + image_effect[i] + seed_effect + rng.normal(0.0, 0.2)
                        row = {"run": run, "seed": k, "dataset": dataset, "image": str(i)}
                        rows.append({**row, "setting": setting, "psnr": psnr})
    return pd.DataFrame(rows)


def test_a_true_half_db_difference_is_detected_at_three_seeds_and_twelve_images():
    p = stats.compare(_scores(0.5), "A", "B")
    assert p.ci_low > 0 and p.p_value < 0.05 and p.sign == 1
    assert p.margin_db == pytest.approx(0.5, abs=0.1)
    assert p.images == 24 and p.seeds == (3, 3)


@pytest.mark.parametrize("rng_seed", [1, 2, 3])
def test_a_zero_difference_is_not_detected(rng_seed):
    p = stats.compare(_scores(0.0, rng_seed=rng_seed), "A", "B")
    assert p.ci_low < 0 < p.ci_high and p.p_value > 0.05 and p.sign == 0


def test_the_margin_is_the_mean_over_cells_of_the_paired_differences():
    s = pd.DataFrame(
        [{"run": r, "seed": 0, "dataset": "D", "setting": "s", "image": i, "psnr": v}
         for r, vals in (("A", [30.0, 31.0, 35.0]), ("B", [29.0, 30.5, 34.0]))
         for i, v in zip("xyz", vals, strict=True)]
    )  # fmt: skip
    p = stats.compare(s, "A", "B")
    assert p.margin_db == pytest.approx((1.0 + 0.5 + 1.0) / 3)
    # Paired: every image is better, so the interval excludes 0 despite 5 dB image spread.
    assert p.ci_low >= 0.5 and p.ci_high <= 1.0


def test_seed_variation_widens_the_interval():
    narrow = stats.compare(_scores(0.3, seed_sd=0.01), "A", "B")
    wide = stats.compare(_scores(0.3, seed_sd=0.5), "A", "B")
    assert (wide.ci_high - wide.ci_low) > 2 * (narrow.ci_high - narrow.ci_low)


def test_compare_is_deterministic_and_refuses_unscored_pairs():
    s = _scores(0.2)
    assert stats.compare(s, "A", "B") == stats.compare(s, "A", "B")
    with pytest.raises(ValueError, match="share no scored image"):
        stats.compare(s.assign(image=np.where(s.run == "A", "a", "b")), "A", "B")


def test_convergence_reads_the_last_fifth_of_validation():
    log = pd.DataFrame({"iteration": [600, 1200, 1800, 2400, 3000],
                        "val_psnr": [30.0, 31.0, 31.5, 31.60, 31.63]})  # fmt: skip
    ok, change = stats.convergence(log)
    assert ok and change == pytest.approx(0.03)
    log.loc[4, "val_psnr"] = 31.7
    assert stats.convergence(log) == (False, pytest.approx(0.10))
    log.loc[4, "val_psnr"] = 31.5  # falling by 0.1 dB is not converged either
    assert not stats.convergence(log)[0]
    assert stats.convergence(log.assign(val_psnr=np.nan)) == (
        False,
        pytest.approx(np.nan, nan_ok=True),
    )


def test_judge_names_every_failed_condition():
    facts = {"A": stats.RunFacts(1, False, 0.3, 2.0), "B": stats.RunFacts(3, True, 0.0, 0.02)}
    v = stats.judge("order", ["A", "B"], _scores(0.5), facts)
    assert v.verdict == "inconclusive"
    for part in ("learned nothing", "B", "too few seeds (< 3): A (1)", "not converged",
                 "A (+0.30 dB)", "the intervals alone would say 'holds'"):  # fmt: skip
        assert part in v.reason
    facts = {r: stats.RunFacts(3, True, 0.0, 2.0) for r in "AB"}
    v = stats.judge("order", ["A", "B"], _scores(0.5), facts)
    assert v.verdict == "holds" and v.reason.startswith("deciding pair A - B: +0.4")


def test_a_budget_that_does_not_keep_relative_sizes_leaves_the_finding_inconclusive():
    """Condition (5): A and B as in the paper's recipes (same parameters, A trains on 34 times
    B's pixels), at a budget where B trains on 3 times A's: the ratio moves by 100x > 2x."""
    sized = {
        "A": dict(params=1e5, pixels=5e7, paper_params=6.8e5, paper_pixels=3.7e10),
        "B": dict(params=1.5e5, pixels=1.5e8, paper_params=6.6e5, paper_pixels=1.1e9),
    }
    facts = {r: stats.RunFacts(3, True, 0.0, 2.0, **sized[r]) for r in "AB"}
    assert stats.size_drift(["A", "B"], facts) == [
        "training pixels A/B: 0.33 here, 34 in the paper"  # parameters: 0.67 vs 1.03, kept
    ]
    v = stats.judge("order", ["A", "B"], _scores(0.5), facts)
    assert v.verdict == "inconclusive"
    assert v.reason.startswith("relative sizes not kept at this budget (training pixels A/B")
    assert "the intervals alone would say 'holds'" in v.reason
    # Within a factor of 2 of the paper's ratios, or sizes unknown (NaN), or an untrained
    # baseline: the condition holds.
    kept = {r: stats.RunFacts(3, True, 0.0, 2.0, **{**sized[r], "pixels": sized[r]["paper_pixels"]
                                                  / (600 if r == "A" else 1000)})
            for r in "AB"}  # fmt: skip
    assert stats.size_drift(["A", "B"], kept) == []
    assert stats.judge("order", ["A", "B"], _scores(0.5), kept).verdict == "holds"
    unknown = {"A": stats.RunFacts(3, True, 0.0, 2.0), "B": facts["B"]}
    assert stats.size_drift(["A", "B"], unknown) == []
    bm3d = {**facts, "B": stats.RunFacts(1, True, 0.0, np.inf, trained=False, params=1.0)}
    assert stats.size_drift(["A", "B"], bm3d) == []


def test_mean_interval_brackets_the_mean_and_narrows_without_image_spread():
    s = _scores(0.0)
    mean, lo, hi = stats.mean_interval(s, "A")
    assert lo < mean < hi
    flat = s.assign(psnr=27.0 + (s["psnr"] - s["psnr"].mean()) * 0.01)
    m2, lo2, hi2 = stats.mean_interval(flat, "A")
    assert (hi2 - lo2) < (hi - lo) / 50


def test_convergence_by_recipe_counts_each_training_once(tmp_path, monkeypatch):
    """A folder that reused another entry's weights is the same training (counted once, at its
    origin); each training's change over the last fifth decides its recipe's count."""
    import json

    from reprolib import experiments, runs

    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))

    def training(rel: str, recipe: str, val: list[float], reused_from: str | None = None):
        folder = tmp_path / rel
        folder.mkdir(parents=True)
        (folder / runs.MODEL).write_bytes(b"")
        its = [200 * (i + 1) for i in range(len(val))]
        pd.DataFrame({"iteration": its, "val_psnr": val}).to_csv(folder / runs.LOG, index=False)
        (folder / runs.SUMMARY).write_text(json.dumps({"recipe": recipe, "iterations": its[-1]}))
        if reused_from:
            (folder / runs.REUSED_FROM).write_text(reused_from)

    training("p/a/cpu/flat", "r1", [20.0, 25.0, 26.0, 26.01, 26.02])  # +0.01: converged
    training("p/b/cpu/flat", "r1", [20.0, 25.0, 26.0, 26.01, 26.02], reused_from="p/a/cpu/flat")
    training("p/a/cpu/rising", "r1", [20.0, 22.0, 24.0, 25.0, 25.3])  # +0.3: not converged
    training("p/a/cpu/other", "r2", [20.0, 21.0, 22.0, 23.0, 23.02])
    training("p/a/gpu/flat", "r1", [20.0, 21.0, 22.0, 23.0, 24.0])  # another budget
    table = experiments.convergence_table("cpu")
    assert sorted(table["run"]) == ["p/a/cpu/flat", "p/a/cpu/other", "p/a/cpu/rising"]
    by = experiments.convergence_by_recipe("cpu").set_index("recipe")
    assert by.loc["r1", ["trainings", "converged"]].tolist() == [2, 1]
    assert by.loc["r1", "largest_abs_change_db"] == pytest.approx(0.3)
    assert by.loc["r2", ["trainings", "converged", "iterations"]].tolist() == [1, 1, 1000]
