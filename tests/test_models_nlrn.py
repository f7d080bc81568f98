"""NLRN (Liu et al. 2018): sizes, variant wiring, exact neighbourhood attention, gradients."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import Tensor, nn

import reprolib.models.nlrn as nlrn_mod
from reprolib.models import build, conv_weight_params, model_depth, total_params
from reprolib.models.attention import neighbourhood_attention
from reprolib.models.nlrn import DISTANCES, NLRN, LocalMLP, NonLocalModule

TINY = {"channels": 8, "embed": 4, "steps": 3, "q": 5, "zero_init_g": False}
VARIANTS = ["nlrn", "nlrn_untied", "nlrn_rnn", "nlrn_nl2", "nlrn_nl3"]
CONV_PER_STEP = 2 * 128 * 64 + 128 * 128 + 2 * 128 * 128 * 9  # theta, psi, g, two 3x3 convs


def conv_with_bias(model: nn.Module) -> int:
    return sum(
        p.numel()
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
        for p in (m.weight, m.bias)
        if p is not None
    )


# ----------------------------------------------------------------------------- sizes


def test_parameter_counts_and_depth() -> None:
    model = build("nlrn")
    assert conv_weight_params(model) == 329_984  # Table 3's "330k"
    assert conv_with_bias(model) == 330_625
    assert total_params(model) == 340_099  # with BN scale/shift, BN not shared over steps
    assert model_depth(model) == 38 == 1 + 3 * 12 + 1  # Table 3


def test_untied_has_t_times_the_step_weights() -> None:
    model = build("nlrn_untied")
    io = 2 * 128 * 9  # first and last conv
    assert conv_weight_params(model) == io + 12 * CONV_PER_STEP
    assert conv_weight_params(build("nlrn")) == io + CONV_PER_STEP
    assert len(model.cells) == 12 and len({id(model.cell(t)) for t in range(12)}) == 12
    assert model_depth(model) == 38


def test_rnn_variant_same_parameter_count_and_no_attention() -> None:
    rnn, ref = build("nlrn_rnn"), build("nlrn")
    assert conv_weight_params(rnn) == conv_weight_params(ref)
    assert conv_with_bias(rnn) == conv_with_bias(ref)
    assert total_params(rnn) == total_params(ref)  # exact: LocalMLP has 2C^2 + 2C = theta+psi+g
    assert not any(isinstance(m, NonLocalModule) for m in rnn.modules())
    assert any(isinstance(m, LocalMLP) for m in rnn.modules())
    assert model_depth(rnn) == 1 + 4 * 12 + 1  # LocalMLP is two 1x1 layers deep
    with pytest.raises(ValueError):
        build("nlrn_rnn").correlation_maps(torch.rand(1, 1, 5, 5), (2, 2))


@pytest.mark.parametrize("name, every, depth", [("nlrn_nl2", 2, 32), ("nlrn_nl3", 3, 30)])
def test_nonlocal_every_k_sizes(name: str, every: int, depth: int) -> None:
    model = build(name)
    assert model.nonlocal_steps == [t % every == 0 for t in range(12)]
    assert conv_weight_params(model) == 329_984  # tied: the module's weights exist once
    assert model_depth(model) == depth


@pytest.mark.parametrize(
    "distance, weights",
    [
        ("embedded_gaussian", 329_984),
        ("embedded_dot_product", 329_984),
        ("symmetric_embedded_gaussian", 329_984 - 128 * 64),
        ("gaussian", 329_984 - 2 * 128 * 64),
        ("dot_product", 329_984 - 2 * 128 * 64),
        ("euclidean", 329_984 - 2 * 128 * 64),
    ],
)
def test_table1_distance_sizes(distance: str, weights: int) -> None:
    assert conv_weight_params(build("nlrn", distance=distance)) == weights


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        build("nlrn", q=4)
    with pytest.raises(ValueError):
        build("nlrn", distance="cosine")
    with pytest.raises(ValueError):
        build("nlrn", rnn_fill="mlp1x1")  # only without non-local module
    with pytest.raises(RuntimeError):
        x = torch.zeros(1, 2, 5, 5)
        neighbourhood_attention(x, x, x, 3, impl="blocked", prev_logits=torch.zeros(1, 9, 5, 5),
                                inplace=True)  # fmt: skip


# ----------------------------------------------------------------------------- wiring


def _trace_nonlocal_calls(model: NLRN) -> list[tuple[Tensor | None, Tensor | None]]:
    """Record (prev_logits passed in, logits returned) of every non-local module call."""
    calls: list[tuple[Tensor | None, Tensor | None]] = []

    def hook(_mod, _args, kwargs, output):
        calls.append((kwargs.get("prev_logits"), output[1]))

    for m in model.modules():
        if isinstance(m, NonLocalModule):
            m.register_forward_hook(hook, with_kwargs=True)
    return calls


@pytest.mark.parametrize("propagate", [True, False])
def test_correlation_propagation_wiring(propagate: bool) -> None:
    torch.manual_seed(0)
    model = build("nlrn", **TINY, propagate_correlation=propagate)
    calls = _trace_nonlocal_calls(model)
    model(torch.rand(2, 1, 7, 9))
    assert len(calls) == 3
    assert calls[0][0] is None
    for t in (1, 2):
        if propagate:  # s_corr^{t-1} is exactly what the previous step returned
            assert calls[t][0] is calls[t - 1][1]
        else:
            assert calls[t][0] is None


def test_propagation_changes_the_output() -> None:
    torch.manual_seed(0)
    a = build("nlrn", **TINY)
    b = build("nlrn", **TINY, propagate_correlation=False)
    b.load_state_dict(a.state_dict())
    x = torch.rand(2, 1, 7, 9)
    assert not torch.allclose(a(x), b(x))


@pytest.mark.parametrize("name, calls", [("nlrn_nl2", [0, 2, 4]), ("nlrn_nl3", [0, 3])])
def test_nonlocal_every_k_calls(name: str, calls: list[int]) -> None:
    torch.manual_seed(0)
    model = build(name, **{**TINY, "steps": 6})
    assert [t for t in range(6) if model.nonlocal_steps[t]] == calls
    trace = _trace_nonlocal_calls(model)
    model(torch.rand(1, 1, 7, 9))
    assert len(trace) == len(calls) == 6 // (calls[1] - calls[0])
    # the correlation state jumps the steps without a non-local module
    assert trace[0][0] is None and all(trace[i][0] is trace[i - 1][1] for i in range(1, len(trace)))


def test_untied_uses_a_different_cell_each_step() -> None:
    torch.manual_seed(0)
    model = build("nlrn_untied", **TINY)
    seen: list[int] = []
    for t in range(3):
        model.cell(t).conv1.register_forward_hook(lambda m, i, o: seen.append(id(m)))
    model(torch.rand(1, 1, 7, 9))
    assert len(seen) == 3 and len(set(seen)) == 3


def test_g_is_zero_initialised_and_weights_xavier() -> None:
    model = build("nlrn")
    nl = model.cells[0].nonlocal_module
    assert nl.g.weight.abs().sum() == 0 and nl.g.bias.abs().sum() == 0
    w = model.cells[0].conv1.weight
    bound = (6 / (w.shape[1] * 9 + w.shape[0] * 9)) ** 0.5  # Glorot uniform
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound
    assert build("nlrn", zero_init_g=False).cells[0].nonlocal_module.g.weight.abs().sum() > 0


# ----------------------------------------------------------------------------- attention


CASES = [(q, p) for q in (1, 3, 5, 11) for p in ("circular", "zero", "mask")]
CASES += [(17, "circular"), (None, "circular")]  # q = 17: wraps more than once on 7 rows


@pytest.mark.parametrize("q, padding", CASES)
def test_dense_blocked_and_reference_agree(q: int | None, padding: str, attention_inputs) -> None:
    qm, km, vm, draw_logits = attention_inputs(2, 3, 4, 7, 9)
    for (score, norm), use_prev in itertools.product(
        [("dot", "softmax"), ("dot", "mean"), ("neg_sq_dist", "softmax")], (False, True)
    ):
        prev = draw_logits(q) if use_prev else None
        ref_out, ref_logits = neighbourhood_attention(
            qm, km, vm, q, score=score, scale=0.7, normalization=norm, padding=padding,
            prev_logits=prev, impl="reference",
        )  # fmt: skip
        for impl, tile in [("dense", 16), ("blocked", 1), ("blocked", 4), ("blocked", 16)]:
            out, logits = neighbourhood_attention(
                qm, km, vm, q, score=score, scale=0.7, normalization=norm, padding=padding,
                prev_logits=prev, impl=impl, tile=tile,
            )  # fmt: skip
            torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(logits, ref_logits, rtol=1e-10, atol=1e-10)


def _phi_self(nl: NonLocalModule, x: Tensor) -> Tensor:
    """Table 1's log phi(X_i, X_i) (the raw affinity for the dot products)."""
    if nl.distance == "euclidean":
        return torch.zeros_like(x[:, 0])  # -||X_i - X_i||^2 / h^2
    if nl.distance in ("dot_product", "gaussian"):
        return (x * x).sum(1)
    if nl.distance == "symmetric_embedded_gaussian":
        return (nl.theta(x) ** 2).sum(1)
    return (nl.theta(x) * nl.psi(x)).sum(1)  # embedded Gaussian / embedded dot product


@pytest.mark.parametrize("distance", list(DISTANCES))
def test_nonlocal_module_matches_the_reference_for_every_metric(distance: str) -> None:
    torch.manual_seed(1)
    q, h, w = 5, 7, 9
    nl = NonLocalModule(6, 3, q, distance, "circular", h=1.3, zero_init_g=False).double()
    x = torch.rand(2, 6, h, w, dtype=torch.float64)
    prev = torch.randn(2, q * q, h, w, dtype=torch.float64)
    qm, km = nl.query_key(x)
    ref_out, ref_logits = neighbourhood_attention(
        qm, km, nl.g(x), q, score=nl.score, scale=nl.scale, normalization=nl.normalization,
        padding="circular", prev_logits=prev, impl="reference",
    )  # fmt: skip
    for impl in ("dense", "blocked"):
        nl.attention_impl = impl
        with torch.no_grad():
            out, logits = nl(x, prev_logits=prev)
            torch.testing.assert_close(out, x + ref_out, rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(logits, ref_logits, rtol=1e-10, atol=1e-10)
            # Table 1's phi at the window centre (j = i), checked from its formula
            center = logits[:, q * q // 2] - prev[:, q * q // 2]
            torch.testing.assert_close(center, _phi_self(nl, x), rtol=1e-10, atol=1e-10)


def test_mask_padding_gradients_are_finite() -> None:
    torch.manual_seed(0)
    qm, km, vm = (torch.randn(1, 2, 5, 6, requires_grad=True) for _ in range(3))
    out, logits = neighbourhood_attention(qm, km, vm, 3, padding="mask", impl="blocked", tile=4)
    (out.sum() + logits.sum()).backward()
    assert all(torch.isfinite(t.grad).all() for t in (qm, km, vm))


# ----------------------------------------------------------------------------- model


@pytest.mark.parametrize("name", VARIANTS)
def test_forward_backward_odd_sizes(name: str) -> None:
    torch.manual_seed(0)
    model = build(name, **TINY)
    x = torch.rand(2, 1, 11, 7)
    y = model(x)
    assert y.shape == x.shape
    y.square().mean().backward()
    grad = model.conv_in.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("padding", ["circular", "zero", "mask"])
def test_model_dense_equals_blocked_and_inplace(padding: str) -> None:
    torch.manual_seed(0)
    model = build("nlrn", **TINY, padding=padding).double().eval()
    x = torch.rand(1, 1, 9, 11, dtype=torch.float64)
    outs = []
    for impl, grad in [("dense", True), ("blocked", True), ("blocked", False)]:
        model.cells[0].nonlocal_module.attention_impl = impl
        with torch.set_grad_enabled(grad):  # no_grad: logits updated in place
            outs.append(model(x))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(outs[0], outs[2], rtol=1e-10, atol=1e-10)


def test_whole_patch_attention_q_none() -> None:
    torch.manual_seed(0)
    model = build("nlrn", **{**TINY, "q": None}).double().eval()
    x = torch.rand(1, 1, 6, 7, dtype=torch.float64)
    nl = model.cells[0].nonlocal_module
    nl.attention_impl = "dense"
    a = model(x)
    nl.attention_impl = "blocked"
    torch.testing.assert_close(a, model(x), rtol=1e-10, atol=1e-10)
    maps = model.correlation_maps(x, (2, 3))
    assert maps.shape == (3, 6, 7)


def test_patchwise_inference_averages_overlapping_patches() -> None:
    torch.manual_seed(0)
    opts = {**TINY, "q": None, "patchwise": True, "patch_size": 6, "patch_stride": 4}
    model = build("nlrn", **opts).double().eval()
    x = torch.rand(1, 1, 9, 11, dtype=torch.float64)
    with torch.no_grad():
        y = model(x)
        acc, cnt = torch.zeros_like(x), torch.zeros_like(x)
        for top in (0, 3):  # 9 - 6 = 3 is not a multiple of 4: the last patch is flush
            for left in (0, 4, 5):
                patch = x[..., top : top + 6, left : left + 6]
                acc[..., top : top + 6, left : left + 6] += model.residual(patch) + patch
                cnt[..., top : top + 6, left : left + 6] += 1
    torch.testing.assert_close(y, acc / cnt)
    model.train()
    assert model(x).shape == x.shape  # training mode: whole input (patches are the input)


@pytest.mark.parametrize("padding", ["circular", "mask"])
def test_correlation_maps(padding: str) -> None:
    torch.manual_seed(0)
    model = build("nlrn", **TINY, padding=padding).eval()
    maps = model.correlation_maps(torch.rand(1, 1, 7, 9), (0, 4))
    assert maps.shape == (3, 5, 5)
    torch.testing.assert_close(maps.sum((1, 2)), torch.ones(3))
    if padding == "mask":  # pixel in the top row: the two rows above are outside
        assert maps[:, :2].abs().max() == 0


def test_cpu_inference_flushes_denormals(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(nlrn_mod, "flush_denormals", lambda: calls.append(1) or True)
    model = build("nlrn", **TINY).eval()
    x = torch.rand(1, 1, 5, 5)
    model(x)
    assert not calls
    with torch.no_grad():
        model(x)
    assert calls
