"""Tests of the chapters' "Tables and figures" section (reprolib.chapters.tables_and_figures)
on a small constructed results root: one paper with two tables and three figures, one
registry entry with runs in every state, a verdict, a per-seed figure observation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from reprolib import chapters, claims, runs
from reprolib.experiments import Experiment, Run

RECIPE = "memnet_sr_identity_adam"
REASON_S14 = "the 14-image set is not available offline"


def _csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)


def _claim(table: str, method: str) -> dict:
    return {"paper": "memnet", "table": table, "dataset": "Set5", "setting": "x3",
            "method": method, "metric": "psnr", "value": 30.0, "note": ""}  # fmt: skip


def _finding(cid: str, source: str) -> dict:
    return {"claim_id": cid, "paper": "memnet", "source": source, "claim": f"claim {cid}",
            "kind": "ordering", "quantities": "q", "note": ""}  # fmt: skip


def _cell(table: str, method: str, status: str, reason: str) -> dict:
    return {"claim_id": f"memnet-{table}-{method}", "paper": "memnet", "table": table,
            "kind": "model", "status": status, "reason": reason}  # fmt: skip


def _run(exp: Experiment, run: Run, seed: int, state: str) -> None:
    """A run folder of ``run``/``seed`` at cpu: ``current`` (scored under the entry's spec),
    ``stale`` (scored under another spec) or ``partial`` (a checkpoint only)."""
    d = exp.run_dir(run, "cpu", seed)
    d.mkdir(parents=True)
    if state == "partial":
        (d / "checkpoint.pt").write_bytes(b"")
        return
    (d / runs.METRICS).write_text("dataset,setting,psnr,ssim\nSet5,x3,30.0,0.9\n")
    spec = exp.spec_hash(run, "cpu", seed) if state == "current" else "another recipe"
    (d / runs.SPEC).write_text(json.dumps({"hash": spec}))
    summary = {"iterations": 1000 * (seed + 1), "patches_seen": 16000 * (seed + 1),
               "wall_s": 3600.0 * (seed + 1), "hardware": "cpu: 1 threads"}  # fmt: skip
    (d / runs.SUMMARY).write_text(json.dumps(summary))


@pytest.fixture
def paper(tmp_path, monkeypatch) -> dict:
    """A results root for the paper ``memnet`` and a one-entry registry."""
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    c = tmp_path / "claims"
    _csv(c / "memnet.csv", [_claim("table1", "MemNet"), _claim("table1", "MemNet_NL"),
                            _claim("table2", "MemNet"), _claim("table2", "VDSR")])  # fmt: skip
    _csv(c / "findings.csv", [
        _finding("memnet-t1", "Table 1; Sec. 5.2"),
        _finding("memnet-longterm", "Sec. 5.2"),  # no table named: its checking entry's table
        _finding("memnet-single", "Sec. 1"),  # no table, no check: stated in the text
        _finding("memnet-f4", "Fig. 4; Sec. 3.4"),
    ])  # fmt: skip
    _csv(c / "contents.csv", [
        {"paper": "memnet", "item": "table1", "caption": "ablation", "content": "numbers"},
        {"paper": "memnet", "item": "table2", "caption": "comparison", "content": "numbers"},
        {"paper": "memnet", "item": "fig1", "caption": "architecture", "content": "diagram"},
        {"paper": "memnet", "item": "fig2", "caption": "loss curves", "content": "plot"},
        {"paper": "memnet", "item": "fig4", "caption": "spectra", "content": "plot"},
    ])  # fmt: skip
    _csv(tmp_path / "scoreboard.csv", [
        _cell("table1", "MemNet", "inconclusive", "cpu budget: ..."),
        _cell("table1", "MemNet_NL", "inconclusive", "cpu budget: ..."),
        _cell("table2", "MemNet", "not attempted", REASON_S14),
        _cell("table2", "VDSR", "not attempted", REASON_S14),
        {**_cell("Sec. 1", "-", "not attempted", "no experiment checks this finding yet"),
         "claim_id": "memnet-single", "kind": "finding"},
    ])  # fmt: skip
    _csv(tmp_path / "verdicts.csv", [
        {"finding": "memnet-t1", "paper": "memnet", "budget": "cpu", "verdict": "inconclusive",
         "reason": "too few seeds (< 3): MemNet (2), MemNet_NL (1)"},
    ])  # fmt: skip
    _csv(tmp_path / "verdict_plan.csv", [
        {"finding": "memnet-t1", "budget": "cpu", "experiments": "memnet/table1",
         "runs": "MemNet MemNet_NL", "blocked_by": "", "untested": "", "missing": 3,
         "train_cpu_h": 2.5, "eval_cpu_h": 0.25, "total_cpu_h": 2.75, "items": "..."},
    ])  # fmt: skip
    nl = Run("MemNet_NL", RECIPE, overrides={"long_term": False})
    exp = Experiment(
        id="memnet/table1", title="Table 1", paper="memnet",
        runs=(Run("MemNet", RECIPE), nl), eval={"sets": ["Set5"], "settings": ["x3"]},
        tables=("table1",), analyses=("memnet_fig4_spectra",), seeds=(0, 1, 2),
        checks=({"finding": "memnet-longterm", "kind": "order", "runs": ["MemNet", "MemNet_NL"]},),
    )  # fmt: skip
    _run(exp, exp.runs[0], 0, "current")
    _run(exp, exp.runs[0], 1, "current")
    _run(exp, nl, 0, "current")
    _run(exp, nl, 1, "partial")
    _run(exp, nl, 2, "stale")
    (exp.folder / "report_cpu.ipynb").write_text("{}")
    _csv(exp.folder / "cpu" / "analysis" / "memnet_fig4_spectra_judged.csv", [
        {"finding": "memnet-f4", "claim": "more high-frequency power",
         "verdict": "inconclusive (too few seeds: 2 < 3)", "seeds_showing": "2 of 2",
         "evidence": "seed 0: yes; seed 1: yes"},
    ])  # fmt: skip
    items = chapters.tables_and_figures("memnet", {exp.id: exp})
    return {it.item: it for it in items}


def test_source_items_reads_ranges_roman_numbers_figures_and_sections():
    assert claims.source_items("Tables 1-2, 4-6, 9; Sec. 5") == [
        "table1", "table2", "table4", "table5", "table6", "table9", "sec5",
    ]  # fmt: skip
    assert claims.source_items("Table IV; Sec. IV-B") == ["table4", "secIV-B"]
    assert claims.source_items("Sec. 5.6; Fig. 17") == ["sec5.6", "fig17"]
    assert claims.source_items("Fig. 5; Sec. 5.3 observation (1)") == ["fig5", "sec5.3"]
    assert chapters.item_label("fig12") == "Fig. 12"
    assert chapters.item_label("sec4.5") == "Sec. 4.5"


def test_every_table_and_figure_is_listed_in_order_with_the_text_group_last(paper):
    assert list(paper) == ["table1", "table2", "fig1", "fig2", "fig4", chapters.TEXT_ITEM]


def test_a_table_without_an_entry_says_why_from_the_scoreboard(paper):
    t2 = paper["table2"]
    assert t2.entries == [] and t2.reports == [] and t2.budgets.empty
    assert t2.cells == {"not attempted": 2}
    assert t2.not_measured.to_dict("records") == [{"reason": REASON_S14, "cells": 2}]
    text = chapters.item_markdown(t2)
    assert "**Registry entry**: none" in text
    assert f"2 cells: {REASON_S14}" in text


def test_seeds_states_and_the_training_budget_of_an_entry(paper):
    t1 = paper["table1"]
    assert t1.entries == ["memnet/table1"]
    assert t1.reports == ["table1/report_cpu.ipynb"]
    b = t1.budgets.iloc[0].to_dict()
    assert (b["budget"], b["runs"], b["runs_scored"]) == ("cpu", 2, 2)
    assert (b["seeds_min"], b["seeds_max"], b["seeds_asked"]) == (1, 2, 3)
    assert (b["stale"], b["partial"]) == (1, 1)
    # only the current seeds (0 and 1) count for the budget: the stale seed 2 does not
    assert (b["iterations_min"], b["iterations_max"]) == (1000, 2000)
    assert (b["patches_min"], b["patches_max"]) == (16000, 32000)
    assert (b["wall_h_min"], b["wall_h_max"]) == (1.0, 2.0)
    assert b["hardware"] == "cpu: 1 threads"
    text = chapters.item_markdown(t1)
    assert "2 of 2 runs scored; seeds per run: 1-2 scored of 3 asked; 1 stale" in text
    assert "1,000-2,000 iterations, 16,000-32,000 patches seen, 1.0-2.0 h" in text
    assert "[table1 report (cpu budget)](table1/report_cpu.ipynb)" in text


def test_findings_join_the_verdict_or_the_check_that_will_judge_them(paper):
    f = paper["table1"].findings.set_index("finding")
    assert f.at["memnet-t1", "verdict"] == "inconclusive"
    assert f.at["memnet-t1", "budget"] == "cpu"
    assert f.at["memnet-t1", "reason"].startswith("too few seeds")
    # "Sec. 5.2" names no table: the finding goes to the table of the entry that checks it
    assert f.at["memnet-longterm", "verdict"] == "not checked"
    assert f.at["memnet-longterm", "reason"] == "checked by memnet/table1 once its runs are scored"
    text = paper[chapters.TEXT_ITEM].findings.to_dict("records")
    assert [(r["finding"], r["reason"]) for r in text] == [
        ("memnet-single", "no experiment checks this finding yet")
    ]


def test_figures_show_their_drawing_entry_observations_or_why_not(paper):
    f4 = paper["fig4"]
    assert f4.entries == ["memnet/table1"]  # drawn by the entry's memnet_fig4_spectra analysis
    (obs,) = f4.findings.to_dict("records")
    assert (obs["finding"], obs["verdict"], obs["budget"]) == ("memnet-f4", "inconclusive", "cpu")
    assert obs["reason"].startswith("too few seeds: 2 < 3; more high-frequency power")
    assert paper["fig1"].why_not == chapters.CONTENT_REASON["diagram"]
    assert paper["fig2"].why_not == chapters.NO_ENTRY_REASON
    assert paper["fig2"].findings.empty


def test_overview_has_one_row_per_item(paper):
    o = chapters.overview(list(paper.values())).set_index("table or figure")
    assert list(o.index) == ["Table 1", "Table 2", "Fig. 1", "Fig. 2", "Fig. 4",
                             "Stated in the text"]  # fmt: skip
    assert o.at["Table 1", "scored (runs, seeds per run)"] == "cpu: 2/2 runs, 1-2/3 seeds"
    assert o.at["Table 1", "findings"] == "1 inconclusive, 1 not checked"
    assert o.at["Table 2", "cells measured"] == "0 of 2"
    assert o.at["Fig. 1", "entry"] == "none"


def test_the_committed_contents_name_every_claims_table(monkeypatch):
    monkeypatch.delenv("REPROLIB_RESULTS", raising=False)
    for paper in claims.PAPERS:
        items = chapters.paper_items(paper)
        assert set(claims.load_claims(paper)["table"]) <= set(items)
        assert items[-1] == chapters.TEXT_ITEM


def test_an_undecided_finding_says_what_deciding_it_takes(paper):
    f = paper["table1"].findings.set_index("finding")
    want = ("3 seed runs missing, about 2.8 h of one core (2.5 h training, 0.2 h scoring; "
            "`results/verdict_plan.csv`)")  # fmt: skip
    assert f.at["memnet-t1", "needs"] == want
    assert f.at["memnet-longterm", "needs"] == ""  # not checked yet: no plan row
    assert f"    - *To decide it*: {want}" in chapters.item_markdown(paper["table1"]).splitlines()
    blocked = {"finding": "x", "budget": "cpu", "blocked_by": "RED20 not converged",
               "untested": "", "missing": 4, "train_cpu_h": 1.0, "eval_cpu_h": "",
               "total_cpu_h": ""}  # fmt: skip
    assert chapters.needs_text(blocked) == (
        "seeds alone cannot decide it at `cpu` (RED20 not converged); it needs a longer "
        "schedule, on which the runs converge"
    )
    many = {**blocked, "blocked_by": "; ".join(
        [f"R{k} not converged" for k in range(5)] + ["M learned nothing"])}  # fmt: skip
    assert chapters.needs_text(many) == (
        "seeds alone cannot decide it at `cpu` (R0 not converged; R1 not converged; "
        "R2 not converged; R3 not converged; 2 more); it needs a longer schedule, on which the "
        "runs converge; and runs that learn (the cause of the collapse found first)"
    )
    sizes = {**blocked, "blocked_by": "relative sizes not kept (training pixels A/B: 0.33 "
             "here, 34 in the paper); A not converged"}  # fmt: skip
    assert chapters.needs_text(sizes).endswith(
        "it needs a longer schedule, on which the runs converge; and a budget that keeps the "
        "compared runs' relative sizes"
    )
    unknown = {**blocked, "blocked_by": "", "untested": "K5 (recipe not trained yet)"}
    assert chapters.needs_text(unknown) == (
        "4 seed runs missing, about ? h of one core (1.0 h training, ? h scoring; "
        "`results/verdict_plan.csv`); not scored yet: K5 (recipe not trained yet)"
    )


def test_the_landing_page_says_what_the_undecided_findings_need():
    plan = pd.DataFrame([
        {"finding": "a", "budget": "cpu", "blocked_by": "", "total_cpu_h": 12.3},
        {"finding": "b", "budget": "cpu", "blocked_by": "", "total_cpu_h": 3.4},
        {"finding": "c", "budget": "cpu", "blocked_by": "RED20 not converged",
         "total_cpu_h": 1.0},
        {"finding": "d", "budget": "gpu", "blocked_by": "", "total_cpu_h": 1.0},
    ])  # fmt: skip
    assert chapters.plan_headline(plan, "cpu") == (
        "Of 3 findings that still lack seeds or runs at `cpu`, 1 compares a run that did not "
        "converge or learned nothing there, or runs whose relative sizes that budget does not "
        "keep, so only another budget can decide them; the other 2 need about 16 hours of one "
        "core in all (the cheapest, b, about 3 h; "
        "`results/verdict_plan.csv`)."
    )
    assert chapters.plan_headline(plan, "paper") == ""


def test_the_plan_reads_hours_as_numbers_and_missing_text_as_empty(tmp_path, monkeypatch):
    """An unknown scoring time (empty in the CSV) stays NaN, so the hours sort as numbers
    ("12.3" after "8.1", not before) and read as "?"; empty text columns read as ""."""
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    _csv(tmp_path / "verdict_plan.csv", [
        {"finding": "a", "budget": "cpu", "blocked_by": None, "untested": None, "missing": 2,
         "train_cpu_h": 1.0, "eval_cpu_h": 11.3, "total_cpu_h": 12.3},
        {"finding": "b", "budget": "cpu", "blocked_by": None, "untested": "K5 (recipe not "
         "trained yet)", "missing": 2, "train_cpu_h": 8.1, "eval_cpu_h": None,
         "total_cpu_h": None},
        {"finding": "c", "budget": "cpu", "blocked_by": None, "untested": None, "missing": 1,
         "train_cpu_h": 8.1, "eval_cpu_h": 0.0, "total_cpu_h": 8.1},
    ])  # fmt: skip
    plan = chapters.load_verdict_plan()
    assert plan["total_cpu_h"].dtype == float and plan.at[0, "blocked_by"] == ""
    assert "about ? h of one core (8.1 h training, ? h scoring" in chapters.needs_text(
        plan.iloc[1].to_dict()
    )
    assert "(the cheapest, c, about 8 h;" in chapters.plan_headline(plan, "cpu")


def test_finding_glue_states_the_most_comparable_verdict_and_its_deciding_pair(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    stated = ("too few seeds (< 3): MemNet (2); the intervals alone would say 'does not hold' "
              "(MemNet - VDSR: -0.334 dB, 95% CI [-0.416, -0.263], p 0.0005, 219 images, "
              "seeds 2/3)")  # fmt: skip
    decided = {"paper": "memnet", "seeds": 2, "margin_db": -0.3343, "ci_low": -0.4161,
               "ci_high": -0.2626, "p_value": 0.0005, "reason": stated}  # fmt: skip
    _csv(tmp_path / "verdicts.csv", [
        {**decided, "finding": "a", "budget": "cpu", "verdict": "inconclusive"},
        {**decided, "finding": "a", "budget": "gpu", "verdict": "does not hold", "seeds": 3},
        {"finding": "b", "paper": "memnet", "budget": "cpu", "verdict": "inconclusive"},
        {**decided, "finding": "c", "budget": "cpu", "verdict": "holds", "margin_db": 0.05214,
         "ci_low": 0.0126, "ci_high": 0.1018, "p_value": None, "reason": "+5.2% power"},
        {**decided, "finding": "d", "paper": "nlrn", "budget": "cpu", "verdict": "holds"},
    ])  # fmt: skip
    assert chapters.finding_glue("memnet") == {
        "a-verdict": "does not hold", "a-seeds": "3", "a-budget": "gpu",  # gpu before cpu
        "a-difference": "MemNet - VDSR: -0.334 dB (95% CI [-0.416, -0.263], p 0.0005)",
        "b-verdict": "inconclusive", "b-seeds": "no", "b-budget": "cpu",
        "b-difference": "no paired difference measured yet",
        # no pair in dB in the reason: the margin in its own unit
        "c-verdict": "holds", "c-seeds": "2", "c-budget": "cpu",
        "c-difference": "+0.052 (95% CI [+0.013, +0.102])",
    }  # fmt: skip


GLUE_REF = re.compile(r"\{glue:text\}`/results/(\w+)/chapter\.ipynb::([\w.-]+):s`")


def test_every_value_the_chapter_pages_paste_is_glued_by_their_chapter_notebook():
    """The book is built with -W, so a missing key fails `make book`; this says which, without
    a build, against the committed results."""
    pasted = [m.groups() for md in sorted((Path(__file__).parents[1] / "book").glob("*.md"))
              for m in GLUE_REF.finditer(md.read_text())]  # fmt: skip
    assert pasted, "no chapter page pastes a finding's verdict"
    glued = {paper: chapters.finding_glue(paper) for paper in {p for p, _ in pasted}}
    assert [(p, k) for p, k in pasted if k not in glued[p]] == []
