"""The claims scoreboard: statuses computed from results/ summaries and finding verdicts."""

from __future__ import annotations

import shutil

import pandas as pd

from reprolib import claims, scoreboard


def _board(monkeypatch, tmp_path, conclusive: bool, holds: bool) -> pd.DataFrame:
    shutil.copytree(claims.claims_dir(), tmp_path / "claims")
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    folder = tmp_path / "memnet" / "table1"
    folder.mkdir(parents=True)
    pd.DataFrame(
        [{"paper": "memnet", "table": "table1", "dataset": "Set5", "setting": "x3",
          "method": "MemNet", "metric": "psnr", "claimed": 34.09, "measured": 31.0,
          "diff": -3.09, "n_images": 5, "budget": "cpu"}]
    ).to_csv(folder / "summary.csv", index=False)  # fmt: skip
    pd.DataFrame(
        [{"claim_id": "memnet-tab1-connections", "holds": holds, "budget": "cpu",
          "evidence": "e", "conclusive": conclusive}]
    ).to_csv(folder / "findings.csv", index=False)  # fmt: skip
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
    folder = tmp_path / "memnet" / "table3"
    folder.mkdir(parents=True)
    pd.DataFrame(
        [{"paper": "memnet", "table": "table3", "dataset": "BSD200", "setting": "sigma30",
          "method": "MemNet", "metric": "psnr", "claimed": 28.04, "measured": 15.7,
          "diff": -12.34, "n_images": 200, "budget": "cpu"}]
    ).to_csv(folder / "summary.csv", index=False)  # fmt: skip
    row = scoreboard.build().set_index("claim_id").loc["memnet-table3-BSD200-sigma30-MemNet-psnr"]
    assert row["status"] == scoreboard.INCONCLUSIVE
    assert "no finding of this table is checked" in row["reason"]
    assert board.loc["memnet-table1-Set5-x3-MemNet-psnr", "status"] != scoreboard.INCONCLUSIVE


def test_a_finding_bears_on_the_tables_of_the_entry_that_checked_it(monkeypatch, tmp_path):
    """RED-Net's depth finding is sourced to "Tables 1-2, 4-6, 9"; ``rednet/table2`` checks it
    on Table 2's runs, so Table 2's cells take its verdict."""
    shutil.copytree(claims.claims_dir(), tmp_path / "claims")
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    folder = tmp_path / "rednet" / "table2"
    folder.mkdir(parents=True)
    pd.DataFrame(
        [{"paper": "rednet", "table": "table2", "dataset": "BSD200", "setting": "sigma50",
          "method": "RED30", "metric": "psnr", "claimed": 25.75, "measured": 24.9,
          "diff": -0.85, "n_images": 200, "budget": "cpu"}]
    ).to_csv(folder / "summary.csv", index=False)  # fmt: skip
    pd.DataFrame(
        [{"claim_id": "rednet-tab1-depth", "holds": False, "budget": "cpu", "evidence": "e",
          "conclusive": True}]
    ).to_csv(folder / "findings.csv", index=False)  # fmt: skip
    row = scoreboard.build().set_index("claim_id").loc["rednet-table2-BSD200-sigma50-RED30-psnr"]
    assert row["status"] == "not reproduced"
    assert "findings do not hold" in row["reason"]
