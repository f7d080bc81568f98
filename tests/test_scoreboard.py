"""The claims scoreboard: statuses computed from results/ summaries and finding verdicts."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pandas as pd

from reprolib import claims, experiments, scoreboard


def _write_entry(
    root: Path,
    entry: str,
    cell: tuple,
    claimed: float,
    measured: float,
    finding: dict | None = None,
    budget: str | None = "cpu",
) -> None:
    """One cell ``(dataset, setting, method)`` of ``entry`` ("paper/table") in its summary.csv
    (``budget`` None: measured without training), and optionally one finding verdict in its
    findings.csv (the older format: holds, budget, evidence, conclusive)."""
    paper, table = entry.split("/")
    folder = root / entry
    folder.mkdir(parents=True)
    dataset, setting, method = cell
    row = {"paper": paper, "table": table, "dataset": dataset, "setting": setting,
           "method": method, "metric": "psnr", "claimed": claimed, "measured": measured,
           "diff": measured - claimed, "n_images": 5, "budget": budget}  # fmt: skip
    if budget is None:  # a no-training protocol check states its tolerance
        row.update(tolerance=0.02, within_tolerance=abs(measured - claimed) <= 0.02)
    pd.DataFrame([row]).to_csv(folder / "summary.csv", index=False)
    if finding is not None:
        row = {"budget": "cpu", "evidence": "e", "conclusive": True, **finding}
        pd.DataFrame([row]).to_csv(folder / "findings.csv", index=False)


def _cell(key: str, measured: float, budget: str | None = "cpu", **extra) -> dict:
    """A summary.csv row for the claim ``paper/table/dataset/setting/method[/metric]``."""
    paper, table, dataset, setting, method, *metric = key.split("/")
    return {"paper": paper, "table": table, "dataset": dataset, "setting": setting,
            "method": method, "metric": metric[0] if metric else "psnr", "measured": measured,
            "n_images": 5, "budget": budget, **extra}  # fmt: skip


def _protocol(key: str, claimed: float, measured: float, tolerance: float, protocol: str) -> dict:
    """A no-training protocol-check row (it states its tolerance and protocol)."""
    ok = abs(measured - claimed) <= tolerance
    return _cell(key, measured, None, claimed=claimed, diff=measured - claimed,
                 tolerance=tolerance, within_tolerance=ok, protocol=protocol)  # fmt: skip


def _csv(root: Path, name: str, rows: list[dict]) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(root / name, index=False)


def _results(monkeypatch, tmp_path) -> Path:
    shutil.copytree(claims.claims_dir(), tmp_path / "claims")
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    return tmp_path


def _board(monkeypatch, tmp_path, conclusive: bool, holds: bool) -> pd.DataFrame:
    finding = {"claim_id": "memnet-tab1-connections", "holds": holds, "conclusive": conclusive}
    root = _results(monkeypatch, tmp_path)
    _write_entry(root, "memnet/table1", ("Set5", "x3", "MemNet"), 34.09, 31.0, finding)
    return scoreboard.build().set_index("claim_id")


def _new_finding(claim_id: str, verdict: str, reason: str, budget: str = "cpu") -> dict:
    """A findings.csv row in the format of the verdict rule (reprolib.stats.judge)."""
    decided = verdict != "inconclusive"
    return {"claim_id": claim_id, "holds": verdict == "holds", "budget": budget,
            "evidence": f"{verdict}: {reason}", "conclusive": decided, "verdict": verdict,
            "seeds": 3, "margin_db": 0.02 if decided else None, "ci_low": 0.01 if decided else None,
            "ci_high": 0.03 if decided else None, "p_value": 0.001 if decided else None,
            "converged": True, "runs": "NLRN: 3 seeds", "reason": reason}  # fmt: skip


def test_a_reduced_budget_cell_takes_the_verdict_of_findings_comparing_its_method(
    monkeypatch, tmp_path
):
    board = _board(monkeypatch, tmp_path, conclusive=True, holds=True)
    assert board.loc["memnet-table1-Set5-x3-MemNet-psnr", "status"] == scoreboard.DIRECTION
    assert (
        "memnet-tab1-connections holds" in board.loc["memnet-table1-Set5-x3-MemNet-psnr", "reason"]
    )
    assert board.loc["memnet-tab1-connections", "status"] == scoreboard.DIRECTION
    # A cell the paper claims but nothing measured stays "not attempted" with a reason.
    assert board.loc["memnet-table1-Set5-x3-MemNet_NL-psnr", "status"] == "not attempted"
    assert "not yet run" in board.loc["memnet-table1-Set5-x3-MemNet_NL-psnr", "reason"]
    # ... and a model measured on the table's other cells is named as trained, not as missing.
    assert "evaluation grid" in board.loc["memnet-table1-Set5-x4-MemNet-psnr", "reason"]
    # A cell measured without training (the protocol chapter's bicubic column) is not a model
    # "trained" for the table: its other cells keep their own reason.
    _write_entry(tmp_path, "memnet/table4", ("Set5", "x2", "Bicubic"), 33.66, 33.66, budget=None)
    board = scoreboard.build().set_index("claim_id")
    assert "evaluation grid" not in board.loc["memnet-table4-Urban100-x2-Bicubic-psnr", "reason"]


def test_a_finding_over_runs_that_learned_nothing_is_inconclusive_not_failed(monkeypatch, tmp_path):
    board = _board(monkeypatch, tmp_path, conclusive=False, holds=False)
    assert board.loc["memnet-tab1-connections", "status"] == scoreboard.INCONCLUSIVE
    assert board.loc["memnet-table1-Set5-x3-MemNet-psnr", "status"] == scoreboard.INCONCLUSIVE
    assert "inconclusive" in board.loc["memnet-table1-Set5-x3-MemNet-psnr", "reason"]


def test_a_reduced_budget_cell_that_no_checked_finding_compares_is_inconclusive(
    monkeypatch, tmp_path
):
    """MemNet Table 3 compares MemNet only with methods this study does not train: a cpu-budget
    value there is reported with its gap but neither 'reproduced' nor 'not reproduced'. The same
    holds for a run of a table whose checked finding compares other runs (NLRN_untied, when only
    NLRN vs RNN_same_params is checked)."""
    root = _results(monkeypatch, tmp_path)
    _write_entry(root, "memnet/table3", ("BSD200", "sigma30", "MemNet"), 28.04, 15.7)
    runs = ("NLRN", "RNN_same_params", "NLRN_untied")
    _csv(
        root,
        "nlrn/table2/summary.csv",
        [_cell(f"nlrn/table2/Set12/sigma25/{m}", 28.8) for m in runs],
    )
    checked = {
        "claim_id": "nlrn-tab2-rnn-baseline",
        "holds": True,
        "budget": "cpu",
        "evidence": "e",
    }
    _csv(root, "nlrn/table2/findings.csv", [checked])
    board = scoreboard.build().set_index("claim_id")
    row = board.loc["memnet-table3-BSD200-sigma30-MemNet-psnr"]
    assert row["status"] == scoreboard.INCONCLUSIVE
    assert scoreboard.NO_FINDING_REASON in row["reason"]
    assert board.loc["nlrn-table2-Set12-sigma25-NLRN-psnr", "status"] == scoreboard.DIRECTION
    assert board.loc["nlrn-table2-Set12-sigma25-RNN_same_params-psnr", "status"] == (
        scoreboard.DIRECTION
    )
    untied = board.loc["nlrn-table2-Set12-sigma25-NLRN_untied-psnr"]
    assert untied["status"] == scoreboard.INCONCLUSIVE
    assert scoreboard.NO_FINDING_REASON in untied["reason"]


def test_a_finding_bears_on_the_tables_of_the_entry_that_checked_it(monkeypatch, tmp_path):
    """RED-Net's depth finding is sourced to "Tables 1-2, 4-6, 9"; ``rednet/table2`` checks it
    on Table 2's runs, so Table 2's cells of the methods it compares take its verdict."""
    root = _results(monkeypatch, tmp_path)
    finding = {"claim_id": "rednet-tab1-depth", "holds": False}
    _write_entry(root, "rednet/table2", ("BSD200", "sigma50", "RED30"), 25.75, 24.9, finding)
    row = scoreboard.build().set_index("claim_id").loc["rednet-table2-BSD200-sigma50-RED30-psnr"]
    assert row["status"] == "not reproduced"
    assert "rednet-tab1-depth does not hold" in row["reason"]


def test_every_row_has_a_kind_and_a_depth_is_a_formula_not_a_reproduction(monkeypatch, tmp_path):
    root = _results(monkeypatch, tmp_path)
    bicubic = _protocol("memnet/table4/Set5/x2/Bicubic", 33.66, 33.661, 0.02, "memnet_sr")
    _csv(root, "protocol/summary.csv", [bicubic])
    arch = {"budget": claims.NO_TRAINING, "within_tolerance": True}
    _csv(root, "architecture/summary.csv", [
        _cell("memnet/table6/-/-/M6R6/depth", 80.0, claimed=80.0, diff=0.0, tolerance=0.0, **arch),
        _cell("memnet/table2/-/-/VDSR/params", 664704.0, claimed=665000.0, diff=-296.0,
              tolerance=500.0, **arch),
    ])  # fmt: skip
    _write_entry(root, "memnet/table1", ("Set5", "x3", "MemNet"), 34.09, 31.0)
    board = scoreboard.build().set_index("claim_id")
    assert set(board["kind"]) == set(scoreboard.KINDS)
    kinds = board["kind"]
    assert kinds["memnet-table4-Set5-x2-Bicubic-psnr"] == "baseline"
    assert kinds["memnet-table3-BSD200-sigma30-BM3D-psnr"] == "baseline"  # not measured
    assert (
        "`reprolib protocol --targets memnet-t3-bm3d --full-only` measures it"
        in (board.loc["memnet-table3-BSD200-sigma30-BM3D-psnr", "reason"])
    )
    assert kinds["memnet-table6-----M6R6-depth"] == "architecture"
    assert kinds["memnet-table2-----VDSR-params"] == "architecture"
    assert kinds["memnet-table1-Set5-x3-MemNet-psnr"] == "model"
    assert kinds["memnet-table4-Set5-x2-VDSR-psnr"] == "model"
    assert kinds["memnet-tab1-connections"] == "finding"
    depth = board.loc["memnet-table6-----M6R6-depth"]
    assert depth["status"] == scoreboard.FORMULA
    assert "formula of the constructor arguments" in depth["reason"]
    assert board.loc["memnet-table2-----VDSR-params", "status"] == "reproduced"
    counts = scoreboard.counts(board.reset_index())
    assert counts.loc["architecture", "reproduced"] == 1
    assert counts.loc["architecture", scoreboard.FORMULA] == 1
    text = scoreboard.headline(board.reset_index())
    assert "1 of 1 distinct measurements reproduced" in text  # the bicubic cell
    assert "1 depths consistent" in text


def test_a_baseline_measured_for_another_table_counts_once_where_scored_the_same_way(
    monkeypatch, tmp_path
):
    """BM3D on BSD200 at sigma 30 is printed by MemNet Table 3, NLRN Table 5 and RED Table 2: one
    measurement (same source file and value) reproduces all three, and counts once. A cell whose
    table scores differently (NLRN Table 5's float output vs Table 4's uint8) is not reused."""
    root = _results(monkeypatch, tmp_path)
    key = "{}/BSD200/sigma30/BM3D/psnr"
    _csv(root, "protocol/summary.csv", [
        _protocol(key.format("memnet/table3"), 27.31, 27.3466, 0.1, "memnet_denoise"),
        _protocol(key.format("nlrn/table5"), 27.31, 27.3466, 0.1, "memnet_denoise"),
        _protocol("nlrn/table4/Urban100/sigma50/BM3D/psnr", 25.95, 25.97, 0.1, "dncnn_denoise"),
    ])  # fmt: skip
    # A RED run gives RED Table 2 its protocol ("red": BSD200 at half size, float output).
    _csv(root, "rednet/table2/summary.csv", [_cell("rednet/table2/BSD200/sigma50/RED30", 24.9)])
    board = scoreboard.build()
    b = board.set_index("claim_id")
    red = b.loc["rednet-table2-BSD200-sigma30-BM3D-psnr"]
    assert red["status"] == "reproduced" and red["kind"] == "baseline"
    assert "measured for memnet table3" in red["reason"]
    assert b.loc["rednet-table2-BSD200-sigma10-BM3D-psnr", "status"] == "not attempted"
    bm3d = board[(board["method"] == "BM3D") & (board["status"] == "reproduced")]
    assert len(bm3d) == 3 + 1  # three tables print the sigma-30 cell, plus NLRN Table 4's
    assert scoreboard.counts(board).loc["baseline", "reproduced"] == 2
    assert "2 of 2 distinct measurements reproduced" in scoreboard.headline(board)
    other = b.loc["nlrn-table5-Urban100-sigma50-BM3D-psnr"]
    assert other["status"] == "not attempted"
    assert "scores differently" in other["reason"] and "nlrn table4" in other["reason"]


def test_reasons_of_implemented_per_level_and_other_table_models(monkeypatch, tmp_path):
    root = _results(monkeypatch, tmp_path)
    # A summary that (wrongly) states a tolerance for a cpu run: still never "reproduced".
    red = [_cell(f"rednet/table2/BSD200/sigma50/{m}", 24.9, tolerance=5.0, within_tolerance=True,
                 claimed=25.0, diff=-0.1) for m in ("RED10", "RED20", "RED30")]  # fmt: skip
    _csv(root, "rednet/table2/summary.csv", red)
    _csv(root, "rednet/table2/findings.csv",
         [_new_finding("rednet-tab1-depth", "holds", "deciding pair RED30 - RED20")])  # fmt: skip
    _csv(root, "rednet/table4/summary.csv", [_cell("rednet/table4/Set5/x2/RED30", 36.0)])
    _csv(
        root,
        "nlrn/table4/summary.csv",
        [
            _cell("nlrn/table4/Set12/sigma25/NLRN", 28.9),
            _cell("nlrn/table4/Set12/sigma25/RED", 28.5),
        ],
    )
    board = scoreboard.build()
    b = board.set_index("claim_id")
    reason = b["reason"]
    # A reduced-budget model cell is never "reproduced", whatever its summary says.
    assert b.loc["rednet-table2-BSD200-sigma50-RED30-psnr", "status"] == scoreboard.DIRECTION
    reduced = board["budget"].isin(["cpu", "gpu", "smoke"]) & (board["kind"] != "finding")
    assert reduced.sum() >= 5 and not (board.loc[reduced, "status"] == "reproduced").any()
    # Methods this study implements are not "cited results of another method".
    implemented = board["method"].str.match(r"(VDSR|RED|MemNet|M\d+R\d+|DnCNN)")
    assert not board.loc[implemented, "reason"].str.contains("cited result").any()
    # memnet/table2 trains VDSR (memnet/table4's weights) and RED30 under MemNet's protocol
    for m in ("VDSR", "RED"):
        assert reason[f"memnet-table2-Set5-x3-{m}-psnr"] == (
            "needs training for this table (registry entry memnet/table2); not yet run"
        )
    # memnet/table3 trains RED30 per level itself; the cell waits for its runs
    assert reason["memnet-table3-BSD200-sigma30-RED-psnr"] == (
        "needs training for this table (registry entry memnet/table3); not yet run"
    )
    assert reason["memnet-table4-Set5-x2-VDSR-psnr"] == (
        "needs training for this table (registry entry memnet/table4); not yet run"
    )
    assert reason["rednet-table4-Set5-x2-RED20-psnr"] == (
        "needs training for this table (registry entry rednet/table4); not yet run"
    )
    # RED Table 7 takes the RED30 scored for Tables 4-6; shown under both, counted once.
    t7 = b.loc["rednet-table7-Set5-x2-RED30-psnr"]
    assert t7["measured"] == 36.0 and t7["kind"] == "model"
    assert "measured for rednet table4" in t7["reason"]
    assert t7["status"] == scoreboard.INCONCLUSIVE
    model = scoreboard.distinct(board)
    model = model[(model["kind"] == "model") & model["measured"].notna()]
    assert len(model) == 3 + 1 + 1  # RED10/20/30, RED30 x2 once, NLRN
    # One model per noise level in the paper: the registry has a run per level, not yet run ...
    for key, entry in (
        ("rednet-table2-BSD200-sigma10-RED10-psnr", "rednet/table2"),
        ("rednet-table2-BSD200-sigma70-RED30-ssim", "rednet/table2"),
        ("nlrn-table4-Set12-sigma15-NLRN-psnr", "nlrn/table4"),
        ("nlrn-table4-BSD68-sigma50-NLRN-psnr", "nlrn/table4"),
    ):
        assert reason[key] == f"needs training for this table (registry entry {entry}); not yet run"
    # ... while the trained level on a set outside the entry's grid is a grid question.
    assert "evaluation grid" in reason["nlrn-table4-Urban100-sigma25-NLRN-psnr"]
    # A level the registry has no run for needs its own model.
    reg = experiments.load()
    t2 = reg["rednet/table2"]
    only50 = dataclasses.replace(t2, runs=tuple(r for r in t2.runs if r.sigma == 50))
    monkeypatch.setattr(scoreboard.experiments, "load", lambda: {**reg, t2.id: only50})
    t3 = reg["memnet/table3"]
    no_red = dataclasses.replace(t3, runs=t3.runs[:1], checks=())
    monkeypatch.setattr(
        scoreboard.experiments, "load", lambda: {**reg, t2.id: only50, t3.id: no_red}
    )
    reason = scoreboard.build().set_index("claim_id")["reason"]
    assert reason["rednet-table2-BSD200-sigma10-RED10-psnr"].startswith(
        "needs its own model trained at this noise level"
    )
    # A method this table does not train, trained by another entry, says where
    assert "trained for nlrn/table4 (cpu budget)" in reason["memnet-table3-BSD200-sigma30-RED-psnr"]


def test_a_finding_checked_several_times_keeps_its_weakest_verdict(monkeypatch, tmp_path):
    """One check per noise level (or two entries): the finding holds only if every one does."""
    root = _results(monkeypatch, tmp_path)
    _csv(root, "rednet/table2/findings.csv", [
        _new_finding("rednet-tab1-depth", "holds", "deciding pair RED30 - RED20"),
        _new_finding("rednet-tab1-depth", "inconclusive", "not trained at this budget: RED10"),
        _new_finding("rednet-tab1-depth", "holds", "deciding pair RED20_x2 - RED10_x2"),
    ])  # fmt: skip
    _csv(root, "rednet/table9/findings.csv", [
        _new_finding("rednet-tab1-depth", "does not hold", "reversed", budget="smoke"),
        _new_finding("rednet-tab1-depth", "holds", "deciding pair", budget="smoke"),
    ])  # fmt: skip
    v = scoreboard.verdicts().set_index(["finding", "budget"])
    assert v.loc[("rednet-tab1-depth", "cpu"), "verdict"] == "inconclusive"
    assert v.loc[("rednet-tab1-depth", "cpu"), "reason"] == "not trained at this budget: RED10"
    assert v.loc[("rednet-tab1-depth", "smoke"), "verdict"] == "does not hold"


def test_red_deblurring_and_inpainting_cells_say_why_they_are_not_measured(monkeypatch, tmp_path):
    _results(monkeypatch, tmp_path)
    reason = scoreboard.build().set_index("claim_id")["reason"]
    assert "not named and not available here" in reason["rednet-table10---disk-RED30-psnr"]
    # Inpainting is trained by a registry entry (Sec. 5.6); FoE, given the mask, is cited.
    for setting in ("font10", "font20", "scratch"):
        assert reason[f"rednet-sec5.6-LIVE1-{setting}-RED30-ssim"] == (
            "needs training for this table (registry entry rednet/sec5.6); not yet run"
        )
        assert reason[f"rednet-sec5.6-LIVE1-{setting}-FoE-psnr"].startswith("cited result")


def test_a_printed_gpu_time_cell_states_the_speed_ratio_measured_here(monkeypatch, tmp_path):
    root = _results(monkeypatch, tmp_path)
    reason = scoreboard.build().set_index("claim_id")["reason"]
    assert reason["rednet-sec4.5-----down_conv1-time_s"] == scoreboard.TIME_REASON  # no speed.csv
    speed = dict(paper="rednet", reference="no_downsample", paper_ratio_of="time_s")
    _csv(root, "speed/speed.csv", [
        {**speed, "variant": "no_downsample", "width": "cpu", "ratio_measured": 1.0,
         "paper_ratio": 1.0},
        {**speed, "variant": "down_conv1", "width": "paper", "ratio_measured": 0.2328,
         "paper_ratio": 0.84 / 3.17},
        {**speed, "variant": "down_conv1", "width": "cpu", "ratio_measured": 0.2555,
         "paper_ratio": 0.84 / 3.17},
    ])  # fmt: skip
    reason = scoreboard.build().set_index("claim_id")["reason"]
    assert reason["rednet-sec4.5-----down_conv1-time_s"] == (
        f"{scoreboard.TIME_REASON}; as a ratio to no_downsample's time: paper 0.26, here 0.23 at "
        "the paper width and 0.26 at the cpu width (speed/speed.csv)"
    )
    reference = reason["rednet-sec4.5-----no_downsample-time_s"]
    assert "the reference of the measured speed ratios" in reference


def test_verdicts_csv_gathers_old_and_new_findings_and_sets_finding_statuses(monkeypatch, tmp_path):
    root = _results(monkeypatch, tmp_path)
    evidence = "inconclusive: MemNet did not beat the degraded input"
    old = {"claim_id": "memnet-tab1-connections", "holds": False, "budget": "cpu",
           "evidence": evidence, "conclusive": False}  # fmt: skip
    _csv(root, "memnet/table1/findings.csv", [old])
    _csv(root, "nlrn/table2/findings.csv", [
        _new_finding("nlrn-tab2-rnn-baseline", "holds", "deciding pair NLRN - RNN: +0.02 dB"),
        _new_finding("nlrn-tab2-rnn-baseline", "does not hold", "reversed", budget="smoke"),
        _new_finding("nlrn-tab2-weight-sharing", "inconclusive", "too few seeds (< 3): NLRN (1)"),
        _new_finding("nlrn-tab2-corr-propagation", "does not hold", "deciding pair reversed"),
    ])  # fmt: skip
    (root / "nlrn/table1").mkdir(parents=True)
    (root / "nlrn/table1/findings.csv").write_text("")  # an empty file is skipped
    board = scoreboard.write()
    v = pd.read_csv(root / "verdicts.csv")
    assert list(v.columns) == scoreboard.VERDICT_COLUMNS
    assert not list(root.glob(".*.tmp"))  # written through a temporary file, then replaced
    assert len(v) == 5  # one row per finding and budget
    v = v.set_index(["finding", "budget"])
    o = v.loc[("memnet-tab1-connections", "cpu")]
    assert o["verdict"] == "inconclusive" and o["paper"] == "memnet"
    assert o["reason"] == "MemNet did not beat the degraded input"
    assert o[scoreboard.STAT_COLUMNS].isna().all()
    n = v.loc[("nlrn-tab2-rnn-baseline", "cpu")]
    assert n["verdict"] == "holds" and n["seeds"] == 3 and n["ci_low"] == 0.01
    assert n["p_value"] == 0.001 and n["margin_db"] == 0.02 and bool(n["converged"])
    assert v.loc[("nlrn-tab2-rnn-baseline", "smoke"), "verdict"] == "does not hold"
    status = board.set_index("claim_id")["status"]
    reason = board.set_index("claim_id")["reason"]
    assert status["nlrn-tab2-rnn-baseline"] == scoreboard.DIRECTION  # cpu beats smoke
    assert status["nlrn-tab2-weight-sharing"] == scoreboard.INCONCLUSIVE
    assert "too few seeds" in reason["nlrn-tab2-weight-sharing"]
    assert status["nlrn-tab2-corr-propagation"] == "not reproduced"
    assert status["memnet-tab1-connections"] == scoreboard.INCONCLUSIVE
    assert status["nlrn-tab2-nl-frequency"] == "not attempted"
    text = scoreboard.headline(board)
    assert "Findings: 1 hold (1 of them at a reduced budget only), 1 do not hold, 2 " in text
    assert "of 4 checked" in text
    # the unchecked findings split into those waiting for runs and those that cannot be checked
    unchecked = board[(board["kind"] == "finding") & (board["status"] == "not attempted")]
    waiting = unchecked["reason"].str.startswith("checked by registry entry").sum()
    assert 0 < waiting < len(unchecked)
    assert (
        f"{len(unchecked)} not checked: {waiting} wait for the runs of the registry entry that "
        f"checks them, {len(unchecked) - waiting} cannot be checked here"
    ) in text


def test_a_finding_bears_on_every_table_its_source_names_ranges_included():
    assert scoreboard._source_tables("Tables 1-2; Sec. 5.2") == {"table1", "table2"}
    assert scoreboard._source_tables("Tables 1-2, 4-6, 9; Sec. 5") == {
        "table1", "table2", "table4", "table5", "table6", "table9",
    }  # fmt: skip
    assert scoreboard._source_tables("Table IV; Sec. IV-B") == {"table4"}


def test_figure_observations_join_the_verdicts_and_a_registered_check_names_its_entry(
    monkeypatch, tmp_path
):
    root = _results(monkeypatch, tmp_path)
    _csv(root, "memnet/table1/cpu/analysis/memnet_fig5_gate_norms_judged.csv", [
        {"finding": "memnet-fig5-obs2-decay", "claim": "norms fall",
         "verdict": "inconclusive (too few seeds: 1 < 3)", "seeds_showing": "1 of 1",
         "evidence": "seed 0: yes, rho -1.00"},
        {"finding": "memnet-fig5-obs3-memories", "claim": "(a) last largest",
         "verdict": "holds", "seeds_showing": "3 of 3", "evidence": "seed 0: yes"},
        {"finding": "memnet-fig5-obs3-memories", "claim": "(b) long outweighs short",
         "verdict": "inconclusive (seeds disagree)", "seeds_showing": "2 of 3",
         "evidence": "seed 0: yes; seed 1: no"},
    ])  # fmt: skip
    v = scoreboard.verdicts().set_index("finding")
    o = v.loc["memnet-fig5-obs2-decay"]
    assert (o["paper"], o["budget"], o["verdict"], o["seeds"]) == (
        "memnet",
        "cpu",
        "inconclusive",
        1,
    )
    assert o["reason"].startswith("too few seeds: 1 < 3; norms fall: seed 0: yes, rho -1.00")
    assert "memnet_fig5_gate_norms_judged.csv" in o["reason"]
    # the two parts of observation (3) keep the weaker verdict, as several checks do
    assert v.loc["memnet-fig5-obs3-memories", "verdict"] == "inconclusive"
    assert v.loc["memnet-fig5-obs3-memories", "reason"].startswith("seeds disagree; (b)")
    board = scoreboard.build().set_index("claim_id")
    assert board.loc["memnet-fig5-obs2-decay", "status"] == scoreboard.INCONCLUSIVE
    # the scoreboard names the observation's file once, not again after the reason
    assert board.loc["memnet-fig5-obs2-decay", "reason"].count("gate_norms_judged.csv") == 1
    # a finding the registry checks but whose runs are not scored names the entry
    assert board.loc["memnet-tab6-deeper-better", "reason"].startswith(
        "checked by registry entry memnet/table6"
    )
    # a finding the registry says no check can judge here gives the entry's reason
    assert board.loc["rednet-tab8-blind-sr", "reason"] == (
        f"{scoreboard.NOT_CHECKABLE}: the compared method, CSCN, is a cited result not "
        "re-implemented here (registry entry rednet/table8)"
    )
    # each entry named once, however many of its checks judge the finding
    assert board.loc["nlrn-tab5-mv", "reason"].startswith(
        "checked by registry entry nlrn/table5, whose runs"
    )
    # a finding whose tables have no measurable cell here says why
    assert board.loc["memorynet-tab2-raindrop", "reason"] == (
        "nothing to check it on here: " + scoreboard.UNAVAILABLE["RainDrop"]
    )
    assert board.loc["rednet-tab10-deblur", "reason"].endswith(scoreboard.DEBLUR_REASON)
