"""Metrics against hand-computed values and an independent SSIM implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from reprolib import metrics


def test_round_half_away_from_zero_like_matlab():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.49999])
    assert metrics.round_half_away(x).tolist() == [1, 2, 3, -1, -2, 2]


def test_to_uint8_saturates_and_rounds():
    assert metrics.to_uint8(np.array([-3.0, 0.5, 254.5, 300.0])).tolist() == [0, 1, 255, 255]


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


def test_rgb2y_matches_matlab_rgb2ycbcr_uint8():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    # MATLAB: rgb2ycbcr(uint8(...)) luma = 16, 235, 81, 145, 41
    assert metrics.rgb2y(rgb).tolist() == [[16, 235, 81, 145, 41]]
    assert metrics.rgb2y(rgb.astype(float))[0, 2] == pytest.approx(16 + 65.481)


def test_rgb2gray_matches_matlab():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], np.uint8)
    # 0.298936*255 = 76.23 -> 76; 0.587043*255 = 149.7 -> 150; 0.114021*255 = 29.08 -> 29
    # 0.298936*10 + 0.587043*20 + 0.114021*30 = 18.1505 -> 18
    assert metrics.rgb2gray(rgb).tolist() == [[76, 150, 29, 18]]


def test_luminance_passes_gray_through_and_rejects_unknown():
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert metrics.luminance(g, "y") is g
    with pytest.raises(ValueError):
        metrics.luminance(np.zeros((2, 2, 3), np.uint8), "lab")


def test_modcrop_and_shave():
    img = np.arange(7 * 10).reshape(7, 10)
    assert metrics.modcrop(img, 3).shape == (6, 9)
    assert metrics.modcrop(img, 4)[-1, -1] == img[3, 7]
    assert metrics.shave(img, 2).shape == (3, 6)
    assert metrics.shave(img, 0) is img
    with pytest.raises(ValueError):
        metrics.modcrop(img, 0)
