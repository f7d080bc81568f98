"""Inference helpers every model can use: tiling with overlap and x8 self-ensemble.

* Tiled inference bounds memory on large test images (MemNet's test code processes 150x150
  tiles with 16 px of context; NLRN's original code averages overlapping patches). Each tile is
  processed with ``overlap`` pixels of context on every side and only its centre is kept, so for
  a fully convolutional network whose receptive field radius is below ``overlap`` the result
  equals whole-image inference.
* x8 self-ensemble ("multi-view testing", RED-Net Sec. 5; NLRN-MV): the image is restored in its
  4 rotations, each with and without a horizontal flip; the outputs are mapped back and averaged.
* :func:`torch_threads` runs a block with a given number of torch CPU threads (training and
  evaluation on a machine shared with other jobs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn


def _apply_view(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.flip(x, dims=(-1,)) if flip else x
    return torch.rot90(x, k, dims=(-2, -1))


def _undo_view(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.rot90(x, -k, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if flip else x


def self_ensemble(fn, x: torch.Tensor) -> torch.Tensor:
    """Average ``fn`` over the 8 dihedral views of ``x`` (N, C, H, W), each mapped back."""
    outs = [
        _undo_view(fn(_apply_view(x, k, flip)), k, flip) for flip in (False, True) for k in range(4)
    ]
    return torch.stack(outs).mean(0)


def tiled(fn, x: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
    """Apply ``fn`` tile by tile: tiles of ``tile`` px, each with ``overlap`` px of context.

    The output is assembled from the tiles' centres; no averaging, so it is exact whenever the
    receptive-field radius of ``fn`` is at most ``overlap``.
    """
    if tile <= 0 or overlap < 0:
        raise ValueError(f"tile must be > 0 and overlap >= 0, got {tile}, {overlap}")
    _, _, h, w = x.shape
    if h <= tile and w <= tile:
        return fn(x)
    out = None
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            t0, l0 = max(top - overlap, 0), max(left - overlap, 0)
            t1, l1 = min(top + tile + overlap, h), min(left + tile + overlap, w)
            y = fn(x[..., t0:t1, l0:l1])
            if out is None:
                out = y.new_zeros(y.shape[:2] + (h, w))
            bh, bw = min(tile, h - top), min(tile, w - left)
            out[..., top : top + bh, left : left + bw] = y[
                ..., top - t0 : top - t0 + bh, left - l0 : left - l0 + bw
            ]
    return out


@torch.no_grad()
def restore(
    model: nn.Module,
    image: np.ndarray,
    *,
    tile: int | None = None,
    overlap: int = 32,
    ensemble: bool = False,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Restore one image (HxW or HxWxC float array) with ``model`` and return a float64 array.

    The model sees a float32 tensor of the same values (no rescaling here), in eval mode, on
    ``device`` (default: the model's). On CPU, denormal flushing is turned on: softmax and small
    activations otherwise produce denormals that make inference many times slower.
    """
    model.eval()
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    if dev.type == "cpu":
        torch.set_flush_denormal(True)
    arr = np.asarray(image, dtype=np.float32)
    x = torch.from_numpy(arr[None, None] if arr.ndim == 2 else arr.transpose(2, 0, 1)[None])
    x = x.to(dev)

    def run(t: torch.Tensor) -> torch.Tensor:
        return tiled(model, t, tile, overlap) if tile else model(t)

    y = self_ensemble(run, x) if ensemble else run(x)
    y = y[0].double().cpu().numpy()
    return y[0] if arr.ndim == 2 else y.transpose(1, 2, 0)


def check_threads(threads: int | None) -> None:
    """``ValueError`` unless ``threads`` is a positive integer or ``None``."""
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (None: leave the setting alone)."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
