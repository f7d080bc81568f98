"""Training throughput per model at its cpu-budget configuration: does the data pipeline keep up?

For each recipe it measures, with the same model, optimiser and step function as
:func:`reprolib.train.train`:

* ``patches_per_s``: the full training step - draw a batch from
  :class:`reprolib.patches.PatchSampler` (crop, augment, degrade, assemble), forward, loss,
  backward, gradient clipping, optimiser step;
* ``conv_only_patches_per_s``: the same step on one pre-made batch (no sampler): the raw network
  throughput (forward + backward, plus the optimiser step, which is a negligible part of it).

``ratio = patches_per_s / conv_only_patches_per_s``: 1.0 means the sampler costs nothing; the
target is >= 0.8. The two measurements are interleaved in blocks so that load from other
processes on a shared machine affects both alike; ``cpu_time_ratio`` is the same ratio in
process CPU time, which such load disturbs much less, and ``load_avg`` (1-minute load average
at the end) tells how busy the machine was. On a busy machine ``--threads 1`` gives steadier
numbers (two torch threads that compete with other processes slow down far more than 2x).
``est_run_minutes`` is the training time of one run at the budget's iteration count (validation
excluded) at the measured wall-clock rate; ``est_idle_core_minutes`` the same from process CPU
time (``cpu_s_per_step``), i.e. what it takes on idle cores - with ``--threads 1`` one idle
core; two idle cores take a little over half of it. These are the basis of the cpu budget's
calibration.

Usage: ``python scripts/bench_train.py [--budget cpu] [--recipes ...] [--seconds 20]``.
Writes ``results/bench/train.csv``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd
import torch

from reprolib import claims, provenance
from reprolib.patches import PatchSampler
from reprolib.recipes import get_recipe
from reprolib.train import LossModule, build_model, make_optimizer, train_step

RECIPES = [
    "memnet_denoise",
    "memnet_sr",
    "red_denoise_sigma50",
    "nlrn_denoise_sigma25",
    "dncnn_denoise_sigma25",
    "memorynet_shadow",
    "vdsr_sr",
]
COLUMNS = [
    "model", "device", "batch", "patch", "patches_per_s", "conv_only_patches_per_s", "ratio",
    "threads", "cpu_time_ratio", "recipe", "budget", "iterations", "est_run_minutes",
    "cpu_s_per_step", "est_idle_core_minutes", "load_avg", "hardware", "torch", "commit",
]  # fmt: skip


def bench(name: str, budget: str, seconds: float, device: torch.device) -> dict:
    recipe = get_recipe(name, budget=budget)
    torch.manual_seed(recipe.seed)
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    model = build_model(recipe).to(device)
    cuda = device.type == "cuda"
    if cuda:
        model.to(memory_format=torch.channels_last)
    model.train()
    step_module = LossModule(model, recipe.loss)
    opt = make_optimizer(model, recipe)
    sampler = PatchSampler.from_recipe(recipe)

    def put(t: torch.Tensor) -> torch.Tensor:
        if not cuda:
            return t
        return (
            t.pin_memory()
            .to(device, non_blocking=True)
            .contiguous(memory_format=torch.channels_last)
        )

    fixed = [put(t) for t in sampler.sample()]
    state = {"it": 0}

    def full() -> None:
        inp, tgt = sampler.sample()
        train_step(step_module, opt, recipe, put(inp), put(tgt), state["it"], amp=cuda)
        state["it"] += 1

    def conv_only() -> None:
        train_step(step_module, opt, recipe, fixed[0], fixed[1], state["it"], amp=cuda)
        state["it"] += 1

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    for _ in range(2):  # warm-up (allocator, oneDNN/cuDNN kernel choice)
        full()
        conv_only()
    sync()
    t0 = time.perf_counter()
    conv_only()
    sync()
    per_step = time.perf_counter() - t0
    steps = max(2, int(seconds / 4 / max(per_step, 1e-4)))  # 2 blocks of each kind
    times = {"full": 0.0, "conv": 0.0}
    cpu = {"full": 0.0, "conv": 0.0}
    for _ in range(2):
        for kind, fn in (("conv", conv_only), ("full", full)):
            sync()
            t, c = time.perf_counter(), time.process_time()
            for _ in range(steps):
                fn()
            sync()
            times[kind] += time.perf_counter() - t
            cpu[kind] += time.process_time() - c
    n = 2 * steps * recipe.batch
    pps, conv_pps = n / times["full"], n / times["conv"]
    stamp = provenance.stamp(device)
    return {
        "model": recipe.model, "device": device.type, "batch": recipe.batch,
        "patch": recipe.patch, "patches_per_s": round(pps, 2),
        "conv_only_patches_per_s": round(conv_pps, 2), "ratio": round(pps / conv_pps, 3),
        "threads": torch.get_num_threads(),
        "cpu_time_ratio": round(cpu["conv"] / max(cpu["full"], 1e-9), 3),
        "recipe": recipe.name, "budget": budget,
        "iterations": recipe.iterations,
        "est_run_minutes": round(recipe.iterations * recipe.batch / pps / 60.0, 1),
        "cpu_s_per_step": round(cpu["full"] / (2 * steps), 4),
        "est_idle_core_minutes": round(recipe.iterations * cpu["full"] / (2 * steps) / 60.0, 1),
        "load_avg": round(os.getloadavg()[0], 2), "hardware": stamp["hardware"],
        "torch": stamp["torch"], "commit": stamp["commit"],
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", default="cpu")
    p.add_argument("--recipes", nargs="+", default=RECIPES)
    p.add_argument("--seconds", type=float, default=20.0, help="time budget per recipe")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all)")
    p.add_argument("--out", default=str(claims.results_root() / "bench" / "train.csv"))
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for name in args.recipes:
        row = bench(name, args.budget, args.seconds, torch.device(args.device))
        print(
            f"{row['recipe']:24s} {row['model']:10s} batch {row['batch']:3d} patch "
            f"{row['patch']:3d}: {row['patches_per_s']:8.1f} patches/s, conv only "
            f"{row['conv_only_patches_per_s']:8.1f}, ratio {row['ratio']:.3f}, "
            f"~{row['est_run_minutes']} min/run",
            flush=True,
        )
        rows.append(row)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=COLUMNS).to_csv(out, index=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
