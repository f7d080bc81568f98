"""The model registry: every network and ablated variant is built from a name and keywords."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a builder under ``name`` (lower case, e.g. ``memnet_m6r6``)."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} registered twice")
        _BUILDERS[name] = fn
        return fn

    return wrap


def build(name: str, **kwargs) -> nn.Module:
    """Build a registered model. Unknown names raise ``KeyError`` listing the known ones."""
    key = name.lower()
    if key not in _BUILDERS:
        known = ", ".join(sorted(_BUILDERS))
        raise KeyError(f"unknown model {name!r}; known models: {known}")
    return _BUILDERS[key](**kwargs)


def available() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_BUILDERS)


def conv_weight_params(model: nn.Module) -> int:
    """Number of convolution *weights* (no biases, no norm parameters).

    This is the quantity the papers report (MemNet "677K", RED "4,131K", NLRN "330K"):
    it counts ``weight`` tensors of every Conv/ConvTranspose layer.
    """
    conv_types = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, conv_types))


def total_params(model: nn.Module) -> int:
    """All trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_depth(model: nn.Module) -> int:
    """Depth as the paper defines it; every model class exposes a ``depth`` attribute."""
    depth = getattr(model, "depth", None)
    if depth is None:
        raise AttributeError(f"{type(model).__name__} does not define its paper depth")
    return int(depth)


def init_weights(model: nn.Module, scheme: str = "kaiming") -> None:
    """Initialise every conv as a paper states; biases zero, batch norm to identity.

    ``"kaiming"``: He et al.'s normal fan-in init (MemNet Sec. 5.1 [11], VDSR, DnCNN);
    ``"xavier"``: Glorot uniform (NLRN Sec. 5); ``"orthogonal"``: the DnCNN authors' PyTorch code.
    """
    init = {
        "kaiming": lambda w: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu"),
        "xavier": nn.init.xavier_uniform_,
        "orthogonal": nn.init.orthogonal_,
    }
    if scheme not in init:
        raise ValueError(f"unknown init {scheme!r}; choose one of {', '.join(init)}")
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            init[scheme](m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
