"""Tests of reprolib.analysis against values known by construction or computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from reprolib import analysis, evaluate, protocols
from reprolib.models import build
from reprolib.models.memorynet import MemoryReadout

# ---------------------------------------------------------------- MemNet Fig. 4: spectra


def test_parseval_total_power() -> None:
    img = np.random.default_rng(0).normal(size=(17, 24))
    for n_bins in (None, 7):
        spec = analysis.radial_power_spectrum(img, n_bins)
        assert spec["power"].sum() == pytest.approx(img.size * (img**2).sum(), rel=1e-12)
        assert spec["count"].sum() == img.size


@pytest.mark.parametrize(("ky", "kx", "radius"), [(0, 5, 5), (3, 4, 5), (6, 0, 6)])
def test_sinusoid_peaks_at_its_frequency(ky: int, kx: int, radius: int) -> None:
    n = 32
    yy, xx = np.mgrid[0:n, 0:n]
    img = np.cos(2 * np.pi * (ky * yy + kx * xx) / n)
    spec = analysis.radial_power_spectrum(img)
    peak = spec.loc[spec["power"].idxmax()]
    assert peak["radius"] == radius
    assert peak["frequency"] == pytest.approx(radius / n)
    # all the power sits in that ring: two coefficients of (N^2 / 2)^2 each
    assert peak["power"] == pytest.approx(2 * (n * n / 2) ** 2)
    assert spec["power"].drop(index=peak.name).abs().max() < 1e-12 * peak["power"]


def test_constant_image_has_all_power_at_radius_zero() -> None:
    spec = analysis.radial_power_spectrum(np.full((9, 12), 3.0))
    assert spec.loc[0, "power"] == pytest.approx((3.0 * 108) ** 2)
    assert spec.loc[0, "count"] == 1
    assert spec["power"].iloc[1:].abs().max() < 1e-12 * spec.loc[0, "power"]


def test_spectral_difference() -> None:
    rng = np.random.default_rng(1)
    a = rng.random((16, 16))
    same = analysis.spectral_difference(a, a.copy())
    assert (same["difference"] == 0).all()
    b = a + 0.5  # adds only at frequency 0: DC power (s + 128)^2 - s^2, s = sum(a)
    diff = analysis.spectral_difference(b, a)
    s = a.sum()
    assert diff.loc[0, "difference"] == pytest.approx((s + 128) ** 2 - s**2)
    assert diff["difference"].iloc[1:].abs().max() < 1e-9
    with pytest.raises(ValueError):
        analysis.spectral_difference(a, a[:8])


# ---------------------------------------------------------------- MemNet Fig. 5: gate norms


def _memnet_with_gate_weights(**kwargs) -> torch.nn.Module:
    """num_blocks=2, R=2, channels=4; gate weight W[i, l] = (l + 1) for every output i."""
    model = build("memnet", num_blocks=2, num_recursions=2, channels=4, **kwargs)
    with torch.no_grad():
        for w in model.gate_weights():
            w.copy_(torch.arange(1, w.shape[1] + 1, dtype=w.dtype)[None, :, None, None])
    return model


def test_gate_norm_table_values_and_labels() -> None:
    model = _memnet_with_gate_weights()
    table = analysis.gate_norm_table(model, scale="none")
    # L_1 = (1 + 2) * 4 = 12, L_2 = (2 + 2) * 4 = 16; v_m^l = sqrt(4 * l^2) = 2 l
    assert list(table.groupby("block").size()) == [12, 16]
    assert np.allclose(table["norm"], 2.0 * table["index"])
    b1, b2 = table[table.block == 1], table[table.block == 2]
    assert list(b1["memory"]) == ["long"] * 4 + ["short"] * 4 + ["last"] * 4
    assert list(b2["memory"]) == ["long"] * 8 + ["short"] * 4 + ["last"] * 4
    assert list(b1["source"]) == ["long-term"] * 4 + ["short-term"] * 8
    assert list(b2["map"]) == ["B_0"] * 4 + ["B_1"] * 4 + ["H_2^1"] * 4 + ["H_2^2"] * 4
    assert list(b1["map"]) == ["B_0"] * 4 + ["H_1^1"] * 4 + ["H_1^2"] * 4

    scaled = analysis.gate_norm_table(model)  # min-max over the model: norms 2..32
    assert np.allclose(scaled["norm_scaled"], (2.0 * scaled["index"] - 2) / 30)
    per_block = analysis.gate_norm_table(model, scale="block")
    assert np.allclose(per_block.loc[per_block.block == 1, "norm_scaled"], np.arange(12) / 11)
    assert np.allclose(per_block.loc[per_block.block == 2, "norm_scaled"], np.arange(16) / 15)

    bars = analysis.gate_norm_bars(table, "norm")  # means of 2 l over each group
    expected = pd.DataFrame(
        {"long": [5.0, 9.0], "short": [13.0, 21.0], "last": [21.0, 29.0]},
        index=pd.Index([1, 2], name="block"),
    )
    pd.testing.assert_frame_equal(bars, expected)


def test_gate_norm_table_ablations() -> None:
    ns = analysis.gate_norm_table(_memnet_with_gate_weights(short_term=False), scale="none")
    assert list(ns.loc[ns.block == 1, "memory"]) == ["long"] * 4 + ["last"] * 4
    nl = analysis.gate_norm_table(_memnet_with_gate_weights(long_term=False), scale="none")
    assert list(nl.loc[nl.block == 2, "map"]) == ["H_2^1"] * 4 + ["H_2^2"] * 4
    assert np.isnan(analysis.gate_norm_bars(nl).loc[1, "long"])


# ---------------------------------------------------------------- MemNet Fig. 6: PSNR vs time


def _trained_like_memnet(**kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build("memnet", num_blocks=3, num_recursions=2, channels=8, **kwargs)
    with torch.no_grad():  # non-trivial BN statistics and output weights
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        if model.output_weights is not None:
            model.output_weights.copy_(torch.tensor([0.2, 0.3, 0.5]))
    return model.train()


@pytest.mark.parametrize("multi", [True, False])
def test_psnr_per_intermediate(multi: bool) -> None:
    model = _trained_like_memnet(multi_supervised=multi)
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 256, (24, 20)).astype(np.uint8) for _ in range(2)]
    pairs = [(np.clip(g / 255.0 + rng.normal(0, 0.05, g.shape), 0, 1), g) for g in gts]
    table = analysis.psnr_per_intermediate(model, pairs, "x2", "memnet_sr", repeats=2)
    assert model.training  # mode restored
    assert list(table["prediction"]) == ["M1", "M2", "M3", "final"]
    assert list(table["blocks"]) == [1, 2, 3, 3]
    assert (table["n_images"] == 2).all()
    secs = table["seconds"].to_numpy()
    assert (secs > 0).all() and (np.diff(secs) >= 0).all()

    proto = protocols.get("memnet_sr")
    model.eval()
    with torch.no_grad():
        ref = {"final": [], "M1": [], "M2": [], "M3": []}
        for inp, gt in pairs:
            x = torch.from_numpy(inp.astype(np.float32))[None, None]
            outs = {
                "final": model(x),
                **dict(zip(["M1", "M2", "M3"], model.forward_intermediate(x))),
            }
            for k, y in outs.items():
                ref[k].append(proto.score(y[0, 0].double().numpy() * 255.0, gt, 2)[0])
    for k, v in ref.items():
        assert table.set_index("prediction").loc[k, "psnr"] == pytest.approx(np.mean(v), abs=1e-9)
    if not multi:
        row = table.set_index("prediction")
        assert row.loc["final", "psnr"] == row.loc["M3", "psnr"]


@pytest.mark.parametrize("multi", [True, False])
def test_intermediate_costs_add_up_to_the_whole_forward(multi: bool) -> None:
    """Fig. 6's cost of y_m: FENet + blocks 1..m + one reconstruction. Counted in FLOPs, the
    output's cost is the whole forward's (the weighted sum adds no convolution) and y_m's
    grows by one block's FLOPs per step; timed, every pass gives a non-decreasing row."""
    model = _trained_like_memnet(multi_supervised=multi).eval()
    x = torch.rand(1, 1, 12, 10)
    outputs, counted = analysis.intermediate_costs(model, x, count="flops")
    assert counted.shape == (1, 4)
    _, whole = analysis.flops(lambda: model(x))
    assert counted[0, -1] == whole
    recon = analysis.flops(lambda: model.reconnet(torch.zeros(1, 8, 12, 10), 0))[1]
    head = analysis.flops(lambda: model.fenet(x))[1] + recon
    if multi:
        assert whole == counted[0, 2] + 2 * recon  # y_M plus the other M - 1 reconstructions
    assert counted[0, 0] > head and np.diff(counted[0, :3]).min() > 0
    with torch.no_grad():
        assert torch.equal(outputs[-1], model(x))
    _, seconds = analysis.intermediate_costs(model, x, repeats=3, warmup=0)
    assert seconds.shape == (3, 4, 2) and (np.diff(seconds, axis=1) >= 0).all()  # wall, cpu


def test_psnr_per_intermediate_rejects_wrong_protocol() -> None:
    model = _trained_like_memnet()
    pair = (np.zeros((16, 16)), np.zeros((16, 16), np.uint8))
    with pytest.raises(ValueError):
        analysis.psnr_per_intermediate(model, [pair], "sigma25", "memnet_sr")


def test_evaluation_pairs_follow_the_protocol(data_root) -> None:
    (pair,) = evaluate.iter_pairs("Set5", "x3", "memnet_sr", limit=1)  # what Fig. 6 scores
    inp, gt = pair.degraded, pair.target
    assert gt.dtype == np.uint8 and gt.ndim == 2 and gt.shape[0] % 3 == gt.shape[1] % 3 == 0
    assert inp.shape == gt.shape and inp.dtype == np.float64
    assert 25 < protocols.get("memnet_sr").score(inp * 255.0, gt, 3)[0] < 40  # bicubic x3


# ---------------------------------------------------------------- NLRN Fig. 4: correlation maps

TINY_NLRN = {"channels": 8, "embed": 4, "steps": 3, "q": 5, "zero_init_g": False}


def test_correlation_maps_are_distributions() -> None:
    torch.manual_seed(0)
    model = build("nlrn", **TINY_NLRN)
    img = np.random.default_rng(0).random((9, 11))
    pixels = [(0, 0), (4, 5), (8, 10)]
    last = analysis.correlation_map_grid(model, img, pixels)
    every = analysis.correlation_map_grid(model, img, pixels, step=None)
    for p in pixels:
        assert last[p].shape == (5, 5) and every[p].shape == (3, 5, 5)
        assert (every[p] >= 0).all()
        assert np.allclose(every[p].sum(axis=(1, 2)), 1.0, atol=1e-6)
        assert np.array_equal(every[p][-1], last[p])


def test_neighbourhood_layout() -> None:
    img = np.arange(20.0).reshape(4, 5)
    win = analysis.neighbourhood(img, (0, 1), 3)
    assert np.array_equal(win, [[15, 16, 17], [0, 1, 2], [5, 6, 7]])  # row -1 wraps to row 3
    zero = analysis.neighbourhood(img, (0, 1), 3, padding="zero")
    assert np.array_equal(zero, [[0, 0, 0], [0, 1, 2], [5, 6, 7]])
    assert np.array_equal(analysis.neighbourhood(img, (2, 2), None), img)


def test_similarity_mass_by_hand() -> None:
    weights = np.array([[0.1, 0.2, 0.0], [0.3, 0.25, 0.05], [0.0, 0.0, 0.1]])
    window = np.array([[0.5, 0.52, 0.9], [0.1, 0.5, 0.49], [0.0, 0.8, 0.45]])
    mass, frac = analysis.similarity_mass(weights, window, centre=0.5, tol=0.03)
    # similar: 0.5, 0.52, 0.5, 0.49 -> weights 0.1 + 0.2 + 0.25 + 0.05
    assert mass == pytest.approx(0.6) and frac == pytest.approx(4 / 9)


def test_correlation_similarity_table() -> None:
    torch.manual_seed(0)
    model = build("nlrn", **TINY_NLRN)
    rng = np.random.default_rng(2)
    clean = np.tile(np.repeat([0.2, 0.8], 4), (8, 1))  # two vertical bands
    noisy = clean + rng.normal(0, 0.1, clean.shape)
    table = analysis.correlation_similarity(model, noisy, clean, [(3, 1), (4, 6)], tol=0.05)
    assert list(table["state"]) == [1, 2, 3, 1, 2, 3]
    # circular window of (3, 1): columns 7, 0, 1, 2, 3, so 4 of 5 columns are in the 0.2 band
    window = analysis.neighbourhood(clean, (3, 1), 5)
    assert table.loc[0, "fraction_similar"] == pytest.approx((window == 0.2).mean())
    maps = analysis.correlation_map_grid(model, noisy, [(3, 1)], step=None)[(3, 1)]
    assert table.loc[:2, "mass_similar"].to_numpy() == pytest.approx(
        [maps[s][window == 0.2].sum() for s in range(3)]
    )
    assert np.allclose(table["lift"], table["mass_similar"] / table["fraction_similar"])


# ---------------------------------------------------------------- RED-Net: learning curves


def _logs() -> dict[str, pd.DataFrame]:
    nan = float("nan")
    a = pd.DataFrame(
        {
            "iteration": [10, 20, 30, 40],
            "loss": [4.0, 2.0, 3.0, 1.0],
            "lr": 1e-4,
            "val_psnr": [nan, 20.0, nan, 19.5],
            "wall_s": [1.0, 2.0, 3.0, 4.0],
            "patches_per_s": 10.0,
        }
    )
    b = pd.DataFrame(
        {
            "iteration": [20, 10],  # out of order on purpose
            "loss": [6.0, 8.0],
            "lr": 1e-4,
            "val_psnr": [nan, nan],
            "wall_s": [5.0, 2.5],
            "patches_per_s": 10.0,
        }
    )
    return {"skip": a, "no skip": b}


class _ReadsBack(torch.nn.Module):
    """A stand-in memory whose read is a fixed image (the clean one in the test below)."""

    def __init__(self, image: torch.Tensor) -> None:
        super().__init__()
        self.image = image

    def forward(self, x: torch.Tensor) -> MemoryReadout:
        return MemoryReadout(self.image, None, None)


def test_memory_feature_deviation_by_hand() -> None:
    """A memory that reads back the clean image has zero feature deviation and infinite PSNR;
    the raw input's row equals ||conv(x) - conv(y)|| / ||conv(y)|| and its RGB PSNR."""
    torch.manual_seed(0)
    model = build("memorynet", n_feat=8, scale_unetfeats=4, scale_orsnetfeats=4, num_cab=1,
                  contrastive=False).eval()  # fmt: skip
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    degraded = (clean * 0.5).astype(np.uint8)
    model.memory = _ReadsBack(analysis.model_input(model, clean / 255.0))
    table = analysis.memory_feature_deviation(model, [(degraded, clean)], ["a"])
    assert list(table.features) == ["without memory", "with memory"]
    with_mem = table.iloc[1]
    assert with_mem.deviation == 0 and with_mem.psnr == float("inf") and with_mem.contrast == 1
    assert with_mem.correlation == pytest.approx(1.0, abs=1e-6)
    half = (clean.astype(np.float32) * 0.5).astype(np.uint8).astype(np.float32)
    assert table.iloc[0].contrast == pytest.approx(half.std() / clean.std(), rel=1e-5)
    conv = model.shallow_feat1[0]
    x, y = (torch.from_numpy(im.astype(np.float32).transpose(2, 0, 1) / 255)[None]
            for im in (degraded, clean))  # fmt: skip
    with torch.no_grad():
        expected = float((conv(x) - conv(y)).norm() / conv(y).norm())
    mse = np.mean((degraded / 255.0 - clean / 255.0) ** 2)
    assert table.iloc[0].deviation == pytest.approx(expected, rel=1e-5)
    assert table.iloc[0].psnr == pytest.approx(10 * np.log10(1 / mse), abs=1e-4)
    r = np.corrcoef(degraded.ravel().astype(float), clean.ravel().astype(float))[0, 1]
    assert table.iloc[0].correlation == pytest.approx(r, abs=1e-5)
    with pytest.raises(ValueError, match="no memory"):
        analysis.memory_feature_deviation(build("mprnet", n_feat=8, scale_unetfeats=4,
                                                scale_orsnetfeats=4, num_cab=1), [])  # fmt: skip


def test_learning_curve_table_smoothing() -> None:
    table = analysis.learning_curve_table(_logs(), window=2)
    assert list(table["run"]) == ["skip"] * 4 + ["no skip"] * 2
    assert list(table["iteration"]) == [10, 20, 30, 40, 10, 20]
    # trailing mean of the last 2 logged losses, per run
    assert table["loss_smooth"].tolist() == [4.0, 3.0, 2.5, 2.0, 8.0, 7.0]
    assert {"lr", "val_psnr", "wall_s", "patches_per_s"} <= set(table.columns)


def test_final_values() -> None:
    for logs in (_logs(), analysis.learning_curve_table(_logs(), window=3)):
        fin = analysis.final_values(logs).set_index("run")
        assert fin.loc["skip", "iteration"] == 40 and fin.loc["skip", "loss"] == 1.0
        assert fin.loc["skip", "best_val_psnr"] == 20.0
        assert fin.loc["skip", "best_val_iteration"] == 20
        assert fin.loc["skip", "last_val_psnr"] == 19.5
        assert fin.loc["skip", "last_val_iteration"] == 40
        assert fin.loc["no skip", "loss"] == 6.0 and fin.loc["no skip", "wall_s"] == 5.0
        assert np.isnan(fin.loc["no skip", "best_val_psnr"])
