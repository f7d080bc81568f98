"""What a paper's chapter shows, computed from ``results/`` and the differences register.

Used by ``notebooks/chapter.ipynb`` (one executed copy per paper under ``results/<paper>/``):
every table of the paper with the status of each cell, the paper's findings with their
verdicts, the architecture check, and the paper / official code / this project register.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from reprolib import claims

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


def table_status(board: pd.DataFrame, table: str) -> pd.DataFrame:
    """Cells of one table per status and reason."""
    t = board[board["table"] == table]
    return t.groupby(["status", "reason"]).size().rename("cells").reset_index()


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


def findings(paper: str) -> pd.DataFrame:
    """The paper's stated findings with their verdicts."""
    board = scoreboard(paper)
    f = board[(board["method"] == "-") & (board["dataset"] == "-")]
    f = f[f["claim_id"].isin(claims.load_findings()["claim_id"])]
    return f[["claim_id", "table", "claimed", "budget", "status", "reason"]].rename(
        columns={"table": "source", "claimed": "finding"}
    )


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
    return sorted(p for p in reports if not p.name.endswith(".failed.ipynb"))


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
    lines.append(
        f"- Of {len(reasons)} inconclusive findings, {few} lack seeds (< {stats.MIN_SEEDS}), "
        f"{moving} compare runs that had not converged and {dead} a run that learned nothing "
        "(a finding can fail several conditions); the scoreboard gives each reason."
    )
    text = "\n".join(lines) + "\n"
    (path or _results("headline.md")).write_text(text)
    return text
