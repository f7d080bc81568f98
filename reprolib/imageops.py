"""MATLAB-style image primitives: uint8 rounding, Y/gray conversion, mod-crop and border shave.

The four papers were evaluated with MATLAB scripts, and their numbers depend on MATLAB's small
conventions: ``uint8(x)`` rounds halves away from zero (numpy rounds them to even) and maps NaN
to 0; ``rgb2ycbcr`` and ``rgb2gray`` round when given uint8; SR references are mod-cropped and
scored without a border. Every module that needs one of these (metrics, degradations, patches,
protocols, the explorer) takes it from here, so there is one version of each.

Pixel values are on the [0, 255] scale. Functions take numpy arrays and never modify them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CHANNELS",
    "modcrop",
    "rgb2gray",
    "rgb2y",
    "round_half_away",
    "shave",
    "to_channel",
    "to_uint8",
]

#: Channels an image can be brought to: MATLAB rgb2gray, the rgb2ycbcr luminance, or RGB.
CHANNELS: tuple[str, ...] = ("gray", "y", "rgb")

# MATLAB rgb2ycbcr, luma row (ITU-R BT.601, "studio swing"): Y in [16, 235].
_YCBCR_Y = np.array([65.481, 128.553, 24.966])
# MATLAB rgb2gray weights (inverse of the NTSC rgb2ntsc transform's first row).
_GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


def round_half_away(x: np.ndarray) -> np.ndarray:
    """MATLAB ``round``: halves go away from zero (numpy's ``round`` goes to even)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB ``uint8(x)``: round half away from zero, saturate to [0, 255], NaN becomes 0."""
    r = np.nan_to_num(round_half_away(x), nan=0.0)
    return np.clip(r, 0, 255).astype(np.uint8)


def rgb2y(rgb: np.ndarray) -> np.ndarray:
    """Y of MATLAB ``rgb2ycbcr``.

    uint8 input gives uint8 output, rounded as MATLAB does: Y = 16 + (65.481 R + 128.553 G +
    24.966 B) / 255 with R, G, B in 0..255. Float input (0..255 scale) gives unrounded float.
    """
    y = 16.0 + np.asarray(rgb[..., :3], dtype=np.float64) @ _YCBCR_Y / 255.0
    return to_uint8(y) if rgb.dtype == np.uint8 else y


def rgb2gray(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray``; uint8 in gives rounded uint8 out, float in gives float out."""
    g = np.asarray(rgb[..., :3], dtype=np.float64) @ _GRAY
    return to_uint8(g) if rgb.dtype == np.uint8 else g


def to_channel(img: np.ndarray, channel: str) -> np.ndarray:
    """An image in one of :data:`CHANNELS`: ``'gray'``/``'y'`` give HxW, ``'rgb'`` HxWx3.

    A single-channel image is already gray or Y and comes back unchanged (the same array) for
    those two; for ``'rgb'`` it is repeated into three channels. A colour image goes through
    :func:`rgb2gray` or :func:`rgb2y` (rounded when uint8), or keeps its first three channels.
    """
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}, got {channel!r}")
    if channel == "rgb":
        return np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img[:, :, :3]
    if img.ndim == 2:
        return img
    return rgb2gray(img) if channel == "gray" else rgb2y(img)


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so height and width are multiples of ``scale`` (MATLAB modcrop)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be an integer >= 1, got {scale!r}")
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def shave(img: np.ndarray, border: int) -> np.ndarray:
    """Remove ``border`` pixels from every side (SR evaluation ignores the frame)."""
    if border < 0:
        raise ValueError(f"border must be >= 0, got {border}")
    if border == 0:
        return img
    return img[border:-border, border:-border]
