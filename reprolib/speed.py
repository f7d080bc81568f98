"""The papers' speed claims, measured on this machine as ratios, in one run (issue 19, item 3).

* RED-Net Sec. 4.5 / Fig. 8: stride-2 down-sampling at conv1, conv5, conv9 or conv5+9 (and the
  mirrored deconvolution up-sampling back) against none. The paper times "an image of size
  160x240 on an i7-2600 CPU": 3.17, 0.84, 1.43, 2.00 and 1.17 s (``results/claims/rednet.csv``,
  table ``sec4.5``), and says conv1 "leads to almost 4x faster in testing" and conv9 "reduces
  1/3 of the testing time".
* MemNet Sec. 5.4 / Fig. 6: the time of each intermediate prediction ``MemNet_Mm`` "when
  processing a 288 x 288 image on GPU P40". The times exist only as the colour bar of the
  figure, so no paper value is transcribed; the measured ratios stand alone.
* NLRN Sec. 5.2 / Table 3: parameter counts against PSNR on Set12 (sigma 50) for DnCNN, RED,
  MemNet and NLRN; the table reports no time. Here each network's time and FLOPs per image
  (256 x 256, the size of ten of the twelve Set12 images) stand beside its parameters, to show
  what the parameter ratios the paper prints say about cost. NLRN_300 is the same network as
  NLRN_400 (other training images) and NLRN-MV runs it on 8 views (8x the time): neither is a
  separate row.

Absolute seconds belong to this machine; what is compared with a paper is a **ratio** between
variants timed in the same run: every round times every network once (interleaved), so a change
of machine load between rounds falls on all of them alike. Each time is the median over
``repeats`` rounds after ``warmup`` untimed ones, one thread, float32, batch 1, on the CPU
(:func:`reprolib.analysis.timed`; MemNet's predictions stage by stage with
:func:`reprolib.analysis.intermediate_costs`, the timing of the Fig. 6 analysis), both as wall
clock (what the papers report) and as the process's CPU time (what one thread computed: on a
machine shared with other processes the wall clock also counts the waits for a core, so the CPU
time is the steadier estimate of what an idle machine would show). The
hardware-independent counterpart is the FLOP count (:func:`reprolib.analysis.flops`, on the
``meta`` device): convolutions and matrix products as this implementation performs them (NLRN's
attention multiplies each tile of pixels with its whole window and masks afterwards: more
products than the ``q x q`` per pixel of Eq. 6). Inputs are uniform noise: the cost of these
networks does not depend on the pixel values. Timings taken while other processes ran are
noisier; the 1-minute load average during each row's timed rounds is recorded beside it.

Widths. ``cpu``: the networks of the registry's runs at the ``cpu`` budget (32 filters, MemNet
and NLRN also shallower: the models whose PSNR this study measures). ``paper``: the same runs at
the ``paper`` budget. RED-Net's Sec. 4.5 states neither depth nor width: RED20 is the registry's
choice for Fig. 8 (conv9 needs at least nine convolutions; differences register
``rednet-ablation-setup``), and 64 filters, the filter number of the paper's parameter study
(Sec. 5.1) and of its NIPS version, the paper-text width; both widths are timed. MemNet's and
NLRN's paper-width networks are counted (FLOPs, parameters) but not timed, to keep the run to a
few minutes: one pass of the 80-layer MemNet on 288 x 288 is about 0.5 TFLOP, of NLRN's
330K-parameter network on 256 x 256 about 1.6 TFLOP (minutes on one core of this machine).
NLRN Table 3's RED is the released 128-filter RED30 (4,131K conv weights, the count the table
prints).

Output: ``<results root>/speed/speed.csv`` (:data:`COLUMNS`), rendered by
``notebooks/speed.ipynb``; ``reprolib speed`` runs both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from reprolib import analysis, claims, experiments, figures, provenance, recipes, restorers, runs
from reprolib.models import conv_weight_params

__all__ = [
    "CASES", "COLUMNS", "Case", "add_ratios", "measure", "output_dir", "plot", "refresh_psnr",
    "write",
]  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One network of a registry entry's run, at one width, on one input size.

    ``reference`` is the run the ratios of its group (same paper, entry and width) are taken
    against; ``per_prediction`` times MemNet's intermediate predictions (one row each);
    ``overrides`` change the run's recipe (only where the paper's own network differs from the
    registry's at that budget, as NLRN Table 3's 128-filter RED).
    """

    paper: str
    source: str
    experiment: str
    run: str
    width: str
    size: tuple[int, int]
    reference: str
    timed: bool = True
    per_prediction: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)


_FIG8 = ("no_downsample", "down_conv1", "down_conv5", "down_conv9", "down_conv5_9")
_TABLE3 = ("NLRN_400", "DnCNN", "RED", "MemNet")

CASES: tuple[Case, ...] = (
    *(
        Case("rednet", "Sec. 4.5 / Fig. 8", "rednet/fig8", run, width, (160, 240), "no_downsample")
        for width in ("paper", "cpu")
        for run in _FIG8
    ),
    Case("memnet", "Sec. 5.4 / Fig. 6", "memnet/table1", "MemNet", "cpu", (288, 288), "MemNet",
         per_prediction=True),
    Case("memnet", "Sec. 5.4 / Fig. 6", "memnet/table1", "MemNet", "paper", (288, 288), "MemNet",
         timed=False, per_prediction=True),
    *(Case("nlrn", "Sec. 5.2 / Table 3", "nlrn/table3", run, "cpu", (256, 256), "NLRN_400")
      for run in _TABLE3),
    *(Case("nlrn", "Sec. 5.2 / Table 3", "nlrn/table3", run, "paper", (256, 256), "NLRN_400",
           timed=False, overrides={"channels": 128} if run == "RED" else {})
      for run in _TABLE3),
)  # fmt: skip

#: The columns of ``speed.csv``. ``time_s_*``: wall clock, ``cpu_s_*``: the process's CPU time
#: (:func:`reprolib.analysis.timed`), median and interquartile range over the timed rounds.
#: ``ratio_*`` are this row's value over its reference's (below 1: cheaper): ``ratio_measured``
#: of the wall time, ``ratio_cpu`` of the CPU time; ``paper_ratio`` is the same ratio of the
#: paper's printed ``paper_ratio_of`` (``time_s`` for RED-Net Sec. 4.5, ``params`` for NLRN
#: Table 3, empty where it prints none).
COLUMNS = [
    "paper", "source", "experiment", "variant", "width", "model", "params", "flops",
    "input_shape", "time_s_median", "time_s_iqr", "cpu_s_median", "cpu_s_iqr", "repeats",
    "warmup", "threads", "reference", "ratio_measured", "ratio_cpu", "ratio_flops",
    "ratio_params", "paper_time_s", "paper_params",
    "paper_ratio", "paper_ratio_of", "psnr", "psnr_cell", "psnr_source", "load_avg_1min",
    "hardware", "torch", "date",
]  # fmt: skip

QUICK_SIZE = (32, 48)  # --quick: every case on this size, for tests (divisible by 4: conv5+9)


def output_dir(quick: bool = False) -> Path:
    """``<results root>/speed`` (``speed/quick`` for a quick run: never the book's page)."""
    folder = claims.results_root() / "speed"
    return folder / "quick" if quick else folder


def _recipe(exp: experiments.Experiment, case: Case, seed: int = 0) -> recipes.Recipe:
    """The recipe the case's run trains with at the case's width (budget), overrides applied."""
    run = next(r for r in exp.runs if r.name == case.run)
    return recipes.with_overrides(exp.recipe_for(run, case.width, seed), case.overrides)


def _build(recipe: recipes.Recipe, device: str) -> nn.Module:
    """The run's network as it trains (:func:`reprolib.restorers.build_model`), in eval mode;
    weights are left as initialised (time and FLOPs do not depend on them)."""
    with torch.device(device):
        return restorers.build_model(recipe).eval()


def _labels(case: Case, model: nn.Module) -> list[str]:
    """Row names: the run, or for MemNet's predictions ``MemNet_M1 .. MemNet_MM`` and the
    output ``MemNet`` (the paper's names in Fig. 6)."""
    if not case.per_prediction:
        return [case.run]
    return [f"{case.run}_M{m}" for m in range(1, model.num_blocks + 1)] + [case.run]


def _params(case: Case, model: nn.Module) -> list[int]:
    """Conv weights, the count the papers print (:func:`reprolib.models.conv_weight_params`);
    for MemNet's ``y_m``: FENet, blocks ``1..m`` and the reconstruction net."""
    if not case.per_prediction:
        return [conv_weight_params(model)]
    stem = conv_weight_params(model.fenet) + conv_weight_params(model.reconnet)
    blocks = np.cumsum([conv_weight_params(b) for b in model.blocks])
    return [int(stem + b) for b in blocks] + [conv_weight_params(model)]


@torch.no_grad()
def _costs(case: Case, model: nn.Module, x: torch.Tensor, count: str) -> np.ndarray:
    """One pass: FLOPs ``[rows]`` or seconds ``[rows, 2]`` (wall, cpu) of the case's rows."""
    if case.per_prediction:
        return analysis.intermediate_costs(model, x, repeats=1, warmup=0, count=count)[1][0]
    if count == "flops":
        return np.array([analysis.flops(lambda: model(x))[1]], dtype=float)
    return analysis.timed(lambda: model(x), x.device)[1][None]


def measure(
    cases: tuple[Case, ...] = CASES,
    *,
    repeats: int = 4,
    warmup: int = 1,
    threads: int = 1,
    quick: bool = False,
) -> pd.DataFrame:
    """Time (interleaved rounds) and count every case; one row per network or prediction, with
    its PSNR and the paper's values but no ratios yet (:func:`add_ratios`). ``quick``: every
    input :data:`QUICK_SIZE` (tests; the numbers mean nothing)."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # as reprolib.models.inference.restore
    try:
        registry = experiments.load()
        entries = [registry[c.experiment] for c in cases]
        sizes = [QUICK_SIZE if quick else c.size for c in cases]
        rows = [_static_rows(e, c, s) for e, c, s in zip(entries, cases, sizes, strict=True)]
        timed = [i for i, c in enumerate(cases) if c.timed]
        nets = {i: _build(_recipe(entries[i], cases[i]), "cpu") for i in timed}
        gen = torch.Generator().manual_seed(0)
        inputs = {i: torch.rand(1, 1, *sizes[i], generator=gen) for i in timed}
        seconds: dict[int, list[np.ndarray]] = {i: [] for i in timed}
        load: dict[int, list[float]] = {i: [] for i in timed}
        for k in range(warmup + repeats):
            for i in timed:
                secs = _costs(cases[i], nets[i], inputs[i], "seconds")
                if k >= warmup:
                    seconds[i].append(secs)
                    load[i].append(os.getloadavg()[0])
        stamp = {"threads": torch.get_num_threads(), "hardware": provenance.hardware(),
                 "torch": torch.__version__,
                 "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}  # fmt: skip
    finally:
        torch.set_num_threads(previous)
    table = []
    for i, case_rows in enumerate(rows):
        per_row = np.array(seconds[i]) if i in seconds else None  # [repeats, rows, 2]
        for j, row in enumerate(case_rows):
            if per_row is not None:
                (w25, c25), (w50, c50), (w75, c75) = np.percentile(per_row[:, j], [25, 50, 75], 0)
                row.update(time_s_median=w50, time_s_iqr=w75 - w25, cpu_s_median=c50,
                           cpu_s_iqr=c75 - c25, repeats=repeats, warmup=warmup,
                           load_avg_1min=float(np.mean(load[i])))  # fmt: skip
            table.append({**row, **stamp})
    return pd.DataFrame(table).reindex(columns=[c for c in COLUMNS if not c.startswith("ratio")])


def _static_rows(exp: experiments.Experiment, case: Case, size: tuple[int, int]) -> list[dict]:
    """What needs no timing: parameters, FLOPs (``meta`` device), the paper's values and the
    PSNR measured for the run, one dict per row of the case."""
    recipe = _recipe(exp, case)
    model = _build(recipe, "meta")
    flops = _costs(case, model, torch.zeros(1, 1, *size, device="meta"), "flops")
    kwargs = ", ".join(f"{k}={v}" for k, v in sorted(recipe.model_kwargs.items()))
    labels = _labels(case, model)
    psnr = _psnr(exp, case, labels)
    out = []
    for label, n, f in zip(labels, _params(case, model), flops, strict=True):
        out.append({
            "paper": case.paper, "source": case.source, "experiment": case.experiment,
            "variant": label, "width": case.width, "model": f"{recipe.model}({kwargs})",
            "params": n, "flops": int(f), "input_shape": "1x1x{}x{}".format(*size),
            "reference": case.reference, **_paper_values(case.paper, label), **psnr[label],
        })  # fmt: skip
    return out


def _paper_values(paper: str, variant: str) -> dict:
    """The paper's printed time (RED-Net ``sec4.5``) and parameter count (NLRN ``table3``)."""
    c = claims.load_claims(paper)
    time_s = c[(c.table == "sec4.5") & (c.method == variant) & (c.metric == "time_s")]
    params = c[(c.table == "table3") & (c.method == variant) & (c.metric == "params")]
    return {
        "paper_time_s": float(time_s["value"].iloc[0]) if len(time_s) else np.nan,
        "paper_params": float(params["value"].iloc[0]) if len(params) else np.nan,
    }


def _psnr(exp: experiments.Experiment, case: Case, labels: list[str]) -> dict[str, dict]:
    """PSNR of each row as this study measured it at the case's width, never invented: MemNet's
    predictions from the Fig. 6 analysis (Set5 x3, seed 0); otherwise the entry's first
    evaluation cell, from the entry's run (mean over seeds) or from a run of another entry
    trained with the same recipe; else why there is none."""
    if case.per_prediction:
        path = figures.output_dir(exp, case.width) / "memnet_fig6_intermediate.csv"
        found = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=["prediction"])
        names = dict(zip(labels, [f"M{m}" for m in range(1, len(labels))] + ["final"],
                         strict=True))  # fmt: skip
        out = {}
        for label, pred in names.items():
            hit = found[found["prediction"] == pred]
            rel = path.relative_to(claims.results_root()) if len(hit) else None
            out[label] = {"psnr": float(hit["psnr"].iloc[0]) if len(hit) else np.nan,
                          "psnr_cell": "Set5 x3",
                          "psnr_source": f"{rel} (seed 0)" if rel else "not yet run"}  # fmt: skip
        return out
    run = next(r for r in exp.runs if r.name == case.run)
    grid = exp.eval_for(run)
    dataset, setting = grid["sets"][0], grid["settings"][0]
    recipe = _recipe(exp, case)
    value, source = np.nan, "not yet run"
    own = [
        _cell(exp.run_dir(run, case.width, seed), recipe.protocol, dataset, setting)
        for seed in exp.seeds_on_disk(run, case.width)
        if experiments.trained_with(exp.run_dir(run, case.width, seed), _recipe(exp, case, seed))
    ]
    own = [v for v in own if v is not None]
    donor = None if own else experiments.find_trained(recipe)
    if own:
        value = float(np.mean(own))
        source = f"{case.experiment}/{case.width}/{case.run} (mean of {len(own)} seed(s))"
    elif donor is not None:
        rel = donor.relative_to(claims.results_root())
        found = _cell(donor, recipe.protocol, dataset, setting)
        if found is None:
            source = f"trained ({rel}), not yet scored on {dataset} {setting}"
        else:
            value, source = found, f"{rel} (same recipe, seed 0)"
    return {labels[0]: {"psnr": value, "psnr_cell": f"{dataset} {setting}",
                        "psnr_source": source}}  # fmt: skip


def _cell(folder: Path, protocol: str, dataset: str, setting: str) -> float | None:
    """A run folder's PSNR on one cell under ``protocol`` (``metrics.csv``), or None."""
    path = folder / runs.METRICS
    if not path.exists():
        return None
    m = pd.read_csv(path)
    hit = m[(m.protocol == protocol) & (m.dataset == dataset) & (m.setting.astype(str) == setting)]
    return float(hit["psnr"].iloc[0]) if len(hit) else None


def add_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Each row's times, FLOPs, parameters and paper value over its reference row's, within its
    group (paper, experiment, width): ``ratio_measured`` (wall), ``ratio_cpu``, ``ratio_flops``,
    ``ratio_params`` and ``paper_ratio`` (of ``paper_time_s`` where the paper prints times, else of
    ``paper_params``), with ``paper_ratio_of`` naming which."""
    out = table.copy()
    key = ["paper", "experiment", "width"]
    ref = out[out["variant"] == out["reference"]].set_index(key)
    if ref.index.duplicated().any():
        raise ValueError("a group has its reference row more than once")
    base = ref.reindex(pd.MultiIndex.from_frame(out[key]))
    for col, name in (("time_s_median", "ratio_measured"), ("cpu_s_median", "ratio_cpu"),
                      ("flops", "ratio_flops"), ("params", "ratio_params")):  # fmt: skip
        out[name] = out[col].to_numpy(float) / base[col].to_numpy(float)
    times = out["paper_time_s"].notna().to_numpy()
    of = np.where(times, "time_s", np.where(out["paper_params"].notna(), "params", ""))
    paper = np.where(times, out["paper_time_s"], out["paper_params"]).astype(float)
    paper_ref = np.where(times, base["paper_time_s"], base["paper_params"]).astype(float)
    out["paper_ratio"] = paper / paper_ref
    out["paper_ratio_of"] = of
    return out.reindex(columns=COLUMNS)


def write(repeats: int = 4, warmup: int = 1, threads: int = 1, quick: bool = False) -> pd.DataFrame:
    """Measure every case (:func:`measure`), add the ratios and write ``speed.csv`` into
    :func:`output_dir`."""
    table = add_ratios(measure(repeats=repeats, warmup=warmup, threads=threads, quick=quick))
    folder = output_dir(quick)
    folder.mkdir(parents=True, exist_ok=True)
    runs.write_csv(folder / "speed.csv", table, float_format="%.6g")
    return table


def refresh_psnr(folder: Path | None = None) -> bool:
    """Re-read every row's PSNR (``psnr``, ``psnr_cell``, ``psnr_source``) of ``speed.csv`` from
    the results as they are now, keeping its timings; True when a value changed (file rewritten).

    Why: the times belong to the one run that measured them, but a variant's PSNR changes
    whenever its run is trained or retrained (``rednet/fig8``'s variants are trained one by one,
    long after the timing run), so ``reprolib reports`` refreshes it without re-timing. Rows of
    no case in :data:`CASES` keep what they had."""
    path = (folder or output_dir()) / "speed.csv"
    table = pd.read_csv(path)
    registry = experiments.load()
    fresh = {}
    for case in CASES:
        exp = registry[case.experiment]
        labels = _labels(case, _build(_recipe(exp, case), "meta"))
        for label, values in _psnr(exp, case, labels).items():
            fresh[(case.experiment, case.width, label)] = values
    cols = ["psnr", "psnr_cell", "psnr_source"]
    before = table[cols].copy()
    for i, key in enumerate(zip(table["experiment"], table["width"], table["variant"])):
        if key in fresh:
            for col in cols:
                table.loc[table.index[i], col] = fresh[key][col]
    if before.equals(table[cols]):
        return False
    runs.write_csv(path, table, float_format="%.6g")
    return True


def plot(table: pd.DataFrame):
    """Three panels, each relative to its reference: RED-Net Sec. 4.5 (bars: the paper's time,
    the measured CPU time at both widths, the FLOPs; crosses: the measured wall clock), MemNet
    Fig. 6 (each prediction against the output) and NLRN Table 3 (per image against the conv
    weights, log axes, with the line a cost proportional to parameters would follow)."""
    import matplotlib.pyplot as plt

    fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.8))
    red = table[table["paper"] == "rednet"]
    names = list(dict.fromkeys(red["variant"]))
    xs = np.arange(len(names))
    bars = [("paper (i7-2600)", "paper", "paper_ratio"),
            ("CPU time, 64 filters", "paper", "ratio_cpu"),
            ("CPU time, 32 filters", "cpu", "ratio_cpu"),
            ("FLOPs", "cpu", "ratio_flops")]  # fmt: skip
    for i, (label, width, col) in enumerate(bars):
        part = red[red["width"] == width].set_index("variant").reindex(names)
        a.bar(xs + (i - 1.5) * 0.2, part[col], 0.2, label=label)
        if col == "ratio_cpu":
            a.plot(xs + (i - 1.5) * 0.2, part["ratio_measured"], "kx", ms=5,
                   label="wall clock" if width == "cpu" else None)  # fmt: skip
    a.set_xticks(xs, [n.replace("_", " ") for n in names], rotation=20, fontsize=7)
    a.set(ylabel="time relative to no down-sampling", title=f"RED-Net Sec. 4.5 ({_shape(red)})",
          ylim=(0, 1.45))  # fmt: skip
    a.legend(fontsize=7, ncol=3, loc="upper center")
    mem = table[(table["paper"] == "memnet") & (table["width"] == "cpu")]
    b.plot(mem["variant"], mem["ratio_cpu"], "o-", label="CPU time")
    b.plot(mem["variant"], mem["ratio_measured"], "kx", label="wall clock")
    b.plot(mem["variant"], mem["ratio_flops"], "s--", label="FLOPs")
    b.set(ylabel="relative to the output", title=f"MemNet Fig. 6 ({_shape(mem)}, cpu width)")
    b.tick_params(axis="x", labelsize=7, rotation=20)
    b.legend(fontsize=7)
    nl = table[table["paper"] == "nlrn"]
    for width, col, marker, what in (("cpu", "ratio_cpu", "o", "CPU time"),
                                     ("paper", "ratio_flops", "s", "FLOPs")):  # fmt: skip
        part = nl[nl["width"] == width].sort_values("params")
        c.plot(part["params"], part["ratio_params"], ":", color="0.5", lw=1,
               label="proportional to parameters" if width == "cpu" else None)  # fmt: skip
        c.scatter(part["params"], part[col], marker=marker, label=f"{width} width: {what}")
        for _, row in part.iterrows():
            c.annotate(row["variant"], (row["params"], row[col]), fontsize=7)
    c.set(xscale="log", yscale="log", xlabel="conv weights", ylim=(0.02, 100),
          ylabel="relative to NLRN", title=f"NLRN Table 3 ({_shape(nl)})")  # fmt: skip
    c.axhline(1, color="0.6", lw=0.8)
    c.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def _shape(part: pd.DataFrame) -> str:
    """``'160x240'`` from the rows' ``input_shape`` (``1x1x160x240``)."""
    return "x".join(str(part["input_shape"].iloc[0]).split("x")[2:])
