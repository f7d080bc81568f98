"""The experiment registry: one entry per table or figure of the four papers (``experiments.yaml``).

An entry names its training runs (a recipe plus overrides each, executed through
``notebooks/train.ipynb``), how they are evaluated, which paper table its numbers are compared
with, and which of the papers' stated findings it checks (as data: an expected ordering, a trend,
a peak). :func:`run` executes an entry at a budget through Papermill and skips runs whose results
are current; :func:`report` joins the runs' metrics with the claims and writes, under
``results/<paper>/<experiment>/``:

* ``summary.csv`` - the shared comparison shape plus ``budget, iterations, wall_s, hardware``;
* ``findings.csv`` - one verdict per checked finding (``claim_id, holds, budget, evidence``);
* ``<budget>/<run>/`` - each run's executed notebook, training log, metrics and checkpoint.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from reprolib import claims, recipes, runs, stats
from reprolib.provenance import REPO_ROOT
from reprolib.recipes import BUDGETS

REGISTRY = REPO_ROOT / "experiments.yaml"
TRAIN_NOTEBOOK = "notebooks/train.ipynb"
SMOKE_EVAL_LIMIT = 2  # smoke runs score the first 2 images of each test set (CI)
REPORT_NOTEBOOK = "notebooks/experiment_report.ipynb"
#: A run whose mean PSNR is less than this above its degraded input's learned nothing.
MIN_GAIN_DB = stats.MIN_GAIN_DB


@dataclass(frozen=True)
class Run:
    """One training run of an experiment: ``recipe`` with ``overrides`` (model kwargs etc.).

    ``method`` is the label of the paper's table this run is compared with (defaults to the
    run's name; several runs share one label when the paper trains one model per level, e.g.
    NLRN at each sigma). ``sigma`` picks the level of per-level recipes; ``eval`` overrides the
    experiment's evaluation for this run.
    """

    name: str
    recipe: str
    overrides: dict[str, Any] = field(default_factory=dict)
    method: str = ""
    sigma: int | None = None
    eval: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.method or self.name


@dataclass(frozen=True)
class Experiment:
    id: str
    title: str
    paper: str
    runs: tuple[Run, ...]
    eval: dict[str, Any]
    tables: tuple[str, ...] = ()
    checks: tuple[dict[str, Any], ...] = ()
    x: dict[str, float] = field(default_factory=dict)
    note: str = ""
    analyses: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0,)
    #: Findings of this entry's tables or figures that no check here can judge -> why (a
    #: compared method is a cited result, the claim is visual, ...): the scoreboard says so.
    unchecked: dict[str, str] = field(default_factory=dict)
    #: Methods of the paper's table measured here without training (``results/protocol``,
    #: e.g. BM3D) that this entry's checks may name beside its runs: :func:`baseline_scores`.
    baselines: tuple[str, ...] = ()

    @property
    def folder(self) -> Path:
        """``results/<paper>/<experiment>`` under the results root (``REPROLIB_RESULTS``)."""
        return claims.results_root() / self.id

    def run_dir(self, run: Run, budget: str, seed: int = 0) -> Path:
        """``<budget>/<run>`` for seed 0 (every run trained before seeds existed), else
        ``<budget>/<run>__seed<k>``."""
        return self.folder / budget / seed_dir_name(run.name, seed)

    def seeds_on_disk(self, run: Run, budget: str) -> list[int]:
        """The seeds of ``run`` that have a run folder at ``budget`` (sorted)."""
        found = []
        for d in (self.folder / budget).glob(f"{run.name}*"):
            name, seed = runs.split_seed(d.name)
            if d.is_dir() and name == run.name:
                found.append(seed)
        return sorted(found)

    def spec_hash(self, run: Run, budget: str, seed: int = 0) -> str:
        """What makes a run's results current: the fully resolved recipe (every value of
        :mod:`reprolib.recipes` after budget and overrides, so editing a recipe re-runs the runs
        it feeds; its citation text excluded), the evaluation grid and the budget."""
        resolved = recipes.spec_fields(self.recipe_for(run, budget, seed))
        spec = {"recipe": resolved, "eval": self.eval_for(run), "b": budget}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def recipe_for(self, run: Run, budget: str, seed: int = 0) -> recipes.Recipe:
        """The recipe the run trains with at ``budget`` (overrides and test grid applied)."""
        return recipes.get_recipe(
            run.recipe, sigma=run.sigma, budget=budget, **self.overrides_for(run, seed)
        )

    def eval_for(self, run: Run) -> dict[str, Any]:
        """The evaluation grid of one run: the experiment's, updated by the run's own."""
        return {**self.eval, **run.eval}

    def overrides_for(self, run: Run, seed: int = 0) -> dict[str, Any]:
        """The run's recipe overrides, with the evaluation grid as the recipe's test grid.

        Seed ``k > 0`` adds ``k`` to the recipe's master seed (model init, patch order and
        training-noise draws change; the evaluation noise is keyed on each test image, so it
        stays the same for every seed)."""
        grid = self.eval_for(run)
        out = dict(run.overrides)
        if seed:
            base = out.get("seed", recipes.get_recipe(run.recipe, sigma=run.sigma).seed)
            out["seed"] = int(base) + int(seed)
        if "sets" in grid:
            out["test_sets"] = list(grid["sets"])
        if "settings" in grid:
            out["test_settings"] = list(grid["settings"])
        return out


seed_dir_name = runs.seed_dir_name


def load(path: Path = REGISTRY) -> dict[str, Experiment]:
    """Every experiment of the registry, by id (``<paper>/<table-or-figure>``)."""
    raw = yaml.safe_load(path.read_text())
    out = {}
    for eid, e in raw.items():
        runs = tuple(Run(name, **spec) for name, spec in e["runs"].items())
        out[eid] = Experiment(
            id=eid, title=e["title"], paper=e["paper"], runs=runs, eval=e.get("eval", {}),
            tables=tuple(e.get("tables", ())), checks=tuple(e.get("checks", ())),
            x=e.get("x", {}), note=e.get("note", ""), analyses=tuple(e.get("analyses", ())),
            seeds=tuple(int(k) for k in e.get("seeds", (0,))),
            unchecked=dict(e.get("unchecked", {})), baselines=tuple(e.get("baselines", ())),
        )  # fmt: skip
    return out


def checking_entries(registry: dict[str, Experiment]) -> dict[str, list[str]]:
    """Each finding id -> the ids of the registry entries whose checks judge it, in registry
    order (an entry named once)."""
    out: dict[str, list[str]] = {}
    for eid, exp in registry.items():
        for finding in dict.fromkeys(c.get("finding") for c in exp.checks):
            out.setdefault(finding, []).append(eid)
    return out


def unchecked_reasons(registry: dict[str, Experiment]) -> dict[str, str]:
    """Each finding some entry lists under ``unchecked`` -> why it cannot be checked here,
    naming the entry (``"<reason> (registry entry <id>)"``; several entries joined by ``; ``)."""
    out: dict[str, list[str]] = {}
    for eid, exp in registry.items():
        for finding, why in exp.unchecked.items():
            out.setdefault(finding, []).append(f"{why} (registry entry {eid})")
    return {finding: "; ".join(whys) for finding, whys in out.items()}


def get(eid: str) -> Experiment:
    registry = load()
    if eid not in registry:
        raise KeyError(f"unknown experiment {eid!r}; known: {', '.join(sorted(registry))}")
    return registry[eid]


def check_budget(budget: str) -> str:
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
    return budget


def is_current(exp: Experiment, run: Run, budget: str, seed: int = 0) -> bool:
    """A run is current when its metrics exist and were produced from the same spec."""
    d = exp.run_dir(run, budget, seed)
    stamp = d / runs.SPEC
    return (
        (d / runs.METRICS).exists()
        and stamp.exists()
        and (json.loads(stamp.read_text()).get("hash") == exp.spec_hash(run, budget, seed))
    )


#: The files of a finished training run that another entry can reuse (not its evaluation).
TRAINED_FILES = runs.TRAINED_FILES


def find_trained(recipe: recipes.Recipe, exclude: Path | None = None) -> Path | None:
    """A finished run folder, of any entry at the same budget, trained with the same recipe.

    Entries often share a run (NLRN at T=4 is both Table 2's NLRN and Fig. 6's T4): the weights
    depend only on the recipe (:data:`reprolib.recipes.EVALUATION_ONLY_FIELDS` aside) and its
    seed, so they are trained once.
    """
    for summary in sorted(claims.results_root().glob(f"*/*/{recipe.budget}/*/{runs.SUMMARY}")):
        folder = summary.parent
        if exclude is not None and folder.resolve() == Path(exclude).resolve():
            continue
        if trained_with(folder, recipe):
            return folder
    return None


def trained_with(folder: Path, recipe: recipes.Recipe) -> bool:
    """Whether ``folder`` holds a finished training of ``recipe`` (evaluation fields aside)."""
    info = _train_info(folder)
    if info.get("status") != "finished" or not (folder / runs.MODEL).exists():
        return False
    try:
        done = recipes.recipe_from_dict(info["recipe_fields"])
    except (KeyError, TypeError, recipes.RecipeError):
        return False
    return not recipes.recipe_diff(done, recipe, training_only=True)


def reuse_trained(donor: Path, target: Path) -> None:
    """Copy a finished run's weights, log and summary into ``target`` (noting where from)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in (*TRAINED_FILES, runs.METRICS, runs.PER_IMAGE, runs.SPEC):
        (target / name).unlink(missing_ok=True)
    for name in TRAINED_FILES:
        shutil.copy2(donor / name, target / name)
    rel = donor.relative_to(claims.results_root()) if donor.is_relative_to(
        claims.results_root()) else donor  # fmt: skip
    runs.write_text(target / runs.REUSED_FROM, f"{rel}\n")


def select_runs(exp: Experiment, only: Sequence[str] | None = None) -> tuple[Run, ...]:
    """The runs of ``exp`` named in ``only`` (all when None), in registry order."""
    if only is None:
        return exp.runs
    names = [r.name for r in exp.runs]
    unknown = [n for n in only if n not in names]
    if unknown:
        raise KeyError(f"{exp.id} has no run {', '.join(map(repr, unknown))}; its runs: "
                       f"{', '.join(names)}")  # fmt: skip
    return tuple(r for r in exp.runs if r.name in only)


def run(
    eid: str,
    budget: str,
    *,
    force: bool = False,
    device: str | None = None,
    threads: int | None = None,
    only: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    deadline: float | None = None,
) -> Path:
    """Train and evaluate every run of an experiment at ``budget``, then write its report.

    ``only`` names the runs to train (e.g. one column of a table); the report still covers the
    whole entry, and its findings stay inconclusive until every run they compare is measured.
    ``seeds`` (default: the entry's ``seeds`` in the registry, else seed 0) trains each
    selected run once per seed. ``deadline`` (a :func:`time.time` value) bounds the training:
    the run in progress then stops with a checkpoint (the next call resumes it) and runs not
    yet started are left for the next call - so a working session can end without losing a run.
    """
    from reprolib import runner

    exp, budget = get(eid), check_budget(budget)
    seeds = check_seeds(exp.seeds if seeds is None else seeds)
    check_data(eid, budget, only)  # every set of every run, before the first one trains
    for seed in seeds:
        for r in select_runs(exp, only):
            minutes = None if deadline is None else (deadline - time.time()) / 60.0
            if minutes is not None and minutes <= 0:
                print(f"[{eid}] {r.name} seed {seed}: deadline passed, not started", flush=True)
                continue
            _run_one(exp, r, budget, seed, force, device, threads, runner, minutes)
    return render_report(eid, budget)


def check_data(eid: str, budget: str, only: Sequence[str] | None = None,
               done: set[str] | None = None) -> None:  # fmt: skip
    """Check every set (training, validation, test) the selected runs of an entry need at
    ``budget`` (:func:`reprolib.data.check_sets`; ``done``: sets already checked). Raises
    :class:`reprolib.data.DatasetError` in one line naming the set, the run and the data
    folder."""
    from reprolib import data

    exp, done = get(eid), set() if done is None else done
    for r in select_runs(exp, only):
        needs = recipes.required_sets(exp.recipe_for(r, budget))
        data.check_sets(needs, f"{eid} run {r.name}", done)


def check_seeds(seeds: Sequence[int] | None) -> list[int]:
    out = [0] if seeds is None else list(seeds)
    for k in out:
        seed_dir_name("run", k)  # raises on a bad seed
    if not out or len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct non-negative integers, got {seeds!r}")
    return out


def _run_one(exp: Experiment, r: Run, budget: str, seed: int, force: bool, device: str | None,
             threads: int | None, runner: Any,
             max_minutes: float | None = None) -> None:  # fmt: skip
    """Train (or reuse) and evaluate one seed of one run through the train notebook; a run
    paused by ``max_minutes`` (in training: a checkpoint; in scoring: the images scored) gets
    no spec stamp (it is not scored), so the next call resumes it rather than taking it for a
    stale run."""
    from reprolib import evaluate

    eid, recipe = exp.id, exp.recipe_for(r, budget, seed)
    d = exp.run_dir(r, budget, seed)
    label = r.name if seed == 0 else f"{r.name} seed {seed}"
    if is_current(exp, r, budget, seed) and not force:
        print(f"[{eid}] {label}: current, skipped ({d})")
        return
    # A finished run of another spec (a recipe or the registry changed) is superseded, as
    # is any run under --force; an unfinished run of the same spec resumes.
    stale = run_state(exp, r, budget, seed) == "stale"
    # Only the evaluation grid changed (e.g. a set added): keep the weights, score again.
    same_training = stale and trained_with(d, recipe)
    overwrite = force or (stale and not same_training)
    donor = None if force else find_trained(recipe, exclude=d)
    if donor is not None:
        reuse_trained(donor, d)
        overwrite = False
        print(f"[{eid}] {label}: same training recipe as {donor}; its weights are reused "
              "and evaluated on this entry's grid", flush=True)  # fmt: skip
    else:
        (d / runs.REUSED_FROM).unlink(missing_ok=True)
        action = ("re-evaluating (evaluation grid changed; same training)" if same_training
                  else "re-training (spec changed)" if stale else "training")  # fmt: skip
        print(f"[{eid}] {label}: {action} at budget {budget!r} ...", flush=True)
    params = {
        "recipe": r.recipe if r.sigma is None else f"{r.recipe}_sigma{r.sigma}",
        "budget": budget, "overrides": exp.overrides_for(r, seed), "out_dir": str(d),
        "eval_limit": SMOKE_EVAL_LIMIT if budget == "smoke" else None, "device": device,
        "threads": threads, "overwrite": overwrite, "max_minutes": max_minutes,
    }  # fmt: skip
    if overwrite:
        (d / runs.SPEC).unlink(missing_ok=True)
    images = evaluate.grid_images(recipe, params["eval_limit"])
    with runs.follow_run(d, recipe.iterations, f"[{eid}] {label}", images=images):
        runner.execute(TRAIN_NOTEBOOK, d / runs.NOTEBOOK, params)
    if not (d / runs.METRICS).exists():  # paused: resumed, not stamped
        where = ("scoring stopped between two images, those scored kept" if
                 (d / runs.MODEL).exists() else "training paused with a checkpoint")  # fmt: skip
        print(f"[{eid}] {label}: {where}; run again to continue", flush=True)
        return
    run_args = {k: v for k, v in params.items() if k not in ("overwrite", "max_minutes")}
    stamp = {"hash": exp.spec_hash(r, budget, seed), "seed": seed, **run_args}
    runs.write_text(d / runs.SPEC, json.dumps(stamp))


def render_report(eid: str, budget: str) -> Path:
    """Execute an entry's report notebook from the runs already under ``results/`` (it trains
    nothing): ``report_<budget>.ipynb``, ``summary.csv`` and ``findings.csv``."""
    from reprolib import runner

    exp = get(eid)
    out = exp.folder / f"report_{check_budget(budget)}.ipynb"
    title = f"{exp.title} ({budget} budget)"
    runner.execute(REPORT_NOTEBOOK, out, {"experiment": eid, "budget": budget}, title=title)
    return out


# --------------------------------------------------------------------------- where runs stand

#: States of one run at one budget, as :func:`run_status` reads them from ``results/``.
RUN_STATES: tuple[str, ...] = ("current", "stale", "partial", "not run")


def run_state(exp: Experiment, run: Run, budget: str, seed: int = 0) -> str:
    """``current`` (scored, same spec), ``stale`` (scored under a spec that has since changed:
    ``reprolib run`` trains it again), ``partial`` (training started; ``reprolib run`` resumes
    it from its checkpoint) or ``not run``."""
    d = exp.run_dir(run, budget, seed)
    if is_current(exp, run, budget, seed):
        return "current"
    if (d / runs.METRICS).exists():
        return "stale"
    return "partial" if d.is_dir() and any(d.iterdir()) else "not run"


def _weights_elsewhere(exp: Experiment, run: Run, budget: str, state: str, seed: int = 0) -> str:
    if state == "current":
        return ""
    donor = find_trained(exp.recipe_for(run, budget, seed), exclude=exp.run_dir(run, budget, seed))
    return "" if donor is None else str(donor.relative_to(claims.results_root()))


_train_info = runs.read_summary


def run_status(budgets: Sequence[str] | None = None) -> pd.DataFrame:
    """Every run of every registry entry at each budget, with its state and training cost.

    One row per (experiment, run, seed, budget), for the seeds the entry lists (``seeds`` in
    the registry, default 0) and any other seed trained: ``state`` (:data:`RUN_STATES`),
    ``iterations`` and ``wall_s`` of its training (from ``train_summary.json``), ``reused_from``
    when its weights were trained by another entry (their training time is counted there, not
    here) and, for a run that is not current, ``weights_at``: a finished run of the same
    training recipe that ``reprolib run`` would reuse instead of training.
    """
    rows = []
    for eid, exp in load().items():
        for budget in budgets or BUDGETS:
            for r in exp.runs:
                for seed in sorted(set(exp.seeds) | set(exp.seeds_on_disk(r, budget))):
                    d = exp.run_dir(r, budget, seed)
                    info, reused = _train_info(d), d / runs.REUSED_FROM
                    state = run_state(exp, r, budget, seed)
                    rows.append({
                        "experiment": eid, "run": r.name, "seed": seed, "budget": budget,
                        "state": state,
                        "iterations": info.get("iterations_total", info.get("iterations")),
                        "wall_s": info.get("wall_s"),
                        "reused_from": reused.read_text().strip() if reused.exists() else "",
                        "weights_at": _weights_elsewhere(exp, r, budget, state, seed),
                    })  # fmt: skip
    return pd.DataFrame(rows)


def progress(budget: str) -> pd.DataFrame:
    """Per registry entry at ``budget``: how many runs are current, which are missing, the
    training hours spent on its own runs (reused weights excluded) and the command that
    completes it (empty when nothing is missing)."""
    runs = run_status([check_budget(budget)])
    rows = []
    for eid, group in runs.groupby("experiment", sort=False):
        todo = group[group["state"] != "current"]
        own = group[(group["state"] == "current") & (group["reused_from"] == "")]
        missing = [
            f"{r.run}{f' seed {r.seed}' if r.seed else ''} "
            f"({r.state}{'; trained weights exist' if r.weights_at else ''})"
            for r in todo.itertuples()
        ]
        rows.append({
            "experiment": eid, "runs": len(group), "current": len(group) - len(todo),
            "missing": ", ".join(missing),
            "training_h": round(float(own["wall_s"].fillna(0).sum()) / 3600, 2),
            "command": f"reprolib run {eid} --budget {budget}" if missing else "",
        })  # fmt: skip
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the report


def seed_metrics(exp: Experiment, budget: str) -> pd.DataFrame:
    """Every scored seed of every run, one row per (run, seed, dataset, setting)."""
    frames = []
    for r in exp.runs:
        for seed in exp.seeds_on_disk(r, budget):
            d = exp.run_dir(r, budget, seed)
            if not (d / runs.METRICS).exists():
                continue
            m = pd.read_csv(d / runs.METRICS)
            info = _train_info(d)
            m["method"] = r.label
            m["run"] = r.name
            m["seed"] = seed
            m["budget"] = budget
            m["iterations"] = info.get("iterations")
            m["patches_seen"] = info.get("patches_seen")
            m["wall_s"] = info.get("wall_s")
            m["hardware"] = info.get("hardware")
            frames.append(m)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run_metrics(exp: Experiment, budget: str) -> pd.DataFrame:
    """Every run's evaluation, one row per (run, dataset, setting), with its training budget.

    With several seeds scored, ``psnr``/``ssim`` are the mean over seeds, ``seeds`` says how
    many, and the budget columns are seed 0's (:func:`seed_metrics` has each seed)."""
    m = seed_metrics(exp, budget)
    if m.empty:
        return m
    key = ["run", "dataset", "setting"]
    mean = m.groupby(key, sort=False)[["psnr", "ssim"]].mean()
    count = m.groupby(key, sort=False)["seed"].nunique().rename("seeds")
    first = m.sort_values("seed", kind="stable").drop_duplicates(key).set_index(key)
    out = first.drop(columns=["psnr", "ssim", "seed"]).join(mean).join(count).reset_index()
    return out[[c for c in m.columns if c != "seed"] + ["seeds"]]


def per_image(exp: Experiment, budget: str) -> pd.DataFrame:
    """Every scored test image of every run and seed: ``run, method, seed, dataset, setting,
    image, psnr, ssim``. A mean over a set can hide a few images on which a run fails outright."""
    frames = []
    for r in exp.runs:
        for seed in exp.seeds_on_disk(r, budget):
            path = exp.run_dir(r, budget, seed) / runs.PER_IMAGE
            if path.exists():
                scores = pd.read_csv(path, dtype={"image": str})
                frames.append(scores.assign(run=r.name, method=r.label, seed=seed))
    cols = ["run", "method", "seed", "dataset", "setting", "image", "psnr", "ssim"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def lowest_images(scores: pd.DataFrame, metric: str = "psnr") -> pd.DataFrame:
    """Per run and (dataset, setting): the image that scores lowest, with the run's median on
    that cell and how far below the median the image falls (``below_median``)."""
    if scores.empty:
        return pd.DataFrame(columns=["run", "dataset", "setting", "image", metric, "median",
                                     "below_median"])  # fmt: skip
    key = ["run", "dataset", "setting"]
    worst = scores.loc[scores.groupby(key, sort=False)[metric].idxmin(), [*key, "image", metric]]
    median = scores.groupby(key, sort=False)[metric].median().rename("median")
    out = worst.join(median, on=key).reset_index(drop=True)
    out["below_median"] = out["median"] - out[metric]
    return out


def input_baseline(exp: Experiment, budget: str, progress: bool = False) -> pd.DataFrame:
    """PSNR/SSIM of the degraded input itself (the bicubic upsampling, noisy or JPEG image) on
    every cell the entry's runs were scored on, over the same images.

    It is the floor any trained model must clear: a run that does not beat it learned nothing
    (e.g. a residual branch that collapsed to zero), and the entry's findings then say nothing
    about the paper. Cached in ``<budget>/input_baseline.csv``; only new cells are measured.
    """
    from reprolib import evaluate, restorers

    m = run_metrics(exp, budget)
    cols = ["protocol", "dataset", "setting", "n_images"]
    path = exp.folder / budget / "input_baseline.csv"
    old = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=[*cols, "psnr", "ssim"])
    if m.empty:
        return old
    cells = m[cols].drop_duplicates()
    new = cells.merge(old[cols], how="left", on=cols, indicator=True)
    rows = [old]
    for _, c in new[new["_merge"] == "left_only"].iterrows():
        per_image = evaluate.measure(
            restorers.identity, c["dataset"], c["setting"], c["protocol"], method_name="input",
            limit=int(c["n_images"]), progress=progress,
        )  # fmt: skip
        # Rounded as the cache stores them, so a fresh and a cached baseline give the same gain.
        rows.append(pd.DataFrame([{**c[cols].to_dict(), "psnr": round(per_image["psnr"].mean(), 6),
                                   "ssim": round(per_image["ssim"].mean(), 6)}]))  # fmt: skip
    out = pd.concat([r for r in rows if not r.empty], ignore_index=True)
    if len(rows) > 1:
        path.parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(path, index=False, float_format="%.6f")
    return out


def summary(exp: Experiment, budget: str) -> pd.DataFrame:
    """Measured vs claimed in the shared shape, plus the budget columns and ``input`` (the
    degraded input's own score on that cell, :func:`input_baseline`) with ``gain`` over it.

    One row per measured cell: under the table that claims it, or under the entry's first table
    when none does (an entry spanning several tables must not repeat every cell per table)."""
    m = run_metrics(exp, budget)
    if m.empty:
        return m
    # Per protocol: two runs scored under different protocols each take their own input score
    # (a cell scored under two protocols would otherwise be joined twice).
    base = input_baseline(exp, budget).melt(
        id_vars=["protocol", "dataset", "setting", "n_images"], value_vars=["psnr", "ssim"],
        var_name="metric", value_name="input",
    )  # fmt: skip
    long = m.melt(
        id_vars=["dataset", "setting", "method", "run", "n_images", "budget", "iterations",
                 "wall_s", "hardware", "protocol"],
        value_vars=["psnr", "ssim"], var_name="metric", value_name="measured",
    )  # fmt: skip
    rows, tables = [], exp.tables or ("-",)
    for table in tables:
        part = long.copy()
        part["paper"], part["table"] = exp.paper, table
        rows.append(part)
    long = pd.concat(rows, ignore_index=True)
    out = claims.compare(long).merge(
        long[["paper", "table", "dataset", "setting", "method", "metric", "run", "budget",
              "iterations", "wall_s", "hardware", "protocol"]],
        on=["paper", "table", "dataset", "setting", "method", "metric"], how="left",
    )  # fmt: skip
    # Each cell once (RED Tables 4-6: one test set each), under its claiming table or the first.
    cell = ["dataset", "setting", "method", "metric"]
    claimed_somewhere = out.groupby(cell)["claimed"].transform(lambda c: c.notna().any())
    unclaimed_once = ~claimed_somewhere & (out["table"] == tables[0])
    out = out[out["claimed"].notna() | unclaimed_once].reset_index(drop=True)
    out = out.merge(base, on=["protocol", "dataset", "setting", "n_images", "metric"], how="left")
    out["gain"] = out["measured"] - out["input"]
    return out.drop(columns="protocol")


FINDING_COLUMNS = [
    "claim_id", "holds", "budget", "evidence", "conclusive", "verdict", "seeds", "margin_db",
    "ci_low", "ci_high", "p_value", "converged", "runs", "reason", "pairs",
]  # fmt: skip


def baseline_scores(exp: Experiment, scores: pd.DataFrame, budget: str) -> pd.DataFrame:
    """Per-image scores of the entry's ``baselines`` (the no-training columns of
    ``results/protocol/per_image.csv``) on the cells (set, setting) its runs were scored on, in
    :func:`per_image`'s shape (``run`` = the method, seed 0).

    Only a measurement whose protocol scores as the entry's runs do
    (:attr:`reprolib.protocols.Protocol.scoring`) counts; its noisy images are the runs' (the
    evaluation noise is keyed on the image and level, :func:`reprolib.degrade.add_gaussian_noise`).
    A baseline the protocol results lack on a cell is simply absent there, and a check naming it
    says "not trained at this budget" until ``reprolib protocol --full`` has measured it."""
    from reprolib import protocols

    cols = ["run", "method", "seed", "dataset", "setting", "image", "psnr", "ssim"]
    path = claims.results_root() / "protocol" / "per_image.csv"
    if not exp.baselines or scores.empty or not path.exists():
        return scores.iloc[0:0][cols]  # typed like scores: concatenating it changes no dtype
    scoring = {protocols.get(exp.recipe_for(r, budget).protocol).scoring for r in exp.runs}
    measured = pd.read_csv(path, dtype={"image": str})
    measured = measured[
        measured["method"].isin(exp.baselines)
        & measured["protocol"].map(lambda p: protocols.get(p).scoring in scoring)
    ]
    cells = scores[["dataset", "setting"]].drop_duplicates()
    measured = measured.merge(cells, on=["dataset", "setting"])
    # One measurement per (method, cell, image): two protocols that score alike measure the same.
    measured = measured.drop_duplicates(["method", "dataset", "setting", "image"])
    out = measured.assign(run=measured["method"], seed=0)[cols].reset_index(drop=True)
    return out.astype(scores[cols].dtypes.to_dict())  # typed like scores, even when empty


def baseline_facts(exp: Experiment, scores: pd.DataFrame) -> dict[str, stats.RunFacts]:
    """:class:`reprolib.stats.RunFacts` of each baseline that ``scores`` holds (untrained)."""
    present = set(scores["run"]) if not scores.empty else set()
    return {
        b: stats.RunFacts(seeds=1, converged=True, change_db=0.0, gain_db=np.inf, trained=False)
        for b in exp.baselines
        if b in present
    }


@functools.cache
def _model_params(model: str, kwargs_json: str) -> int:
    from reprolib import models

    return models.total_params(models.build(model, **json.loads(kwargs_json)))


def recipe_size(recipe: recipes.Recipe) -> tuple[float, float]:
    """``(parameters, training pixels)`` a recipe trains: the model's parameter count and
    iterations x batch x patch area (one process), for condition (5) of the verdict rule."""
    kwargs = json.dumps(recipe.model_kwargs, sort_keys=True, default=str)
    return float(_model_params(recipe.model, kwargs)), float(
        recipe.iterations * recipe.batch * recipe.patch**2
    )


def run_sizes(exp: Experiment, run: Run, budget: str) -> dict[str, float]:
    """The size fields of :class:`reprolib.stats.RunFacts` for ``run``: :func:`recipe_size` at
    ``budget`` and at the paper's budget."""
    (params, pixels), (paper_params, paper_pixels) = (
        recipe_size(exp.recipe_for(run, b)) for b in (budget, "paper")
    )
    return {"params": params, "pixels": pixels, "paper_params": paper_params,
            "paper_pixels": paper_pixels}  # fmt: skip


def run_facts(exp: Experiment, budget: str, measured: pd.DataFrame) -> dict[str, stats.RunFacts]:
    """What the verdict rule needs of every scored run: its seeds, whether every seed converged
    (:func:`reprolib.stats.convergence` on each seed's ``log.csv``), its mean PSNR gain over
    the degraded input (``measured``: :func:`summary`) and its sizes (:func:`run_sizes`)."""
    psnr = measured[measured["metric"] == "psnr"] if "metric" in measured else measured
    key = "run" if "run" in psnr else "method"
    gains = psnr.groupby(key)["gain"].mean() if "gain" in psnr else pd.Series(dtype=float)
    out = {}
    for r in exp.runs:
        seeds = [k for k in exp.seeds_on_disk(r, budget)
                 if (exp.run_dir(r, budget, k) / runs.PER_IMAGE).exists()]  # fmt: skip
        if not seeds:
            continue
        changes = []
        for k in seeds:
            log = exp.run_dir(r, budget, k) / runs.LOG
            changes.append(stats.convergence(pd.read_csv(log))[1] if log.exists() else np.nan)
        worst = max(changes, key=lambda c: np.inf if np.isnan(c) else abs(c))
        out[r.name] = stats.RunFacts(
            seeds=len(seeds),
            converged=bool(all(abs(c) < stats.CONVERGENCE_DB for c in changes)),
            change_db=float(worst),
            gain_db=float(gains.get(r.name, np.inf)),
            **run_sizes(exp, r, budget),
        )
    return out


def _size(exp: Experiment, budget: str, name: str, facts: stats.RunFacts) -> str:
    """``name: k seeds, P params, X pixels seen`` (the compared budgets, side by side)."""
    if not facts.trained:
        return f"{name}: no training (measured once, results/protocol)"
    info = _train_info(exp.run_dir(next(r for r in exp.runs if r.name == name), budget))
    params, patches, side = info.get("params"), info.get("patches_seen"), info.get("patch")
    px = f", {patches * side**2 / 1e9:.2f} Gpx seen" if patches and side else ""
    size = f", {params / 1e6:.3f}M params" if params else ""
    return f"{name}: {facts.seeds} seed{'s' * (facts.seeds != 1)}{size}{px}"


def check_findings(
    exp: Experiment,
    budget: str,
    measured: pd.DataFrame,
    scores: pd.DataFrame | None = None,
    facts: dict[str, stats.RunFacts] | None = None,
) -> pd.DataFrame:
    """Verdict per finding listed under the entry's ``checks``, by :func:`reprolib.stats.judge`
    (the one verdict rule, :data:`reprolib.stats.VERDICT_RULE`).

    ``scores`` (default :func:`per_image`) are the per-image scores of every seed; ``facts``
    (default :func:`run_facts`) what the rule needs of each run. Check kinds: ``order`` - the
    listed runs rank in this order, best first; ``increasing`` - the metric rises along the
    listed runs; ``peak`` - ``run`` is the best of ``runs`` (default: every run of the entry;
    only the methods the paper's table compares belong there); ``interior_peak`` -
    along the listed runs (a sweep) the best is neither end.
    """
    if scores is None:
        scores = per_image(exp, budget)
        scores = pd.concat([scores, baseline_scores(exp, scores, budget)], ignore_index=True)
    if facts is None:
        facts = {**run_facts(exp, budget, measured), **baseline_facts(exp, scores)}
    rows = []
    for c in exp.checks:
        metric = c.get("metric", "psnr")
        if c["kind"] == "peak":  # against the listed runs, else every run of the entry
            rivals = c.get("runs") or [r.name for r in exp.runs]
            runs = [c["run"], *(r for r in rivals if r != c["run"])]
        else:
            runs = list(c["runs"])
        v = stats.judge(c["kind"], runs, scores, facts, metric)
        d = v.deciding
        sizes = "; ".join(_size(exp, budget, r, facts[r]) for r in runs if r in facts)
        rows.append({
            "claim_id": c["finding"], "holds": v.verdict == stats.HOLDS, "budget": budget,
            "evidence": f"{v.verdict}: {v.reason}", "conclusive": v.verdict != stats.INCONCLUSIVE,
            "verdict": v.verdict, "seeds": min((facts[r].seeds for r in runs
                                                if r in facts and facts[r].trained), default=0),
            "margin_db": None if d is None else round(d.margin_db, 4),
            "ci_low": None if d is None else round(d.ci_low, 4),
            "ci_high": None if d is None else round(d.ci_high, 4),
            "p_value": None if d is None else round(d.p_value, 4),
            "converged": all(r in facts and facts[r].converged for r in runs),
            "runs": sizes, "reason": v.reason, "pairs": "; ".join(p.text() for p in v.pairs),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def report(eid: str, budget: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``summary.csv`` and ``findings.csv`` of an experiment: this budget's rows are
    rewritten whole (they are recomputed from every stored run), other budgets' rows are kept."""
    exp = get(eid)
    summ = summary(exp, budget)
    found = check_findings(exp, budget, summ)
    exp.folder.mkdir(parents=True, exist_ok=True)
    for name, df in (("summary.csv", summ), ("findings.csv", found)):
        path = exp.folder / name
        if path.exists() and not df.empty:  # this budget's rows are replaced, the others kept
            old = pd.read_csv(path)
            df = pd.concat([old[old["budget"].astype(str) != budget], df], ignore_index=True)
        if "seeds" in df:  # a count, not a float (older rows have none)
            df["seeds"] = df["seeds"].astype("Int64")
        df.to_csv(path, index=False, float_format="%.6f")
    return summ, found


def validation_cells(exp: Experiment, budget: str) -> dict[str, tuple[str, str]]:
    """The (set, setting) each trained run validated on while training (monitoring only: the
    scored model is the last iterate, never one picked by validation)."""
    cells = {}
    for r in exp.runs:
        fields = _train_info(exp.run_dir(r, budget)).get("recipe_fields", {})
        if "val_set" in fields:
            cells[r.name] = (fields["val_set"], fields["val_setting"])
    return cells


def learning_curves(exp: Experiment, budget: str) -> dict[str, pd.DataFrame]:
    """Training logs of every run that has one."""
    logs = {}
    for r in exp.runs:
        path = exp.run_dir(r, budget) / runs.LOG
        if path.exists():
            logs[r.name] = pd.read_csv(path)
    return logs


def convergence_table(budget: str) -> pd.DataFrame:
    """Every training at ``budget`` once (weights another entry reused count at the folder that
    trained them), with its recipe, iterations and the validation change over the last 20% of
    its iterations (:func:`reprolib.stats.convergence`, the verdict rule's condition (4)).

    Why: a finding whose runs did not converge stays inconclusive however many seeds it gets;
    grouped by recipe this shows which of the budget's recipes end on a plateau, i.e. where
    extra seeds can decide a finding and where only a longer schedule can."""
    root = claims.results_root()
    rows, seen = [], set()
    for folder in runs.trained_run_dirs(root):
        if folder.parent.name != budget or not (folder / runs.LOG).exists():
            continue
        origin = runs.weights_origin(folder)
        if origin in seen:
            continue
        seen.add(origin)
        summary = runs.read_summary(origin)
        converged, change = stats.convergence(pd.read_csv(origin / runs.LOG))
        rows.append({
            "recipe": summary.get("recipe", ""), "run": str(origin.relative_to(root)),
            "iterations": summary.get("iterations"), "change_db": change, "converged": converged,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["recipe", "run", "iterations", "change_db", "converged"])


def convergence_by_recipe(budget: str) -> pd.DataFrame:
    """:func:`convergence_table` per recipe: trainings, how many converged, the median and the
    largest absolute validation change over the last 20% (dB), iterations."""
    t = convergence_table(budget).assign(abs_change=lambda d: d["change_db"].abs())
    return (
        t.groupby("recipe")
        .agg(
            trainings=("run", "size"),
            converged=("converged", "sum"),
            median_change_db=("change_db", "median"),
            largest_abs_change_db=("abs_change", "max"),
            iterations=("iterations", "max"),
        )
        .sort_values(["converged", "trainings"], ascending=[True, False])
        .reset_index()
    )
