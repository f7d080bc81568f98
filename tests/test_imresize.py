"""Tests of the MATLAB-compatible bicubic imresize against hand-derived values."""

from __future__ import annotations

import time

import numpy as np
import pytest

from reprolib.imageops import to_uint8
from reprolib.imresize import contributions, cubic, imresize, resize_matrix

# Keys cubic kernel (a = -0.5) at the distances that occur for scale 2 / 0.5, worked by hand:
#   k(0.25) = 1.5/64 - 2.5/16 + 1            = 111/128
#   k(0.75) = 1.5*27/64 - 2.5*9/16 + 1        = 29/128
#   k(1.25) = -0.5*125/64 + 2.5*25/16 - 5 + 2 = -9/128
#   k(1.75) = -0.5*343/64 + 2.5*49/16 - 7 + 2 = -3/128
K025, K075, K125, K175 = 111 / 128, 29 / 128, -9 / 128, -3 / 128


def test_cubic_kernel_values():
    x = np.array([0.0, 0.25, 0.75, 1.0, 1.25, 1.75, 2.0, 2.5, -0.25, -1.25])
    expected = [1.0, K025, K075, 0.0, K125, K175, 0.0, 0.0, K025, K125]
    np.testing.assert_allclose(cubic(x), expected, atol=1e-15)
    # weights at the four taps of a half-pixel phase sum to one (partition of unity)
    assert K175 + K075 + K025 + K125 == pytest.approx(1.0)


def test_upscale_x2_1d_by_hand():
    # Output x (1-based) maps to u = x/2 + 1/4. Taps floor(u - 2) + (0..5), symmetric padding
    # [v0 v0 v1 ...]: e.g. x=1, u=0.75, taps -2..3 (1-based) -> samples v1 v0 v0 v1 (weights
    # nonzero on taps -1, 0, 1, 2 with distances 1.75, 0.75, -0.25, -1.25).
    v = np.array([0.0, 1.0, 2.0, 3.0])
    out0 = K175 * v[1] + K075 * v[0] + K025 * v[0] + K125 * v[1]
    out1 = K125 * v[0] + K025 * v[0] + K075 * v[1] + K175 * v[2]
    out2 = K175 * v[0] + K075 * v[0] + K025 * v[1] + K125 * v[2]
    out3 = K125 * v[0] + K025 * v[1] + K075 * v[2] + K175 * v[3]
    expected = np.array([out0, out1, out2, out3, 0, 0, 0, 0])
    expected[4:] = 3.0 - expected[:4][::-1]  # mirror symmetry of the ramp
    np.testing.assert_allclose(expected[:4], [-0.09375, 0.1796875, 0.7265625, 1.25])
    # as a row and as a column, float input
    np.testing.assert_allclose(imresize(v[None, :], 2)[0], expected, atol=1e-12)
    np.testing.assert_allclose(imresize(v[:, None], 2)[:, 0], expected, atol=1e-12)


def test_downscale_x2_antialiased_1d_by_hand():
    # scale 0.5: kernel h(t) = 0.5 k(t/2), width 8, 10 taps; u = 2x - 1/2.
    # Distances 3.5 .. -3.5 in steps of 1 give weights 0.5*k(1.75), 0.5*k(1.25), 0.5*k(0.75),
    # 0.5*k(0.25), then mirrored (they already sum to one).
    w = 0.5 * np.array([K175, K125, K075, K025, K025, K075, K125, K175])
    assert w.sum() == pytest.approx(1.0)
    v = np.arange(8, dtype=np.float64)
    # x=1 (u=1.5): taps -2..5 (1-based) read v2 v1 v0 v0 v1 v2 v3 v4 under symmetric padding
    out0 = w @ v[[2, 1, 0, 0, 1, 2, 3, 4]]
    # x=2 (u=3.5): taps 0..7 read v0 v0 v1 v2 v3 v4 v5 v6
    out1 = w @ v[[0, 0, 1, 2, 3, 4, 5, 6]]
    expected = np.array([out0, out1, 7 - out1, 7 - out0])
    np.testing.assert_allclose(expected[:2], [0.44921875, 2.48828125])
    np.testing.assert_allclose(imresize(v[None, :], 0.5)[0], expected, atol=1e-12)
    # no antialiasing: plain 4-tap kernel at distances 1.5, 0.5, -0.5, -1.5 (k(1.5) = -1/16,
    # k(0.5) = 9/16), e.g. x=2 (u=3.5) -> -1/16 v1 + 9/16 v2 + 9/16 v3 - 1/16 v4 = 2.5
    plain = imresize(v[None, :], 0.5, antialiasing=False)[0]
    assert plain[1] == pytest.approx(2.5)


def test_contributions_shapes_and_normalisation():
    w, idx = contributions(10, 5, 0.5)
    assert w.shape == idx.shape == (5, 8)  # 10 taps, the two all-zero columns removed
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert idx.min() >= 0 and idx.max() <= 9
    mat = resize_matrix(7, 21, 3.0).toarray()
    np.testing.assert_allclose(mat.sum(axis=1), 1.0)


def test_output_size_is_ceil_of_scale_times_size():
    img = np.zeros((10, 11))
    assert imresize(img, 1 / 3).shape == (4, 4)
    assert imresize(img, 2).shape == (20, 22)
    assert imresize(img, (0.5, 2)).shape == (5, 22)
    assert imresize(img, output_shape=(7, 3)).shape == (7, 3)
    assert imresize(np.zeros((10, 11, 3)), 0.5).shape == (5, 6, 3)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_constant_image_stays_constant(scale):
    img = np.full((24, 36), 123.25)
    lr = imresize(img, 1 / scale)
    sr = imresize(lr, scale)
    np.testing.assert_allclose(lr, 123.25, atol=1e-10)
    np.testing.assert_allclose(sr, 123.25, atol=1e-10)
    u8 = np.full((24, 36), 77, np.uint8)
    assert np.all(imresize(imresize(u8, 1 / scale), scale) == 77)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_linear_ramp_preserved_in_interior_on_upscale(scale):
    n = 16
    ramp = np.add.outer(np.arange(n) * 2.0, np.arange(n) * 0.5)  # f(r, c) = 2 r + c / 2
    up = imresize(ramp, scale)
    # output pixel x (1-based) sits at input coordinate u = x/s + (1 - 1/s)/2 (1-based)
    coords = (np.arange(1, n * scale + 1) / scale + 0.5 * (1 - 1 / scale)) - 1
    expected = np.add.outer(coords * 2.0, coords * 0.5)
    m = 3 * scale  # away from the symmetric boundary
    np.testing.assert_allclose(up[m:-m, m:-m], expected[m:-m, m:-m], atol=1e-10)


def test_to_uint8_rounds_like_matlab_uint8():
    x = np.array([-3.0, -0.5, 0.49, 0.5, 1.5, 2.5, 254.5, 255.4, 300.0, np.nan])
    np.testing.assert_array_equal(to_uint8(x), [0, 0, 0, 1, 2, 3, 255, 255, 255, 0])


def test_uint8_input_rounds_each_pass_smallest_scale_first():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(17, 23)).astype(np.uint8)
    out = imresize(img, (3.0, 0.5))  # rows x3, cols x0.5 -> columns (smaller scale) first
    assert out.dtype == np.uint8 and out.shape == (51, 12)
    cols = resize_matrix(23, 12, 0.5)
    rows = resize_matrix(17, 51, 3.0)
    step1 = to_uint8((cols @ img.astype(np.float64).T).T).astype(np.float64)
    expected = to_uint8(rows @ step1)
    np.testing.assert_array_equal(out, expected)
    # the other order (or rounding only at the end) gives a different uint8 image here
    other = to_uint8((cols @ to_uint8(rows @ img.astype(np.float64)).astype(np.float64).T).T)
    assert not np.array_equal(other, expected)
    # float input is never rounded
    f = imresize(img.astype(np.float64), (3.0, 0.5))
    assert f.dtype == np.float64 and not np.allclose(f, np.round(f))
    assert np.abs(np.clip(f, 0, 255) - out).max() <= 1.5


def test_float_output_not_clipped():
    img = np.zeros((8, 8))
    img[:, 4:] = 255.0
    up = imresize(img, 2)
    assert up.min() < 0 and up.max() > 255  # cubic overshoot survives for float input
    up8 = imresize(img.astype(np.uint8), 2)
    assert up8.min() == 0 and up8.max() == 255


def test_colour_channels_independent():
    rng = np.random.default_rng(1)
    img = rng.random((9, 13, 3)) * 255
    out = imresize(img, 0.5)
    for c in range(3):
        np.testing.assert_allclose(out[:, :, c], imresize(img[:, :, c], 0.5), atol=1e-12)


def test_bad_arguments():
    img = np.zeros((4, 4))
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="scale"):
            imresize(img, bad)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(img)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(img, 2, output_shape=(8, 8))
    with pytest.raises(ValueError, match="output_shape"):
        imresize(img, output_shape=(0, 3))
    with pytest.raises(ValueError, match="HxW"):
        imresize(np.zeros(5), 2)


def test_speed_1024x768():
    img = np.random.default_rng(2).random((768, 1024)) * 255
    imresize(img, 0.5)  # warm-up
    t0 = time.perf_counter()
    imresize(imresize(img, 0.5), 2)
    assert time.perf_counter() - t0 < 2.0  # typically ~0.05 s
