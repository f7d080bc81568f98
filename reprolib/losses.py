"""Training losses shared by the models of the study.

Every function takes image batches ``Tensor[N, C, H, W]`` (any ``C``, any device) and returns a
scalar tensor. The functions are general; the docstrings say which paper uses them and how.

* :func:`sum_squared_error`, :func:`euclidean_loss` - squared error summed per image (half of
  it: Caffe's EuclideanLoss of MemNet, RED-Net, NLRN and DnCNN);
* :func:`charbonnier` - the robust L1-like loss of MPRNet / MemoryNet (MemoryNet Eq. 8);
* :func:`edge_loss` - Charbonnier between one Laplacian-pyramid level of output and target
  (MemoryNet Eq. 9, MPRNet's ``EdgeLoss``);
* :func:`multi_stage_loss` - the per-stage sum of Charbonnier + ``lambda`` x edge
  (the first term of MemoryNet Eq. 7);
* :func:`memory_reconstruction_loss` - the L2 memory reconstruction term (MemoryNet Eq. 6);
* :class:`RandomVGGFeatures` and :class:`ContrastiveRegularization` - the contrastive ratio
  ``d(anchor, positive) / d(anchor, negative)`` of AECR-Net (Wu et al. CVPR 2021, MemoryNet's
  reference [52]) in a download-free feature space (see :class:`RandomVGGFeatures`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "AECR_LAYER_WEIGHTS",
    "GAUSS_5TAP",
    "VGG19_BLOCKS",
    "CharbonnierLoss",
    "ContrastiveRegularization",
    "EdgeLoss",
    "RandomVGGFeatures",
    "charbonnier",
    "edge_loss",
    "euclidean_loss",
    "gaussian_blur_5tap",
    "laplacian_level",
    "memory_reconstruction_loss",
    "multi_stage_loss",
    "sum_squared_error",
]

#: Binomial-like 5-tap kernel of MPRNet's edge loss; its outer product is the 2-D Gaussian.
GAUSS_5TAP: tuple[float, ...] = (0.05, 0.25, 0.4, 0.25, 0.05)

#: VGG-19 up to ``relu5_1``: (width, number of 3x3 convs) per block; a 2x2 max-pool follows
#: every block but the last. The taps are ``relu1_1 ... relu5_1`` (first conv of each block).
VGG19_BLOCKS: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 1))

#: AECR-Net's weights of the five VGG taps (shallow layers weigh less).
AECR_LAYER_WEIGHTS: tuple[float, ...] = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


# --------------------------------------------------------------------------------------------
# Pixel losses
# --------------------------------------------------------------------------------------------
def sum_squared_error(prediction: Tensor, target: Tensor) -> Tensor:
    """``1/N sum_i ||prediction_i - target_i||^2``: squared errors summed over the channels
    and pixels of each of the ``N`` images, averaged over the batch (recipe loss ``"sse"``)."""
    return (prediction - target).pow(2).flatten(1).sum(1).mean()


def euclidean_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Half of :func:`sum_squared_error`, ``1/(2N) sum_i ||target_i - prediction_i||^2``.

    Caffe's EuclideanLoss, which MemNet (Eqs. 4 and 12), RED-Net (Eq. 4) and DnCNN trained
    with, and NLRN's ``1/2 ||.||^2`` (recipe loss ``"sse_half"``). It is ``C*H*W/2`` times a
    per-pixel mean squared error.
    """
    return 0.5 * sum_squared_error(prediction, target)


def charbonnier(x: Tensor, y: Tensor, eps: float = 1e-3) -> Tensor:
    """Charbonnier loss ``mean(sqrt((x - y)^2 + eps^2))`` (MemoryNet Eq. 8, eps = 1e-3).

    The paper writes ``sqrt(||X_S - Y||^2 + eps^2)``; as in the released MPRNet / MemoryNet code
    the square root is taken per element and averaged (the usual Charbonnier penalty, a smooth
    L1), not over the squared norm of the whole image (which would be an L2 norm).
    """
    diff = x - y
    return torch.sqrt(diff * diff + eps * eps).mean()


class CharbonnierLoss(nn.Module):
    """Module form of :func:`charbonnier`."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return charbonnier(x, y, self.eps)


def gaussian_blur_5tap(x: Tensor) -> Tensor:
    """Depthwise 5x5 blur with ``outer(GAUSS_5TAP, GAUSS_5TAP)``, replicate padding (same size)."""
    k1 = torch.tensor(GAUSS_5TAP, dtype=x.dtype, device=x.device)
    kernel = torch.outer(k1, k1).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), kernel, groups=x.shape[1])


def laplacian_level(x: Tensor) -> Tensor:
    """Finest Laplacian-pyramid level ``x - G(up(down(G(x))))`` (MPRNet's edge operator).

    ``down`` keeps every second pixel, ``up`` puts them back on the even grid with zeros between
    them and a gain of 4 (so that the second blur interpolates at unit gain).
    """
    filtered = gaussian_blur_5tap(x)
    mask = torch.zeros_like(filtered[:1, :1])
    mask[..., ::2, ::2] = 4.0
    return x - gaussian_blur_5tap(filtered * mask)


def edge_loss(x: Tensor, y: Tensor, eps: float = 1e-3) -> Tensor:
    """Edge loss ``Charbonnier(Delta(x), Delta(y))`` with ``Delta`` = :func:`laplacian_level`.

    MemoryNet Eq. 9 (and MPRNet Eq. 3); zero for identical images.
    """
    return charbonnier(laplacian_level(x), laplacian_level(y), eps)


class EdgeLoss(nn.Module):
    """Module form of :func:`edge_loss`."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return edge_loss(x, y, self.eps)


def multi_stage_loss(
    stages: Sequence[Tensor], target: Tensor, edge_weight: float = 0.05, eps: float = 1e-3
) -> Tensor:
    """``sum_S [Charbonnier(X_S, Y) + lambda * Edge(X_S, Y)]`` (MemoryNet Eq. 7, first term).

    ``lambda`` is not given in the MemoryNet paper; 0.05 is the value of the released
    MPRNet / MemoryNet training scripts (MPRNet paper Sec. 3.1).
    """
    total = target.new_zeros(())
    for out in stages:
        total = total + charbonnier(out, target, eps) + edge_weight * edge_loss(out, target, eps)
    return total


def memory_reconstruction_loss(reconstructions: Sequence[Tensor], target: Tensor) -> Tensor:
    """Mean squared error of each reconstruction against ``target``, averaged (MemoryNet Eq. 6).

    Eq. 6 writes ``l_recon = ||Mem(Dec(Enc(Y))), Y||_2``: what the memory-augmented path makes of
    the *clean* image ``Y`` should be ``Y`` (the memory records normal patterns, Sec. III-A.1).
    As in the memory-augmented autoencoder the paper follows (Gong et al. ICCV 2019, ref. [56])
    the L2 term is the mean squared error. Several reconstructions (one per memory granularity)
    are averaged so the weight of the term does not depend on how many there are.
    """
    if not reconstructions:
        return target.new_zeros(())
    return torch.stack([F.mse_loss(r, target) for r in reconstructions]).mean()


# --------------------------------------------------------------------------------------------
# Contrastive regularisation in a download-free feature space
# --------------------------------------------------------------------------------------------
class RandomVGGFeatures(nn.Module):
    """A frozen VGG-19-shaped conv stack with fixed, seeded random weights (no download).

    AECR-Net, whose contrastive loss MemoryNet adopts, measures distances between features of an
    ImageNet-pretrained VGG-19 (taps ``relu1_1 ... relu5_1``). Pretrained weights cannot be
    downloaded in this project, so the same architecture is used with *random* weights:

    * He-normal weights (``std = sqrt(2 / fan_in)``, zero bias) drawn from a private
      ``torch.Generator`` seeded with ``seed`` - identical on every machine and run, whatever the
      global RNG state; never trained (no parameters; the tensors are rebuilt from the seed
      instead of being stored in checkpoints);
    * input normalised with the ImageNet mean / std as for VGG (centres the ReLU inputs).

    Why random features are a fair substitute: deep random ReLU conv stacks already act as a
    multi-scale, edge- and texture-sensitive embedding - random-weight networks synthesise natural
    textures and invert images nearly as well as trained VGG features (Ustyuzhaninov et al., ICLR
    2017; He, Wang & Hopcroft, NeurIPS 2016) and the architecture alone is a strong image prior
    (Ulyanov et al., CVPR 2018). The ratio loss only needs a fixed, non-trivial, multi-scale
    embedding in which "restored close to clean, far from degraded" is measurable; semantic
    (ImageNet) selectivity is what is lost, and that is recorded in the differences register.

    Args:
        in_channels: image channels (3 for RGB).
        blocks: ``(width, convs)`` per block; default VGG-19 up to ``relu5_1``. Tests pass narrow
            widths to stay fast.
        seed: seed of the private generator.
    """

    def __init__(
        self,
        in_channels: int = 3,
        blocks: Sequence[tuple[int, int]] = VGG19_BLOCKS,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.blocks = tuple((int(w), int(n)) for w, n in blocks)
        self.seed = seed
        if in_channels == 3:
            mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        else:
            mean, std = (0.449,) * in_channels, (0.226,) * in_channels
        self._mean = torch.tensor(mean).view(1, -1, 1, 1)
        self._std = torch.tensor(std).view(1, -1, 1, 1)
        self._weights_cpu: list[list[Tensor]] | None = None  # built on first use
        self._cache: dict[tuple[torch.device, torch.dtype], list[list[Tensor]]] = {}

    def _make_weights(self) -> list[list[Tensor]]:
        gen = torch.Generator().manual_seed(self.seed)
        weights: list[list[Tensor]] = []
        c_in = self.in_channels
        for width, convs in self.blocks:
            block = []
            for _ in range(convs):
                std = math.sqrt(2.0 / (c_in * 9))
                block.append(torch.randn(width, c_in, 3, 3, generator=gen) * std)
                c_in = width
            weights.append(block)
        return weights

    def _weights(self, ref: Tensor) -> list[list[Tensor]]:
        key = (ref.device, ref.dtype)
        if key not in self._cache:
            if self._weights_cpu is None:
                self._weights_cpu = self._make_weights()
            self._cache[key] = [
                [w.to(device=ref.device, dtype=ref.dtype) for w in block]
                for block in self._weights_cpu
            ]
        return self._cache[key]

    @property
    def num_taps(self) -> int:
        return len(self.blocks)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Features at the first ReLU of every block (``relu1_1 ... relu5_1`` for VGG-19)."""
        mean = self._mean.to(device=x.device, dtype=x.dtype)
        std = self._std.to(device=x.device, dtype=x.dtype)
        h = (x - mean) / std
        taps = []
        blocks = self._weights(x)
        for b, block in enumerate(blocks):
            if b > 0:
                h = F.max_pool2d(h, 2, ceil_mode=True)
            for i, w in enumerate(block):
                h = F.relu(F.conv2d(h, w, padding=1))
                if i == 0:
                    taps.append(h)
        return taps


class ContrastiveRegularization(nn.Module):
    """Contrastive ratio loss (AECR-Net Eq. 4; MemoryNet Sec. I and III "contrastive learning").

    ``L_cl = sum_i w_i * d(G_i(a), G_i(p)) / (d(G_i(a), G_i(n)) + eps)`` with the anchor ``a`` the
    restored image, the positive ``p`` the clean image, the negative ``n`` the degraded input,
    ``G_i`` the i-th feature tap of :class:`RandomVGGFeatures` and ``d`` the mean absolute (L1)
    distance. Minimising it pulls the restoration towards the clean image and pushes it away from
    the degraded one ("upper and lower boundaries", MemoryNet Sec. I). Positive and negative
    features are constants (computed without gradient).

    Args:
        layer_weights: ``w_i``; default AECR-Net's ``(1/32, 1/16, 1/8, 1/4, 1)``.
        blocks, seed, in_channels: the feature space, see :class:`RandomVGGFeatures`.
        eps: guards the division (AECR-Net uses 1e-7).
    """

    def __init__(
        self,
        layer_weights: Sequence[float] = AECR_LAYER_WEIGHTS,
        blocks: Sequence[tuple[int, int]] = VGG19_BLOCKS,
        seed: int = 0,
        in_channels: int = 3,
        eps: float = 1e-7,
    ) -> None:
        super().__init__()
        self.features = RandomVGGFeatures(in_channels, blocks, seed)
        if len(layer_weights) != self.features.num_taps:
            raise ValueError(
                f"{len(layer_weights)} layer weights for {self.features.num_taps} feature taps"
            )
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.eps = eps

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        fa = self.features(anchor)
        with torch.no_grad():
            fp = self.features(positive)
            fn = self.features(negative)
        total = anchor.new_zeros(())
        for w, a, p, n in zip(self.layer_weights, fa, fp, fn, strict=True):
            d_ap = F.l1_loss(a, p)
            d_an = F.l1_loss(a, n)
            total = total + w * d_ap / (d_an + self.eps)
        return total
