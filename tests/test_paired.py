"""Paired-set loaders (ISTD, RainDrop, GoPro layouts) and the ISTD shadow-removal metrics.

Loaders are checked on the staged samples and on tiny synthetic folder trees; the LAB and PSNR
region metrics against hand-computed values. Everything here runs in a few seconds.
"""

from __future__ import annotations

import hashlib
import math
import shutil

import numpy as np
import pytest
from PIL import Image

from reprolib import data, metrics, paired

# --------------------------------------------------------------------------------------------
# Helpers


def _png(path, arr) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(path)


def _rgb(value: int, h: int = 4, w: int = 5) -> np.ndarray:
    return np.full((h, w, 3), value, dtype=np.uint8)


def _pixel_hash(arr: np.ndarray, mode: str) -> str:
    """The manifest's pixel hash (see reprolib.data.pixel_hash) of an already decoded array."""
    return hashlib.sha256(f"{mode}|{arr.shape}|{arr.dtype}".encode() + arr.tobytes()).hexdigest()


def _srgb_L(v: int) -> float:
    """CIE L* of the sRGB gray level v (0..255), by hand: IEC 61966-2-1 decoding, CIE 1976."""
    c = v / 255.0
    y = c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    f = y ** (1 / 3) if y > 216 / 24389 else (24389 / 27 * y + 16) / 116
    return 116 * f - 16


def _make_istd(root, split: str, names, *, skip_mask=()) -> None:
    for i, name in enumerate(names):
        _png(root / f"{split}_A" / f"{name}.png", _rgb(10 + i))
        if name not in skip_mask:
            mask = np.zeros((4, 5), np.uint8)
            mask[:2, :2] = 255
            mask[3, 4] = 3  # a soft edge value: still shadow (MATLAB's ~m)
            _png(root / f"{split}_B" / f"{name}.png", mask)
        _png(root / f"{split}_C" / f"{name}.png", _rgb(100 + i))


# --------------------------------------------------------------------------------------------
# Staged samples


def test_istd_sample_triple(data_root):
    ds = paired.load_sample("ISTD_sample")
    assert ds.layout == "istd_flat" and len(ds) == 1 and ds.names == ["114-5"]
    (p,) = ds.pairs
    assert (p.degraded.name, p.target.name, p.mask.name) == (
        "114-5_shadow.png",
        "114-5_shadow_free_original.png",
        "114-5_shadow_mask.png",
    )
    s = ds[0]
    assert s.degraded.shape == s.target.shape == (480, 640, 3)
    assert s.degraded.dtype == s.target.dtype == np.uint8
    assert s.mask.shape == (480, 640) and s.mask.dtype == np.bool_
    assert s.mask.any() and not s.mask.all()
    # Roles are right: decoded pixels match the manifest's hash of each file.
    files = {r["file"]: r["pixel_sha256"] for r in data.manifest_entry("ISTD_sample")["files"]}
    assert _pixel_hash(s.degraded, "RGB") == files["114-5_shadow.png"]
    assert _pixel_hash(s.target, "RGB") == files["114-5_shadow_free_original.png"]
    # The same folder through the ISTD entry point.
    assert paired.load_istd(paired.sample_root("ISTD_sample")).names == ["114-5"]


def test_gopro_sample_pairs(data_root):
    ds = paired.load_sample("GoPro_sample")
    assert ds.layout == "gopro_flat" and ds.names == ["Flower1", "Istanbul1"]
    for p in ds.pairs:
        assert p.degraded.name == p.name.replace("1", "_blur1") + ".png"
        assert p.target.name == p.name.replace("1", "_sharp1") + ".png"
        assert p.mask is None
    flower, istanbul = ds.load()
    for s in (flower, istanbul):
        assert s.degraded.shape == s.target.shape == (720, 1280, 3)
        assert s.degraded.dtype == np.uint8 and s.mask is None
    # Correctly matched: a blurred frame is far closer to its own sharp frame than to the other.
    assert metrics.mse(flower.degraded, flower.target) < metrics.mse(
        flower.degraded, istanbul.target
    )
    assert paired.load_gopro(paired.sample_root("GoPro_sample")).names == ds.names


def test_istd_sample_metrics_are_consistent(data_root):
    s = paired.load_sample("ISTD_sample")[0]
    for kind in ("rmse", "mae"):
        v = metrics.lab_rmse_regions(s.degraded, s.target, s.mask, kind=kind)
        assert all(math.isfinite(x) and x > 0 for x in v.values())
        assert min(v["shadow"], v["non_shadow"]) <= v["all"] <= max(v["shadow"], v["non_shadow"])
    p = metrics.shadow_psnr_regions(s.degraded, s.target, s.mask)
    # Zeroed-region convention: both region PSNRs are above the whole-image PSNR.
    assert p["shadow"] > p["all"] and p["non_shadow"] > p["all"]


# --------------------------------------------------------------------------------------------
# Synthetic trees, one per layout


def test_istd_release_tree(tmp_path):
    root = tmp_path / "ISTD_Dataset"
    _make_istd(root / "test", "test", ["10-1", "2-1", "1-1"])
    _make_istd(root / "train", "train", ["5-3"])
    assert paired.detect_layout(root) == "istd"
    ds = paired.load_istd(root)
    assert ds.names == ["1-1", "2-1", "10-1"]  # natural order
    s = ds[2]  # "10-1" was written first: degraded 10, target 100
    assert s.name == "10-1" and s.degraded[0, 0, 0] == 10 and s.target[0, 0, 0] == 100
    expected = np.zeros((4, 5), bool)
    expected[:2, :2] = True
    expected[3, 4] = True
    assert s.mask.dtype == np.bool_ and np.array_equal(s.mask, expected)
    assert paired.load_istd(root, split="train").names == ["5-3"]
    # A split folder itself (test_A/ ... directly inside) works too.
    assert paired.load_paired(root / "test").names == ["1-1", "2-1", "10-1"]


def test_raindrop_tree_pairs_by_number(tmp_path):
    root = tmp_path / "RainDrop"
    for n in (10, 0, 2):
        _png(root / "test_a" / "data" / f"{n}_rain.png", _rgb(n))
        _png(root / "test_a" / "gt" / f"{n}_clean.png", _rgb(100 + n))
    _png(root / "train" / "data" / "7_rain.png", _rgb(7))
    _png(root / "train" / "gt" / "7_clean.png", _rgb(107))
    assert paired.detect_layout(root) == "raindrop"
    ds = paired.load_raindrop(root)
    assert ds.names == ["0", "2", "10"] and ds.layout == "raindrop"
    for s in ds:
        n = int(s.name)
        assert s.degraded[0, 0, 0] == n and s.target[0, 0, 0] == 100 + n and s.mask is None
    assert paired.load_raindrop(root, split="train").names == ["7"]
    assert paired.load_paired(root / "test_a").names == ["0", "2", "10"]


def test_gopro_tree_blur_and_blur_gamma(tmp_path):
    root = tmp_path / "GOPRO_Large"
    for seq, frames in (("GOPR0384_11_00", ("000001", "000002")), ("GOPR0410_11_00", ("000007",))):
        for k, f in enumerate(frames):
            _png(root / "test" / seq / "blur" / f"{f}.png", _rgb(10 + k))
            _png(root / "test" / seq / "blur_gamma" / f"{f}.png", _rgb(50 + k))
            _png(root / "test" / seq / "sharp" / f"{f}.png", _rgb(100 + k))
    _png(root / "train" / "GOPR0372_07_00" / "blur" / "000047.png", _rgb(1))
    _png(root / "train" / "GOPR0372_07_00" / "sharp" / "000047.png", _rgb(2))
    assert paired.detect_layout(root) == "gopro"
    ds = paired.load_gopro(root)
    assert ds.names == ["GOPR0384_11_00/000001", "GOPR0384_11_00/000002", "GOPR0410_11_00/000007"]
    s = ds[1]
    assert s.degraded[0, 0, 0] == 11 and s.target[0, 0, 0] == 101
    assert paired.load_gopro(root, blur="blur_gamma")[1].degraded[0, 0, 0] == 51
    assert paired.load_gopro(root, split="train").names == ["GOPR0372_07_00/000047"]
    assert len(paired.load_paired(root / "test" / "GOPR0410_11_00")) == 1  # one sequence


# --------------------------------------------------------------------------------------------
# Clear errors


def test_istd_shadow_image_without_mask(tmp_path):
    root = tmp_path / "ISTD_Dataset"
    _make_istd(root / "test", "test", ["1-1", "2-1"], skip_mask={"2-1"})
    with pytest.raises(paired.PairedDataError) as err:
        paired.load_istd(root)
    msg = str(err.value)
    assert str(root / "test") in msg and "'istd' layout" in msg
    assert "without a mask in test_B/" in msg and "test_A/2-1.png" in msg
    assert isinstance(err.value, ValueError) and isinstance(err.value, data.DatasetError)


def test_istd_flat_without_mask(data_root, tmp_path):
    src = paired.sample_root("ISTD_sample")
    for f in ("114-5_shadow.png", "114-5_shadow_free_original.png"):
        shutil.copy(src / f, tmp_path / f)
    with pytest.raises(paired.PairedDataError, match=r"without a mask.*114-5_shadow\.png"):
        paired.load_istd(tmp_path)


def test_raindrop_unpaired_and_misnamed_files(tmp_path):
    root = tmp_path / "test_b"
    _png(root / "data" / "1_rain.png", _rgb(1))
    _png(root / "gt" / "1_clean.png", _rgb(1))
    _png(root / "data" / "3_rain.png", _rgb(3))
    _png(root / "gt" / "4_clean.png", _rgb(4))
    _png(root / "gt" / "5_rain.png", _rgb(5))
    with pytest.raises(paired.PairedDataError) as err:
        paired.load_raindrop(root)
    msg = str(err.value)
    assert str(root) in msg and "RainDrop" in msg
    assert "without a clean image in gt/" in msg and "data/3_rain.png" in msg
    assert "without a rainy image in data/" in msg and "gt/4_clean.png" in msg
    assert "gt/5_rain.png" in msg


def test_gopro_sharp_without_blur(tmp_path):
    seq = tmp_path / "test" / "GOPR0001_00_00"
    _png(seq / "blur" / "000001.png", _rgb(1))
    _png(seq / "sharp" / "000001.png", _rgb(1))
    _png(seq / "sharp" / "000002.png", _rgb(2))
    with pytest.raises(paired.PairedDataError, match=r"without a blurred image.*000002\.png"):
        paired.load_gopro(tmp_path)


def test_pair_of_different_sizes_fails_on_decode(tmp_path):
    _png(tmp_path / "data" / "1_rain.png", _rgb(1, 4, 5))
    _png(tmp_path / "gt" / "1_clean.png", _rgb(1, 4, 6))
    ds = paired.load_raindrop(tmp_path)
    with pytest.raises(paired.PairedDataError, match="1_rain.png is 5x4"):
        ds[0]


@pytest.mark.parametrize(
    "loader,dataset",
    [(paired.load_istd, "ISTD"), (paired.load_raindrop, "RainDrop"), (paired.load_gopro, "GoPro")],
)
def test_missing_root_says_where_to_get_the_data(tmp_path, monkeypatch, loader, dataset):
    with pytest.raises(paired.PairedDataError) as err:
        loader(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(err.value)
    assert paired.SOURCES[dataset] in str(err.value)
    # No root given and none under any data root: the same advice.
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "REPO_ROOT", tmp_path / "repo")
    with pytest.raises(paired.PairedDataError, match="not found") as err:
        loader()
    assert paired.SOURCES[dataset] in str(err.value) and str(tmp_path) in str(err.value)


def test_unknown_layout_lists_the_expected_ones(tmp_path):
    _png(tmp_path / "picture.png", _rgb(0))
    with pytest.raises(paired.PairedDataError, match="no known paired layout") as err:
        paired.load_paired(tmp_path)
    assert "<split>_A/" in str(err.value)
    assert "N_rain.png" in str(err.value) and "blur" in str(err.value)
    with pytest.raises(paired.PairedDataError):
        paired.load_gopro(tmp_path)


def test_wrong_dataset_for_layout(tmp_path):
    _make_istd(tmp_path, "test", ["1-1"])
    with pytest.raises(paired.PairedDataError, match="'istd' layout, not GoPro"):
        paired.load_gopro(tmp_path)


# --------------------------------------------------------------------------------------------
# Metrics


def _half_mask(h: int = 6, w: int = 8) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[:, :3] = True  # 18 of 48 pixels are shadow
    return m


def test_identical_images_zero_error_infinite_psnr():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    for kind in ("rmse", "mae"):
        for white in ("d50", "d65"):
            v = metrics.lab_rmse_regions(x, x.copy(), _half_mask(), kind=kind, white=white)
            assert v == {"shadow": 0.0, "non_shadow": 0.0, "all": 0.0}
    for normalize in ("image", "region"):
        p = metrics.shadow_psnr_regions(x, x.copy(), _half_mask(), normalize=normalize)
        assert p == {"shadow": math.inf, "non_shadow": math.inf, "all": math.inf}


def test_constant_lab_offset_on_the_shadow_region():
    rng = np.random.default_rng(1)
    target = rng.uniform(-50, 80, (6, 8, 3))
    mask = _half_mask()
    pred = target.copy()
    pred[mask] += np.array([3.0, -4.0, 12.0])  # |.|_1 = 19, |.|_2 = 13
    sums = metrics.LabRegionSums.from_lab(pred, target, mask)
    mae, rmse = sums.values("mae"), sums.values("rmse")
    assert mae["shadow"] == pytest.approx(19.0, abs=1e-12) and mae["non_shadow"] == 0.0
    assert rmse["shadow"] == pytest.approx(13.0, abs=1e-12) and rmse["non_shadow"] == 0.0
    assert mae["all"] == pytest.approx(19.0 * 18 / 48, abs=1e-12)
    assert rmse["all"] == pytest.approx(math.sqrt(169.0 * 18 / 48), abs=1e-12)


@pytest.mark.parametrize("white", ["d50", "d65"])
def test_gray_levels_give_the_hand_computed_L_difference(white):
    # Gray has a* = b* = 0 for either white, so the error is |L*(128) - L*(64)| alone.
    target = np.full((6, 8, 3), 128, np.uint8)
    pred = target.copy()
    mask = _half_mask()
    pred[mask] = 64
    d_l = _srgb_L(128) - _srgb_L(64)
    assert d_l == pytest.approx(26.49, abs=0.01)
    for kind in ("mae", "rmse"):
        v = metrics.lab_rmse_regions(pred, target, mask, kind=kind, white=white)
        assert v["shadow"] == pytest.approx(d_l, abs=0.01)
        assert v["non_shadow"] == 0.0
    assert metrics.lab_rmse_regions(pred, target, mask, kind="mae")["all"] == pytest.approx(
        d_l * 18 / 48, abs=0.01
    )


def test_srgb2lab_matches_matlab_d50_and_skimage_d65():
    from skimage.color import rgb2lab

    x = np.array([[[0.2, 0.3, 0.4], [1.0, 1.0, 1.0]]]) * 255
    lab = metrics.srgb2lab(x)  # MathWorks rgb2lab([.2 .3 .4], 'WhitePoint', 'd50') example
    assert lab[0, 0] == pytest.approx([31.3294, -4.0732, -18.1750], abs=5e-3)
    assert lab[0, 1] == pytest.approx([100.0, 0.0, 0.0], abs=1e-2)
    assert np.allclose(metrics.srgb2lab(x, white="d65"), rgb2lab(x / 255))
    with pytest.raises(ValueError):
        metrics.srgb2lab(x, white="d55")


def test_all_is_the_pixel_weighted_combination():
    rng = np.random.default_rng(2)
    pred = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    target = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    mask = rng.random((6, 8)) < 0.3
    ns, nn = int(mask.sum()), int((~mask).sum())
    mae = metrics.lab_rmse_regions(pred, target, mask, kind="mae")
    assert mae["all"] == pytest.approx((ns * mae["shadow"] + nn * mae["non_shadow"]) / (ns + nn))
    rmse = metrics.lab_rmse_regions(pred, target, mask, kind="rmse")
    assert rmse["all"] ** 2 == pytest.approx(
        (ns * rmse["shadow"] ** 2 + nn * rmse["non_shadow"] ** 2) / (ns + nn)
    )

    def mse(db: float) -> float:
        return 255.0**2 / 10 ** (db / 10)

    p = metrics.shadow_psnr_regions(pred, target, mask)  # zeroed regions: MSEs add up
    assert mse(p["all"]) == pytest.approx(mse(p["shadow"]) + mse(p["non_shadow"]))
    assert p["all"] == pytest.approx(metrics.psnr(pred, target))
    r = metrics.shadow_psnr_regions(pred, target, mask, normalize="region")
    assert mse(r["all"]) == pytest.approx((ns * mse(r["shadow"]) + nn * mse(r["non_shadow"])) / 48)


def test_dataset_reductions_per_image_and_pooled():
    # Image 1: 2 shadow pixels with L error d; image 2: 24 shadow pixels with no error.
    d = _srgb_L(128) - _srgb_L(64)
    t = np.full((6, 8, 3), 128, np.uint8)
    m1 = np.zeros((6, 8), bool)
    m1[0, :2] = True
    p1 = t.copy()
    p1[m1] = 64
    m2 = np.zeros((6, 8), bool)
    m2[:3] = True
    triples = [(p1, t, m1), (t.copy(), t, m2)]
    per_image = metrics.lab_rmse_dataset(triples, kind="mae", reduce="image")
    pooled = metrics.lab_rmse_dataset(triples, kind="mae", reduce="pixel")
    assert per_image["shadow"] == pytest.approx(d / 2, abs=0.01)  # mean of d and 0
    assert pooled["shadow"] == pytest.approx(2 * d / 26, abs=0.01)  # 2 d over 26 pixels
    assert per_image["non_shadow"] == pooled["non_shadow"] == 0.0
    assert per_image["all"] == pytest.approx(pooled["all"])  # equal sizes: same 'all'
    rmse = metrics.lab_rmse_dataset(triples, kind="rmse", reduce="pixel")
    assert rmse["shadow"] == pytest.approx(math.sqrt(2 * d * d / 26), abs=0.01)
    psnr = metrics.shadow_psnr_dataset(triples)
    assert psnr["shadow"] == math.inf  # image 2 is exact: the mean of (finite, inf) is inf
    with pytest.raises(ValueError):
        metrics.lab_rmse_dataset([], kind="mae")
    with pytest.raises(ValueError):
        metrics.lab_rmse_dataset(triples, reduce="set")


def test_resizing_options_and_input_checks():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    y = np.clip(x.astype(int) + 9, 0, 255).astype(np.uint8)
    m = np.zeros((16, 16), np.uint8)
    m[4:12, 4:12] = 255
    native = metrics.lab_rmse_regions(x, y, m)
    assert metrics.lab_rmse_regions(x, y, m, size=(16, 16)) == native  # no-op, like [480 640]
    for resize_uint8 in (False, True):
        v = metrics.lab_rmse_regions(x, y, m, size=(8, 8), resize_uint8=resize_uint8, kind="mae")
        assert all(math.isfinite(a) and a > 0 for a in v.values())
        assert metrics.lab_rmse_regions(x, x, m, size=(8, 8)) == {
            "shadow": 0.0,
            "non_shadow": 0.0,
            "all": 0.0,
        }
    # A uint8 mask and its boolean version agree.
    assert metrics.lab_rmse_regions(x, y, m != 0) == native
    with pytest.raises(ValueError, match="mask shape"):
        metrics.lab_rmse_regions(x, y, m[:8])
    with pytest.raises(ValueError, match="HxWx3"):
        metrics.lab_rmse_regions(x, y[:8], m)
    with pytest.raises(ValueError, match="kind"):
        metrics.lab_rmse_regions(x, y, m, kind="rms")
    with pytest.raises(ValueError, match="normalize"):
        metrics.shadow_psnr_regions(x, y, m, normalize="pixels")
