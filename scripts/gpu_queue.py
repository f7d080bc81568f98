"""The queue of training runs for a lent GPU window, and the datasets those runs need.

    python scripts/gpu_queue.py                        # write <results>/queue.csv, print the top
    python scripts/gpu_queue.py --budgets cpu gpu paper
    python scripts/gpu_queue.py --pack-data .gpu_data  # copy the sets the queued runs need
    python scripts/gpu_queue.py --slim                 # just before a device call: results/ aside
    python scripts/gpu_queue.py --restore              # just after it: results/ back

Every run of the registry (``experiments.yaml``) that still needs training, one row per run,
seed and budget, in priority order (column ``tier``):

1. ``seeds``: the extra seeds that decide findings. A finding whose runs were all trained,
   all learned (beat their degraded input) and all converged, and is inconclusive only because
   some run has fewer than :data:`reprolib.stats.MIN_SEEDS` seeds: every missing seed
   ``0..MIN_SEEDS-1`` of each run it compares (:func:`reprolib.experiments.run_facts`).
2. ``headline``: the full-size models of the papers' headline tables at the ``gpu`` budget
   (:data:`HEADLINE`).
3. ``rest``: every other run that is not current (:func:`reprolib.experiments.run_status`),
   budget by budget in the order given; within a budget, runs of recipes that end on a plateau
   there first (the share of the recipe's trainings at that budget that converged,
   :func:`reprolib.experiments.convergence_by_recipe`, as ``(converged + 1/2) / (trainings +
   1)``: one converged training is weaker evidence than ten of twelve, and a recipe not trained
   there yet counts one half), because only converged runs can decide a finding; then the
   cheaper run first (more runs decided per hour); then registry order. The reason column says
   the share.

Left out (printed, never queued): current runs; a run whose training recipe another entry has
already trained (``reprolib run`` reuses those weights) or that an earlier row trains; a run
folder that already holds a finished training of the same recipe (it only needs evaluating);
a run folder written to in the last ``--active-minutes`` (a training running here now); a run
whose model cannot be built.

Costs (columns ``est_gpu_s``, ``est_cpu_h``, ``cost_basis``), training only (the final
evaluation excluded). On the CPU, seconds per iteration come first from the finished one-thread
runs under ``results/`` (``measured``: their wall time per iteration, validation included, the
median over the runs of one configuration; ``measured*flops``: the nearest configuration of the
family, scaled by the ratio of FLOPs per iteration). Otherwise, and on the GPU, they come from
``scripts/bench_train.py``'s ``results/bench/train.csv`` where it has the same family on that
device (``bench``: bare training steps of the same configuration; ``bench*flops``: scaled),
else from FLOPs per iteration (forward + backward, counted by
``torch.utils.flop_counter`` on the meta device, nothing computed) at an assumed throughput:
:data:`GPU_FLOPS` on the GPU (the gpu budget's sizing assumption in :mod:`reprolib.recipes`),
with a floor of :data:`LAUNCH_S` per dispatched operator (small models are launch-bound), and
:data:`CPU_FLOPS` on one CPU core. ``est_cpu_h`` is one idle core. ``ckpt_mib`` is the size of
the run's ``checkpoint.pt`` (weights plus optimiser state, fp32): a partial run whose
checkpoint exceeds what a window can bring back is not started there.

Beside the queue it writes ``<results>/verdict_plan.csv`` (:func:`verdict_plan`): per finding
that lacks seeds or runs, the hours of one core its missing seeds cost, evaluation included,
and whether a run that failed to converge blocks it; the scoreboard shows it.

``--pack-data DIR`` copies into ``DIR`` the dataset folders the queued runs need, in priority
order (each run's training and validation sets; then their test sets while they fit), with a
``MANIFEST.json`` that lists only those sets, and prints the total. The limit (``--max-mib``)
defaults to 50 MiB or, if less, what the 64 MiB a device call carries leaves beside the
working tree as it travels slim (below). Runs whose sets did not fit are skipped by the window;
the test sets are only needed for the final evaluation, which ``reprolib run`` does here on CPU.

``--slim`` / ``--restore``: a device call carries the checkout's tracked and untracked files
(64 MiB in all), and the committed results (weights, snapshots, executed reports) outgrew that
long ago, so a call made from the full checkout is refused. The window reads nothing of
``results/`` but the queue, so :func:`slim_tree` moves ``results/`` into the git directory and
out of the index for the call, and :func:`restore_tree` puts both back.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from reprolib import claims, data, evaluate, experiments, recipes, runs, scoreboard, stats
from reprolib.claims import results_root
from reprolib.provenance import REPO_ROOT

COLUMNS = [
    "priority", "tier", "experiment", "run", "seed", "budget", "recipe", "est_gpu_s",
    "est_cpu_h", "cost_basis", "ckpt_mib", "reason",
]  # fmt: skip
TIERS = ("seeds", "headline", "rest")
#: The full-size models of the papers' headline tables, trained first at the ``gpu`` budget.
HEADLINE = (
    ("memnet/table1", "MemNet"),
    ("memnet/table3", "MemNet"),
    ("nlrn/table4", "NLRN"),
    ("rednet/table2", "RED30"),
    ("rednet/table8", "RED30_blind"),  # the one SR model for x2/x3/x4 (Table 8)
)
GPU_FLOPS = 20e12  #: assumed effective bf16 FLOP/s of one H100/H200 on these models
LAUNCH_S = 10e-6  #: assumed seconds per dispatched operator on the GPU (eager launch overhead)
CPU_FLOPS = 50e9  #: assumed FLOP/s of one CPU core (only when no bench row of the family)
BENCH = REPO_ROOT / "results" / "bench" / "train.csv"
DEVICE_MIB = 64  #: what one device call carries: the working tree plus carried paths
DATA_MIB = 50  #: the most data the brief allows to carry
#: The files of ``results/`` a GPU window reads on the device (:func:`slim_tree` keeps them).
DEVICE_RESULTS = ("queue.csv",)


def queue_path() -> Path:
    return results_root() / "queue.csv"


def train_name(run: experiments.Run) -> str:
    """The recipe name ``reprolib train`` takes (``red_denoise_sigma50``)."""
    return run.recipe if run.sigma is None else f"{run.recipe}_sigma{run.sigma}"


def training_key(recipe: recipes.Recipe) -> str:
    """What the trained weights depend on (two runs with the same key train the same model)."""
    return json.dumps(recipes.training_fields(recipe), sort_keys=True)


# ----------------------------------------------------------------------------------- costs
def _arch(recipe: recipes.Recipe) -> str:
    keys = ("model", "model_kwargs", "patch", "batch", "channel", "loss")
    return json.dumps({k: getattr(recipe, k) for k in keys}, sort_keys=True, default=str)


_COUNTS: dict[str, tuple[float, int, int]] = {}


def _cache_file() -> Path:
    """Counts are slow on the meta device (~1-3 s a model): kept in the user cache."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "reprolib" / "gpu_queue_counts.json"


def _count(recipe: recipes.Recipe) -> tuple[float, int, int]:
    """(FLOPs, dispatched operators, parameters) of one training step's forward + backward,
    counted on the meta device (shapes only; nothing is computed)."""
    import torch

    key = f"{torch.__version__} {_arch(recipe)}"
    if not _COUNTS and _cache_file().is_file():
        try:
            _COUNTS.update({k: tuple(v) for k, v in json.loads(_cache_file().read_text()).items()})
        except (OSError, ValueError):
            pass
    if key in _COUNTS:
        return _COUNTS[key]
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    from reprolib.train import LossModule, build_model

    class Ops(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.n += 1
            return func(*args, **(kwargs or {}))

    with torch.device("meta"):
        model = build_model(recipe)
        step = LossModule(model, recipe.loss)
        shape = (recipe.batch, recipe.in_channels, recipe.patch, recipe.patch)
        x, y = torch.rand(shape), torch.rand(shape)
    ops = Ops()
    with FlopCounterMode(display=False) as flops, ops:
        step(x, y).backward()
    params = sum(p.numel() for p in model.parameters())
    _COUNTS[key] = (float(flops.get_total_flops()), ops.n, int(params))
    try:
        _cache_file().parent.mkdir(parents=True, exist_ok=True)
        _cache_file().write_text(json.dumps(_COUNTS))
    except OSError:
        pass
    return _COUNTS[key]


def _bench_rows() -> list[dict[str, Any]]:
    if not BENCH.is_file():
        return []
    rows = []
    for row in pd.read_csv(BENCH).to_dict("records"):
        try:
            r = recipes.get_recipe(row["recipe"], budget=row["budget"])
        except recipes.RecipeError:
            continue
        sec = row["cpu_s_per_step"] if row["device"] == "cpu" else row["batch"] / row[
            "patches_per_s"]  # fmt: skip
        basis = f"bench({row['recipe']}@{row['budget']})"
        rows.append({**row, "family": r.family, "arch": _arch(r), "recipe_obj": r,
                     "s_per_step": float(sec), "basis": basis})  # fmt: skip
    return rows


def _measured_rows() -> list[dict[str, Any]]:
    """Finished one-thread CPU trainings under the results root, as bench rows: wall seconds
    per iteration (validation, checkpoints and the load of a second run beside it included:
    what a run costs here as runs are run here), the median over the runs of one
    configuration. Measured runs beat ``results/bench/train.csv``, which timed bare steps."""
    root = claims.results_root()
    by_arch: dict[str, list[tuple[float, recipes.Recipe, dict]]] = {}
    for path in sorted(root.rglob("train_summary.json")):
        s = json.loads(path.read_text())
        if (s.get("status"), s.get("device"), s.get("threads")) != ("finished", "cpu", 1):
            continue
        try:
            r = recipes.recipe_from_dict(s["recipe_fields"])
        except (KeyError, TypeError, ValueError, recipes.RecipeError):
            continue
        by_arch.setdefault(_arch(r), []).append((s["wall_s"] / s["iterations"], r, s))
    rows = []
    for arch, found in by_arch.items():
        found.sort(key=lambda x: x[0])
        sec, r, s = found[len(found) // 2]
        rows.append({"recipe": s["recipe"], "budget": s["budget"], "device": "cpu",
                     "family": r.family, "arch": arch, "recipe_obj": r, "s_per_step": sec,
                     "basis": f"measured({len(found)} run{'s' * (len(found) > 1)} of "
                              f"{s['recipe']}@{s['budget']})"})  # fmt: skip
    return rows


def _per_step(recipe: recipes.Recipe, device: str, bench: list[dict]) -> tuple[float, str]:
    """Seconds per training step on ``device`` ("cpu": one core; "cuda") and its basis
    (measured rows, :func:`_measured_rows`, before bench rows of the same configuration)."""
    flops, ops, _ = _count(recipe)
    same = [b for b in bench if b["device"] == device and b["family"] == recipe.family]
    exact = [b for b in same if b["arch"] == _arch(recipe)]
    if exact:
        return exact[0]["s_per_step"], exact[0]["basis"]
    if same:  # the nearest configuration of the family, scaled by FLOPs
        ref = min(same, key=lambda b: abs(math.log(flops / _count(b["recipe_obj"])[0])))
        ratio = flops / _count(ref["recipe_obj"])[0]
        return ref["s_per_step"] * ratio, f"{ref['basis']}*flops"
    if device == "cpu":
        return flops / CPU_FLOPS, f"flops@{CPU_FLOPS / 1e9:g}GFLOP/s"
    return max(flops / GPU_FLOPS, ops * LAUNCH_S), (
        f"flops@{GPU_FLOPS / 1e12:g}TFLOP/s|{LAUNCH_S * 1e6:g}us/op"
    )


def estimate(recipe: recipes.Recipe, bench: list[dict] | None = None) -> dict[str, Any]:
    """``est_gpu_s``, ``est_cpu_h``, ``cost_basis`` and ``ckpt_mib`` of one training run."""
    bench = _measured_rows() + _bench_rows() if bench is None else bench
    gpu, gpu_basis = _per_step(recipe, "cuda", bench)
    cpu, cpu_basis = _per_step(recipe, "cpu", bench)
    params = _count(recipe)[2]
    states = 2 if recipe.optimizer == "adam" else int(recipe.momentum > 0)
    return {
        "est_gpu_s": round(recipe.iterations * gpu),
        "est_cpu_h": round(recipe.iterations * cpu / 3600, 2),
        "cost_basis": f"gpu={gpu_basis}; cpu={cpu_basis}",
        "ckpt_mib": round(params * 4 * (1 + states) / 2**20, 2),
    }


# ----------------------------------------------------------------------------------- queue
def too_few_seeds_only(runs: list[str], facts: dict[str, stats.RunFacts]) -> bool:
    """Whether a finding over ``runs`` is inconclusive only for lack of seeds: every run scored,
    learned and converged, the budget keeps their relative sizes (:func:`reprolib.stats.
    size_drift`), and some run has fewer than ``MIN_SEEDS`` seeds."""
    if not runs or any(r not in facts for r in runs):
        return False
    f = [facts[r] for r in runs]
    return (
        all(x.gain_db >= stats.MIN_GAIN_DB and x.converged for x in f)
        and not stats.size_drift(runs, facts)
        and min(x.seeds for x in f) < stats.MIN_SEEDS
    )


def finding_runs(exp: experiments.Experiment, check: dict[str, Any]) -> list[str]:
    if check["kind"] == "peak":
        return [check["run"], *(r.name for r in exp.runs if r.name != check["run"])]
    return list(check["runs"])


def _stored_summary(exp: experiments.Experiment, budget: str) -> pd.DataFrame:
    path = exp.folder / "summary.csv"
    if not path.is_file():
        return pd.DataFrame()
    m = pd.read_csv(path)
    return m[m["budget"].astype(str) == budget] if "budget" in m else m


Facts = dict[tuple[str, str], dict[str, stats.RunFacts]]


def _facts(eid: str, budget: str, cache: Facts) -> dict[str, stats.RunFacts]:
    """:func:`reprolib.experiments.run_facts` of an entry at a budget, read once into ``cache``
    (they read every run's log; ``main`` passes one cache to the queue and the verdict plan)."""
    if (eid, budget) not in cache:
        exp = experiments.get(eid)
        cache[eid, budget] = experiments.run_facts(exp, budget, _stored_summary(exp, budget))
    return cache[eid, budget]


def deciding_seeds(budgets: list[str], facts: Facts | None = None) -> list[dict[str, Any]]:
    """Candidates of tier ``seeds``: (experiment, run, seed, budget) with the finding."""
    out, facts = [], {} if facts is None else facts
    for eid, exp in experiments.load().items():
        for budget in budgets:
            if not exp.checks:
                continue
            for check in exp.checks:
                compared = finding_runs(exp, check)
                if not too_few_seeds_only(compared, _facts(eid, budget, facts)):
                    continue
                for seed in range(stats.MIN_SEEDS):
                    for name in compared:
                        why = (f"seed {seed} for {check['finding']} (inconclusive only for too "
                               f"few seeds)")  # fmt: skip
                        out.append(dict(tier="seeds", experiment=eid, run=name, seed=seed,
                                        budget=budget, why=why))  # fmt: skip
    return out


def _per_pixel_flops(recipe: recipes.Recipe) -> float:
    return _count(recipe)[0] / (recipe.batch * recipe.patch**2)


def eval_cpu_h(
    exp: experiments.Experiment,
    run: experiments.Run,
    budget: str,
    scored: pd.DataFrame | None = None,
) -> tuple[float, str]:
    """(hours of one core, basis) to score one more seed of ``run`` on the entry's grid: the
    summed per-image ``seconds`` of a seed already scored there (``measured``: same model, same
    grid); else those of another scored run of the entry scaled by the ratio of FLOPs per pixel
    (``~``, an estimate); else NaN. ``scored`` (:func:`reprolib.runs.scored_rows`): the images
    a stopped evaluation of this seed already scored, whose seconds are left out (image by
    image: Urban100's images take ten times Set5's). The queue's costs leave evaluation out;
    for a seed whose weights another entry trained (MemNet's Table 4 reuses Table 1's) it is
    the whole cost."""
    keys = ["dataset", "setting", "image"]

    def measured(r: experiments.Run) -> float | None:
        for seed in exp.seeds_on_disk(r, budget):
            path = exp.run_dir(r, budget, seed) / runs.PER_IMAGE
            if not path.is_file():
                continue
            per_image = pd.read_csv(path, usecols=lambda c: c in [*keys, "seconds"],
                                    dtype={k: str for k in keys})  # fmt: skip
            if "seconds" not in per_image:
                continue
            if scored is not None and not scored.empty and set(keys) <= set(per_image):
                done = per_image[keys].merge(scored.drop_duplicates(), how="left", indicator=True)
                per_image = per_image[(done["_merge"] == "left_only").to_numpy()]
            return float(per_image["seconds"].sum()) / 3600
        return None

    own = measured(run)
    if own is not None:
        return round(own, 2), "measured"
    family = exp.recipe_for(run, budget).family
    others = sorted(exp.runs, key=lambda r: exp.recipe_for(r, budget).family != family)
    for other in others:  # a run of the same model family first
        hours = measured(other) if other.name != run.name else None
        if hours is None:
            continue
        try:
            mine, theirs = exp.recipe_for(run, budget), exp.recipe_for(other, budget)
        except recipes.RecipeError:
            continue
        views = (8 if mine.test_ensemble else 1) / (8 if theirs.test_ensemble else 1)  # x8 views
        ratio = views * _per_pixel_flops(mine) / _per_pixel_flops(theirs)
        return round(hours * ratio, 2), f"~{other.name}*flops"
    return float("nan"), "unknown"


def _training_left(exp: experiments.Experiment, run: experiments.Run, budget: str, seed: int,
                   bench: list[dict]) -> tuple[float, str]:  # fmt: skip
    """(hours of one core, what) still to train for one seed: 0 where its folder or another
    entry holds the finished training, the unlogged share of the estimate where a checkpoint
    is there to resume."""
    recipe = exp.recipe_for(run, budget, seed)
    d = exp.run_dir(run, budget, seed)
    weights = trained_weights(recipe, d)
    if weights is not None:
        return 0.0, "evaluate" if weights == d else "evaluate (weights reused)"
    hours = estimate(recipe, bench)["est_cpu_h"]
    done = runs.last_logged(d).get("iteration", 0) if (d / runs.CHECKPOINT).exists() else 0
    if done:
        left = max(0.0, 1 - done / recipe.iterations)
        return round(hours * left, 2), f"resume at {int(done)}/{recipe.iterations} + evaluate"
    return hours, "train + evaluate"


PLAN_COLUMNS = ["finding", "budget", "experiments", "runs", "blocked_by", "untested",
                "missing", "train_cpu_h", "eval_cpu_h", "total_cpu_h", "items"]  # fmt: skip


def verdict_plan(budgets: list[str] | None = None, facts: Facts | None = None) -> pd.DataFrame:
    """What each finding still needs before the verdict rule can decide it, on one core: every
    missing seed ``0..MIN_SEEDS-1`` of each trained run its checks compare (all its checks, in
    every entry: the finding's verdict is the weakest of them), with its remaining training
    (:func:`_training_left`; once per distinct training) and its evaluation
    (:func:`eval_cpu_h`; the unscored share where a stopped evaluation left images scored).
    ``blocked_by`` names the scored runs that did not converge or learned nothing, and the
    compared runs whose relative sizes the budget does not keep (from their recipes, scored or
    not: :func:`reprolib.stats.size_drift`): more seeds cannot make the finding conclusive at
    this budget (another budget can);
    ``untested`` names the compared runs not scored yet, with how often their recipe converged
    at this budget (the risk that they will block it). Findings with every seed scored are
    left out. The figure observations judged per seed count the models they are read from
    (:func:`reprolib.scoreboard.observations`). Unblocked findings first, cheapest first. The
    queue orders trainings; this table also counts the evaluations a verdict waits for, which
    on a large test set (Urban100) can cost more than the training."""
    budgets = [experiments.check_budget(b) for b in (budgets or ["cpu"])]
    bench, rows, facts = _measured_rows() + _bench_rows(), [], {} if facts is None else facts
    registry = experiments.load()
    findings: dict[str, list[tuple[str, str]]] = {}  # finding -> (entry, run) its checks compare
    for eid, exp in registry.items():
        names = {r.name for r in exp.runs}
        for check in exp.checks:
            pairs = findings.setdefault(check["finding"], [])
            pairs += [(eid, n) for n in finding_runs(exp, check)
                      if n in names and (eid, n) not in pairs]  # fmt: skip
    for o in scoreboard.observations().to_dict("records"):  # read off figures, judged per seed
        for eid, _, n in (m.partition(":") for m in o["models"].split()):
            pairs = findings.setdefault(o["finding"], [])
            if eid in registry and (eid, n) not in pairs:
                pairs.append((eid, n))
    for budget in budgets:
        plateaus = experiments.convergence_by_recipe(budget).set_index("recipe")
        for finding, pairs in findings.items():
            blocked, untested, sizes = [], [], {}
            for eid, n in pairs:
                run = next(r for r in registry[eid].runs if r.name == n)
                size = experiments.run_sizes(registry[eid], run, budget)
                sizes[n] = stats.RunFacts(seeds=0, converged=True, change_db=0.0, gain_db=0.0,
                                          **size)  # fmt: skip
                f = _facts(eid, budget, facts).get(n)
                if f is not None:
                    blocked += [f"{n} not converged"] * (not f.converged)
                    blocked += [f"{n} learned nothing"] * (f.gain_db < stats.MIN_GAIN_DB)
                    continue
                name = train_name(run)
                if name in plateaus.index:
                    done, total = plateaus.at[name, "converged"], plateaus.at[name, "trainings"]
                    untested.append(f"{n} (recipe converged {int(done)}/{int(total)})")
                else:
                    untested.append(f"{n} (recipe not trained yet)")
            drift = stats.size_drift(list(sizes), sizes)
            if drift:
                blocked.insert(0, f"relative sizes not kept ({' and '.join(drift)})")
            items, train, ev, trained, scoring = [], 0.0, 0.0, {}, {}
            for seed in range(stats.MIN_SEEDS):
                for eid, n in pairs:
                    exp = registry[eid]
                    run = next(r for r in exp.runs if r.name == n)
                    if _state(exp, run, budget, seed) == "current":
                        continue
                    recipe = exp.recipe_for(run, budget, seed)
                    key = training_key(recipe)
                    if key in trained:  # NLRN-MV scores NLRN's weights
                        t, what = 0.0, f"evaluate (weights of {trained[key]})"
                    else:
                        t, what = _training_left(exp, run, budget, seed, bench)
                        trained[key] = f"{n} seed {seed}"
                    scored = runs.scored_rows(exp.run_dir(run, budget, seed))
                    if len(scored):  # a stopped evaluation resumes at its first unscored image
                        e, basis = eval_cpu_h(exp, run, budget, scored)
                        what += f", {len(scored)}/{evaluate.grid_images(recipe)} images scored"
                    else:  # the same for every unstarted seed of the run
                        if (eid, n) not in scoring:
                            scoring[eid, n] = eval_cpu_h(exp, run, budget)
                        e, basis = scoring[eid, n]
                    train, ev = train + t, ev + e
                    cost = f"{t:g} h + {e:g} h" + ("" if basis == "measured" else f" {basis}")
                    items.append(f"{eid} {n} seed {seed}: {what} ({cost})")
            if items:
                rows.append({
                    "finding": finding, "budget": budget,
                    "experiments": " ".join(dict.fromkeys(e for e, _ in pairs)),
                    "runs": " ".join(n for _, n in pairs), "blocked_by": "; ".join(blocked),
                    "untested": "; ".join(untested), "missing": len(items),
                    "train_cpu_h": round(train, 2), "eval_cpu_h": round(ev, 2),
                    "total_cpu_h": round(train + ev, 2), "items": "; ".join(items),
                })  # fmt: skip
    out = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    out["_blocked"] = out["blocked_by"] != ""
    out = out.sort_values(["budget", "_blocked", "total_cpu_h"], kind="stable",
                          na_position="last", ignore_index=True)  # fmt: skip
    return out.drop(columns="_blocked")


def verdict_plan_path() -> Path:
    return results_root() / "verdict_plan.csv"


def _state(exp: experiments.Experiment, run: experiments.Run, budget: str, seed: int) -> str:
    d = exp.run_dir(run, budget, seed)
    if experiments.is_current(exp, run, budget, seed):
        return "current"
    if (d / "metrics.csv").exists():
        return "stale"
    return "partial" if d.is_dir() and any(d.iterdir()) else "not run"


def _finished_recipe(d: Path) -> recipes.Recipe | None:
    path = d / "train_summary.json"
    if not path.is_file():
        return None
    try:
        return recipes.recipe_from_dict(json.loads(path.read_text())["recipe_fields"])
    except (KeyError, TypeError, ValueError):
        return None


def trained_weights(recipe: recipes.Recipe, d: Path) -> Path | None:
    """Where finished weights of ``recipe``'s training are: ``d`` itself (only its scoring is
    missing), another run folder (``reprolib run`` reuses them), or None (it must train)."""
    finished = _finished_recipe(d)
    if finished is not None and not recipes.recipe_diff(finished, recipe, training_only=True):
        return d
    return experiments.find_trained(recipe, exclude=d)


def _last_write(d: Path) -> float:
    times = [p.stat().st_mtime for p in d.rglob("*") if p.is_file()] if d.is_dir() else []
    return max(times, default=0.0)


def build_queue(
    budgets: list[str] | None = None,
    *,
    active_minutes: float = 60.0,
    costs: bool = True,
    notes: list[str] | None = None,
    facts: Facts | None = None,
) -> pd.DataFrame:
    """The queue (:data:`COLUMNS`), priority 1 first. ``notes`` collects why rows were left
    out; ``costs=False`` leaves the estimates empty (fast); ``facts``: a cache of the runs'
    facts to share with :func:`verdict_plan`."""
    budgets = [experiments.check_budget(b) for b in (budgets or ["cpu", "gpu"])]
    notes = [] if notes is None else notes
    registry = experiments.load()
    cands = deciding_seeds(budgets, facts)
    if "gpu" in budgets:
        cands += [dict(tier="headline", experiment=e, run=r, seed=0, budget="gpu",
                       why="headline table, full-size model") for e, r in HEADLINE]  # fmt: skip
    status = experiments.run_status(budgets)
    status = status[status["state"] != "current"].copy()
    status["order"] = status["budget"].map(budgets.index)
    for row in status.sort_values("order", kind="stable").itertuples():
        cands.append(dict(tier="rest", experiment=row.experiment, run=row.run, seed=int(row.seed),
                          budget=row.budget, why=""))  # fmt: skip
    bench = _measured_rows() + _bench_rows() if costs else []
    rows, seen, done = [], {}, set()
    for c in cands:
        key = (c["experiment"], c["run"], c["seed"], c["budget"])
        if key in done:
            continue
        done.add(key)
        exp = registry[c["experiment"]]
        run = next(r for r in exp.runs if r.name == c["run"])
        where = f"{c['experiment']} {c['run']} seed {c['seed']} @{c['budget']}"
        state = _state(exp, run, c["budget"], c["seed"])
        if state == "current":
            continue
        try:
            recipe = exp.recipe_for(run, c["budget"], c["seed"])
            cost = estimate(recipe, bench) if costs else {}
        except recipes.RecipeError as err:
            notes.append(f"{where}: cannot be built ({str(err).splitlines()[0]})")
            continue
        d = exp.run_dir(run, c["budget"], c["seed"])
        tkey = training_key(recipe)
        if tkey in seen:
            notes.append(f"{where}: same training as queued {seen[tkey]}")
            continue
        weights = trained_weights(recipe, d)
        if weights == d:
            notes.append(f"{where}: trained here already, needs evaluation only ({state})")
            continue
        if weights is not None:
            notes.append(f"{where}: weights at {weights.relative_to(results_root())}")
            continue
        finished = _finished_recipe(d)
        age = (time.time() - _last_write(d)) / 60
        if active_minutes and age < active_minutes:
            notes.append(f"{where}: written {age:.0f} min ago (training here now?)")
            continue
        seen[tkey] = where
        reason = c["why"] or state
        if finished is not None:
            reason += "; folder holds a finished run of another recipe (replaced)"
        elif (d / "checkpoint.pt").exists():
            reason += "; partial here (its checkpoint does not travel: restarts)"
        rows.append({
            "tier": c["tier"], "experiment": c["experiment"], "run": c["run"],
            "seed": c["seed"], "budget": c["budget"], "recipe": train_name(run),
            **cost, "reason": reason,
        })  # fmt: skip
    out = _order_rest(pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "priority"]), budgets)
    out.insert(0, "priority", range(1, len(out) + 1))
    return out


def _order_rest(queue: pd.DataFrame, budgets: list[str]) -> pd.DataFrame:
    """The ``rest`` rows of each budget ordered as the module docstring says (plateau share,
    then cost, then registry order: a stable sort); ``seeds`` and ``headline`` rows keep their
    places ahead of them. Each ``rest`` row's reason gains its recipe's share."""
    rest = queue["tier"] == "rest"
    head, tail = queue[~rest], queue[rest].copy()
    share, text = [], []
    plateaus = {b: experiments.convergence_by_recipe(b).set_index("recipe") for b in budgets}
    for row in tail.itertuples():
        table = plateaus[row.budget]
        if row.recipe in table.index:
            done, n = int(table.at[row.recipe, "converged"]), int(table.at[row.recipe, "trainings"])
            share.append((done + 0.5) / (n + 1))
            text.append(f"recipe converged in {done}/{n} trainings at {row.budget}")
        else:
            share.append(0.5)
            text.append(f"recipe not yet trained at {row.budget}")
    tail["reason"] = [f"{r}; {t}" for r, t in zip(tail["reason"], text, strict=True)]
    cost = tail["est_cpu_h"].where(tail["budget"] == "cpu", tail["est_gpu_s"])
    tail = tail.assign(
        _budget=tail["budget"].map(budgets.index), _share=[-x for x in share],
        _cost=pd.to_numeric(cost, errors="coerce").fillna(0.0),
    ).sort_values(["_budget", "_share", "_cost"], kind="stable")  # fmt: skip
    return pd.concat([head, tail.drop(columns=["_budget", "_share", "_cost"])], ignore_index=True)


def write_queue(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------------- data
def needed_sets(row: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(training + validation parts, test parts) of a queue row, as MANIFEST set names."""
    exp = experiments.get(row["experiment"])
    run = next(r for r in exp.runs if r.name == row["run"])
    r = exp.recipe_for(run, row["budget"], int(row["seed"]))

    def parts(names: list[str]) -> list[str]:
        return list(dict.fromkeys(p for n in names for p in data.SPLITS[n].parts))

    need = parts([r.train_set, r.val_set])
    return need, [p for p in parts(list(r.test_sets)) if p not in need]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def _stays(name: str) -> bool:
    """Whether a checkout path travels in a slim tree: all but ``results/`` beyond the queue."""
    parts = name.split("/", 1)
    return parts[0] != "results" or (len(parts) == 2 and parts[1] in DEVICE_RESULTS)


def travelling_mib(
    exclude: Path | None = None, slim: bool = False, root: Path = REPO_ROOT
) -> float:
    """Size of what a device call carries besides the carried paths: tracked and
    untracked-not-ignored files of the checkout (``slim``: as :func:`slim_tree` leaves it)."""
    try:
        out = _git(root, "ls-files", "-z", "-co", "--exclude-standard")
    except (OSError, subprocess.CalledProcessError):
        return 0.0
    total = 0
    for name in filter(None, out.split("\0")):
        p = root / name
        if slim and not _stays(name):
            continue
        if p.is_file() and not (exclude and p.resolve().is_relative_to(exclude.resolve())):
            total += p.stat().st_size
    return total / 2**20


def stash_dir(root: Path = REPO_ROOT) -> Path:
    """Where :func:`slim_tree` keeps ``results/`` during a device call: inside the git
    directory, which is not part of the working tree that travels."""
    return Path(_git(root, "rev-parse", "--absolute-git-dir").strip()) / "device_stash"


def slim_tree(root: Path = REPO_ROOT) -> float:
    """Set ``results/`` aside for a device call (all of it but :data:`DEVICE_RESULTS`): moved
    into :func:`stash_dir` and removed from the index, so that neither a listing of the
    tracked files nor of the files on disk finds it. Returns the MiB that now travel.

    Refuses while ``results/`` has uncommitted changes (a run writing, results not committed):
    what is set aside must be exactly the last commit, so that :func:`restore_tree` can put the
    index back from it and nothing written during the call is mixed in."""
    results, stash = root / "results", stash_dir(root)
    if stash.exists():
        raise SystemExit(f"results/ is already set aside in {stash}: --restore first")
    dirty = _git(root, "status", "--porcelain", "--untracked-files=all", "--", "results")
    if dirty.strip():
        raise SystemExit("results/ has uncommitted changes; commit them (and stop any run that "
                         f"writes there) before a device call:\n{dirty}")  # fmt: skip
    stash.mkdir(parents=True)
    results.rename(stash / "results")
    results.mkdir()
    for name in DEVICE_RESULTS:
        if (stash / "results" / name).is_file():
            shutil.copy2(stash / "results" / name, results / name)
    keep = [f":(exclude)results/{n}" for n in DEVICE_RESULTS]
    _git(root, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", "results", *keep)
    return travelling_mib(root=root)


def restore_tree(root: Path = REPO_ROOT) -> None:
    """Undo :func:`slim_tree`: ``results/`` back from :func:`stash_dir`, its index entries
    back from the last commit. Refuses if ``results/`` gained files meanwhile (a run started in
    the slim tree), so that they are looked at rather than overwritten."""
    results, stash = root / "results", stash_dir(root)
    if not (stash / "results").is_dir():
        raise SystemExit(f"nothing to restore: {stash / 'results'} does not exist")
    extra = sorted(p.relative_to(root).as_posix() for p in results.rglob("*")
                   if p.is_file() and not _stays(p.relative_to(root).as_posix()))  # fmt: skip
    if extra:
        raise SystemExit("results/ gained files while set aside; move them out first: "
                         + ", ".join(extra[:10]))  # fmt: skip
    if results.exists():
        shutil.rmtree(results)
    (stash / "results").rename(results)
    _git(root, "reset", "-q", "--", "results")
    shutil.rmtree(stash)


def pack_data(dest: Path, queue: pd.DataFrame, max_mib: float | None = None) -> dict[str, Any]:
    """Copy the sets the queue needs (priority order, within ``max_mib``) into ``dest``."""
    src = data.data_root()
    manifest = json.loads((src / "MANIFEST.json").read_text())
    entries = {d["name"]: d for d in manifest["datasets"]}
    tree = travelling_mib(exclude=dest, slim=True)
    if max_mib is None:
        max_mib = min(DATA_MIB, DEVICE_MIB - 1 - tree)
    limit = max_mib * 2**20

    def size(names: list[str]) -> int:
        return sum(sum(f["bytes"] for f in entries[n]["files"]) for n in names)

    chosen: list[str] = []
    covered, left, tests = [], [], []
    for row in queue.to_dict("records"):
        need, test = needed_sets(row)
        new = [n for n in need if n not in chosen]
        label = f"{row['priority']}:{row['experiment']} {row['run']} seed {row['seed']}"
        if size(chosen) + size(new) <= limit:
            chosen += new
            covered.append(label)
            tests += [t for t in test if t not in tests]
        else:
            left.append(label)
    dropped = []
    for t in tests:  # test sets only while they fit (the evaluation can run here on CPU)
        if t in chosen:
            continue
        if size(chosen) + size([t]) <= limit:
            chosen.append(t)
        else:
            dropped.append(t)
    if dest.exists():
        old = dest / "MANIFEST.json"
        if any(dest.iterdir()) and not (old.is_file() and "packed_by" in json.loads(
                old.read_text())):  # fmt: skip
            raise SystemExit(f"{dest} is not empty and not a folder this script packed")
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in chosen:
        e = entries[name]
        (dest / e["folder"]).mkdir(parents=True, exist_ok=True)
        for f in e["files"]:
            shutil.copy2(src / e["folder"] / f["file"], dest / e["folder"] / f["file"])
    packed = {
        **{k: v for k, v in manifest.items() if k not in ("datasets", "datasets_order")},
        "packed_by": "scripts/gpu_queue.py --pack-data (only the sets the queued runs need)",
        "total_bytes": size(chosen), "datasets_order": chosen,
        "datasets": [entries[n] for n in chosen],
    }  # fmt: skip
    (dest / "MANIFEST.json").write_text(json.dumps(packed, indent=1))
    return {"sets": chosen, "mib": size(chosen) / 2**20, "limit_mib": max_mib, "tree_mib": tree,
            "rows_covered": covered, "rows_left": left, "tests_dropped": dropped}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budgets", nargs="+", default=["cpu", "gpu"], help="default: cpu gpu")
    p.add_argument("--out", type=Path, help="queue file (default <results root>/queue.csv)")
    p.add_argument(
        "--active-minutes",
        type=float,
        default=60.0,
        help="leave out run folders written to this recently (0: keep them)",
    )
    p.add_argument(
        "--pack-data",
        type=Path,
        metavar="DIR",
        help="copy the sets of the queue (--out, made if missing) into DIR",
    )
    p.add_argument("--max-mib", type=float, help="data size limit of --pack-data")
    p.add_argument("--show", type=int, default=10, help="rows to print")
    p.add_argument("--slim", action="store_true",
                   help="set results/ (but the queue) aside for a device call")  # fmt: skip
    p.add_argument("--restore", action="store_true", help="put results/ back after the call")
    args = p.parse_args(argv)
    if args.restore:
        restore_tree()
        print(f"results/ restored; the working tree is {travelling_mib():.1f} MiB")
        return 0
    try:
        set_aside = (stash_dir() / "results").exists()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: nothing set aside
        set_aside = False
    if set_aside:
        raise SystemExit("results/ is set aside for a device call: --restore first")
    if args.slim:
        print(
            f"results/ set aside in {stash_dir()}; what a device call carries besides its "
            f"carried paths: {slim_tree():.1f} MiB of {DEVICE_MIB}. After the call: --restore"
        )
        return 0
    out = args.out or queue_path()
    if args.pack_data is not None:
        queue = pd.read_csv(out) if out.is_file() else None
        if queue is None:
            queue = build_queue(args.budgets, active_minutes=args.active_minutes)
            write_queue(queue, out)
        info = pack_data(args.pack_data, queue, args.max_mib)
        print(f"{args.pack_data}: {', '.join(info['sets'])}")
        tree = f"{info['tree_mib']:.1f} MiB of {DEVICE_MIB}"
        print(f"total {info['mib']:.1f} MiB (limit {info['limit_mib']:.1f} MiB; the working "
              f"tree that travels with it once --slim: {tree})")  # fmt: skip
        print(f"queue rows with their training data: {len(info['rows_covered'])} of "
              f"{len(queue)}" + (f"; test sets left out: {', '.join(info['tests_dropped'])}"
                                 if info["tests_dropped"] else ""))  # fmt: skip
        return 0
    notes: list[str] = []
    facts: Facts = {}
    queue = build_queue(args.budgets, active_minutes=args.active_minutes, notes=notes,
                        facts=facts)  # fmt: skip
    write_queue(queue, out)
    plan = verdict_plan([b for b in args.budgets if b == "cpu"] or args.budgets, facts)
    runs.write_csv(verdict_plan_path(), plan)
    for n in notes:
        print(f"left out: {n}", file=sys.stderr, flush=True)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(queue.drop(columns=["cost_basis"]).head(args.show).to_string(index=False))
    gpu_h = queue["est_gpu_s"].sum() / 3600 if len(queue) else 0.0
    print(f"{out}: {len(queue)} runs, {gpu_h:.1f} GPU hours estimated "
          f"({', '.join(f'{t}: {(queue.tier == t).sum()}' for t in TIERS)})")  # fmt: skip
    free = plan[plan["blocked_by"] == ""]
    print(f"{verdict_plan_path()}: {len(plan)} findings lack seeds or runs; {len(free)} of them "
          "are not blocked by a run that failed to converge or learn (one core):")  # fmt: skip
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        print(free[["finding", "runs", "missing", "train_cpu_h", "eval_cpu_h", "total_cpu_h",
                    "untested"]].to_string(index=False))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
