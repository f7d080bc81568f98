"""One training loop for every model and task of the study, resumable and reproducible.

:func:`train` runs a :class:`reprolib.recipes.Recipe` (by name or object) at a budget:

* **Data**: :class:`reprolib.patches.PatchSampler` draws degraded patch pairs on the fly.
* **Objective**: the model's ``compute_loss`` (the paper's objective: MemNet Eq. 12, MemoryNet
  Eq. 7) when the recipe says ``loss="model"``, else the recipe's pixel loss (RED Eq. 4, NLRN
  Sec. 4, DnCNN's half sum of squares).
* **Optimiser**: SGD or Adam with the recipe's learning rate as a pure function of the step
  (:func:`reprolib.recipes.lr_at`), bias learning-rate multiplier and gradient clipping.
* **Reproducibility**: seeds for python, numpy and torch; deterministic algorithms on CPU; a
  checkpoint (model, optimiser, sampler RNG, torch/numpy/python RNG, step, log so far, partial
  log window) every ``ckpt_every`` steps and at the end, written atomically (temporary file then
  rename). A run killed at any point and started again continues from its last checkpoint to
  the same result: bit-identical weights and losses on CPU. (On CUDA, cuDNN autotuning and
  atomics make runs resumable but not bit-identical.)
* **Outputs** in ``out_dir``: ``log.csv`` (iteration, loss, lr, val_psnr, wall_s,
  patches_per_s), ``checkpoint.pt`` (full state), ``model.pt`` (final weights, stored in fp16
  when that changes no validation PSNR by more than 0.005 dB, checked by evaluating both) and
  ``train_summary.json`` (recipe, budget, iterations, patches seen, hardware, wall time, final
  loss, commit - :func:`reprolib.provenance.stamp`). A finished run is never overwritten unless
  ``overwrite=True``; resuming with a different recipe is refused with the differing fields.
* **CUDA**: bf16 autocast (no loss scaling needed) and channels_last; fp32 on CPU, where bf16
  is about 100x slower.
* **Several GPUs** via ``torchrun``: when ``WORLD_SIZE > 1`` the process group is initialised
  (nccl on CUDA, gloo on CPU), the loss module is wrapped in DDP, every rank draws its own patch
  stream (seed, rank) and only rank 0 writes. The batch is per process.

The run folder's layout (file names, atomic writes) is :mod:`reprolib.runs`'s. Validation scores
the model through the study's single evaluation path (:func:`reprolib.evaluate.measure`);
:func:`reprolib.evaluate.evaluate_run` scores a finished run on its test sets.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import math
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from reprolib import evaluate, losses, models, provenance, restorers
from reprolib.models.inference import check_threads, torch_threads
from reprolib.patches import PatchSampler
from reprolib.recipes import (
    Recipe,
    RecipeError,
    apply_budget,
    get_recipe,
    lr_at,
    recipe_diff,
    recipe_from_dict,
    recipe_to_dict,
    required_sets,
    validate,
    with_overrides,
)
from reprolib.restorers import build_model
from reprolib.runs import CHECKPOINT, LOG, MODEL, SNAPSHOTS, SUMMARY, atomic_write

__all__ = [
    "CHECKPOINT",
    "LOG",
    "LOG_COLUMNS",
    "MODEL",
    "SUMMARY",
    "LossModule",
    "RecipeMismatchError",
    "RunError",
    "build_model",
    "check_data",
    "default_out_dir",
    "make_optimizer",
    "recalibrate_batchnorm",
    "resolve_recipe",
    "train",
    "train_step",
]

#: Re-estimating BN statistics (``recipe.bn_stats_patch``): pixels seen (those of 100 batches
#: of 16 patches of 31 px) and patches per batch.
BN_STATS_PIXELS, BN_STATS_BATCH = 100 * 16 * 31 * 31, 8
LOG_COLUMNS = ["iteration", "loss", "lr", "val_psnr", "wall_s", "patches_per_s"]
#: fp16 storage is accepted when no validation image's PSNR moves by more than this (dB).
FP16_TOLERANCE_DB = 0.005
_FORMAT = 1


class RunError(RuntimeError):
    """The output folder holds something this call must not overwrite or cannot resume."""


class RecipeMismatchError(RunError):
    """A checkpoint or finished run in ``out_dir`` was made with a different recipe."""


# ---------------------------------------------------------------------------------------------
# Building blocks (also used by scripts/bench_train.py)
# ---------------------------------------------------------------------------------------------
def resolve_recipe(
    recipe: Recipe | str, budget: str | None = "cpu", overrides: Mapping[str, Any] | None = None
) -> Recipe:
    """A validated recipe at ``budget`` with ``overrides`` applied (names go to get_recipe)."""
    r = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if not isinstance(r, Recipe):
        raise RecipeError(f"recipe must be a name or a Recipe, got {type(recipe).__name__}")
    r = apply_budget(validate(r), budget or r.budget)
    return with_overrides(r, overrides)


class LossModule(nn.Module):
    """``forward(inp, target) -> loss``: the recipe's objective around a model.

    Wrapping the loss in a module lets DDP see the whole computation (calling
    ``model.compute_loss`` on a DDP-wrapped model would bypass gradient synchronisation).
    """

    def __init__(self, model: nn.Module, loss: str) -> None:
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, inp: Tensor, target: Tensor) -> Tensor:
        if self.loss == "model" and hasattr(self.model, "compute_loss"):
            return self.model.compute_loss(inp, target)
        out = self.model(inp).float()
        if self.loss in ("model", "mse"):
            return F.mse_loss(out, target)
        if self.loss == "sse_half":
            return losses.euclidean_loss(out, target)
        return losses.sum_squared_error(out, target)


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """SGD or Adam over two groups: biases (``lr * bias_lr_mult``) and everything else."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in named if not n.endswith("bias")], "lr_mult": 1.0},
        {"params": [p for n, p in named if n.endswith("bias")], "lr_mult": recipe.bias_lr_mult},
    ]
    groups = [g for g in groups if g["params"]]
    for g in groups:
        g["lr"] = recipe.lr * g["lr_mult"]
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
        )
    return torch.optim.Adam(
        groups, lr=recipe.lr, betas=(recipe.momentum, recipe.beta2),
        weight_decay=recipe.weight_decay,
    )  # fmt: skip


def clip_gradients(params: Sequence[Tensor], recipe: Recipe, lr: float) -> None:
    """Gradient clipping as the recipe says (see :class:`reprolib.recipes.Recipe`)."""
    if recipe.clip == "global_norm":
        torch.nn.utils.clip_grad_norm_(params, recipe.clip_value)
    elif recipe.clip == "per_param_norm":
        for p in params:
            if p.grad is not None:
                torch.nn.utils.clip_grad_norm_([p], recipe.clip_value)
    elif recipe.clip == "value_over_lr":  # VDSR Sec. 3.2: [-theta/gamma, theta/gamma]
        torch.nn.utils.clip_grad_value_(params, recipe.clip_value / lr)


def train_step(
    step_module: nn.Module,
    optimizer: torch.optim.Optimizer,
    recipe: Recipe,
    inp: Tensor,
    target: Tensor,
    iteration: int,
    *,
    amp: bool = False,
) -> Tensor:
    """One optimiser step (0-based ``iteration`` sets the lr); returns the detached loss."""
    lr = lr_at(recipe, iteration)
    for g in optimizer.param_groups:
        g["lr"] = lr * g["lr_mult"]
    optimizer.zero_grad(set_to_none=True)
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    with ctx:
        loss = step_module(inp, target)
    loss.backward()
    if recipe.clip != "none":
        params = [p for g in optimizer.param_groups for p in g["params"]]
        clip_gradients(params, recipe, lr)
    optimizer.step()
    return loss.detach().float()


def default_out_dir(recipe: Recipe) -> Path:
    """``train/<recipe name>/<budget>`` under the results root (``REPROLIB_RESULTS``)."""
    from reprolib import claims

    return claims.results_root() / "train" / recipe.name / recipe.budget


def check_data(recipe: Recipe) -> None:
    """Check every set the recipe needs (training, validation, test) before training starts,
    so that a missing or corrupt test set is found in a second, not after hours of training
    (:func:`reprolib.data.check_sets`: presence and file hashes, not decoded pixels)."""
    from reprolib import data

    data.check_sets(required_sets(recipe), f"recipe {recipe.name}")


# ---------------------------------------------------------------------------------------------
# Validation and evaluation
# ---------------------------------------------------------------------------------------------
def _validate(model: nn.Module, recipe: Recipe, device: torch.device) -> pd.DataFrame:
    """Per-image scores on the first ``val_limit`` images of the validation set (eval mode)."""
    was_training = model.training
    try:
        return evaluate.measure(
            restorers.model_restorer(model, device), recipe.val_set, recipe.val_setting,
            recipe.protocol, method_name=f"{recipe.name}@{recipe.budget}",
            limit=recipe.val_limit, progress=False,
        )  # fmt: skip
    finally:
        model.train(was_training)


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module,
    recipe: Recipe,
    batches: int = 100,
    patch: int | None = None,
    batch: int | None = None,
) -> nn.Module:
    """Recompute every BatchNorm's running statistics with the model's current weights.

    The running mean and variance are reset and re-estimated as a plain average (``momentum =
    None``) over ``batches`` training batches of ``recipe``'s patch stream (drawn with a seed of
    its own, so the training stream is not disturbed), with patches of side ``patch`` and
    ``batch`` of them per step (default: the recipe's); weights are untouched. Two ways the
    running statistics can miss what the network sees at test time, separated by the MemNet
    diagnosis (``scripts/memnet_diagnosis.py``): BatchNorm's exponential average (momentum 0.1)
    remembers roughly the last ten steps, stale when weights still move fast; and statistics of
    small patches, most of whose pixels lie within the receptive field of the zero-padded
    border, differ from those of a whole image. Returns ``model`` in the mode it was in.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return model
    dev = next(model.parameters()).device
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    model.train()
    stream = {"seed": recipe.seed + 7919, "patch": patch or recipe.patch}
    stream["batch"] = batch or recipe.batch
    sampler = PatchSampler.from_recipe(with_overrides(recipe, stream))
    try:
        for _ in range(batches):
            model(sampler.sample()[0].to(dev))
    finally:
        for m, mom in zip(bns, momenta, strict=True):
            m.momentum = mom
        model.train(was_training)
    return model


def _save_snapshot(out: Path, model: nn.Module, it: int) -> None:
    """The weights at a validation point, ``snapshots/model_<iteration>.pt`` (fp16): what the
    budget-scaling curves score on the test sets later, without retraining."""
    state = {k: (v.half() if v.is_floating_point() else v).cpu()
             for k, v in model.state_dict().items()}  # fmt: skip
    path = out / SNAPSHOTS / f"model_{it:07d}.pt"
    path.parent.mkdir(exist_ok=True)
    atomic_write(path, lambda tmp: torch.save({"iteration": it, "model": state}, tmp))


def _half_roundtrip(state: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def _fp16_check(
    model: nn.Module, recipe: Recipe, device: torch.device, p32: np.ndarray | None = None
) -> dict[str, Any]:
    """Evaluate the validation images with fp32 weights (or take ``p32``, their per-image PSNR
    already measured) and with fp16-rounded weights."""
    if p32 is None:
        p32 = _validate(model, recipe, device)["psnr"].to_numpy()
    m16 = copy.deepcopy(model)
    m16.load_state_dict({k: v.float() if v.is_floating_point() else v
                         for k, v in _half_roundtrip(model.state_dict()).items()})  # fmt: skip
    p16 = _validate(m16, recipe, device)["psnr"].to_numpy()
    delta = float(np.max(np.abs(p32 - p16))) if len(p32) else 0.0
    finite = all(
        bool(torch.isfinite(v).all()) for v in _half_roundtrip(model.state_dict()).values()
        if v.is_floating_point()
    )  # fmt: skip
    return {
        "val_psnr_fp32": float(np.mean(p32)),
        "val_psnr_fp16": float(np.mean(p16)),
        "max_abs_delta_db": delta,
        "tolerance_db": FP16_TOLERANCE_DB,
        "use_fp16": bool(finite and delta <= FP16_TOLERANCE_DB),
    }


# ---------------------------------------------------------------------------------------------
# Distributed setup, checkpoints, run folder
# ---------------------------------------------------------------------------------------------
def _distributed(device: str | torch.device | None) -> tuple[int, int, torch.device, bool]:
    """(rank, world size, device, created the process group)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        dev = (
            torch.device(device)
            if device
            else torch.device("cuda" if torch.cuda.is_available() else "cpu")
        )
        return 0, 1, dev, False
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if device:
        dev = torch.device(device)
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", local)
    else:
        dev = torch.device("cuda", local) if torch.cuda.is_available() else torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    created = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank,
                                world_size=world)  # fmt: skip
        created = True
    return rank, world, dev, created


def _rank_state(sampler: PatchSampler, device: torch.device) -> dict[str, Any]:
    return {
        "sampler": sampler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "numpy_rng": np.random.get_state(),
        "python_rng": random.getstate(),
    }


def _restore_rank_state(state: dict[str, Any], sampler: PatchSampler, dev: torch.device) -> None:
    sampler.load_state_dict(state["sampler"])
    torch.set_rng_state(state["torch_rng"])
    if dev.type == "cuda" and state.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(state["cuda_rng"], dev)
    np.random.set_state(state["numpy_rng"])
    random.setstate(state["python_rng"])


def _write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
            w.writeheader()
            w.writerows(rows)

    atomic_write(path, write)


def _append_log(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", newline="") as f:
        csv.DictWriter(f, fieldnames=LOG_COLUMNS).writerow(row)


def _check_run_dir(
    out: Path, recipe: Recipe, resume: bool, overwrite: bool, rank: int
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(finished summary, checkpoint) found in ``out``, after the safety checks."""
    summary_path, ckpt_path = out / SUMMARY, out / CHECKPOINT
    if overwrite:
        if rank == 0:
            for name in (SUMMARY, MODEL, CHECKPOINT, LOG):
                if (out / name).exists():
                    (out / name).unlink()
        return None, None
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        done = recipe_from_dict(summary["recipe_fields"])
        diff = recipe_diff(done, recipe, training_only=True)
        if diff:
            raise RecipeMismatchError(
                f"{out} holds a finished run of a different recipe; not overwriting it. "
                f"Differences (finished -> requested): {'; '.join(diff)}. Use another out_dir "
                "or overwrite=True."
            )
        return summary, None
    if not ckpt_path.is_file():
        return None, None
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    if not resume:
        raise RunError(
            f"{out} holds an unfinished run (iteration {ckpt['iteration']} of "
            f"{ckpt['recipe']['iterations']}); pass resume=True to continue it or "
            "overwrite=True to discard it"
        )
    diff = recipe_diff(recipe_from_dict(ckpt["recipe"]), recipe, training_only=True)
    if diff:
        raise RecipeMismatchError(
            f"refusing to resume {ckpt_path}: it was made with a different recipe. Differences "
            f"(checkpoint -> requested): {'; '.join(diff)}. Use another out_dir or overwrite=True."
        )
    return None, ckpt


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------
def train(
    recipe: Recipe | str,
    budget: str | None = "cpu",
    out_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    resume: bool = True,
    max_minutes: float | None = None,
    stop_after: int | None = None,
    progress: bool = True,
    *,
    overrides: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    threads: int | None = None,
    callback: Callable[[int, Tensor, nn.Module], None] | None = None,
) -> dict[str, Any]:
    """Train ``recipe`` at ``budget`` into ``out_dir``; return the run summary (a dict).

    Args:
        recipe: a recipe name (``"memnet_denoise"``, ``"nlrn_denoise_sigma25"``) or object.
        budget: ``"smoke"``, ``"cpu"``, ``"gpu"`` or ``"paper"`` (:mod:`reprolib.recipes`);
            ``None`` keeps a Recipe object's own budget.
        out_dir: run folder (default ``results/train/<recipe>/<budget>``).
        device: ``"cpu"``, ``"cuda"``, ... (default: CUDA when available).
        resume: continue from ``checkpoint.pt`` when present (else refuse to touch it).
        max_minutes: stop (with a checkpoint) once this call has run that long - for chunks.
        stop_after: stop (with a checkpoint) after this global iteration.
        progress: tqdm bar with loss and throughput.
        overrides: recipe fields or model keywords (:func:`reprolib.recipes.with_overrides`).
        overwrite: discard whatever run ``out_dir`` holds (the only way to replace results).
        threads: torch CPU threads for this call (default: torch's). On a machine shared with
            other jobs, 1 thread per process is often faster than oversubscribed cores.
        callback: called as ``callback(iteration, loss, model)`` after every step (tests,
            monitors); an exception it raises stops the run like a crash would.

    Returns the summary: ``status`` is ``"finished"`` (also written to ``train_summary.json``)
    or ``"paused"`` (stopped early; call again to continue).
    """
    r = resolve_recipe(recipe, budget, overrides)
    if max_minutes is not None and not (isinstance(max_minutes, (int, float)) and max_minutes > 0):
        raise ValueError(f"max_minutes must be a positive number or None, got {max_minutes!r}")
    if stop_after is not None and (
        isinstance(stop_after, bool) or not isinstance(stop_after, int) or stop_after < 1
    ):
        raise ValueError(f"stop_after must be a positive integer or None, got {stop_after!r}")
    check_threads(threads)
    check_data(r)  # a missing or corrupt set fails now, not after the training
    rank, world, dev, created_group = _distributed(device)
    out = Path(out_dir) if out_dir is not None else default_out_dir(r)
    det_before = torch.are_deterministic_algorithms_enabled()
    try:
        with torch_threads(threads):
            return _train(
                r, out, dev, rank, world, resume, overwrite, max_minutes, stop_after, progress,
                callback, dict(overrides or {}),
            )  # fmt: skip
    finally:
        torch.use_deterministic_algorithms(det_before)
        if created_group:
            dist.barrier()
            dist.destroy_process_group()


def _train(
    r: Recipe,
    out: Path,
    dev: torch.device,
    rank: int,
    world: int,
    resume: bool,
    overwrite: bool,
    max_minutes: float | None,
    stop_after: int | None,
    progress: bool,
    callback: Callable[[int, Tensor, nn.Module], None] | None,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    t_call = time.perf_counter()
    cuda = dev.type == "cuda"
    # Seeds, then the model (its initialisation draws from torch's generator).
    random.seed(r.seed)
    np.random.seed(r.seed % 2**32)
    torch.manual_seed(r.seed)
    if cuda:
        torch.backends.cudnn.benchmark = True
    else:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.set_flush_denormal(True)  # denormals make CPU softmax/BN many times slower
    model = build_model(r)

    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    if world > 1:
        dist.barrier()
    finished, ckpt = _check_run_dir(out, r, resume, overwrite, rank)
    if world > 1:
        dist.barrier()  # rank 0 may have cleared the folder (overwrite=True)
    if finished is not None:
        if progress and rank == 0:
            print(f"{out}: already finished ({finished['iterations']} iterations); not retraining")
        return finished

    sampler = PatchSampler.from_recipe(r, rank=rank)
    start, log_rows, window, wall_before = 0, [], [], 0.0
    if ckpt is not None:
        if ckpt.get("world_size", 1) != world:
            raise RunError(
                f"{out / CHECKPOINT} was written by {ckpt.get('world_size', 1)} process(es); "
                f"resume it with the same number (this run has {world})"
            )
        model.load_state_dict(ckpt["model"])
        start, log_rows = int(ckpt["iteration"]), list(ckpt["log"])
        window = [torch.tensor(v, dtype=torch.float32, device=dev) for v in ckpt["window"]]
        wall_before = float(ckpt["wall_s"])
    model.to(dev)
    if cuda:
        model.to(memory_format=torch.channels_last)
    loss_module = LossModule(model, r.loss)
    optimizer = make_optimizer(model, r)
    if ckpt is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
        _restore_rank_state(ckpt["ranks"][rank], sampler, dev)
    step_module: nn.Module = loss_module
    if world > 1:
        step_module = nn.parallel.DistributedDataParallel(
            loss_module,
            device_ids=[dev.index] if cuda else None,
            # MemoryNet's ablations leave some memory parameters out of the graph
            find_unused_parameters=r.family == "memorynet",
        )
    log_path = out / LOG
    if rank == 0:
        _write_log(log_path, log_rows)  # drops rows written after the checkpoint

    def save_checkpoint(it: int, wall: float) -> None:
        mine = _rank_state(sampler, dev)
        states = [mine]
        if world > 1:
            states = [None] * world
            dist.all_gather_object(states, mine)
        if rank != 0:
            return
        payload = {
            "format": _FORMAT, "iteration": it, "recipe": recipe_to_dict(r),
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": {"lr": lr_at(r, max(it - 1, 0)), "note": "lr is a function of the step"},
            "ranks": states, "log": log_rows, "window": [float(v) for v in window],
            "wall_s": wall, "world_size": world,
        }  # fmt: skip
        atomic_write(out / CHECKPOINT, lambda tmp: torch.save(payload, tmp))

    model.train()
    it = start
    bar = tqdm(
        total=r.iterations, initial=start, desc=f"{r.name}@{r.budget}",
        disable=not progress or rank != 0, dynamic_ncols=True,
    )  # fmt: skip
    t_window, it_window = time.perf_counter(), start
    stop_flag = torch.zeros(1, device=dev if cuda else "cpu")
    status = "finished"
    last_val: np.ndarray | None = None
    while it < r.iterations:
        inp, tgt = sampler.sample()
        if cuda:
            inp = inp.pin_memory().to(dev, non_blocking=True)
            tgt = tgt.pin_memory().to(dev, non_blocking=True)
            inp = inp.contiguous(memory_format=torch.channels_last)
            tgt = tgt.contiguous(memory_format=torch.channels_last)
        loss = train_step(step_module, optimizer, r, inp, tgt, it, amp=cuda)
        it += 1
        window.append(loss)
        if callback is not None:
            callback(it, loss, model)
        is_val = it % r.val_every == 0 or it == r.iterations
        if it % r.log_every == 0 or is_val:
            mean_loss = torch.stack(window).double().mean().item()
            if not math.isfinite(mean_loss):
                raise FloatingPointError(
                    f"loss became {mean_loss} before iteration {it}; the last checkpoint in "
                    f"{out} is from before the divergence (lower lr or check the recipe)"
                )
            now = time.perf_counter()
            pps = (it - it_window) * r.batch * world / max(now - t_window, 1e-9)
            val = float("nan")
            if is_val and rank == 0:
                last_val = _validate(model, r, dev)["psnr"].to_numpy()
                val = float(last_val.mean())
                _save_snapshot(out, model, it)
            row = {
                "iteration": it, "loss": mean_loss, "lr": lr_at(r, it - 1),
                "val_psnr": val, "wall_s": round(wall_before + now - t_call, 3),
                "patches_per_s": round(pps, 2),
            }  # fmt: skip
            log_rows.append(row)
            if rank == 0:
                _append_log(log_path, row)
                bar.set_postfix(loss=f"{mean_loss:.4g}", pps=f"{pps:.0f}",
                                val=f"{val:.2f}" if is_val else "-")  # fmt: skip
            window = []
            t_window, it_window = time.perf_counter(), it
        bar.update(1)
        stop = stop_after is not None and it >= stop_after and it < r.iterations
        if max_minutes is not None and it < r.iterations:
            late = time.perf_counter() - t_call > 60.0 * max_minutes
            if world > 1:  # every rank must stop at the same step: rank 0's clock decides
                if it % 10 == 0:
                    stop_flag.fill_(float(late and rank == 0))
                    dist.all_reduce(stop_flag, op=dist.ReduceOp.MAX)
                    stop = stop or bool(stop_flag.item())
            else:
                stop = stop or late
        if it % r.ckpt_every == 0 or it == r.iterations or stop:
            save_checkpoint(it, wall_before + time.perf_counter() - t_call)
        if stop:
            status = "paused"
            break
    bar.close()

    wall = wall_before + time.perf_counter() - t_call
    summary: dict[str, Any] = {
        "status": status, "recipe": r.name, "budget": r.budget, "paper": r.paper,
        "model": r.model, "model_kwargs": r.model_kwargs,
        "conv_weights": models.conv_weight_params(model), "params": models.total_params(model),
        "iterations": it, "iterations_total": r.iterations, "batch": r.batch, "patch": r.patch,
        "world_size": world, "patches_seen": it * r.batch * world,
        "device": str(dev), "precision": "bf16 autocast" if cuda else "fp32",
        "threads": torch.get_num_threads(), "wall_s": round(wall, 3),
        "wall_s_this_call": round(time.perf_counter() - t_call, 3),
        "final_loss": log_rows[-1]["loss"] if log_rows else None,
        "final_val_psnr": next((row["val_psnr"] for row in reversed(log_rows)
                                if not math.isnan(row["val_psnr"])), None),
        "val": f"{r.val_set} {r.val_setting} (first {r.val_limit}, protocol {r.protocol})",
        "overrides": overrides, "out_dir": str(out), "recipe_fields": recipe_to_dict(r),
    }  # fmt: skip
    if status != "finished" or rank != 0:
        return summary
    if r.bn_stats_patch:
        side = r.bn_stats_patch
        batches = max(8, -(-BN_STATS_PIXELS // (BN_STATS_BATCH * side * side)))
        recalibrate_batchnorm(model, r, batches=batches, patch=side, batch=BN_STATS_BATCH)
        last_val = _validate(model, r, dev)["psnr"].to_numpy()
        summary["bn_stats"] = (f"re-estimated after training on {batches} batches of "
                               f"{BN_STATS_BATCH} patches of {side} px")  # fmt: skip
        summary["final_val_psnr_bn_restimated"] = float(last_val.mean())
    check = _fp16_check(model, r, dev, last_val)
    state = model.state_dict()
    stored = _half_roundtrip(state) if check["use_fp16"] else state
    payload = {
        "recipe": recipe_to_dict(r),
        "model": {k: v.cpu() for k, v in stored.items()},
        "dtype": "float16" if check["use_fp16"] else "float32",
        "fp16_check": check,
    }
    atomic_write(out / MODEL, lambda tmp: torch.save(payload, tmp))
    summary.update(
        model_file=MODEL, model_dtype=payload["dtype"], fp16_check=check,
        **provenance.stamp(dev),
    )  # fmt: skip
    text = json.dumps(summary, indent=2, default=str)
    atomic_write(out / SUMMARY, lambda tmp: tmp.write_text(text))
    return summary
