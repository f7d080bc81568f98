"""Tiled inference is exact for local operators; x8 self-ensemble undoes every view."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from reprolib.models import inference


def _local_net() -> nn.Module:
    torch.manual_seed(0)
    # Receptive-field radius 3 (three 3x3 convs), zero padding like the papers' networks.
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
        nn.Conv2d(4, 1, 3, padding=1),
    )  # fmt: skip


def test_tiled_equals_whole_image_when_overlap_covers_receptive_field():
    net = _local_net()
    x = torch.rand(1, 1, 37, 29)
    with torch.no_grad():
        whole = net(x)
        tiled = inference.tiled(net, x, tile=8, overlap=3)
        too_small = inference.tiled(net, x, tile=8, overlap=1)
    assert torch.allclose(tiled, whole, atol=1e-6)
    assert not torch.allclose(too_small, whole, atol=1e-4)


def test_self_ensemble_of_an_equivariant_map_is_the_map():
    x = torch.rand(2, 1, 7, 5)
    assert torch.allclose(inference.self_ensemble(lambda t: 2 * t, x), 2 * x)


def test_self_ensemble_averages_views_of_a_non_equivariant_map():
    x = torch.rand(1, 1, 6, 6)

    def shift(t):  # not rotation-equivariant: the ensemble must differ from one pass
        return torch.roll(t, 1, dims=-1)

    ens = inference.self_ensemble(shift, x)
    manual = []
    for flip in (False, True):
        for k in range(4):
            v = torch.rot90(torch.flip(x, (-1,)) if flip else x, k, (-2, -1))
            y = torch.rot90(shift(v), -k, (-2, -1))
            manual.append(torch.flip(y, (-1,)) if flip else y)
    assert torch.allclose(ens, torch.stack(manual).mean(0))
    assert not torch.allclose(ens, shift(x))


def test_restore_round_trips_numpy_gray_and_colour():
    net = nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
    img = np.random.default_rng(0).random((9, 11, 3))
    out = inference.restore(net, img, ensemble=True)
    assert out.shape == img.shape and np.allclose(out, img, atol=1e-6)
    gray = inference.restore(_local_net(), img[..., 0], tile=4, overlap=3)
    assert gray.shape == (9, 11)


def test_tiles_with_32px_of_context_restore_urban100_as_the_whole_image_for_the_trained_memnet(
    data_root,
):
    """The evaluation restores images above 512x512 px (Urban100) in 256 px tiles with 32 px of
    context (the released MemNet test code: 150 px tiles, 16 px). The committed cpu MemNet's
    depth (54 layers) exceeds 32 px, so exactness is not automatic: this checks it on its
    weights, on a crop of Urban100's first image in 128 px tiles."""
    from pathlib import Path

    from reprolib import evaluate, restorers

    run = Path(__file__).resolve().parents[1] / "results/memnet/table1/cpu/MemNet"
    model, recipe = restorers.load_model(run)
    pair = next(evaluate.iter_pairs("Urban100", "x2", recipe.protocol, limit=1))
    crop = pair.degraded[:256, :256]
    with torch.inference_mode():
        tiled = inference.restore(model, crop, tile=128, overlap=32)
        whole = inference.restore(model, crop)
    assert np.abs(tiled - whole).max() < 1e-5
