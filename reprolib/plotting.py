"""The house style for every figure and table the notebooks and the book show."""

from __future__ import annotations

import hashlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from reprolib.experiments import MIN_GAIN_DB

PALETTE = "colorblind"


def use_style() -> None:
    """One look across chapters: seaborn whitegrid, colour-blind palette, compact fonts."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font_scale=0.9)
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight", "axes.titleweight": "bold"})
    # Tables are read whole in the book: no column, cell or row cut to "...".
    pd.set_option("display.max_columns", None)
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_rows", 500)
    pd.set_option("display.width", 250)


def number(v: float, digits: int = 4) -> str:
    """A table number: ``-`` when missing, counts (parameters, images) as integers with thousands
    separators, anything else with ``digits`` decimals."""
    if v is None or v != v:
        return "-"
    if abs(v) >= 100 and float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


use_style()


def style_comparison(summary: pd.DataFrame, columns: list[str] | None = None):
    """A claimed-vs-measured table: diff coloured red/green, out-of-tolerance cells marked, and
    a ``gain`` over the degraded input under ``MIN_GAIN_DB`` (a run that learned nothing) in red."""
    cols = columns or [
        c
        for c in [
            "paper", "table", "dataset", "setting", "method", "metric", "claimed", "measured",
            "diff", "tolerance", "within_tolerance", "input", "gain", "n_images",
        ]
        if c in summary
    ]  # fmt: skip
    df = summary[cols].reset_index(drop=True)
    fmt = {"claimed": number, "measured": number, "diff": "{:+.4f}", "tolerance": "{:.3f}",
           "input": number, "gain": "{:+.4f}"}  # fmt: skip
    styler = df.style.format({k: v for k, v in fmt.items() if k in df}, na_rep="-")
    if "diff" in df and df["diff"].notna().any():
        lim = max(float(np.nanmax(np.abs(df["diff"]))), 1e-3)
        # Only the cells with a number: the colour map's "bad" colour for NaN is transparent
        # black, which CSS receives without its alpha as a black block (an empty cell).
        measured = pd.IndexSlice[df.index[df["diff"].notna()], ["diff"]]
        styler = styler.background_gradient(subset=measured, cmap="RdYlGn", vmin=-lim, vmax=lim)
    if "gain" in df:  # a run no better than its degraded input learned nothing
        styler = styler.map(
            lambda v: "font-weight: bold; color: #b00" if v == v and v < MIN_GAIN_DB else "",
            subset=["gain"],
        )
    if "within_tolerance" in df:
        styler = styler.map(
            lambda v: "font-weight: bold; color: #b00" if v is False else "",
            subset=["within_tolerance"],
        )
    # A table id from its content, not pandas' random one: re-rendering an unchanged table
    # writes the same bytes (identical tables on one page share identical styles).
    content = pd.util.hash_pandas_object(df.astype(str), index=True).to_numpy().tobytes()
    styler = styler.set_uuid(hashlib.sha256(content).hexdigest()[:8])
    return styler.hide(axis="index")


#: Width (inches) of a figure the book shows at its text width (~800 px at 100 dpi).
PAGE_WIDTH_IN = 8.0


def diff_bars(summary: pd.DataFrame, metric: str = "psnr", by: str = "target", cols: int = 2):
    """Measured - claimed per cell, one panel per target, tolerance shaded.

    Laid out for the book's text width (:data:`PAGE_WIDTH_IN`): ``cols`` panels a row, wrapped,
    with horizontal bars so that every cell's name reads horizontally at full size; a panel's
    height follows its number of cells. One x scale for all panels (the gaps compare).
    """
    s = summary[(summary["metric"] == metric) & summary["claimed"].notna()].copy()
    s["cell"] = s["dataset"] + " " + s["setting"]
    groups = list(dict.fromkeys(s[by]))
    cols = max(1, min(cols, len(groups)))
    rows = -(-len(groups) // cols)
    sizes = [len(s[s[by] == g]) for g in groups] + [0] * (rows * cols - len(groups))
    heights = [max(sizes[r * cols : (r + 1) * cols]) for r in range(rows)]
    fig, axes = plt.subplots(
        rows, cols, figsize=(PAGE_WIDTH_IN, sum(0.24 * h + 0.9 for h in heights)), squeeze=False,
        sharex=True, gridspec_kw={"height_ratios": [0.24 * h + 0.9 for h in heights]},
    )  # fmt: skip
    unit = " (dB)" if metric == "psnr" else ""
    for ax, g in zip(axes.flat, groups, strict=False):
        d = s[s[by] == g]
        tol = d["tolerance"].iloc[0]
        ax.axvspan(-tol, tol, color="tab:green", alpha=0.15, lw=0)
        within = d["diff"].abs() <= tol
        ax.barh(d["cell"], d["diff"], color=np.where(within, "tab:blue", "tab:red"))
        ax.axvline(0, color="k", lw=0.8)
        ax.invert_yaxis()  # the table's order, top to bottom
        ax.set_title(f"{g} ({int(within.sum())}/{len(d)} within ±{tol:g})", fontsize=10)
        ax.tick_params(axis="y", labelsize=9)
        ax.tick_params(axis="x", labelsize=9, labelbottom=True)
        ax.set_xlabel(f"{metric.upper()} measured - claimed{unit}", fontsize=9)
    for ax in axes.flat[len(groups) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def per_image_boxes(per_image: pd.DataFrame, metric: str = "psnr"):
    """Distribution of per-image scores for every (method, set, setting)."""
    d = per_image.copy()
    d["cell"] = d["dataset"] + " " + d["setting"]
    methods = list(dict.fromkeys(d["method"]))
    fig, axes = plt.subplots(
        len(methods), 1, figsize=(9, 2.4 * len(methods)), squeeze=False, sharex=False
    )
    for ax, m in zip(axes[:, 0], methods, strict=True):
        sns.boxplot(data=d[d["method"] == m], x="cell", y=metric, ax=ax, fliersize=2)
        ax.set_title(m, fontsize=9)
        ax.set_xlabel("")
        ax.tick_params(axis="x", rotation=60, labelsize=7)
    fig.tight_layout()
    return fig


def per_image_by_run(scores: pd.DataFrame, metric: str = "psnr"):
    """One panel per (set, setting): every run's per-image scores, a box and one point per
    image, so that an image a run fails on stands out from the run's mean."""
    d = scores.assign(cell=scores["dataset"] + " " + scores["setting"])
    cells = list(dict.fromkeys(d["cell"]))
    cols = min(3, len(cells))
    rows = -(-len(cells) // cols)
    runs = list(dict.fromkeys(d["run"]))
    fig, axes = plt.subplots(rows, cols, figsize=(max(4.0, 1.1 * len(runs)) * cols, 3.4 * rows),
                             squeeze=False)  # fmt: skip
    rng = np.random.default_rng(0)  # fixed jitter: the same figure on every build
    for ax, cell in zip(axes.flat, cells, strict=False):
        part = d[d["cell"] == cell]
        values = [part.loc[part["run"] == r, metric].to_numpy() for r in runs]
        ax.boxplot(values, positions=range(len(runs)), widths=0.6, showfliers=False,
                   medianprops={"color": "0.3"}, boxprops={"color": "0.6"},
                   whiskerprops={"color": "0.6"}, capprops={"color": "0.6"})  # fmt: skip
        for i, v in enumerate(values):
            ax.scatter(i + rng.uniform(-0.2, 0.2, len(v)), v, s=9, color="C0", alpha=0.7)
        ax.set_xticks(range(len(runs)), runs)
        ax.set_title(cell, fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel(f"per-image {metric.upper()}" + (" (dB)" if metric == "psnr" else ""))
        ax.tick_params(axis="x", rotation=45, labelsize=7)
    for ax in list(axes.flat)[len(cells) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def learning_curve(
    log: pd.DataFrame,
    x: str,
    y: str,
    *,
    reference: float | None = None,
    reference_label: str = "paper",
    ax=None,
    label: str | None = None,
):
    """A training curve with the paper's final value as a dashed reference line."""
    ax = ax or plt.gca()
    ax.plot(log[x], log[y], label=label)
    if reference is not None:
        ax.axhline(reference, ls="--", color="k", lw=1, label=reference_label)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax


def cost_scatter(bench: pd.DataFrame):
    """Parameters vs CPU time (512 px) per model, marker area ~ FLOPs per pixel."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    size = 30 + 300 * bench["flops_per_pixel"] / bench["flops_per_pixel"].max()
    ax.scatter(bench["conv_weight_params"], bench["cpu_s_512"], s=size, alpha=0.6)
    for _, r in bench.iterrows():
        ax.annotate(r["model"], (r["conv_weight_params"], r["cpu_s_512"]), fontsize=7,
                    xytext=(4, 2), textcoords="offset points")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("conv weights")
    ax.set_ylabel("CPU seconds, one 512x512 image")
    ax.set_title("Size vs inference time (area ~ FLOPs/pixel)")
    return fig


def run_curves(
    logs: dict[str, pd.DataFrame],
    summary: pd.DataFrame | None = None,
    title: str = "",
    val_cells: dict[str, tuple[str, str]] | None = None,
):
    """Training loss and validation PSNR per run; the paper's value of each run as a reference.

    The reference (dashed, same colour) is the paper's final PSNR at its full budget for the
    cell the run validates on (``val_cells``: run -> (set, setting)); a run whose validation
    cell the paper does not tabulate gets no line. Without ``val_cells`` it is the mean claim
    over the entry's claimed cells (only meaningful for a one-cell entry).
    """
    fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(10, 3.6))
    colours = sns.color_palette(PALETTE, max(len(logs), 1))
    drew_claim = False
    for colour, (name, log) in zip(colours, logs.items(), strict=False):
        ax_loss.plot(log["iteration"], log["loss"], color=colour, lw=0.8, label=name)
        if "val_psnr" in log:
            v = log.dropna(subset=["val_psnr"])
            ax_psnr.plot(v["iteration"], v["val_psnr"], color=colour, marker="o", ms=3,
                         label=name)  # fmt: skip
        if summary is not None and len(summary):
            ref = summary[(summary["method"] == name) & (summary["metric"] == "psnr")]
            if val_cells is not None:
                val_set, val_setting = val_cells.get(name, (None, None))
                ref = ref[(ref["dataset"] == val_set) & (ref["setting"] == val_setting)]
            if ref["claimed"].notna().any():
                ax_psnr.axhline(ref["claimed"].mean(), color=colour, ls="--", lw=1)
                drew_claim = True
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("training loss")
    ax_psnr.set_xlabel("iteration")
    ax_psnr.set_ylabel("validation PSNR (dB)")
    if drew_claim:  # no legend entry for a line that is not drawn (entries without a claim)
        ax_psnr.plot([], [], color="k", ls="--", lw=1, label="paper (full budget)")
    ax_psnr.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def diagnosis_curves(probes: pd.DataFrame, logs: dict[str, pd.DataFrame]):
    """MemNet diagnosis (``scripts/memnet_diagnosis.py``): per probe, training loss and the
    validation PSNR gain over the degraded input (0 = the network returns its input)."""
    recipes_ = list(dict.fromkeys(probes["recipe"]))
    fig, axes = plt.subplots(len(recipes_), 2, figsize=(11, 3.4 * len(recipes_)), squeeze=False)
    for (ax_loss, ax_gain), recipe in zip(axes, recipes_, strict=True):
        rows = probes[probes["recipe"] == recipe]
        colours = sns.color_palette(PALETTE, max(len(rows), 1))
        for colour, row in zip(colours, rows.itertuples(), strict=True):
            log = logs.get(row.probe)
            if log is None:
                continue
            ax_loss.plot(log["iteration"], log["loss"], color=colour, lw=0.9, label=row.probe)
            v = log.dropna(subset=["val_psnr"])
            ax_gain.plot(v["iteration"], v["val_psnr"] - row.val_input_psnr, color=colour,
                         marker="o", ms=3, label=row.probe)  # fmt: skip
        ax_gain.axhline(0.0, color="k", lw=0.8, ls=":")
        ax_loss.set_yscale("log")
        ax_loss.set_xlabel("iteration")
        ax_loss.set_ylabel("training loss (Eq. 12)")
        ax_gain.set_xlabel("iteration")
        ax_gain.set_ylabel(f"gain over input (dB), {rows['val_cell'].iloc[0]}")
        ax_gain.set_ylim(bottom=max(ax_gain.get_ylim()[0], -12.0))
        ax_loss.set_title(recipe, fontsize=9)
        ax_gain.legend(fontsize=7)
    fig.tight_layout()
    return fig
