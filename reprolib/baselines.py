"""Baselines that need no training: bicubic, JPEG, BM3D and the published DnCNN weights.

They reproduce columns the papers print (MemNet Tables 4-5, NLRN Table 4) and so prove the
evaluation pipeline before any model is trained. Every restorer maps a degraded single-channel
float image on [0, 1] to its restoration on [0, 1].
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from reprolib import protocols
from reprolib.evaluate import Restorer


def identity(x: np.ndarray) -> np.ndarray:
    """The degraded input as its own restoration (the Bicubic, JPEG and Noisy columns)."""
    return x


@lru_cache(maxsize=8)
def _published(name: str):
    from reprolib.models.dncnn import published_dncnn

    return published_dncnn(name)


def _dncnn(name: str, tile: int | None = 512) -> Restorer:
    from reprolib.models.inference import restore

    model = _published(name)
    return lambda x: restore(model, x, tile=tile, overlap=24)


def _bm3d(sigma: float) -> Restorer:
    import bm3d

    return lambda x: np.asarray(bm3d.bm3d(x, sigma_psd=sigma / 255.0), dtype=np.float64)


def dncnn_weights_for(setting: str, method: str = "DnCNN") -> str:
    """Which published DnCNN file a paper's DnCNN column used for this setting.

    Denoising columns (NLRN Table 4) are DnCNN-S, one model per sigma (15/25/50); other sigmas
    use the blind DnCNN-B. SR and JPEG columns (MemNet Tables 4-5) are DnCNN-3.
    """
    task, level = protocols.parse_setting(setting)
    if method == "DnCNN-3" or (method == "DnCNN" and task != "denoise"):
        return "dncnn3"
    if method == "DnCNN-B" or level not in (15, 25, 50):
        return "dncnn_b"
    return f"dncnn_s{level}"


METHODS = ("Bicubic", "JPEG", "Noisy", "BM3D", "DnCNN", "DnCNN-B", "DnCNN-3")


def restorer(method: str, setting: str) -> Restorer:
    """The restorer for a baseline name at a setting; errors name the valid choices."""
    task, level = protocols.parse_setting(setting)
    valid = {
        "Bicubic": task == "sr",
        "JPEG": task == "jpeg",
        "Noisy": task == "denoise",
        "BM3D": task == "denoise",
        "DnCNN": True,
        "DnCNN-B": task == "denoise",
        "DnCNN-3": True,
    }
    if method not in valid:
        raise KeyError(f"unknown baseline {method!r}; known: {', '.join(METHODS)}")
    if not valid[method]:
        raise ValueError(f"baseline {method!r} does not apply to setting {setting!r}")
    if method in ("Bicubic", "JPEG", "Noisy"):
        return identity
    if method == "BM3D":
        return _bm3d(level)
    return _dncnn(dncnn_weights_for(setting, method))
