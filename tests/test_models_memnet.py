"""MemNet (Tai et al. 2017) and the VDSR baseline: sizes, wiring, loss and gradients."""

from __future__ import annotations

import pytest
import torch

from reprolib.models import build, conv_weight_params, model_depth, total_params
from reprolib.models.memnet import OFFICIAL_CODE_OPTIONS, MemNet, euclidean_loss

TINY = {"num_blocks": 2, "num_recursions": 2, "channels": 8}


@pytest.mark.parametrize(
    "name, depth",
    [("memnet_m4r6", 54), ("memnet_m6r6", 80), ("memnet_m6r8", 104), ("memnet_m10r10", 212)],
)
def test_depth_table6(name: str, depth: int) -> None:
    assert model_depth(build(name)) == depth


def test_parameter_counts() -> None:
    m6r6 = build("memnet_m6r6")
    assert conv_weight_params(m6r6) == 676_992
    conv_with_bias = sum(
        p.numel()
        for mod in m6r6.modules()
        if isinstance(mod, torch.nn.Conv2d)
        for p in (mod.weight, mod.bias)
    )
    assert conv_with_bias == 678_209
    assert conv_weight_params(build("memnet_m10r10")) == 1_373_312
    # The released code's count with BN scale/shift and the six output scalars.
    assert total_params(build("memnet", **OFFICIAL_CODE_OPTIONS)) == 695_497


def test_vdsr() -> None:
    model = build("vdsr")
    assert model_depth(model) == 20
    assert conv_weight_params(model) == 64 * 9 + 18 * 64 * 64 * 9 + 64 * 9 == 664_704
    x = torch.rand(1, 1, 9, 7)
    assert model(x).shape == x.shape


def test_gate_input_widths() -> None:
    assert build("memnet").gate_in_channels == [(m + 6) * 64 for m in range(1, 7)]
    assert build("memnet_nl").gate_in_channels == [6 * 64] * 6
    assert build("memnet_ns").gate_in_channels == [(m + 1) * 64 for m in range(1, 7)]


def test_shared_convs_separate_bn() -> None:
    model = MemNet(**TINY)
    unit = model.blocks[0].recursive_unit
    assert len(unit.act1) == len(unit.act2) == 2
    # One conv pair per recursive unit, used by every recursion: the same Parameter objects.
    convs = [m for m in unit.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [unit.conv1, unit.conv2]
    bns = [m for m in unit.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 4 and len({id(b.weight) for b in bns}) == 4
    # Different blocks do not share weights (Sec. 4, difference to DRCN).
    assert (
        model.blocks[0].recursive_unit.conv1.weight
        is not model.blocks[1].recursive_unit.conv1.weight
    )
    # The shared conv really is applied R times: R recursions of two convs each.
    calls = []
    hook = unit.conv1.register_forward_hook(lambda *_: calls.append(1))
    model(torch.rand(1, 1, 5, 5))
    hook.remove()
    assert len(calls) == 2


def test_init_he_and_zero_bias() -> None:
    torch.manual_seed(0)
    model = MemNet(num_blocks=1, num_recursions=1, channels=64)
    w = model.blocks[0].recursive_unit.conv1.weight
    assert abs(w.std().item() - (2 / (64 * 9)) ** 0.5) < 0.05 * (2 / (64 * 9)) ** 0.5
    assert all(
        torch.count_nonzero(m.bias) == 0 for m in model.modules() if isinstance(m, torch.nn.Conv2d)
    )


def test_forward_backward_odd_size() -> None:
    torch.manual_seed(0)
    for kwargs in ({}, {"multi_supervised": False}, OFFICIAL_CODE_OPTIONS):
        model = MemNet(**TINY, **kwargs)
        x, target = torch.rand(1, 1, 13, 11), torch.rand(1, 1, 13, 11)
        y = model(x)
        assert y.shape == x.shape
        model.compute_loss(x, target).backward()
        grad = model.fenet.conv.weight.grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_multi_supervised_loss_by_hand() -> None:
    torch.manual_seed(0)
    model = MemNet(**TINY).eval()  # eval: BN uses running stats, so passes are reproducible
    with torch.no_grad():
        model.output_weights.copy_(torch.tensor([0.3, 0.9]))
    x, target = torch.rand(2, 1, 6, 5), torch.rand(2, 1, 6, 5)
    preds = model.forward_intermediate(x)
    final = model(x)
    torch.testing.assert_close(final, 0.3 * preds[0] + 0.9 * preds[1])

    def sq(a: torch.Tensor) -> torch.Tensor:  # ||target - a||^2 per image, averaged over N
        return ((target - a) ** 2).sum(dim=(1, 2, 3)).mean()

    alpha = 1 / 3  # 1/(M+1), M = 2
    expected = alpha / 2 * sq(final) + (1 - alpha) / (2 * 2) * (sq(preds[0]) + sq(preds[1]))
    torch.testing.assert_close(model.compute_loss(x, target), expected)
    assert model.alpha == pytest.approx(alpha)

    code = MemNet(**TINY, supervision="code").eval()
    code.load_state_dict(model.state_dict())
    expected_code = 0.5 * (sq(final) + sq(preds[0]) + sq(preds[1]))
    torch.testing.assert_close(code.compute_loss(x, target), expected_code)
    basic = MemNet(**TINY, multi_supervised=False).eval()
    torch.testing.assert_close(basic.compute_loss(x, target), 0.5 * sq(basic(x)))
    torch.testing.assert_close(euclidean_loss(x, target), 0.5 * sq(x))


def test_output_weight_init() -> None:
    assert torch.equal(MemNet(**TINY).output_weights, torch.full((2,), 0.5))
    assert torch.equal(MemNet(**TINY, supervision="code").output_weights, torch.ones(2))
    assert MemNet(**TINY, multi_supervised=False).output_weights is None


def test_intermediate_predictions_and_gate_norms() -> None:
    torch.manual_seed(0)
    model = MemNet(num_blocks=3, num_recursions=2, channels=8).eval()
    x = torch.rand(1, 1, 7, 9)
    preds = model.forward_intermediate(x)
    assert len(preds) == 3 and all(p.shape == x.shape for p in preds)
    weights = model.gate_weights()
    assert [tuple(w.shape) for w in weights] == [(8, (m + 2) * 8, 1, 1) for m in range(1, 4)]
    norms = model.gate_weight_norms()
    assert [n.shape[0] for n in norms] == model.gate_in_channels
    torch.testing.assert_close(norms[0][5], weights[0][:, 5].flatten().norm())
    slices = model.gate_memory_slices()
    assert slices[2] == {"long": slice(0, 24), "short": slice(24, 32), "last": slice(32, 40)}
    ns = MemNet(num_blocks=3, num_recursions=2, channels=8, short_term=False)
    assert ns.gate_memory_slices()[1] == {
        "long": slice(0, 16),
        "short": slice(16, 16),
        "last": slice(16, 24),
    }


@pytest.mark.parametrize(
    "name",
    [
        "memnet",
        "memnet_m4r6",
        "memnet_m6r6",
        "memnet_m6r8",
        "memnet_m10r10",
        "memnet_nl",
        "memnet_ns",
    ],
)
def test_build_registered(name: str) -> None:
    model = build(name, channels=4)
    assert isinstance(model, MemNet)
    x = torch.rand(1, 1, 5, 4)
    with torch.no_grad():
        assert model.eval()(x).shape == x.shape


def _eval_and_train_losses(recon_bn_per_block: bool) -> tuple[float, float]:
    """Final-output losses in eval and train mode after 60 Adam steps on one fixed batch."""
    torch.manual_seed(0)
    target = torch.nn.functional.avg_pool2d(torch.rand(8, 1, 16, 16), 5, 1, 2)
    inp = target + 0.05 * torch.randn_like(target)
    model = MemNet(2, 2, 16, recon_bn_per_block=recon_bn_per_block)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(60):
        opt.zero_grad()
        model.compute_loss(inp, target).backward()
        opt.step()
    with torch.no_grad():
        train_loss = euclidean_loss(model(inp), target).item()
        model.eval()
        eval_loss = euclidean_loss(model(inp), target).item()
    return eval_loss, train_loss


def test_a_reconnet_bn_per_block_keeps_the_eval_output_the_trained_one() -> None:
    # One BN shared by all blocks averages their feature statistics into its running estimates,
    # so the eval-mode output departs from the trained one; hence the default (per block).
    eval_loss, train_loss = _eval_and_train_losses(recon_bn_per_block=True)
    assert eval_loss < 1.2 * train_loss
    eval_loss, train_loss = _eval_and_train_losses(recon_bn_per_block=False)
    assert eval_loss > 1.4 * train_loss
    assert len(MemNet(2, 2, 8).reconnet.act) == 2  # the default
