"""What the GPU path of training must get right (skipped without CUDA; a GPU window runs them
first: ``scripts/gpu_window.sh``, ``pytest -m cuda``).

* one training step under bf16 autocast and channels_last (what :func:`reprolib.train.train`
  does on CUDA) matches a float64 step on CPU: loss within 2% and the gradient, read back from
  an SGD update, within 5% (relative L2 error over all parameters) - bf16 keeps 8 bits of
  mantissa, about 0.4% per rounding;
* a checkpoint written on CUDA resumes on CPU (how a partial GPU-window run continues here);
* NLRN's blocked neighbourhood attention equals the dense form on CUDA (float64: 1e-10, as on
  CPU; float32 model forward with TF32 off: 1e-4), and both equal the CPU result.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from reprolib import data
from reprolib.models import build
from reprolib.models.attention import neighbourhood_attention
from reprolib.recipes import get_recipe
from reprolib.restorers import load_model
from reprolib.train import (
    CHECKPOINT,
    LossModule,
    build_model,
    make_optimizer,
    train,
    train_step,
)

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def tiny(**kw):
    """A DnCNN of depth 4 (with BatchNorm) at the smoke budget."""
    base = dict(budget="smoke", patch=24, batch=4, train_limit=4, val_limit=1)
    return get_recipe("dncnn_denoise", sigma=25, **{**base, **kw})


@pytest.fixture
def synthetic_sets(monkeypatch):
    """Every set is three synthetic gray images (no benchmark data needed)."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 48), dtype=np.uint8) for _ in range(3)]

    def load(name, *, limit=None, check=True):
        out = [data.LoadedImage(f"{name}/img{i}", im) for i, im in enumerate(images)]
        return out[:limit]

    monkeypatch.setattr(data, "load", load)


@pytest.fixture
def no_tf32():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_bf16_channels_last_step_matches_float64():
    lr = 1e-3
    r = tiny(optimizer="sgd", momentum=0.0, weight_decay=0.0, clip="none", lr=lr, milestones=[])
    torch.manual_seed(0)
    ref = build_model(r).double()
    gpu = copy.deepcopy(ref).float().cuda().to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(1)
    target = torch.rand(r.batch, 1, r.patch, r.patch, generator=gen)
    noisy = target + 0.1 * torch.randn(target.shape, generator=gen)

    ref.train()
    loss_ref = LossModule(ref, r.loss)(noisy.double(), target.double())
    loss_ref.backward()
    g_ref = torch.cat([p.grad.flatten() for p in ref.parameters()])

    gpu.train()
    before = [p.detach().clone() for p in gpu.parameters()]
    opt = make_optimizer(gpu, r)
    put = lambda t: t.cuda().contiguous(memory_format=torch.channels_last)  # noqa: E731
    loss = train_step(LossModule(gpu, r.loss), opt, r, put(noisy), put(target), 0, amp=True)
    step = torch.cat([(b - p.detach()).flatten() for b, p in zip(before, gpu.parameters())])
    g_amp = (step / lr).double().cpu()

    assert abs(loss.item() - loss_ref.item()) / loss_ref.item() < 0.02
    rel = (g_amp - g_ref).norm() / g_ref.norm()
    assert rel < 0.05, f"bf16 gradient differs by {rel:.3f} (relative L2)"
    assert torch.nn.functional.cosine_similarity(g_amp, g_ref, dim=0) > 0.998


def test_checkpoint_written_on_cuda_resumes_on_cpu(tmp_path, synthetic_sets):
    r = tiny(iterations=8, ckpt_every=4, log_every=2, val_every=4)
    out = tmp_path / "run"
    first = train(r, None, out_dir=out, device="cuda", stop_after=4, progress=False)
    assert first["status"] == "paused" and first["iterations"] == 4
    ckpt = torch.load(out / CHECKPOINT, map_location="cpu", weights_only=False)
    assert ckpt["iteration"] == 4 and ckpt["ranks"][0]["cuda_rng"] is not None

    done = train(r, None, out_dir=out, device="cpu", threads=1, progress=False)
    assert done["status"] == "finished" and done["iterations"] == 8
    assert done["device"] == "cpu"
    log = pd.read_csv(out / "log.csv")
    assert list(log["iteration"]) == [2, 4, 6, 8]
    assert np.isfinite(log["loss"]).all() and log["val_psnr"].notna().sum() == 2
    model, recipe = load_model(out)
    assert recipe.iterations == 8
    with torch.no_grad():
        y = model(torch.rand(1, 1, 24, 24))
    assert torch.isfinite(y).all()


@pytest.mark.parametrize(
    "q, padding", [(5, "circular"), (11, "zero"), (5, "mask"), (None, "circular")]
)
def test_blocked_attention_equals_dense_on_cuda(q, padding, attention_inputs):
    qm, km, vm, draw_logits = attention_inputs(2, 4, 6, 19, 23)
    prev = draw_logits(q)
    args = dict(score="dot", scale=0.7, normalization="softmax", padding=padding)
    cpu, cpu_logits = neighbourhood_attention(qm, km, vm, q, prev_logits=prev, impl="dense",
                                              **args)  # fmt: skip
    on = [t.cuda() for t in (qm, km, vm, prev)]
    outs = {}
    for impl, tile in [("dense", 16), ("blocked", 4), ("blocked", 16)]:
        outs[impl, tile] = neighbourhood_attention(*on[:3], q, prev_logits=on[3], impl=impl,
                                                   tile=tile, **args)  # fmt: skip
    for out, logits in outs.values():
        torch.testing.assert_close(out.cpu(), cpu, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(logits.cpu(), cpu_logits, rtol=1e-10, atol=1e-10)
    if q is not None:  # inference path: logits written in place under no_grad
        state = on[3].clone()
        with torch.no_grad():
            out, _ = neighbourhood_attention(*on[:3], q, prev_logits=state, impl="blocked",
                                             tile=8, inplace=True, **args)  # fmt: skip
        torch.testing.assert_close(out.cpu(), cpu, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(state.cpu(), cpu_logits, rtol=1e-10, atol=1e-10)


def test_nlrn_model_blocked_equals_dense_on_cuda(no_tf32):
    torch.manual_seed(0)
    model = build("nlrn", channels=16, embed=8, steps=3, q=9, zero_init_g=False).cuda().eval()
    x = torch.rand(2, 1, 40, 37, device="cuda")
    outs = []
    for impl in ("dense", "blocked"):
        for cell in model.cells:
            cell.nonlocal_module.attention_impl = impl
        with torch.no_grad():
            outs.append(model(x))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-4, atol=1e-4)
    # gradients too (training uses the dense form on patches, inference the blocked one)
    grads = []
    for impl in ("dense", "blocked"):
        for cell in model.cells:
            cell.nonlocal_module.attention_impl = impl
        model.zero_grad()
        model(x).square().mean().backward()
        grads.append(
            torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        )
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-3, atol=1e-5)
