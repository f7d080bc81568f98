"""What a paper's chapter shows, computed from ``results/`` and the differences register.

Used by ``notebooks/chapter.ipynb`` (one executed copy per paper under ``results/<paper>/``):
every table and figure of the paper with what was measured for it, at which budget, with
which verdict, and what cannot be measured here and why (:func:`tables_and_figures`); the
status of each table cell; the architecture check; and the paper / official code / this
project register.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from reprolib import claims, experiments, recipes, runs, stats
from reprolib.scoreboard import STATUSES
from reprolib.scoreboard import observations as judged_observations

PAPERS = {
    "memnet": "MemNet (Tai et al., ICCV 2017)",
    "rednet": "RED-Net (Mao et al., NIPS 2016)",
    "nlrn": "NLRN (Liu et al., NeurIPS 2018)",
    "memorynet": "MemoryNet (Zhang et al., 2022)",
}
DIFFERENCES = Path(__file__).with_name("differences")


def slug(text: str) -> str:
    """A glue/anchor-safe key: ``'direction only (reduced budget)'`` -> ``'direction-only'``."""
    return "-".join(text.split("(")[0].split())


def _results(*parts: str) -> Path:
    return claims.results_root().joinpath(*parts)


def scoreboard(paper: str) -> pd.DataFrame:
    """This paper's rows of ``results/scoreboard.csv``."""
    board = pd.read_csv(_results("scoreboard.csv"))
    return board[board["paper"] == paper]


def tables(paper: str) -> list[str]:
    """The paper's tables in reading order (``table1``, ``table2``, ..., then text sections)."""
    names = claims.load_claims(paper)["table"].unique()

    def key(t: str) -> tuple[int, float]:
        digits = "".join(ch for ch in t if ch.isdigit() or ch == ".")
        return (0 if t.startswith("table") else 1, float(digits or 0))

    return sorted(names, key=key)


def table_measured(board: pd.DataFrame, table: str) -> pd.DataFrame:
    """The measured cells of one table: claimed, measured, diff, budget, status."""
    t = board[(board["table"] == table) & board["measured"].notna()].copy()
    t["claimed"] = pd.to_numeric(t["claimed"])
    t["diff"] = t["measured"] - t["claimed"]
    cols = ["dataset", "setting", "method", "metric", "claimed", "measured", "diff", "budget",
            "status"]  # fmt: skip
    return t[cols].reset_index(drop=True)


def table_as_printed(paper: str, table: str) -> pd.DataFrame:
    """The paper's table as transcribed (claims only), methods as columns."""
    c = claims.load_claims(paper)
    c = c[c["table"] == table]
    return c.pivot_table(
        index=["dataset", "setting", "metric"], columns="method", values="value",
        aggfunc="first", sort=False,
    )  # fmt: skip


def differences(paper: str) -> pd.DataFrame:
    """The paper / official code / this project register (``reprolib/differences``)."""
    name = {"rednet": "rednet"}.get(paper, paper)
    path = DIFFERENCES / f"{name}.yaml"
    rows = yaml.safe_load(path.read_text()) if path.exists() else []
    cols = ["topic", "paper", "official_code", "this_project", "option", "source"]
    return pd.DataFrame(rows).reindex(columns=cols)


def architecture(paper: str) -> pd.DataFrame:
    """The paper's size/depth cells checked against this project's models."""
    path = _results("architecture", "summary.csv")
    if not path.exists():
        return pd.DataFrame()
    a = pd.read_csv(path)
    return a[a["paper"] == paper].reset_index(drop=True)


def experiment_reports(paper: str) -> list[Path]:
    """Executed experiment reports of this paper (``results/<paper>/*/report_*.ipynb``).

    A report that failed to execute is kept beside as ``report_*.failed.ipynb`` for debugging
    (git-ignored); it is never part of the book.
    """
    reports = _results(paper).glob("*/report_*.ipynb")
    return sorted((p for p in reports if not p.name.endswith(".failed.ipynb")), key=_reading_order)


def _reading_order(report: Path) -> tuple:
    """Tables, then figures, then sections, each by number (``table9`` before ``table10``,
    ``fig6`` before ``fig12``), as a reader of the paper looks for them; other names last."""
    name = report.parent.name
    kind = re.match(r"[a-z]*", name).group()
    numbers = [int(n) for n in re.findall(r"\d+", name)]
    return ({"table": 0, "fig": 1, "sec": 2}.get(kind, 3), numbers, name, report.name)


# --------------------------------------------------------------------------- the book's toc

TOC_HEADER = """\
# Table of contents (sphinx-external-toc, jb-book format), written by
# `reprolib reports` (reprolib.chapters.write_toc) from what exists under results/:
# each paper chapter lists its executed chapter notebook and experiment reports.
# Paths are relative to the repository root, without suffix.
format: jb-book
root: book/index
"""


def write_toc(path: Path | None = None) -> str:
    """Write ``_toc.yml``: fixed prose pages plus every executed notebook under results/."""
    from reprolib.provenance import REPO_ROOT

    root = claims.results_root()

    def rel(p: Path) -> str:
        return str(p.relative_to(REPO_ROOT).with_suffix(""))

    def existing(*names: str) -> list[str]:
        return [rel(root / n) for n in names if (root / n).exists()]

    lines = [TOC_HEADER, "parts:", "  - caption: Common protocol", "    chapters:"]
    lines += ["      - file: book/protocol", "        sections:"]
    lines += [f"          - file: {f}" for f in existing("protocol/protocol.ipynb")]
    lines += ["  - caption: The four papers", "    chapters:"]
    for paper in ("rednet", "memnet", "nlrn", "memorynet"):
        pages = existing(f"{paper}/chapter.ipynb", f"{paper}/diagnosis/diagnosis.ipynb")
        pages += [rel(p) for p in experiment_reports(paper)]
        lines.append(f"      - file: book/{paper}")
        if pages:
            lines.append("        sections:")
            lines += [f"          - file: {f}" for f in pages]
    lines += ["  - caption: Synthesis", "    chapters:", "      - file: book/comparison"]
    comparison = existing("architecture/comparison.ipynb")
    if comparison:
        lines += ["        sections:"] + [f"          - file: {f}" for f in comparison]
    lines += ["      - file: book/scoreboard"]
    board = existing("scoreboard.ipynb")
    if board:
        lines += ["        sections:"] + [f"          - file: {f}" for f in board]
    lines += [f"      - file: {f}" for f in existing("scaling/scaling.ipynb", "speed/speed.ipynb")]
    explorer = existing("explorer/explorer.ipynb")
    lines += [f"      - file: {f}" for f in explorer]
    lines += ["  - caption: Appendix", "    chapters:", "      - file: book/rerun"]
    text = "\n".join(lines) + "\n"
    (path or REPO_ROOT / "_toc.yml").write_text(text)
    return text


def plan_headline(plan: pd.DataFrame, budget: str) -> str:
    """The landing page's line on what the undecided findings at ``budget`` still need
    (:func:`load_verdict_plan`): how many are blocked by a run that did not converge or learned
    nothing or by runs whose relative sizes the budget does not keep, and the hours of one core
    the others need ("" when the plan has no row)."""
    plan = plan[plan["budget"].astype(str) == budget]
    if plan.empty:
        return ""
    hours = pd.to_numeric(plan["total_cpu_h"], errors="coerce")
    free = plan.assign(total_cpu_h=hours)[plan["blocked_by"] == ""].sort_values("total_cpu_h")
    blocked = len(plan) - len(free)
    line = (f"Of {len(plan)} findings that still lack seeds or runs at `{budget}`, {blocked} "
            f"compare{'s' * (blocked == 1)} a run that did not converge or learned nothing "
            "there, or runs whose relative sizes that budget does not keep, so only another "
            "budget can decide them")  # fmt: skip
    if len(free):
        total = pd.to_numeric(free["total_cpu_h"], errors="coerce").sum()
        first, hours = free.iloc[0]["finding"], float(free.iloc[0]["total_cpu_h"])
        line += (f"; the other {len(free)} need{'s' * (len(free) == 1)} about {total:.0f} "
                 f"hours of one core in all (the cheapest, {first}, about {hours:.0f} h; "
                 "`results/verdict_plan.csv`)")  # fmt: skip
    return line + "."


def write_headline(path: Path | None = None) -> str:
    """Write ``results/headline.md``: the landing page's few lines on where the study stands,
    counted from the scoreboard and the verdicts (``book/index.md`` includes it)."""
    from reprolib import experiments, scoreboard, stats

    board = pd.read_csv(_results("scoreboard.csv"))
    verdicts = pd.read_csv(_results("verdicts.csv"))
    hours = experiments.progress("cpu")["training_h"].sum()
    lines = [f"- {line}" for line in scoreboard.headline(board).splitlines()]
    held = verdicts[verdicts["verdict"] != stats.INCONCLUSIVE]
    lines.append(
        f"- Trained models ran at the reduced `cpu` budget only ({hours:.0f} CPU hours of "
        "training, two cores): their absolute numbers are not the papers', and no paper "
        "claim about a trained model counts as reproduced."
    )
    if len(held):
        shown = "; ".join(f"{r.finding} ({r.budget}): {r.verdict}" for r in held.itertuples())
        lines.append(f"- Findings decided under the verdict rule: {shown}.")
    reasons = verdicts.loc[verdicts["verdict"] == stats.INCONCLUSIVE, "reason"].fillna("")
    few = int(reasons.str.contains("too few seeds").sum())
    moving = int(reasons.str.contains("not converged").sum())
    dead = int(reasons.str.contains("learned nothing").sum())
    sizes = int(reasons.str.contains("relative sizes not kept").sum())
    lines.append(
        f"- Of {len(reasons)} inconclusive findings, {few} lack seeds (< {stats.MIN_SEEDS}), "
        f"{moving} compare runs that had not converged, {dead} a run that learned nothing and "
        f"{sizes} runs whose relative sizes (parameters, training pixels) the budget does not "
        "keep (a finding can fail several conditions); the scoreboard gives each reason."
    )
    line = plan_headline(load_verdict_plan(), "cpu")
    if line:
        lines.append(f"- {line}")
    text = "\n".join(lines) + "\n"
    (path or _results("headline.md")).write_text(text)
    return text


def finding_glue(paper: str) -> dict[str, str]:
    """The text a paper's chapter page pastes for each of its findings in ``verdicts.csv``, so
    that the prose states the current verdict and deciding difference rather than hand-copied
    numbers that go stale when a seed lands.

    Keys (glued by ``results/<paper>/chapter.ipynb``; pasted in ``book/<paper>.md`` with
    ``{glue:text}`/results/<paper>/chapter.ipynb::<key>:s```), for the finding's most
    comparable budget: ``<finding>-verdict`` (holds / does not hold / inconclusive),
    ``<finding>-seeds`` (the fewest seeds of a compared run), ``<finding>-budget`` and
    ``<finding>-difference``: the deciding paired difference with the pair that gives it, e.g.
    ``MemNet - VDSR: -0.334 dB (95% CI [-0.416, -0.263], p 0.0005)`` (the pair is read from the
    reason, whose figures match; a margin in another unit than dB is shown without one), or
    that there is none yet."""
    from reprolib.scoreboard import BUDGET_RANK

    v = pd.read_csv(_results("verdicts.csv"))
    v = v[v["paper"] == paper].assign(_rank=lambda d: d["budget"].map(BUDGET_RANK).fillna(9))
    out = {}
    for r in v.sort_values("_rank", kind="stable").drop_duplicates("finding").itertuples():
        difference = "no paired difference measured yet"
        stated = [
            m for m in _PAIR_DB.finditer(str(r.reason))
            if pd.notna(r.margin_db) and abs(float(m["margin"]) - r.margin_db) < 6e-4
        ]  # fmt: skip
        if stated:  # as the reason words it, so the page and the reports agree to the digit
            m = stated[0]
            difference = f"{m['pair']}: {m['margin']} dB (95% CI [{m['ci']}], p {m['p']})"
        elif pd.notna(r.margin_db):
            p = "" if pd.isna(r.p_value) else f", p {r.p_value:.2g}"
            difference = f"{r.margin_db:+.3f} (95% CI [{r.ci_low:+.3f}, {r.ci_high:+.3f}]{p})"
        seeds = "no" if pd.isna(r.seeds) else f"{int(r.seeds)}"
        parts = {"verdict": str(r.verdict), "seeds": seeds, "budget": str(r.budget),
                 "difference": difference}  # fmt: skip
        out.update({f"{r.finding}-{name}": text for name, text in parts.items()})
    return out


#: A paired difference as a verdict's reason states it (``stats.PairStats.text``).
_PAIR_DB = re.compile(
    r"(?P<pair>[\w.+-]+ - [\w.+-]+): (?P<margin>[+-]\d+\.\d+) dB, 95% CI \[(?P<ci>[^\]]+)\], "
    r"p (?P<p>[\d.e-]+)"
)


# --------------------------------------------------------------------------- tables and figures
# One section per table and figure of a paper (``contents.csv``), with what the study did with
# it: the registry entry, the runs scored at each budget and their training budget, the verdict
# of each finding, the scoreboard status of each cell, and why the rest is not measured here.
# Everything is read from results/ and experiments.yaml; statuses and reasons are the
# scoreboard's (reprolib.scoreboard), verdicts are verdicts.csv's (reprolib.stats).

TEXT_ITEM = "text"  # the findings whose source names no table or figure of the paper
CONTENT_REASON = {
    "diagram": "an illustration of the method: nothing to measure (the models are built in "
    "`reprolib.models`; their sizes are in the architecture check)",
    "images": "example images: not scored (the restoration explorer shows this study's models "
    "beside the baselines)",
}
NO_ENTRY_REASON = "no registry entry trains the models of this figure yet"
NOT_CHECKED = "not checked"  # the verdict column of a finding nothing has judged yet


@dataclass
class PaperItem:
    """One table or figure of a paper and what the study did with it (:func:`tables_and_figures`).

    ``budgets``: :func:`entry_budgets` of each entry (with an ``entry`` column); ``cells``: the
    scoreboard's status counts of the item's table cells; ``findings``: one row per finding and
    budget (``finding, claim, budget, verdict, reason, needs``); ``not_measured``: the scoreboard's
    reasons for the cells nothing measured, with their count; ``why_not``: for a figure that
    no entry measures, why (its kind of content, or that no entry trains its models yet)."""

    item: str
    label: str
    caption: str
    content: str
    entries: list[str]
    reports: list[str]
    budgets: pd.DataFrame
    cells: dict[str, int]
    findings: pd.DataFrame
    not_measured: pd.DataFrame
    why_not: str = ""


def item_label(item: str) -> str:
    """How the paper names an item: ``table4`` -> ``Table 4``, ``fig12`` -> ``Fig. 12``."""
    for prefix, name in (("table", "Table"), ("fig", "Fig."), ("sec", "Sec.")):
        if item.startswith(prefix):
            return f"{name} {item[len(prefix) :]}"
    return "Stated in the text" if item == TEXT_ITEM else item


def paper_items(paper: str) -> list[str]:
    """Every table and figure of the paper: those of ``contents.csv`` in its order, then any
    claims table or finding source it does not list, then :data:`TEXT_ITEM`."""
    items = list(claims.load_contents(paper)["item"])
    extra = list(claims.load_claims(paper)["table"].unique())
    for source in claims.load_findings().query("paper == @paper")["source"]:
        extra += [i for i in claims.source_items(source) if not i.startswith("sec")]
    return items + [i for i in dict.fromkeys(extra) if i not in items] + [TEXT_ITEM]


def entry_items(exp: experiments.Experiment, items: list[str], drawn: bool = True) -> list[str]:
    """The items an entry measures: its claims ``tables``, the item its id names
    (``rednet/fig6``) and, with ``drawn``, the figures its analyses draw
    (``memnet_fig4_spectra`` -> ``fig4``)."""
    named = set(exp.tables) | {exp.id.split("/", 1)[1]}
    if drawn:
        named |= {f"fig{m}" for a in exp.analyses for m in re.findall(r"_fig(\d+)_", a)}
    return [i for i in items if i in named]


def finding_items(paper: str, registry: dict, items: list[str]) -> dict[str, list[str]]:
    """Each finding of the paper -> the items it belongs to: those its source names; else
    the tables (or the figure) of the entries whose checks judge it; else :data:`TEXT_ITEM`."""
    out = {}
    checked_by = experiments.checking_entries(registry)
    for f in claims.load_findings().query("paper == @paper").itertuples():
        mine = [i for i in claims.source_items(f.source) if i in items]
        if not mine:
            checking = checked_by.get(f.claim_id, [])
            mine = [i for eid in checking for i in entry_items(registry[eid], items, False)]
            mine = list(dict.fromkeys(mine))
        out[f.claim_id] = mine or [TEXT_ITEM]
    return out


def _range(infos: list[dict], key: str, scale: float = 1.0) -> tuple:
    """(min, max) of ``key`` over training summaries, divided by ``scale``; Nones if absent."""
    values = [i[key] / scale for i in infos if i.get(key) is not None]
    return (min(values), max(values)) if values else (None, None)


def entry_budgets(exp: experiments.Experiment) -> pd.DataFrame:
    """One row per budget that has a folder of the entry's runs: how many runs are scored
    under the entry's present recipe (``current``, :func:`reprolib.experiments.run_state`),
    the fewest and most such seeds per run against the seeds the registry asks, the seed
    folders ``stale`` (scored under a recipe since changed) or ``partial`` (training under way),
    and the training budget of the scored seeds (``train_summary.json``): iterations, patches
    seen, wall hours per run (ranges) and hardware. Empty when nothing ran."""
    rows = []
    for budget in recipes.BUDGETS:
        if not (exp.folder / budget).is_dir():
            continue
        seeds, states, infos = [], [], []
        for r in exp.runs:
            mine = {
                s: experiments.run_state(exp, r, budget, s) for s in exp.seeds_on_disk(r, budget)
            }
            current = [s for s, state in mine.items() if state == "current"]
            seeds.append(len(current))
            states += mine.values()
            infos += [runs.read_summary(exp.run_dir(r, budget, s)) for s in current]

        its, patches = _range(infos, "iterations"), _range(infos, "patches_seen")
        wall = _range(infos, "wall_s", 3600)
        rows.append({
            "budget": budget, "runs": len(exp.runs), "runs_scored": sum(n > 0 for n in seeds),
            "seeds_min": min(seeds), "seeds_max": max(seeds), "seeds_asked": len(exp.seeds),
            "stale": states.count("stale"), "partial": states.count("partial"),
            "iterations_min": its[0], "iterations_max": its[1],
            "patches_min": patches[0], "patches_max": patches[1],
            "wall_h_min": wall[0], "wall_h_max": wall[1],
            "hardware": "; ".join(sorted({str(i["hardware"]) for i in infos if "hardware" in i})),
        })  # fmt: skip
    return pd.DataFrame(rows)


def observations(paper: str) -> pd.DataFrame:
    """This paper's figure observations judged per seed (:func:`reprolib.scoreboard.observations`)
    as ``finding, budget, verdict, reason``: what a figure's finding shows before (or besides)
    a verdict of ``verdicts.csv``."""
    o = judged_observations()
    return o.loc[o["paper"] == paper, ["finding", "budget", "verdict", "reason"]]


def load_verdict_plan() -> pd.DataFrame:
    """``results/verdict_plan.csv`` (``scripts/gpu_queue.py``): what each undecided finding
    still needs, in hours of one core; empty when not written."""
    path = _results("verdict_plan.csv")
    if not path.is_file():
        return pd.DataFrame(columns=["finding", "budget"])
    plan = pd.read_csv(path)  # hours stay numbers (NaN: unknown); the text columns ""
    text = plan.columns.intersection(["experiments", "runs", "blocked_by", "untested", "items"])
    plan[text] = plan[text].astype(object).where(plan[text].notna(), "").astype(str)
    return plan


def needs_text(plan: dict) -> str:
    """One row of :func:`load_verdict_plan` in words: why seeds cannot decide the finding at that
    budget (a compared run did not converge or learned nothing), or what deciding it costs."""
    if plan["blocked_by"]:
        runs_ = plan["blocked_by"].split("; ")
        shown = "; ".join(runs_[:4]) + (f"; {len(runs_) - 4} more" if len(runs_) > 4 else "")
        cures = []
        if "not converged" in plan["blocked_by"]:
            cures.append("a longer schedule, on which the runs converge")
        if "learned nothing" in plan["blocked_by"]:
            cures.append("runs that learn (the cause of the collapse found first)")
        if "relative sizes not kept" in plan["blocked_by"]:
            cures.append("a budget that keeps the compared runs' relative sizes")
        return (f"seeds alone cannot decide it at `{plan['budget']}` ({shown}); it needs "
                + "; and ".join(cures))  # fmt: skip

    def hours(key: str) -> str:
        value = pd.to_numeric(plan[key], errors="coerce")
        return "?" if pd.isna(value) else f"{float(value):.1f}"

    text = (f"{plan['missing']} seed runs missing, about {hours('total_cpu_h')} h of one core "
            f"({hours('train_cpu_h')} h training, {hours('eval_cpu_h')} h scoring; "
            "`results/verdict_plan.csv`)")  # fmt: skip
    if plan["untested"]:
        text += f"; not scored yet: {plan['untested']}"
    return text


def _findings_of(ids: list[str], verdicts: pd.DataFrame, observed: pd.DataFrame,
                 board: pd.DataFrame, registry: dict,
                 plan: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """One row per finding and budget: the verdict of ``verdicts.csv``, else the per-seed
    observations of a figure analysis, else the scoreboard's status and reason (naming the
    registry entry that will check it, when one does); ``needs``: for an undecided finding,
    what deciding it takes (:func:`needs_text` of ``plan``, :func:`load_verdict_plan`)."""
    plan = load_verdict_plan() if plan is None else plan
    needs = {(p["finding"], str(p["budget"])): needs_text(p) for p in plan.to_dict("records")}
    text = claims.load_findings().set_index("claim_id")["claim"]
    status = board.set_index("claim_id")
    checked_by = experiments.checking_entries(registry)
    rows = []
    for fid in ids:
        found = verdicts[verdicts["finding"] == fid]
        if found.empty:
            found = observed[observed["finding"] == fid]
        if found.empty:
            checking = sorted(checked_by.get(fid, []))
            reason = status.at[fid, "reason"] if fid in status.index else ""
            if checking:
                reason = f"checked by {', '.join(checking)} once its runs are scored"
            found = pd.DataFrame([{"budget": "", "verdict": NOT_CHECKED, "reason": reason}])
        for v in found.itertuples():
            todo = needs.get((fid, str(v.budget)), "") if v.verdict == stats.INCONCLUSIVE else ""
            rows.append({"finding": fid, "claim": text.get(fid, ""), "budget": v.budget,
                         "verdict": v.verdict, "reason": v.reason, "needs": todo})  # fmt: skip
    return pd.DataFrame(rows, columns=["finding", "claim", "budget", "verdict", "reason", "needs"])


def tables_and_figures(paper: str, registry: dict | None = None) -> list[PaperItem]:
    """Every table and figure of ``paper`` (:func:`paper_items`), each with its registry
    entries and their reports, the runs scored at each budget and their training budget
    (:func:`entry_budgets`), each finding's verdict (``verdicts.csv``; per-seed figure
    observations; else the scoreboard's reason), the scoreboard's cell statuses and the
    reasons of the cells not measured. Items with nothing to show (the text group without
    findings) are left out. A chapter renders it with :func:`overview` and
    :func:`item_markdown`."""
    registry = experiments.load() if registry is None else registry
    board = scoreboard(paper)
    verdicts = pd.read_csv(_results("verdicts.csv"))
    observed = observations(paper)
    items = paper_items(paper)
    contents = claims.load_contents(paper).set_index("item")
    by_finding = finding_items(paper, registry, items)
    mine = [e for e in registry.values() if e.paper == paper]
    out = []
    for item in items:
        entries = [e for e in mine if item in entry_items(e, items)]
        ids = [f for f, its in by_finding.items() if item in its]
        cells = board[(board["table"] == item) & (board["kind"] != "finding")]
        if item == TEXT_ITEM and not ids:
            continue
        budgets = [entry_budgets(e).assign(entry=e.id) for e in entries]
        budgets = [b for b in budgets if not b.empty]
        missing = cells[cells["status"] == "not attempted"]
        not_measured = (
            missing.groupby("reason").size().rename("cells").sort_values(ascending=False)
            .reset_index()
        )  # fmt: skip
        found = _findings_of(ids, verdicts, observed, board, registry)
        content = contents.at[item, "content"] if item in contents.index else "numbers"
        why_not = ""
        if cells.empty and not entries and item != TEXT_ITEM:
            why_not = CONTENT_REASON.get(content, NO_ENTRY_REASON)
        reports = [
            str(p.relative_to(_results(paper)))
            for e in entries
            for p in sorted(e.folder.glob("report_*.ipynb"))
            if not p.name.endswith(".failed.ipynb")
        ]
        out.append(PaperItem(
            item=item, label=item_label(item),
            caption=contents.at[item, "caption"] if item in contents.index else "",
            content=content, entries=[e.id for e in entries], reports=reports,
            budgets=pd.concat(budgets, ignore_index=True) if budgets else pd.DataFrame(),
            cells={s: n for s, n in cells["status"].value_counts().items()}, findings=found,
            not_measured=not_measured, why_not=why_not,
        ))  # fmt: skip
    return out


def _span(low: object, high: object, fmt: str = "{:,.0f}") -> str:
    """``3,000`` or ``3,000-8,000``; ``?`` when unknown."""
    if pd.isna(low) or pd.isna(high):
        return "?"
    a, b = fmt.format(low), fmt.format(high)
    return a if a == b else f"{a}-{b}"


def runs_text(b: dict) -> str:
    """One budget row of :func:`entry_budgets` in words: runs scored, seeds per run, and the
    seed folders not (or no longer) scored."""
    seeds = _span(b["seeds_min"], b["seeds_max"], "{:d}")
    text = (
        f"{b['runs_scored']} of {b['runs']} runs scored; seeds per run: {seeds} scored of "
        f"{b['seeds_asked']} asked"
    )
    if b["stale"]:
        text += f"; {b['stale']} stale (scored under a recipe that has since changed)"
    if b["partial"]:
        text += f"; {b['partial']} partial (training or evaluation under way)"
    return text


def budget_text(b: dict) -> str:
    """One budget row of :func:`entry_budgets` in words: what the scored runs trained for."""
    if not b["runs_scored"]:
        return "nothing scored yet"
    return (
        f"{_span(b['iterations_min'], b['iterations_max'])} iterations, "
        f"{_span(b['patches_min'], b['patches_max'])} patches seen, "
        f"{_span(b['wall_h_min'], b['wall_h_max'], '{:.1f}')} h of training per run, "
        f"on {b['hardware'] or 'unrecorded hardware'}"
    )


def _verdict_counts(findings: pd.DataFrame) -> str:
    """``2 inconclusive, 1 not checked``: the item's findings by their weakest verdict."""
    if findings.empty:
        return "-"
    order = [stats.NOT_HOLDS, stats.INCONCLUSIVE, stats.HOLDS, NOT_CHECKED]
    rank = findings.assign(_r=findings["verdict"].map(order.index))
    weakest = rank.sort_values("_r").drop_duplicates("finding")["verdict"].value_counts()
    return ", ".join(f"{weakest[v]} {v}" for v in order if v in weakest)


def overview(items: list[PaperItem]) -> pd.DataFrame:
    """One row per table and figure: the at-a-glance index of the chapter's section."""
    rows = []
    for it in items:
        measured = "; ".join(
            f"{b['budget']}: {b['runs_scored']}/{b['runs']} runs, "
            f"{_span(b['seeds_min'], b['seeds_max'], '{:d}')}/{b['seeds_asked']} seeds"
            for b in it.budgets.to_dict("records")
        )  # fmt: skip
        total = sum(it.cells.values())
        done = total - it.cells.get("not attempted", 0)
        rows.append({
            "table or figure": it.label, "what": it.caption,
            "entry": ", ".join(it.entries) or "none",
            "scored (runs, seeds per run)": measured or "-",
            "findings": _verdict_counts(it.findings),
            "cells measured": f"{done} of {total}" if total else "-",
        })  # fmt: skip
    return pd.DataFrame(rows)


def _cells(n: int) -> str:
    return f"{n} cell{'s' if n != 1 else ''}"


def _report_name(path: str) -> str:
    """``table4/report_cpu.ipynb`` -> ``table4 report (cpu budget)``."""
    p = Path(path)
    return f"{p.parent} report ({p.stem.removeprefix('report_')} budget)"


def item_markdown(it: PaperItem) -> str:
    """The section of one table or figure: entry and report, runs and budget per budget,
    cell statuses, each finding's verdict with its reason, and what is not measured and why."""
    title = f"### {it.label}: {it.caption}" if it.caption else f"### {it.label}"
    lines = [title, ""]
    links = ", ".join(f"[{_report_name(r)}]({r})" for r in it.reports)
    entries = ", ".join(f"`{e}`" for e in it.entries) or "none"
    lines.append(f"- **Registry entry**: {entries}" + (f"; {links}" if links else ""))
    for b in it.budgets.to_dict("records"):
        which = f" (`{b['entry']}`)" if len(it.entries) > 1 else ""
        scored = f"; {budget_text(b)}" if b["runs_scored"] else ""
        lines.append(f"- **Budget `{b['budget']}`**{which}: {runs_text(b)}{scored}")
    if it.entries and it.budgets.empty:
        lines.append("- **Runs**: not run at any budget yet")
    if it.cells:
        counts = ", ".join(f"{it.cells[s]} {s}" for s in STATUSES if s in it.cells)
        lines.append(f"- **Cells** ({sum(it.cells.values())}; scoreboard status): {counts}")
    if not it.findings.empty:
        lines.append("- **Findings**:")
    for fid, part in it.findings.groupby("finding", sort=False):
        lines.append(f"  - `{fid}`: {part['claim'].iloc[0]}")
        for f in part.to_dict("records"):
            at = f" at `{f['budget']}`" if f["budget"] else ""
            lines.append(f"    - **{f['verdict']}**{at}: {f['reason']}")
            if f.get("needs"):
                lines.append(f"    - *To decide it*: {f['needs']}")
    if not it.not_measured.empty:
        lines.append("- **Not measured here**:")
        lines += [f"  - {_cells(r.cells)}: {r.reason}" for r in it.not_measured.itertuples()]
    if it.why_not:
        lines.append(f"- **Not measured here**: {it.why_not}")
    return "\n".join(lines)
