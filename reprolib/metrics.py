"""Image-quality metrics with the MATLAB conventions the four papers were evaluated with.

All functions take numpy arrays. Pixel values are on the [0, 255] scale unless stated; floats
are kept unrounded, and rounding (where a protocol asks for it) uses MATLAB's rule, half away
from zero, not numpy's half-to-even.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

# MATLAB rgb2ycbcr, luma row (ITU-R BT.601, "studio swing"): Y in [16, 235].
_YCBCR_Y = np.array([65.481, 128.553, 24.966])
# MATLAB rgb2gray weights (inverse of the NTSC rgb2ntsc transform's first row).
_GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


def round_half_away(x: np.ndarray) -> np.ndarray:
    """MATLAB ``round``: halves go away from zero (numpy's ``round`` goes to even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB ``uint8(x)`` for x on [0, 255]: round half away from zero, then saturate."""
    return np.clip(round_half_away(np.asarray(x, dtype=np.float64)), 0, 255).astype(np.uint8)


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


def luminance(img: np.ndarray, channel: str) -> np.ndarray:
    """The single channel a protocol scores: ``'y'`` (rgb2ycbcr) or ``'gray'`` (rgb2gray).

    Images that are already single-channel are returned unchanged.
    """
    if img.ndim == 2:
        return img
    if channel == "y":
        return rgb2y(img)
    if channel == "gray":
        return rgb2gray(img)
    raise ValueError(f"channel must be 'y' or 'gray', got {channel!r}")


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so height and width are multiples of ``scale`` (MATLAB modcrop)."""
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def shave(img: np.ndarray, border: int) -> np.ndarray:
    """Remove ``border`` pixels from every side (SR evaluation ignores the frame)."""
    if border < 0:
        raise ValueError(f"border must be >= 0, got {border}")
    if border == 0:
        return img
    return img[border:-border, border:-border]


def mse(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(np.mean(d * d))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(data_range^2 / MSE); inf for equal images."""
    err = mse(a, b)
    return float("inf") if err == 0 else float(10.0 * np.log10(data_range**2 / err))


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    r = len(g) // 2
    out = correlate1d(correlate1d(img, g, axis=0, mode="constant"), g, axis=1, mode="constant")
    return out[r:-r, r:-r]


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM exactly as Wang et al.'s ``ssim_index.m`` (2004).

    11x11 Gaussian window with sigma 1.5 (``fspecial('gaussian', 11, 1.5)``, which is separable),
    K1 = 0.01, K2 = 0.03, L = ``data_range``, statistics over 'valid' positions only (no padding),
    no automatic downsampling. Inputs are single-channel.
    """
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"ssim expects two equal 2-D images, got {a.shape} and {b.shape}")
    if min(a.shape) < 11:
        raise ValueError(f"ssim needs images of at least 11x11 pixels, got {a.shape}")
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    g = _gaussian_1d()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mu_x * mu_x
    syy = _filter_valid(y * y, g) - mu_y * mu_y
    sxy = _filter_valid(x * y, g) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (sxx + syy + c2)
    return float(np.mean(num / den))
