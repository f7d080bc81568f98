"""The statistics behind every verdict: paired differences, convergence, and the verdict rule.

A finding of a paper compares trained models ("MemNet beats MemNet_NL", "PSNR increases with
depth"). Here it is judged on the per-image scores of every trained seed of the compared runs
(``per_image.csv``), never on a difference of two means alone:

* :func:`compare` - the paired per-image difference of two runs, averaged over each run's seeds,
  with a 95% interval and a two-sided p-value from a **two-level bootstrap** that resamples test
  images (within each test set; every setting of an image moves with it, because the same image
  at sigma 30 and 50 is not an independent sample) and, independently, each run's seeds. Why a
  bootstrap: the two sources of variation a reader wants to generalise over are the images and
  the training runs; the bootstrap needs no normality or equal-variance assumption about either,
  and with a single seed it honestly reports image variation only (which is why the rule below
  also demands seeds). With k seeds it under-states the seed variance by a factor (k-1)/k.
* :func:`convergence` - whether a run's validation PSNR still moved over the last
  :data:`CONVERGENCE_FRACTION` of its iterations by more than :data:`CONVERGENCE_DB`.
* :func:`size_drift` - whether a budget keeps the compared runs' relative sizes (parameters and
  training pixels) within :data:`SIZE_FACTOR` of the paper's recipes' ratios.
* :func:`judge` - :data:`VERDICT_RULE`, the one rule that turns the pairs and the facts about
  each run into ``holds``, ``does not hold`` or ``inconclusive`` with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "ALPHA",
    "CONVERGENCE_DB",
    "CONVERGENCE_FRACTION",
    "MIN_GAIN_DB",
    "MIN_SEEDS",
    "SIZE_FACTOR",
    "VERDICT_RULE",
    "PairStats",
    "RunFacts",
    "Verdict",
    "compare",
    "convergence",
    "judge",
    "mean_interval",
    "size_drift",
]

MIN_SEEDS = 3
CONVERGENCE_FRACTION = 0.2
CONVERGENCE_DB = 0.05
ALPHA = 0.05
#: a run "learned" when its mean PSNR beats its own degraded input by at least this (dB).
MIN_GAIN_DB = 0.1
N_BOOT = 4000
#: Two compared runs keep their relative size when the ratio of their parameters, and of their
#: training pixels, at the budget is within this factor of the ratio of the paper's recipes.
SIZE_FACTOR = 2.0

HOLDS, NOT_HOLDS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"

VERDICT_RULE = (
    f"A finding **holds** or **does not hold** only when every run it compares (1) was trained "
    f"and scored, (2) beat its own degraded input by at least {MIN_GAIN_DB} dB, (3) has at least "
    f"{MIN_SEEDS} seeds, (4) converged (validation PSNR moved by less than {CONVERGENCE_DB} dB "
    f"over the last {CONVERGENCE_FRACTION:.0%} of iterations, every seed), (5) keeps the "
    "relative size it has in the paper: its parameters and its training pixels (patches seen x "
    "patch area), as ratios to each other compared run's, are within a factor of "
    f"{SIZE_FACTOR:g} of the ratios of the paper's recipes, and (6) the 95% "
    f"interval of the deciding paired difference excludes zero (p < {ALPHA}). A method the paper "
    "compares that needs no training (BM3D) is measured once on the same noisy images; (2)-(5) "
    "do not apply to it. An ordering over "
    "several runs is judged by its weakest adjacent pair: it holds when every pair is "
    "significant in the claimed direction and does not hold when some pair is significant in "
    "the other. Otherwise the finding is **inconclusive**, and the reason names the condition "
    "that failed. Intervals: paired per-image differences averaged over seeds, two-level "
    "bootstrap over images (per test set) and seeds, 4,000 resamples, fixed random seed."
)


@dataclass(frozen=True)
class PairStats:
    """``better`` minus ``worse`` (as claimed): mean over cells of the per-image differences."""

    better: str
    worse: str
    margin_db: float
    ci_low: float
    ci_high: float
    p_value: float
    images: int
    seeds: tuple[int, int]

    @property
    def sign(self) -> int:
        """+1: significantly as claimed; -1: significantly the other way; 0: undecided."""
        return 1 if self.ci_low > 0 else -1 if self.ci_high < 0 else 0

    def text(self) -> str:
        return (
            f"{self.better} - {self.worse}: {self.margin_db:+.3f} dB, 95% CI "
            f"[{self.ci_low:+.3f}, {self.ci_high:+.3f}], p {self.p_value:.3g}, "
            f"{self.images} images, seeds {self.seeds[0]}/{self.seeds[1]}"
        )


@dataclass(frozen=True)
class RunFacts:
    """What the rule needs to know about one compared run (all its seeds together).

    ``trained=False`` marks a method measured without training (BM3D): it has no seeds to draw
    and no training to converge, so conditions (2)-(5) of the rule do not apply to it; its
    per-image scores enter the paired intervals as one deterministic "seed"."""

    seeds: int
    converged: bool
    change_db: float  # the largest |validation change| over the last 20% among its seeds
    gain_db: float  # mean PSNR gain over the degraded input (mean over seeds and cells)
    trained: bool = True
    # Sizes at this budget and in the paper's recipe (NaN: unknown, not checked): parameters,
    # and training pixels = patches seen x patch area.
    params: float = np.nan
    pixels: float = np.nan
    paper_params: float = np.nan
    paper_pixels: float = np.nan


def size_drift(runs: Sequence[str], facts: Mapping[str, RunFacts]) -> list[str]:
    """Condition (5) of :data:`VERDICT_RULE`: for parameters and for training pixels, the pair
    of compared trained runs whose ratio at this budget is furthest from the ratio of the
    paper's recipes, when that is more than :data:`SIZE_FACTOR` away, in words (``[]``: the
    budget keeps the relative sizes). Why: a reduced budget shrinks every model and schedule,
    but not always alike, and a comparison at a budget that, say, gives one network three
    times the other's training pixels where the paper gave it a thirtieth tests the budget,
    not the papers' claim."""
    out = []
    for what, here, paper in (("parameters", "params", "paper_params"),
                              ("training pixels", "pixels", "paper_pixels")):  # fmt: skip
        known = [r for r in dict.fromkeys(runs) if r in facts and facts[r].trained
                 and np.isfinite([getattr(facts[r], here), getattr(facts[r], paper)]).all()
                 and getattr(facts[r], here) > 0 and getattr(facts[r], paper) > 0]  # fmt: skip
        worst, text = 0.0, ""
        for i, a in enumerate(known):
            for b in known[i + 1 :]:
                at_budget = getattr(facts[a], here) / getattr(facts[b], here)
                in_paper = getattr(facts[a], paper) / getattr(facts[b], paper)
                drift = abs(np.log(at_budget / in_paper))
                if drift > np.log(SIZE_FACTOR) and drift > worst:
                    worst = drift
                    text = f"{what} {a}/{b}: {at_budget:.2g} here, {in_paper:.2g} in the paper"
        if text:
            out.append(text)
    return out


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str
    deciding: PairStats | None
    pairs: tuple[PairStats, ...] = ()  # every pair compared, the deciding one among them


def _arrays(scores: pd.DataFrame, run: str, metric: str) -> dict[str, np.ndarray]:
    """Per test set: array (images, settings, seeds) of ``metric`` for ``run``."""
    s = scores[scores["run"] == run]
    out = {}
    for dataset, part in s.groupby("dataset", sort=True):
        cube = part.pivot_table(index="image", columns=["setting", "seed"], values=metric)
        settings = sorted(set(cube.columns.get_level_values(0)))
        seeds = sorted(set(cube.columns.get_level_values(1)))
        cube = cube.reindex(columns=pd.MultiIndex.from_product([settings, seeds]))
        out[dataset] = cube.to_numpy().reshape(len(cube), len(settings), len(seeds))
    return out


def compare(
    scores: pd.DataFrame,
    better: str,
    worse: str,
    metric: str = "psnr",
    n_boot: int = N_BOOT,
    rng_seed: int = 0,
) -> PairStats:
    """Paired comparison of runs ``better`` and ``worse`` (see the module docstring).

    ``scores`` has one row per (run, seed, dataset, setting, image) with ``metric``; only the
    cells (set, setting, image) both runs were scored on count. The margin is the mean over
    cells (set x setting, as the paper's tables average) of the mean over images of
    ``mean_seeds(better) - mean_seeds(worse)``.
    """
    cols = ["dataset", "setting", "image"]
    common = (
        scores[scores["run"] == better][cols]
        .drop_duplicates()
        .merge(scores[scores["run"] == worse][cols].drop_duplicates())
    )
    if common.empty:
        raise ValueError(f"runs {better!r} and {worse!r} share no scored image")
    s = scores.merge(common, on=cols)
    a, b = _arrays(s, better, metric), _arrays(s, worse, metric)
    ka, kb = next(iter(a.values())).shape[2], next(iter(b.values())).shape[2]
    for d in a:
        if np.isnan(a[d]).any() or np.isnan(b[d]).any():
            raise ValueError(f"{better!r}/{worse!r}: not every seed scored every image of {d}")
    rng = np.random.default_rng(rng_seed)
    # Seed resampling: one draw per replicate, shared by every test set (a seed is one model).
    wa = np.stack([np.bincount(rng.integers(0, ka, ka), minlength=ka) / ka for _ in range(n_boot)])
    wb = np.stack([np.bincount(rng.integers(0, kb, kb), minlength=kb) / kb for _ in range(n_boot)])
    cell_means, boot_cells, n_images = [], [], 0
    for d in sorted(a):
        n = a[d].shape[0]
        n_images += n
        diff = a[d].mean(axis=2) - b[d].mean(axis=2)  # (images, settings)
        cell_means.append(diff.mean(axis=0))
        # Replicate r: images drawn with replacement (counts / n), seeds weighted by wa/wb.
        wi = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) / n for _ in range(n_boot)])
        ra = np.einsum("nsk,rk->rns", a[d], wa)
        rb = np.einsum("nsk,rk->rns", b[d], wb)
        boot_cells.append(np.einsum("rns,rn->rs", ra - rb, wi))
    margin = float(np.concatenate(cell_means).mean())
    boot = np.concatenate(boot_cells, axis=1).mean(axis=1)
    lo, hi = np.quantile(boot, [ALPHA / 2, 1 - ALPHA / 2])
    tail = min((boot <= 0).sum(), (boot >= 0).sum())
    p = min(1.0, 2 * (tail + 1) / (n_boot + 1))
    return PairStats(better, worse, margin, float(lo), float(hi), float(p), n_images, (ka, kb))


def mean_interval(
    scores: pd.DataFrame, run: str, metric: str = "psnr", n_boot: int = N_BOOT, rng_seed: int = 0
) -> tuple[float, float, float]:
    """(mean, 95% low, 95% high) of one run's mean ``metric`` over cells, with the same
    two-level bootstrap as :func:`compare` (images within each test set, and seeds)."""
    a = _arrays(scores, run, metric)
    k = next(iter(a.values())).shape[2]
    rng = np.random.default_rng(rng_seed)
    ws = np.stack([np.bincount(rng.integers(0, k, k), minlength=k) / k for _ in range(n_boot)])
    means, boot = [], []
    for d in sorted(a):
        n = a[d].shape[0]
        means.append(a[d].mean(axis=(0, 2)))
        wi = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) / n for _ in range(n_boot)])
        boot.append(np.einsum("rns,rn->rs", np.einsum("nsk,rk->rns", a[d], ws), wi))
    b = np.concatenate(boot, axis=1).mean(axis=1)
    lo, hi = np.quantile(b, [ALPHA / 2, 1 - ALPHA / 2])
    return float(np.concatenate(means).mean()), float(lo), float(hi)


def convergence(
    log: pd.DataFrame, fraction: float = CONVERGENCE_FRACTION, threshold: float = CONVERGENCE_DB
) -> tuple[bool, float]:
    """(converged, change): the validation PSNR at the last point minus that at the last point
    at or before ``1 - fraction`` of the run's iterations; converged when ``|change| <
    threshold``. A log without such two points cannot show convergence (``False, nan``)."""
    v = log.dropna(subset=["val_psnr"])
    if v.empty:
        return False, float("nan")
    end = float(log["iteration"].max())
    before = v[v["iteration"] <= (1 - fraction) * end]
    last = v[v["iteration"] == v["iteration"].max()]
    if before.empty or float(last["iteration"].iloc[0]) < end:
        return False, float("nan")
    change = float(last["val_psnr"].iloc[0] - before["val_psnr"].iloc[-1])
    return abs(change) < threshold, change


def expected_pairs(kind: str, runs: Sequence[str]) -> list[tuple[str, str]]:
    """The (better, worse) pairs a finding of ``kind`` claims, all of which must hold.

    ``order``: adjacent pairs, best first; ``increasing``: adjacent pairs, later better;
    ``peak``: the first run against every other."""
    if kind == "order":
        return list(zip(runs[:-1], runs[1:], strict=True))
    if kind == "increasing":
        return [(b, a) for a, b in zip(runs[:-1], runs[1:], strict=True)]
    if kind == "peak":
        return [(runs[0], r) for r in runs[1:]]
    raise ValueError(f"unknown finding kind {kind!r}")


def decide(kind: str, runs: Sequence[str], pair: Mapping) -> tuple[str | None, PairStats]:
    """What the intervals alone say (``holds``, ``does not hold`` or ``None``) and the deciding
    pair; ``pair(better, worse)`` returns a :class:`PairStats`."""
    if kind == "interior_peak":  # some interior run significantly above both ends
        ends, inner = (runs[0], runs[-1]), runs[1:-1]
        weakest = {j: min((pair(j, e) for e in ends), key=lambda p: p.ci_low) for j in inner}
        best = max(weakest.values(), key=lambda p: p.ci_low)
        if best.sign > 0:
            return HOLDS, best
        for e in ends:  # an end significantly above every interior run
            beats = [pair(e, j) for j in inner]
            if all(p.sign > 0 for p in beats):
                return NOT_HOLDS, min(beats, key=lambda p: p.ci_low)
        return None, best
    stats = [pair(a, b) for a, b in expected_pairs(kind, runs)]
    reversed_ = [p for p in stats if p.sign < 0]
    if reversed_:
        return NOT_HOLDS, min(reversed_, key=lambda p: p.ci_high)
    weakest = min(stats, key=lambda p: p.ci_low)
    return (HOLDS if weakest.sign > 0 else None), weakest


def judge(
    kind: str,
    runs: Sequence[str],
    scores: pd.DataFrame,
    facts: Mapping[str, RunFacts],
    metric: str = "psnr",
) -> Verdict:
    """Apply :data:`VERDICT_RULE` to one finding over ``runs`` (see :func:`decide` for kinds)."""
    missing = [r for r in runs if r not in facts]
    reasons = []
    if missing:
        reasons.append(f"not trained at this budget: {', '.join(missing)}")
    trained = [r for r in runs if r in facts and facts[r].trained]
    dead = [r for r in trained if facts[r].gain_db < MIN_GAIN_DB]
    if dead:
        reasons.append(
            f"learned nothing (gain over the input < {MIN_GAIN_DB} dB): {', '.join(dead)}"
        )
    few = [f"{r} ({facts[r].seeds})" for r in trained if facts[r].seeds < MIN_SEEDS]
    if few:
        reasons.append(f"too few seeds (< {MIN_SEEDS}): {', '.join(few)}")

    def moved(change: float) -> str:
        return "no validation points to tell" if np.isnan(change) else f"{change:+.2f} dB"

    moving = [f"{r} ({moved(facts[r].change_db)})" for r in trained if not facts[r].converged]
    if moving:
        reasons.append(
            f"not converged (validation moved >= {CONVERGENCE_DB} dB over the last "
            f"{CONVERGENCE_FRACTION:.0%}): {', '.join(moving)}"
        )
    drift = size_drift(runs, facts)
    if drift:
        reasons.append(f"relative sizes not kept at this budget ({'; '.join(drift)})")
    deciding = None
    if not missing:
        cache: dict[tuple[str, str], PairStats] = {}

        def pair(x: str, y: str) -> PairStats:
            if (x, y) not in cache:
                cache[(x, y)] = compare(scores, x, y, metric)
            return cache[(x, y)]

        outcome, deciding = decide(kind, runs, pair)
        pairs = tuple(cache.values())
        if outcome is None:
            reasons.append(f"interval includes 0 (weakest pair {deciding.text()})")
        elif not reasons:
            return Verdict(outcome, f"deciding pair {deciding.text()}", deciding, pairs)
        else:
            reasons.append(f"the intervals alone would say '{outcome}' ({deciding.text()})")
        return Verdict(INCONCLUSIVE, "; ".join(reasons), deciding, pairs)
    return Verdict(INCONCLUSIVE, "; ".join(reasons), deciding)
