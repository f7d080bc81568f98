"""MemNet Table 3's inference-mode blow-up and its fix (issue: BatchNorm statistics vs size).

The fixture is the denoising model the paper's recipe trained at the ``cpu`` budget, kept under
``results/memnet/diagnosis/table3_committed``: in inference mode (BatchNorm running statistics
from 31-pixel training patches) it scores far below its noisy input on whole BSD200 images,
while the same weights with each image's own statistics denoise well. Re-estimating the running
statistics on larger patches (``recipe.bn_stats_patch``, what training now does for the MemNet
denoising deviation) removes the failure; re-estimating them at the training size does not.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from reprolib import claims, evaluate, restorers, train

MODEL = claims.results_root() / "memnet" / "diagnosis" / "table3_committed"


def _gain(model: torch.nn.Module, recipe, mode: str = "eval") -> float:
    def restore(x: np.ndarray) -> np.ndarray:
        m = copy.deepcopy(model).train(mode == "train")
        with torch.no_grad():
            return m(torch.from_numpy(np.asarray(x, np.float32))[None, None])[0, 0].double().numpy()

    cell = dict(dataset="BSD200", setting="sigma50", protocol=recipe.protocol, limit=2,
                progress=False)  # fmt: skip
    base = evaluate.measure(restorers.identity, method_name="input", **cell)["psnr"].mean()
    return float(evaluate.measure(restore, method_name=mode, **cell)["psnr"].mean() - base)


@pytest.mark.skipif(not (MODEL / "model.pt").exists(), reason="diagnosis fixture not present")
def test_bn_statistics_of_small_patches_fail_on_whole_images_and_larger_ones_fix_it(data_root):
    torch.set_num_threads(1)
    model, recipe = restorers.load_model(MODEL)
    assert _gain(model, recipe, "train") > 5.0  # the weights denoise (image statistics)
    assert _gain(model, recipe) < 0.0  # the old behaviour: running statistics blow up
    train.recalibrate_batchnorm(model, recipe, batches=6, patch=recipe.patch, batch=16)
    assert _gain(model, recipe) < 0.0  # stale momentum is not the cause: same size, same fail
    train.recalibrate_batchnorm(model, recipe, batches=8, patch=64, batch=8)
    assert _gain(model, recipe) > 5.0  # the fix: statistics of larger inputs
