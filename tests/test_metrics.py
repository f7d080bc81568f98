"""Metrics against hand-computed values and an independent SSIM implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from reprolib import metrics


def test_psnr_hand_computed():
    a = np.zeros((4, 4))
    b = np.ones((4, 4))  # MSE = 1
    assert metrics.psnr(a, b) == pytest.approx(20 * math.log10(255), abs=1e-12)
    b[0, 0] = 5  # MSE = (15 * 1 + 25) / 16 = 2.5
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 2.5), abs=1e-12)
    assert metrics.psnr(a, a) == float("inf")
    with pytest.raises(ValueError):
        metrics.psnr(a, np.zeros((3, 4)))


def test_ssim_constant_images_hand_computed():
    # For constant images sigma = 0, so SSIM = (2ab + C1) / (a^2 + b^2 + C1).
    a, b = 100.0, 110.0
    c1 = (0.01 * 255) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    got = metrics.ssim(np.full((16, 16), a), np.full((16, 16), b))
    assert got == pytest.approx(expected, rel=1e-12)


def test_ssim_matches_skimage_gaussian_valid_window():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 37)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 20, x.shape), 0, 255)
    ref = structural_similarity(
        x, y, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert metrics.ssim(x, y) == pytest.approx(ref, abs=1e-10)
    assert metrics.ssim(x, x) == pytest.approx(1.0, abs=1e-12)


def test_ssim_rejects_bad_input():
    with pytest.raises(ValueError):
        metrics.ssim(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(ValueError):
        metrics.ssim(np.zeros((20, 20)), np.zeros((20, 21)))
