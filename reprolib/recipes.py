"""Each paper's training recipe as data, and the budgets that scale a recipe to a machine.

A :class:`Recipe` is everything :func:`reprolib.train.train` needs to train one model: which
network (a :mod:`reprolib.models` registry name plus keywords), which data (training split,
channel, degradation and its levels, patch size, augmentation), which optimiser and learning-rate
schedule, which gradient clipping and loss, and how the result is validated and finally tested
(sets, settings and the :mod:`reprolib.protocols` preset). Recipes are looked up by name::

    get_recipe("memnet_denoise")            # one model for sigma 30/50/70 (MemNet Sec. 5.1)
    get_recipe("nlrn_denoise", sigma=25)     # one model per noise level (NLRN Sec. 5)
    get_recipe("nlrn_denoise_sigma25")       # the same

Every number below cites the paper section or the authors' released code
(``shared/reference/official_code_notes.md``); where the paper and the code disagree the paper is
the default and the code's value is named in ``source``. Where both are silent the choice is ours
and ``source`` says "chosen".

Budgets (:data:`BUDGETS`) scale a recipe without changing its nature (same optimiser, loss,
schedule *shape*, data and degradations): ``smoke`` (seconds, tiny widths: CI), ``cpu`` (reduced
width/depth and iterations so that one run takes 10-20 minutes on 2 CPU cores, calibrated with
``scripts/bench_train.py``), ``gpu`` (the full architecture, a compressed schedule meant to fit a
few 9-minute chunks on one H100; its iteration counts are estimates from FLOP counts, not
measurements) and ``paper`` (the paper's schedule). :func:`apply_budget` rescales the schedule's
milestones and warm-up in proportion to the iteration count.

Schedules are expressed in iterations (optimizer steps). An "epoch" of the papers depends on how
many patches their fixed grids produce; the conversions are written next to each recipe.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from reprolib import protocols
from reprolib.degrade import PROXY_TASKS, SCRATCH_LEVEL
from reprolib.imageops import CHANNELS

__all__ = [
    "BUDGETS",
    "EVALUATION_ONLY_FIELDS",
    "PROXY_TASKS",
    "Recipe",
    "RecipeError",
    "apply_budget",
    "available",
    "get_recipe",
    "lr_at",
    "recipe_diff",
    "recipe_from_dict",
    "recipe_to_dict",
    "required_sets",
    "spec_fields",
    "training_fields",
    "validate",
    "with_overrides",
]

#: Budget names, cheapest first.
BUDGETS: tuple[str, ...] = ("smoke", "cpu", "gpu", "paper")

# MemoryNet's tasks are trained and scored on synthetic proxies (``degrade.synthetic_proxy``,
# PROXY_TASKS): ISTD and GoPro are not available here, so the numbers are not comparable.
_TASKS = protocols.TASKS
_CHANNELS = CHANNELS
_OPTIMIZERS = ("sgd", "adam")
_SCHEDULES = ("constant", "multistep", "cosine")
_CLIPS = ("none", "global_norm", "per_param_norm", "value_over_lr")
_LOSSES = ("model", "mse", "sse", "sse_half")


class RecipeError(ValueError):
    """An unknown recipe or budget name, or a bad recipe value."""


@dataclass(frozen=True)
class Recipe:
    """One training recipe (see the module docstring). All schedule positions are iterations.

    Attributes:
        name: registry key of the resolved recipe, e.g. ``"nlrn_denoise_sigma25"``.
        family: ``"memnet"``, ``"red"``, ``"nlrn"``, ``"dncnn"``, ``"vdsr"`` or ``"memorynet"``
            (budgets are defined per family).
        paper: short citation of the source paper.
        model, model_kwargs: ``reprolib.models.build(model, **model_kwargs)``.
        task: ``"denoise"``, ``"sr"``, ``"jpeg"``, ``"inpaint"``, ``"shadow"`` or
            ``"motion_blur"``.
        levels: sigmas (0-255 scale), scales, JPEG qualities or inpainting font sizes
            (``degrade.SCRATCH_LEVEL``: scratches); one is drawn per patch, so a tuple of several
            trains one model for all (MemNet Sec. 5.1). Empty for proxies.
        train_set: :mod:`reprolib.data` split the patches come from.
        channel: ``"gray"`` (MATLAB rgb2gray), ``"y"`` (rgb2ycbcr luminance) or ``"rgb"``.
        patch, batch, iterations: patch side (pixels), patches per step (per process), steps.
        optimizer: ``"sgd"`` (momentum ``momentum``) or ``"adam"`` (betas ``momentum, beta2``).
        lr, weight_decay: base learning rate and L2 weight decay.
        bias_lr_mult: learning-rate multiplier of bias parameters (Caffe's ``lr_mult``).
        schedule: ``"constant"``, ``"multistep"`` (times ``gamma`` at each of ``milestones``) or
            ``"cosine"`` (to ``lr_min`` at the end); ``warmup`` linear warm-up steps first.
        clip, clip_value: gradient clipping: ``"global_norm"`` (total norm, as
            ``clip_grad_norm_``), ``"per_param_norm"`` (each tensor's norm, TensorFlow
            ``clip_by_norm`` per variable), ``"value_over_lr"`` (VDSR's adjustable clipping: every
            element to ``[-clip_value/lr, clip_value/lr]`` at the current ``lr``) or ``"none"``.
        loss: ``"model"`` (the model's ``compute_loss``, the paper's objective, else MSE),
            ``"mse"`` (pixel mean), ``"sse"`` (per-image sum of squares, batch mean) or
            ``"sse_half"`` (half of that: ``1/2 ||.||^2``).
        scale_aug: image rescaling factors added to the training set (1.0 = original only).
        train_limit: use only the first ``train_limit`` training images (budgets; ``None``: all).
        protocol: evaluation preset of :mod:`reprolib.protocols` (``"proxy"`` for proxies).
        val_set, val_setting, val_limit, val_every: periodic validation (monitoring only, never
            model selection) on the first ``val_limit`` images of ``val_set``.
        test_sets, test_settings: the final evaluation grid (sets x settings).
        ckpt_every, log_every: checkpoint and log-row periods in iterations.
        seed: master seed (model init, patch stream).
        bn_stats_patch: 0 keeps BatchNorm's running statistics as training left them (the
            papers'); ``N`` re-estimates them once training ends on ``N``-pixel patches of the
            training stream, weights untouched (:func:`reprolib.train.recalibrate_batchnorm`;
            the MemNet diagnosis shows statistics of 31-pixel patches failing on whole images).
        test_ensemble: score the final evaluation with the x8 self-ensemble (the outputs of the
            8 rotated and flipped views averaged: RED Sec. 3.5's multi-view testing, NLRN-MV);
            evaluation only, so a run that sets it reuses the weights of one that does not.
        budget: which budget this recipe has been scaled to.
        source: citations for every choice, paper vs code vs chosen.
    """

    name: str
    family: str
    paper: str
    model: str
    task: str
    levels: tuple[int, ...]
    train_set: str
    channel: str
    patch: int
    batch: int
    iterations: int
    optimizer: str
    lr: float
    protocol: str
    val_set: str
    val_setting: str
    test_sets: tuple[str, ...]
    test_settings: tuple[str, ...]
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    momentum: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    bias_lr_mult: float = 1.0
    schedule: str = "constant"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    warmup: int = 0
    lr_min: float = 0.0
    clip: str = "none"
    clip_value: float = 0.0
    loss: str = "model"
    scale_aug: tuple[float, ...] = (1.0,)
    train_limit: int | None = None
    val_limit: int = 3
    val_every: int = 5000
    ckpt_every: int = 5000
    log_every: int = 100
    seed: int = 0
    budget: str = "paper"
    source: str = ""
    bn_stats_patch: int = 0
    test_ensemble: bool = False

    @property
    def settings(self) -> tuple[str, ...]:
        """The training levels as protocol settings (``'sigma30'``, ``'x2'``, ``'q10'``,
        ``'font10'``, ``'scratch'``; a proxy's task name)."""
        if not self.levels:
            return (self.task,)
        return tuple(protocols.setting_name(self.task, v) for v in self.levels)

    @property
    def in_channels(self) -> int:
        return 3 if self.channel == "rgb" else 1


# ---------------------------------------------------------------------------------------------
# The recipes (paper budget). Each builder returns the recipe for one (optional) level.
# ---------------------------------------------------------------------------------------------
_MEMNET_SRC = (
    "MemNet Sec. 5.1: SGD, mini-batch 64 (code: 32 for M6R6), momentum 0.9, weight decay 1e-4, "
    "He init, lr 0.1 divided by 10 every 20 epochs (code: x0.1 every 200k iterations; the paper's "
    "total length is unstated, 3 stages = 600k iterations chosen), adjustable gradient clipping "
    "as VDSR (code: 0.01 / lr per element), 31x31 patches (the paper cuts them on a stride-21 grid;"
    " here drawn at random positions, the same distribution in expectation), flip/rotate "
    "augmentation following DRRN [34], one model for all levels of a task, gray images for "
    "denoising and the luminance for SR/JPEG; code: bias lr multiplier 0.1 (option "
    "bias_lr_mult). Loss: the model's Eq. 12 (multi-supervised) objective."
)


#: MemNet's named deviation (``memnet_<task>_identity_adam``): the two changes that make the
#: ``cpu``-budget MemNet learn (scripts/memnet_diagnosis.py; differences register entries
#: ``memnet-recon-init`` and ``memnet-optimiser``). Everything else is the paper's recipe.
MEMNET_IDENTITY_ADAM: dict[str, Any] = dict(optimizer="adam", lr=1e-3)
_MEMNET_IDENTITY_ADAM_SRC = (
    " DEVIATION (recipe memnet_<task>_identity_adam, not the paper's): the ReconNet conv starts "
    "at zero (recon_init='zero', so the network starts as the identity, at its input) and Adam "
    "with its default settings (lr 1e-3, betas 0.9/0.999) replaces SGD lr 0.1; schedule shape, "
    "weight decay, clipping "
    "rule, batch, patches and loss are the paper's. Why: scripts/memnet_diagnosis.py."
)


#: Patch side on which the denoising deviation re-estimates BatchNorm statistics after training.
MEMNET_BN_STATS_PATCH = 128
_MEMNET_BN_SRC = (
    " DEVIATION (denoising): BatchNorm running statistics re-estimated after training on 128 px "
    "patches of the training stream (bn_stats_patch); statistics of 31 px patches made the "
    "inference-mode output blow up on whole images (scripts/memnet_diagnosis.py)."
)


def _memnet(task: str, variant: str = "paper") -> Recipe:
    per_task = {
        "denoise": dict(
            levels=(30, 50, 70), train_set="BSD300", channel="gray", protocol="memnet_denoise",
            val_set="Set12", val_setting="sigma50", test_sets=("BSD200",),
            test_settings=("sigma30", "sigma50", "sigma70"),
        ),
        "sr": dict(
            levels=(2, 3, 4), train_set="291", channel="y", protocol="memnet_sr",
            val_set="Set5", val_setting="x3", test_sets=("Set5", "Set14", "BSD100", "Urban100"),
            test_settings=("x2", "x3", "x4"),
        ),
        "jpeg": dict(
            levels=(10, 20), train_set="BSD300", channel="y", protocol="memnet_jpeg",
            val_set="Set12", val_setting="q10", test_sets=("Classic5", "LIVE1"),
            test_settings=("q10", "q20"),
        ),
    }[task]  # fmt: skip
    recipe = Recipe(
        name=f"memnet_{task}", family="memnet", paper="Tai et al., MemNet, ICCV 2017",
        model="memnet_m6r6", model_kwargs=dict(recon_bn_per_block=True), task=task, patch=31,
        batch=64, iterations=600_000,
        optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4, schedule="multistep",
        milestones=(200_000, 400_000), gamma=0.1, clip="value_over_lr", clip_value=0.01,
        loss="model", val_limit=3, val_every=20_000, ckpt_every=5_000, log_every=200,
        source=_MEMNET_SRC, **per_task,
    )  # fmt: skip
    if variant == "paper":
        return recipe
    # Denoising: BN statistics of 31 px patches fail on whole images (the Table 3 blow-up,
    # results/memnet/diagnosis); re-estimated on 128 px patches once training ends.
    bn = dict(bn_stats_patch=MEMNET_BN_STATS_PATCH) if task == "denoise" else {}
    return replace(
        recipe, name=f"memnet_{task}_identity_adam", **MEMNET_IDENTITY_ADAM, **bn,
        model_kwargs=dict(recipe.model_kwargs, recon_init="zero"),
        source=_MEMNET_SRC + _MEMNET_IDENTITY_ADAM_SRC + (_MEMNET_BN_SRC if bn else ""),
    )  # fmt: skip


_RED_SRC = (
    "RED-Net Sec. 3.4: Adam, base lr 1e-4, default betas/eps [48], same lr for every layer, MSE "
    "of Eq. 4 (per-image squared Frobenius norm, batch mean); Sec. 5.1: 50x50 training patches; "
    "300 BSD images (train + val) for every task; Sec. 5.2: one model per noise level; Sec. 5.3:"
    " 'Blind super-resolution': one model for all SR scales (Table 8, recipe red_sr); Tables "
    "4-7 read as one model per scale (red_sr_x2/x3/x4: Table 8's 'single network' is the "
    "exception the text sets apart, and the released weights are per scale); Table 3 blind "
    "denoising: one RED30 for patches 'of different levels of noises' (red_denoise_blind: the "
    "four test levels 10/30/50/70, one drawn per patch, chosen); Sec. 5.4 JPEG: MATLAB JPEG "
    "q10/q20, one model per quality as the released weights (red_jpeg_q10/q20), Y channel "
    "(code), same 300 BSD images; Sec. 5.6 inpainting: patches 'with text on them' mapped to "
    "the original patches, LIVE1 with text of font size 10/20 and random scratches "
    "(red_inpaint: one model for the three, setting drawn per patch, as the network 'trained on"
    " ... the text of font sizes 10 and 20'; scratches in the mix, the Y channel of the LIVE1 "
    "JPEG task and only windows with corrupted pixels: chosen). Unstated, chosen: batch 64, "
    "200k iterations, constant lr, flip/rotate augmentation. Model: RED30 (Sec. 5)."
)


#: Per RED task: setting prefix, channel, protocol, validation set, test sets (Sec. 5).
_RED_TASKS = {
    "denoise": ("sigma", "gray", "red", "Set12", ("BSD200",)),
    "jpeg": ("q", "y", "red_jpeg", "Set12", ("LIVE1",)),
    "sr": ("x", "y", "red_sr", "Set5", ("Set5", "Set14", "BSD100")),
    "inpaint": ("font", "y", "red_inpaint", "Set12", ("LIVE1",)),
}
#: Models for several levels (Table 3 denoising, Table 8 SR, Sec. 5.6 inpainting: font sizes 10
#: and 20 and scratches): name, levels, validation level.
_RED_BLIND = {
    "denoise": ("red_denoise_blind", (10, 30, 50, 70), 50),
    "sr": ("red_sr", (2, 3, 4), 3),
    "inpaint": ("red_inpaint", (10, 20, SCRATCH_LEVEL), 10),
}


def _red(task: str, level: int | None) -> Recipe:
    """RED30 for one task: one model per level (Tables 2, 4-7, 9), or with ``level=None`` one
    blind model for every level (Table 3 denoising, Table 8 SR, Sec. 5.6 inpainting)."""
    prefix, channel, protocol, val_set, test_sets = _RED_TASKS[task]
    if level is None:
        name, levels, val_level = _RED_BLIND[task]
    else:
        name, levels, val_level = f"red_{task}_{prefix}{level}", (level,), level
    per_task = dict(
        name=name,
        levels=levels,
        channel=channel,
        protocol=protocol,
        val_set=val_set,
        val_setting=protocols.setting_name(task, val_level),
        test_sets=test_sets,
        test_settings=tuple(protocols.setting_name(task, lv) for lv in levels),
    )
    return Recipe(
        family="red", paper="Mao et al., RED-Net, NIPS 2016 / arXiv:1606.08921", model="red30",
        task=task, train_set="BSD300", patch=50, batch=64, iterations=200_000, optimizer="adam",
        lr=1e-4, momentum=0.9, beta2=0.999, schedule="constant", loss="sse", val_limit=3,
        val_every=10_000, ckpt_every=5_000, log_every=200, source=_RED_SRC, **per_task,
    )  # fmt: skip


_NLRN_SRC = (
    "NLRN Sec. 5 'Training Settings': Adam lr 1e-3 halved five times (code v0: every 75k "
    "steps, final checkpoint ~400k steps), Xavier init, gradient clipped at norm 0.5 (code: "
    "2.5 per variable -> clip='per_param_norm', clip_value=2.5), mini-batch 16, patches the "
    "size of the neighbourhood (paper: q = 45; code: 43x43 patches; 43 used, the model's q=45 "
    "then wraps circularly by 1 px), flip/rotate/scale augmentation (scales unstated: DnCNN's "
    "1, 0.9, 0.8, 0.7 chosen), one model per noise level; loss 1/2 ||I_hat + I - I~||^2 "
    "(Sec. 4) on the [0, 1] scale (v0 works on [0, 255]; the clip threshold acts on this "
    "gradient). Denoising setting (1): BSD400 gray, Set12/BSD68/Urban100 (Table 4, DnCNN "
    "protocol); setting (2): BSD300, BSD200 at half size (Table 5, MemNet protocol). SR: 291 "
    "images, Y channel, one model for x2/x3/x4."
)


def _nlrn(task: str, level: int | None, setup: str = "bsd400") -> Recipe:
    if task == "denoise" and setup == "bsd400":
        per_task = dict(
            name=f"nlrn_denoise_sigma{level}",
            levels=(level,),
            train_set="BSD400",
            channel="gray",
            protocol="dncnn_denoise",
            val_set="Set12",
            val_setting=f"sigma{level}",
            test_sets=("Set12", "BSD68", "Urban100-gray"),
            test_settings=(f"sigma{level}",),
        )
    elif task == "denoise":
        per_task = dict(
            name=f"nlrn_denoise_bsd300_sigma{level}",
            levels=(level,),
            train_set="BSD300",
            channel="gray",
            protocol="memnet_denoise",
            val_set="Set12",
            val_setting=f"sigma{level}",
            test_sets=("BSD200", "Urban100-gray"),
            test_settings=(f"sigma{level}",),
        )
    else:
        per_task = dict(
            name="nlrn_sr",
            levels=(2, 3, 4),
            train_set="291",
            channel="y",
            protocol="nlrn_sr",
            val_set="Set5",
            val_setting="x3",
            test_sets=("Set5", "Set14", "BSD100", "Urban100"),
            test_settings=("x2", "x3", "x4"),
        )
    return Recipe(
        family="nlrn", paper="Liu et al., NLRN, NeurIPS 2018", model="nlrn", task=task,
        patch=43, batch=16, iterations=400_000, optimizer="adam", lr=1e-3, schedule="multistep",
        milestones=(75_000, 150_000, 225_000, 300_000, 375_000), gamma=0.5,
        clip="global_norm", clip_value=0.5, loss="sse_half", scale_aug=(1.0, 0.9, 0.8, 0.7),
        val_limit=3, val_every=20_000, ckpt_every=5_000, log_every=200, source=_NLRN_SRC,
        **per_task,
    )  # fmt: skip


_DNCNN_SRC = (
    "DnCNN baseline (Zhang et al., TIP 2017), following the authors' released MatConvNet training "
    "code that produced the published weights (cszn/DnCNN TrainingCodes/DnCNN_TrainingCodes_v1.0,"
    " Demo_Train_model_64_25_Res_Bnorm_Adam.m) rather than the paper's SGD text: Adam, lr 1e-3 "
    "for 30 epochs then 1e-4 for 20 (learningRate = [logspace(-3,-3,30) logspace(-4,-4,20)]), "
    "batch 128, 40x40 patches (stride 10 over Train400 at scales 1/0.9/0.8/0.7 = 238,400 patches "
    "= 1,862 steps per epoch -> milestone 55,860 of 93,100 steps), random one of 8 "
    "flips/rotations per patch, loss 1/2 sum of squares (Adam is invariant to the batch-sum vs "
    "batch-mean scale), DnCNN-S depth 17, one model per noise level, DnCNN protocol on "
    "Set12/BSD68. The later PyTorch port (TrainingCodes/dncnn_pytorch: x0.2 at epochs 30/60/90 of "
    "180) spends 5/6 of its steps at lr <= 2e-4; compressed to a short budget it leaves almost no "
    "steps at the initial rate, so it is not used."
)


def _dncnn(level: int) -> Recipe:
    return Recipe(
        name=f"dncnn_denoise_sigma{level}", family="dncnn", paper="Zhang et al., DnCNN, TIP 2017",
        model="dncnn17", task="denoise", levels=(level,), train_set="Train400", channel="gray",
        patch=40, batch=128, iterations=93_100, optimizer="adam", lr=1e-3,
        schedule="multistep", milestones=(55_860,), gamma=0.1, loss="sse_half",
        scale_aug=(1.0, 0.9, 0.8, 0.7), protocol="dncnn_denoise", val_set="Set12",
        val_setting=f"sigma{level}", test_sets=("Set12", "BSD68"),
        test_settings=(f"sigma{level}",), val_limit=3, val_every=10_000, ckpt_every=5_000,
        log_every=200, source=_DNCNN_SRC,
    )  # fmt: skip


_MEMORYNET_SRC = (
    "MemoryNet code (zhangbaijin/MemoryNet, MPRNet training config): Adam betas (0.9, 0.999), "
    "lr 2e-4, 3 warm-up epochs then cosine decay to 1e-6 over 250 epochs, batch 16, 256x256 "
    "patches, flip/rotate augmentation, seed 1234. The paper (Sec. IV) states Adam (0.9, 0.999) "
    "and an ambiguous '5x10^-4'; the code's values are used. ISTD has 1,330 training triples "
    "-> 84 steps per epoch -> 21,000 steps, warm-up 252. Loss: the model's compute_loss (the "
    "paper's Eq. 7 Charbonnier + 0.05 edge per stage, plus Eq. 6 and the contrastive term for "
    "the full variant). Data: ISTD/GoPro are not available; synthetic proxies "
    "(degrade.synthetic_shadow / synthetic_motion_blur, one fixed degradation per image) on "
    "BSD300 colour images, tested on BSD200 with the same proxy - not comparable with the paper."
)


def _memorynet(task: str) -> Recipe:
    return Recipe(
        name=f"memorynet_{task}", family="memorynet",
        paper="Zhang et al., MemoryNet, arXiv 2022", model="memorynet", task=task, levels=(),
        train_set="BSD300", channel="rgb", patch=256, batch=16, iterations=21_000,
        optimizer="adam", lr=2e-4, momentum=0.9, beta2=0.999, schedule="cosine", warmup=252,
        lr_min=1e-6, loss="model", protocol="proxy", val_set="BSD200", val_setting=task,
        test_sets=("BSD200",), test_settings=(task,), val_limit=2, val_every=2_000,
        ckpt_every=1_000, log_every=50, seed=1234, source=_MEMORYNET_SRC,
    )  # fmt: skip


_VDSR_SRC = (
    "VDSR (Kim, Lee, Lee, CVPR 2016; arXiv:1511.04587v2), the baseline of MemNet Tables 2/4, "
    "RED-Net Table 7 and NLRN Table 6, whose SR setting MemNet Sec. 5.1 follows ('by following "
    "the experimental setting in [20]'). VDSR Sec. 3.2: loss 1/2 ||r - f(x)||^2 on the residual "
    "(Caffe-style Euclidean loss, batch mean: loss 'sse_half', as MemNet's), SGD momentum 0.9, "
    "weight decay 1e-4, adjustable gradient clipping to [-theta/lr, theta/lr] (theta unstated: "
    "0.01 as MemNet's released code, chosen), one multi-scale model for x2/x3/x4 (patches of "
    "every scale in one batch), input patches the size of the receptive field (41x41 for 20 "
    "layers) cut without overlap (here drawn at random positions, the same distribution in "
    "expectation, as the MemNet recipe); Sec. 4.1: 291 images (T91 + 200 BSD train) with "
    "rotation/flip augmentation (the 8 dihedral views, as MemNet's recipe; no downscaling "
    "augmentation), Y channel; Sec. 4.2: depth 20, batch 64, He init, '80 epochs (9960 "
    "iterations with batch size 64)', lr 0.1 divided by 10 every 20 epochs (milestones at "
    "2490/4980/7470 iterations). Evaluation: MemNet's SR protocol and test sets (memnet_sr: Y, "
    "modcrop, bicubic in double, output rounded to uint8, scale border shaved, as VDSR's "
    "benchmark crop), so VDSR and MemNet are scored identically; validation on Set5 x3 as MemNet."
)

#: VDSR's named deviation (``vdsr_sr_identity_adam``): MemNet's two changes
#: (:data:`MEMNET_IDENTITY_ADAM` and a zero last conv), so that VDSR and MemNet are compared
#: under the same training departure at the ``cpu`` budget.
_VDSR_IDENTITY_ADAM_SRC = (
    " DEVIATION (recipe vdsr_sr_identity_adam, not the paper's): the last conv starts at zero "
    "(last_init='zero', so the network starts as the identity, at its bicubic input) and Adam "
    "with its default settings (lr 1e-3, betas 0.9/0.999) replaces SGD lr 0.1 - the same "
    "departure as memnet_sr_identity_adam (MEMNET_IDENTITY_ADAM), so that the two are trained "
    "alike; schedule shape, weight decay, clipping rule, batch, patches and loss are the paper's."
)


def _vdsr(variant: str = "paper") -> Recipe:
    """VDSR's recipe (one model for x2/x3/x4 on the Y channel of 291 images), scored as MemNet's
    SR recipe; ``variant="identity_adam"`` is MemNet's cpu deviation applied to VDSR."""
    memnet_sr = _memnet("sr")  # the data, protocol and test grid VDSR shares with MemNet
    shared = ("task", "levels", "train_set", "channel", "protocol", "val_set", "val_setting",
              "test_sets", "test_settings", "val_limit")  # fmt: skip
    recipe = Recipe(
        name="vdsr_sr", family="vdsr", paper="Kim et al., VDSR, CVPR 2016", model="vdsr",
        patch=41, batch=64, iterations=9_960, optimizer="sgd", lr=0.1, momentum=0.9,
        weight_decay=1e-4, schedule="multistep", milestones=(2_490, 4_980, 7_470), gamma=0.1,
        clip="value_over_lr", clip_value=0.01, loss="sse_half", val_every=1_245,
        ckpt_every=1_245, log_every=50, source=_VDSR_SRC,
        **{k: getattr(memnet_sr, k) for k in shared},
    )  # fmt: skip
    if variant == "paper":
        return recipe
    return replace(
        recipe, name="vdsr_sr_identity_adam", **MEMNET_IDENTITY_ADAM,
        model_kwargs=dict(recipe.model_kwargs, last_init="zero"),
        source=_VDSR_SRC + _VDSR_IDENTITY_ADAM_SRC,
    )  # fmt: skip


#: name -> (builder, level keyword or None, paper levels for the message)
_FAMILIES: dict[str, tuple[Any, str | None, tuple[int, ...]]] = {
    "memnet_denoise": (lambda lv: _memnet("denoise"), None, ()),
    "memnet_sr": (lambda lv: _memnet("sr"), None, ()),
    "memnet_jpeg": (lambda lv: _memnet("jpeg"), None, ()),
    "memnet_denoise_identity_adam": (lambda lv: _memnet("denoise", "identity_adam"), None, ()),
    "memnet_sr_identity_adam": (lambda lv: _memnet("sr", "identity_adam"), None, ()),
    "memnet_jpeg_identity_adam": (lambda lv: _memnet("jpeg", "identity_adam"), None, ()),
    "red_denoise": (lambda lv: _red("denoise", lv), "sigma", (10, 30, 50, 70)),
    "red_sr": (lambda lv: _red("sr", None), None, ()),
    "red_sr_x2": (lambda lv: _red("sr", 2), None, ()),
    "red_sr_x3": (lambda lv: _red("sr", 3), None, ()),
    "red_sr_x4": (lambda lv: _red("sr", 4), None, ()),
    "red_denoise_blind": (lambda lv: _red("denoise", None), None, ()),
    "red_jpeg_q10": (lambda lv: _red("jpeg", 10), None, ()),
    "red_jpeg_q20": (lambda lv: _red("jpeg", 20), None, ()),
    "red_inpaint": (lambda lv: _red("inpaint", None), None, ()),
    "nlrn_denoise": (lambda lv: _nlrn("denoise", lv), "sigma", (15, 25, 50)),
    "nlrn_denoise_bsd300": (lambda lv: _nlrn("denoise", lv, "bsd300"), "sigma", (30, 50, 70)),
    "nlrn_sr": (lambda lv: _nlrn("sr", None), None, ()),
    "dncnn_denoise": (lambda lv: _dncnn(lv), "sigma", (15, 25, 50)),
    "vdsr_sr": (lambda lv: _vdsr(), None, ()),
    "vdsr_sr_identity_adam": (lambda lv: _vdsr("identity_adam"), None, ()),
    "memorynet_shadow": (lambda lv: _memorynet("shadow"), None, ()),
    "memorynet_motion_blur": (lambda lv: _memorynet("motion_blur"), None, ()),
}


def available() -> list[str]:
    """Recipe names (``<name>`` or, for one-model-per-level recipes, ``<name>`` + ``sigma=``)."""
    return sorted(_FAMILIES)


def get_recipe(
    name: str, *, sigma: int | None = None, budget: str = "paper", **overrides: Any
) -> Recipe:
    """Look up a recipe by name, optionally scaled to ``budget`` and with ``overrides``.

    ``sigma`` picks the noise level of recipes that train one model per level (RED, NLRN,
    DnCNN); ``"nlrn_denoise_sigma25"`` is accepted as a spelling of
    ``("nlrn_denoise", sigma=25)``. ``overrides`` go through :func:`with_overrides` after the
    budget. Unknown names raise :class:`RecipeError` listing the known ones.
    """
    if not isinstance(name, str):
        raise RecipeError(f"recipe name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    m = re.fullmatch(r"(.+)_sigma(\d+)", key)
    if m and m.group(1) in _FAMILIES and _FAMILIES[m.group(1)][1] == "sigma":
        if sigma is not None and int(m.group(2)) != sigma:
            raise RecipeError(f"{name!r} names sigma {m.group(2)} but sigma={sigma} was passed")
        key, sigma = m.group(1), int(m.group(2))
    if key not in _FAMILIES:
        raise RecipeError(f"unknown recipe {name!r}; known recipes: {', '.join(available())}")
    builder, level_kw, paper_levels = _FAMILIES[key]
    if level_kw is None:
        if sigma is not None:
            raise RecipeError(
                f"{key} trains one model for several levels; override levels=(...) instead of "
                "passing sigma="
            )
        recipe = builder(None)
    else:
        if sigma is None:
            raise RecipeError(
                f"{key} trains one model per noise level: pass sigma= (the paper uses "
                f"{', '.join(map(str, paper_levels))}), e.g. get_recipe({key!r}, sigma="
                f"{paper_levels[0]})"
            )
        if isinstance(sigma, bool) or not isinstance(sigma, int) or not 0 < sigma <= 255:
            raise RecipeError(f"sigma must be an integer in 1..255, got {sigma!r}")
        recipe = builder(sigma)
    validate(recipe)
    recipe = apply_budget(recipe, budget)
    return with_overrides(recipe, overrides) if overrides else recipe


# ---------------------------------------------------------------------------------------------
# Budgets
# ---------------------------------------------------------------------------------------------
#: Per budget and family: the fields that change. ``model_kwargs`` are merged into the recipe's.
#: ``cpu`` calibration (scripts/bench_train.py --threads 1, torch 2.13, AMD EPYC; process CPU
#: time per full training step, which load from other jobs barely disturbs): MemNet M4R6/32ch
#: batch 16 0.40 s, RED20/32ch batch 16 0.26 s, NLRN C32/T4/q21 batch 16 0.15 s, DnCNN-17/32ch
#: batch 32 0.33 s, MemoryNet 16/8/8/2-CAB 64px batch 4 0.52 s -> 20, 26, 20, 22 and 22 minutes
#: per run on one idle core, about 11-15 on two, plus 1-3 minutes of validation. On a busy
#: machine pass ``threads=1`` to train (oversubscribed OpenMP threads run many times slower).
_BUDGET_SPECS: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {
        "memnet": dict(
            model="memnet",
            model_kwargs=dict(num_blocks=2, num_recursions=1, channels=8),
            patch=16,
            batch=4,
        ),
        "red": dict(model="red10", model_kwargs=dict(channels=8), patch=16, batch=4),
        "nlrn": dict(
            model_kwargs=dict(channels=8, embed=4, steps=2, q=9),
            patch=9,
            batch=4,
        ),
        "dncnn": dict(model="dncnn", model_kwargs=dict(depth=4, features=8), patch=16, batch=4),
        "vdsr": dict(model_kwargs=dict(num_layers=4, channels=8), patch=16, batch=4),
        "memorynet": dict(
            model_kwargs=dict(
                n_feat=8,
                scale_unetfeats=4,
                scale_orsnetfeats=4,
                num_cab=1,
                contrastive_blocks=((4, 1), (8, 1)),
                contrastive_layer_weights=(0.5, 1.0),
            ),
            patch=16,
            batch=2,
        ),
    },
    "cpu": {
        "memnet": dict(
            model="memnet",
            model_kwargs=dict(num_blocks=4, num_recursions=6, channels=32),
            batch=16,
            iterations=3_000,
        ),
        "red": dict(model="red20", model_kwargs=dict(channels=32), batch=16, iterations=6_000),
        "nlrn": dict(
            model_kwargs=dict(channels=32, embed=16, steps=4, q=21),
            patch=21,
            batch=16,
            iterations=8_000,
        ),
        "dncnn": dict(model_kwargs=dict(features=32), batch=32, iterations=4_000),
        # VDSR: 20 layers kept, MemNet's cpu width (32), batch (16) and patch (31, its SR
        # recipe's), so the two see the same patches. Iterations sized to cost what MemNet's
        # cpu run costs: per step, forward + backward FLOPs (reprolib.analysis.flops) are
        # 2.76 GFLOP per patch for M4R6/32 and 0.96 for VDSR-20/32 (ratio 2.9), and process
        # CPU time (bench_train.bench, one thread, loaded machine) 1.07-1.20 s vs 0.27-0.38 s
        # (ratio 3.2-3.9), so 3,000 MemNet steps ~ 8,600-11,700 VDSR steps: the paper's own
        # 9,960 is in that range and kept (its milestones then stay at 2,490/4,980/7,470).
        "vdsr": dict(model_kwargs=dict(channels=32), patch=31, batch=16, iterations=9_960),
        "memorynet": dict(
            model_kwargs=dict(n_feat=16, scale_unetfeats=8, scale_orsnetfeats=8, num_cab=2),
            patch=64,
            batch=4,
            iterations=2_500,
            val_limit=1,
        ),
    },
    # gpu: ~30 minutes (3-4 chunks of 9 minutes) at an *assumed* 20 TFLOP/s effective bf16
    # throughput on one H100, from torch FlopCounterMode counts of forward + backward per patch
    # at the paper sizes: MemNet M6R6 16.7, RED30 15.5, NLRN 90.9, DnCNN-S 5.3, MemoryNet 1036
    # GFLOP. Estimates, not measurements: calibrate with scripts/bench_train.py --budget gpu.
    "gpu": {
        "memnet": dict(iterations=30_000),
        "red": dict(iterations=35_000),
        "nlrn": dict(iterations=15_000),
        "dncnn": dict(iterations=50_000),
        "memorynet": dict(iterations=2_500),
        # VDSR-20: 6.7 GFLOP per 41 px patch, so the paper's whole 9,960 x 64 schedule is
        # ~4 minutes at that rate: kept.
        "vdsr": dict(iterations=9_960),
    },
}
# Bookkeeping periods per budget: (log_every, val_every, ckpt_every) as fractions of iterations
# for the scaled budgets; smoke uses fixed tiny values.
_SMOKE_COMMON: dict[str, Any] = dict(
    iterations=6,
    train_limit=4,
    val_limit=1,
    log_every=2,
    val_every=6,
    ckpt_every=3,
)
_PERIODS = {"cpu": (100, 5, 10), "gpu": (200, 10, 20)}  # log rows, val points, checkpoints


def apply_budget(recipe: Recipe, budget: str) -> Recipe:
    """Scale a paper-budget ``recipe`` to ``budget`` (see the module docstring).

    The iteration count, model width/depth, batch and patch change as :data:`_BUDGET_SPECS`
    says; milestones and warm-up scale in proportion to the iterations, so the schedule keeps
    its shape. The learning rate, optimiser, loss and data are unchanged. A recipe already at
    ``budget`` is returned as is; rescaling a non-paper recipe to another budget is an error.
    """
    if budget not in BUDGETS:
        raise RecipeError(f"unknown budget {budget!r}; budgets: {', '.join(BUDGETS)}")
    if recipe.budget == budget:
        return recipe
    if recipe.budget != "paper":
        raise RecipeError(
            f"recipe {recipe.name!r} is already scaled to budget {recipe.budget!r}; start from "
            f"get_recipe({recipe.name!r}) to apply {budget!r}"
        )
    if budget == "paper":
        return recipe
    spec = dict(_BUDGET_SPECS[budget].get(recipe.family, {}))
    if budget == "smoke":
        spec = {**_SMOKE_COMMON, **spec}
    kwargs = {**recipe.model_kwargs, **spec.pop("model_kwargs", {})}
    iters = int(spec.get("iterations", recipe.iterations))
    ratio = iters / recipe.iterations
    if budget != "smoke":
        n_log, n_val, n_ckpt = _PERIODS[budget]
        spec.setdefault("log_every", max(1, iters // n_log))
        spec.setdefault("val_every", max(1, iters // n_val))
        spec.setdefault("ckpt_every", max(1, iters // n_ckpt))
    milestones = tuple(sorted({max(1, round(m * ratio)) for m in recipe.milestones}))
    warmup = max(1, round(recipe.warmup * ratio)) if recipe.warmup else 0
    out = replace(
        recipe, **spec, model_kwargs=kwargs, milestones=milestones, warmup=warmup, budget=budget
    )
    validate(out)
    return out


# ---------------------------------------------------------------------------------------------
# Overrides, validation, (de)serialisation
# ---------------------------------------------------------------------------------------------
_FIELD_TYPES = {f.name: f.type for f in fields(Recipe)}


def with_overrides(recipe: Recipe, overrides: Mapping[str, Any] | None) -> Recipe:
    """Return ``recipe`` with some fields changed.

    Keys that are :class:`Recipe` fields replace them (lists become tuples); ``model_kwargs``
    is merged into the recipe's; any other key is taken as a model keyword (checked when the
    model is built). Changing ``iterations`` rescales ``milestones`` and ``warmup`` in proportion
    unless they are overridden too. The result is validated.
    """
    if not overrides:
        return recipe
    if not isinstance(overrides, Mapping):
        raise RecipeError(f"overrides must be a mapping, got {type(overrides).__name__}")
    changes: dict[str, Any] = {}
    kwargs = dict(recipe.model_kwargs)
    for key, value in overrides.items():
        if key in ("name", "family", "budget"):
            raise RecipeError(f"{key!r} cannot be overridden (it identifies the recipe)")
        if key == "model_kwargs":
            if not isinstance(value, Mapping):
                raise RecipeError("model_kwargs override must be a mapping")
            kwargs.update(value)
        elif key in _FIELD_TYPES:
            changes[key] = tuple(value) if isinstance(value, list) else value
        else:
            kwargs[key] = value
    if (
        "iterations" in changes
        and isinstance(changes["iterations"], int)
        and changes["iterations"] > 0
    ):  # keep the schedule's shape: milestones and warm-up scale with the length
        ratio = changes["iterations"] / recipe.iterations
        if "milestones" not in changes:
            changes["milestones"] = tuple(
                sorted({max(1, round(m * ratio)) for m in recipe.milestones})
            )
        if "warmup" not in changes and recipe.warmup:
            changes["warmup"] = max(1, round(recipe.warmup * ratio))
    out = replace(recipe, **changes, model_kwargs=kwargs)
    validate(out)
    return out


def _bad(recipe: Recipe, msg: str) -> RecipeError:
    return RecipeError(f"recipe {recipe.name!r}: {msg}")


def validate(recipe: Recipe) -> Recipe:
    """Check every field; raise :class:`RecipeError` naming the bad value and the valid ones."""
    r = recipe

    def choice(name: str, options: tuple[str, ...]) -> None:
        if getattr(r, name) not in options:
            raise _bad(r, f"{name}={getattr(r, name)!r} is not one of {', '.join(options)}")

    choice("task", _TASKS)
    choice("channel", _CHANNELS)
    if not isinstance(r.bn_stats_patch, int) or r.bn_stats_patch < 0:
        raise _bad(r, f"bn_stats_patch={r.bn_stats_patch!r} must be 0 or a patch side")
    choice("optimizer", _OPTIMIZERS)
    choice("schedule", _SCHEDULES)
    choice("clip", _CLIPS)
    choice("loss", _LOSSES)
    choice("budget", BUDGETS)
    for name in ("patch", "batch", "iterations", "val_limit", "val_every", "ckpt_every",
                 "log_every"):  # fmt: skip
        v = getattr(r, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise _bad(r, f"{name} must be a positive integer, got {v!r}")
    if r.patch < 8:
        raise _bad(r, f"patch must be at least 8 pixels, got {r.patch}")
    if r.channel == "rgb" and r.patch % 8:
        raise _bad(r, f"RGB (MemoryNet) patches must be a multiple of 8, got {r.patch}")
    if r.train_limit is not None and (
        isinstance(r.train_limit, bool) or not isinstance(r.train_limit, int) or r.train_limit < 1
    ):
        raise _bad(r, f"train_limit must be a positive integer or None, got {r.train_limit!r}")
    for name in ("lr", "momentum", "beta2", "weight_decay", "bias_lr_mult", "gamma", "lr_min",
                 "clip_value"):  # fmt: skip
        v = getattr(r, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise _bad(r, f"{name} must be a finite number >= 0, got {v!r}")
    if r.lr <= 0:
        raise _bad(r, f"lr must be > 0, got {r.lr}")
    if not 0 <= r.momentum < 1 or not 0 <= r.beta2 < 1:
        raise _bad(r, "momentum / beta2 must be in [0, 1)")
    if r.clip != "none" and r.clip_value <= 0:
        raise _bad(r, f"clip={r.clip!r} needs clip_value > 0")
    if list(r.milestones) != sorted(set(r.milestones)) or any(
        not isinstance(m, int) or m < 1 for m in r.milestones
    ):
        raise _bad(r, f"milestones must be increasing positive integers, got {r.milestones}")
    if (
        isinstance(r.warmup, bool)
        or not isinstance(r.warmup, int)
        or not (0 <= r.warmup < r.iterations or r.warmup == 0)
    ):
        raise _bad(r, f"warmup must be an integer in [0, iterations), got {r.warmup!r}")
    if not r.scale_aug or any(not 0.1 <= float(s) <= 1.0 for s in r.scale_aug):
        raise _bad(r, f"scale_aug factors must be in [0.1, 1], got {r.scale_aug}")
    if not isinstance(r.model_kwargs, dict):
        raise _bad(r, "model_kwargs must be a dict")
    if r.task in PROXY_TASKS:
        if r.levels:
            raise _bad(r, f"task {r.task!r} has no levels, got {r.levels}")
        if r.channel != "rgb":
            raise _bad(r, f"task {r.task!r} works on RGB images (channel='rgb')")
        for s in (r.val_setting, *r.test_settings):
            if s != r.task:
                raise _bad(r, f"setting {s!r} does not match the proxy task {r.task!r}")
        return r
    if not r.levels:
        raise _bad(r, f"task {r.task!r} needs at least one level")
    if r.channel == "rgb":
        raise _bad(r, f"task {r.task!r} trains on one channel ('gray' or 'y'), not 'rgb'")
    try:
        for s in (*r.settings, r.val_setting, *r.test_settings):
            task, _ = protocols.parse_setting(s)
            if task != r.task:
                raise _bad(r, f"setting {s!r} is not a {r.task} setting")
        proto = protocols.get(r.protocol)
    except (KeyError, ValueError) as err:
        if isinstance(err, RecipeError):
            raise
        raise _bad(r, str(err)) from None
    if proto.task != r.task:
        raise _bad(r, f"protocol {r.protocol!r} is for {proto.task}, not {r.task}")
    return r


def required_sets(recipe: Recipe) -> dict[str, str]:
    """Every :mod:`reprolib.data` set the recipe reads, ``set -> role`` (``training``,
    ``validation`` or ``test``; a set with several roles is named by its first)."""
    out: dict[str, str] = {recipe.train_set: "training"}
    out.setdefault(recipe.val_set, "validation")
    for name in recipe.test_sets:
        out.setdefault(name, "test")
    return out


def lr_at(recipe: Recipe, iteration: int) -> float:
    """Learning rate of optimizer step ``iteration`` (0-based): warm-up, then the schedule.

    Warm-up is linear, ``lr * (i + 1) / warmup``; ``multistep`` multiplies by ``gamma`` once per
    milestone ``<= i``; ``cosine`` decays from ``lr`` to ``lr_min`` over the steps after the
    warm-up (MPRNet/MemoryNet: GradualWarmupScheduler then CosineAnnealingLR). A pure function of
    the step, so resuming needs no scheduler state.
    """
    r = recipe
    if iteration < r.warmup:
        return r.lr * (iteration + 1) / r.warmup
    if r.schedule == "multistep":
        return r.lr * r.gamma ** sum(1 for m in r.milestones if m <= iteration)
    if r.schedule == "cosine":
        span = max(1, r.iterations - r.warmup)
        p = min(1.0, (iteration - r.warmup) / span)
        return r.lr_min + (r.lr - r.lr_min) * 0.5 * (1.0 + math.cos(math.pi * p))
    return r.lr


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """A JSON-ready dict (tuples become lists)."""

    def plain(v: Any) -> Any:
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in dataclasses.asdict(recipe).items()}


#: Fields added after runs were stamped, left out of :func:`spec_fields` at these defaults, so
#: that adding a field does not make every earlier run stale.
LATER_FIELDS: dict[str, Any] = {"bn_stats_patch": 0, "test_ensemble": False}


def spec_fields(recipe: Recipe) -> dict[str, Any]:
    """What a run's results depend on: :func:`recipe_to_dict` without the citation text and
    without :data:`LATER_FIELDS` at their defaults (``reprolib.experiments`` hashes it)."""
    d = recipe_to_dict(recipe)
    d.pop("source", None)
    for name, default in LATER_FIELDS.items():
        if d.get(name) == default:
            d.pop(name)
    return d


def recipe_from_dict(d: Mapping[str, Any]) -> Recipe:
    """Inverse of :func:`recipe_to_dict` (lists back to tuples where the field is a tuple)."""

    def tup(v: Any) -> Any:
        return tuple(tup(x) for x in v) if isinstance(v, list) else v

    unknown = set(d) - set(_FIELD_TYPES)
    if unknown:
        raise RecipeError(f"unknown recipe fields {sorted(unknown)}")
    out = {}
    for k, v in d.items():
        if k == "model_kwargs":
            out[k] = {kk: tup(vv) for kk, vv in v.items()}
        else:
            out[k] = tup(v)
    return Recipe(**out)


#: Recipe fields that do not change the trained weights: the final test grid and the citations.
EVALUATION_ONLY_FIELDS: tuple[str, ...] = ("test_sets", "test_settings", "test_ensemble", "source")


def training_fields(recipe: Recipe) -> dict[str, Any]:
    """What a trained run folder (weights, ``log.csv``, summary) depends on: :func:`recipe_to_dict`
    without :data:`EVALUATION_ONLY_FIELDS`, and ``protocol`` as its scoring rules
    (:attr:`reprolib.protocols.Protocol.scoring`) rather than its name.

    The protocol is not evaluation-only: training scores the validation images with it (the
    log's ``val_psnr``, which the verdict's convergence test reads, and the fp16 storage check,
    which decides the precision of ``model.pt``). Protocols that score alike (``memnet_sr`` and
    ``nlrn_sr``) leave the same folder, so one training serves both; ``red_sr`` (float output,
    no shave) does not."""
    d = {k: v for k, v in recipe_to_dict(recipe).items() if k not in EVALUATION_ONLY_FIELDS}
    try:
        d["protocol"] = list(protocols.get(recipe.protocol).scoring)
    except KeyError:
        pass  # an unknown name stays a name (validate() rejects it)
    return d


def recipe_diff(a: Recipe, b: Recipe, *, training_only: bool = False) -> list[str]:
    """Human-readable ``field: a -> b`` lines for every field that differs.

    ``training_only`` compares :func:`training_fields` only: two recipes without a difference
    then train the same weights (from the same seed), so one trained model serves both.
    """
    da, db = recipe_to_dict(a), recipe_to_dict(b)
    if training_only:
        ta, tb = training_fields(a), training_fields(b)
        return [f"{k}: {da.get(k)!r} -> {db.get(k)!r}" for k in ta if ta.get(k) != tb.get(k)]
    return [f"{k}: {da.get(k)!r} -> {db.get(k)!r}" for k in da if da.get(k) != db.get(k)]
