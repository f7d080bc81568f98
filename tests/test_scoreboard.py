"""The claims scoreboard: statuses computed from results/ summaries and finding verdicts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from reprolib import claims, scoreboard


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
    findings.csv."""
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


def _results(monkeypatch, tmp_path) -> Path:
    shutil.copytree(claims.claims_dir(), tmp_path / "claims")
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    return tmp_path


def _board(monkeypatch, tmp_path, conclusive: bool, holds: bool) -> pd.DataFrame:
    finding = {"claim_id": "memnet-tab1-connections", "holds": holds, "conclusive": conclusive}
    root = _results(monkeypatch, tmp_path)
    _write_entry(root, "memnet/table1", ("Set5", "x3", "MemNet"), 34.09, 31.0, finding)
    return scoreboard.build().set_index("claim_id")


def test_a_reduced_budget_cell_takes_its_tables_finding_verdict(monkeypatch, tmp_path):
    board = _board(monkeypatch, tmp_path, conclusive=True, holds=True)
    assert board.loc["memnet-table1-Set5-x3-MemNet-psnr", "status"] == (
        "direction only (reduced budget)"
    )
    assert board.loc["memnet-tab1-connections", "status"] == "direction only (reduced budget)"
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


def test_a_reduced_budget_cell_of_a_table_without_checked_findings_is_inconclusive(
    monkeypatch, tmp_path
):
    """MemNet Table 3 compares MemNet only with methods this study does not train: a cpu-budget
    value there is reported with its gap but neither 'reproduced' nor 'not reproduced'."""
    board = _board(monkeypatch, tmp_path, conclusive=True, holds=True)
    _write_entry(tmp_path, "memnet/table3", ("BSD200", "sigma30", "MemNet"), 28.04, 15.7)
    row = scoreboard.build().set_index("claim_id").loc["memnet-table3-BSD200-sigma30-MemNet-psnr"]
    assert row["status"] == scoreboard.INCONCLUSIVE
    assert "no finding of this table is checked" in row["reason"]
    assert board.loc["memnet-table1-Set5-x3-MemNet-psnr", "status"] != scoreboard.INCONCLUSIVE


def test_a_finding_bears_on_the_tables_of_the_entry_that_checked_it(monkeypatch, tmp_path):
    """RED-Net's depth finding is sourced to "Tables 1-2, 4-6, 9"; ``rednet/table2`` checks it
    on Table 2's runs, so Table 2's cells take its verdict."""
    root = _results(monkeypatch, tmp_path)
    finding = {"claim_id": "rednet-tab1-depth", "holds": False}
    _write_entry(root, "rednet/table2", ("BSD200", "sigma50", "RED30"), 25.75, 24.9, finding)
    row = scoreboard.build().set_index("claim_id").loc["rednet-table2-BSD200-sigma50-RED30-psnr"]
    assert row["status"] == "not reproduced"
    assert "findings do not hold" in row["reason"]
