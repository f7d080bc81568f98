"""MemoryNet (Zhang, Gu, Zhu, "Memory augment is All You Need for image restoration", 2022).

MemoryNet is the three-stage MPRNet (Zamir et al., CVPR 2021, MemoryNet ref. [51]) whose three
stages read a *memory-augmented* version of the input image instead of the image itself, trained
with MPRNet's loss plus a memory reconstruction term (Eq. 6) and a contrastive term (Sec. I,
Table IV). This module provides

* :class:`MemoryAugment` - the three-granularity prototype memory (part / instance / semantic,
  Eqs. 1-4) applied to every pixel's RGB vector, as in the released code;
* :class:`MemoryNet` - MPRNet backbone + memory + the paper's objective (:meth:`compute_loss`);
  with ``memory=False`` it is exactly MPRNet (the Table IV baseline);
* registered variants ``memorynet``, ``memorynet_nocl``, ``memorynet_nomem``,
  ``memorynet_1branch``, ``memorynet_2branch`` and ``mprnet``.

Where the paper and the released code (zhangbaijin/MemoryNet) disagree, the paper is the default
and the code an option; every such choice is listed in ``reprolib/differences/memorynet.yaml``.

Backbone sizes follow the released code (channels 40, U-Net scale step 20, ORSNet scale step 16,
8 CABs per ORB, reduction 4, no biases, one PReLU shared by the whole network): 3,637,249
parameters, and the memory adds 336 (100 x 3 items + two 1x1 ``Conv1d`` reweighting layers).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprolib.losses import (
    AECR_LAYER_WEIGHTS,
    VGG19_BLOCKS,
    ContrastiveRegularization,
    memory_reconstruction_loss,
    multi_stage_loss,
)
from reprolib.models.registry import register

__all__ = [
    "CAB",
    "SAM",
    "MemoryAugment",
    "MemoryNet",
    "MemoryReadout",
    "ORSNet",
    "hard_shrink_relu",
]

Similarity = Literal["cosine", "dot"]
MemoryLayout = Literal["paper", "official"]
Recon = Literal["memory", "network", "off"]
BranchFill = Literal["input", "memory"]


# ============================================================================================
# Memory augment (Sec. III-A.3, Eqs. 1-4, Fig. 3)
# ============================================================================================
def hard_shrink_relu(w: Tensor, threshold: float, eps: float = 1e-12) -> Tensor:
    """``w if w > threshold else 0`` in a differentiable form (MemAE, Gong et al. 2019, Eq. 7).

    ``relu(w - t) * w / (|w - t| + eps)``; used on softmax weights, which are positive.
    """
    return F.relu(w - threshold) * w / ((w - threshold).abs() + eps)


class MemoryReadout(NamedTuple):
    """Per-pixel memory reads ``y_part, y_ins, y_sem`` (Eq. 4), each shaped like the query.

    Levels the memory does not compute (``levels < 3``) are ``None``.
    """

    part: Tensor
    instance: Tensor | None
    semantic: Tensor | None


class MemoryAugment(nn.Module):
    """Hierarchical prototype memory: part -> instance -> semantic (Eqs. 1-4).

    The memory holds ``N = classes x prototypes x parts`` (10 x 2 x 5 = 100) part items
    ``M_part in R^{N x C}`` (``C`` = 3: the memory reads raw RGB pixels). Reading (Eqs. 1-2) for a
    query pixel ``f`` and items ``m_j``::

        w_j = softmax_j(d(f, m_j));  w = hard_shrink(w, 0.0025);  w = w / ||w||_1
        y = sum_j w_j m_j

    with ``d`` the cosine similarity of Eq. 1 (default) or the plain dot product of the released
    code (``similarity="dot"``). The shrinkage and L1 renormalisation are not written in the paper
    but come from the memory-augmented autoencoder it follows (ref. [56]) and are in the released
    code; ``shrink_threshold=0`` switches them off. Eq. 2 sums over all pixels, which would collapse
    the image to one vector; as in the code every pixel is read independently.

    Higher levels are *summaries* of the level below (Eq. 3): every instance prototype is the
    mean of its ``parts`` part items, each reweighted by ``alpha = sigmoid(Conv1d_1x1(items))``
    (the 1x1 ``Conv1d`` mixes the parts of one prototype, as in the code); every semantic
    prototype is the same reweighted mean of its ``prototypes`` instance prototypes. The instance
    memory is read with ``y_part`` as query and the semantic memory with ``y_ins`` (Eq. 4).

    ``layout="paper"`` groups *consecutive item rows* into one prototype (Eq. 3's index ranges).
    The released code reshapes the ``100 x 3`` item matrix as ``20 x 3 x 5`` (not ``20 x 5 x 3``),
    which mixes colour channels of different items into one "part"; ``layout="official"``
    reproduces that. The parameter count is the same.

    Args:
        channels: item dimension ``C`` (image channels).
        classes, prototypes, parts: ``N_c``, the instance prototypes per class and the parts per
            instance prototype (10, 2, 5 in the code).
        levels: 1 = part only, 2 = part + instance, 3 = all (the reweighting layers of unused
            levels are not created, so their parameters do not count).
        similarity: ``"cosine"`` (Eq. 1) or ``"dot"`` (code).
        shrink_threshold: hard-shrinkage threshold (0.0025 in the code).
        layout: ``"paper"`` or ``"official"`` grouping of part items into instances.
    """

    def __init__(
        self,
        channels: int = 3,
        classes: int = 10,
        prototypes: int = 2,
        parts: int = 5,
        levels: int = 3,
        similarity: Similarity = "cosine",
        shrink_threshold: float = 0.0025,
        layout: MemoryLayout = "paper",
    ) -> None:
        super().__init__()
        if levels not in (1, 2, 3):
            raise ValueError(f"levels must be 1, 2 or 3, got {levels}")
        if similarity not in ("cosine", "dot"):
            raise ValueError(f"unknown similarity {similarity!r}")
        if layout not in ("paper", "official"):
            raise ValueError(f"unknown layout {layout!r}")
        self.channels, self.classes, self.prototypes, self.parts = (
            channels,
            classes,
            prototypes,
            parts,
        )
        self.levels = levels
        self.similarity = similarity
        self.shrink_threshold = shrink_threshold
        self.layout = layout
        n_items = classes * prototypes * parts
        bound = channels**-0.5  # the code's uniform(-1/sqrt(C), 1/sqrt(C)) initialisation
        self.items = nn.Parameter(torch.empty(n_items, channels).uniform_(-bound, bound))
        self.part_reweight = nn.Conv1d(parts, parts, 1) if levels >= 2 else None
        self.instance_reweight = nn.Conv1d(prototypes, prototypes, 1) if levels >= 3 else None

    # -- prototypes (Eq. 3) -----------------------------------------------------------------
    def instance_prototypes(self) -> Tensor:
        """``M_ins``: ``classes * prototypes`` rows, reweighted means of ``parts`` part items."""
        if self.part_reweight is None:
            raise RuntimeError("the instance level is not built (levels < 2)")
        groups = self.classes * self.prototypes
        if self.layout == "paper":
            grouped = self.items.view(groups, self.parts, self.channels)
        else:  # released code: view(groups, C, parts) then swap -> channels of items mixed
            grouped = self.items.view(groups, self.channels, self.parts).transpose(1, 2)
        alpha = torch.sigmoid(self.part_reweight(grouped))
        return (alpha * grouped).mean(dim=1)

    def semantic_prototypes(self, instance: Tensor | None = None) -> Tensor:
        """``M_sem``: ``classes`` rows, reweighted means of each class's instance prototypes."""
        if self.instance_reweight is None:
            raise RuntimeError("the semantic level is not built (levels < 3)")
        ins = self.instance_prototypes() if instance is None else instance
        grouped = ins.view(self.classes, self.prototypes, self.channels)
        beta = torch.sigmoid(self.instance_reweight(grouped))
        return (beta * grouped).mean(dim=1)

    # -- reading (Eqs. 1-2) -----------------------------------------------------------------
    def addressing(self, query: Tensor, memory: Tensor) -> Tensor:
        """Weights ``w_ij`` of rows ``query [P, C]`` over ``memory [M, C]`` (Eq. 1 + shrinkage)."""
        if self.similarity == "cosine":
            logits = F.normalize(query, dim=1) @ F.normalize(memory, dim=1).t()
        else:
            logits = query @ memory.t()
        w = torch.softmax(logits, dim=1)
        if self.shrink_threshold > 0:
            w = hard_shrink_relu(w, self.shrink_threshold)
            w = F.normalize(w, p=1, dim=1)
        return w

    def read(self, query: Tensor, memory: Tensor) -> Tensor:
        """``y = sum_j w_j m_j`` for every pixel of ``query [N, C, H, W]`` (Eq. 2, per pixel)."""
        n, c, h, w = query.shape
        flat = query.permute(0, 2, 3, 1).reshape(-1, c)
        out = self.addressing(flat, memory) @ memory
        return out.view(n, h, w, c).permute(0, 3, 1, 2)

    def forward(self, x: Tensor) -> MemoryReadout:
        """Eq. 4: ``y_part = Mem(x, M_part)``, ``y_ins = Mem(y_part, M_ins)``,
        ``y_sem = Mem(y_ins, M_sem)``."""
        part = self.read(x, self.items)
        instance = semantic = None
        if self.levels >= 2:
            m_ins = self.instance_prototypes()
            instance = self.read(part, m_ins)
            if self.levels >= 3:
                semantic = self.read(instance, self.semantic_prototypes(m_ins))
        return MemoryReadout(part, instance, semantic)


# ============================================================================================
# MPRNet backbone (Zamir et al. 2021), sizes as in the MemoryNet release
# ============================================================================================
def conv(c_in: int, c_out: int, kernel_size: int, bias: bool = False, stride: int = 1) -> nn.Conv2d:
    """Same-size convolution (padding ``k // 2``)."""
    return nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=bias, stride=stride)


class CALayer(nn.Module):
    """Channel attention: ``x * sigmoid(W2 relu(W1 avgpool(x)))`` (squeeze-excite, 1x1 convs)."""

    def __init__(self, channels: int, reduction: int = 16, bias: bool = False) -> None:
        super().__init__()
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1, bias=bias),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // reduction, channels, 1, bias=bias),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.conv_du(F.adaptive_avg_pool2d(x, 1))


class CAB(nn.Module):
    """Channel attention block: ``x + CA(conv(act(conv(x))))`` (MPRNet Fig. 2)."""

    def __init__(
        self, channels: int, kernel_size: int, reduction: int, bias: bool, act: nn.Module
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(channels, channels, kernel_size, bias=bias),
            act,
            conv(channels, channels, kernel_size, bias=bias),
        )
        self.CA = CALayer(channels, reduction, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.CA(self.body(x)) + x


class SAM(nn.Module):
    """Supervised attention module between stages (MPRNet Sec. 3.3, Fig. 4).

    Returns the attention-refined features for the next stage and the stage's restored image
    ``conv2(x) + x_img`` (the image the stage's loss supervises).
    """

    def __init__(self, channels: int, kernel_size: int, bias: bool, out_channels: int = 3) -> None:
        super().__init__()
        self.conv1 = conv(channels, channels, kernel_size, bias=bias)
        self.conv2 = conv(channels, out_channels, kernel_size, bias=bias)
        self.conv3 = conv(out_channels, channels, kernel_size, bias=bias)

    def forward(self, x: Tensor, x_img: Tensor) -> tuple[Tensor, Tensor]:
        img = self.conv2(x) + x_img
        feats = self.conv1(x) * torch.sigmoid(self.conv3(img)) + x
        return feats, img


class DownSample(nn.Module):
    """Bilinear x0.5 then 1x1 conv ``c -> c + step``."""

    def __init__(self, channels: int, step: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels + step, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        return self.conv(x)


class UpSample(nn.Module):
    """Bilinear x2 then 1x1 conv ``c + step -> c``."""

    def __init__(self, channels: int, step: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels + step, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return self.conv(x)


class SkipUpSample(UpSample):
    """:class:`UpSample` plus the skip connection ``y``."""

    def forward(self, x: Tensor, y: Tensor) -> Tensor:  # type: ignore[override]
        return super().forward(x) + y


class Encoder(nn.Module):
    """Three-level U-Net encoder of two CABs per level (MPRNet Fig. 2, stages 1-2).

    With ``csff`` (stage 2) the stage-1 encoder and decoder features are added at every level
    through 1x1 convs (cross-stage feature fusion, MPRNet Sec. 3.4).
    """

    def __init__(
        self,
        n_feat: int,
        kernel_size: int,
        reduction: int,
        act: nn.Module,
        bias: bool,
        step: int,
        csff: bool,
    ) -> None:
        super().__init__()
        widths = [n_feat, n_feat + step, n_feat + 2 * step]

        def level(c: int) -> nn.Sequential:
            return nn.Sequential(*[CAB(c, kernel_size, reduction, bias, act) for _ in range(2)])

        self.encoder_level1, self.encoder_level2, self.encoder_level3 = (level(c) for c in widths)
        self.down12 = DownSample(widths[0], step)
        self.down23 = DownSample(widths[1], step)
        self.csff = csff
        if csff:
            self.csff_enc = nn.ModuleList(nn.Conv2d(c, c, 1, bias=bias) for c in widths)
            self.csff_dec = nn.ModuleList(nn.Conv2d(c, c, 1, bias=bias) for c in widths)

    def forward(
        self,
        x: Tensor,
        encoder_outs: list[Tensor] | None = None,
        decoder_outs: list[Tensor] | None = None,
    ) -> list[Tensor]:
        fuse = self.csff and encoder_outs is not None and decoder_outs is not None
        outs = []
        for i, lvl in enumerate((self.encoder_level1, self.encoder_level2, self.encoder_level3)):
            if i == 1:
                x = self.down12(x)
            elif i == 2:
                x = self.down23(x)
            x = lvl(x)
            if fuse:
                x = x + self.csff_enc[i](encoder_outs[i]) + self.csff_dec[i](decoder_outs[i])
            outs.append(x)
        return outs


class Decoder(nn.Module):
    """Three-level U-Net decoder with CAB-filtered skips (MPRNet Fig. 2)."""

    def __init__(
        self, n_feat: int, kernel_size: int, reduction: int, act: nn.Module, bias: bool, step: int
    ) -> None:
        super().__init__()
        widths = [n_feat, n_feat + step, n_feat + 2 * step]

        def level(c: int) -> nn.Sequential:
            return nn.Sequential(*[CAB(c, kernel_size, reduction, bias, act) for _ in range(2)])

        self.decoder_level1, self.decoder_level2, self.decoder_level3 = (level(c) for c in widths)
        self.skip_attn1 = CAB(widths[0], kernel_size, reduction, bias, act)
        self.skip_attn2 = CAB(widths[1], kernel_size, reduction, bias, act)
        self.up21 = SkipUpSample(widths[0], step)
        self.up32 = SkipUpSample(widths[1], step)

    def forward(self, outs: list[Tensor]) -> list[Tensor]:
        enc1, enc2, enc3 = outs
        dec3 = self.decoder_level3(enc3)
        dec2 = self.decoder_level2(self.up32(dec3, self.skip_attn2(enc2)))
        dec1 = self.decoder_level1(self.up21(dec2, self.skip_attn1(enc1)))
        return [dec1, dec2, dec3]


class ORB(nn.Module):
    """Original-resolution block: ``x + conv(CAB^num_cab(x))`` (MPRNet Fig. 3)."""

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        reduction: int,
        act: nn.Module,
        bias: bool,
        num_cab: int,
    ) -> None:
        super().__init__()
        body: list[nn.Module] = [
            CAB(channels, kernel_size, reduction, bias, act) for _ in range(num_cab)
        ]
        body.append(conv(channels, channels, kernel_size, bias=False))
        self.body = nn.Sequential(*body)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + x


class ORSNet(nn.Module):
    """Original-resolution subnetwork of stage 3: three ORBs fed by the stage-2 U-Net features."""

    def __init__(
        self,
        n_feat: int,
        orsnet_step: int,
        kernel_size: int,
        reduction: int,
        act: nn.Module,
        bias: bool,
        unet_step: int,
        num_cab: int,
    ) -> None:
        super().__init__()
        c = n_feat + orsnet_step
        self.orb1, self.orb2, self.orb3 = (
            ORB(c, kernel_size, reduction, act, bias, num_cab) for _ in range(3)
        )
        self.up_enc1 = UpSample(n_feat, unet_step)
        self.up_dec1 = UpSample(n_feat, unet_step)
        self.up_enc2 = nn.Sequential(
            UpSample(n_feat + unet_step, unet_step), UpSample(n_feat, unet_step)
        )
        self.up_dec2 = nn.Sequential(
            UpSample(n_feat + unet_step, unet_step), UpSample(n_feat, unet_step)
        )
        self.conv_enc = nn.ModuleList(nn.Conv2d(n_feat, c, 1, bias=bias) for _ in range(3))
        self.conv_dec = nn.ModuleList(nn.Conv2d(n_feat, c, 1, bias=bias) for _ in range(3))

    def forward(self, x: Tensor, enc: list[Tensor], dec: list[Tensor]) -> Tensor:
        x = self.orb1(x)
        x = x + self.conv_enc[0](enc[0]) + self.conv_dec[0](dec[0])
        x = self.orb2(x)
        x = x + self.conv_enc[1](self.up_enc1(enc[1])) + self.conv_dec[1](self.up_dec1(dec[1]))
        x = self.orb3(x)
        x = x + self.conv_enc[2](self.up_enc2(enc[2])) + self.conv_dec[2](self.up_dec2(dec[2]))
        return x


def _pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Pad bottom/right to a multiple of ``multiple`` (reflect; replicate if the image is tiny)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


# ============================================================================================
# MemoryNet
# ============================================================================================
class MemoryNet(nn.Module):
    """MemoryNet: MPRNet whose stages read memory-augmented images (Sec. III, Fig. 2, Eq. 5).

    Data flow (released code; Eq. 5)::

        y_part, y_ins, y_sem = MemoryAugment(x)           # x never reaches the network itself
        stage 1: four quarter patches of y_part -> shallow conv + CAB -> U-Net (shared weights)
                 -> SAM with image residual y_ins  ->  X_1
        stage 2: two half patches of y_ins -> shallow + concat(SAM feats) -> U-Net (+CSFF)
                 -> SAM with image residual y_sem  ->  X_2
        stage 3: y_sem -> shallow + concat(SAM feats) -> ORSNet (+ stage-2 features) -> tail
                 ->  X_3 = tail + y_sem  (the final output)

    Every SAM adds its image to the *next* stage's input (as MPRNet does, where all three are the
    input image). ``memory_branches`` (Table IV, "three-/two-/single-branch" memory) says how many
    stages receive a memory read: stage ``s <= memory_branches`` reads granularity ``s`` (part,
    instance, semantic); the remaining stages get the raw input (``branch_fill="input"``, default)
    or the deepest memory read computed (``branch_fill="memory"``). ``memory=False`` is MPRNet.

    ``forward`` pads the input (reflect, bottom/right) to a multiple of 8 - the 2x2 patch split
    and the two U-Net downsamplings inside each patch need it - and crops the outputs back, so any
    ``H, W`` works.

    ``depth`` is the number of convolution layers (3x3 and 1x1, including the channel-attention
    convs) on the longest input-to-output path: ``119 + 12 * num_cab`` (215 for the released
    sizes; the three ORBs of stage 3 contribute ``3 * (4 * num_cab + 1)``). The memory adds no
    convolution on the image path (its ``Conv1d`` layers act on the memory items only).

    Args:
        in_channels, out_channels: image channels (3).
        n_feat, scale_unetfeats, scale_orsnetfeats, num_cab, kernel_size, reduction, bias:
            MPRNet sizes (40, 20, 16, 8, 3, 4, False in the MemoryNet release).
        memory: insert :class:`MemoryAugment` (``False`` = MPRNet baseline).
        memory_branches: 1, 2 or 3 stages fed by the memory (see above).
        branch_fill: input of the stages beyond ``memory_branches``.
        similarity, shrink_threshold, memory_layout: see :class:`MemoryAugment`.
        contrastive: add the contrastive term to :meth:`compute_loss`.
        contrastive_weight: its weight. The paper gives none; 0.1 is the weight of AECR-Net
            (ref. [52]), whose loss the paper describes.
        contrastive_blocks, contrastive_seed, contrastive_layer_weights: the feature space
            (:class:`reprolib.losses.RandomVGGFeatures`).
        recon: memory reconstruction term (Eq. 6): ``"memory"`` (default) - the memory reads of
            the clean target must reproduce it; ``"network"`` - the whole memory-augmented network
            applied to the clean target must reproduce it (a second forward pass); ``"off"`` -
            released code (no such term).
        recon_weight: weight of Eq. 6 (1 in Eq. 7).
        edge_weight: ``lambda`` of Eq. 7 (0.05, released code; the paper gives no value).
        charbonnier_eps: ``eps`` of Eqs. 8-9 (1e-3).
    """

    PAD_MULTIPLE = 8

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        n_feat: int = 40,
        scale_unetfeats: int = 20,
        scale_orsnetfeats: int = 16,
        num_cab: int = 8,
        kernel_size: int = 3,
        reduction: int = 4,
        bias: bool = False,
        memory: bool = True,
        memory_branches: int = 3,
        branch_fill: BranchFill = "input",
        similarity: Similarity = "cosine",
        shrink_threshold: float = 0.0025,
        memory_layout: MemoryLayout = "paper",
        memory_classes: int = 10,
        memory_prototypes: int = 2,
        memory_parts: int = 5,
        contrastive: bool = True,
        contrastive_weight: float = 0.1,
        contrastive_blocks: tuple[tuple[int, int], ...] = VGG19_BLOCKS,
        contrastive_layer_weights: tuple[float, ...] = AECR_LAYER_WEIGHTS,
        contrastive_seed: int = 0,
        recon: Recon = "memory",
        recon_weight: float = 1.0,
        edge_weight: float = 0.05,
        charbonnier_eps: float = 1e-3,
    ) -> None:
        super().__init__()
        if memory_branches not in (1, 2, 3):
            raise ValueError(f"memory_branches must be 1, 2 or 3, got {memory_branches}")
        if branch_fill not in ("input", "memory"):
            raise ValueError(f"unknown branch_fill {branch_fill!r}")
        if recon not in ("memory", "network", "off"):
            raise ValueError(f"unknown recon {recon!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_cab = num_cab
        self.memory_branches = memory_branches if memory else 0
        self.branch_fill = branch_fill
        self.recon = recon if memory else "off"
        self.recon_weight = recon_weight
        self.edge_weight = edge_weight
        self.charbonnier_eps = charbonnier_eps
        self.contrastive_weight = contrastive_weight

        self.memory: MemoryAugment | None = (
            MemoryAugment(
                in_channels,
                memory_classes,
                memory_prototypes,
                memory_parts,
                levels=memory_branches,
                similarity=similarity,
                shrink_threshold=shrink_threshold,
                layout=memory_layout,
            )
            if memory
            else None
        )

        act = nn.PReLU()  # one PReLU (one parameter) shared by the whole network, as released
        k, r = kernel_size, reduction

        def shallow() -> nn.Sequential:
            return nn.Sequential(conv(in_channels, n_feat, k, bias), CAB(n_feat, k, r, bias, act))

        self.shallow_feat1, self.shallow_feat2, self.shallow_feat3 = shallow(), shallow(), shallow()
        self.stage1_encoder = Encoder(n_feat, k, r, act, bias, scale_unetfeats, csff=False)
        self.stage1_decoder = Decoder(n_feat, k, r, act, bias, scale_unetfeats)
        self.stage2_encoder = Encoder(n_feat, k, r, act, bias, scale_unetfeats, csff=True)
        self.stage2_decoder = Decoder(n_feat, k, r, act, bias, scale_unetfeats)
        self.stage3_orsnet = ORSNet(
            n_feat, scale_orsnetfeats, k, r, act, bias, scale_unetfeats, num_cab
        )
        self.sam12 = SAM(n_feat, 1, bias, out_channels)
        self.sam23 = SAM(n_feat, 1, bias, out_channels)
        self.concat12 = conv(2 * n_feat, n_feat, k, bias)
        self.concat23 = conv(2 * n_feat, n_feat + scale_orsnetfeats, k, bias)
        self.tail = conv(n_feat + scale_orsnetfeats, out_channels, k, bias)

        self.contrastive: ContrastiveRegularization | None = (
            ContrastiveRegularization(
                contrastive_layer_weights, contrastive_blocks, contrastive_seed, out_channels
            )
            if contrastive
            else None
        )

    @property
    def depth(self) -> int:
        """Convolutions on the longest input-to-output path (see the class docstring)."""
        return 119 + 12 * self.num_cab

    # -- inputs of the three stages ------------------------------------------------------------
    def stage_inputs(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Images read by stages 1, 2, 3 (Eq. 5): memory reads or the raw input ``x``."""
        if self.memory is None:
            return x, x, x
        reads = [r for r in self.memory(x) if r is not None]
        fill = reads[-1] if self.branch_fill == "memory" else x
        s = [reads[i] if i < len(reads) else fill for i in range(3)]
        return s[0], s[1], s[2]

    def first_layer_features(self, x: Tensor) -> dict[str, Tensor]:
        """Feature maps of the first convolution for Fig. 7 (without / with memory augment).

        ``"input"``: stage 1's first conv applied to the raw image; ``"memory"`` (only with a
        memory): the same conv applied to the memory-augmented image ``y_part`` that the
        network actually sees. Shapes ``[N, n_feat, H, W]``.
        """
        first = self.shallow_feat1[0]
        out = {"input": first(x)}
        if self.memory is not None:
            out["memory"] = first(self.memory(x).part)
        return out

    # -- forward -------------------------------------------------------------------------------
    def forward_stages(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Restored images of stages 1, 2, 3 (stage 3 is the final output), shaped like ``x``."""
        h, w = x.shape[-2:]
        x = _pad_to_multiple(x, self.PAD_MULTIPLE)
        outs = self._stages(*self.stage_inputs(x))
        return outs[0][..., :h, :w], outs[1][..., :h, :w], outs[2][..., :h, :w]

    def forward(self, x: Tensor) -> Tensor:
        """Final restored image (stage 3), same shape as ``x``."""
        return self.forward_stages(x)[2]

    def _stages(self, img1: Tensor, img2: Tensor, img3: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        H, W = img1.shape[-2:]
        h2, w2 = H // 2, W // 2
        # Multi-patch hierarchy: stage 2 halves of img2, stage 1 quarters of img1.
        x2top, x2bot = img2[..., :h2, :], img2[..., h2:, :]
        x1top, x1bot = img1[..., :h2, :], img1[..., h2:, :]
        quarters = [x1top[..., :w2], x1top[..., w2:], x1bot[..., :w2], x1bot[..., w2:]]

        # ---- stage 1: encoder on the four quarters, decoder on the two halves
        feats = [self.stage1_encoder(self.shallow_feat1(q)) for q in quarters]
        feat1_top = [torch.cat(kv, 3) for kv in zip(feats[0], feats[1])]
        feat1_bot = [torch.cat(kv, 3) for kv in zip(feats[2], feats[3])]
        res1_top = self.stage1_decoder(feat1_top)
        res1_bot = self.stage1_decoder(feat1_bot)
        sam_top, img1_top = self.sam12(res1_top[0], x2top)
        sam_bot, img1_bot = self.sam12(res1_bot[0], x2bot)
        stage1_img = torch.cat([img1_top, img1_bot], 2)

        # ---- stage 2: encoder on the two halves with CSFF, decoder on the whole image
        top = self.concat12(torch.cat([self.shallow_feat2(x2top), sam_top], 1))
        bot = self.concat12(torch.cat([self.shallow_feat2(x2bot), sam_bot], 1))
        feat2_top = self.stage2_encoder(top, feat1_top, res1_top)
        feat2_bot = self.stage2_encoder(bot, feat1_bot, res1_bot)
        feat2 = [torch.cat(kv, 2) for kv in zip(feat2_top, feat2_bot)]
        res2 = self.stage2_decoder(feat2)
        sam3, stage2_img = self.sam23(res2[0], img3)

        # ---- stage 3: original-resolution subnetwork
        x3 = self.concat23(torch.cat([self.shallow_feat3(img3), sam3], 1))
        x3 = self.stage3_orsnet(x3, feat2, res2)
        stage3_img = self.tail(x3) + img3
        return stage1_img, stage2_img, stage3_img

    # -- objective -----------------------------------------------------------------------------
    def compute_loss(self, inp: Tensor, target: Tensor) -> Tensor:
        """The paper's objective for this variant.

        ``L = sum_S [Char(X_S, Y) + lambda Edge(X_S, Y)]`` (Eq. 7, Eqs. 8-9)
        ``+ recon_weight * l_recon`` (Eq. 6, memory variants with ``recon != "off"``)
        ``+ contrastive_weight * L_cl(X_3; Y, inp)`` (contrastive variants: the contrastive
        network sits "behind the residual network", Sec. IV-B, so it acts on the final output
        with the clean image as positive and the degraded input as negative).
        """
        stages = self.forward_stages(inp)
        loss = multi_stage_loss(stages, target, self.edge_weight, self.charbonnier_eps)
        if self.memory is not None and self.recon != "off":
            if self.recon == "memory":
                reads = [r for r in self.memory(target)[: self.memory_branches] if r is not None]
                loss = loss + self.recon_weight * memory_reconstruction_loss(reads, target)
            else:
                loss = loss + self.recon_weight * memory_reconstruction_loss(
                    [self.forward(target)], target
                )
        if self.contrastive is not None:
            loss = loss + self.contrastive_weight * self.contrastive(stages[2], target, inp)
        return loss


# ============================================================================================
# Registered variants (Table IV and the branch ablation of Sec. IV-B)
# ============================================================================================
def _build(defaults: dict, kwargs: dict) -> MemoryNet:
    return MemoryNet(**{**defaults, **kwargs})


@register("memorynet")
def memorynet(**kwargs) -> MemoryNet:
    """Full MemoryNet: three-branch memory + Eq. 6 reconstruction + contrastive term."""
    return _build({}, kwargs)


@register("memorynet_nocl")
def memorynet_nocl(**kwargs) -> MemoryNet:
    """Table IV "Added memory": memory, no contrastive term."""
    return _build({"contrastive": False}, kwargs)


@register("memorynet_nomem")
def memorynet_nomem(**kwargs) -> MemoryNet:
    """Table IV "Added contrastive learning": MPRNet + contrastive term, no memory."""
    return _build({"memory": False}, kwargs)


@register("memorynet_1branch")
def memorynet_1branch(**kwargs) -> MemoryNet:
    """Branch ablation (Sec. IV-B): memory (part level) feeds stage 1 only."""
    return _build({"memory_branches": 1}, kwargs)


@register("memorynet_2branch")
def memorynet_2branch(**kwargs) -> MemoryNet:
    """Branch ablation (Sec. IV-B): part level feeds stage 1, instance level stage 2."""
    return _build({"memory_branches": 2}, kwargs)


@register("mprnet")
def mprnet(**kwargs) -> MemoryNet:
    """Table IV "Baseline": the MPRNet backbone with its own loss (no memory, no contrastive)."""
    return _build({"memory": False, "contrastive": False}, kwargs)
