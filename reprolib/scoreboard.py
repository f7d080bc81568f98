"""The claims scoreboard: every table cell and stated finding of the four papers, with a status.

Statuses (issue #5):

* ``reproduced`` - measured at a comparable budget (no training needed, or the paper's schedule)
  and within the tolerance stated next to the measurement;
* ``direction only (reduced budget)`` - measured at a reduced training budget; the absolute
  value is not comparable, but the paper's finding about it (an ordering or trend) holds;
* ``not reproduced`` - measured, and outside tolerance, or the finding does not hold;
* ``inconclusive`` - a run the finding compares did not beat its own degraded input
  (``reprolib.experiments.MIN_GAIN_DB``: it learned nothing at that budget) or has not been run
  yet, or a reduced-budget cell belongs to a table none of whose findings this study checks (its
  claims compare with methods not trained here), so the verdict says nothing about the paper;
  the reason says which;
* ``not attempted`` - no measurement; the reason says why (data not available, a cited
  competitor that this study does not re-implement, training not yet run at this budget, a set
  outside the evaluation grid of the entry that trained the model).

Everything is computed from ``results/``: ``**/summary.csv`` files in the shared comparison shape
and ``**/findings.csv`` verdicts written by the experiments. Nothing is typed in here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reprolib import claims, experiments

INCONCLUSIVE = "inconclusive"
STATUSES = (
    "reproduced", "direction only (reduced budget)", "not reproduced", INCONCLUSIVE,
    "not attempted",
)  # fmt: skip
COLUMNS = [
    "claim_id", "paper", "table", "dataset", "setting", "method", "metric", "claimed",
    "measured", "budget", "status", "reason",
]  # fmt: skip
KEY = ["paper", "table", "dataset", "setting", "method", "metric"]
# Budgets from most to least comparable with the paper; "none" = nothing to train.
NO_TRAINING = claims.NO_TRAINING  # the budget of a cell measured without training
BUDGET_RANK = {NO_TRAINING: 0, "paper": 1, "gpu": 2, "cpu": 3, "smoke": 4}
COMPARABLE = {NO_TRAINING, "paper"}

UNAVAILABLE = {
    "S14": "the 14-image denoising set is not available offline (tyshiwo/MemNet repository, "
    "~650 MB with models; see the data README)",
    "ISTD": "full ISTD is not available here (several GB; one sample triple only); the ablation "
    "runs on a labelled synthetic-shadow proxy instead",
    "RainDrop": "no public RainDrop pairs with ground truth were found",
    "GoPro": "full GoPro is not available here (several GB; two sample pairs only)",
}
OWN_METHODS = {
    "memnet": ("MemNet", "M4R6", "M6R6", "M6R8", "M10R10"),
    "rednet": ("RED",),
    "nlrn": (
        "NLRN",
        "RNN_same_params",
        "NL_every",
        "euclidean",
        "dot_product",
        "embedded",
        "gaussian",
        "symmetric",
    ),  # fmt: skip
    "memorynet": ("MemoryNet", "Baseline", "Memory", "Contrastive"),
}
BASELINES = ("Bicubic", "JPEG", "BM3D", "DnCNN")


def _read_all(name: str) -> pd.DataFrame:
    """Concatenate every ``name`` CSV under results/ (quick ``limit*`` runs excluded)."""
    frames = []
    for path in sorted(claims.results_root().rglob(name)):
        if any(part.startswith("limit") for part in path.parts) or path.parent.name == "claims":
            continue
        try:
            df = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            continue
        df["source"] = str(path.relative_to(claims.results_root()))
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def measurements() -> pd.DataFrame:
    """Every measured cell under results/, the most comparable budget kept per claim key."""
    m = _read_all("summary.csv")
    if m.empty:
        return pd.DataFrame(columns=[*KEY, "measured", "budget", "within_tolerance", "source"])
    if "budget" not in m:
        m["budget"] = None
    m["budget"] = m["budget"].fillna(NO_TRAINING)
    for col in ("within_tolerance", "tolerance"):  # only protocol checks state a tolerance
        if col not in m:
            m[col] = None
    for col in KEY:
        m[col] = m[col].astype(str)
    m["_rank"] = m["budget"].map(BUDGET_RANK).fillna(9)
    m = m.sort_values("_rank").drop_duplicates(KEY, keep="first")
    return m[[*KEY, "measured", "budget", "within_tolerance", "diff", "tolerance", "source"]]


def finding_verdicts() -> pd.DataFrame:
    """Verdicts on findings written by experiments: claim_id, holds, budget, evidence."""
    v = _read_all("findings.csv")
    if v.empty:
        return pd.DataFrame(columns=["claim_id", "holds", "budget", "evidence", "source"])
    v["_rank"] = v["budget"].map(BUDGET_RANK).fillna(9)
    return v.sort_values("_rank").drop_duplicates("claim_id", keep="first")


def _own(paper: str, method: str) -> bool:
    return any(method.startswith(p) for p in OWN_METHODS.get(paper, ()))


def _not_attempted_reason(row: pd.Series, trained: set[tuple]) -> str:
    """Why a claimed cell has no measurement; ``trained`` holds the (paper, table, method)
    triples trained at some budget and scored on other cells, i.e. a model that exists but was
    not scored on this one."""
    if row["dataset"] in UNAVAILABLE:
        return UNAVAILABLE[row["dataset"]]
    if row["metric"] == "time_s":
        return "timings on the authors' GPU are not comparable with this hardware"
    if (row["paper"], row["table"], row["method"]) in trained:
        return "trained, but this set or setting is not in the entry's evaluation grid"
    if _own(row["paper"], row["method"]):
        return "needs training; not yet run at any budget in this study"
    if any(row["method"].startswith(b) for b in BASELINES):
        return "baseline not measured on this set or setting"
    return "cited result of another method, not re-implemented in this study"


def _inconclusive(verdict: pd.Series) -> bool:
    """Whether an experiment flagged the verdict inconclusive (older files lack the column)."""
    return str(verdict.get("conclusive", "True")).strip().lower() == "false"


def _table_findings(verdicts: pd.DataFrame, findings: pd.DataFrame) -> dict[tuple, bool | None]:
    """(paper, table) -> whether the findings on that table that were checked all hold
    (``None`` when one of them is inconclusive).

    A finding bears on the tables its source names ("Table 2; Sec. 5.1") and on the tables of
    the experiment that checked it (``tables`` in experiments.yaml): RED-Net's depth finding is
    sourced to "Tables 1-2, 4-6, 9" but checked by ``rednet/table2`` on Table 2's runs."""
    registry = experiments.load()
    out: dict[tuple, list[bool | None]] = {}
    verdicts = verdicts.assign(
        holds=[None if _inconclusive(v) else bool(v["holds"]) for _, v in verdicts.iterrows()],
        checked_in=[str(Path(str(v.get("source", ""))).parent) for _, v in verdicts.iterrows()],
    )
    checked = findings.merge(verdicts[["claim_id", "holds", "checked_in"]], on="claim_id")
    for _, f in checked.iterrows():
        tables = set(registry[f["checked_in"]].tables) if f["checked_in"] in registry else set()
        for part in str(f["source"]).replace(",", ";").split(";"):
            part = part.strip().lower()
            if part.startswith("table "):
                number = part.split()[1].replace("iv", "4").replace("iii", "3")
                tables.add("table" + number.replace("ii", "2").replace("i", "1"))
        holds = None if pd.isna(f["holds"]) else bool(f["holds"])
        for table in tables:
            out.setdefault((f["paper"], table), []).append(holds)
    return {k: None if None in v else all(v) for k, v in out.items()}


def build() -> pd.DataFrame:
    """The scoreboard: one row per claim cell and per finding (``COLUMNS``)."""
    cells = claims.load_claims().copy()
    for col in KEY:
        cells[col] = cells[col].astype(str)
    cells = cells.rename(columns={"value": "claimed"})
    cells = cells.merge(measurements(), on=KEY, how="left")
    findings = claims.load_findings()
    verdicts = finding_verdicts()
    by_table = _table_findings(verdicts, findings)

    # Models this study trained for a table (not architecture or no-training protocol cells).
    trained_cells = cells[cells["measured"].notna() & (cells["budget"] != NO_TRAINING)]
    trained = set(zip(trained_cells["paper"], trained_cells["table"], trained_cells["method"]))
    status, reason = [], []
    for _, r in cells.iterrows():
        if pd.isna(r["measured"]):
            status.append("not attempted")
            reason.append(_not_attempted_reason(r, trained))
        elif r["budget"] in COMPARABLE:
            ok = bool(r["within_tolerance"]) if pd.notna(r["within_tolerance"]) else False
            status.append("reproduced" if ok else "not reproduced")
            reason.append(
                f"|diff| {abs(r['diff']):.4g} {'<=' if ok else '>'} tolerance {r['tolerance']:g} "
                f"({r['source']})"
            )
        else:
            key = (r["paper"], r["table"])
            holds = by_table.get(key)
            if key not in by_table:
                status.append(INCONCLUSIVE)
                verdict = (
                    "no finding of this table is checked (none compares runs this study "
                    "trains), so the gap is reported, not judged"
                )
            elif holds is None:
                status.append(INCONCLUSIVE)
                verdict = (
                    "the table's findings are inconclusive (a compared run learned nothing or "
                    "has not run)"
                )
            else:
                status.append("direction only (reduced budget)" if holds else "not reproduced")
                verdict = f"the table's findings {'hold' if holds else 'do not hold'}"
            reason.append(
                f"{r['budget']} budget: absolute value not comparable; {verdict} ({r['source']})"
            )
    cells["status"], cells["reason"] = status, reason
    cells["claim_id"] = cells[KEY].agg("-".join, axis=1)

    f = findings.merge(verdicts, on="claim_id", how="left", suffixes=("", "_v"))
    rows = []
    for _, r in f.iterrows():
        if pd.isna(r.get("holds")):
            st, why, budget = "not attempted", "no experiment checks this finding yet", None
        else:
            budget = r["budget"]
            if _inconclusive(r):
                st = INCONCLUSIVE
            elif not bool(r["holds"]):
                st = "not reproduced"
            elif budget in COMPARABLE:
                st = "reproduced"
            else:
                st = "direction only (reduced budget)"
            why = f"{r['evidence']} ({r['source_v']})"
        rows.append(
            {
                "claim_id": r["claim_id"], "paper": r["paper"], "table": r["source"],
                "dataset": "-", "setting": "-", "method": "-", "metric": r["kind"],
                "claimed": r["claim"], "measured": None, "budget": budget, "status": st,
                "reason": why,
            }
        )  # fmt: skip
    out = pd.concat([cells[COLUMNS], pd.DataFrame(rows, columns=COLUMNS)], ignore_index=True)
    return out


def write(path: str | Path | None = None) -> pd.DataFrame:
    """Build the scoreboard and write ``results/scoreboard.csv``."""
    board = build()
    board.to_csv(path or claims.results_root() / "scoreboard.csv", index=False)
    return board


def counts(board: pd.DataFrame) -> pd.DataFrame:
    """Status counts per paper (rows) - the scoreboard's headline table."""
    t = pd.crosstab(board["paper"], board["status"]).reindex(columns=list(STATUSES), fill_value=0)
    t.loc["all"] = t.sum()
    return t
