"""MemNet (Tai, Yang, Liu, Xu, "MemNet: A Persistent Memory Network for Image Restoration",
ICCV 2017).

The network (Sec. 3, Figs. 2-3) is

* :class:`FENet`: one 3x3 convolution from the image to ``channels`` feature maps, ``B_0``
  (Eq. 1);
* ``M`` :class:`MemoryBlock` s, each a :class:`RecursiveUnit` (``R`` recursions of one pre-activated
  residual block whose two conv layers are shared across the recursions, Eqs. 5-7) followed by a
  :class:`GateUnit` (a pre-activated 1x1 conv over the concatenation of the long-term memory
  ``[B_0, ..., B_{m-1}]`` and the short-term memory ``[H_m^1, ..., H_m^R]``, Eqs. 8-10);
* :class:`ReconNet`: a pre-activated 3x3 conv back to the image channels, plus the input image
  (global residual, Eq. 3). The multi-supervised MemNet (Sec. 3.3, Fig. 3) sends every block's
  output through the *same* ReconNet (Eq. 11) and outputs ``y = sum_m w_m y_m`` with learned
  scalars ``w_m``; its objective is Eq. 12.

"Pre-activated" means BatchNorm then ReLU then conv (the ``tau`` of Eqs. 6 and 9, following the
pre-activation ResNet [13]). Depth, counting the conv layers on the longest path, is
``2 + M (2R + 1)`` (80 for M6R6, Table 6).

Where the paper and the authors' released Caffe code differ, the paper is the default and the
code's behaviour is a keyword (all listed in ``reprolib/differences/memnet.yaml``):

* ``input_bn_relu=True``: BN-ReLU applied to the input image before FENet's conv (code);
  the paper's FENet is a plain conv on the image (Sec. 3.1), as in the pre-activation ResNet.
* ``recon_bn_per_block``: one ReconNet conv shared by all blocks but a separate BN for each
  block (code). The one exception to "paper by default": the paper sends every block to "the same
  reconstruction net" (Sec. 3.3), but a BN shared by blocks with different feature statistics
  gives an eval-mode output unlike the trained one, so the code's choice is the default here
  (``False`` restores the wholly shared ReconNet).
* ``supervision="code"``: learned output weights initialised to 1 (a sum) and every one of the
  ``M + 1`` Euclidean losses with weight 1 (code); the paper averages (``w_m = 1/M`` at start) and
  weighs the losses with ``alpha = 1/(M+1)`` (Eq. 12, Sec. 5.1).

:data:`OFFICIAL_CODE_OPTIONS` gathers the three, e.g. ``build("memnet", **OFFICIAL_CODE_OPTIONS)``.

The gate input is ordered long-term first, then short-term (as the released code and Fig. 5,
whose first ``m * 64`` feature maps are the long-term memories); Eqs. 8 and 10 write the
opposite order, which only permutes the gate's input channels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reprolib.losses import euclidean_loss
from reprolib.models.registry import init_weights, register

__all__ = [
    "OFFICIAL_CODE_OPTIONS",
    "FENet",
    "GateUnit",
    "MemNet",
    "MemoryBlock",
    "ReconNet",
    "RecursiveUnit",
    "euclidean_loss",  # from reprolib.losses: the objective of Eqs. 4 and 12
]

#: Keywords that switch every paper/code difference of the architecture and loss to the code.
OFFICIAL_CODE_OPTIONS: dict[str, object] = {
    "input_bn_relu": True,
    "recon_bn_per_block": True,
    "supervision": "code",
}


def _conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Conv2d:
    """A stride-1 conv with 'same' zero padding (any H, W, odd included) and a bias."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=True)


def _bn_relu(channels: int) -> nn.Sequential:
    """The pre-activation ``tau`` of Eqs. 6 and 9: batch normalisation [16] followed by ReLU."""
    return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=False))


class FENet(nn.Module):
    """Feature extraction net (Eq. 1): ``B_0 = f_ext(x)``, one 3x3 conv ``C -> channels``.

    With ``input_bn_relu`` the image first goes through BN-ReLU, as in the released code, where
    every conv (this one included) is pre-activated.
    """

    def __init__(self, in_channels: int, channels: int, input_bn_relu: bool = False) -> None:
        super().__init__()
        self.act = _bn_relu(in_channels) if input_bn_relu else nn.Identity()
        self.conv = _conv(in_channels, channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.act(x))


class RecursiveUnit(nn.Module):
    """``R`` recursions of one pre-activated residual block (Eqs. 5-7).

    ``H^r = W^2 tau(W^1 tau(H^{r-1})) + H^{r-1}`` with ``H^0 = B_{m-1}``. The conv weights
    ``W^1, W^2`` (and biases) are shared across the recursions ("``r``-fold operations of
    ``R_m``", Eq. 7); each recursion has its own BatchNorm layers (as in the released code: the
    feature statistics change from one recursion to the next).
    """

    def __init__(self, channels: int, num_recursions: int) -> None:
        super().__init__()
        self.conv1 = _conv(channels, channels, 3)
        self.conv2 = _conv(channels, channels, 3)
        self.act1 = nn.ModuleList(_bn_relu(channels) for _ in range(num_recursions))
        self.act2 = nn.ModuleList(_bn_relu(channels) for _ in range(num_recursions))

    @property
    def num_recursions(self) -> int:
        return len(self.act1)

    def forward(self, h: Tensor) -> list[Tensor]:
        """Return the short-term memory ``[H^1, ..., H^R]`` (Sec. 3.2)."""
        outputs = []
        for act1, act2 in zip(self.act1, self.act2, strict=True):
            h = self.conv2(act2(self.conv1(act1(h)))) + h
            outputs.append(h)
        return outputs


class GateUnit(nn.Module):
    """Gate unit (Eq. 9): ``B_m = W_m^gate tau(B_m^gate)``, a pre-activated 1x1 conv.

    Its weights decide how much of each remembered feature map is kept (Sec. 3.2); their norms per
    input map are the ``v_m^l`` of Sec. 5.3 (:meth:`MemNet.gate_weight_norms`).
    """

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.act = _bn_relu(in_channels)
        self.conv = _conv(in_channels, channels, 1)

    @property
    def in_channels(self) -> int:
        return self.conv.in_channels

    def forward(self, memories: list[Tensor]) -> Tensor:
        return self.conv(self.act(torch.cat(memories, dim=1)))


class MemoryBlock(nn.Module):
    """The ``m``-th memory block (Eq. 10): a recursive unit then a gate unit.

    The gate sees the long-term memory ``[B_0, ..., B_{m-1}]`` and the short-term memory
    ``[H_m^1, ..., H_m^R]`` (Eq. 8). The ablations of Sec. 5.2 remove parts of it:
    ``long_term=False`` is MemNet_NL (no long-term memory), ``short_term=False`` is MemNet_NS
    (only the last recursion ``H_m^R`` of the short-term memory is kept).
    """

    def __init__(
        self,
        index: int,
        channels: int,
        num_recursions: int,
        long_term: bool = True,
        short_term: bool = True,
    ) -> None:
        super().__init__()
        self.index = index  # m, 1-based
        self.long_term = long_term
        self.short_term = short_term
        self.num_long = index if long_term else 0  # B_0 .. B_{m-1}
        self.num_short = num_recursions if short_term else 1
        self.recursive_unit = RecursiveUnit(channels, num_recursions)
        self.gate_unit = GateUnit((self.num_long + self.num_short) * channels, channels)

    def forward(self, b_prev: Tensor, long_memory: list[Tensor]) -> Tensor:
        """``B_m`` from ``B_{m-1}`` and ``long_memory = [B_0, ..., B_{m-1}]``."""
        short = self.recursive_unit(b_prev)
        if not self.short_term:
            short = short[-1:]
        memories = list(long_memory) + short if self.long_term else short
        return self.gate_unit(memories)


class ReconNet(nn.Module):
    """Reconstruction net: ``f_rec(B) = W tau(B)``, a pre-activated 3x3 conv ``channels -> C``.

    The residual image it predicts is added to the input by :class:`MemNet` (Eqs. 3 and 11).
    One conv is shared by all blocks (Eq. 11). ``num_bn`` is 1 for the paper's "same
    reconstruction net" and ``M`` for the released code, whose ReconNet has one BatchNorm per
    block in front of the shared conv.
    """

    def __init__(self, channels: int, out_channels: int, num_bn: int = 1) -> None:
        super().__init__()
        self.act = nn.ModuleList(_bn_relu(channels) for _ in range(num_bn))
        self.conv = _conv(channels, out_channels, 3)

    def forward(self, b: Tensor, block: int = 0) -> Tensor:
        """Residual image from block output ``b``; ``block`` (0-based) picks the BN if per block."""
        act = self.act[block] if len(self.act) > 1 else self.act[0]
        return self.conv(act(b))


class MemNet(nn.Module):
    """MemNet, basic (Eq. 3, Fig. 2) or multi-supervised (Eqs. 11-12, Fig. 3).

    Args:
        num_blocks: ``M``, the number of memory blocks (6 in the paper's main model).
        num_recursions: ``R``, recursions per recursive unit (6).
        channels: feature maps of every conv (64, Sec. 5.1).
        in_channels: image channels (1: gray or the Y channel, Sec. 5.1).
        multi_supervised: every block's output is reconstructed and supervised, the output is
            ``sum_m w_m y_m`` (Sec. 3.3); ``False`` gives the basic MemNet.
        long_term: keep the long-term memory in the gates (``False``: MemNet_NL, Sec. 5.2).
        short_term: keep the first ``R - 1`` recursions in the gates (``False``: MemNet_NS).
        input_bn_relu: BN-ReLU on the input image before FENet's conv (released code).
        recon_bn_per_block: one ReconNet BN per block in front of the shared conv (released code;
            the default here: with one shared BN, its running statistics mix the M blocks'
            feature distributions and the eval-mode output departs from the trained one).
        supervision: ``"paper"``: ``w_m = 1/M`` at start (weighted averaging) and the loss of
            Eq. 12 with ``alpha``; ``"code"``: ``w_m = 1`` at start and every loss with weight 1.
        alpha: the loss weight of Eq. 12; ``None`` means ``1/(M+1)`` (Sec. 5.1).
        recon_init: ``"he"`` (the paper's init [11] for every conv) or ``"zero"`` (the ReconNet
            conv starts at zero, the network at the identity; a departure, see
            :meth:`reset_parameters`).

    Weights use He et al.'s initialisation [11] (zero-mean Gaussian, std ``sqrt(2 / fan_in)``),
    biases are zero, BatchNorm starts at scale 1, shift 0 (Sec. 5.1).
    """

    def __init__(
        self,
        num_blocks: int = 6,
        num_recursions: int = 6,
        channels: int = 64,
        in_channels: int = 1,
        multi_supervised: bool = True,
        long_term: bool = True,
        short_term: bool = True,
        input_bn_relu: bool = False,
        recon_bn_per_block: bool = True,
        supervision: str = "paper",
        alpha: float | None = None,
        recon_init: str = "he",
    ) -> None:
        super().__init__()
        if recon_init not in ("he", "zero"):
            raise ValueError(f"recon_init must be 'he' or 'zero', not {recon_init!r}")
        if num_blocks < 1 or num_recursions < 1:
            raise ValueError("MemNet needs num_blocks >= 1 and num_recursions >= 1")
        if supervision not in ("paper", "code"):
            raise ValueError(f"supervision must be 'paper' or 'code', not {supervision!r}")
        self.num_blocks = num_blocks
        self.num_recursions = num_recursions
        self.channels = channels
        self.multi_supervised = multi_supervised
        self.supervision = supervision
        self.alpha = 1.0 / (num_blocks + 1) if alpha is None else float(alpha)
        self.recon_init = recon_init

        self.fenet = FENet(in_channels, channels, input_bn_relu)
        self.blocks = nn.ModuleList(
            MemoryBlock(m, channels, num_recursions, long_term, short_term)
            for m in range(1, num_blocks + 1)
        )
        num_bn = num_blocks if (recon_bn_per_block and multi_supervised) else 1
        self.reconnet = ReconNet(channels, in_channels, num_bn)
        if multi_supervised:
            w0 = 1.0 / num_blocks if supervision == "paper" else 1.0
            self.output_weights = nn.Parameter(torch.full((num_blocks,), w0))
        else:
            self.register_parameter("output_weights", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He (MSRA) init [11] for every conv, zero biases (Sec. 5.1).

        With ``recon_init="zero"`` the ReconNet conv starts at zero, so every prediction
        ``y_m = x + f_rec(B_m)`` starts at the input (the network is the identity at step 0).
        Under He init that conv reads ``channels`` BN-ReLU maps and emits a residual of standard
        deviation about 1 on a [0, 1] image, some 20x the true residual of a bicubic or noisy
        input: the reason MemNet starts near 0 dB and, at short budgets, never recovers (see
        ``scripts/memnet_diagnosis.py`` and the differences register, ``memnet-recon-init``).
        """
        init_weights(self, "kaiming")
        if self.recon_init == "zero":
            nn.init.zeros_(self.reconnet.conv.weight)

    @property
    def depth(self) -> int:
        """Conv layers on the longest path: FENet + ``M`` x (``2R`` + gate) + ReconNet (Table 6)."""
        return 2 + self.num_blocks * (2 * self.num_recursions + 1)

    @property
    def gate_in_channels(self) -> list[int]:
        """Input width ``L_m`` of each gate unit (Sec. 5.3), ``m = 1..M``."""
        return [block.gate_unit.in_channels for block in self.blocks]

    def features(self, x: Tensor) -> list[Tensor]:
        """Block outputs ``[B_1, ..., B_M]`` (Eq. 2)."""
        b = self.fenet(x)
        long_memory = [b]
        outputs = []
        for block in self.blocks:
            b = block(b, long_memory)
            long_memory.append(b)
            outputs.append(b)
        return outputs

    def _predictions(self, x: Tensor, feats: list[Tensor]) -> list[Tensor]:
        """``y_m = x + f_rec(B_m)`` for every block (Eq. 11)."""
        return [x + self.reconnet(b, m) for m, b in enumerate(feats)]

    def _fuse(self, predictions: list[Tensor]) -> Tensor:
        """``y = sum_m w_m y_m`` (Sec. 3.3)."""
        out = predictions[0] * self.output_weights[0]
        for w, y in zip(self.output_weights[1:], predictions[1:], strict=True):
            out = out + w * y
        return out

    def forward_with_intermediate(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The output ``y`` and the intermediate predictions ``[y_1, ..., y_M]`` in one pass.

        For the basic MemNet only ``y_M`` (which is the output) was trained; the others are the
        single ReconNet applied to earlier blocks, returned for inspection only.
        """
        predictions = self._predictions(x, self.features(x))
        final = self._fuse(predictions) if self.multi_supervised else predictions[-1]
        return final, predictions

    def forward_intermediate(self, x: Tensor) -> list[Tensor]:
        """Intermediate predictions ``[y_1, ..., y_M]`` (Eq. 11; MemNet_M1..M_M of Fig. 6)."""
        return self.forward_with_intermediate(x)[1]

    def forward(self, x: Tensor) -> Tensor:
        """Restored image, same shape as ``x`` (Eq. 3 basic, ``sum_m w_m y_m`` multi-supervised)."""
        if self.multi_supervised:
            return self.forward_with_intermediate(x)[0]
        return x + self.reconnet(self.features(x)[-1])

    def loss_from_predictions(
        self, final: Tensor, predictions: list[Tensor], target: Tensor
    ) -> Tensor:
        """Training objective from precomputed outputs: Eq. 4 (basic) or Eq. 12 (multi).

        Eq. 12: ``alpha/(2N) sum_i ||x~ - sum_m w_m y_m||^2
        + (1 - alpha)/(2MN) sum_m sum_i ||x~ - y_m||^2``. With ``supervision="code"`` the
        ``M + 1`` Euclidean losses are summed with weight 1 each.
        """
        if not self.multi_supervised:
            return euclidean_loss(final, target)
        intermediate = [euclidean_loss(y, target) for y in predictions]
        total_intermediate = torch.stack(intermediate).sum()
        if self.supervision == "code":
            return euclidean_loss(final, target) + total_intermediate
        m = len(predictions)
        return self.alpha * euclidean_loss(final, target) + (1.0 - self.alpha) / m * (
            total_intermediate
        )

    def compute_loss(self, inp: Tensor, target: Tensor) -> Tensor:
        """The paper's training objective for a batch (Eq. 4 basic, Eq. 12 multi-supervised)."""
        if not self.multi_supervised:
            return euclidean_loss(self(inp), target)
        final, predictions = self.forward_with_intermediate(inp)
        return self.loss_from_predictions(final, predictions, target)

    def gate_weights(self) -> list[Tensor]:
        """The 1x1 gate conv weights ``W_m^gate``, each ``[channels, L_m, 1, 1]`` (Fig. 5)."""
        return [block.gate_unit.conv.weight for block in self.blocks]

    @torch.no_grad()
    def gate_weight_norms(self) -> list[Tensor]:
        """``v_m^l = sqrt(sum_i W_m^gate(1, 1, l, i)^2)`` for ``l = 1..L_m`` (Sec. 5.3).

        For each block, the norm over the output filters ``i`` of the weights reading input map
        ``l``; a 1-D tensor of length ``L_m``, long-term maps first (see
        :meth:`gate_memory_slices`). Unnormalised: Fig. 5 rescales them to [0, 1] for display.
        """
        return [w.detach()[:, :, 0, 0].norm(dim=0) for w in self.gate_weights()]

    def gate_memory_slices(self) -> list[dict[str, slice]]:
        """Per block, where each kind of memory sits in the gate input (bars of Fig. 5).

        ``"long"``: ``B_0 .. B_{m-1}``; ``"short"``: recursions ``1 .. R-1``; ``"last"``: recursion
        ``R``. Empty slices where an ablation removed that memory.
        """
        c = self.channels
        slices = []
        for block in self.blocks:
            n_long, n_short = block.num_long * c, (block.num_short - 1) * c
            slices.append(
                {
                    "long": slice(0, n_long),
                    "short": slice(n_long, n_long + n_short),
                    "last": slice(n_long + n_short, n_long + n_short + c),
                }
            )
        return slices


# ``memnet``: the class itself, whose defaults are the paper's main model (multi-supervised
# M6R6, 64 channels, Sec. 5.1).
register("memnet")(MemNet)


#: The model sizes of Table 6, registered as ``memnet_m<M>r<R>``: (memory blocks M, recursions R)
#: and the depth the paper gives. M6R6 is the paper's main model (Tables 1-6).
SIZES: dict[str, tuple[int, int, int]] = {
    "memnet_m4r6": (4, 6, 54),
    "memnet_m6r6": (6, 6, 80),
    "memnet_m6r8": (6, 8, 104),
    "memnet_m10r10": (10, 10, 212),
}


def _sized(blocks: int, recursions: int, depth: int):
    def build(**kwargs) -> MemNet:
        return MemNet(**{"num_blocks": blocks, "num_recursions": recursions, **kwargs})

    build.__doc__ = (
        f"M{blocks}R{recursions}, depth {depth} (Table 6); explicit keywords override its depth "
        "(a budget or a Table 6 run may set num_blocks / num_recursions)."
    )
    return build


for _name, _size in SIZES.items():
    register(_name)(_sized(*_size))


@register("memnet_nl")
def memnet_nl(**kwargs) -> MemNet:
    """MemNet_NL: M6R6 without long-term connections; gates see ``[H^1..H^R]`` (Sec. 5.2)."""
    return MemNet(**{"num_blocks": 6, "num_recursions": 6, **kwargs, "long_term": False})


@register("memnet_ns")
def memnet_ns(**kwargs) -> MemNet:
    """MemNet_NS: M6R6, gates see the long-term memory and ``H^R`` only (Sec. 5.2)."""
    return MemNet(**{"num_blocks": 6, "num_recursions": 6, **kwargs, "short_term": False})
