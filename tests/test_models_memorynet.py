"""MemoryNet / MPRNet: sizes, variants, memory augment, losses, odd-sized forward/backward."""

from __future__ import annotations

import math
import sys

import pytest
import torch

from reprolib import losses
from reprolib.models import build, model_depth, total_params
from reprolib.models.memorynet import MemoryAugment, MemoryNet, hard_shrink_relu

SMALL = dict(n_feat=8, scale_unetfeats=4, scale_orsnetfeats=4, num_cab=1)
TINY_FEATS = ((4, 1), (6, 1), (6, 1), (8, 1), (8, 1))

BACKBONE = 3_637_249
MEMORY = 336


def small(name: str, **kwargs) -> MemoryNet:
    torch.manual_seed(0)
    kw = {**SMALL, "contrastive_blocks": TINY_FEATS, **kwargs}
    return build(name, **kw)


# ------------------------------------------------------------------------------------------
# parameter counts and registered variants
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mprnet", BACKBONE),
        ("memorynet_nomem", BACKBONE),
        ("memorynet", BACKBONE + MEMORY),
        ("memorynet_nocl", BACKBONE + MEMORY),
        ("memorynet_2branch", BACKBONE + 300 + 30),  # items + part->instance reweighting
        ("memorynet_1branch", BACKBONE + 300),  # items only
    ],
)
def test_parameter_counts(name: str, expected: int) -> None:
    model = build(name)
    assert total_params(model) == expected
    assert sum(p.numel() for p in model.parameters()) == expected  # all of them, none frozen
    # the contrastive feature space is not part of the model's parameters or checkpoints
    assert not any("contrastive" in k for k in model.state_dict())


def test_variant_flags() -> None:
    full = build("memorynet")
    assert full.memory is not None and full.memory.levels == 3 and full.contrastive is not None
    assert full.recon == "memory" and full.contrastive_weight == pytest.approx(0.1)
    assert full.edge_weight == pytest.approx(0.05)
    nocl = build("memorynet_nocl")
    assert nocl.memory is not None and nocl.contrastive is None
    nomem = build("memorynet_nomem")
    assert nomem.memory is None and nomem.contrastive is not None and nomem.recon == "off"
    base = build("mprnet")
    assert base.memory is None and base.contrastive is None
    assert build("memorynet_1branch").memory_branches == 1
    assert build("memorynet_2branch").memory_branches == 2
    assert build("memorynet", memory_branches=2, contrastive=False).contrastive is None
    with pytest.raises(ValueError):
        build("memorynet", memory_branches=4)


def test_memory_off_feeds_raw_input_to_stage_1() -> None:
    x = torch.rand(1, 3, 16, 16)
    seen: list[torch.Tensor] = []
    for name, raw in (("mprnet", True), ("memorynet", False)):
        model = small(name).eval()
        seen.clear()
        handle = model.shallow_feat1[0].register_forward_hook(
            lambda m, inp, out: seen.append(inp[0].detach())
        )
        with torch.no_grad():
            model(x)
        handle.remove()
        assert len(seen) == 4  # four quarter patches in stage 1
        top = torch.cat(seen[:2], dim=3)
        bot = torch.cat(seen[2:], dim=3)
        stage1_in = torch.cat([top, bot], dim=2)
        if raw:
            assert torch.equal(stage1_in, x)
        else:
            assert torch.allclose(stage1_in, model.memory(x).part)
            assert not torch.allclose(stage1_in, x)


@pytest.mark.parametrize("branches", [1, 2, 3])
def test_memory_branches_choose_stage_inputs(branches: int) -> None:
    model = small("memorynet", memory_branches=branches)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        reads = model.memory(x)
        s1, s2, s3 = model.stage_inputs(x)
    assert torch.equal(s1, reads.part)
    assert torch.equal(s2, reads.instance if branches >= 2 else x)
    assert torch.equal(s3, reads.semantic if branches >= 3 else x)
    assert (reads.instance is None) == (branches < 2)
    assert (reads.semantic is None) == (branches < 3)

    filled = small("memorynet", memory_branches=branches, branch_fill="memory")
    with torch.no_grad():
        f = filled.stage_inputs(x)
        deepest = [r for r in filled.memory(x) if r is not None][-1]
    for s in f[branches:]:
        assert torch.equal(s, deepest)


def test_degraded_input_reaches_network_only_through_memory() -> None:
    """With the paper's cosine addressing, brightness scaling is invisible to the network."""
    x = torch.rand(1, 3, 16, 16) * 0.5 + 0.1
    cos = small("memorynet").eval()
    dot = small("memorynet", similarity="dot").eval()
    with torch.no_grad():
        assert torch.allclose(cos(x), cos(2 * x), atol=1e-5)
        assert not torch.allclose(dot(x), dot(2 * x), atol=1e-3)


# ------------------------------------------------------------------------------------------
# memory augment (Eqs. 1-4)
# ------------------------------------------------------------------------------------------
def test_hard_shrink_relu() -> None:
    w = torch.tensor([0.001, 0.0025, 0.003, 0.5])
    out = hard_shrink_relu(w, 0.0025)
    assert torch.allclose(out, torch.tensor([0.0, 0.0, 0.003, 0.5]), atol=1e-9)


def test_memory_addressing_and_reads() -> None:
    torch.manual_seed(0)
    mem = MemoryAugment()
    assert mem.items.shape == (100, 3)
    q = torch.rand(50, 3)
    w = mem.addressing(q, mem.items)
    assert torch.allclose(w.sum(1), torch.ones(50), atol=1e-6)
    assert (w == 0).sum() + (w > 0.0025).sum() == w.numel()  # hard shrinkage
    # Eq. 1: softmax of cosine similarities before the shrinkage
    mem0 = MemoryAugment(shrink_threshold=0.0)
    mem0.load_state_dict(mem.state_dict())
    cos = torch.nn.functional.cosine_similarity(q[:, None], mem.items[None], dim=2)
    assert torch.allclose(mem0.addressing(q, mem.items), torch.softmax(cos, 1), atol=1e-6)
    reads = mem(torch.rand(2, 3, 5, 7))
    assert all(r.shape == (2, 3, 5, 7) for r in reads)


def test_instance_and_semantic_prototypes_eq3() -> None:
    torch.manual_seed(0)
    mem = MemoryAugment()
    with torch.no_grad():  # alpha = beta = sigmoid(50) ~ 1: plain means of the groups
        for layer in (mem.part_reweight, mem.instance_reweight):
            layer.weight.zero_()
            layer.bias.fill_(50.0)
    ins = mem.instance_prototypes()
    assert torch.allclose(ins, mem.items.view(20, 5, 3).mean(1), atol=1e-6)
    assert torch.allclose(mem.semantic_prototypes(), ins.view(10, 2, 3).mean(1), atol=1e-6)
    official = MemoryAugment(layout="official")
    official.load_state_dict(mem.state_dict())
    expected = mem.items.view(20, 3, 5).mean(2)  # the released code's channel-mixing reshape
    assert torch.allclose(official.instance_prototypes(), expected, atol=1e-6)


# ------------------------------------------------------------------------------------------
# losses
# ------------------------------------------------------------------------------------------
def test_charbonnier_hand_value() -> None:
    x = torch.full((1, 3, 4, 4), 0.5)
    y = x - 0.3
    assert losses.charbonnier(x, y).item() == pytest.approx(math.sqrt(0.09 + 1e-6), rel=1e-5)
    assert losses.charbonnier(x, x).item() == pytest.approx(1e-3, rel=1e-5)  # = eps
    d = torch.tensor([0.0, 0.1, -0.2, 0.4]).view(1, 1, 2, 2)
    expected = sum(math.sqrt(v * v + 1e-6) for v in (0.0, 0.1, 0.2, 0.4)) / 4
    assert losses.charbonnier(d, torch.zeros_like(d)).item() == pytest.approx(expected, rel=1e-5)


def test_laplacian_level_hand_value() -> None:
    impulse = torch.zeros(1, 1, 17, 17)
    impulse[..., 8, 8] = 1.0
    lap = losses.laplacian_level(impulse)
    # centre: 1 - 4 * (sum_{d in -2,0,2} k_d^2)^2 = 1 - 4 * 0.165^2
    assert lap[0, 0, 8, 8].item() == pytest.approx(1 - 4 * 0.165**2, rel=1e-5)
    flat = losses.laplacian_level(torch.full((1, 3, 16, 16), 0.7))
    assert flat[..., 4:-4, 4:-4].abs().max().item() < 1e-6  # no edges in a constant image


def test_edge_loss() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 3, 12, 13)
    assert losses.edge_loss(x, x, eps=0.0).item() == 0.0
    assert losses.edge_loss(x, x).item() == pytest.approx(1e-3, rel=1e-5)
    assert losses.edge_loss(x, x + 0.1 * torch.rand_like(x)).item() > 2e-3
    stages = [x, x, x]
    y = torch.rand_like(x)
    expected = 3 * (losses.charbonnier(x, y) + 0.05 * losses.edge_loss(x, y))
    assert losses.multi_stage_loss(stages, y).item() == pytest.approx(expected.item(), rel=1e-5)


def test_memory_reconstruction_loss() -> None:
    y = torch.zeros(1, 3, 2, 2)
    a, b = torch.full_like(y, 0.1), torch.full_like(y, 0.3)
    assert losses.memory_reconstruction_loss([a, b], y).item() == pytest.approx(0.05)


def test_contrastive_ratio_ordering_and_determinism() -> None:
    torch.manual_seed(0)
    clean = torch.rand(1, 3, 24, 24)
    degraded = (clean * 0.4 + 0.2 * torch.rand_like(clean)).clamp(0, 1)
    cl = losses.ContrastiveRegularization(blocks=TINY_FEATS)
    mid = 0.5 * (clean + degraded)
    at_clean = cl(clean, clean, degraded)
    halfway = cl(mid, clean, degraded)
    at_degraded = cl(degraded, clean, degraded)
    assert at_clean.item() == pytest.approx(0.0, abs=1e-6)
    assert at_clean < halfway < at_degraded
    same = losses.ContrastiveRegularization(blocks=TINY_FEATS)
    other = losses.ContrastiveRegularization(blocks=TINY_FEATS, seed=1)
    assert same(mid, clean, degraded).item() == pytest.approx(halfway.item(), rel=1e-6)
    assert other(mid, clean, degraded).item() != pytest.approx(halfway.item(), rel=1e-3)
    assert list(cl.parameters()) == []
    # the default VGG-19-shaped space runs too (five taps, relu1_1 .. relu5_1)
    feats = losses.RandomVGGFeatures()(torch.rand(1, 3, 20, 20))
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512, 512]


# ------------------------------------------------------------------------------------------
# forward / backward / depth / figure hook
# ------------------------------------------------------------------------------------------
def test_odd_size_forward_backward_reaches_first_conv() -> None:
    model = small("memorynet")
    x = torch.rand(1, 3, 19, 21)
    y = torch.rand(1, 3, 19, 21)
    stages = model.forward_stages(x)
    assert all(s.shape == x.shape for s in stages)
    assert torch.equal(model(x), stages[2])
    loss = model.compute_loss(x, y)
    loss.backward()
    assert torch.isfinite(loss)
    first = model.shallow_feat1[0].weight.grad
    assert first is not None and first.abs().sum() > 0
    assert model.memory.items.grad.abs().sum() > 0
    assert model.memory.instance_reweight.weight.grad.abs().sum() > 0


def test_compute_loss_terms_per_variant() -> None:
    torch.manual_seed(1)
    x, y = torch.rand(1, 3, 8, 10), torch.rand(1, 3, 8, 10)
    base = small("mprnet")
    with torch.no_grad():
        plain = losses.multi_stage_loss(base.forward_stages(x), y)
        assert base.compute_loss(x, y).item() == pytest.approx(plain.item(), rel=1e-6)
        nocl = small("memorynet_nocl")
        recon = losses.memory_reconstruction_loss(list(nocl.memory(y)), y)
        expected = losses.multi_stage_loss(nocl.forward_stages(x), y) + recon
        assert nocl.compute_loss(x, y).item() == pytest.approx(expected.item(), rel=1e-6)
        off = small("memorynet_nocl", recon="off")
        assert off.compute_loss(x, y).item() == pytest.approx(
            losses.multi_stage_loss(off.forward_stages(x), y).item(), rel=1e-6
        )
        full = small("memorynet")
        assert full.compute_loss(x, y) > losses.multi_stage_loss(full.forward_stages(x), y)


def test_tiny_and_full_size_inputs() -> None:
    model = small("memorynet").eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 5, 7)).shape == (2, 3, 5, 7)  # replicate-pad fallback
        full = build("memorynet").eval()
        assert full(torch.rand(1, 3, 19, 21)).shape == (1, 3, 19, 21)


def _conv_path_length(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Longest chain of convolutions between ``x`` and the output in the autograd graph."""
    x = x.clone().requires_grad_(True)
    out = model(x)
    memo: dict[object, int | None] = {}

    def visit(fn: object) -> int | None:
        if fn is None:
            return None
        if fn in memo:
            return memo[fn]
        if type(fn).__name__ == "AccumulateGrad":
            memo[fn] = 0 if fn.variable is x else None
            return memo[fn]
        best = None
        for nxt, _ in fn.next_functions:
            v = visit(nxt)
            if v is not None and (best is None or v > best):
                best = v
        if best is not None and "Convolution" in type(fn).__name__:
            best += 1
        memo[fn] = best
        return best

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))
    try:
        return visit(out.grad_fn)
    finally:
        sys.setrecursionlimit(limit)


def test_depth_matches_longest_conv_path() -> None:
    assert model_depth(build("memorynet")) == 119 + 12 * 8
    for num_cab in (1, 2):
        model = small("memorynet", num_cab=num_cab, contrastive=False)
        assert model.depth == _conv_path_length(model, torch.rand(1, 3, 8, 8))


def test_first_layer_features_for_fig7() -> None:
    x = torch.rand(1, 3, 9, 11)
    feats = small("memorynet").first_layer_features(x)
    assert set(feats) == {"input", "memory"}
    assert feats["input"].shape == feats["memory"].shape == (1, 8, 9, 11)
    assert set(small("mprnet").first_layer_features(x)) == {"input"}
