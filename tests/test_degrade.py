"""Tests of reprolib.degrade: determinism, statistics, MATLAB equivalents and argument checks."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from reprolib import degrade as D
from reprolib.imageops import modcrop, to_uint8
from reprolib.imresize import imresize


def _img(h: int = 48, w: int = 64, c: int | None = None, seed: int = 0) -> np.ndarray:
    """Smooth-ish uint8 test image."""
    rng = np.random.default_rng(seed)
    shape = (h, w) if c is None else (h, w, c)
    coarse = rng.random((max(2, h // 8), max(2, w // 8)) + shape[2:]) * 255
    return to_uint8(imresize(coarse, output_shape=(h, w)))


# ---------------------------------------------------------------------------------------------
# seeding / noise
# ---------------------------------------------------------------------------------------------


def test_rng_for_is_stable_and_canonical():
    a = D.rng_for("x", 25, "img.png").standard_normal(4)
    b = D.rng_for("x", 25.0, "img.png").standard_normal(4)
    c = D.rng_for("x", 25, "img2.png").standard_normal(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_noise_deterministic_per_key_and_sigma():
    img = _img()
    n1 = D.add_gaussian_noise(img, 25, key="a.png")
    assert n1.dtype == np.float64 and n1.shape == img.shape
    np.testing.assert_array_equal(n1, D.add_gaussian_noise(img, 25.0, key="a.png"))
    assert not np.array_equal(n1, D.add_gaussian_noise(img, 25, key="b.png"))
    assert not np.array_equal(n1, D.add_gaussian_noise(img, 25, key="a.png", base_seed=1))
    # different sigma: a different (not merely rescaled) field
    r25 = (n1 - img) / 25
    r50 = (D.add_gaussian_noise(img, 50, key="a.png") - img) / 50
    assert not np.allclose(r25, r50)
    # float and uint8 of the same image give the same result
    np.testing.assert_allclose(D.add_gaussian_noise(img.astype(float), 25, key="a.png"), n1)
    # int and str keys with the same text are the same key
    np.testing.assert_array_equal(
        D.add_gaussian_noise(img, 10, key=3), D.add_gaussian_noise(img, 10, key="3")
    )


def test_noise_statistics_and_clipping():
    flat = np.full((400, 400), 128.0)
    for sigma in (10, 50):
        noise = D.add_gaussian_noise(flat, sigma, key="flat") - 128.0
        assert abs(noise.std() - sigma) < 0.02 * sigma
        assert abs(noise.mean()) < 0.02 * sigma
    noisy = D.add_gaussian_noise(flat, 70, key="flat")
    assert noisy.min() < 0 and noisy.max() > 255  # no clipping by default
    clipped = D.add_gaussian_noise(flat, 70, key="flat", clip=True)
    assert clipped.min() == 0 and clipped.max() == 255
    np.testing.assert_array_equal(clipped, np.clip(noisy, 0, 255))
    np.testing.assert_array_equal(D.add_gaussian_noise(flat, 0, key="flat"), flat)
    rgb = D.add_gaussian_noise(np.zeros((64, 64, 3)), 5, key="c")
    assert not np.allclose(rgb[..., 0], rgb[..., 1])  # independent channels


@pytest.mark.parametrize("sigma", [-1, -0.1, float("nan"), float("inf"), "25", True])
def test_noise_bad_sigma(sigma):
    with pytest.raises(ValueError, match="sigma"):
        D.add_gaussian_noise(_img(), sigma, key="k")


def test_noise_bad_key_and_image():
    with pytest.raises(ValueError, match="key"):
        D.add_gaussian_noise(_img(), 10, key=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="img"):
        D.add_gaussian_noise(np.zeros(10), 10, key="k")


# ---------------------------------------------------------------------------------------------
# bicubic degradation
# ---------------------------------------------------------------------------------------------


def test_bicubic_degrade_modes():
    hr = _img(48, 60)
    f = D.bicubic_degrade(hr, 3)
    assert f.dtype == np.float64 and f.shape == hr.shape
    np.testing.assert_allclose(f, imresize(imresize(hr.astype(float), 1 / 3), 3))
    u = D.bicubic_degrade(hr, 3, output="uint8")
    np.testing.assert_array_equal(u, to_uint8(f))
    p = D.bicubic_degrade(hr, 3, output="uint8_per_pass")
    np.testing.assert_array_equal(p, imresize(imresize(hr, 1 / 3), 3))
    assert p.dtype == np.uint8
    # same (linear) operator on [0, 1] data
    np.testing.assert_allclose(D.bicubic_degrade(hr / 255.0, 3) * 255, f, atol=1e-9)
    rgb = _img(24, 24, 3)
    assert D.bicubic_degrade(rgb, 2).shape == rgb.shape


def test_bicubic_degrade_errors_and_modcrop():
    hr = _img(50, 62)
    for bad in (1, 5, 2.5, 0, -2, True):
        with pytest.raises(ValueError, match="scale must be 2, 3 or 4"):
            D.bicubic_degrade(modcrop(hr, 4), bad)
    with pytest.raises(ValueError, match="modcrop"):
        D.bicubic_degrade(hr, 4)
    assert modcrop(hr, 4).shape == (48, 60)
    assert modcrop(hr, 3).shape == (48, 60)
    with pytest.raises(ValueError, match="output"):
        D.bicubic_degrade(modcrop(hr, 2), 2, output="double")
    with pytest.raises(ValueError, match="uint8"):
        D.bicubic_degrade(modcrop(hr, 2).astype(float), 2, output="uint8_per_pass")


# ---------------------------------------------------------------------------------------------
# JPEG
# ---------------------------------------------------------------------------------------------


def test_ijg_tables_formula():
    np.testing.assert_array_equal(D.ijg_quant_table(50), D._ANNEX_K_LUMA)
    assert D.ijg_quant_table(100).max() == 1
    t10 = D.ijg_quant_table(10)  # scale 500: 16 * 5 = 80, clamped at 255
    assert t10[0, 0] == 80 and t10.max() == 255


@pytest.mark.parametrize("quality", [10, 20, 40, 75])
def test_jpeg_uses_standard_tables(quality):
    img = _img(64, 64)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        table = np.array(im.quantization[0]).reshape(8, 8)
    np.testing.assert_array_equal(table, D.ijg_quant_table(quality))
    out = D.jpeg(img, quality)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        np.testing.assert_array_equal(out, np.asarray(im))


def test_jpeg_properties():
    img = _img(64, 80)
    j10 = D.jpeg(img, 10)
    assert j10.dtype == np.uint8 and j10.shape == img.shape
    np.testing.assert_array_equal(j10, D.jpeg(img, 10))  # deterministic
    err = [np.abs(D.jpeg(img, q).astype(float) - img).mean() for q in (10, 20, 50, 90)]
    assert err == sorted(err, reverse=True)  # higher quality, smaller error
    assert err[-1] < 2.0
    # re-compressing at the same quality changes little (near-idempotent)
    j10b = D.jpeg(j10, 10)
    assert np.abs(j10b.astype(float) - j10).mean() < 0.5 * err[0]
    # optimize=True only changes the Huffman coding, not the decoded pixels
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=10, optimize=True)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        np.testing.assert_array_equal(np.asarray(im), j10)
    assert D.jpeg(img[:, :, None], 20).shape == (64, 80, 1)
    assert D.jpeg(_img(32, 32, 3), 20).shape == (32, 32, 3)


@pytest.mark.parametrize("quality", [0, 101, -5, 10.0, True])
def test_jpeg_bad_quality(quality):
    with pytest.raises(ValueError, match="quality must be an integer in 1..100"):
        D.jpeg(_img(), quality)


def test_jpeg_needs_uint8():
    with pytest.raises(ValueError, match="uint8"):
        D.jpeg(_img().astype(float), 10)


# ---------------------------------------------------------------------------------------------
# blur kernels and blurring
# ---------------------------------------------------------------------------------------------


def test_fspecial_gaussian_hand_values():
    # exp(-(x^2+y^2)/(2*0.25)): centre 1, edges e^-2, corners e^-4, then normalised
    e2, e4 = np.exp(-2.0), np.exp(-4.0)
    raw = np.array([[e4, e2, e4], [e2, 1.0, e2], [e4, e2, e4]])
    np.testing.assert_allclose(D.fspecial_gaussian(3, 0.5), raw / raw.sum(), atol=1e-15)
    np.testing.assert_allclose(
        D.fspecial_gaussian(3, 0.5),
        [[0.0113, 0.0838, 0.0113], [0.0838, 0.6193, 0.0838], [0.0113, 0.0838, 0.0113]],
        atol=5e-5,
    )
    g = D.fspecial_gaussian((3, 5), 1.0)
    assert g.shape == (3, 5) and g.sum() == pytest.approx(1.0)
    # eps truncation: tiny tails are zeroed as MATLAB does
    assert D.fspecial_gaussian(25, 1.0)[0, 0] == 0.0


def test_fspecial_disk_matlab_values():
    np.testing.assert_allclose(
        D.fspecial_disk(1),
        [[0.0251, 0.1453, 0.0251], [0.1453, 0.3183, 0.1453], [0.0251, 0.1453, 0.0251]],
        atol=5e-5,
    )
    # MATLAB fspecial('disk', 2)
    np.testing.assert_allclose(
        D.fspecial_disk(2)[:3],
        [
            [0.0, 0.0170, 0.0381, 0.0170, 0.0],
            [0.0170, 0.0784, 0.0796, 0.0784, 0.0170],
            [0.0381, 0.0796, 0.0796, 0.0796, 0.0381],
        ],
        atol=5e-5,
    )
    # centre pixel of disk(1): the unit square is fully inside, weight 1/(pi r^2) before the
    # normalisation; the full kernel's area is pi r^2
    k7 = D.fspecial_disk(7)
    assert k7.shape == (15, 15)
    assert k7[7, 7] == pytest.approx(1 / (np.pi * 49), rel=1e-9)
    np.testing.assert_allclose(k7, k7.T)
    np.testing.assert_allclose(k7, k7[::-1, ::-1])


def test_fspecial_motion():
    np.testing.assert_allclose(D.fspecial_motion(9, 0), np.full((1, 9), 1 / 9))
    np.testing.assert_allclose(D.fspecial_motion(5, 90), np.full((5, 1), 1 / 5))
    # 45 degrees, length 3, worked through MATLAB's construction by hand: distances to the line
    # (with end-point correction) give 1 at the centre, 2 - sqrt(2) at the ends and
    # 1 - sqrt(0.5 + (1 - sqrt(0.5))^2) beside it; line runs bottom-left to top-right.
    end = 2 - np.sqrt(2.0)
    side = 1 - np.sqrt(0.5 + (1 - np.sqrt(0.5)) ** 2)
    raw = np.array([[0, side, end], [side, 1, side], [end, side, 0]])
    np.testing.assert_allclose(D.fspecial_motion(3, 45), raw / raw.sum(), atol=1e-12)
    for length, angle in ((15, 45), (7, 30), (20, 135), (10.5, 200)):
        k = D.fspecial_motion(length, angle)
        assert k.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)
    np.testing.assert_allclose(D.fspecial_motion(7, 210), D.fspecial_motion(7, 30))


def test_deblur_kernels_sum_to_one():
    for kind in ("disk", "motion", "gaussian"):
        k = D.deblur_kernel(kind)
        assert k.sum() == pytest.approx(1.0) and np.all(k >= 0)
    assert D.deblur_kernel("disk").shape == (15, 15)
    assert D.deblur_kernel("gaussian").shape == (25, 25)
    assert D.deblur_kernel("disk", radius=3).shape == (7, 7)
    with pytest.raises(ValueError, match="kind"):
        D.deblur_kernel("box")
    with pytest.raises(ValueError, match="unknown parameter"):
        D.deblur_kernel("disk", sigma=2)


def test_blur_matches_imfilter_conv_replicate():
    rng = np.random.default_rng(3)
    img = rng.random((9, 11)) * 255
    k = np.arange(1, 7, dtype=float).reshape(2, 3)  # asymmetric, even height
    out = D.blur(img, k)
    # explicit MATLAB imfilter(img, k, 'conv', 'replicate'): rotate k by 180 degrees, centre
    # at floor((size + 1) / 2) (1-based) of the rotated kernel, replicate-padded correlation
    kr = k[::-1, ::-1]
    cr, cc = 0, 1
    pad = np.pad(img, ((cr, 1 - cr), (cc, 2 - cc)), mode="edge")
    ref = np.zeros_like(img)
    for i in range(2):
        for j in range(3):
            ref += kr[i, j] * pad[i : i + 9, j : j + 11]
    np.testing.assert_allclose(out, ref, atol=1e-9)
    # delta image: a true convolution reproduces the kernel around the impulse
    delta = np.zeros((9, 9))
    delta[4, 4] = 1.0
    m = D.fspecial_motion(5, 30)
    got = D.blur(delta, m, boundary="zero")
    r, c = m.shape
    np.testing.assert_allclose(got[4 - r // 2 : 4 + r // 2 + 1, 4 - c // 2 : 4 + c // 2 + 1], m)


def test_blur_dtypes_boundaries_noise():
    img = _img(40, 40)
    k = D.deblur_kernel("gaussian")
    b8 = D.blur(img, k)
    bf = D.blur(img.astype(float), k)
    assert b8.dtype == np.uint8 and bf.dtype == np.float64
    np.testing.assert_array_equal(b8, to_uint8(bf))
    const = np.full((20, 20), 100.0)
    for boundary in ("replicate", "symmetric", "circular"):
        np.testing.assert_allclose(D.blur(const, k, boundary=boundary), 100.0)
    assert D.blur(const, k, boundary="zero")[0, 0] < 100.0
    n1 = D.blur(img, k, noise_sigma=2.0, key="k")
    assert n1.dtype == np.float64
    np.testing.assert_array_equal(n1, D.blur(img, k, noise_sigma=2.0, key="k"))
    assert not np.array_equal(n1, D.blur(img, k, noise_sigma=2.0, key="j"))
    rgb = _img(16, 16, 3)
    out = D.blur(rgb, k)
    np.testing.assert_array_equal(out[..., 1], D.blur(rgb[..., 1], k))
    with pytest.raises(ValueError, match="key"):
        D.blur(img, k, noise_sigma=2.0)
    with pytest.raises(ValueError, match="boundary"):
        D.blur(img, k, boundary="reflect")
    with pytest.raises(ValueError, match="noise_sigma"):
        D.blur(img, k, noise_sigma=-1)
    with pytest.raises(ValueError, match="kernel"):
        D.blur(img, np.ones(3))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: D.fspecial_gaussian(0, 1.0), "hsize"),
        (lambda: D.fspecial_gaussian(3, 0.0), "sigma"),
        (lambda: D.fspecial_gaussian(3, -1.0), "sigma"),
        (lambda: D.fspecial_disk(0), "radius"),
        (lambda: D.fspecial_disk(-2), "radius"),
        (lambda: D.fspecial_motion(0.5, 0), "length"),
        (lambda: D.fspecial_motion(5, float("nan")), "angle"),
    ],
)
def test_kernel_bad_parameters(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# inpainting corruptions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("font_size", [10, 20])
def test_text_overlay(font_size):
    img = _img(96, 128)
    cor, mask = D.text_overlay(img, font_size, key="img1")
    assert cor.dtype == np.uint8 and cor.shape == img.shape
    assert mask.dtype == np.bool_ and mask.shape == img.shape
    assert 0.02 < mask.mean() < 0.4
    np.testing.assert_array_equal(cor[mask], 255)
    np.testing.assert_array_equal(cor[~mask], img[~mask])
    cor2, mask2 = D.text_overlay(img, font_size, key="img1")
    np.testing.assert_array_equal(cor, cor2)
    np.testing.assert_array_equal(mask, mask2)
    _, mask3 = D.text_overlay(img, font_size, key="img2")
    assert not np.array_equal(mask, mask3)


def test_text_overlay_sizes_colour_and_errors():
    img = _img(96, 128, 3)
    _, m10 = D.text_overlay(img[..., 0], 10, key="a")
    _, m20 = D.text_overlay(img[..., 0], 20, key="a")
    # bigger font -> thicker strokes: more set pixels per text row
    assert not np.array_equal(m10, m20)
    cor, mask = D.text_overlay(img, 20, key="a", value=0)
    assert cor.shape == img.shape and np.all(cor[mask] == 0)
    curf, _ = D.text_overlay(img.astype(float), 20, key="a", value=0)
    assert curf.dtype == np.float64
    for bad in (0, 3, 500, 10.5):
        with pytest.raises(ValueError, match="font_size"):
            D.text_overlay(img, bad, key="a")
    with pytest.raises(ValueError, match="value"):
        D.text_overlay(img, 10, key="a", value=300)


def test_random_scratches():
    img = _img(96, 128)
    cor, mask = D.random_scratches(img, key="s")
    assert mask.dtype == np.bool_ and 0.001 < mask.mean() < 0.3
    np.testing.assert_array_equal(cor[mask], 255)
    np.testing.assert_array_equal(cor[~mask], img[~mask])
    cor2, mask2 = D.random_scratches(img, key="s")
    np.testing.assert_array_equal(cor, cor2)
    _, mask3 = D.random_scratches(img, key="t")
    assert not np.array_equal(mask, mask3)
    _, none = D.random_scratches(img, key="s", n_scratches=0)
    assert not none.any()
    with pytest.raises(ValueError, match="n_scratches"):
        D.random_scratches(img, key="s", n_scratches=-1)
    with pytest.raises(ValueError, match="width_range"):
        D.random_scratches(img, key="s", width_range=(3, 1))


def test_inpaint_corruption_is_text_of_the_font_size_or_scratches():
    img = _img(96, 128)
    for level in (10, 20):
        got = D.inpaint_corruption(img, level, key="k")
        want = D.text_overlay(img, level, key="k")
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    got = D.inpaint_corruption(img, D.SCRATCH_LEVEL, key="k")
    want = D.random_scratches(img, key="k")
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


# ---------------------------------------------------------------------------------------------
# MemoryNet proxies
# ---------------------------------------------------------------------------------------------


def test_synthetic_shadow():
    img = _img(64, 96, 3)
    sh, mask, free = D.synthetic_shadow(img, key="x")
    assert sh.dtype == np.uint8 and sh.shape == img.shape and mask.shape == img.shape[:2]
    np.testing.assert_array_equal(free, img)
    assert 0.05 < mask.mean() < 0.6
    inside = sh[mask].astype(float) / np.maximum(img[mask].astype(float), 1)
    assert inside.mean() < 0.8  # darker inside the mask
    assert np.all(sh.astype(int) <= img.astype(int))  # only darkens
    far = D.synthetic_shadow(img, key="x")
    np.testing.assert_array_equal(sh, far[0])
    np.testing.assert_array_equal(mask, far[1])
    assert not np.array_equal(mask, D.synthetic_shadow(img, key="y")[1])
    assert D.synthetic_shadow(img.astype(float), key="x")[0].dtype == np.float64
    with pytest.raises(ValueError, match="HxWx3"):
        D.synthetic_shadow(img[..., 0], key="x")


def test_synthetic_motion_blur():
    img = _img(64, 64, 3)
    b, k = D.synthetic_motion_blur(img, key="m")
    assert b.shape == img.shape and b.dtype == np.uint8
    assert k.sum() == pytest.approx(1.0)
    b2, k2 = D.synthetic_motion_blur(img, key="m")
    np.testing.assert_array_equal(b, b2)
    np.testing.assert_array_equal(k, k2)
    _, k3 = D.synthetic_motion_blur(img, key="n")
    assert k3.shape != k.shape or not np.array_equal(k3, k)
    np.testing.assert_array_equal(b, D.blur(img, k))
    with pytest.raises(ValueError, match="length_range"):
        D.synthetic_motion_blur(img, key="m", length_range=(10, 5))


def test_synthetic_proxy_is_the_uint8_degradation_with_its_mask():
    img = _img(40, 48, 3)
    shadowed, mask = D.synthetic_proxy(img, "shadow", key="k")
    expected, expected_mask, _ = D.synthetic_shadow(img, key="k")
    np.testing.assert_array_equal(shadowed, expected)
    np.testing.assert_array_equal(mask, expected_mask)
    blurred, none = D.synthetic_proxy(img, "motion_blur", key="k")
    assert none is None and blurred.dtype == np.uint8
    np.testing.assert_array_equal(blurred, to_uint8(D.synthetic_motion_blur(img, key="k")[0]))
    with pytest.raises(ValueError, match="proxy task"):
        D.synthetic_proxy(img, "rain", key="k")
