"""RED-Net (Mao, Shen, Yang, "Image Restoration Using Convolutional Auto-encoders with Symmetric
Skip Connections", arXiv:1606.08921 / NIPS 2016).

A chain of ``n`` convolutions (encoder) followed by ``n`` mirrored deconvolutions (decoder), with
symmetric skip connections from conv ``i`` to the mirrored decoder layer (Sec. 3, Fig. 1, Eq. (8))
and a global input-output skip, so that the network learns the corruption (Sec. 3.4, Eq. (9)).

Layer numbering used throughout (as in Eq. (8)): ``L = 2n`` layers; ``X_0`` is the input image,
``X_1 .. X_n`` the outputs of conv1..conv_n and ``X_{n+j}`` the output of deconv ``j``
(``j = 1..n``). The mirror of ``X_i`` is ``X_{L-i}``: conv ``i`` is skip-connected to deconv
``n - i`` (conv14 -> deconv1, ..., conv2 -> deconv13 in the released 30-layer model).

Every paper-versus-code choice is an option here and is listed in ``differences/rednet.yaml``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from reprolib.models.registry import register

__all__ = ["REDNet"]


class REDNet(nn.Module):
    """Residual encoder-decoder network with symmetric skips (RED-Net, Mao et al. 2016).

    Args:
        num_layers: total number of layers ``L = 2n`` (conv + deconv): 10, 20 or 30 for
            RED10/RED20/RED30 (Sec. 5).
        in_channels: image channels (1: the paper works on gray / Y-channel images).
        channels: feature maps per hidden layer. The paper's parameter study fixes 64 (Sec. 5.1,
            Figs. 10-12; the NIPS version states 64); the released RED30 uses 128 (its
            4,131,072 weights are the "4,131K" other papers quote). Default 64, 128 is an option.
        kernel_size: filter size of every layer (3; Fig. 10 compares 3/5/7/9). Padding keeps the
            size ("same" padding, ``kernel_size // 2``).
        skips: symmetric/block skip connections on or off (RED10 has none, Sec. 5).
        skip_step: span of the skips in layers (2 in the paper, Fig. 1; Fig. 12 varies it).
            Symmetric skips leave every conv ``i`` with ``i % skip_step == 0`` and ``0 < i < n``
            (anchored at the input, so that the global input skip ``i = 0`` belongs to the same
            family, Eq. (8)-(9)), giving ``floor((n - 1) / skip_step)`` skips.
        skip_type: ``"symmetric"`` (the paper's, Fig. 1 / Fig. 4) or ``"block"``: the skips of
            He et al.'s residual networks that Fig. 7 compares with ("Block-i-He et al."), i.e.
            identity shortcuts over consecutive blocks of ``skip_step`` layers, ``X_a -> X_{a+s}``
            for ``a = 1, 1 + s, ...`` up to layer ``L - 1`` (the first layer lifts the image to
            ``channels``, the last projects back; those two are outside the blocks).
        global_residual: add the input to the output (Sec. 3.4: "there is a skip connection
            between the input and the output of the network"; Eq. (9); the released code adds it
            outside the net). The network then predicts the corruption.
        last_relu: ReLU after the last decoder layer. The text puts a ReLU after every layer
            (Sec. 3.1, Eq. (2)), but with the global residual that restricts the correction to be
            non-negative, which contradicts learning the additive corruption; the released model
            has none. Default ``False`` (code); ``True`` is the literal text.
        relu_before_sum: at a skip destination, apply the layer's own ReLU before the element-wise
            sum (literal Eq. (2) then (3): ``max(0, X_skip + max(0, W * X + B))``, where the outer
            ReLU is then a no-op). Default ``False``: ``max(0, X_skip + W * X + B)``, the residual
            block of Fig. 4 / He et al. in which the sum layer's ReLU (Eq. (3)) replaces the
            layer's own.
        downsample_at: conv layer(s) (1-based) that use stride 2; the mirrored decoder layer
            (deconv ``n + 1 - i``) upsamples with stride 2 back to the exact size of the
            mirrored feature map, for any (odd) input size (Sec. 4.5, Fig. 8: "conv1", "conv5",
            "conv9", "conv5,9").
        decoder: ``"deconv"`` (transposed convolutions, the paper) or ``"conv"``: the all-
            convolutional counterpart of Sec. 3.2 / Fig. 2. Note that with stride 1 and "same"
            padding a transposed convolution is a convolution with a flipped, channel-transposed
            kernel, so the two decoders span the same functions and differ only in
            initialisation/optimisation; ``"conv"`` cannot upsample (no ``downsample_at``).
        init: ``"xavier"`` (default; the paper does not state its initialisation, and Caffe's
            ``xavier`` filler was the usual choice for Caffe models of the time: uniform with
            variance ``1 / fan_in``), ``"kaiming"`` (He normal, variance ``2 / fan_in``) or
            ``"pytorch"`` (PyTorch's default). ``fan_in`` is the number of inputs of an output unit
            (``in_channels * k * k``), for the transposed layers too; biases start at zero.
    """

    def __init__(
        self,
        num_layers: int = 30,
        in_channels: int = 1,
        channels: int = 64,
        kernel_size: int = 3,
        skips: bool = True,
        skip_step: int | None = 2,
        skip_type: str = "symmetric",
        global_residual: bool = True,
        last_relu: bool = False,
        relu_before_sum: bool = False,
        downsample_at: int | Sequence[int] | None = None,
        decoder: str = "deconv",
        init: str = "xavier",
    ) -> None:
        super().__init__()
        if num_layers < 2 or num_layers % 2:
            raise ValueError(f"num_layers must be even and >= 2, got {num_layers}")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if skip_type not in ("symmetric", "block"):
            raise ValueError(f"skip_type must be 'symmetric' or 'block', got {skip_type!r}")
        if decoder not in ("deconv", "conv"):
            raise ValueError(f"decoder must be 'deconv' or 'conv', got {decoder!r}")
        if init not in ("xavier", "kaiming", "pytorch"):
            raise ValueError(f"init must be 'xavier', 'kaiming' or 'pytorch', got {init!r}")
        n = num_layers // 2
        if downsample_at is None:
            down: tuple[int, ...] = ()
        elif isinstance(downsample_at, int):
            down = (downsample_at,)
        else:
            down = tuple(sorted(set(int(i) for i in downsample_at)))
        if any(not 1 <= i <= n for i in down):
            raise ValueError(f"downsample_at must name conv layers in 1..{n}, got {downsample_at}")
        if down and decoder == "conv":
            raise ValueError("decoder='conv' cannot upsample: downsample_at needs decoder='deconv'")

        self.depth = num_layers
        self.n = n
        self.in_channels = in_channels
        self.channels = channels
        self.kernel_size = kernel_size
        self.global_residual = global_residual
        self.last_relu = last_relu
        self.relu_before_sum = relu_before_sum
        self.skip_type = skip_type
        self.decoder_type = decoder
        self.downsample_at = down
        pad = kernel_size // 2

        # Encoder: conv1..conv_n. Decoder: deconv1..deconv_n; deconv j mirrors conv n + 1 - j.
        self.encoder = nn.ModuleList()
        for i in range(1, n + 1):
            cin = in_channels if i == 1 else channels
            stride = 2 if i in down else 1
            self.encoder.append(nn.Conv2d(cin, channels, kernel_size, stride, pad))
        self.decoder = nn.ModuleList()
        self._upsample: list[bool] = []
        for j in range(1, n + 1):
            cout = in_channels if j == n else channels
            up = (n + 1 - j) in down
            self._upsample.append(up)
            if decoder == "deconv":
                layer: nn.Module = nn.ConvTranspose2d(
                    channels, cout, kernel_size, stride=2 if up else 1, padding=pad
                )
            else:
                layer = nn.Conv2d(channels, cout, kernel_size, 1, pad)
            self.decoder.append(layer)

        # Resolution level of every X_l (0 = full size), to keep skips between equal sizes.
        level = [0]
        for i in range(1, n + 1):
            level.append(level[-1] + (i in down))
        for j in range(1, n + 1):
            level.append(level[-1] - self._upsample[j - 1])
        self._level = level

        pairs: list[tuple[int, int]] = []
        use_skips = skips and bool(skip_step)
        if use_skips and skip_step is not None and skip_step < 1:
            raise ValueError(f"skip_step must be >= 1, got {skip_step}")
        if use_skips and skip_type == "symmetric":
            pairs = [(i, num_layers - i) for i in range(n - 1, 0, -1) if i % skip_step == 0]
        elif use_skips:
            a = 1
            while a + skip_step <= num_layers - 1:
                if level[a] == level[a + skip_step]:
                    pairs.append((a, a + skip_step))
                a += skip_step
        #: ``(source, destination)`` layer indices of the skips (``X_src`` is added before the
        #: ReLU of layer ``dst``); the global input skip is not listed here.
        self.skip_pairs: tuple[tuple[int, int], ...] = tuple(sorted(pairs, key=lambda p: p[1]))
        self._skip_into = {dst: src for src, dst in self.skip_pairs}
        self._skip_sources = {src for src, _ in self.skip_pairs}
        self.skip_step = skip_step if use_skips else None
        self._init_weights(init)

    # ------------------------------------------------------------------------------------------
    def _init_weights(self, init: str) -> None:
        if init == "pytorch":
            return
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                if isinstance(m, nn.ConvTranspose2d):
                    cin = m.weight.shape[0]  # (in, out, k, k)
                else:
                    cin = m.weight.shape[1]  # (out, in, k, k)
                fan_in = cin * m.weight.shape[2] * m.weight.shape[3]
                if init == "xavier":
                    bound = math.sqrt(3.0 / fan_in)
                    nn.init.uniform_(m.weight, -bound, bound)
                else:
                    nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_in))
                nn.init.zeros_(m.bias)

    @property
    def num_skips(self) -> int:
        """Number of skip connections, the global input-output skip excluded."""
        return len(self.skip_pairs)

    def layers(self) -> list[nn.Module]:
        """The ``L`` layers in order: conv1..conv_n, then deconv1..deconv_n."""
        return [*self.encoder, *self.decoder]

    def forward(self, x: Tensor) -> Tensor:
        """Restore ``x`` (``N x C x H x W``); returns a tensor of the same shape."""
        n, big_l = self.n, self.depth
        saved: dict[int, Tensor] = {}
        sizes: list[tuple[int, int]] = [(x.shape[-2], x.shape[-1])]
        h = x
        for idx, layer in enumerate(self.layers()):
            ell = idx + 1  # layer number 1..L; its output is X_ell
            if ell > n and self._upsample[ell - n - 1]:
                # mirror of X_ell is X_{L-ell}: restore exactly its spatial size (odd sizes too)
                h = layer(h, output_size=sizes[big_l - ell])
            else:
                h = layer(h)
            src = self._skip_into.get(ell)
            if src is not None:
                if self.relu_before_sum:
                    h = F.relu(h)
                h = F.relu(h + saved.pop(src))  # Eq. (3): element-wise sum, then ReLU
            elif ell < big_l or self.last_relu:
                h = F.relu(h)
            if ell <= n:
                sizes.append((h.shape[-2], h.shape[-1]))
            if ell in self._skip_sources:
                saved[ell] = h
        if self.global_residual:
            h = x + h  # Eq. (9): X_L = X_0 + F_d(X_{L-1})
        return h


@register("rednet")
def _build_rednet(**kwargs) -> REDNet:
    return REDNet(**kwargs)


@register("red10")
def _build_red10(**kwargs) -> REDNet:
    """RED10: 5 conv + 5 deconv layers "without shortcuts" (Sec. 5)."""
    kwargs.setdefault("skips", False)
    return REDNet(num_layers=10, **kwargs)


@register("red20")
def _build_red20(**kwargs) -> REDNet:
    """RED20: 10 conv + 10 deconv layers, shortcuts of step 2 (Sec. 5)."""
    return REDNet(num_layers=20, **kwargs)


@register("red30")
def _build_red30(**kwargs) -> REDNet:
    """RED30: 15 conv + 15 deconv layers, shortcuts of step 2 (Sec. 5)."""
    return REDNet(num_layers=30, **kwargs)
