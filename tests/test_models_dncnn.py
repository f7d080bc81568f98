"""DnCNN: architecture counts and the loader of the authors' released MatConvNet weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from reprolib.models import build, conv_weight_params, model_depth
from reprolib.models.dncnn import (
    PUBLISHED_DNCNN,
    CorruptWeightsError,
    DnCNN,
    load_published_dncnn,
    published_dncnn,
    published_weights_dirs,
)


def _weights_dir() -> Path | None:
    for d in published_weights_dirs():
        if (d / "sigma=25.mat").is_file():
            return d
    return None


WEIGHTS = _weights_dir()
needs_weights = pytest.mark.skipif(
    WEIGHTS is None, reason="published DnCNN weights (shared/weights/dncnn) are not available"
)
SET12 = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "Set12" / "01.png"


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def _noisy_crop(sigma: float = 25.0, size: int = 128, seed: int = 0) -> tuple[np.ndarray, ...]:
    if not SET12.is_file():
        pytest.skip(f"test image {SET12} is not available")
    from PIL import Image

    img = np.asarray(Image.open(SET12).convert("L"), dtype=np.float32) / 255.0
    top, left = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
    clean = img[top : top + size, left : left + size]
    rng = np.random.default_rng(seed)
    noisy = clean + rng.standard_normal(clean.shape).astype(np.float32) * np.float32(sigma / 255)
    return clean, noisy.astype(np.float32)


def _denoise(model: torch.nn.Module, noisy: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(noisy)[None, None]).numpy()[0, 0]


# --------------------------------------------------------------------------------- architecture


def test_dncnn17_conv_weight_count() -> None:
    model = build("dncnn17")
    assert conv_weight_params(model) == 554_112
    assert model_depth(model) == 17
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 15


def test_dncnn20_and_kwargs_builder() -> None:
    model = build("dncnn20")
    assert model_depth(model) == 20
    assert conv_weight_params(model) == 554_112 + 3 * 64 * 64 * 9
    colour = build("dncnn", depth=17, in_channels=3, batch_norm=False)
    assert model_depth(colour) == 17
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in colour.modules())
    assert all(c.bias is not None for c in colour.convs())


def test_dncnn_residual_forward_and_backward_odd_size() -> None:
    torch.manual_seed(0)
    model = DnCNN(depth=5, features=8, init="orthogonal")
    x = torch.rand(2, 1, 13, 11, requires_grad=True)
    y = model(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, x - model.residual(x))
    y.sum().backward()
    assert model.convs()[0].weight.grad is not None
    assert model.convs()[0].weight.grad.abs().sum() > 0


def test_dncnn_kaiming_init_scale() -> None:
    torch.manual_seed(0)
    conv = DnCNN(depth=3, features=64, batch_norm=False).convs()[1]
    std = float(conv.weight.detach().std())
    assert abs(std - (2.0 / (64 * 9)) ** 0.5) < 0.005


# ---------------------------------------------------------------------------- published weights


@needs_weights
@pytest.mark.parametrize(
    ("name", "depth"),
    [("dncnn_s15", 17), ("dncnn_s25", 17), ("dncnn_s50", 17), ("dncnn_b", 20), ("dncnn3", 20)],
)
def test_published_files_load(name: str, depth: int) -> None:
    model = published_dncnn(name)
    assert model.depth == depth
    convs = model.convs()
    assert len(convs) == depth
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert tuple(convs[0].weight.shape) == (64, 1, 3, 3)
    assert all(tuple(c.weight.shape) == (64, 64, 3, 3) for c in convs[1:-1])
    assert tuple(convs[-1].weight.shape) == (1, 64, 3, 3)
    assert all(c.bias is not None for c in convs)
    assert all(torch.isfinite(c.weight).all() for c in convs)
    assert conv_weight_params(model) == 554_112 + (depth - 17) * 64 * 64 * 9


@needs_weights
def test_orientation_matches_matlab_convention() -> None:
    """HDF5 reverses MATLAB's axes, so (kh, kw, in, out) reads as (out, in, kw, kh): swap kh/kw.

    Evidence in the file itself: MATLAB's 1x4 char 'conv' is stored with HDF5 shape (4, 1).
    """
    import h5py

    path = WEIGHTS / "sigma=25.mat"
    with h5py.File(path, "r") as f:
        first = f[f["net/layers"][()].flatten()[0]]
        assert first["type"].shape == (4, 1)  # MATLAB 1x4 row -> reversed
        raw = np.asarray(f[first["weights"][()].flatten()[0]][()])
    model = load_published_dncnn(path)
    np.testing.assert_array_equal(
        model.convs()[0].weight.detach().numpy(), np.swapaxes(raw, -1, -2)
    )


@needs_weights
def test_published_dncnn_s25_denoises() -> None:
    clean, noisy = _noisy_crop(sigma=25.0)
    model = published_dncnn("dncnn_s25")
    gain = _psnr(_denoise(model, noisy), clean) - _psnr(noisy, clean)
    assert gain > 8.0, f"PSNR gain {gain:.2f} dB"


@needs_weights
def test_kernel_transpose_equals_image_transpose() -> None:
    """Why PSNR barely distinguishes the two kh/kw orientations.

    Using transposed kernels is exactly the original network applied to the transposed image,
    and DnCNN was trained with the 8 flips/rotations (which include the transpose), so both
    orientations denoise almost equally well; the orientation is fixed by the MATLAB convention
    checked above, and the transposed one must also still denoise (sanity of the weights).
    """
    clean, noisy = _noisy_crop(sigma=25.0, size=64)
    model = published_dncnn("dncnn_s25")
    flipped = published_dncnn("dncnn_s25")
    with torch.no_grad():
        for c in flipped.convs():
            c.weight.copy_(c.weight.transpose(-1, -2).contiguous())
    x = torch.from_numpy(noisy)[None, None]
    with torch.no_grad():
        torch.testing.assert_close(
            flipped(x), model(x.transpose(-1, -2)).transpose(-1, -2), atol=1e-5, rtol=1e-5
        )
    base = _psnr(noisy, clean)
    gain, gain_t = (_psnr(_denoise(m, noisy), clean) - base for m in (model, flipped))
    assert gain > 8.0 and gain_t > 8.0
    assert abs(gain - gain_t) < 0.5


@needs_weights
def test_reprolib_weights_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPROLIB_WEIGHTS", str(WEIGHTS.parent))
    assert published_dncnn("dncnn_s15").depth == 17


def test_missing_file_names_file_and_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPROLIB_WEIGHTS", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        published_dncnn("dncnn_b")
    msg = str(err.value)
    assert PUBLISHED_DNCNN["dncnn_b"] in msg
    assert str(tmp_path) in msg
    assert "cszn/DnCNN" in msg
    with pytest.raises(FileNotFoundError, match="sigma=25.mat"):
        load_published_dncnn(tmp_path / "sigma=25.mat")
    with pytest.raises(KeyError):
        published_dncnn("dncnn_s99")


@needs_weights
def test_corrupt_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = (WEIGHTS / "sigma=25.mat").read_bytes()
    bad = tmp_path / "sigma=25.mat"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptWeightsError, match="sha256"):
        load_published_dncnn(bad)
    # Without the checksum the truncated HDF5 file still fails with a clear error.
    with pytest.raises(CorruptWeightsError, match="cannot read"):
        load_published_dncnn(bad, verify=False)
    monkeypatch.setenv("REPROLIB_WEIGHTS", str(tmp_path))
    with pytest.raises(CorruptWeightsError, match="corrupt"):
        published_dncnn("dncnn_s25")
