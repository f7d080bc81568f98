"""DnCNN (Zhang, Zuo, Chen, Meng, Zhang, "Beyond a Gaussian Denoiser", IEEE TIP 2017).

DnCNN is a baseline of two of the studied papers: NLRN Tables 3-4 (DnCNN-S / DnCNN-B, gray
denoising) and MemNet Tables 4-5 (DnCNN-3 for super-resolution and JPEG deblocking). This module
provides

* :class:`DnCNN`, the network of the DnCNN paper (Sec. III-A, Fig. 1): a first ``conv3x3 + ReLU``,
  ``depth - 2`` blocks of ``conv3x3 + BN + ReLU`` and a last ``conv3x3`` back to ``C`` channels.
  The network is trained for *residual learning* (Sec. III-B, Eq. (1)): it predicts the noise
  ``v = R(y)`` and the restored image is ``x = y - R(y)``;
* :func:`load_published_dncnn` / :func:`published_dncnn`, which read the authors' released
  MatConvNet models (cszn/DnCNN, ``model/``), so that the published DnCNN baseline columns can be
  recomputed with this project's datasets, degradations and metrics without any training.

The released ``.mat`` files have batch normalisation folded into the convolutions (conv + ReLU
only, a bias on every conv); the loaded model is therefore built with ``batch_norm=False``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from reprolib.models.registry import init_weights, register

__all__ = [
    "PUBLISHED_DNCNN",
    "PUBLISHED_DNCNN_SHA256",
    "CorruptWeightsError",
    "DnCNN",
    "load_published_dncnn",
    "published_dncnn",
    "published_weights_dirs",
]


class DnCNN(nn.Module):
    """DnCNN denoiser with residual learning (Zhang et al. 2017, Sec. III-A/B, Fig. 1).

    Layers (Sec. III-A "Network Architecture"):

    1. ``Conv(3x3, C -> features) + ReLU``;
    2. ``depth - 2`` times ``Conv(3x3, features -> features) + BN + ReLU``;
    3. ``Conv(3x3, features -> C)``.

    Zero padding keeps the spatial size (Sec. III-C: padding avoids boundary artifacts).
    ``forward`` returns ``x - net(x)`` (Eq. (1): the network learns the residual mapping
    ``R(y) ~ v`` and the clean estimate is ``y - R(y)``).

    Args:
        depth: number of convolution layers; 17 for DnCNN-S, 20 for DnCNN-B and DnCNN-3 (Sec. IV-A).
        in_channels: image channels ``C`` (1 for gray, 3 for colour CDnCNN).
        features: feature maps of the hidden layers (64 in the paper).
        kernel_size: convolution size (3 in the paper).
        batch_norm: BN in the middle layers (paper). ``False`` gives the BN-free architecture of the
            released ``.mat`` files, where BN has been folded into the conv weights and biases.
        bias: biases on the middle convolutions. ``None`` means "only when there is no BN" (a bias
            before a BN layer is redundant). The first and last convolutions always have a bias,
            as the released MatConvNet models do.
        init: ``"kaiming"`` (default) is He et al.'s method that the paper states it uses
            (Sec. IV-A: "we use the method in [He et al.] for weight initialization"), i.e.
            zero-mean Gaussian with std ``sqrt(2 / fan_in)``. ``"orthogonal"`` is what the authors'
            PyTorch re-implementation (cszn/DnCNN ``TrainingCodes/dncnn_pytorch``) uses. Biases are
            zero; BN starts at ``gamma = 1, beta = 0``.
    """

    def __init__(
        self,
        depth: int = 17,
        in_channels: int = 1,
        features: int = 64,
        kernel_size: int = 3,
        batch_norm: bool = True,
        bias: bool | None = None,
        init: str = "kaiming",
    ) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"DnCNN needs at least 2 conv layers, got depth={depth}")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd to keep the image size, got {kernel_size}")
        if init not in ("kaiming", "orthogonal"):
            raise ValueError(f"init must be 'kaiming' or 'orthogonal', got {init!r}")
        mid_bias = (not batch_norm) if bias is None else bias
        pad = kernel_size // 2
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, features, kernel_size, padding=pad, bias=True),
            nn.ReLU(inplace=True),
        ]
        for _ in range(depth - 2):
            layers.append(nn.Conv2d(features, features, kernel_size, padding=pad, bias=mid_bias))
            if batch_norm:
                # eps / momentum as the authors' PyTorch code (eps 1e-4, Caffe-style momentum 0.95).
                layers.append(nn.BatchNorm2d(features, eps=1e-4, momentum=0.05))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(features, in_channels, kernel_size, padding=pad, bias=True))
        self.body = nn.Sequential(*layers)
        self.depth = depth
        self.in_channels = in_channels
        self.features = features
        self.batch_norm = batch_norm
        self._init_weights(init)

    def _init_weights(self, init: str) -> None:
        init_weights(self, init)

    def convs(self) -> list[nn.Conv2d]:
        """The convolution layers in order (``len == depth``)."""
        return [m for m in self.body if isinstance(m, nn.Conv2d)]

    def residual(self, x: Tensor) -> Tensor:
        """The predicted residual ``R(y)`` (the noise estimate, Eq. (1))."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """Restore ``x`` (``N x C x H x W``, values in [0, 1]): ``x - R(x)``."""
        return x - self.body(x)


@register("dncnn")
def _build_dncnn(**kwargs) -> DnCNN:
    return DnCNN(**kwargs)


@register("dncnn17")
def _build_dncnn17(**kwargs) -> DnCNN:
    """DnCNN-S: 17 conv layers (specific noise level, Sec. IV-A)."""
    return DnCNN(depth=17, **kwargs)


@register("dncnn20")
def _build_dncnn20(**kwargs) -> DnCNN:
    """DnCNN-B / DnCNN-3: 20 conv layers (blind / multi-task, Sec. IV-A)."""
    return DnCNN(depth=20, **kwargs)


# ----------------------------------------------------------------------------------------------
# The authors' released MatConvNet models
# ----------------------------------------------------------------------------------------------

#: Short name -> file name of the released models (cszn/DnCNN, ``model/`` and ``model/specifics/``).
PUBLISHED_DNCNN: dict[str, str] = {
    "dncnn_s15": "sigma=15.mat",
    "dncnn_s25": "sigma=25.mat",
    "dncnn_s50": "sigma=50.mat",
    "dncnn_b": "GD_Gray_Blind.mat",
    "dncnn3": "DnCNN3.mat",
}

#: sha256 of the released files at cszn/DnCNN commit e93b27812d3ff523a3a79d19e5e50d233d7a8d0a.
PUBLISHED_DNCNN_SHA256: dict[str, str] = {
    "DnCNN3.mat": "3962377d522b6728417e364bf7a589cf34ddfb592af0bd9769e53f8123d17677",
    "GD_Gray_Blind.mat": "37f76da0b71dd2b2789ce91848fe2f184ab486203c9af9ac1b98199b60ea02b0",
    "sigma=15.mat": "657d5115fa05d371dbf0df1f0a931eff274dae29d08a9cc0824a28caf2460e21",
    "sigma=25.mat": "5a5404c9e3ef14e353760e14b885439408a654618e14f13b2e97b99b9835020b",
    "sigma=50.mat": "517dc0b55a8da2c129704ed7921b8557aac40cf3aae9f700dc41a9e25cad0983",
}

_SOURCE = (
    "the DnCNN authors' GitHub repository cszn/DnCNN (folder model/ for GD_Gray_Blind.mat and "
    "DnCNN3.mat, model/specifics/ for sigma=15/25/50.mat)"
)


class CorruptWeightsError(ValueError):
    """A weight file exists but is not the published one (checksum mismatch or unreadable)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _mat_string(arr: np.ndarray) -> str:
    """MATLAB char arrays are stored in v7.3 files as uint16 code points."""
    return "".join(chr(int(c)) for c in np.asarray(arr).flatten())


def _read_simplenn_convs(path: Path) -> list[tuple[np.ndarray, np.ndarray, int, int]]:
    """Read the conv layers of a MatConvNet simplenn v7.3 file: ``(weight, bias, pad, stride)``.

    ``weight`` is returned as h5py gives it: MATLAB's ``(kh, kw, in, out)`` with the axes reversed,
    i.e. ``(out, in, kw, kh)`` (the last layer, stored squeezed, is ``(in, kw, kh)``).
    """
    import h5py  # local import: only the weight loader needs it

    convs: list[tuple[np.ndarray, np.ndarray, int, int]] = []
    try:
        with h5py.File(path, "r") as f:
            refs = f["net/layers"][()].flatten()
            for ref in refs:
                layer = f[ref]
                kind = _mat_string(layer["type"][()])
                if kind in ("relu",):
                    continue
                if kind != "conv":
                    raise CorruptWeightsError(
                        f"{path}: unexpected MatConvNet layer type {kind!r} (expected conv/relu; "
                        "the released DnCNN models have batch normalisation folded in)"
                    )
                wrefs = layer["weights"][()].flatten()
                weight = np.asarray(f[wrefs[0]][()], dtype=np.float32)
                bias = np.asarray(f[wrefs[1]][()], dtype=np.float32).flatten()
                pad = int(np.asarray(layer["pad"][()]).flatten()[0])
                stride = int(np.asarray(layer["stride"][()]).flatten()[0])
                convs.append((weight, bias, pad, stride))
    except (OSError, KeyError) as exc:
        raise CorruptWeightsError(
            f"cannot read {path} as a MatConvNet v7.3 (HDF5) network: {exc}"
        ) from exc
    return convs


def load_published_dncnn(path: str | os.PathLike[str], verify: bool = True) -> DnCNN:
    """Load one of the authors' released DnCNN MatConvNet models into a BN-free :class:`DnCNN`.

    The file (MATLAB v7.3 = HDF5, read with h5py) is a MatConvNet ``simplenn`` network whose
    ``net/layers`` holds references to layer structs with ``type``, ``weights`` = {filters, biases},
    ``pad`` and ``stride``. Batch normalisation has been folded into the convs, so the layers are
    conv / relu only and the model is built with ``batch_norm=False`` and a bias on every conv.

    Orientation: MATLAB stores the filters as ``(kh, kw, in, out)``; HDF5 reverses the axes, giving
    ``(out, in, kw, kh)``. PyTorch wants ``(out, in, kh, kw)``, so the last two axes are swapped
    (MatConvNet's ``vl_nnconv`` is a correlation like ``torch.nn.functional.conv2d``, so no
    spatial flip). This was checked empirically: with the swap the models denoise better than
    without it (see ``tests/test_models_dncnn.py``).

    Args:
        path: the ``.mat`` file.
        verify: when the file name is one of :data:`PUBLISHED_DNCNN_SHA256`, check its sha256 and
            raise :class:`CorruptWeightsError` on mismatch.

    Returns:
        The model in eval mode, on the CPU, float32. Inputs in [0, 1]; output ``y - net(y)``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"DnCNN weight file not found: {path} (source: {_SOURCE})")
    expected = PUBLISHED_DNCNN_SHA256.get(path.name)
    if verify and expected is not None:
        got = _sha256(path)
        if got != expected:
            raise CorruptWeightsError(
                f"{path} is corrupt or not the published file: sha256 {got} != expected "
                f"{expected}. Fetch it again from {_SOURCE}."
            )
    convs = _read_simplenn_convs(path)
    if len(convs) < 2:
        raise CorruptWeightsError(f"{path}: found {len(convs)} conv layers, expected 17 or 20")

    first_w = convs[0][0]
    in_channels, features, ksize = first_w.shape[1], first_w.shape[0], first_w.shape[-1]
    model = DnCNN(
        depth=len(convs),
        in_channels=in_channels,
        features=features,
        kernel_size=ksize,
        batch_norm=False,
        bias=True,
    )
    with torch.no_grad():
        for i, (conv, (w, b, pad, stride)) in enumerate(zip(model.convs(), convs, strict=True)):
            if w.ndim == 3:  # last layer stored squeezed: (in, kw, kh) with out = 1 dropped
                w = w[None]
            # (out, in, kw, kh) -> (out, in, kh, kw)
            w = np.ascontiguousarray(np.swapaxes(w, -1, -2))
            if tuple(w.shape) != tuple(conv.weight.shape) or b.size != conv.out_channels:
                raise CorruptWeightsError(
                    f"{path}: conv layer {i + 1} has weight {w.shape} / bias {b.shape}, expected "
                    f"{tuple(conv.weight.shape)} / ({conv.out_channels},)"
                )
            if pad != conv.padding[0] or stride != 1:
                raise CorruptWeightsError(
                    f"{path}: conv layer {i + 1} has pad={pad}, stride={stride}; expected "
                    f"pad={conv.padding[0]}, stride=1"
                )
            conv.weight.copy_(torch.from_numpy(w))
            conv.bias.copy_(torch.from_numpy(b))
    return model.eval()


def published_weights_dirs() -> list[Path]:
    """Directories searched for the released DnCNN files, in order.

    ``$REPROLIB_WEIGHTS`` (either the ``dncnn`` folder itself or its parent) if set, else
    ``<repo>/../shared/weights/dncnn``.
    """
    dirs: list[Path] = []
    env = os.environ.get("REPROLIB_WEIGHTS")
    if env:
        dirs += [Path(env), Path(env) / "dncnn"]
    else:
        repo = Path(__file__).resolve().parents[2]
        dirs.append(repo.parent / "shared" / "weights" / "dncnn")
    return dirs


def published_dncnn(name: str, verify: bool = True) -> DnCNN:
    """Load a released DnCNN model by short name.

    Names: ``dncnn_s15``, ``dncnn_s25``, ``dncnn_s50`` (DnCNN-S, 17 layers, one noise level
    each), ``dncnn_b`` (DnCNN-B, 20 layers, blind gray denoising) and ``dncnn3`` (DnCNN-3, 20
    layers: denoising, bicubic-upsampled SR input and JPEG deblocking).
    """
    key = name.lower()
    if key not in PUBLISHED_DNCNN:
        raise KeyError(f"unknown published DnCNN {name!r}; known: {', '.join(PUBLISHED_DNCNN)}")
    fname = PUBLISHED_DNCNN[key]
    dirs = published_weights_dirs()
    for d in dirs:
        if (d / fname).is_file():
            return load_published_dncnn(d / fname, verify=verify)
    searched = ", ".join(str(d) for d in dirs)
    raise FileNotFoundError(
        f"published DnCNN weights {fname!r} ({key}) not found; searched: {searched}. "
        f"Download {fname} from {_SOURCE} into one of these folders or set $REPROLIB_WEIGHTS."
    )
