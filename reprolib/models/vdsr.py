"""VDSR (Kim, Lee, Lee, "Accurate Image Super-Resolution Using Very Deep Convolutional Networks",
CVPR 2016): the plain 20-layer baseline of MemNet's Tables 2 and 4 and Fig. 6.

``d`` conv layers (3x3, 64 filters, zero padding that keeps the size), a ReLU after every layer but
the last; the network predicts the residual, which is added to the interpolated input (global
residual learning, VDSR Sec. 3.1). Weights use He et al.'s initialisation, biases are zero
(VDSR Sec. 4.1).
"""

from __future__ import annotations

from torch import Tensor, nn

from reprolib.models.registry import init_weights, register

__all__ = ["VDSR"]


class VDSR(nn.Module):
    """VDSR: ``y = x + f(x)``, ``f`` = ``num_layers`` 3x3 convs with ReLU in between.

    Args:
        num_layers: conv layers ``d`` (20 in the paper, its ``depth``).
        channels: filters of the hidden layers (64).
        in_channels: image channels (1: the Y channel).
        last_init: ``"he"`` (the paper's init for every conv, VDSR Sec. 4.1) or ``"zero"`` (the
            last conv starts at zero, so the network starts as the identity, ``y = x``: this
            study's cpu-budget deviation, as MemNet's ``recon_init="zero"``; differences
            register ``vdsr-last-init``).
    """

    def __init__(
        self,
        num_layers: int = 20,
        channels: int = 64,
        in_channels: int = 1,
        last_init: str = "he",
    ) -> None:
        super().__init__()
        if num_layers < 2:
            raise ValueError("VDSR needs at least 2 conv layers")
        if last_init not in ("he", "zero"):
            raise ValueError(f"last_init must be 'he' or 'zero', not {last_init!r}")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU()]
        for _ in range(num_layers - 2):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(channels, in_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.num_layers = num_layers
        self.last_init = last_init
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He init for every conv, zero biases (VDSR Sec. 4.1); with ``last_init="zero"`` the
        last conv's weights are zero too, so the residual ``f(x)`` is 0 at step 0."""
        init_weights(self, "kaiming")
        if self.last_init == "zero":
            nn.init.zeros_(self.body[-1].weight)

    @property
    def depth(self) -> int:
        """Number of conv layers (20 for VDSR, MemNet Table 2)."""
        return self.num_layers

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


@register("vdsr")
def vdsr(
    num_layers: int = 20, channels: int = 64, in_channels: int = 1, last_init: str = "he"
) -> VDSR:
    """The 20-layer, 64-filter VDSR of the paper (``last_init="zero"``: the identity at start)."""
    return VDSR(num_layers=num_layers, channels=channels, in_channels=in_channels,
                last_init=last_init)  # fmt: skip
