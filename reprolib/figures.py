"""The papers' figures that analyse trained models, run on a registry entry's trained runs.

An entry of ``experiments.yaml`` lists them under ``analyses``; its report notebook calls
:func:`make` for each. Every figure reads the entry's trained models at one budget, computes its
numbers with :mod:`reprolib.analysis`, writes them to
``results/<paper>/<experiment>/<budget>/analysis/<figure>[_<part>].csv`` (the book reads numbers
only from there) and returns a matplotlib figure. A figure whose runs are not trained yet raises
:class:`FigureInputMissing` naming them.

* ``memnet_fig4_spectra`` - MemNet Fig. 4: 1-D spectral densities of the M-2-th and last
  intermediate predictions of MemNet and MemNet_NL (x4 SR of Set5 "butterfly") and the four
  differences of Fig. 4(c).
* ``memnet_fig5_gate_norms`` - MemNet Fig. 5: gate weight norms v_m^l per feature map and the
  mean per kind of memory.
* ``memnet_fig6_intermediate`` - MemNet Fig. 6: PSNR of each intermediate prediction vs the
  time to produce it (x3 SR on Set5).
* ``nlrn_fig4_correlation`` - NLRN Fig. 4: correlation maps of query pixels per recurrent state
  and the share of their weight on pixels similar to the query (Set12 "Lena", sigma 25).
* ``memorynet_fig7_features`` - MemoryNet Fig. 7: stage 1's first-layer feature maps of a
  degraded proxy image without and with the memory augment, and their deviation from the
  features of the clean image, on the entry's runs that have a memory.
* ``sweep_curve`` - NLRN Figs. 5 and 6: PSNR against the swept hyper-parameter (``x`` in the
  registry), each seed and the mean with its interval.
* ``curve_end_points`` - the last loss and the best/last validation PSNR of every run (the
  numbers RED-Net prints under its curves, e.g. the Fig. 7 caption).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from reprolib import analysis, evaluate, experiments, imageops, restorers, stats
from reprolib.experiments import Experiment, learning_curves, per_image

__all__ = ["FIGURES", "FigureInputMissing", "FigureResult", "make", "output_dir"]


class FigureInputMissing(FileNotFoundError):
    """A run the figure needs has not been trained at this budget."""


@dataclass
class FigureResult:
    """The tables a figure is drawn from (also written as CSV) and the figure itself."""

    name: str
    tables: dict[str, pd.DataFrame]
    figure: Figure | None
    caption: str


def output_dir(exp: Experiment, budget: str) -> Path:
    return exp.folder / budget / "analysis"


def _model(exp: Experiment, budget: str, run: str, device: str | None) -> torch.nn.Module:
    d = exp.folder / budget / run
    if not (d / "model.pt").exists():
        raise FigureInputMissing(
            f"{exp.id}: run {run!r} is not trained at budget {budget!r} ({d}); "
            f"train it with `reprolib run {exp.id} --budget {budget}`"
        )
    model, _ = restorers.load_model(d, device)
    return model.eval()


def _seed_models(
    exp: Experiment, budget: str, run: str, device: str | None
) -> dict[int, torch.nn.Module]:
    """Every trained seed of ``run`` (seed 0 first), by seed."""
    r = next((x for x in exp.runs if x.name == run), None)
    seeds = exp.seeds_on_disk(r, budget) if r is not None else []
    out = {}
    for k in seeds:
        d = exp.run_dir(r, budget, k)
        if (d / "model.pt").exists():
            out[k] = restorers.load_model(d, device)[0].eval()
    if not out:
        _model(exp, budget, run, device)  # raises FigureInputMissing naming the run
    return out


#: How an observation drawn from a figure is judged (the verdict rule's seed condition).
OBSERVATION_RULE = (
    f"An observation read off a figure **holds** when at least {stats.MIN_SEEDS} seeds of the "
    "model(s) each show it, every model it is read from converged and beat its degraded input "
    "(the verdict rule's conditions), and the 95% interval of its measured quantity over images "
    "and seeds (the verdict rule's bootstrap, `reprolib.stats.mean_interval`) lies above zero, "
    "**does not hold** when as many seeds each show the opposite under the same conditions and "
    "the interval lies below zero, and is **inconclusive** otherwise (too few seeds, seeds "
    "disagree, a model not converged or learned nothing, the interval includes 0, or the "
    "quantity is not measured per image, so it has no such interval)."
)


def read_from(models: Sequence[tuple[Experiment, str]], budget: str) -> dict[str, list[str]]:
    """The (entry, run) models an observation is read from, as :func:`_observation` records
    them (``models``: ``entry:run``, what the verdict plan counts seeds of) and why some cannot
    decide it (``unfit``, :func:`unfit_models`)."""
    return {"models": [f"{e.id}:{r}" for e, r in models], "unfit": unfit_models(models, budget)}


def unfit_models(models: Iterable[tuple[Experiment, str]], budget: str) -> list[str]:
    """Which of the (entry, run) models an observation is read from the verdict rule would not
    let decide anything (:data:`reprolib.stats.VERDICT_RULE`, conditions on convergence and on
    beating the degraded input), each with why; a run not scored yet is left to the seed count."""
    out, by_entry = [], {}
    for exp, run in models:
        if exp.id not in by_entry:  # once per entry: it reads every run's log
            by_entry[exp.id] = experiments.run_facts(exp, budget, experiments.summary(exp, budget))
        facts = by_entry[exp.id].get(run)
        if facts is None:
            continue
        label = f"{run} ({exp.id})"
        if not facts.converged:
            out.append(f"not converged: {label}, validation moved {facts.change_db:+.2f} dB")
        if facts.gain_db < stats.MIN_GAIN_DB:
            out.append(f"learned nothing: {label}")
    return out


def _observation(
    finding: str,
    claim: str,
    per_seed: dict[int, tuple[bool, str]],
    interval: tuple[float, float, float] | None = None,
    unfit: Sequence[str] = (),
    models: Sequence[str] = (),
) -> dict:
    """One judged observation (:data:`OBSERVATION_RULE`): ``per_seed`` maps a seed to (shows
    it, the measured evidence); ``interval`` is (mean, 95% low, 95% high) of the observation's
    quantity over images and seeds, positive where it shows, when it is measured per image;
    ``unfit``: why some model it is read from cannot decide it (:func:`unfit_models`);
    ``models``: those models as ``entry:run`` (:func:`read_from`)."""
    shows = [v for v, _ in per_seed.values()]
    n = len(shows)
    mean, lo, hi = interval if interval is not None else (np.nan, np.nan, np.nan)
    agree = n >= stats.MIN_SEEDS and (all(shows) or not any(shows))
    if agree and all(shows) and lo > 0:
        verdict = stats.HOLDS
    elif agree and not any(shows) and hi < 0:
        verdict = stats.NOT_HOLDS
    elif n < stats.MIN_SEEDS:
        verdict = f"{stats.INCONCLUSIVE} (too few seeds: {n} < {stats.MIN_SEEDS})"
    elif not agree:
        verdict = f"{stats.INCONCLUSIVE} (seeds disagree)"
    elif interval is None:
        verdict = f"{stats.INCONCLUSIVE} (no interval: not measured per image)"
    else:
        verdict = f"{stats.INCONCLUSIVE} (interval includes 0)"
    if unfit:
        why = "; ".join(unfit)
        if verdict in (stats.HOLDS, stats.NOT_HOLDS):
            verdict = f"{stats.INCONCLUSIVE} ({why}; the seeds alone would say '{verdict}')"
        else:
            verdict = f"{verdict.removesuffix(')')}; {why})"
    evidence = "; ".join(f"seed {k}: {'yes' if v else 'no'}, {e}" for k, (v, e) in per_seed.items())
    return {"finding": finding, "claim": claim, "verdict": verdict,
            "seeds_showing": f"{sum(shows)} of {n}", "evidence": evidence,
            "margin": mean, "ci_low": lo, "ci_high": hi, "models": " ".join(models)}  # fmt: skip


def _image(dataset: str, setting: str, protocol: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(network input, uint8 reference) of the ``index``-th image of a test set."""
    return _pairs(dataset, setting, protocol, limit=index + 1)[index]


def _pairs(
    dataset: str, setting: str, protocol: str, limit: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(network input, uint8 reference) of a test set's images (:mod:`reprolib.evaluate`)."""
    found = evaluate.iter_pairs(dataset, setting, protocol, limit=limit)
    return [(p.degraded, p.target) for p in found]


# --------------------------------------------------------------------------- MemNet


def memnet_fig4_spectra(exp: Experiment, budget: str, device: str | None = None) -> FigureResult:
    """MemNet Fig. 4 on the entry's MemNet and MemNet_NL (Sec. 3.4, x4 SR)."""
    inp, _ = _image("Set5", "x4", "memnet_sr", index=2)  # butterfly
    outputs = {}
    with torch.no_grad():
        for run in ("MemNet", "MemNet_NL"):
            model = _model(exp, budget, run, device)
            preds = model.forward_intermediate(analysis.model_input(model, inp))
            m = len(preds)
            early = max(1, m - 2)  # the paper's 4th and 6th of 6 blocks
            for k in (early, m):
                img = preds[k - 1][0, 0].double().cpu().numpy().clip(0, 1) * 255
                outputs[f"{run} M{k}"] = img
    names = list(outputs)
    spectra = pd.concat(
        [analysis.radial_power_spectrum(outputs[n]).assign(output=n) for n in names],
        ignore_index=True,
    )
    (nl_early, nl_last) = [n for n in names if n.startswith("MemNet_NL")]
    (mn_early, mn_last) = [n for n in names if not n.startswith("MemNet_NL")]
    cases = [  # Fig. 4(c), left to right
        (nl_early, nl_last), (mn_last, mn_early), (mn_early, nl_early), (mn_last, nl_last),
    ]  # fmt: skip
    diffs = pd.concat(
        [
            analysis.spectral_difference(outputs[a], outputs[b]).assign(case=f"{a} - {b}")
            for a, b in cases
        ],
        ignore_index=True,
    )
    fig, axes = plt.subplots(1, 1 + len(cases), figsize=(3.0 * (1 + len(cases)), 2.8))
    for n in names:
        part = spectra[(spectra.output == n) & (spectra.frequency > 0)]
        axes[0].semilogy(part.frequency, part.power, label=n, lw=1)
    axes[0].set(xlabel="frequency (cycles/pixel)", ylabel="spectral density", title="(b)")
    axes[0].legend(fontsize=7)
    for ax, (case, part) in zip(axes[1:], diffs.groupby("case", sort=False), strict=True):
        part = part[part.frequency > 0]
        ax.plot(part.frequency, part.difference, lw=1)
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set(xlabel="frequency (cycles/pixel)", title=case)
        ax.title.set_fontsize(8)
    fig.tight_layout()
    judged = pd.DataFrame([_fig4_high_frequency(exp, budget, device)])
    return FigureResult(
        "memnet_fig4_spectra",
        {"spectra": spectra, "differences": diffs, "judged": judged},
        fig,
        "MemNet Fig. 4(b)-(c): spectral densities of intermediate predictions (x4, butterfly) "
        "and their differences; positive values mean the first output holds more power. "
        f"`judged`: the paper's high-frequency observation over every Set5 image at x4 "
        f"(band {HIGH_BAND[0]}-{HIGH_BAND[1]} cycles/pixel). " + OBSERVATION_RULE,
    )


#: The "high frequencies" of Fig. 4(c), in cycles per pixel (the upper half up to Nyquist).
HIGH_BAND = (0.25, 0.5)


def _fig4_high_frequency(exp: Experiment, budget: str, device: str | None) -> dict:
    """Sec. 3.4 / Fig. 4(c): MemNet's last prediction holds more high-frequency power than
    MemNet_NL's, per seed pair: the relative difference of power in :data:`HIGH_BAND`, summed
    over the rings, on every Set5 image (x4); a seed shows it when the mean over images > 0."""
    nets = {run: _seed_models(exp, budget, run, device) for run in ("MemNet", "MemNet_NL")}
    pairs = _pairs("Set5", "x4", "memnet_sr")
    per_seed, rows = {}, []
    for k in sorted(set(nets["MemNet"]) & set(nets["MemNet_NL"])):
        rel = []
        for i, (inp, _) in enumerate(pairs):
            outs = []
            with torch.no_grad():
                for run in ("MemNet", "MemNet_NL"):
                    model = nets[run][k]
                    pred = model.forward_intermediate(analysis.model_input(model, inp))[-1]
                    outs.append(pred[0, 0].double().cpu().numpy().clip(0, 1) * 255)
            d = analysis.spectral_difference(*outs)
            band = d[(d.frequency >= HIGH_BAND[0]) & (d.frequency <= HIGH_BAND[1])]
            rel.append(band.difference.sum() / band.power_b.sum())
            rows.append({"run": "MemNet - MemNet_NL", "seed": k, "dataset": "Set5",
                         "setting": "x4", "image": str(i), "rel": rel[-1]})  # fmt: skip
        mean = float(np.mean(rel))
        per_seed[k] = (mean > 0, f"{mean:+.2%} power, {sum(r > 0 for r in rel)}/{len(rel)} "
                                 "images positive")  # fmt: skip
    diffs = pd.DataFrame(rows)
    interval = stats.mean_interval(diffs, "MemNet - MemNet_NL", "rel") if rows else None
    return _observation(
        "memnet-fig4-highfreq",
        "MemNet's last prediction holds more high-frequency power than MemNet_NL's",
        per_seed,
        interval,
        **read_from([(exp, "MemNet"), (exp, "MemNet_NL")], budget),
    )


#: Fig. 5's three panels: task -> (the registry entry and run of that task's MemNet).
FIG5_TASKS = {
    "denoising": ("memnet/table3", "MemNet"),
    "SISR": ("memnet/table1", "MemNet"),
    "JPEG deblocking": ("memnet/table5", "MemNet"),
}


def _task_models(exp: Experiment, budget: str, device: str | None) -> dict[str, dict]:
    """Each Fig. 5 task's trained MemNet seeds ({task: {seed: model}}); the entry's own MemNet
    stands for its task (raising :class:`FigureInputMissing` if untrained), another task's
    model is left out while its entry has no trained seed at this budget."""
    out = {}
    for task, (eid, run) in FIG5_TASKS.items():
        if eid == exp.id:
            out[task] = _seed_models(exp, budget, run, device)
            continue
        try:
            out[task] = _seed_models(experiments.get(eid), budget, run, device)
        except FigureInputMissing:
            continue
    return out


def memnet_fig5_gate_norms(exp: Experiment, budget: str, device: str | None = None) -> FigureResult:
    """MemNet Fig. 5 (Sec. 5.3): gate weight norms of the denoising, SISR and JPEG MemNets, one
    panel per task trained at this budget (the entry's own MemNet always)."""
    tasks = _task_models(exp, budget, device)
    tables = {t: analysis.gate_norm_table(next(iter(m.values()))) for t, m in tasks.items()}
    table = pd.concat([t.assign(task=task) for task, t in tables.items()], ignore_index=True)
    bars = pd.concat(
        [analysis.gate_norm_bars(t).assign(task=task) for task, t in tables.items()]
    ).reset_index()
    fit = read_from(
        [(experiments.get(eid), run) for t, (eid, run) in FIG5_TASKS.items() if t in tasks], budget
    )
    judged = pd.DataFrame([_fig5_tasks_differ(tasks, fit), *_fig5_observations(tasks, fit)])
    fig, axes = plt.subplots(len(tables), 2, figsize=(9, 2.8 * len(tables)), squeeze=False)
    for (ax1, ax2), (task, part) in zip(axes, tables.items(), strict=True):
        for block, curve in part.groupby("block"):
            ax1.plot(curve["index"], curve["norm_scaled"], lw=0.8, label=f"block {block}")
        ax1.set(xlabel="feature map index l", ylabel="normalised norm of v_m^l", title=task)
        ax1.legend(fontsize=7)
        analysis.gate_norm_bars(part).plot.bar(ax=ax2, rot=0)
        ax2.set(ylabel="mean normalised norm", title="long / short (1..R-1) / last recursion")
    fig.tight_layout()
    missing = [t for t in FIG5_TASKS if t not in tasks]
    return FigureResult(
        "memnet_fig5_gate_norms",
        {"norms": table, "bars": bars, "judged": judged},
        fig,
        "MemNet Fig. 5: gate weight norms per feature map (long-term memories first) and their "
        "mean per kind of memory, one row per task (the first seed drawn)"
        + (f"; not trained at this budget: {', '.join(missing)}" if missing else "")
        + ". `judged`: Sec. 5.3's observations (1)-(3) on every seed. "
        + OBSERVATION_RULE,
    )


def _bar_distance(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Mean absolute difference of two MemNets' Fig. 5 bars (mean normalised norm per block and
    kind of memory, :func:`reprolib.analysis.gate_norm_bars`): how differently their gates
    weigh the memories."""
    return float((a - b).abs().to_numpy().mean())


def _fig5_tasks_differ(tasks: dict[str, dict], fit: dict | None = None) -> dict:
    """Sec. 5.3 (1), "different tasks have different norm distributions": a seed shows it when
    the Fig. 5 bars (:func:`_bar_distance`) of every pair of tasks at that seed differ more than
    those of any two seeds of one task do (two models of the same task also differ; only a
    difference beyond that is the task's). Needs the three tasks and two seeds of a task."""
    claim = "the gate-norm bars differ more between tasks than between seeds of one task"
    if len(tasks) < len(FIG5_TASKS):
        absent = ", ".join(t for t in FIG5_TASKS if t not in tasks)
        row = _observation("memnet-fig5-obs1-tasks", claim, {})
        return {**row, "evidence": f"not trained at this budget: {absent}"}
    bars = {
        task: {k: analysis.gate_norm_bars(analysis.gate_norm_table(m)) for k, m in models.items()}
        for task, models in tasks.items()
    }
    within = [_bar_distance(b[i], b[j]) for b in bars.values() for i in b for j in b if i < j]
    per_seed = {}
    for k in sorted(set.intersection(*(set(b) for b in bars.values()))):
        names = list(bars)
        between = {
            f"{a}/{b}": _bar_distance(bars[a][k], bars[b][k])
            for n, a in enumerate(names)
            for b in names[n + 1 :]
        }
        text = ", ".join(f"{p} {d:.3f}" for p, d in between.items())
        if within:
            per_seed[k] = (
                min(between.values()) > max(within),
                f"between tasks {text}; between seeds at most {max(within):.3f}",
            )
        else:  # fmt: skip
            per_seed[k] = (False, f"between tasks {text}; no second seed of a task to compare")
    return _observation("memnet-fig5-obs1-tasks", claim, per_seed, **(fit or {}))


def _fig5_observations(tasks: dict[str, dict], fit: dict | None = None) -> list[dict]:
    """Sec. 5.3 (2): mean and variance of the normalised norms fall with the block index
    (Spearman rank correlation < 0 for both); (3a) maps of the last recursion have the largest
    mean norm; (3b) in the later half of the blocks long-term maps outweigh the short-term maps
    of recursions 1..R-1. Fig. 5 states them for its three tasks together: a seed shows one
    when the model of every task trained at that seed does."""
    found: dict[str, dict[int, list[tuple[bool, str]]]] = {"2": {}, "3a": {}, "3b": {}}
    for task, models in tasks.items():
        for k, model in models.items():
            table = analysis.gate_norm_table(model)
            per_block = table.groupby("block")["norm_scaled"].agg(["mean", "var"])
            order = pd.Series(per_block.index, per_block.index)
            rho_m = per_block["mean"].corr(order, "spearman")
            rho_v = per_block["var"].corr(order, "spearman")
            bars = analysis.gate_norm_bars(table)
            means = bars.mean()
            late = bars.loc[bars.index > len(bars) / 2]
            for obs, shows, text in (
                ("2", rho_m < 0 and rho_v < 0, f"rho(mean) {rho_m:+.2f}, rho(var) {rho_v:+.2f}"),
                ("3a", means["last"] > means["long"] and means["last"] > means["short"],
                 f"mean long {means['long']:.3f}, short {means['short']:.3f}, "
                 f"last {means['last']:.3f}"),
                ("3b", (late["long"] > late["short"]).all(),
                 f"blocks {list(late.index)}: long {late['long'].round(3).tolist()} vs short "
                 f"{late['short'].round(3).tolist()}"),
            ):  # fmt: skip
                found[obs].setdefault(k, []).append((bool(shows), f"{task} {text}"))

    def per_seed(obs: str) -> dict[int, tuple[bool, str]]:
        return {
            k: (all(v for v, _ in parts), "; ".join(t for _, t in parts))
            for k, parts in sorted(found[obs].items())
        }

    return [
        _observation("memnet-fig5-obs2-decay",
                     "mean and variance of the gate weight norms fall with the block number",
                     per_seed("2"), **(fit or {})),
        _observation("memnet-fig5-obs3-memories",
                     "(a) last-recursion short-term maps have the largest mean norm",
                     per_seed("3a"), **(fit or {})),
        _observation("memnet-fig5-obs3-memories",
                     "(b) in late blocks long-term maps outweigh short-term maps of recursions "
                     "1..R-1", per_seed("3b"), **(fit or {})),
    ]  # fmt: skip


def memnet_fig6_intermediate(
    exp: Experiment, budget: str, device: str | None = None
) -> FigureResult:
    """MemNet Fig. 6 on the entry's MemNet: PSNR vs inference time per prediction (Sec. 5.4)."""
    models = _seed_models(exp, budget, "MemNet", device)
    first, model = next(iter(models.items()))
    pairs = _pairs("Set5", "x3", "memnet_sr")
    table = analysis.psnr_per_intermediate(model, pairs, "x3", "memnet_sr", repeats=2)
    table.insert(0, "device", str(next(model.parameters()).device))
    scores = {first: table}
    for k, other in models.items():
        if k != first:  # the PSNR of every seed for the judgement; its timing is not needed
            scores[k] = analysis.psnr_per_intermediate(other, pairs, "x3", "memnet_sr", warmup=0)
    judged = pd.DataFrame([_fig6_rising(scores, read_from([(exp, "MemNet")], budget))])
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(table.seconds, table.psnr, "o-")
    for _, row in table.iterrows():
        ax.annotate(str(row["prediction"]), (row.seconds, row.psnr), fontsize=7)
    ax.set(xlabel="seconds per image (mean over Set5)", ylabel="PSNR (dB), Set5 x3")
    fig.tight_layout()
    return FigureResult(
        "memnet_fig6_intermediate",
        {"psnr_vs_time": table, "judged": judged},
        fig,
        "MemNet Fig. 6: PSNR of each intermediate prediction and the fused output against the "
        "time to produce it (this machine, whole images; the first seed drawn). `judged`: the "
        "part of Sec. 5.4's observation this study can check, that the prediction improves "
        "with the block index, on every seed (the comparison with VDSR and DRCN is with cited "
        "numbers and is not judged). " + OBSERVATION_RULE,
    )


def _fig6_rising(scores: dict[int, pd.DataFrame], fit: dict | None = None) -> dict:
    """Sec. 5.4 / Fig. 6: the PSNR of ``MemNet_Mm`` rises with ``m`` up to the last block (the
    figure's curve is monotone): a seed shows it when every intermediate prediction scores above
    the one before it on Set5 x3 (means over the images)."""
    per_seed = {}
    for k, t in scores.items():
        psnr = t.loc[t["prediction"] != "final", "psnr"].to_numpy()
        text = ", ".join(f"M{m} {v:.2f}" for m, v in enumerate(psnr, start=1))
        per_seed[k] = (bool(np.all(np.diff(psnr) > 0)), f"{text} dB")
    return _observation(
        "memnet-fig6-m3",
        "(part) the intermediate predictions' PSNR rises with the block index m",
        per_seed,
        **(fit or {}),
    )


# --------------------------------------------------------------------------- NLRN


def nlrn_fig4_correlation(exp: Experiment, budget: str, device: str | None = None) -> FigureResult:
    """NLRN Fig. 4 on the entry's NLRN: correlation maps per recurrent state (Sec. 5.1)."""
    models = _seed_models(exp, budget, "NLRN", device)
    model = next(iter(models.values()))
    noisy, clean = _image("Set12", "sigma25", "dncnn_denoise", index=7)  # Lena
    clean = clean.astype(np.float64) / 255
    pixels = [(256, 256), (120, 300), (400, 150)]
    tables = {
        k: analysis.correlation_similarity(m, noisy, clean, pixels) for k, m in models.items()
    }
    table = next(iter(tables.values()))
    judged = pd.DataFrame([_fig4_progressive(tables, read_from([(exp, "NLRN")], budget))])
    maps = analysis.correlation_map_grid(model, noisy, pixels[:1], step=None)[pixels[0]]
    q = model.q
    fig, axes = plt.subplots(1, 2 + len(maps), figsize=(1.9 * (2 + len(maps)), 2.2))
    axes[0].imshow(analysis.neighbourhood(noisy, pixels[0], q, model.padding), cmap="gray")
    axes[0].set_title("noisy", fontsize=8)
    axes[1].imshow(analysis.neighbourhood(clean, pixels[0], q, model.padding), cmap="gray")
    axes[1].set_title("clean", fontsize=8)
    for t, (ax, m) in enumerate(zip(axes[2:], maps, strict=True), start=1):
        ax.imshow(m, cmap="viridis")
        ax.set_title(f"state {t}", fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return FigureResult(
        "nlrn_fig4_correlation",
        {"similarity": table, "judged": judged},
        fig,
        f"NLRN Fig. 4: correlation maps of the centre pixel of a {q}x{q} window of Set12 Lena "
        "(sigma 25) per recurrent state (the first seed drawn); the table gives, per query "
        "pixel and state, the weight on pixels whose clean value is within 10 grey levels of "
        "the query's (mass) against their share of the window (lift > 1: similar pixels are "
        "favoured). `judged`: Sec. 5.1's observation on every seed. " + OBSERVATION_RULE,
    )


def _fig4_progressive(tables: dict[int, pd.DataFrame], fit: dict | None = None) -> dict:
    """NLRN Sec. 5.1 / Fig. 4: "as the recurrent state index increases, locations with similar
    features progressively show higher correlation": a seed shows it when, for every query
    pixel, the lift of similar pixels rises with the state (Spearman rank correlation > 0) and
    ends above where it started."""
    per_seed = {}
    for k, t in tables.items():
        parts, shows = [], True
        for (y, x), px in t.groupby(["y", "x"], sort=False):
            rho = px["lift"].corr(px["state"], "spearman")
            rises = bool(rho > 0 and px["lift"].iloc[-1] > px["lift"].iloc[0])
            shows &= rises
            parts.append(f"({y},{x}) lift {px['lift'].iloc[0]:.2f} -> {px['lift'].iloc[-1]:.2f}, "
                         f"rho {rho:+.2f}")  # fmt: skip
        per_seed[k] = (shows, "; ".join(parts))
    return _observation(
        "nlrn-fig4-corr-maps",
        "similar pixels get more of the correlation weight as the state index grows",
        per_seed,
        **(fit or {}),
    )


# --------------------------------------------------------------------------- MemoryNet

FIG7_IMAGES = 10  # proxy test images the Fig. 7 deviation table averages over


def memorynet_fig7_features(
    exp: Experiment, budget: str, device: str | None = None
) -> FigureResult:
    """MemoryNet Fig. 7 on the entry's trained runs with a memory (Sec. IV-C)."""
    seeds = {}  # run -> {seed: model}, for the runs with a memory
    for run in exp.runs:
        try:
            found = _seed_models(exp, budget, run.name, device)
        except FigureInputMissing:
            continue
        if getattr(next(iter(found.values())), "memory", None) is not None:
            seeds[run.name] = found
    models = {name: next(iter(found.values())) for name, found in seeds.items()}
    if not models:
        raise FigureInputMissing(f"{exp.id}: no run with a memory is trained at budget {budget!r}")
    recipe = exp.recipe_for(next(r for r in exp.runs if r.name in models), budget)
    dataset, task = recipe.test_sets[0], recipe.test_settings[0]
    found = list(evaluate.iter_pairs(dataset, task, "proxy", limit=FIG7_IMAGES))
    pairs = [(imageops.to_uint8(p.degraded * 255.0), p.target) for p in found]
    names = [p.image for p in found]
    tables = []
    for name, model in models.items():
        t = analysis.memory_feature_deviation(model, pairs, names)
        tables.append(t.assign(run=name, dataset=dataset, task=task))
    table = pd.concat(tables, ignore_index=True)
    closer = {name: _share_closer(t) for name, t in zip(models, tables, strict=True)}
    measures = ["deviation", "psnr", "contrast", "correlation"]
    summary = table.groupby(["run", "features"], sort=False)[measures].mean().reset_index()
    summary["images"] = len(pairs)
    summary["share_closer_with_memory"] = summary.run.map(closer)
    later = {  # the other seeds' share of images closer with the memory, for the judgement
        (name, k): _share_closer(analysis.memory_feature_deviation(m, pairs, names))
        for name, found in seeds.items()
        for k, m in list(found.items())[1:]
    }
    shares = {(name, next(iter(found))): closer[name] for name, found in seeds.items()}
    fit = read_from([(exp, name) for name in seeds], budget)
    judged = pd.DataFrame([_fig7_closer({**shares, **later}, fit)])

    degraded, clean = pairs[0]

    def channel_mean(f: torch.Tensor) -> np.ndarray:
        return f[0].abs().mean(0).cpu().numpy()

    def to_image(x: torch.Tensor) -> np.ndarray:
        return x[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy()

    fig, axes = plt.subplots(len(models), 6, figsize=(13, 2.3 * len(models)), squeeze=False)
    for row, (name, model) in zip(axes, models.items(), strict=True):
        t = analysis.memory_first_layer(model, degraded, clean)
        panels = [
            ("degraded input", degraded, "rgb"),
            (f"{name}: memory read y_part", to_image(t["read"]), "rgb"),
            ("clean image", clean, "rgb"),
            ("features without memory", channel_mean(t["f_input"]), "map"),
            ("features with memory", channel_mean(t["f_memory"]), "map"),
            ("features of the clean image", channel_mean(t["f_clean"]), "map"),
        ]
        vmax = max(float(p[1].max()) for p in panels if p[2] == "map")
        for ax, (title, img, kind) in zip(row, panels, strict=True):
            if kind == "rgb":
                ax.imshow(img)
            else:
                ax.imshow(img, cmap="magma", vmin=0, vmax=vmax)
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return FigureResult(
        "memorynet_fig7_features",
        {"summary": summary, "per_image": table, "judged": judged},
        fig,
        f"MemoryNet Fig. 7 on the {task} proxy ({dataset} '{names[0]}'; one row per run with a "
        "memory): stage 1's first-layer features (mean absolute value over channels, one colour "
        "scale per row) of the degraded image without the memory augment and of its memory "
        "read, next to those of the clean image. The table gives, for the first "
        f"{len(pairs)} {dataset} proxy images and every trained run with a memory, the "
        "deviation ||f(a) - f(clean)|| / ||f(clean)|| of each from the clean image's features, "
        "the PSNR of the image a itself and its contrast (pixel standard deviation relative to "
        "the clean image's; summary: means, and the share "
        "of images whose memory read lies closer). `judged`: Sec. IV-C's observation on every "
        "seed. " + OBSERVATION_RULE,
    )


def _share_closer(deviation: pd.DataFrame) -> float:
    """The share of images whose features with the memory lie closer to the clean image's
    than those without it (:func:`reprolib.analysis.memory_feature_deviation` rows)."""
    wide = deviation.pivot_table(index="image", columns="features", values="deviation")
    return float((wide["with memory"] < wide["without memory"]).mean())


def _fig7_closer(shares: dict[tuple[str, int], float], fit: dict | None = None) -> dict:
    """MemoryNet Sec. IV-C / Fig. 7: "the original feature map without adding memory obviously
    deviates from the original image", i.e. with the memory augment the first-layer features
    lie closer to the clean image's: a seed shows it when, for every run with a memory trained
    at that seed, more than half of the images are closer with the memory."""
    per_seed: dict[int, tuple[bool, str]] = {}
    for k in sorted({k for _, k in shares}):
        mine = {run: v for (run, seed), v in shares.items() if seed == k}
        text = ", ".join(f"{run} {v:.0%} of images closer" for run, v in mine.items())
        per_seed[k] = (all(v > 0.5 for v in mine.values()), text)
    return _observation(
        "memorynet-fig7-features",
        "first-layer features lie closer to the clean image's with the memory augment",
        per_seed,
        **(fit or {}),
    )


# --------------------------------------------------------------------------- curves


def curve_end_points(exp: Experiment, budget: str, device: str | None = None) -> FigureResult:
    """Per run: last loss, best and last validation PSNR (RED-Net's curve captions)."""
    logs = learning_curves(exp, budget)
    if not logs:
        raise FigureInputMissing(f"{exp.id}: no training logs at budget {budget!r}")
    return FigureResult(
        "curve_end_points",
        {"end_points": analysis.final_values(logs)},
        None,
        "End points of the learning curves: last training loss, best and last validation PSNR.",
    )


def sweep_curve(exp: Experiment, budget: str, device: str | None = None) -> FigureResult:
    """A sweep of one hyper-parameter (the entry's ``x: {param, label, default}``, read from each
    run's overrides, or ``default`` for a run that keeps the recipe's value): mean PSNR of every
    run against it, each seed as a dot and the mean over seeds with its 95% interval
    (:func:`reprolib.stats.mean_interval`). NLRN Figs. 5 and 6, RED-Net Figs. 9-12."""
    scores = per_image(exp, budget)
    param, label = exp.x.get("param"), exp.x.get("label", exp.x.get("param"))
    default = exp.x.get("default")
    rows = []
    for r in exp.runs:
        value = r.overrides.get(param, default)
        if value is None or r.name not in set(scores["run"]):
            continue
        mean, lo, hi = stats.mean_interval(scores, r.name)
        per_seed = scores[scores["run"] == r.name].groupby("seed")["psnr"].mean()
        rows.append({"run": r.name, param: value, "seeds": len(per_seed),
                     "psnr": mean, "ci_low": lo, "ci_high": hi,
                     "per_seed": ", ".join(f"{v:.3f}" for v in per_seed)})  # fmt: skip
    if not rows:
        raise FigureInputMissing(f"{exp.id}: no scored run with an override of {param!r}")
    table = pd.DataFrame(rows).sort_values(param)
    fig, ax = plt.subplots(figsize=(4.6, 3.0))
    err = [table["psnr"] - table["ci_low"], table["ci_high"] - table["psnr"]]
    ax.errorbar(table[param], table["psnr"], yerr=err, fmt="o-", capsize=3, label="mean, 95% CI")
    for r in rows:
        seeds = scores[scores["run"] == r["run"]].groupby("seed")["psnr"].mean()
        ax.plot([r[param]] * len(seeds), seeds, "k.", ms=4, alpha=0.6)
    ax.set(xlabel=label, ylabel="PSNR (dB), mean over the test cells", xticks=table[param])
    ax.legend(fontsize=7)
    fig.tight_layout()
    return FigureResult(
        "sweep_curve",
        {"sweep": table},
        fig,
        f"PSNR against {label} at the {budget} budget (dots: seeds). The interval is that of "
        "each run's mean over these test images and seeds, wide because images differ; whether "
        "two runs differ is judged on paired per-image differences (the findings table).",
    )


FIGURES: dict[str, Callable[..., FigureResult]] = {
    f.__name__: f
    for f in (
        memnet_fig4_spectra,
        memnet_fig5_gate_norms,
        memnet_fig6_intermediate,
        nlrn_fig4_correlation,
        memorynet_fig7_features,
        curve_end_points,
        sweep_curve,
    )
}


def make(name: str, exp: Experiment, budget: str, device: str | None = None) -> FigureResult:
    """Compute figure ``name`` for ``exp`` at ``budget`` and write its tables as CSV:
    ``<name>.csv`` when it has one table besides its ``judged`` observations, else
    ``<name>_<part>.csv`` per table; the observations always as ``<name>_judged.csv`` (the
    scoreboard reads them, :func:`reprolib.scoreboard.observations`)."""
    if name not in FIGURES:
        raise KeyError(f"unknown analysis {name!r}; known: {', '.join(sorted(FIGURES))}")
    result = FIGURES[name](exp, budget, device)
    out = output_dir(exp, budget)
    out.mkdir(parents=True, exist_ok=True)
    single = len([p for p in result.tables if p != "judged"]) == 1
    for part, table in result.tables.items():
        suffix = "" if single and part != "judged" else f"_{part}"
        # 6 significant digits: re-rendering a report does not rewrite a CSV with float noise
        table.to_csv(out / f"{name}{suffix}.csv", index=False, float_format="%.6g")
    return result
