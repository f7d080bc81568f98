"""The figure analyses run end to end on smoke-trained models of real registry entries."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot
import pandas as pd
import pytest

from reprolib import evaluate, experiments, figures, plotting, train

matplotlib.use("Agg")


def _train_runs(exp: experiments.Experiment, names: list[str]) -> None:
    for r in exp.runs:
        if r.name in names:
            rec = exp.recipe_for(r, "smoke")
            train.train(rec, None, exp.run_dir(r, "smoke"), device="cpu", progress=False)


@pytest.fixture
def results(tmp_path, monkeypatch, data_root):
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    return tmp_path


def test_memnet_figures_from_trained_runs(results):
    exp = experiments.get("memnet/table1")
    with pytest.raises(figures.FigureInputMissing, match="MemNet"):
        figures.make("memnet_fig5_gate_norms", exp, "smoke")
    _train_runs(exp, ["MemNet", "MemNet_NL"])
    out = figures.output_dir(exp, "smoke")

    spectra = figures.make("memnet_fig4_spectra", exp, "smoke")
    diffs = pd.read_csv(out / "memnet_fig4_spectra_differences.csv")
    assert diffs.case.nunique() == 4  # the four cases of Fig. 4(c)
    s = spectra.tables["spectra"]
    assert s.output.nunique() == 4 and (s.power >= 0).all()

    norms = figures.make("memnet_fig5_gate_norms", exp, "smoke").tables["norms"]
    assert set(norms.source) == {"long-term", "short-term"}
    assert norms.norm_scaled.between(0, 1).all()

    # The paper's observations are judged, not just drawn: one seed cannot decide them.
    judged = pd.concat([spectra.tables["judged"],
                        pd.read_csv(out / "memnet_fig5_gate_norms_judged.csv")])  # fmt: skip
    assert set(judged.finding) == {
        "memnet-fig4-highfreq", "memnet-fig5-obs1-tasks", "memnet-fig5-obs2-decay",
        "memnet-fig5-obs3-memories",
    }  # fmt: skip
    # observation (1) compares tasks: the denoising and JPEG MemNets are not trained here
    tasks = judged.set_index("finding").loc["memnet-fig5-obs1-tasks"]
    assert tasks.verdict == "inconclusive (too few seeds: 0 < 3)"
    assert tasks.evidence == "not trained at this budget: denoising, JPEG deblocking"
    assert set(norms.task) == {"SISR"}
    judged = judged[judged.finding != "memnet-fig5-obs1-tasks"]
    assert judged.verdict.str.startswith("inconclusive (too few seeds: 1 < 3)").all()
    assert judged.evidence.str.startswith("seed 0: ").all()

    figures.make("memnet_fig6_intermediate", exp, "smoke")
    fig6 = pd.read_csv(out / "memnet_fig6_intermediate.csv")
    blocks = exp.recipe_for(exp.runs[0], "smoke").model_kwargs["num_blocks"]
    assert len(fig6) == blocks + 1 and fig6.psnr.notna().all()
    (rising,) = pd.read_csv(out / "memnet_fig6_intermediate_judged.csv").to_dict("records")
    assert rising["finding"] == "memnet-fig6-m3"
    assert rising["verdict"] == "inconclusive (too few seeds: 1 < 3)"
    assert rising["evidence"].startswith("seed 0: ") and "M1 " in rising["evidence"]


def test_nlrn_correlation_figure_and_curve_end_points(results):
    exp = experiments.get("nlrn/table4")
    _train_runs(exp, ["NLRN"])
    res = figures.make("nlrn_fig4_correlation", exp, "smoke")
    table = res.tables["similarity"]
    assert len(table) == 3 * table.state.nunique()
    assert table.mass_similar.between(0, 1 + 1e-5).all()
    (obs,) = res.tables["judged"].to_dict("records")
    assert obs["finding"] == "nlrn-fig4-corr-maps"
    assert obs["verdict"] == "inconclusive (too few seeds: 1 < 3)"
    assert obs["evidence"].startswith("seed 0: ") and "(256,256) lift " in obs["evidence"]
    out = figures.output_dir(exp, "smoke")
    assert (out / "nlrn_fig4_correlation.csv").is_file()  # the one table keeps its name
    assert (out / "nlrn_fig4_correlation_judged.csv").is_file()
    ends = figures.make("curve_end_points", exp, "smoke").tables["end_points"]
    assert list(ends.run) == ["NLRN"]
    with pytest.raises(KeyError, match="unknown analysis"):
        figures.make("no_such_figure", exp, "smoke")


def test_memorynet_fig7_on_the_runs_with_a_memory(results, monkeypatch):
    """Fig. 7 reads only runs that have a memory (the MPRNet baseline has none) and scores the
    first proxy test images twice each: the raw input and its memory read."""
    monkeypatch.setattr(figures, "FIG7_IMAGES", 2)  # full-size images: keep the test short
    exp = experiments.get("memorynet/table4")
    with pytest.raises(figures.FigureInputMissing, match="no run with a memory"):
        figures.make("memorynet_fig7_features", exp, "smoke")
    _train_runs(exp, ["Baseline", "Memory"])
    res = figures.make("memorynet_fig7_features", exp, "smoke")
    per_image = res.tables["per_image"]
    assert set(per_image.run) == {"Memory"}
    assert len(per_image) == 2 * figures.FIG7_IMAGES and (per_image.deviation > 0).all()
    summary = pd.read_csv(figures.output_dir(exp, "smoke") / "memorynet_fig7_features_summary.csv")
    assert list(summary.features) == ["without memory", "with memory"]
    assert summary.share_closer_with_memory.between(0, 1).all()
    assert summary.correlation.between(-1, 1).all()
    (obs,) = res.tables["judged"].to_dict("records")
    assert (obs["finding"], obs["seeds_showing"][-4:]) == ("memorynet-fig7-features", "of 1")
    share = summary.share_closer_with_memory.iloc[0]
    assert obs["evidence"].endswith(f"Memory {share:.0%} of images closer")


def test_memorynet_fig7_draws_one_row_per_memory_run(results, monkeypatch):
    """The similarity ablation (cosine, paper Eq. 1, vs dot, released code) gets one figure row
    per run, and the two addressings read different images from the same input."""
    monkeypatch.setattr(figures, "FIG7_IMAGES", 1)
    exp = experiments.get("memorynet/similarity")
    _train_runs(exp, ["Memory_cosine", "Memory_dot"])
    res = figures.make("memorynet_fig7_features", exp, "smoke")
    assert res.figure.axes[0].get_subplotspec().get_gridspec().get_geometry() == (2, 6)
    reads = res.tables["per_image"].query("features == 'with memory'").set_index("run")
    assert set(reads.index) == {"Memory_cosine", "Memory_dot"}
    assert reads.loc["Memory_cosine", "psnr"] != pytest.approx(reads.loc["Memory_dot", "psnr"])


def test_run_curves_lists_the_paper_reference_only_when_one_is_drawn():
    """Each run's claimed PSNR is a dashed line in its colour; entries whose runs have no claim
    (an ablation the paper does not tabulate) get no "paper" legend entry for a missing line."""
    log = pd.DataFrame({"iteration": [1, 2], "loss": [2.0, 1.0], "val_psnr": [20.0, 21.0]})
    summary = pd.DataFrame({"method": ["A"], "metric": ["psnr"], "claimed": [30.0]})
    for claimed, expected in ((30.0, ["A", "paper (full budget)"]), (None, ["A"])):
        fig = plotting.run_curves({"A": log}, summary.assign(claimed=claimed))
        ax_psnr = fig.axes[1]
        assert [t.get_text() for t in ax_psnr.get_legend().get_texts()] == expected
        dashed = [ln for ln in ax_psnr.lines if ln.get_ls() == "--" and len(ln.get_ydata())]
        assert [ln.get_ydata()[0] for ln in dashed] == ([30.0] if claimed else [])
        matplotlib.pyplot.close(fig)


def test_per_image_by_run_draws_one_panel_per_cell_with_every_image():
    """Two cells (panels; the unused slot of the grid is hidden), each with one point per
    image and run, the runs in registry order along x."""
    scores = pd.DataFrame({
        "run": ["A", "A", "B", "B"] * 2,
        "dataset": ["Set5"] * 4 + ["Set14"] * 4,
        "setting": "x3",
        "image": ["1", "2"] * 4,
        "psnr": [30.0, 31.0, 20.0, 32.0, 28.0, 29.0, 27.0, 28.5],
    })  # fmt: skip
    fig = plotting.per_image_by_run(scores)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["Set5 x3", "Set14 x3"]
    for ax in visible:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B"]
        points = sum(len(c.get_offsets()) for c in ax.collections if len(c.get_offsets()))
        assert points == 4
        assert ax.get_ylabel() == "per-image PSNR (dB)"
    matplotlib.pyplot.close(fig)


def test_run_curves_reference_is_the_claim_on_the_cell_the_run_validates_on():
    """RED30 validates on Set5 x3 but is scored on nine SR cells: its dashed line is the
    paper's Set5 x3 value (33.82 dB, Table 4), not the mean over all claimed cells."""
    log = pd.DataFrame({"iteration": [1, 2], "loss": [2.0, 1.0], "val_psnr": [31.0, 32.0]})
    summary = pd.DataFrame({
        "method": "RED30", "metric": "psnr", "dataset": ["Set5", "Set5", "BSD100"],
        "setting": ["x3", "x4", "x3"], "claimed": [33.82, 31.51, 28.93],
    })  # fmt: skip
    for cells, expected in (({"RED30": ("Set5", "x3")}, [33.82]), ({"RED30": ("Set12", "x3")}, [])):
        fig = plotting.run_curves({"RED30": log}, summary, val_cells=cells)
        dashed = [ln for ln in fig.axes[1].lines if ln.get_ls() == "--" and len(ln.get_ydata())]
        assert [ln.get_ydata()[0] for ln in dashed] == expected
        matplotlib.pyplot.close(fig)


def test_an_observation_holds_only_when_three_seeds_show_it_and_its_interval_excludes_0():
    def verdict(flags, interval=None):
        per_seed = {k: (v, "e") for k, v in enumerate(flags)}
        return figures._observation("f", "c", per_seed, interval)["verdict"]

    assert verdict([True, True, True], (0.05, 0.01, 0.09)) == "holds"
    assert verdict([False, False, False], (-0.05, -0.09, -0.01)) == "does not hold"
    assert verdict([True, True, True], (0.05, -0.01, 0.09)) == "inconclusive (interval includes 0)"
    # three agreeing seeds alone are not a verdict: the rule needs an interval excluding 0
    assert verdict([True, True, True]) == "inconclusive (no interval: not measured per image)"
    assert verdict([True, True, False]) == "inconclusive (seeds disagree)"
    assert verdict([True, True]) == "inconclusive (too few seeds: 2 < 3)"
    # a model that did not converge or learned nothing decides nothing, as in the verdict rule
    unfit = ["not converged: NLRN (nlrn/table4), validation moved +0.06 dB"]
    held = figures._observation("f", "c", {k: (True, "e") for k in range(3)}, (0.05, 0.01, 0.09),
                                unfit)["verdict"]  # fmt: skip
    assert held == f"inconclusive ({unfit[0]}; the seeds alone would say 'holds')"
    few = figures._observation("f", "c", {0: (True, "e")}, unfit=unfit)["verdict"]
    assert few == f"inconclusive (too few seeds: 1 < 3; {unfit[0]})"


def test_unfit_models_names_the_runs_the_verdict_rule_cannot_use():
    """On the committed cpu results: Table 1's MemNet converged (3 seeds) and beat bicubic;
    MemoryNet Table 4's Memory run ends below its input (learned nothing)."""
    assert figures.unfit_models([(experiments.get("memnet/table1"), "MemNet")], "cpu") == []
    why = figures.unfit_models([(experiments.get("memorynet/table4"), "Memory")], "cpu")
    assert "learned nothing: Memory (memorynet/table4)" in why


def test_sweep_curve_plots_psnr_against_the_swept_parameter(results):
    exp = experiments.get("nlrn/fig5")
    assert exp.x["param"] == "q"
    for r in exp.runs[:2]:  # q5 and q11 at the smoke budget, scored on their test grid
        d = exp.run_dir(r, "smoke")
        train.train(exp.recipe_for(r, "smoke"), None, d, device="cpu", progress=False)
        scores = evaluate.evaluate_checkpoint(d, limit=2, progress=False)
        scores.to_csv(d / "per_image.csv", index=False)
    t = figures.make("sweep_curve", exp, "smoke").tables["sweep"]
    assert t["q"].tolist() == [5, 11] and (t["ci_low"] <= t["psnr"]).all()
    assert (t["seeds"] == 1).all()
