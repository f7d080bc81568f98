"""RED-Net: parameter counts and the wiring of every variant (small, CPU-fast)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reprolib.models import build, conv_weight_params, model_depth, total_params
from reprolib.models.rednet import REDNet

# ------------------------------------------------------------------------------------ counts


def test_red30_128_channels_matches_released_model() -> None:
    model = build("red30", channels=128)
    assert conv_weight_params(model) == 4_131_072
    assert total_params(model) == 4_134_785
    assert model_depth(model) == 30


def test_red30_64_channels_paper_text() -> None:
    model = build("red30")
    assert model.channels == 64
    # 2 * (1*64*9 + 14*64*64*9) weights, 29*64 + 1 biases
    assert conv_weight_params(model) == 1_033_344
    assert total_params(model) == 1_035_201


def test_registered_depths_and_kernel_size() -> None:
    assert [model_depth(build(n)) for n in ("red10", "red20", "red30")] == [10, 20, 30]
    model = build("rednet", num_layers=10, channels=8, kernel_size=5)
    assert conv_weight_params(model) == 2 * (1 * 8 * 25 + 4 * 8 * 8 * 25)
    x = torch.rand(1, 1, 9, 7)
    assert model(x).shape == x.shape


# ------------------------------------------------------------------------------------ wiring


def test_symmetric_skips_follow_released_model() -> None:
    model = build("red30", channels=4)
    # conv14 -> deconv1 (layer 16), ..., conv2 -> deconv13 (layer 28): 7 skips
    assert model.skip_pairs == tuple((i, 30 - i) for i in range(14, 0, -2))
    assert model.num_skips == 7
    assert build("red20", channels=4).skip_pairs == ((8, 12), (6, 14), (4, 16), (2, 18))


@pytest.mark.parametrize(
    ("layers", "step", "expected"),
    [(30, 2, 7), (30, 3, 4), (30, 4, 3), (20, 2, 4), (20, 3, 3), (20, 5, 1)],
)
def test_number_of_skips_for_step(layers: int, step: int, expected: int) -> None:
    model = REDNet(num_layers=layers, channels=2, skip_step=step)
    assert model.num_skips == expected == (layers // 2 - 1) // step
    assert all(src % step == 0 and src + dst == layers for src, dst in model.skip_pairs)


def test_red10_has_no_skips_but_global_residual() -> None:
    model = build("red10", channels=4)
    assert model.num_skips == 0 and model.skip_step is None
    assert model.global_residual
    assert build("red30", skips=False, channels=2).num_skips == 0
    assert build("red30", skip_step=None, channels=2).num_skips == 0


def test_block_skips_differ_from_symmetric() -> None:
    sym = build("red30", channels=2)
    blk = build("red30", channels=2, skip_type="block")
    assert set(sym.skip_pairs).isdisjoint(blk.skip_pairs)
    # He et al.: consecutive blocks of 2 layers between layer 1 and layer 29
    assert blk.skip_pairs == tuple((a, a + 2) for a in range(1, 28, 2))
    assert all(dst - src == 2 for src, dst in blk.skip_pairs)
    assert sorted(dst - src for src, dst in sym.skip_pairs) == list(range(2, 30, 4))
    blk4 = build("red30", channels=2, skip_type="block", skip_step=4)
    assert blk4.skip_pairs == tuple((a, a + 4) for a in range(1, 26, 4))


def _grad_reaching_encoder(model: REDNet, cut_layer: int) -> list[bool]:
    """Zero layer ``cut_layer`` (weights and bias) and report which encoder convs get gradient.

    Whatever lies before the cut can only reach the output through skips landing after it.
    """
    torch.manual_seed(0)
    cut = model.layers()[cut_layer - 1]
    with torch.no_grad():
        cut.weight.zero_()
        cut.bias.zero_()
    x = torch.rand(1, 1, 9, 9)
    model(x).square().sum().backward()
    return [
        bool(c.weight.grad is not None and c.weight.grad.abs().sum() > 0) for c in model.encoder
    ]


def test_skips_carry_signal_past_a_dead_layer() -> None:
    # RED10 layers: conv1..5 = 1..5, deconv1..5 = 6..10. step 2: skips (4 -> 6), (2 -> 8).
    model = REDNet(num_layers=10, channels=4, skip_step=2)
    assert model.skip_pairs == ((4, 6), (2, 8))
    # cut deconv2 (layer 7): only the skip 2 -> 8 passes, so conv1 and conv2 still learn.
    assert _grad_reaching_encoder(model, 7) == [True, True, False, False, False]
    plain = REDNet(num_layers=10, channels=4, skips=False)
    assert _grad_reaching_encoder(plain, 7) == [False] * 5
    block = REDNet(num_layers=10, channels=4, skip_type="block")
    assert block.skip_pairs == ((1, 3), (3, 5), (5, 7), (7, 9))
    # cut layer 7 = deconv2: the block skip 5 -> 7 lands at the cut, 7 -> 9 bypasses deconv3
    assert _grad_reaching_encoder(block, 7) == [True] * 5


def test_global_residual_and_last_relu() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 1, 7, 5)
    model = REDNet(num_layers=6, channels=4, global_residual=False)
    assert model(x).shape == x.shape
    lit = REDNet(num_layers=6, channels=4, last_relu=True)
    assert bool((lit(x) >= x).all())  # literal text: the correction can only be non-negative


def test_downsample_halves_and_restores_odd_sizes() -> None:
    model = REDNet(num_layers=10, channels=4, downsample_at=1)
    assert isinstance(model.decoder[-1], nn.ConvTranspose2d)
    assert model.decoder[-1].stride == (2, 2) and model.encoder[0].stride == (2, 2)
    seen: dict[str, tuple[int, ...]] = {}
    model.encoder[0].register_forward_hook(lambda m, i, o: seen.__setitem__("conv1", o.shape))
    model.decoder[3].register_forward_hook(lambda m, i, o: seen.__setitem__("deconv4", o.shape))
    x = torch.rand(1, 1, 13, 11)
    assert model(x).shape == x.shape
    assert seen["conv1"][-2:] == (7, 6) and seen["deconv4"][-2:] == (7, 6)
    for down in (3, (2, 4), 5):
        m = REDNet(num_layers=10, channels=4, downsample_at=down)
        ups = [j + 1 for j, d in enumerate(m.decoder) if d.stride == (2, 2)]
        downs = (down,) if isinstance(down, int) else down
        assert sorted(ups) == sorted(5 + 1 - i for i in downs)  # conv i <-> deconv n + 1 - i
        for size in ((13, 11), (12, 10), (5, 3)):
            x = torch.rand(1, 1, *size)
            assert m(x).shape == x.shape
    blk = REDNet(num_layers=10, channels=4, skip_type="block", downsample_at=2)
    assert blk(torch.rand(1, 1, 13, 11)).shape == (1, 1, 13, 11)


def test_conv_decoder_has_no_transposed_conv() -> None:
    model = build("red10", channels=4, decoder="conv")
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in model.modules())
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 10
    assert conv_weight_params(model) == conv_weight_params(build("red10", channels=4))
    x = torch.rand(1, 1, 13, 11)
    assert model(x).shape == x.shape
    with pytest.raises(ValueError):
        build("red10", decoder="conv", downsample_at=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"skip_type": "block"},
        {"downsample_at": (1, 3)},
        {"decoder": "conv"},
        {"relu_before_sum": True},
    ],
)
def test_forward_backward_odd_size(kwargs: dict) -> None:
    torch.manual_seed(0)
    model = REDNet(num_layers=10, channels=4, init="kaiming", **kwargs)
    x = torch.rand(2, 1, 13, 11)
    y = model(x)
    assert y.shape == x.shape
    ((y - x) ** 2).mean().backward()
    g = model.encoder[0].weight.grad
    assert g is not None and bool(torch.isfinite(g).all()) and float(g.abs().sum()) > 0


def test_xavier_init_scale() -> None:
    torch.manual_seed(0)
    model = REDNet(num_layers=4, channels=64)
    w = model.encoder[1].weight.detach()
    assert abs(float(w.var()) - 1.0 / (64 * 9)) < 2e-4
    assert float(w.abs().max()) <= (3.0 / (64 * 9)) ** 0.5 + 1e-6
