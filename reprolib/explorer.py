"""Explore restorations: degraded / restored / ground truth, difference map, zoomed crops, scores.

Two front ends over one computation (:func:`compute_case`):

* :func:`live_explorer` - dropdowns for set, image, degradation and method that recompute on
  change (needs a running kernel);
* :func:`static_explorer` - a curated list of precomputed cases embedded as PNGs in an
  ipywidgets ``Stack`` whose page is picked by a ``Dropdown`` linked client-side with ``jslink``,
  so it stays interactive in the static HTML book with no kernel.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

import ipywidgets as widgets
import matplotlib
import numpy as np
from PIL import Image

from reprolib import baselines, data, evaluate, metrics, protocols

DEFAULT_PROTOCOL = {"sr": "memnet_sr", "denoise": "dncnn_denoise", "jpeg": "memnet_jpeg"}
CROP = 192  # side of the region shown (pixels), so pages stay small and methods run fast
ZOOM = 48  # side of the zoomed detail, shown enlarged x4


@dataclass(frozen=True)
class Case:
    """One restored image with everything the explorer shows (uint8, single channel)."""

    dataset: str
    image: str
    setting: str
    method: str
    protocol: str
    degraded: np.ndarray
    restored: np.ndarray
    ground_truth: np.ndarray
    psnr_degraded: float
    ssim_degraded: float
    psnr_restored: float
    ssim_restored: float

    @property
    def label(self) -> str:
        return f"{self.dataset}/{self.image} {self.setting}: {self.method}"


def _load(dataset: str, image: str) -> data.LoadedImage:
    for im in data.iter_images(dataset):
        if im.name == image:
            return im
    names = ", ".join(im.name for im in data.iter_images(dataset))
    raise KeyError(f"no image {image!r} in {dataset}; images: {names}")


def _centre_crop(img: np.ndarray, size: int, multiple: int) -> np.ndarray:
    side = min(size, img.shape[0], img.shape[1]) // multiple * multiple
    top, left = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
    return img[top : top + side, left : left + side]


@lru_cache(maxsize=64)
def compute_case(
    dataset: str, image: str, setting: str, method: str, protocol: str | None = None
) -> Case:
    """Degrade a centre crop of one test image, restore it with ``method`` and score both.

    The crop is taken from the protocol's reference image (so its Y/gray conversion and
    modcrop apply), and the degradation is the protocol's (``evaluate.degraded_input``).
    """
    task, level = protocols.parse_setting(setting)
    proto = protocols.get(protocol or DEFAULT_PROTOCOL[task])
    scale = level if task == "sr" else 1
    im = _load(dataset, image)
    gt = _centre_crop(proto.ground_truth(im.pixels, dataset, scale), CROP, scale)
    x = evaluate.degraded_input(gt, setting, im.key)
    y = baselines.restorer(method, setting)(x)
    p_in, s_in = proto.score(x * 255.0, gt, scale)
    p_out, s_out = proto.score(y * 255.0, gt, scale)
    return Case(
        dataset, image, setting, method, proto.name, metrics.to_uint8(x * 255.0),
        metrics.to_uint8(y * 255.0), gt, p_in, s_in, p_out, s_out,
    )  # fmt: skip


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def difference_map(case: Case, limit: float = 32.0) -> np.ndarray:
    """Signed restored - ground truth as an RGB image (blue negative, red positive)."""
    d = case.restored.astype(np.float64) - case.ground_truth.astype(np.float64)
    rgb = matplotlib.colormaps["RdBu_r"](np.clip(d / limit, -1, 1) * 0.5 + 0.5)[..., :3]
    return (rgb * 255).astype(np.uint8)


def zoom(img: np.ndarray, factor: int = 4) -> np.ndarray:
    """The centre ``ZOOM`` x ``ZOOM`` detail enlarged with nearest neighbours (no smoothing)."""
    c = _centre_crop(img, ZOOM, 1)
    return np.kron(c, np.ones((factor, factor) + (1,) * (c.ndim - 2), dtype=c.dtype))


def _image(arr: np.ndarray, title: str) -> widgets.VBox:
    return widgets.VBox(
        [widgets.HTML(f"<b>{title}</b>"), widgets.Image(value=_png(arr), format="png")],
        layout=widgets.Layout(margin="0 6px 0 0"),
    )


def panel(case: Case) -> widgets.VBox:
    """Degraded / restored / ground truth / difference, the same detail zoomed, and scores."""
    scores = widgets.HTML(
        f"<b>{case.label}</b> (protocol <code>{case.protocol}</code>, centre crop): "
        f"degraded {case.psnr_degraded:.2f} dB / SSIM {case.ssim_degraded:.4f}; "
        f"restored <b>{case.psnr_restored:.2f} dB</b> / SSIM {case.ssim_restored:.4f}"
    )
    full = widgets.HBox(
        [
            _image(case.degraded, "degraded"), _image(case.restored, case.method),
            _image(case.ground_truth, "ground truth"),
            _image(difference_map(case), "restored - truth (+-32)"),
        ]
    )  # fmt: skip
    crops = widgets.HBox(
        [
            _image(zoom(case.degraded), "detail: degraded"),
            _image(zoom(case.restored), f"detail: {case.method}"),
            _image(zoom(case.ground_truth), "detail: ground truth"),
        ]
    )  # fmt: skip
    return widgets.VBox([scores, full, crops])


def static_explorer(cases: list[Case]) -> widgets.VBox:
    """A kernel-free explorer: a Dropdown linked in the browser to a Stack of panels."""
    if not cases:
        raise ValueError("static_explorer needs at least one case")
    pick = widgets.Dropdown(
        options=[(c.label, i) for i, c in enumerate(cases)], value=0, description="case",
        layout=widgets.Layout(width="36em"),
    )  # fmt: skip
    stack = widgets.Stack([panel(c) for c in cases], selected_index=0)
    widgets.jslink((pick, "index"), (stack, "selected_index"))
    return widgets.VBox([pick, stack])


CURATED = [
    ("Set12", "08", "sigma25", "Noisy"),
    ("Set12", "08", "sigma25", "BM3D"),
    ("Set12", "08", "sigma25", "DnCNN"),
    ("Set5", "butterfly_GT", "x3", "Bicubic"),
    ("Set5", "butterfly_GT", "x3", "DnCNN-3"),
    ("Classic5", "barbara", "q10", "JPEG"),
    ("Classic5", "barbara", "q10", "DnCNN-3"),
]


def curated_cases() -> list[Case]:
    """Cases that need no training: noise, SR and JPEG, restored by the baselines."""
    return [compute_case(*c) for c in CURATED]


def live_explorer() -> widgets.VBox:
    """Pick set, image, degradation and method; the panel is recomputed on every change."""
    sets = ["Set12", "Set5", "Set14", "Classic5", "BSD68"]
    settings = {"sigma15", "sigma25", "sigma50", "x2", "x3", "x4", "q10", "q20"}
    ds = widgets.Dropdown(options=sets, value="Set12", description="set")
    img = widgets.Dropdown(description="image")
    deg = widgets.Dropdown(options=sorted(settings), value="sigma25", description="degradation")
    meth = widgets.Dropdown(options=list(baselines.METHODS), value="DnCNN", description="method")
    out = widgets.VBox()

    def names(_=None) -> None:
        img.options = [im.name for im in data.iter_images(ds.value)]

    def update(_=None) -> None:
        out.children = [widgets.HTML("<i>computing...</i>")]
        try:
            out.children = [panel(compute_case(ds.value, img.value, deg.value, meth.value))]
        except (KeyError, ValueError) as err:
            out.children = [widgets.HTML(f"<b>cannot show this combination:</b> {err}")]

    names()
    ds.observe(names, "value")
    for w in (ds, img, deg, meth):
        w.observe(update, "value")
    update()
    return widgets.VBox([widgets.HBox([ds, img]), widgets.HBox([deg, meth]), out])
