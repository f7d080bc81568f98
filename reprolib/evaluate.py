"""Measure a restoration method on a test set under a named protocol, image by image.

One function, :func:`measure`, serves every number the study reports: non-learned baselines,
published DnCNN weights and, later, the models this project trains. It forms each test pair as
the protocol says (``reprolib.protocols``), degrades it (``reprolib.degrade``), runs the method
and scores the result, returning one row per image. Averages are taken over images, as the
papers do.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from reprolib import data, degrade, protocols
from reprolib.imresize import imresize

# A restorer maps a degraded single-channel float image on [0, 1] to its restoration on [0, 1].
Restorer = Callable[[np.ndarray], np.ndarray]

PER_IMAGE_COLUMNS = [
    "protocol", "dataset", "setting", "method", "image", "psnr", "ssim", "seconds",
]  # fmt: skip


def degraded_input(gt: np.ndarray, setting: str, key: str) -> np.ndarray:
    """The network input for one uint8 reference image, as float64 on [0, 1].

    * ``x<s>``: MATLAB bicubic down by ``s`` then up by ``s``, in double precision, not
      quantised (MemNet/VDSR test code);
    * ``sigma<n>``: additive Gaussian noise of std ``n`` (on the 0-255 scale), unclipped, seeded
      per image key and sigma (see :func:`reprolib.degrade.add_gaussian_noise`);
    * ``q<n>``: JPEG round trip of the uint8 channel at quality ``n`` (Pillow, IJG tables).
    """
    task, level = protocols.parse_setting(setting)
    if task == "sr":
        x = gt.astype(np.float64) / 255.0
        return imresize(imresize(x, 1.0 / level), level)
    if task == "denoise":
        return degrade.add_gaussian_noise(gt.astype(np.float64), level, key=key) / 255.0
    return degrade.jpeg(gt, level).astype(np.float64) / 255.0


def measure(
    method: str | Restorer,
    dataset: str,
    setting: str,
    protocol: str,
    *,
    split: str | None = None,
    method_name: str | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Per-image PSNR/SSIM of ``method`` on ``dataset`` at ``setting`` under ``protocol``.

    ``method`` is a baseline name known to :mod:`reprolib.baselines` (``"Bicubic"``, ``"BM3D"``,
    ``"DnCNN"``, ...) or any :data:`Restorer`. ``split`` is the registry set to load when it
    differs from the label reported (``dataset="Urban100", split="Urban100-gray"``).
    """
    from reprolib import baselines  # baselines imports models; keep this module light

    proto = protocols.get(protocol)
    task, level = protocols.parse_setting(setting)
    if task != proto.task:
        raise ValueError(f"protocol {protocol!r} is for {proto.task}, not setting {setting!r}")
    restorer = baselines.restorer(method, setting) if isinstance(method, str) else method
    name = method_name or (method if isinstance(method, str) else "custom")
    scale = level if task == "sr" else 1
    images = data.load(split or dataset, limit=limit)
    rows = []
    bar = tqdm(images, desc=f"{name} {dataset} {setting}", disable=not progress, leave=False)
    for im in bar:
        gt = proto.ground_truth(im.pixels, dataset, scale)
        x = degraded_input(gt, setting, im.key)
        t0 = time.perf_counter()
        y = restorer(x)
        seconds = time.perf_counter() - t0
        p, s = proto.score(y * 255.0, gt, scale)
        rows.append((protocol, dataset, setting, name, im.name, p, s, seconds))
    return pd.DataFrame(rows, columns=PER_IMAGE_COLUMNS)


def summarise(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean PSNR/SSIM per (protocol, dataset, setting, method), with image count and time."""
    keys = ["protocol", "dataset", "setting", "method"]
    g = per_image.groupby(keys, sort=False)
    out = g.agg(psnr=("psnr", "mean"), ssim=("ssim", "mean"), seconds=("seconds", "sum"))
    out["n_images"] = g.size()
    return out.reset_index()
