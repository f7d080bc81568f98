"""Budget-scaling curves: snapshots scored along training, a trend fitted in log(patches)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reprolib import evaluate, experiments, scaling, train


def test_fit_trend_recovers_a_known_line_on_the_later_half():
    patches = np.array([1e3, 1e4, 1e5, 1e6, 1e7, 1e8])
    psnr = 20.0 + 1.5 * np.log10(patches)
    psnr[0] = 0.0  # an early warm-up point is not part of the fit
    pts = pd.DataFrame({"patches_seen": np.repeat(patches, 2), "psnr": np.repeat(psnr, 2)})
    a, b = scaling.fit_trend(pts)
    assert a == pytest.approx(20.0) and b == pytest.approx(1.5)
    with pytest.raises(ValueError, match="two points"):
        scaling.fit_trend(pts.iloc[:2])


def test_snapshots_of_a_run_are_scored_on_the_curve_cell(tmp_path, monkeypatch, data_root):
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    exp = experiments.get("memnet/table1")
    run = exp.runs[0]
    rec = train.with_overrides(exp.recipe_for(run, "smoke"), {"val_every": 2})
    train.train(rec, None, exp.run_dir(run, "smoke"), device="cpu", progress=False)
    curve = scaling.Curve("MemNet", "memnet/table1", run.name, "Set5", "x3", "memnet",
                          "table1", "MemNet")  # fmt: skip
    t = scaling.measure(curve, "smoke")
    assert t["iterations"].tolist() == [2, 4, 6]
    assert t["patches_seen"].tolist() == [2 * rec.batch, 4 * rec.batch, 6 * rec.batch]
    assert (t["dataset"] == "Set5").all() and t["psnr"].between(5, 60).all()
    # The last snapshot is the final model: its score is the run's own Set5 x3 score.
    folder = exp.run_dir(run, "smoke")
    final = evaluate.evaluate_checkpoint(folder, ["Set5"], ["x3"], progress=False)
    assert t["psnr"].iloc[-1] == pytest.approx(final["psnr"].mean(), abs=0.02)
    assert t["paper_patches"].iloc[0] == 600_000 * 64  # the paper's schedule: 600k x 64


def test_convergence_check_rejudges_the_log_on_the_whole_validation_set(
    tmp_path, monkeypatch, data_root
):
    """The rule's convergence test reads validation PSNR of the first val_limit images; the
    check scores the snapshots at 80% and at the end on every validation image instead."""
    from reprolib import runs, stats

    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    exp = experiments.get("memnet/table1")
    run = exp.runs[0]
    rec = train.with_overrides(exp.recipe_for(run, "smoke"), {"val_every": 2})
    folder = exp.run_dir(run, "smoke")
    train.train(rec, None, folder, device="cpu", progress=False)
    reused = folder.parent / "Reuser"  # a second entry's copy of the same weights: skipped
    reused.mkdir()
    (reused / runs.MODEL).write_bytes((folder / runs.MODEL).read_bytes())
    (reused / runs.REUSED_FROM).write_text(folder.relative_to(tmp_path).as_posix())

    table = scaling.convergence_check("smoke")
    assert len(table) == 1 and (tmp_path / "scaling" / "convergence_check.csv").exists()
    row = table.iloc[0]
    assert (row.iteration_before, row.iteration_end) == (4, 6)  # last point <= 80% of 6
    assert (row.val_set, row.val_setting, row.all_images) == (rec.val_set, rec.val_setting, 5)
    assert row.log_images == rec.val_limit
    _, change = stats.convergence(pd.read_csv(folder / runs.LOG))
    assert row.log_change_db == pytest.approx(change)
    # The whole-set change is that of the snapshots' own Set5 x3 scores (the scaling curve).
    curve = scaling.Curve("MemNet", "memnet/table1", run.name, "Set5", "x3", "memnet",
                          "table1", "MemNet")  # fmt: skip
    psnr = scaling.measure(curve, "smoke").set_index("iterations")["psnr"]
    assert row.all_change_db == pytest.approx(psnr[6] - psnr[4], abs=1e-9)
    assert row.agree == (row.log_converged == row.all_converged)
