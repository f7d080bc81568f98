"""Reproduce the paper columns that need no training, and compare them with the claims.

The targets are data (``protocol_targets.yaml``): which paper table and column, which method,
which protocol, which sets and settings, and the tolerance within which the column counts as
reproduced. :func:`run` measures every target per image, averages, joins the transcribed claims
(``results/claims``) and writes ``per_image.csv`` and ``summary.csv``. A slow cell (BM3D takes
about a minute per Urban100 image on one core) can be paused at a deadline and resumed image by
image: its scored rows wait under ``rows/`` (:func:`paused_cells`) until the cell is complete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from reprolib import claims, provenance, runs
from reprolib.evaluate import EvaluationPaused, measure, summarise

TARGETS_FILE = Path(__file__).with_name("protocol_targets.yaml")

SUMMARY_COLUMNS = [
    "paper", "table", "dataset", "setting", "method", "metric", "claimed", "measured", "diff",
    "n_images", "tolerance", "within_tolerance", "protocol", "target", "wall_s", "hardware",
]  # fmt: skip


@dataclass(frozen=True)
class Target:
    """One paper column to reproduce without training (see ``protocol_targets.yaml``)."""

    id: str
    paper: str
    table: str
    protocol: str
    method: str
    datasets: dict[str, str]
    settings: list[str]
    tolerance: dict[str, float]
    full_datasets: dict[str, str] = field(default_factory=dict)

    def cells(self, full: bool | str) -> list[tuple[str, str, str]]:
        """(dataset label, registry split, setting) triples to measure.

        ``full=False`` gives the default sets, ``True`` adds the slow ones, ``"only"`` gives
        just the slow ones (to complete a default run without repeating it).
        """
        if full == "only":
            sets = dict(self.full_datasets)
        else:
            sets = {**self.datasets, **(self.full_datasets if full else {})}
        return [(label, split, s) for label, split in sets.items() for s in self.settings]


def load_targets(ids: list[str] | None = None) -> list[Target]:
    """The targets, optionally only those whose id is in ``ids`` (unknown ids raise)."""
    targets = [Target(**t) for t in yaml.safe_load(TARGETS_FILE.read_text())]
    if ids is None:
        return targets
    known = {t.id for t in targets}
    unknown = sorted(set(ids) - known)
    if unknown:
        raise KeyError(f"unknown protocol target(s) {unknown}; known: {sorted(known)}")
    return [t for t in targets if t.id in ids]


def run(
    targets: list[Target],
    *,
    full: bool | str = False,
    limit: int | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    deadline: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure every target; return (per-image, summary) and write them to ``out_dir``.

    A measurement shared by several targets (e.g. BM3D on BSD200 in MemNet Table 3 and NLRN
    Table 5) is computed once. ``limit`` keeps the first images of each set for quick runs;
    the summary's ``n_images`` records it. Each cell is merged into ``out_dir`` as soon as it is
    measured, so an interrupted run keeps everything it finished; with ``out_dir``, each image
    of a cell is also kept as it is scored (``rows/``), so a killed or paused cell resumes at
    its first unscored image. ``deadline`` (a :func:`time.time` value): past it, the run stops
    before the next image and returns what it finished; :func:`paused_cells` lists the rest.
    """
    cache: dict[tuple[str, str, str, str], tuple[pd.DataFrame, float]] = {}
    per_image, summaries = [], []
    hardware = provenance.hardware()
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for t in targets:
        for label, split, setting in t.cells(full):
            key = (t.protocol, label, setting, t.method)
            fresh = key not in cache
            rows = None if out is None else rows_file(out, t.protocol, t.method, label, setting)
            if fresh:
                t0 = time.perf_counter()
                earlier = _scored_seconds(rows)  # a paused cell's images, scored before
                try:
                    df = measure(
                        t.method, label, setting, t.protocol, split=split, limit=limit,
                        progress=progress, rows_file=rows, deadline=deadline,
                    )  # fmt: skip
                except EvaluationPaused as paused:
                    print(f"paused: {paused}; the same command resumes it")
                    return _frames(per_image, summaries)
                cache[key] = (df, time.perf_counter() - t0 + earlier)
                per_image.append(df)
            df, wall = cache[key]
            cell = _summarise_cell(t, label, setting, df, wall, hardware)
            summaries.append(cell)
            if out is not None:
                if fresh:
                    _merge_csv(out / "per_image.csv", df, PER_IMAGE_KEY)
                _merge_csv(out / "summary.csv", cell, SUMMARY_KEY)
                rows.unlink(missing_ok=True)
    return _frames(per_image, summaries)


def _frames(
    per_image: list[pd.DataFrame], summaries: list[pd.DataFrame]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    images = pd.concat(per_image, ignore_index=True) if per_image else pd.DataFrame()
    summary = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame()
    return images, summary


def _scored_seconds(rows: Path | None) -> float:
    """The restorer seconds of the images a paused cell already scored (0 when none)."""
    if rows is None or not rows.is_file():
        return 0.0
    return float(pd.read_csv(rows, usecols=["seconds"])["seconds"].sum())


def rows_file(out_dir: str | Path, protocol: str, method: str, dataset: str, setting: str) -> Path:
    """Where one cell's images wait while the cell is incomplete (removed once it is merged)."""
    return Path(out_dir) / "rows" / f"{protocol}__{method}__{dataset}__{setting}.rows.csv"


def paused_cells(out_dir: str | Path) -> pd.DataFrame:
    """The cells a deadline or a kill left incomplete: protocol, method, dataset, setting and
    the images scored so far (the same command resumes each at its first unscored image)."""
    found = []
    for path in sorted((Path(out_dir) / "rows").glob("*.rows.csv")):
        protocol, method, dataset, setting = path.name[: -len(".rows.csv")].split("__")
        n = len(pd.read_csv(path, usecols=["image"]))
        found.append(dict(protocol=protocol, method=method, dataset=dataset, setting=setting,
                          images_scored=n))  # fmt: skip
    return pd.DataFrame(found, columns=["protocol", "method", "dataset", "setting",
                                        "images_scored"])  # fmt: skip


def _summarise_cell(
    t: Target, label: str, setting: str, df: pd.DataFrame, wall: float, hardware: str
) -> pd.DataFrame:
    """One measured cell (PSNR and SSIM rows) joined with its claims, in the summary shape."""
    summ = summarise(df).iloc[0]
    rows = [
        {
            "paper": t.paper, "table": t.table, "dataset": label, "setting": setting,
            "method": t.method, "metric": metric, "measured": summ[metric],
            "n_images": int(summ["n_images"]), "protocol": t.protocol, "target": t.id,
            "wall_s": round(wall, 2), "hardware": hardware,
        }
        for metric in ("psnr", "ssim")
    ]  # fmt: skip
    measured = pd.DataFrame(rows)
    summary = claims.compare(measured).merge(
        measured[[*SUMMARY_KEY, "protocol", "target", "wall_s", "hardware"]], on=SUMMARY_KEY
    )
    return apply_tolerances(summary)[SUMMARY_COLUMNS]


SUMMARY_KEY = ["paper", "table", "dataset", "setting", "method", "metric"]
PER_IMAGE_KEY = ["protocol", "dataset", "setting", "method", "image"]


def _merge_csv(path: Path, new: pd.DataFrame, key: list[str]) -> None:
    """Write ``new`` into ``path``, replacing only rows with the same key.

    A default run therefore never discards the committed results of a ``full`` run (or of
    other targets); rows it re-measured are replaced.
    """
    if path.exists() and not new.empty:
        old = pd.read_csv(path)
        keep = ~old.set_index(key).index.isin(new.set_index(key).index)
        new = pd.concat([old[keep], new], ignore_index=True)
    runs.write_csv(path, new, float_format="%.6f")


def apply_tolerances(summary: pd.DataFrame) -> pd.DataFrame:
    """Set ``tolerance`` and ``within_tolerance`` from the targets file.

    Tolerances are acceptance bands, not measurements, so stored summaries can be re-judged
    after the targets file changes without measuring again (:func:`refresh`).
    """
    bands = {t.id: t.tolerance for t in load_targets()}
    out = summary.copy()
    out["tolerance"] = [bands.get(t, {}).get(m) for t, m in zip(out["target"], out["metric"])]
    out["tolerance"] = out["tolerance"].astype(float)
    ok = out["diff"].abs() <= out["tolerance"]
    out["within_tolerance"] = ok.where(out["tolerance"].notna() & out["claimed"].notna())
    return out


def refresh(out_dir: str | Path) -> pd.DataFrame:
    """Re-apply the targets' tolerances to a stored ``summary.csv`` (no re-measuring)."""
    path = Path(out_dir) / "summary.csv"
    summary = apply_tolerances(pd.read_csv(path))
    summary.to_csv(path, index=False, float_format="%.6f")
    return summary


def output_dir(out_dir: str | Path, limit: int | None) -> Path:
    """Where a run writes: quick runs on the first ``limit`` images go to a separate folder."""
    out = Path(out_dir)
    return out / f"limit{limit}" if limit is not None else out


def load_summary(out_dir: str | Path) -> pd.DataFrame:
    return pd.read_csv(Path(out_dir) / "summary.csv")


def load_per_image(out_dir: str | Path) -> pd.DataFrame:
    return pd.read_csv(Path(out_dir) / "per_image.csv")


def verdicts(summary: pd.DataFrame) -> pd.DataFrame:
    """Per target and metric: cells compared, cells within tolerance, worst absolute diff."""
    s = summary[summary["claimed"].notna() & summary["tolerance"].notna()].copy()
    s["abs_diff"] = s["diff"].abs()
    g = s.groupby(["target", "metric"], sort=False)
    out = g.agg(
        cells=("diff", "size"),
        within=("within_tolerance", "sum"),
        max_abs_diff=("abs_diff", "max"),
        mean_diff=("diff", "mean"),
        tolerance=("tolerance", "first"),
        images=("n_images", "sum"),
    ).reset_index()
    out["within"] = out["within"].astype(int)
    out["status"] = (out["within"] == out["cells"]).map({True: "reproduced", False: "gap"})
    return out


def diagnose_gaps(summary: pd.DataFrame, *, progress: bool = False) -> pd.DataFrame:
    """Test one named hypothesis for every SR cell outside tolerance: input quantisation.

    The protocol feeds the network the bicubic image in double precision, as MemNet's test code
    does. Evaluation code that stores the bicubic image as uint8 first (an LR/bicubic image file)
    gives slightly different numbers. This re-measures each SR gap with the input rounded to
    uint8, to show whether that difference explains the gap. It is a diagnostic, reported next
    to the gap; it does not replace the protocol's number.
    """
    from reprolib import imageops, protocols, restorers

    rows = []
    gaps = summary[(summary["within_tolerance"] == False) & (summary["metric"] == "psnr")]  # noqa: E712
    for _, g in gaps.iterrows():
        if protocols.parse_setting(g["setting"])[0] != "sr":
            continue
        base = restorers.restorer(g["method"], g["setting"])
        quantised = measure(
            lambda x, base=base: base(imageops.to_uint8(x * 255.0) / 255.0), g["dataset"],
            g["setting"], g["protocol"], method_name=g["method"], progress=progress,
        )  # fmt: skip
        q = quantised["psnr"].mean()
        rows.append(
            {
                "dataset": g["dataset"], "setting": g["setting"], "method": g["method"],
                "claimed": g["claimed"], "measured (protocol)": g["measured"],
                "measured (uint8 input)": q, "diff (uint8 input)": q - g["claimed"],
                "tolerance": g["tolerance"],
            }
        )  # fmt: skip
    return pd.DataFrame(rows)
