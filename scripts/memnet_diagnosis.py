"""Why MemNet learned nothing at the ``cpu`` budget: controlled probes, one factor at a time.

Every probe is the first 500 iterations of the ``cpu``-budget MemNet run (M4R6, 32 channels,
batch 16, 31 px patches, 3,000 iterations with the learning rate divided by 10 at 1,000 and
2,000) with *one* change to the paper's recipe, logging the validation PSNR (eval mode, the
first three Set5 x3 images, or Set12 sigma 50 for denoising) every 50 iterations. At the end each
model is scored in inference mode (BatchNorm running statistics) and in training mode (the
statistics of the test image itself); the gap between the two separates "the weights failed"
from "the BatchNorm running statistics failed". The committed ``memnet/table3`` model is probed
the same way, and once more after its running statistics are recomputed with its final weights
(:func:`reprolib.train.recalibrate_batchnorm`).

Results land under ``results/memnet/diagnosis/``: one run folder per probe (``train_log.csv``,
``train_summary.json``) and ``probes.csv`` (one row per probe: factor, change, iterations,
baseline PSNR of the input, eval- and train-mode PSNR and gain, wall time). The MemNet report
draws the curves from these files.

    python scripts/memnet_diagnosis.py --list
    python scripts/memnet_diagnosis.py --probes paper_recipe zero_init_adam --threads 1
    python scripts/memnet_diagnosis.py --table3          # the committed Table 3 model only

Probes are resumable (each is an ordinary run folder): a probe whose committed checkpoint.pt
already reached its iterations is re-scored without training; one without it trains again.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from reprolib import claims, evaluate, restorers, runs, train
from reprolib.models.inference import torch_threads
from reprolib.recipes import get_recipe

OUT = claims.results_root() / "memnet" / "diagnosis"
ITERATIONS = 500
ADAM = dict(optimizer="adam", lr=1e-4)
ZERO = dict(recon_init="zero")
#: Patch side and batch for the BN re-estimation probes: the training size, then larger inputs
#: (BSD300 images are 481 x 321, so 256 px is most of an image, few border pixels).
RECALIBRATION_SIZES = ((31, 16), (64, 16), (128, 8), (256, 2))
#: Pixels each re-estimation sees (that of 100 training batches of 16 patches of 31 px).
RECALIBRATION_PIXELS = 100 * 16 * 31 * 31

#: name -> (recipe, factor, what changed, overrides). One factor changes per probe.
PROBES: dict[str, tuple[str, str, str, dict]] = {
    "paper_recipe": ("memnet_sr", "baseline", "none (SGD lr 0.1, clip 0.01/lr per element)", {}),
    "global_norm_clip": (
        "memnet_sr", "clipping", "global-norm clip 0.1 instead of per-element 0.01/lr",
        dict(clip="global_norm", clip_value=0.1),
    ),
    "sgd_lr0.01": ("memnet_sr", "optimiser", "SGD lr 0.01", dict(lr=0.01)),
    "adam": ("memnet_sr", "optimiser", "Adam lr 1e-4", ADAM),
    "zero_init": ("memnet_sr", "init", "ReconNet conv zero-init (SGD recipe)", ZERO),
    "zero_init_adam": ("memnet_sr", "init+optimiser", "zero-init + Adam lr 1e-4", ZERO | ADAM),
    "zero_init_sgd_lr0.01": (
        "memnet_sr", "init+optimiser", "zero-init + SGD lr 0.01", ZERO | dict(lr=0.01),
    ),
    "zero_init_adam_lr3e-4": (
        "memnet_sr", "learning rate", "zero-init + Adam lr 3e-4", ZERO | dict(ADAM, lr=3e-4),
    ),
    "zero_init_adam_lr1e-3": (
        "memnet_sr", "learning rate", "zero-init + Adam lr 1e-3", ZERO | dict(ADAM, lr=1e-3),
    ),
    "zero_init_adam_code_weights": (
        "memnet_sr", "supervision weights",
        "zero-init + Adam, released code's loss weights (w_m = 1, every loss weight 1)",
        ZERO | ADAM | dict(supervision="code"),
    ),
    "denoise_paper_recipe": ("memnet_denoise", "baseline", "none (denoising recipe)", {}),
    "denoise_zero_init_adam": (
        "memnet_denoise", "init+optimiser", "zero-init + Adam lr 1e-4", ZERO | ADAM,
    ),
}  # fmt: skip


def _train_mode_restorer(model: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """Restore with BatchNorm in training mode (the image's own statistics), weights untouched."""
    m = copy.deepcopy(model).train()

    @torch.no_grad()
    def run(x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.asarray(x, dtype=np.float32))[None, None]
        return m(t)[0, 0].double().numpy()

    return run


def _scores(model, recipe, dataset: str, setting: str, limit: int) -> dict[str, float]:
    """Mean PSNR of the input, of the model in eval mode and in training mode."""
    proto = recipe.protocol
    base = evaluate.measure(
        restorers.identity, dataset, setting, proto, method_name="input", limit=limit,
        progress=False,
    )  # fmt: skip
    ev = evaluate.evaluate_checkpoint(
        model, [dataset], [setting], proto, limit=limit, progress=False, tile=None
    )
    tr = evaluate.measure(_train_mode_restorer(model), dataset, setting, proto,
                          method_name="train", limit=limit, progress=False)  # fmt: skip
    b, e, t = base["psnr"].mean(), ev["psnr"].mean(), tr["psnr"].mean()
    return {
        "eval_set": f"{dataset} {setting} (first {limit})",
        "input_psnr": round(b, 3),
        "eval_psnr": round(e, 3),
        "train_mode_psnr": round(t, 3),
        "eval_gain": round(e - b, 3),
        "train_mode_gain": round(t - b, 3),
        "images_below_input": int((ev["psnr"].to_numpy() < base["psnr"].to_numpy()).sum()),
    }


def run_probe(name: str, threads: int) -> dict:
    recipe_name, factor, change, overrides = PROBES[name]
    over = dict(overrides, val_every=50, log_every=50, ckpt_every=100)
    folder = OUT / name
    summary = train.train(recipe_name, "cpu", out_dir=folder, overrides=over, threads=threads,
                          progress=False, stop_after=ITERATIONS)  # fmt: skip
    # a probe is scored at its last step only; per-validation snapshots serve the scaling curves
    shutil.rmtree(folder / runs.SNAPSHOTS, ignore_errors=True)
    model, recipe = restorers.load_model(folder)
    with torch_threads(threads):
        final = (
            _scores(model, recipe, "Set5", "x3", 3)
            if recipe.task == "sr"
            else _scores(model, recipe, "BSD200", "sigma50", 11)
        )
    log = pd.read_csv(folder / runs.LOG)
    return {
        **_validation_cell(recipe_name),
        "probe": name, "recipe": recipe_name, "factor": factor, "change": change,
        "iterations": summary["iterations"], "patches_seen": summary["patches_seen"],
        "budget": f"cpu (M4R6, 32 ch, batch 16): first {ITERATIONS} of 3,000 iterations",
        "loss_max_over_min": round(float(log["loss"].max() / log["loss"].min()), 2),
        "wall_s": summary["wall_s"], "threads": threads, "seed": recipe.seed,
        "val_psnr_final": round(float(log["val_psnr"].dropna().iloc[-1]), 3),
        **final,
    }  # fmt: skip


def probe_table3(threads: int) -> list[dict]:
    """The committed Table 3 model: eval vs train mode, then with recomputed running stats."""
    folder = claims.results_root() / "memnet" / "table3" / "cpu" / "MemNet"
    if not (folder / runs.MODEL).is_file():
        return []
    model, recipe = restorers.load_model(folder)
    rows = []
    with torch_threads(threads):
        before = _scores(model, recipe, "BSD200", "sigma50", 11)
        rows.append({"probe": "table3_committed", "factor": "BN statistics",
                     "change": "committed memnet/table3 model as trained", **before})  # fmt: skip
        train.recalibrate_batchnorm(model, recipe, batches=100)
        after = _scores(model, recipe, "BSD200", "sigma50", 11)
        rows.append({"probe": "table3_committed_recalibrated", "factor": "BN statistics",
                     "change": "same weights, running stats recomputed on 100 training batches",
                     **after})  # fmt: skip
        for side, batch in RECALIBRATION_SIZES:
            batches = max(8, -(-RECALIBRATION_PIXELS // (batch * side * side)))
            train.recalibrate_batchnorm(model, recipe, batches=batches, patch=side, batch=batch)
            rows.append({"probe": f"table3_committed_recalibrated_{side}px",
                         "factor": "BN statistics vs input size",
                         "change": f"same weights, running stats recomputed on {side} px patches "
                                   f"({batch} per batch)",
                         **_scores(model, recipe, "BSD200", "sigma50", 11)})  # fmt: skip
    for r in rows:
        r.update(recipe="memnet_denoise", budget="cpu (committed run)", threads=threads)
    return rows


def _validation_cell(recipe_name: str) -> dict:
    """The cell a probe's training validated on and its degraded input's PSNR there."""
    r = get_recipe(recipe_name, budget="cpu")
    base = evaluate.measure(restorers.identity, r.val_set, r.val_setting, r.protocol,
                            method_name="input", limit=r.val_limit, progress=False)  # fmt: skip
    return {"val_cell": f"{r.val_set} {r.val_setting} (first {r.val_limit})",
            "val_input_psnr": round(float(base["psnr"].mean()), 3)}  # fmt: skip


def _write(rows: list[dict]) -> None:
    path = OUT / "probes.csv"
    old = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    if len(old) and "val_input_psnr" not in old:  # rows written before the column existed
        cells = {name: _validation_cell(name) for name in old["recipe"].dropna().unique()}
        old = old.join(old["recipe"].map(cells).apply(pd.Series))
    new = pd.DataFrame(rows)
    if not old.empty and not new.empty:
        old = old[~old["probe"].isin(new["probe"])]
    table = pd.concat([old, new], ignore_index=True)
    table3 = ["table3_committed", "table3_committed_recalibrated"]
    table3 += [f"table3_committed_recalibrated_{side}px" for side, _ in RECALIBRATION_SIZES]
    order = {p: i for i, p in enumerate([*PROBES, *table3])}
    table = table.sort_values("probe", key=lambda s: s.map(order)).reset_index(drop=True)
    runs.write_csv(path, table)


def render() -> None:
    """Execute the diagnosis page (``results/memnet/diagnosis/diagnosis.ipynb``) from the CSVs."""
    from reprolib import runner

    print(runner.execute("notebooks/memnet_diagnosis.ipynb", OUT / "diagnosis.ipynb", {}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--probes", nargs="*", default=None, help="probe names (default: all)")
    ap.add_argument("--table3", action="store_true", help="probe the committed Table 3 model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--render", action="store_true", help="only re-execute the diagnosis page")
    args = ap.parse_args()
    if args.list:
        for k, (rec, factor, change, _) in PROBES.items():
            print(f"{k:32s} {rec:16s} {factor:20s} {change}")
        return
    if args.render:
        render()
        return
    OUT.mkdir(parents=True, exist_ok=True)
    if args.table3:
        _write(probe_table3(args.threads))
    names = args.probes if args.probes is not None else ([] if args.table3 else list(PROBES))
    unknown = sorted(set(names) - set(PROBES))
    if unknown:
        raise SystemExit(f"unknown probe(s) {unknown}; known: {', '.join(PROBES)}")
    for name in names:
        t0 = time.time()
        row = run_probe(name, args.threads)
        _write([row])
        print(json.dumps(row), f"({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
