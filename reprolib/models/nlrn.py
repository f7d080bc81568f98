"""NLRN (Liu, Wen, Fan, Loy, Huang, "Non-Local Recurrent Network for Image Restoration",
NeurIPS 2018).

The network (Sec. 4, Eq. 7, Fig. 2):

* ``s^0 = conv3x3(BN(I))``: the input image through batch normalisation and one 3x3 conv to
  ``C = 128`` feature maps (no ReLU: the released code's choice; see ``input_relu``).
* ``T`` recurrent steps ``s^t = f_recurrent(s^{t-1}, s^0)`` with the weights of the non-local
  module and the two convs shared across steps (``tied=True``) and the batch norms not shared
  (the released code): ``BN-ReLU -> non-local module -> BN-ReLU -> conv3x3 -> BN-ReLU -> conv3x3``
  ``+ s^0`` (the identity path from the first state).
* ``I_hat = conv3x3(ReLU(BN(s^T)))`` is the residual image; the forward returns ``I + I_hat``
  (the loss of Sec. 4 is ``1/2 ||I_hat + I - I_tilde||^2``).

"Batch normalization and ReLU activation function are performed ahead of each convolutional
layer" (Sec. 4) gives the ReLU before the first conv of a step; the released code has none there
(``relu_before_first_conv=False``).

The non-local module (:class:`NonLocalModule`, Sec. 3.3, Eqs. 4-6, Figs. 1, 3) computes
``Z_i = X_i + sum_{j in S_i} softmax_j(theta(X_i) psi(X_j)^T + s_corr,i^{t-1}) g(X_j)`` over the
``q x q`` neighbourhood ``S_i`` (q = 45, Sec. 5.1, Fig. 5) with 1x1 convs ``theta, psi: C -> l``
(``l = 64``) and ``g: C -> C`` (zero-initialised, Sec. 3.3), no output projection. The pre-softmax
logits ``s_corr^t`` are carried to the next step and added (correlation propagation, Sec. 4).
Eq. 6 writes ``X_i W_g`` inside the sum; Eqs. 1-2 and Fig. 3 make it ``X_j W_g``, implemented.
Table 1's six metrics are the ``distance`` keyword. The attention itself
(:mod:`reprolib.models.attention`) is exact per pixel, with circular padding at the borders
(Sec. 5, "Training Settings").

Sizes with ``C=128, l=64, T=12`` and one image channel: 329,984 conv weights (Table 3's "330k"),
330,625 with biases, 340,099 with BN scale/shift. Max effective depth, the number of layers on
the longest path with the non-local module as one layer: ``1 + 3T + 1 = 38`` (Table 3).

Table 2's variants: ``tied=False`` (untied weights, one set per step), ``nonlocal_every=k``
(non-local module at steps 1, 1+k, 1+2k, ...; the other steps are plain residual conv steps and
the correlation state jumps the gap), ``nonlocal_every=0`` with ``rnn_fill="mlp1x1"`` (the
"RNN with same parameter no."; see :class:`LocalMLP`), ``propagate_correlation=False``.

Where paper and released code differ, the paper is the default; :data:`OFFICIAL_CODE_OPTIONS`
switches the architecture to the code (whole-patch attention on overlapping 45x45 patches, no ReLU
before the first conv of a step). All differences: ``reprolib/differences/nlrn.yaml``.

Inference on CPU: the forward turns on denormal flushing (``torch.set_flush_denormal(True)``,
process-wide) when it runs on CPU under ``torch.no_grad()`` (``flush_denormal=True``), because
softmax denormals slow CPU inference several times over.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprolib.models.attention import (
    Padding,
    flush_denormals,
    neighbourhood_attention,
    normalise_logits,
    pixel_window_validity,
)
from reprolib.models.registry import register

__all__ = [
    "DISTANCES",
    "OFFICIAL_CODE_OPTIONS",
    "NLRN",
    "LocalMLP",
    "NonLocalModule",
    "RecurrentCell",
]

Distance = Literal[
    "euclidean",
    "dot_product",
    "embedded_dot_product",
    "gaussian",
    "symmetric_embedded_gaussian",
    "embedded_gaussian",
]

#: Table 1: metric -> (embedding, score, normalisation). "embedding": which 1x1 convs give the
#: query/key (theta/psi, theta for both, or none: the features X themselves).
DISTANCES: dict[str, tuple[str, str, str]] = {
    "euclidean": ("none", "neg_sq_dist", "softmax"),  # exp{-||X_i - X_j||^2 / h^2}
    "dot_product": ("none", "dot", "mean"),  # X_i X_j^T
    "embedded_dot_product": ("theta_psi", "dot", "mean"),  # theta(X_i) psi(X_j)^T
    "gaussian": ("none", "dot", "softmax"),  # exp{X_i X_j^T}
    "symmetric_embedded_gaussian": ("theta", "dot", "softmax"),  # exp{theta(X_i) theta(X_j)^T}
    "embedded_gaussian": ("theta_psi", "dot", "softmax"),  # exp{theta(X_i) psi(X_j)^T}
}

#: Keywords that switch the paper/code differences of the architecture to the released code:
#: whole-patch attention, applied at test time on overlapping 45x45 patches (stride 7), and no
#: ReLU before the first conv of a recurrent step.
OFFICIAL_CODE_OPTIONS: dict[str, object] = {
    "q": None,
    "patchwise": True,
    "relu_before_first_conv": False,
}


def _conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Conv2d:
    """Stride-1 conv, zero 'same' padding (Sec. 5: "we pad the boundaries ... with zeros")."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=True)


class NonLocalModule(nn.Module):
    """The non-local module with skip connection (Sec. 3.3, Eq. 6, Figs. 1 and 3).

    ``forward(x, prev_logits)`` returns ``(x + Z, logits)``; ``Z`` is the attention-weighted sum
    of ``g(x)`` over each pixel's ``q x q`` window and ``logits`` the ``[N, K, H, W]``
    pre-normalisation correlations (``s_corr^t``, with ``prev_logits`` already added).

    ``distance`` picks one of Table 1's metrics (:data:`DISTANCES`). Metrics without an
    embedding compare the module input ``X`` itself; ``euclidean`` uses ``h`` (not given in the
    paper; default 1, like the unscaled Gaussian). The dot-product metrics are divided by the
    number of window positions (Wang et al. [41]) because their sum can vanish.
    """

    def __init__(
        self,
        channels: int = 128,
        embed: int = 64,
        q: int | None = 45,
        distance: Distance = "embedded_gaussian",
        padding: Padding = "circular",
        h: float = 1.0,
        zero_init_g: bool = True,
        attention_impl: str = "auto",
        tile: int = 16,
    ) -> None:
        super().__init__()
        if distance not in DISTANCES:
            raise ValueError(f"unknown distance {distance!r}; expected one of {list(DISTANCES)}")
        if q is not None and (q < 1 or q % 2 == 0):
            raise ValueError(f"q must be a positive odd integer or None, got {q}")
        self.q, self.distance, self.padding = q, distance, padding
        self.embedding, self.score, self.normalization = DISTANCES[distance]
        self.scale = 1.0 / (h * h) if self.score == "neg_sq_dist" else 1.0
        self.attention_impl, self.tile = attention_impl, tile
        self.zero_init_g = zero_init_g
        self.theta = _conv(channels, embed, 1) if self.embedding != "none" else None
        self.psi = _conv(channels, embed, 1) if self.embedding == "theta_psi" else None
        self.g = _conv(channels, channels, 1)

    def reset_g(self) -> None:
        """Zero ``W_g`` (and its bias): the module starts as the identity (Sec. 3.3)."""
        nn.init.zeros_(self.g.weight)
        nn.init.zeros_(self.g.bias)

    def query_key(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Query and key maps of Table 1's metric: theta/psi(X), theta/theta(X) or X/X."""
        if self.theta is None:
            return x, x
        qm = self.theta(x)
        return qm, (self.psi(x) if self.psi is not None else qm)

    def forward(
        self,
        x: Tensor,
        prev_logits: Tensor | None = None,
        return_logits: bool = True,
        inplace: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        qm, km = self.query_key(x)
        z, logits = neighbourhood_attention(
            qm,
            km,
            self.g(x),
            self.q,
            score=self.score,
            scale=self.scale,
            normalization=self.normalization,
            padding=self.padding,
            prev_logits=prev_logits,
            impl=self.attention_impl,
            tile=self.tile,
            return_logits=return_logits,
            inplace=inplace,
        )
        return x + z, logits

    def pixel_weights(self, logits: Tensor, height: int, width: int, y: int, x: int) -> Tensor:
        """Attention weights of pixel ``(y, x)`` from its ``[..., K]`` logits (Fig. 4)."""
        valid = pixel_window_validity(self.q, height, width, y, x, self.padding)
        if valid is not None:
            valid = valid.to(logits.device)
        return normalise_logits(logits, valid, self.normalization)


class LocalMLP(nn.Module):
    """Stand-in for the non-local module in the "RNN with same parameter no." (Table 2).

    ``x + W_2 ReLU(W_1 x)`` with two 1x1 convs ``C -> C`` (``W_2`` zero-initialised like ``W_g``):
    ``2 C^2`` weights and ``2 C`` biases, exactly the ``C l + C l + C^2`` weights and
    ``2 l + C`` biases of theta, psi and g when ``l = C/2``, so the RNN has NLRN's parameter
    count to the unit (BN included). It has no non-local interaction: each pixel on its own.
    The paper does not say how its baseline kept the count; this choice keeps the layout of a
    step and adds one layer per step to the depth (``1 + 4T + 1``).
    """

    def __init__(self, channels: int = 128) -> None:
        super().__init__()
        self.fc1 = _conv(channels, channels, 1)
        self.fc2 = _conv(channels, channels, 1)

    def reset_g(self) -> None:
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fc2(F.relu(self.fc1(x)))


class RecurrentCell(nn.Module):
    """The weights of ``f_recurrent`` (Fig. 2): non-local module (or stand-in) and two convs.

    Shared by all steps when weights are tied; the batch norms live in :class:`StepNorms`.
    """

    def __init__(
        self,
        channels: int,
        nonlocal_module: NonLocalModule | None,
        fill: LocalMLP | None,
    ) -> None:
        super().__init__()
        self.nonlocal_module = nonlocal_module
        self.fill = fill
        self.conv1 = _conv(channels, channels, 3)
        self.conv2 = _conv(channels, channels, 3)


class StepNorms(nn.Module):
    """The per-step (unshared) batch norms: before the non-local module, conv1 and conv2."""

    def __init__(self, channels: int, pre: bool) -> None:
        super().__init__()
        self.bn_pre = nn.BatchNorm2d(channels) if pre else None
        self.bn1 = nn.BatchNorm2d(channels)
        self.bn2 = nn.BatchNorm2d(channels)


class NLRN(nn.Module):
    """Non-local recurrent network (module docstring). ``forward(x) -> x + residual``.

    Args:
        in_channels: image channels (1: grey / luminance).
        channels, embed: ``m = 128`` feature maps, ``l = 64`` embedding (Sec. 3.3).
        steps: unrolling length ``T`` (12, Sec. 5.1, Fig. 6).
        q: neighbourhood size (odd; 45, Fig. 5), ``None`` for the whole input.
        distance: Table 1 metric (default embedded Gaussian).
        propagate_correlation: add the previous non-local step's logits (Sec. 4, Table 2).
        tied: share the non-local and conv weights over the steps (Table 2: untied variant).
        nonlocal_every: non-local module at steps ``1, 1+k, ...``; ``0``: none (Table 2).
        rnn_fill: ``"mlp1x1"`` puts :class:`LocalMLP` where the non-local module was
            (only with ``nonlocal_every=0``), ``"none"`` leaves the slot empty.
        padding: border handling of the neighbourhood, ``"circular"`` (paper), ``"zero"``
            (newer code), ``"mask"``.
        relu_before_first_conv: BN-ReLU (paper) or BN only (code) before a step's first conv.
        input_relu: BN-ReLU instead of BN before the first conv (a literal reading of "BN and
            ReLU ahead of each convolutional layer"; the code and default use BN only).
        zero_init_g: ``W_g = 0`` at initialisation (Sec. 3.3, code); else Xavier like the rest.
        init: ``"xavier"`` (Sec. 5, uniform Glorot) or ``"kaiming"``; biases start at zero.
        euclid_h: ``h`` of the Euclidean metric.
        attention_impl, tile: see :func:`reprolib.models.attention.neighbourhood_attention`.
        patchwise, patch_size, patch_stride, patch_batch: in eval mode, restore inputs larger
            than ``patch_size`` as overlapping patches (stride ``patch_stride``, last patch flush
            with the border) whose outputs are averaged (the released test code).
        flush_denormal: call ``torch.set_flush_denormal(True)`` in CPU inference.
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: int = 128,
        embed: int = 64,
        steps: int = 12,
        q: int | None = 45,
        distance: Distance = "embedded_gaussian",
        propagate_correlation: bool = True,
        tied: bool = True,
        nonlocal_every: int = 1,
        rnn_fill: Literal["none", "mlp1x1"] = "none",
        padding: Padding = "circular",
        relu_before_first_conv: bool = True,
        input_relu: bool = False,
        zero_init_g: bool = True,
        init: Literal["xavier", "kaiming"] = "xavier",
        euclid_h: float = 1.0,
        attention_impl: str = "auto",
        tile: int = 16,
        patchwise: bool = False,
        patch_size: int = 45,
        patch_stride: int = 7,
        patch_batch: int = 32,
        flush_denormal: bool = True,
    ) -> None:
        super().__init__()
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if nonlocal_every < 0:
            raise ValueError(f"nonlocal_every must be >= 0, got {nonlocal_every}")
        if rnn_fill not in ("none", "mlp1x1"):
            raise ValueError(f"rnn_fill must be 'none' or 'mlp1x1', got {rnn_fill!r}")
        if rnn_fill != "none" and nonlocal_every != 0:
            raise ValueError("rnn_fill replaces the non-local module: use it with nonlocal_every=0")
        self.steps, self.tied = steps, tied
        self.propagate_correlation = propagate_correlation
        self.nonlocal_every, self.rnn_fill = nonlocal_every, rnn_fill
        self.relu_before_first_conv, self.input_relu = relu_before_first_conv, input_relu
        self.patchwise, self.patch_size = patchwise, patch_size
        self.patch_stride, self.patch_batch = patch_stride, patch_batch
        self.flush_denormal = flush_denormal
        self.q, self.padding = q, padding

        #: which steps (0-based) hold the non-local module
        self.nonlocal_steps: list[bool] = [
            nonlocal_every > 0 and t % nonlocal_every == 0 for t in range(steps)
        ]
        has_fill = rnn_fill == "mlp1x1"

        def make_cell() -> RecurrentCell:
            nl = None
            if any(self.nonlocal_steps):
                nl = NonLocalModule(
                    channels,
                    embed,
                    q,
                    distance,
                    padding,
                    euclid_h,
                    zero_init_g,
                    attention_impl,
                    tile,
                )
            return RecurrentCell(channels, nl, LocalMLP(channels) if has_fill else None)

        self.bn_in = nn.BatchNorm2d(in_channels)
        self.conv_in = _conv(in_channels, channels, 3)
        self.cells = nn.ModuleList([make_cell() for _ in range(1 if tied else steps)])
        self.norms = nn.ModuleList(
            [StepNorms(channels, pre=self.nonlocal_steps[t] or has_fill) for t in range(steps)]
        )
        self.bn_out = nn.BatchNorm2d(channels)
        self.conv_out = _conv(channels, in_channels, 3)

        per_step = [2 + int(nl) + 2 * int(has_fill) for nl in self.nonlocal_steps]
        #: max effective depth, conv layers on the longest path (non-local module = 1; Table 3)
        self.depth = 1 + sum(per_step) + 1
        self.reset_parameters(init, zero_init_g)

    def reset_parameters(self, init: str = "xavier", zero_init_g: bool = True) -> None:
        """Xavier (Glorot uniform) weights and zero biases (Sec. 5); ``W_g = 0`` (Sec. 3.3)."""
        if init not in ("xavier", "kaiming"):
            raise ValueError(f"init must be 'xavier' or 'kaiming', got {init!r}")
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if init == "xavier":
                    nn.init.xavier_uniform_(m.weight)
                else:
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_g:
            for m in self.modules():
                if isinstance(m, (NonLocalModule, LocalMLP)):
                    m.reset_g()

    def cell(self, t: int) -> RecurrentCell:
        """The weights used at step ``t`` (0-based)."""
        return self.cells[0 if self.tied else t]

    def _features(
        self, x: Tensor, record_pixel: tuple[int, int] | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """``s^T`` and, if ``record_pixel``, that pixel's logits ``[N, K]`` at each NL step."""
        a_in = self.bn_in(x)
        s0 = self.conv_in(F.relu(a_in) if self.input_relu else a_in)
        s, logits = s0, None
        inplace = not torch.is_grad_enabled()
        records: list[Tensor] = []
        for t in range(self.steps):
            cell, norms = self.cell(t), self.norms[t]
            if self.nonlocal_steps[t]:
                prev = logits if self.propagate_correlation else None
                need = self.propagate_correlation or record_pixel is not None
                a, new = cell.nonlocal_module(
                    F.relu(norms.bn_pre(s)),
                    prev_logits=prev,
                    return_logits=need,
                    inplace=inplace and prev is not None,
                )
                if self.propagate_correlation:
                    logits = new
                if record_pixel is not None:
                    records.append(new[:, :, record_pixel[0], record_pixel[1]].clone())
            elif cell.fill is not None:
                a = cell.fill(F.relu(norms.bn_pre(s)))
            else:
                a = s
            b = norms.bn1(a)
            b = cell.conv1(F.relu(b) if self.relu_before_first_conv else b)
            s = cell.conv2(F.relu(norms.bn2(b))) + s0
        return s, records

    def residual(self, x: Tensor) -> Tensor:
        """``I_hat = f_output(s^T)``, the predicted residual image (Sec. 4)."""
        s, _ = self._features(x)
        return self.conv_out(F.relu(self.bn_out(s)))

    def forward(self, x: Tensor) -> Tensor:
        if self.flush_denormal and x.device.type == "cpu" and not torch.is_grad_enabled():
            flush_denormals()
        _, _, h, w = x.shape
        if self.patchwise and not self.training and (h > self.patch_size or w > self.patch_size):
            return self._forward_patchwise(x)
        return x + self.residual(x)

    @staticmethod
    def _positions(size: int, patch: int, stride: int) -> list[int]:
        if size <= patch:
            return [0]
        pos = list(range(0, size - patch + 1, stride))
        if pos[-1] != size - patch:
            pos.append(size - patch)
        return pos

    def _forward_patchwise(self, x: Tensor) -> Tensor:
        """The released test code: overlapping patches, outputs averaged (eval mode only)."""
        n, c, h, w = x.shape
        p = self.patch_size
        ph, pw = min(p, h), min(p, w)
        boxes = [
            (y, xx)
            for y in self._positions(h, p, self.patch_stride)
            for xx in self._positions(w, p, self.patch_stride)
        ]
        acc = torch.zeros_like(x)
        count = x.new_zeros(1, 1, h, w)
        for i in range(0, len(boxes), max(1, self.patch_batch)):
            chunk = boxes[i : i + self.patch_batch]
            batch = torch.cat([x[:, :, y : y + ph, xx : xx + pw] for y, xx in chunk], 0)
            out = batch + self.residual(batch)
            for k, (y, xx) in enumerate(chunk):
                acc[:, :, y : y + ph, xx : xx + pw] += out[k * n : (k + 1) * n]
                count[:, :, y : y + ph, xx : xx + pw] += 1
        return acc / count

    @torch.no_grad()
    def correlation_maps(self, x: Tensor, pixel: tuple[int, int], index: int = 0) -> Tensor:
        """Attention weights of ``pixel = (y, x)`` at every non-local step (Fig. 4).

        Runs the whole input (no patchwise splitting) in the current train/eval mode and returns
        ``[S, q, q]`` for the ``S`` steps with a non-local module (window centred on the pixel,
        rows = dy from -r to r), or ``[S, H, W]`` when ``q`` is ``None``. With circular padding
        a window larger than the image shows wrapped (repeated) pixels, each with its weight.
        """
        if not any(self.nonlocal_steps):
            raise ValueError("this model has no non-local module")
        _, _, h, w = x.shape
        y, xx = pixel
        if not (0 <= y < h and 0 <= xx < w):
            raise ValueError(f"pixel {pixel} outside the {h}x{w} input")
        _, records = self._features(x, record_pixel=(y, xx))
        nl = next(c.nonlocal_module for c in self.cells if c.nonlocal_module is not None)
        maps = [nl.pixel_weights(r[index], h, w, y, xx) for r in records]
        side = (h, w) if self.q is None else (self.q, self.q)
        return torch.stack(maps).reshape(len(maps), *side)


def _nlrn(**kwargs) -> NLRN:
    return NLRN(**kwargs)


@register("nlrn")
def nlrn(**kwargs) -> NLRN:
    """NLRN as in the paper: C=128, l=64, T=12, q=45, embedded Gaussian, propagation on."""
    return _nlrn(**kwargs)


@register("nlrn_untied")
def nlrn_untied(**kwargs) -> NLRN:
    """Table 2 "NLRN w/o parameter sharing": one set of weights per step."""
    return _nlrn(**{"tied": False, **kwargs})


@register("nlrn_rnn")
def nlrn_rnn(**kwargs) -> NLRN:
    """Table 2 "RNN with same parameter no.": no non-local module, :class:`LocalMLP` instead."""
    return _nlrn(**{"nonlocal_every": 0, "rnn_fill": "mlp1x1", **kwargs})


@register("nlrn_nl2")
def nlrn_nl2(**kwargs) -> NLRN:
    """Table 2 "Non-local module in every other state" (steps 1, 3, 5, ...)."""
    return _nlrn(**{"nonlocal_every": 2, **kwargs})


@register("nlrn_nl3")
def nlrn_nl3(**kwargs) -> NLRN:
    """Table 2 "Non-local module in every 3 states" (steps 1, 4, 7, ...)."""
    return _nlrn(**{"nonlocal_every": 3, **kwargs})
