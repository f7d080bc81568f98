"""MATLAB-style image primitives: rounding, Y/gray conversion, mod-crop, shave."""

from __future__ import annotations

import numpy as np
import pytest

from reprolib import imageops


def test_round_half_away_from_zero_like_matlab():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.49999])
    assert imageops.round_half_away(x).tolist() == [1, 2, 3, -1, -2, 2]


def test_to_uint8_saturates_and_rounds():
    assert imageops.to_uint8(np.array([-3.0, 0.5, 254.5, 300.0])).tolist() == [0, 1, 255, 255]


def test_rgb2y_matches_matlab_rgb2ycbcr_uint8():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    # MATLAB: rgb2ycbcr(uint8(...)) luma = 16, 235, 81, 145, 41
    assert imageops.rgb2y(rgb).tolist() == [[16, 235, 81, 145, 41]]
    assert imageops.rgb2y(rgb.astype(float))[0, 2] == pytest.approx(16 + 65.481)


def test_rgb2gray_matches_matlab():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], np.uint8)
    # 0.298936*255 = 76.23 -> 76; 0.587043*255 = 149.7 -> 150; 0.114021*255 = 29.08 -> 29
    # 0.298936*10 + 0.587043*20 + 0.114021*30 = 18.1505 -> 18
    assert imageops.rgb2gray(rgb).tolist() == [[76, 150, 29, 18]]


def test_to_channel_passes_gray_through_and_rejects_unknown():
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert imageops.to_channel(g, "y") is g
    with pytest.raises(ValueError):
        imageops.to_channel(np.zeros((2, 2, 3), np.uint8), "lab")


def test_modcrop_and_shave():
    img = np.arange(7 * 10).reshape(7, 10)
    assert imageops.modcrop(img, 3).shape == (6, 9)
    assert imageops.modcrop(img, 4)[-1, -1] == img[3, 7]
    assert imageops.shave(img, 2).shape == (3, 6)
    assert imageops.shave(img, 0) is img
    with pytest.raises(ValueError):
        imageops.modcrop(img, 0)


def test_to_channel_makes_rgb_from_gray_and_keeps_rgb():
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = imageops.to_channel(g, "rgb")
    assert rgb.shape == (3, 4, 3) and (rgb[..., 2] == g).all()
    assert imageops.to_channel(rgb, "gray").tolist() == g.tolist()  # gray RGB stays gray
