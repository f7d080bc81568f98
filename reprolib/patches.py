"""Training patches drawn on the fly from a registry split, degraded as the recipe says.

:class:`PatchSampler` loads the training images once (uint8, converted to the recipe's channel:
MATLAB ``rgb2gray`` for denoising, the ``rgb2ycbcr`` luminance for SR/JPEG - MemNet Sec. 5.1,
NLRN Sec. 5 - or RGB for MemoryNet), optionally adds rescaled copies (``scale_aug``: NLRN Sec. 5
"scaling", DnCNN's 1/0.9/0.8/0.7), and then, for every batch:

1. draws a level (sigma, scale or quality) uniformly from the recipe's list for each patch - one
   model for mixed levels when the list has several (MemNet Sec. 5.1 "noise/scale/quality
   augmentation");
2. draws an image with probability proportional to its number of patch positions (so every
   pixel position is equally likely, as on the papers' dense patch grids) and a uniform position;
3. draws one of the 8 dihedral views (flips and 90-degree rotations: MemNet following DRRN [34],
   NLRN Sec. 5, DnCNN's code, MPRNet's);
4. degrades:

   * denoising: white Gaussian noise of std ``sigma/255`` added to the [0, 1] patch, unclipped
     and unquantised (MemNet/RED/NLRN test protocols), fresh for every patch;
   * SR: each image is degraded **once per scale** - ``modcrop``, MATLAB bicubic down by ``s``
     then up by ``s`` in double precision (:func:`reprolib.imresize.imresize`, the VDSR/MemNet
     data preparation) - and cached as float32; patches are cut at the same position from the
     HR image and its bicubic input. That is cheaper than resizing every patch and is what the
     authors' MATLAB scripts do (degrade the image, then cut the patch grid); a patch-wise
     resize would differ at the patch borders;
   * JPEG: each image is JPEG-coded once per quality (:func:`reprolib.degrade.jpeg`, IJG tables)
     and cached as uint8, again as the authors' data scripts do (the 8x8 block grid of the whole
     image is kept);
   * inpainting (RED-Net Sec. 5.6): each image is corrupted once per setting - white text of the
     level's font size, or scratches - by :func:`reprolib.degrade.inpaint_corruption` keyed on
     the image, and cached as uint8. RED-Net "extract[s] image patches with text on them", so
     only windows holding at least one corrupted (changed) pixel are drawn: uniformly among
     those positions, over all images;
   * MemoryNet proxies: one synthetic shadow (:func:`reprolib.degrade.synthetic_shadow`) or
     motion blur (:func:`~reprolib.degrade.synthetic_motion_blur`) per image, keyed on the image
     name and cached.

Batches are assembled in numpy; everything random comes from one ``numpy.random.Generator``
(PCG64) seeded from ``(seed, rank)`` through :func:`reprolib.degrade.rng_for`, drawn in a fixed
order per batch. Its state (:meth:`PatchSampler.state_dict`) is saved in checkpoints so that a
resumed run draws exactly the patches the uninterrupted run would have drawn. The caches are pure
functions of the images and are rebuilt, not saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reprolib import data, degrade
from reprolib.imageops import modcrop, to_channel
from reprolib.imresize import imresize

__all__ = ["PatchSampler", "apply_view", "windows_with"]


def apply_view(a: np.ndarray, view: int) -> np.ndarray:
    """Dihedral view ``0..7`` of an HxW(xC) array: ``view % 4`` quarter turns, then a
    left-right flip when ``view >= 4``."""
    a = np.rot90(a, view % 4, axes=(0, 1))
    return a[:, ::-1] if view >= 4 else a


@dataclass
class _Source:
    """One (image, level) pair: the target and its cached degraded input (None: on the fly).

    ``allowed`` marks the patch positions (top-left corners) that may be drawn when only some
    may (inpainting: windows with a corrupted pixel); ``None`` allows every position."""

    key: str
    target: np.ndarray  # uint8 HxW or HxWx3
    inp: np.ndarray | None  # float32 on [0, 1] (SR) or uint8 (JPEG, inpainting, proxies)
    positions: int
    allowed: np.ndarray | None = None  # bool (H - P + 1) x (W - P + 1)


def windows_with(mask: np.ndarray, patch: int) -> np.ndarray:
    """Which ``patch x patch`` windows of a bool HxW ``mask`` hold at least one True pixel, by
    top-left corner: a bool ``(H - patch + 1) x (W - patch + 1)`` array (summed-area table)."""
    s = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    p = patch
    return (s[p:, p:] - s[:-p, p:] - s[p:, :-p] + s[:-p, :-p]) > 0


class PatchSampler:
    """Random degraded patch pairs for training (see the module docstring).

    Args:
        images: ``(key, uint8 array)`` pairs or :class:`reprolib.data.LoadedImage` s.
        task: ``"denoise"``, ``"sr"``, ``"jpeg"``, ``"inpaint"``, ``"shadow"`` or
            ``"motion_blur"``.
        levels: sigmas / scales / qualities / font sizes (``degrade.SCRATCH_LEVEL``: scratches);
            ignored by the proxies.
        patch, batch: patch side and patches per :meth:`sample`.
        channel: ``"gray"``, ``"y"`` or ``"rgb"``.
        scale_aug: rescaling factors; every image is added at each (1.0 = as stored).
        seed, rank: the stream is ``rng_for("patches", seed, rank)``; DDP ranks differ by rank.
    """

    def __init__(
        self,
        images: Sequence[data.LoadedImage | tuple[str, np.ndarray]],
        *,
        task: str,
        levels: Sequence[int],
        patch: int,
        batch: int,
        channel: str,
        scale_aug: Sequence[float] = (1.0,),
        seed: int = 0,
        rank: int = 0,
    ) -> None:
        if task not in ("denoise", "sr", "jpeg", "inpaint", "shadow", "motion_blur"):
            raise ValueError(f"unknown task {task!r}")
        if channel not in ("gray", "y", "rgb"):
            raise ValueError(f"channel must be 'gray', 'y' or 'rgb', got {channel!r}")
        if patch < 1 or batch < 1:
            raise ValueError(f"patch and batch must be >= 1, got {patch}, {batch}")
        proxy = task in ("shadow", "motion_blur")
        if not proxy and not levels:
            raise ValueError(f"task {task!r} needs at least one level")
        self.task, self.patch, self.batch, self.channel = task, int(patch), int(batch), channel
        self.levels: tuple[int, ...] = (0,) if proxy else tuple(int(v) for v in levels)
        self.seed, self.rank = seed, rank
        self.rng = degrade.rng_for("patches", seed, rank)
        self.batches_drawn = 0

        bases: list[tuple[str, np.ndarray]] = []
        for item in images:
            key, pix = (item.key, item.pixels) if isinstance(item, data.LoadedImage) else item
            if pix.dtype != np.uint8:
                raise ValueError(f"training image {key} must be uint8, got {pix.dtype}")
            img = to_channel(pix, channel)
            for s in scale_aug:
                scaled = img if float(s) == 1.0 else imresize(img, float(s))
                bases.append((key if float(s) == 1.0 else f"{key}@{float(s):g}", scaled))

        # sources[l] = the (image, level l) pairs big enough for one patch
        self.sources: list[list[_Source]] = []
        for level in self.levels:
            row = []
            for key, img in bases:
                src = self._prepare(key, img, level)
                if src is not None:
                    row.append(src)
            if not row:
                raise ValueError(
                    f"no training image is at least {patch}x{patch} pixels (level {level})"
                    + (" with a corrupted pixel in such a window" if task == "inpaint" else "")
                )
            self.sources.append(row)
        self._cum = []
        for row in self.sources:
            w = np.array([s.positions for s in row], dtype=np.float64)
            self._cum.append(np.cumsum(w) / w.sum())
        self.n_images = len(bases)

    @classmethod
    def from_recipe(cls, recipe: Any, *, rank: int = 0) -> PatchSampler:
        """The sampler of a :class:`reprolib.recipes.Recipe` (its train set, limit, levels...)."""
        images = data.load(recipe.train_set, limit=recipe.train_limit)
        return cls(
            images, task=recipe.task, levels=recipe.levels, patch=recipe.patch,
            batch=recipe.batch, channel=recipe.channel, scale_aug=recipe.scale_aug,
            seed=recipe.seed, rank=rank,
        )  # fmt: skip

    # -- preparation ---------------------------------------------------------------------------
    def _prepare(self, key: str, img: np.ndarray, level: int) -> _Source | None:
        p = self.patch
        target, inp = img, None
        if self.task == "sr":
            target = modcrop(img, level)
            if min(target.shape[:2]) < max(p, 2 * level):
                return None
            inp = degrade.bicubic_degrade(target / 255.0, level).astype(np.float32)
        elif self.task == "jpeg":
            inp = degrade.jpeg(img, level)
        elif self.task in degrade.PROXY_TASKS:
            inp = degrade.synthetic_proxy(img, self.task, key=key)[0]
        h, w = target.shape[:2]
        if h < p or w < p:
            return None
        if self.task == "inpaint":  # only patches with corrupted pixels (RED-Net Sec. 5.6)
            inp = degrade.inpaint_corruption(img, level, key=key)[0]
            changed = inp != img
            allowed = windows_with(changed.any(axis=2) if changed.ndim == 3 else changed, p)
            n = int(allowed.sum())
            return _Source(key, target, inp, n, allowed) if n else None
        return _Source(key, target, inp, (h - p + 1) * (w - p + 1))

    # -- sampling ------------------------------------------------------------------------------
    def _draw(self) -> dict[str, np.ndarray]:
        """All random numbers of one batch, in a fixed order."""
        b, rng = self.batch, self.rng
        level = rng.integers(len(self.levels), size=b)
        u_img = rng.random(b)
        u_top, u_left = rng.random(b), rng.random(b)
        view = rng.integers(8, size=b)
        noise = None
        if self.task == "denoise":
            c = 3 if self.channel == "rgb" else 1
            noise = rng.standard_normal((b, c, self.patch, self.patch), dtype=np.float32)
        idx = np.array(
            [min(int(np.searchsorted(self._cum[lv], u, side="right")), len(self._cum[lv]) - 1)
             for lv, u in zip(level, u_img)]
        )  # fmt: skip
        tops, lefts = np.empty(b, np.int64), np.empty(b, np.int64)
        for k in range(b):
            src = self.sources[level[k]][idx[k]]
            if src.allowed is not None:  # uniform among the allowed positions (u_left unused)
                flat = np.flatnonzero(src.allowed)
                j = flat[min(int(u_top[k] * len(flat)), len(flat) - 1)]
                tops[k], lefts[k] = divmod(int(j), src.allowed.shape[1])
                continue
            h, w = src.target.shape[:2]
            tops[k] = min(int(u_top[k] * (h - self.patch + 1)), h - self.patch)
            lefts[k] = min(int(u_left[k] * (w - self.patch + 1)), w - self.patch)
        return {"level": level, "image": idx, "top": tops, "left": lefts, "view": view,
                "noise": noise}  # fmt: skip

    def sample_numpy(self) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """One batch as float32 ``(input, target)`` arrays ``[B, C, P, P]`` on [0, 1], plus
        the draws (level index, image index and key, top, left, view) for inspection."""
        d = self._draw()
        p, b = self.patch, self.batch
        c = 3 if self.channel == "rgb" else 1
        tgt = np.empty((b, p, p, c), np.float32)
        inp = np.empty((b, p, p, c), np.float32)
        keys = []
        for k in range(b):
            src = self.sources[d["level"][k]][d["image"][k]]
            keys.append(src.key)
            t, left = d["top"][k], d["left"][k]
            window = (slice(t, t + p), slice(left, left + p))
            crop_t = apply_view(src.target[window], int(d["view"][k]))
            tgt[k] = crop_t.reshape(p, p, c)
            if src.inp is not None:
                crop_i = apply_view(src.inp[window], int(d["view"][k])).reshape(p, p, c)
                inp[k] = crop_i
        tgt *= np.float32(1.0 / 255.0)
        tgt = tgt.transpose(0, 3, 1, 2)
        if self.task == "denoise":
            sig = np.array([self.levels[lv] for lv in d["level"]], np.float32) / np.float32(255)
            inp = tgt + d["noise"] * sig[:, None, None, None]
        else:
            inp = inp.transpose(0, 3, 1, 2)
            if self.task != "sr":  # uint8 caches (JPEG, inpainting, proxies) -> [0, 1]
                inp = inp * np.float32(1.0 / 255.0)
        self.batches_drawn += 1
        meta = {k: v for k, v in d.items() if k != "noise"}
        meta["keys"] = keys
        meta["levels"] = np.array([self.levels[lv] for lv in d["level"]])
        return np.ascontiguousarray(inp), np.ascontiguousarray(tgt), meta

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch ``(input, target)`` as float32 CPU tensors ``[B, C, P, P]``."""
        inp, tgt, _ = self.sample_numpy()
        return torch.from_numpy(inp), torch.from_numpy(tgt)

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The generator state and batch count (all that a resumed run needs)."""
        return {
            "rng": self.rng.bit_generator.state,
            "batches_drawn": self.batches_drawn,
            "seed": self.seed,
            "rank": self.rank,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("seed") != self.seed or state.get("rank") != self.rank:
            raise ValueError(
                f"sampler state is for seed {state.get('seed')}, rank {state.get('rank')}; this "
                f"sampler has seed {self.seed}, rank {self.rank}"
            )
        self.rng.bit_generator.state = state["rng"]
        self.batches_drawn = int(state["batches_drawn"])
