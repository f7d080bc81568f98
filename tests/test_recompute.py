"""Stored results recompute to the same numbers through today's code: a committed model re-scored
from its ``model.pt`` on a few test images, and committed entries' summaries from their runs.

The full-set comparisons (every image of nlrn/table2, rednet/fig6 and memorynet/table4 runs) take
minutes and are not run here; this is their quick form, on committed results only.
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest

from reprolib import evaluate, experiments, recipes, runs


@pytest.fixture(autouse=True)
def committed_results(monkeypatch):
    """The results committed with the code, whatever REPROLIB_RESULTS says."""
    monkeypatch.delenv("REPROLIB_RESULTS", raising=False)


def _red20_copy(tmp_path):
    """rednet/fig6's RED20 at cpu: its run, its stored folder and a copy of its trained files."""
    exp = experiments.get("rednet/fig6")
    run = next(r for r in exp.runs if r.name == "RED20")
    stored = exp.run_dir(run, "cpu")
    if not (stored / runs.MODEL).exists():
        pytest.skip("rednet/fig6 RED20 is not trained at budget cpu")
    copy = tmp_path / "RED20"
    copy.mkdir()
    for name in runs.TRAINED_FILES:
        shutil.copy2(stored / name, copy / name)
    return exp.recipe_for(run, "cpu"), stored, copy


def test_a_stored_model_rescores_to_its_committed_per_image_scores(data_root, tmp_path):
    """RED-Net's RED20 (rednet/fig6), scored under RED's protocol (unrounded output): the same
    PSNR to 1e-6 dB. evaluate_run writes the run's files into a copy of the run folder."""
    recipe, stored, copy = _red20_copy(tmp_path)
    evaluate.evaluate_run(copy, recipe=recipe, limit=2, threads=1,
                          progress=False)  # fmt: skip
    new = pd.read_csv(copy / runs.PER_IMAGE, dtype={"image": str})
    old = pd.read_csv(stored / runs.PER_IMAGE, dtype={"image": str})
    both = new.merge(old, on=["protocol", "dataset", "setting", "method", "image"])
    assert len(both) == 2
    np.testing.assert_allclose(both["psnr_x"], both["psnr_y"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(both["ssim_x"], both["ssim_y"], rtol=0, atol=1e-7)
    metrics = pd.read_csv(copy / runs.METRICS)
    assert list(metrics.columns) == list(pd.read_csv(stored / runs.METRICS).columns)


def test_a_stopped_evaluation_resumes_where_it_stopped(data_root, tmp_path, monkeypatch):
    """evaluate_run keeps each scored set x setting; after a stop in the second set, the rerun
    scores only that set and gives the rows of both, then removes the partial files."""
    recipe, stored, copy = _red20_copy(tmp_path)
    real, calls = evaluate.evaluate_checkpoint, []

    def stops_in_bsd68(run_dir, datasets, *args, **kwargs):
        calls.append(datasets[0])
        if datasets[0] == "BSD68" and len(calls) == 2:
            raise KeyboardInterrupt
        return real(run_dir, datasets, *args, **kwargs)

    monkeypatch.setattr(evaluate, "evaluate_checkpoint", stops_in_bsd68)
    kw = {"recipe": recipe, "limit": 1, "threads": 1, "progress": False}
    with pytest.raises(KeyboardInterrupt):
        evaluate.evaluate_run(copy, ["Set12", "BSD68"], **kw)
    assert not (copy / runs.METRICS).exists()
    evaluate.evaluate_run(copy, ["Set12", "BSD68"], **kw)
    assert calls == ["Set12", "BSD68", "BSD68"]
    scored = pd.read_csv(copy / runs.PER_IMAGE)
    assert sorted(scored["dataset"]) == ["BSD68", "Set12"]
    assert not (copy / runs.PARTIAL).exists()


@pytest.mark.parametrize("eid", ["nlrn/table2", "rednet/fig6", "memorynet/table4"])
def test_committed_summaries_recompute_from_their_runs(eid):
    """experiments.summary over the stored runs gives the committed summary.csv (which keeps
    six decimals)."""
    exp = experiments.get(eid)
    path = exp.folder / "summary.csv"
    if not path.exists():
        pytest.skip(f"{eid} has no committed summary")
    old = pd.read_csv(path)
    old = old[old["budget"].astype(str) == "cpu"]
    new = experiments.summary(exp, "cpu")
    key = ["paper", "table", "dataset", "setting", "method", "metric"]
    both = old.merge(new, on=key, suffixes=("_old", "_new"))
    assert len(both) == len(old) == len(new)
    for col in ("measured", "input", "gain", "n_images"):
        np.testing.assert_allclose(both[f"{col}_old"], both[f"{col}_new"], rtol=0, atol=1e-6)


def test_a_stopped_measurement_resumes_at_the_first_image_not_scored(data_root, tmp_path):
    """measure() appends each image's row to rows_file as it is scored; a rerun restores only
    the images not yet in it and returns every row in the set's order (Urban100 on one core)."""
    rows_file = tmp_path / "Set5__x2.rows.csv"
    seen = []

    def stops_at_third(x):
        seen.append(x.shape)
        if len(seen) == 3:
            raise KeyboardInterrupt
        return x

    kw = {"method_name": "Identity", "progress": False, "rows_file": rows_file}
    with pytest.raises(KeyboardInterrupt):
        evaluate.measure(stops_at_third, "Set5", "x2", "memnet_sr", **kw)
    assert len(pd.read_csv(rows_file)) == 2
    restored = []
    resumed = evaluate.measure(lambda x: restored.append(x) or x, "Set5", "x2", "memnet_sr", **kw)
    whole = evaluate.measure(lambda x: x, "Set5", "x2", "memnet_sr", method_name="Identity",
                             progress=False)  # fmt: skip
    assert len(restored) == 3  # 5 images, 2 kept from the stopped run
    assert list(resumed["image"]) == list(whole["image"])
    np.testing.assert_allclose(resumed["psnr"], whole["psnr"], rtol=0, atol=1e-12)
    assert len(pd.read_csv(rows_file)) == 5


def test_multi_view_testing_is_evaluation_only_and_scores_the_self_ensemble(data_root, tmp_path):
    """RED Sec. 3.5 / NLRN-MV: ``test_ensemble`` changes no training (a run that sets it reuses
    the weights of one that does not, and earlier runs stay current) and evaluate_run scores
    the x8 self-ensemble, which differs from the single view on the same image."""
    recipe, stored, copy = _red20_copy(tmp_path)
    mv = dataclasses.replace(recipe, test_ensemble=True)
    assert experiments.trained_with(stored, mv)  # same training: the weights serve both
    assert recipes.recipe_diff(recipe, mv) == ["test_ensemble: False -> True"]
    assert "test_ensemble" not in recipes.spec_fields(recipe)  # runs stamped before stay current
    ds = recipe.test_sets[:1]
    evaluate.evaluate_run(copy, ds, recipe=mv, limit=1, threads=1, progress=False)
    multi = pd.read_csv(copy / runs.PER_IMAGE)["psnr"].to_numpy()
    model = evaluate.restorers.load_model(copy, "cpu")[0]
    views = {
        ensemble: evaluate.evaluate_checkpoint(
            model, ds, recipe=recipe, limit=1, ensemble=ensemble, progress=False
        )["psnr"].to_numpy()
        for ensemble in (True, False)
    }
    np.testing.assert_allclose(multi, views[True], rtol=0, atol=1e-9)
    assert abs(multi[0] - views[False][0]) > 1e-3


def test_a_deadline_stops_a_measurement_between_images(data_root, tmp_path, monkeypatch):
    """Past its deadline measure() raises EvaluationPaused before restoring the next image; the
    images scored stay in rows_file and the next call restores only the others."""
    rows_file = tmp_path / "Set5__x2.rows.csv"
    clock = iter([0.0, 0.0, 10.0])  # the deadline (5.0) passes before the third image
    monkeypatch.setattr(evaluate.time, "time", lambda: next(clock))
    restored = []
    kw = {"method_name": "Identity", "progress": False, "rows_file": rows_file}
    with pytest.raises(evaluate.EvaluationPaused, match="deadline reached after 2 images"):
        evaluate.measure(lambda x: restored.append(x) or x, "Set5", "x2", "memnet_sr",
                         deadline=5.0, **kw)  # fmt: skip
    assert len(restored) == 2 and len(pd.read_csv(rows_file)) == 2
    monkeypatch.undo()
    resumed = evaluate.measure(lambda x: restored.append(x) or x, "Set5", "x2", "memnet_sr", **kw)
    assert len(restored) == 5 and len(resumed) == 5


def test_a_deadline_pauses_evaluate_run_without_metrics(data_root, tmp_path):
    """A deadline already past: evaluate_run stops before its first image, says how many of the
    grid's images are scored, writes no metrics.csv; without a deadline it then finishes."""
    recipe, _, copy = _red20_copy(tmp_path)
    kw = {"recipe": recipe, "limit": 1, "threads": 1, "progress": False}
    with pytest.raises(evaluate.EvaluationPaused, match="0 of 2 images scored"):
        evaluate.evaluate_run(copy, ["Set12", "BSD68"], deadline=0.0, **kw)
    assert not (copy / runs.METRICS).exists()
    evaluate.evaluate_run(copy, ["Set12", "BSD68"], **kw)
    assert (copy / runs.METRICS).exists()
