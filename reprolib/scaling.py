"""Budget-scaling curves: test PSNR along training against the pixels a model has seen.

A reduced-budget number says little on its own: is it a few tenths of a dB from what the recipe
would reach, or several dB? For the main model of each paper (and DnCNN), every weight snapshot
kept during training (``snapshots/model_<iteration>.pt``, one per validation point, written by
:func:`reprolib.train.train`) is scored on one test cell of the paper, and the curve is drawn
against patches seen (log axis) with the paper's value as a line. A straight line in
``log10(patches seen)`` fitted to the later half of the points is extended to the paper's
schedule and labelled an **extrapolation**: a trend, not a measurement, and usually optimistic
or pessimistic by a dB or more, since learning-rate drops bend real curves.

Runs trained before snapshots were kept contribute their validation log instead: PSNR on the
first few images of the same test cell, labelled in ``source`` (a subset, not the whole set).

Results: ``results/scaling/summary.csv`` (``model, entry, run, seed, budget, iterations,
patches_seen, dataset, setting, psnr, ssim, source``) and ``results/scaling/fits.csv``.

The same snapshots check the instrument of the verdict rule's convergence test
(:func:`convergence_check`, ``results/scaling/convergence_check.csv``): the rule reads each run's
validation log, PSNR on only the first ``val_limit`` images of its validation set (three, one
for MemoryNet), so every run that kept its snapshots is also judged on the whole validation set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reprolib import claims, evaluate, experiments, recipes, restorers, runs, stats

__all__ = ["CURVES", "Curve", "convergence_check", "fit_trend", "measure", "plot", "write"]


@dataclass(frozen=True)
class Curve:
    """One model's curve: the registry entry and run whose seeds' snapshots are scored, the test
    cell (a cell the paper's table prints for this model) and the paper's value there."""

    model: str
    entry: str
    run: str
    dataset: str
    setting: str
    paper: str
    table: str
    method: str


CURVES = (
    Curve("MemNet", "memnet/table1", "MemNet", "Set5", "x3", "memnet", "table1", "MemNet"),
    # RED-Net trains one model per scale for Tables 4-7; the one model for every scale is
    # Table 8's (rednet/table8 reuses the weights rednet/table4 trained before issue 19).
    Curve("RED30", "rednet/table8", "RED30_blind", "Set5", "x3", "rednet", "table8", "RED30_blind"),
    Curve("NLRN", "nlrn/table4", "NLRN", "Set12", "sigma25", "nlrn", "table4", "NLRN"),
    Curve("DnCNN", "nlrn/table4", "DnCNN", "Set12", "sigma25", "nlrn", "table4", "DnCNN"),
    # MemoryNet's own tasks need data not available here; its gray denoiser has no paper value.
    Curve("MemoryNet", "nlrn/table4", "MemoryNet", "Set12", "sigma25", "memorynet", "-", "-"),
)


def _snapshots(run_dir: Path) -> list[Path]:
    """The run's snapshots, or its donor's when its weights were reused (``REUSED_FROM``)."""
    return sorted((runs.weights_origin(run_dir) / runs.SNAPSHOTS).glob("model_*.pt"))


def measure(curve: Curve, budget: str = "cpu", threads: int | None = 1) -> pd.DataFrame:
    """Score every snapshot of every seed of ``curve`` on its test cell (the study's single
    evaluation path, :func:`reprolib.evaluate.evaluate_checkpoint`)."""
    exp = experiments.get(curve.entry)
    run = next(r for r in exp.runs if r.name == curve.run)
    rows = []
    for seed in exp.seeds_on_disk(run, budget):
        d = exp.run_dir(run, budget, seed)
        if not (d / runs.MODEL).exists():
            continue
        snaps = _snapshots(d)
        model, recipe = restorers.load_model(d)
        info = runs.read_summary(d)
        if not snaps:  # trained before snapshots were kept: its validation log instead
            rows += _from_log(curve, d, info, recipe, seed, budget)
            continue
        for path in snaps:
            it, scores = _score_snapshot(
                model, path, curve.dataset, curve.setting, recipe.protocol, threads
            )
            rows.append({
                "model": curve.model, "entry": curve.entry, "run": curve.run, "seed": seed,
                "budget": budget, "iterations": it,
                "patches_seen": it * int(info["batch"]) * int(info.get("world_size", 1)),
                "patch": int(info["patch"]), "dataset": curve.dataset, "setting": curve.setting,
                "psnr": float(scores["psnr"].mean()), "ssim": float(scores["ssim"].mean()),
                "paper_patches": _paper_patches(recipe), "source": "snapshot, whole test set",
            })  # fmt: skip
    return pd.DataFrame(rows)


def _score_snapshot(
    model: torch.nn.Module, path: Path, dataset: str, setting: str, protocol: str,
    threads: int | None,
) -> tuple[int, pd.DataFrame]:  # fmt: skip
    """(iteration, per-image scores) of one weight snapshot loaded into ``model``, scored by the
    study's single evaluation path on every image of ``dataset`` at ``setting``."""
    snap = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in snap["model"].items()})  # fmt: skip
    scores = evaluate.evaluate_checkpoint(
        model.eval(), [dataset], [setting], protocol, progress=False, threads=threads
    )
    return int(snap["iteration"]), scores


def convergence_check(budget: str = "cpu", threads: int | None = 1) -> pd.DataFrame:
    """The convergence test of :func:`reprolib.stats.convergence` on the whole validation set.

    The rule compares validation PSNR at the last point at or before 80% of a run's iterations
    with the end, on the ``val_limit`` images its log scored. For every trained run folder that
    kept snapshots (each training once, however many entries reuse its weights), the two
    snapshots at those points are scored on every image of the validation set; ``agree`` says
    whether both measurements put the run on the same side of the threshold. Writes
    ``results/scaling/convergence_check.csv`` and returns it.
    """
    rows = []
    for d in runs.trained_run_dirs():
        if d.parent.name != budget or (d / runs.REUSED_FROM).exists():
            continue
        snaps = {int(p.stem.split("_")[1]): p for p in _snapshots(d)}
        if not snaps:
            continue
        end = max(snaps)
        earlier = [i for i in snaps if i <= (1 - stats.CONVERGENCE_FRACTION) * end]
        log_path = d / runs.LOG
        if not earlier or not log_path.exists():
            continue
        model, recipe = restorers.load_model(d)
        before = max(earlier)
        scores = {
            i: _score_snapshot(model, snaps[i], recipe.val_set, recipe.val_setting,
                               recipe.protocol, threads)[1]["psnr"].to_numpy()
            for i in (before, end)
        }  # fmt: skip
        log_ok, log_change = stats.convergence(pd.read_csv(log_path))
        all_change = float(scores[end].mean() - scores[before].mean())
        all_ok = abs(all_change) < stats.CONVERGENCE_DB
        rows.append({
            "run_dir": d.relative_to(claims.results_root()).as_posix(), "recipe": recipe.name,
            "val_set": recipe.val_set, "val_setting": recipe.val_setting,
            "iteration_before": before, "iteration_end": end,
            "log_images": recipe.val_limit, "log_change_db": log_change, "log_converged": log_ok,
            "all_images": len(scores[end]), "all_change_db": all_change,
            "all_converged": all_ok, "agree": log_ok == all_ok,
        })  # fmt: skip
    table = pd.DataFrame(rows)
    out = claims.results_root() / "scaling"
    out.mkdir(parents=True, exist_ok=True)
    table.round(4).to_csv(out / "convergence_check.csv", index=False)
    return table


def _from_log(curve: Curve, d: Path, info: dict, recipe: recipes.Recipe, seed: int,
              budget: str) -> list[dict]:  # fmt: skip
    """Curve points from a run's validation log: PSNR on its validation subset (the first
    ``val_limit`` images of ``val_set``), labelled as such; only where that is the curve's cell."""
    if (recipe.val_set, recipe.val_setting) != (curve.dataset, curve.setting):
        return []
    log = pd.read_csv(d / runs.LOG).dropna(subset=["val_psnr"])
    per_step = int(info["batch"]) * int(info.get("world_size", 1))
    return [{
        "model": curve.model, "entry": curve.entry, "run": curve.run, "seed": seed,
        "budget": budget, "iterations": int(it), "patches_seen": int(it) * per_step,
        "patch": int(info["patch"]), "dataset": curve.dataset, "setting": curve.setting,
        "psnr": float(v), "ssim": float("nan"), "paper_patches": _paper_patches(recipe),
        "source": f"validation log, first {recipe.val_limit} images",
    } for it, v in zip(log["iteration"], log["val_psnr"], strict=True)]  # fmt: skip


def _paper_patches(recipe: recipes.Recipe) -> int:
    """Patches the paper's schedule shows a model (iterations x batch at the paper budget)."""
    paper = recipes.get_recipe(recipe.name)
    return int(paper.iterations * paper.batch)


def fit_trend(points: pd.DataFrame) -> tuple[float, float]:
    """(intercept, slope per decade): least squares of mean PSNR over seeds on
    ``log10(patches_seen)``, on the later half of the points (the early ones are warm-up)."""
    mean = points.groupby("patches_seen")["psnr"].mean().sort_index()
    late = mean.iloc[len(mean) // 2 :] if len(mean) >= 4 else mean
    if len(late) < 2:
        raise ValueError("a trend needs at least two points")
    slope, intercept = np.polyfit(np.log10(late.index.to_numpy(float)), late.to_numpy(), 1)
    return float(intercept), float(slope)


def write(budget: str = "cpu", threads: int | None = 1) -> pd.DataFrame:
    """Measure every curve with snapshots and write ``results/scaling/{summary,fits}.csv``."""
    out = claims.results_root() / "scaling"
    out.mkdir(parents=True, exist_ok=True)
    frames = [measure(c, budget, threads) for c in CURVES]
    table = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(
        len(f) for f in frames) else pd.DataFrame()  # fmt: skip
    table.round(6).to_csv(out / "summary.csv", index=False)
    fits = []
    claimed = claims.load_claims()
    for c in CURVES:
        part = table[table["model"] == c.model] if len(table) else table
        paper_value = claimed[
            (claimed.paper == c.paper) & (claimed.table == c.table) & (claimed.method == c.method)
            & (claimed.dataset == c.dataset) & (claimed.setting.astype(str) == c.setting)
            & (claimed.metric == "psnr")
        ]["value"]  # fmt: skip
        row = {"model": c.model, "dataset": c.dataset, "setting": c.setting, "points": 0,
               "paper_psnr": float(paper_value.iloc[0]) if len(paper_value) else None}  # fmt: skip
        if len(part) and part["patches_seen"].nunique() >= 2:
            a, b = fit_trend(part)
            target = int(part["paper_patches"].iloc[0])
            row.update(points=int(part["patches_seen"].nunique()), seeds=part["seed"].nunique(),
                       source="; ".join(sorted(set(part["source"]))),
                       intercept=a, slope_per_decade=b, paper_patches=target,
                       extrapolated_psnr_at_paper_schedule=a + b * np.log10(target))  # fmt: skip
        fits.append(row)
    pd.DataFrame(fits).round(4).to_csv(out / "fits.csv", index=False)
    return table


def plot(table: pd.DataFrame, fits: pd.DataFrame):
    """One panel per model: PSNR vs patches seen (log), each seed, the paper's value, and the
    dashed fitted trend extended to the paper's schedule (labelled an extrapolation)."""
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(fits["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(3.6 * len(models), 3.2), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        part = table[table["model"] == model] if len(table) else table
        f = fits[fits["model"] == model].iloc[0]
        ax.set_title(f"{model}, {f['dataset']} {f['setting']}", fontsize=9)
        ax.set_xscale("log")
        ax.set_xlabel("patches seen")
        ax.set_ylabel("PSNR (dB)")
        if pd.notna(f.get("paper_psnr")):
            ax.axhline(f["paper_psnr"], color="k", ls=":", lw=1, label="paper")
        if not len(part):
            ax.text(0.5, 0.5, "no snapshots yet", ha="center", transform=ax.transAxes)
            continue
        for (seed, source), s in part.groupby(["seed", "source"]):
            subset = "" if source.startswith("snapshot") else " (validation images)"
            ax.plot(s["patches_seen"], s["psnr"], "o-", ms=3, lw=1, label=f"seed {seed}{subset}")
        if pd.notna(f.get("slope_per_decade")):
            xs = np.geomspace(part["patches_seen"].min(), f["paper_patches"], 50)
            ax.plot(xs, f["intercept"] + f["slope_per_decade"] * np.log10(xs), "--",
                    color="0.4", lw=1, label="fitted trend (extrapolation)")  # fmt: skip
            ax.axvline(f["paper_patches"], color="0.7", lw=0.8)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig
