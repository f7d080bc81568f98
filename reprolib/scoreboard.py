"""The claims scoreboard: every table cell and stated finding of the four papers, with a status.

Each row has a **kind**, so that a headline never adds up numbers that mean different things:

* ``baseline`` - a cell measured without training (bicubic, JPEG, BM3D, the DnCNN authors'
  published weights: budget ``claims.NO_TRAINING``), or an unmeasured cell of such a method;
* ``architecture`` - a parameter count or depth (``reprolib.architecture``, which builds the
  model of ``architecture_claims.yaml``), or a set-up figure printed beside them (filters,
  training images);
* ``model`` - a trained-model cell (measured at a training budget, or a cell nothing measured);
* ``finding`` - a stated finding of ``results/claims/findings.csv``.

Statuses (issue #5, issue #18):

* ``reproduced`` - measured at a comparable budget (no training needed, or the paper's schedule)
  and within the tolerance stated next to the measurement; a reduced-budget cell never is;
* ``consistent (formula)`` - a depth cell: every model of ``reprolib.models`` computes its depth
  from its constructor arguments (DnCNN's ``depth``, RED's ``num_layers``, MemNet's blocks and
  recursions, NLRN's ``1 + 4T + 1``), so matching the printed depth checks that the constructor
  is consistent with the paper, not that anything was reproduced; the headline counts it apart;
* ``direction only (reduced budget)`` - measured at a reduced training budget; the absolute
  value is not comparable, but every checked finding comparing this method holds;
* ``not reproduced`` - measured and outside tolerance, or a finding comparing it does not hold;
* ``inconclusive`` - the verdict rule (``reprolib.stats.VERDICT_RULE``) could not decide a
  finding comparing it, or no checked finding compares this method (the gap is reported, not
  judged), or a paper-budget cell states no tolerance; the reason says which;
* ``not attempted`` - no measurement; the reason says why (data not available, a cited
  competitor this study does not implement, an implemented model no entry trains for this table,
  a model that needs its own training per noise level, a set outside an entry's evaluation grid).

Rules, kept simple on purpose:

* **Reuse of a measurement.** A cell without a measurement of its own takes one of the same
  dataset, setting, method and metric made for another table (shown with its source): within
  the same paper, or across papers when both tables are scored under protocols that evaluate
  the same way (``reprolib.protocols``: task, channel, rounding, shave, resizing). When the
  protocols differ, or the cell's table has no known protocol, the reason says so instead.
* **Findings of a model cell.** A reduced-budget model cell takes its status from the checked
  findings that *involve its method*: the finding bears on the cell's table (the tables its
  source names, plus those of the registry entry that checked it) and names the method in its
  claim or ``quantities`` text (as a whole word, so ``RED`` is not ``RED30``) or compares a run
  labelled with it (the entry's ``checks``). Any finding that does not hold makes the cell ``not
  reproduced``; else any inconclusive one makes it ``inconclusive``; else ``direction only``.
* **Distinct measurements.** A cell printed by two tables (same dataset, setting, method,
  metric, measured value and source file) is one measurement: it is shown under both tables
  and counted once by :func:`counts` and :func:`headline`.

Everything is computed from the results root (``claims.results_root()``): ``**/summary.csv``
files in the shared comparison shape and ``**/findings.csv`` verdicts written by the
experiments, gathered into ``verdicts.csv`` (:func:`verdicts`). Nothing is typed in here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from reprolib import claims, experiments, protocol_check, protocols, runs, stats

INCONCLUSIVE = stats.INCONCLUSIVE
FORMULA = "consistent (formula)"
DIRECTION = "direction only (reduced budget)"
STATUSES = ("reproduced", FORMULA, DIRECTION, "not reproduced", INCONCLUSIVE, "not attempted")
KINDS = ("baseline", "architecture", "model", "finding")
COLUMNS = [
    "claim_id", "paper", "table", "kind", "dataset", "setting", "method", "metric", "claimed",
    "measured", "budget", "status", "reason", "source",
]  # fmt: skip
KEY = ["paper", "table", "dataset", "setting", "method", "metric"]
VERDICT_COLUMNS = [
    "finding", "paper", "budget", "verdict", "seeds", "margin_db", "ci_low", "ci_high",
    "p_value", "converged", "runs", "reason",
]  # fmt: skip
STAT_COLUMNS = ["seeds", "margin_db", "ci_low", "ci_high", "p_value", "converged", "runs"]
# Budgets from most to least comparable with the paper; "none" = nothing to train.
NO_TRAINING = claims.NO_TRAINING  # the budget of a cell measured without training
BUDGET_RANK = {NO_TRAINING: 0, "paper": 1, "gpu": 2, "cpu": 3, "smoke": 4}
COMPARABLE = {NO_TRAINING, "paper"}
ARCHITECTURE_METRICS = ("params", "depth", "filters", "training_images")
FORMULA_REASON = (
    "depth is a formula of the constructor arguments: checked for consistency, not a reproduction"
)
NOT_CHECKABLE = "no check can judge it here"
TIME_REASON = "timings on the authors' GPU are not comparable with this hardware"
NO_FINDING_REASON = "gap reported, not judged: no checked finding compares this method"

UNAVAILABLE = {
    "S14": "the 14-image denoising set is not available offline (tyshiwo/MemNet repository, "
    "~650 MB with models; see the data README)",
    "ISTD": "full ISTD is not available here (several GB; one sample triple only); the ablation "
    "runs on a labelled synthetic-shadow proxy instead",
    "RainDrop": "no public RainDrop pairs with ground truth were found",
    "GoPro": "full GoPro is not available here (several GB; two sample pairs only)",
}
DEBLUR_REASON = (
    "the deblurring test images (protocol of Xu et al. [59]) are not named and not available "
    "here, and no deblurring task is trained in this project (the kernels exist in "
    "reprolib.degrade)"
)
#: The reasons a cell cannot be measured here at all: its data is not available offline.
NO_DATA_REASONS = frozenset([*UNAVAILABLE.values(), DEBLUR_REASON])
# Method labels (prefixes) of models this study implements in reprolib.models, in any paper.
IMPLEMENTED = (
    "VDSR", "DnCNN", "RED", "MemNet", "M4R6", "M6R6", "M6R8", "M10R10", "NLRN", "NL_every",
    "RNN_same_params", "euclidean", "dot_product", "embedded", "gaussian", "symmetric",
    "Memory", "Baseline", "Contrastive", "MPRNet", "down_conv", "no_downsample",
)  # fmt: skip
BASELINES = ("Bicubic", "JPEG", "BM3D", "DnCNN")


def _read_all(name: str) -> pd.DataFrame:
    """Concatenate every ``name`` CSV under the results root (quick ``limit*`` runs and the
    claims folder excluded), with ``source``: the file's path relative to the root."""
    root = claims.results_root()
    frames = []
    for path in sorted(root.rglob(name)):
        rel = path.relative_to(root)
        if any(part.startswith("limit") for part in rel.parts) or path.parent.name == "claims":
            continue
        try:
            df = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            continue
        df["source"] = str(rel)
        frames.append(df)
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _entry(source: str) -> str:
    """The registry entry id of a results file: ``rednet/table4`` for its summary.csv."""
    return str(Path(source).parent)


def _is(method: str, prefixes: tuple[str, ...]) -> bool:
    return any(method.startswith(p) for p in prefixes)


def _evaluation(name: object) -> tuple | None:
    """What a protocol does to a score, without its name (:attr:`Protocol.scoring
    <reprolib.protocols.Protocol.scoring>`): two protocols with the same evaluation give the
    same number for the same method."""
    if not isinstance(name, str) or not name:
        return None
    if name not in protocols.PROTOCOLS:
        return (name,)
    return protocols.get(name).scoring


def measurements(registry: dict | None = None) -> pd.DataFrame:
    """Every measured cell under the results root, the most comparable budget kept per claim key,
    with the ``protocol`` it was scored under (the protocol check's own column, else the recipe
    protocol of the registry run labelled with the method)."""
    cols = [*KEY, "measured", "budget", "within_tolerance", "diff", "tolerance", "protocol",
            "source"]  # fmt: skip
    m = _read_all("summary.csv")
    if m.empty:
        return pd.DataFrame(columns=cols)
    for col in ("budget", "within_tolerance", "tolerance", "protocol"):
        if col not in m:  # only protocol and architecture checks state a tolerance
            m[col] = None
    m["budget"] = m["budget"].fillna(NO_TRAINING)
    for col in KEY:
        m[col] = m[col].astype(str)
    registry = experiments.load() if registry is None else registry
    run_protocol = {
        (eid, r.label): exp.recipe_for(r, "cpu").protocol
        for eid, exp in registry.items()
        for r in exp.runs
    }
    m["protocol"] = [
        p if isinstance(p, str) else run_protocol.get((_entry(s), method))
        for p, s, method in zip(m["protocol"], m["source"], m["method"], strict=True)
    ]
    m["_rank"] = m["budget"].map(BUDGET_RANK).fillna(9)
    m = m.sort_values("_rank", kind="stable").drop_duplicates(KEY, keep="first")
    return m[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- verdicts


def _flag(value: object) -> bool | None:
    """A CSV boolean (``True``/``False``, any case) or ``None`` when missing."""
    text = str(value).strip().lower()
    return True if text == "true" else False if text == "false" else None


def _verdict(row: dict) -> str:
    """The row's verdict; older findings.csv files have only ``holds`` and ``conclusive``."""
    if isinstance(row.get("verdict"), str) and row["verdict"].strip():
        return row["verdict"].strip()
    if _flag(row.get("conclusive")) is False:
        return stats.INCONCLUSIVE
    return stats.HOLDS if _flag(row.get("holds")) else stats.NOT_HOLDS


def _reason(row: dict, verdict: str) -> str:
    """The verdict's reason; older files only have ``evidence`` (its verdict prefix dropped)."""
    if isinstance(row.get("reason"), str) and row["reason"].strip():
        return row["reason"]
    evidence = str(row.get("evidence", "")) if pd.notna(row.get("evidence")) else ""
    return evidence.removeprefix(f"{verdict}: ")


def observations() -> pd.DataFrame:
    """Observations read off the papers' figures and judged per seed by an entry's analyses
    (``<entry>/<budget>/analysis/*_judged.csv``, :data:`reprolib.figures.OBSERVATION_RULE`),
    in the shape of :func:`verdicts`: the statistics columns are empty (an observation is
    judged by counting the seeds that show it, not by an interval), ``seeds`` is the number of
    seeds judged and the reason names the evidence and the file; ``models``: the ``entry:run``
    models it is read from, space-separated (what :func:`reprolib.figures.read_from` recorded;
    the verdict plan counts their missing seeds)."""
    o = _read_all("*_judged.csv")
    if o.empty:
        return pd.DataFrame(columns=[*VERDICT_COLUMNS, "source", "models"])
    split = o["verdict"].astype(str).str.partition(" (")
    o["verdict"] = split[0]
    why = split[2].str.removesuffix(")")
    ci = [
        f"; mean {m:+.4g}, 95% CI [{lo:+.4g}, {hi:+.4g}] in the quantity's own unit, not dB"
        if pd.notna(lo) else ""
        for m, lo, hi in zip(*(o.get(c, pd.Series(float("nan"), o.index)) for c in
                               ("margin", "ci_low", "ci_high")), strict=True)
    ]  # fmt: skip
    o["reason"] = [
        f"{w}; {c}: {e}{i} (judged per seed: {s})".lstrip("; ")
        for w, c, e, i, s in zip(why, o["claim"], o["evidence"], ci, o["source"], strict=True)
    ]
    o["seeds"] = o["seeds_showing"].astype(str).str.extract(r"of (\d+)", expand=False).astype(int)
    o["paper"] = [Path(s).parts[0] for s in o["source"]]
    o["budget"] = [Path(s).parts[-3] for s in o["source"]]
    o["runs"] = [f"figure analysis {Path(s).stem.removesuffix('_judged')}" for s in o["source"]]
    # the interval of the observation's own quantity (e.g. relative power), when it has one
    o["margin_db"] = o["margin"] if "margin" in o else None
    for col in ("ci_low", "ci_high"):
        o[col] = o[col] if col in o else None
    for col in ("p_value", "converged"):
        o[col] = None
    o["models"] = o["models"].fillna("").astype(str) if "models" in o else ""
    return o[[*VERDICT_COLUMNS, "source", "models"]].reset_index(drop=True)


def verdicts() -> pd.DataFrame:
    """Every finding verdict under the results root, one row per finding and budget
    (:data:`VERDICT_COLUMNS` plus ``source``, the findings.csv it came from).

    Older findings.csv files lack ``verdict`` (derived from ``holds``/``conclusive``), the
    statistics columns (left empty) and ``reason`` (taken from ``evidence``). When a finding is
    checked more than once at the same budget (one check per noise level or scale, or by two
    entries) the weakest verdict is kept: "does not hold", then "inconclusive", then "holds"
    (a finding stated for every row of a table holds only where every row's check holds);
    among equals the first file in path order. The figures' per-seed observations
    (:func:`observations`) follow the findings.csv verdicts."""
    v = _read_all("findings.csv")
    if v.empty or "claim_id" not in v:
        v = pd.DataFrame(columns=[*VERDICT_COLUMNS, "source"])
    else:
        for col in STAT_COLUMNS:
            if col not in v:
                v[col] = None
        records = v.to_dict("records")
        v["verdict"] = [_verdict(r) for r in records]
        v["reason"] = [_reason(r, x) for r, x in zip(records, v["verdict"], strict=True)]
        v["finding"] = v["claim_id"]
        v["paper"] = [Path(s).parts[0] for s in v["source"]]
    parts = [x for x in (v[[*VERDICT_COLUMNS, "source"]], observations()) if not x.empty]
    if not parts:
        return pd.DataFrame(columns=[*VERDICT_COLUMNS, "source"])
    v = pd.concat(parts, ignore_index=True)
    weakest = {stats.NOT_HOLDS: 0, INCONCLUSIVE: 1, stats.HOLDS: 2}
    v = v.assign(_weak=v["verdict"].map(weakest).fillna(1)).sort_values("_weak", kind="stable")
    v = v.drop_duplicates(["finding", "budget"], keep="first").sort_index()
    return v[[*VERDICT_COLUMNS, "source"]].reset_index(drop=True)


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV to ``path`` through a temporary file in the same folder, so a
    reader never sees half a file (:func:`reprolib.runs.write_csv`)."""
    runs.write_csv(path, frame)


def write_verdicts(path: str | Path | None = None) -> pd.DataFrame:
    """Write ``verdicts.csv`` (:data:`VERDICT_COLUMNS`; default: under the results root)."""
    v = verdicts()[VERDICT_COLUMNS]
    _write_atomic(v, Path(path) if path else claims.results_root() / "verdicts.csv")
    return v


# --------------------------------------------------------------------------- findings of a cell


def _source_tables(source: str) -> set[str]:
    """Tables named by a finding's source: ``"Tables 1-2; Sec. 5.2"`` -> ``{"table1", "table2"}``
    (:func:`reprolib.claims.source_items`)."""
    return {i for i in claims.source_items(source) if i.startswith("table")}


def _check_labels(exp: experiments.Experiment | None, finding: str) -> set[str]:
    """Method labels of the runs that ``exp``'s check of ``finding`` compares."""
    if exp is None:
        return set()
    label = {r.name: r.label for r in exp.runs}
    names: set[str] = set()
    for c in exp.checks:
        if c.get("finding") == finding:
            names |= set(label) if c.get("kind") == "peak" else set(c.get("runs", ()))
    return {label.get(n, n) for n in names}


def _checked(best: pd.DataFrame, findings: pd.DataFrame, registry: dict) -> list[dict]:
    """Each checked finding (its most comparable verdict) with the tables it bears on (its
    source's tables and those of the entry that checked it), the text naming the methods it
    compares (claim and quantities) and the labels of the runs its check compares."""
    text = {f["claim_id"]: f for f in findings.to_dict("records")}
    out = []
    for v in best.to_dict("records"):
        if v["finding"] not in text:
            continue
        f = text[v["finding"]]
        exp = registry.get(_entry(v["source"]))
        tables = _source_tables(f["source"]) | (set(exp.tables) if exp else set())
        out.append({
            "id": v["finding"], "paper": f["paper"], "tables": tables,
            "text": f"{f['claim']} {f['quantities']}",
            "labels": _check_labels(exp, v["finding"]), "verdict": v["verdict"],
            "reason": v["reason"],
        })  # fmt: skip
    return out


def _involves(finding: dict, method: str) -> bool:
    """Whether a finding compares ``method``: a run of its check has that label, or its text
    names the method as a whole word (``RED`` does not match ``RED30``)."""
    pattern = rf"(?<![\w+-]){re.escape(method)}(?![\w+-])"
    return method in finding["labels"] or re.search(pattern, finding["text"]) is not None


def _model_status(row: dict, checked: list[dict]) -> tuple[str, str]:
    """Status and verdict text of a reduced-budget model cell from the findings involving it."""
    mine = [
        f for f in checked
        if f["paper"] == row["paper"] and row["table"] in f["tables"]
        and _involves(f, row["method"])
    ]  # fmt: skip
    if not mine:
        return INCONCLUSIVE, NO_FINDING_REASON
    failed = [f for f in mine if f["verdict"] == stats.NOT_HOLDS]
    open_ = [f for f in mine if f["verdict"] not in (stats.HOLDS, stats.NOT_HOLDS)]
    if failed:
        return "not reproduced", "; ".join(f"finding {f['id']} does not hold" for f in failed)
    if open_:
        by_reason: dict[str, list[str]] = {}  # findings over the same runs share their reason
        for f in open_:
            by_reason.setdefault(f["reason"], []).append(f["id"])
        text = "; ".join(f"{', '.join(ids)} inconclusive ({why})" for why, ids in by_reason.items())
        return INCONCLUSIVE, f"finding {text}"
    return DIRECTION, "; ".join(f"finding {f['id']} holds" for f in mine)


# --------------------------------------------------------------------------- cells


def _kind(row: dict) -> str:
    """``architecture``, ``baseline`` or ``model`` (see the module docstring)."""
    if row["metric"] in ARCHITECTURE_METRICS:
        return "architecture"
    if row["budget"] == NO_TRAINING:
        return "baseline"
    if _is(row["method"], BASELINES) and pd.isna(row["measured"]):
        return "baseline"
    return "model"


def _where(c: dict) -> str:
    """How a measurement made for another table is named: ``rednet table4`` or an entry id."""
    return f"{c['paper']} {c['table']}" if c["table"] != "-" else _entry(c["source"])


def _borrow(cell: dict, candidates: list[dict], table_eval: dict) -> tuple[dict | None, str]:
    """A measurement of the same dataset/setting/method/metric made for another table that
    counts for ``cell`` (same paper, or the same evaluation protocol), else why none does."""
    mine = table_eval.get((cell["paper"], cell["table"]), set())
    notes = []
    for c in candidates:
        theirs = _evaluation(c["protocol"])
        if mine and theirs is not None:
            if mine == {theirs}:
                return c, ""
            notes.append(
                f"measured for {_where(c)} ({c['source']}) under protocol {c['protocol']}, "
                "which scores differently from this table's protocol, so not reused"
            )
        elif c["paper"] == cell["paper"]:
            return c, ""
        else:
            notes.append(
                f"measured for {_where(c)} ({c['source']}), but this table's protocol is not "
                "known here, so not reused"
            )
    return None, "; ".join(notes)


def _not_attempted_reason(row: dict, ctx: dict) -> str:
    """Why a claimed cell has no measurement (``ctx``: what :func:`build` knows of the runs)."""
    paper, table, method, setting = row["paper"], row["table"], row["method"], row["setting"]
    if row["dataset"] in UNAVAILABLE:
        return UNAVAILABLE[row["dataset"]]
    if paper == "rednet" and table == "table10":
        return DEBLUR_REASON
    if paper == "rednet" and table == "sec5.6" and not _is(method, IMPLEMENTED):
        return "cited result of another method, not re-implemented in this study"  # FoE
    if row["metric"] == "time_s":
        return TIME_REASON + ctx["speed_ratios"].get((paper, method), "")
    if row["metric"] in ("filters", "training_images"):
        return "a set-up figure the paper prints beside its results, not a measured result"
    covering = ctx["covered"].get((paper, table, method, row["dataset"], setting))
    if covering:  # a registry run scores this cell (e.g. its own noise level): not run yet
        return f"needs training for this table (registry entry {covering}); not yet run"
    levels = ctx["levels"].get((paper, table, method))
    if levels and setting.startswith("sigma") and setting not in levels:
        return (
            "needs its own model trained at this noise level (one model per level in the "
            "paper); not yet trained"
        )
    if (paper, table, method) in ctx["trained"]:
        return "trained, but this set or setting is not in the entry's evaluation grid"
    command = ctx["baseline_targets"].get((paper, table, method, row["dataset"], setting))
    if command:
        return (
            f"baseline not measured yet; `{command}` measures it (pausable with "
            "--max-minutes, resuming image by image)"
        )
    if _is(method, BASELINES):
        return "baseline not measured on this set or setting"
    if _is(method, IMPLEMENTED):
        planned = ctx["planned"].get((paper, table, method))
        if planned:
            return f"needs training for this table (registry entry {planned}); not yet run"
        elsewhere = ctx["elsewhere"].get(method)
        if elsewhere:
            return (
                f"implemented here (reprolib.models) and trained for {elsewhere}, but no "
                "registry entry trains this model for this table yet"
            )
        return (
            "implemented here (reprolib.models), but no registry entry trains this model for "
            "this table yet"
        )
    return "cited result of another method, not re-implemented in this study"


def _context(m: pd.DataFrame, direct: pd.DataFrame, registry: dict) -> dict:
    """What the not-attempted reasons need: (paper, table, method) trained for a table, the noise
    levels of per-level registry runs, the entry planned for a table, and the entries that
    trained a method label (for any table)."""
    trained_cells = direct[direct["measured"].notna() & (direct["budget"] != NO_TRAINING)]
    levels: dict[tuple, set[str]] = {}
    planned: dict[tuple, str] = {}
    # (paper, table, method, dataset, setting) -> entry, for the runs of one level or scale
    # (one model per level: a label's other runs being trained says nothing about this one)
    covered: dict[tuple, str] = {}
    for eid, exp in registry.items():
        for r in exp.runs:
            per_level = r.sigma is not None or "settings" in r.eval
            grid = exp.recipe_for(r, "cpu") if per_level else None
            for table in exp.tables:
                planned.setdefault((exp.paper, table, r.label), eid)
                if r.sigma is not None:
                    levels.setdefault((exp.paper, table, r.label), set()).add(f"sigma{r.sigma}")
                if grid is None:
                    continue
                for d in grid.test_sets:
                    for setting in grid.test_settings:
                        covered.setdefault((exp.paper, table, r.label, d, setting), eid)
    trained_m = m[m["budget"] != NO_TRAINING]
    elsewhere = {}
    for method, part in trained_m.groupby("method"):
        by_budget = part.groupby("budget")["source"].agg(lambda s: sorted({_entry(x) for x in s}))
        elsewhere[method] = "; ".join(f"{', '.join(e)} ({b} budget)" for b, e in by_budget.items())
    return {
        "speed_ratios": _speed_ratios(),
        "trained": set(zip(trained_cells["paper"], trained_cells["table"],
                           trained_cells["method"], strict=True)),
        "levels": levels, "planned": planned, "elsewhere": elsewhere, "covered": covered,
        "baseline_targets": {
            (t.paper, t.table, t.method, label, setting): "reprolib protocol --targets "
            + t.id + (" --full-only" if label in t.full_datasets else "")
            for t in protocol_check.load_targets()
            for label, _, setting in t.cells(full=True)
        },
    }  # fmt: skip


def _speed_ratios() -> dict[tuple[str, str], str]:
    """(paper, method) -> what ``speed/speed.csv`` (``reprolib speed``) measured of a printed
    time, as the ratio to the paper's reference variant, for the time cells' reasons."""
    path = claims.results_root() / "speed" / "speed.csv"
    if not path.is_file():
        return {}
    speed = pd.read_csv(path)
    speed = speed[(speed["paper_ratio_of"] == "time_s") & speed["ratio_measured"].notna()]
    out, where = {}, "speed/speed.csv"
    for (paper, variant), part in speed.groupby(["paper", "variant"], sort=False):
        here = " and ".join(
            f"{r.ratio_measured:.2f} at the {r.width} width" for r in part.itertuples()
        )
        ref = part["reference"].iloc[0]
        if variant == ref:
            out[(paper, variant)] = f"; the reference of the measured speed ratios ({where})"
            continue
        out[(paper, variant)] = (
            f"; as a ratio to {ref}'s time: paper {part['paper_ratio'].iloc[0]:.2f}, "
            f"here {here} ({where})"
        )
    return out


def _measured_status(r: dict, checked: list[dict]) -> tuple[str, str]:
    """Status and reason of a measured cell (``r["where"]``: where its measurement comes from)."""
    if r["metric"] == "depth" and r["source"] == "architecture/summary.csv":
        ok = _flag(r["within_tolerance"]) is True
        return (FORMULA if ok else "not reproduced"), (
            f"{FORMULA_REASON}; |diff| {abs(r['diff']):.4g} {'<=' if ok else '>'} "
            f"{r['tolerance']:g} ({r['where']})"
        )
    if r["budget"] in COMPARABLE and pd.notna(r["tolerance"]):
        ok = _flag(r["within_tolerance"]) is True
        return ("reproduced" if ok else "not reproduced"), (
            f"|diff| {abs(r['diff']):.4g} {'<=' if ok else '>'} tolerance {r['tolerance']:g} "
            f"({r['where']})"
        )
    if r["budget"] in COMPARABLE:
        return INCONCLUSIVE, f"{r['budget']} budget, but no tolerance is stated ({r['where']})"
    status, verdict = _model_status(r, checked)
    return status, (
        f"{r['budget']} budget: absolute value not comparable; {verdict} ({r['where']})"
    )


def _finding_row(f: dict, checked_by: Mapping[str, list[str]],
                 no_data: Mapping[tuple[str, str], str],
                 cannot: Mapping[str, str]) -> dict:  # fmt: skip
    """The scoreboard row of one stated finding (``f``: findings.csv row joined with its most
    comparable verdict, ``checked_in`` being the findings.csv that holds it; ``checked_by``:
    finding -> the registry entries whose ``checks`` list it; ``no_data``: (paper, table) ->
    why none of that table's cells can be measured here; ``cannot``: finding -> why no check
    can judge it here, from the registry's ``unchecked`` lists)."""
    entries = checked_by.get(f["claim_id"], [])
    missing = [no_data[(f["paper"], t)] for t in sorted(_source_tables(f["source"]))
               if (f["paper"], t) in no_data]  # fmt: skip
    if entries:
        unchecked = (f"checked by registry entry {', '.join(entries)}, whose runs are not all "
                     "trained and scored yet")  # fmt: skip
    elif f["claim_id"] in cannot:
        unchecked = f"{NOT_CHECKABLE}: {cannot[f['claim_id']]}"
    elif missing:
        unchecked = f"nothing to check it on here: {'; '.join(dict.fromkeys(missing))}"
    else:
        unchecked = "no experiment checks this finding yet"
    row = {
        "claim_id": f["claim_id"], "paper": f["paper"], "table": f["source"], "kind": "finding",
        "dataset": "-", "setting": "-", "method": "-", "metric": f["kind"], "claimed": f["claim"],
        "measured": None, "budget": None, "status": "not attempted",
        "reason": unchecked, "source": None,
    }  # fmt: skip
    if pd.isna(f["verdict"]):
        return row
    status = {stats.NOT_HOLDS: "not reproduced", stats.HOLDS: DIRECTION}.get(
        f["verdict"], INCONCLUSIVE
    )
    if status == DIRECTION and f["budget"] in COMPARABLE:
        status = "reproduced"
    reason = f"{f['verdict']} at {f['budget']} budget: {f['reason']}"
    if str(f["checked_in"]) not in reason:
        reason += f" ({f['checked_in']})"
    return {**row, "budget": f["budget"], "status": status, "reason": reason,
            "source": f["checked_in"]}  # fmt: skip


def build() -> pd.DataFrame:
    """The scoreboard: one row per claim cell and per finding (``COLUMNS``)."""
    registry = experiments.load()
    cells = claims.load_claims().copy()
    for col in KEY:
        cells[col] = cells[col].astype(str)
    cells = cells.rename(columns={"value": "claimed"})
    m = measurements(registry)
    cells = cells.merge(m, on=KEY, how="left")
    ctx = _context(m, cells, registry)
    rows = cells.to_dict("records")
    for r in rows:
        r["where"] = r["source"]

    # Cells without their own measurement: one made for another table, where it counts.
    table_eval = {
        key: {_evaluation(p) for p in part["protocol"]} - {None}
        for key, part in m.groupby(["paper", "table"])
    }
    ranked = m.assign(_rank=m["budget"].map(BUDGET_RANK).fillna(9))
    index: dict[tuple, list[dict]] = {}
    for c in ranked.sort_values("_rank", kind="stable").to_dict("records"):
        index.setdefault((c["dataset"], c["setting"], c["method"], c["metric"]), []).append(c)
    for r in rows:
        if pd.notna(r["measured"]):
            continue
        found = index.get((r["dataset"], r["setting"], r["method"], r["metric"]), [])
        found = sorted(found, key=lambda c, p=r["paper"]: c["paper"] != p)  # same paper first
        c, r["note"] = _borrow(r, found, table_eval)
        if c is not None:
            diff, tol = float(c["measured"]) - float(r["claimed"]), c["tolerance"]
            r.update({k: c[k] for k in ("measured", "budget", "tolerance", "protocol", "source")})
            r.update(diff=diff, within_tolerance=bool(abs(diff) <= tol) if pd.notna(tol) else None)
            r["where"] = f"measured for {_where(c)}: {c['source']}"

    v = verdicts()
    best = v.assign(_rank=v["budget"].map(BUDGET_RANK).fillna(9))
    best = best.sort_values("_rank", kind="stable").drop_duplicates("finding", keep="first")
    findings = claims.load_findings()
    checked = _checked(best, findings, registry)

    for r in rows:
        if pd.isna(r["measured"]):
            why = _not_attempted_reason(r, ctx)
            r["status"] = "not attempted"
            r["reason"] = f"{why}; {r['note']}" if r.get("note") else why
        else:
            r["status"], r["reason"] = _measured_status(r, checked)
        r["kind"] = _kind(r)
        r["claim_id"] = "-".join(r[k] for k in KEY)

    joined = findings.merge(
        best.drop(columns="paper").rename(columns={"finding": "claim_id", "source": "checked_in"}),
        on="claim_id",
        how="left",
    )
    checked_by = experiments.checking_entries(registry)
    # A table none of whose cells is measured, some for want of data here (the rest being
    # cited results of other methods), cannot decide a finding either.
    cells = pd.DataFrame(rows)
    no_data = {}
    for (paper, table), part in cells.groupby(["paper", "table"]):
        reasons = part["reason"][part["reason"].isin(NO_DATA_REASONS)]
        if part["measured"].isna().all() and not reasons.empty:
            no_data[(paper, table)] = reasons.iloc[0]
    cannot = experiments.unchecked_reasons(registry)
    rows += [_finding_row(f, checked_by, no_data, cannot) for f in joined.to_dict("records")]
    out = pd.DataFrame(rows)[COLUMNS]
    reduced = out["budget"].notna() & ~out["budget"].isin(COMPARABLE) & (out["kind"] != "finding")
    if (reduced & (out["status"] == "reproduced")).any():  # never, by construction
        raise AssertionError("a reduced-budget cell was marked reproduced")
    return out


def write(path: str | Path | None = None) -> pd.DataFrame:
    """Build the scoreboard and write ``scoreboard.csv`` (default: under the results root) and,
    next to it, ``verdicts.csv`` (:func:`write_verdicts`), both atomically."""
    path = Path(path) if path else claims.results_root() / "scoreboard.csv"
    board = build()
    _write_atomic(board, path)
    write_verdicts(path.with_name("verdicts.csv"))
    return board


# --------------------------------------------------------------------------- counts


def distinct(board: pd.DataFrame) -> pd.DataFrame:
    """The board with each measurement once: rows of the same kind with the same dataset,
    setting, method, metric, measured value and source file (a cell two tables print) are
    kept once (the first). Unmeasured cells and findings are all kept."""
    key = ["kind", "dataset", "setting", "method", "metric", "measured", "source"]
    repeated = board["measured"].notna() & board.duplicated(key, keep="first")
    return board[~repeated]


def counts(board: pd.DataFrame, by: str = "kind") -> pd.DataFrame:
    """Status counts per ``by`` (``kind`` or ``paper``) over distinct measurements
    (:func:`distinct`), with an ``all`` row - the scoreboard's headline table."""
    d = distinct(board)
    t = pd.crosstab(d[by], d["status"]).reindex(columns=list(STATUSES), fill_value=0)
    if by == "kind":
        t = t.reindex([k for k in KINDS if k in t.index])
    t.loc["all"] = t.sum()
    return t


def headline(board: pd.DataFrame) -> str:
    """A few plain sentences, one per kind, counting distinct measurements (one per line)."""
    d = distinct(board)
    n = d.groupby(["kind", "status"]).size()

    def c(kind: str, *statuses: str) -> int:
        return int(sum(n.get((kind, s), 0) for s in statuses))

    measured = d["measured"].notna()
    base = d[(d["kind"] == "baseline") & measured]
    lines = [
        f"Baselines (measured without training): {c('baseline', 'reproduced')} of {len(base)} "
        f"distinct measurements reproduced within tolerance, {c('baseline', 'not reproduced')} "
        f"not; {c('baseline', 'not attempted')} cells not measured."
    ]
    arch = d[(d["kind"] == "architecture") & measured]
    params = arch[arch["metric"] != "depth"]
    lines.append(
        f"Architecture: {int((params['status'] == 'reproduced').sum())} of {len(params)} "
        f"distinct parameter counts reproduced; {c('architecture', FORMULA)} depths consistent "
        f"with the constructor's formula (a consistency check, not a reproduction), "
        f"{int(((arch['metric'] == 'depth') & (arch['status'] == 'not reproduced')).sum())} not."
    )
    model = d[(d["kind"] == "model") & measured]
    reduced = model[~model["budget"].isin(COMPARABLE)]
    lines.append(
        f"Trained models: {len(reduced)} distinct cells measured at reduced budgets (never "
        f"counted as reproduced): {int((reduced['status'] == DIRECTION).sum())} direction only, "
        f"{int((reduced['status'] == 'not reproduced').sum())} not reproduced, "
        f"{int((reduced['status'] == INCONCLUSIVE).sum())} inconclusive; "
        f"{c('model', 'not attempted')} cells not attempted."
    )
    full = model[model["budget"].isin(COMPARABLE)]
    if len(full):
        lines.append(
            f"At the paper's budget: {int((full['status'] == 'reproduced').sum())} of "
            f"{len(full)} trained-model cells reproduced."
        )
    unchecked = d.loc[(d["kind"] == "finding") & (d["status"] == "not attempted"), "reason"]
    waiting = int(unchecked.str.startswith("checked by registry entry").sum())
    cannot = len(unchecked) - waiting
    holds = c("finding", "reproduced", DIRECTION)
    checked = holds + c("finding", "not reproduced", INCONCLUSIVE)
    lines.append(
        f"Findings: {holds} hold ({c('finding', DIRECTION)} of them at a reduced budget only), "
        f"{c('finding', 'not reproduced')} do not hold, {c('finding', INCONCLUSIVE)} "
        f"inconclusive, of {checked} checked; {c('finding', 'not attempted')} not checked: "
        f"{waiting} wait for the runs of the registry entry that checks them, {cannot} cannot "
        f"be checked here (a compared method is a cited result, the claim is visual, or its data"
        f" is not available; the scoreboard says which)."
    )
    return "\n".join(lines)
