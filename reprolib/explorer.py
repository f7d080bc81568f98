"""Look at restorations image by image: one case computed on demand, a live and a static explorer.

The papers show their methods side by side on a few images, with the same zoomed region cut
out of every panel (MemNet Figs. 7-9, RED-Net Figs. 4-6). This module does the same for any
method this project can run:

* :func:`compute_case` builds one test pair as the evaluation does (a protocol's channel and
  ground truth, :func:`reprolib.evaluate.degraded_input`), restores it and scores it, so the
  pictures and the numbers come from the same code path as the tables;
* :func:`live_explorer` is an ipywidgets UI for a running kernel: any set, image, setting and
  method, recomputed (and cached) on change;
* :func:`static_explorer` turns precomputed :class:`Case` objects into widgets that need no
  kernel: PNGs in ``widgets.Image`` inside a ``widgets.Stack``, switched in the browser by
  ``jslink``. Executed with the widget state stored (nbclient/papermill store it by default),
  it stays interactive in the book's static HTML;
* :func:`curated_cases` is the small set the book shows, using only methods that need no
  training.

Methods are looked up by name in :data:`METHODS`. It holds the baselines of
:mod:`reprolib.baselines`; anything else (a trained model) is added with
:func:`register_method`, or found under ``results/**/model.pt`` by a loader installed with
:func:`set_checkpoint_loader` (see :func:`discover_checkpoints`).
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from reprolib import claims, data, imageops, protocols
from reprolib.evaluate import Restorer, degraded_input

# --------------------------------------------------------------------------------------------
# methods
# --------------------------------------------------------------------------------------------

TASKS = ("sr", "denoise", "jpeg")

#: The protocol each task is scored under unless another is asked for.
DEFAULT_PROTOCOL = {"sr": "memnet_sr", "denoise": "dncnn_denoise", "jpeg": "memnet_jpeg"}

#: Test sets offered by the live explorer (every name :mod:`reprolib.data` knows also works).
DATASETS = ("Set12", "BSD68", "Set5", "Set14", "BSD100", "Urban100", "Classic5", "LIVE1")

#: Settings offered by the live explorer (any setting :func:`protocols.parse_setting` accepts
#: works in :func:`compute_case`).
SETTINGS = ("sigma15", "sigma25", "sigma50", "x2", "x3", "x4", "q10", "q20", "q30", "q40")

#: Readable names of Set12's numbered files (the DnCNN test set's usual order).
SET12_NAMES = {
    "01": "Cameraman", "02": "House", "03": "Peppers", "04": "Starfish", "05": "Monarch",
    "06": "Airplane", "07": "Parrot", "08": "Lena", "09": "Barbara", "10": "Boat", "11": "Man",
    "12": "Couple",
}  # fmt: skip


@dataclass(frozen=True)
class Method:
    """A restoration method the explorer can run.

    Attributes:
        name: the name shown and looked up (unique in :data:`METHODS`).
        factory: ``setting -> restorer``; the restorer maps a degraded single-channel float
            image on [0, 1] to its restoration on [0, 1] (:data:`reprolib.evaluate.Restorer`).
        tasks: the tasks (``"sr"``, ``"denoise"``, ``"jpeg"``) it applies to.
        description: one line for the reader (what the method is, where its weights are from).
    """

    name: str
    factory: Callable[[str], Restorer]
    tasks: frozenset[str]
    description: str = ""

    def applies_to(self, setting: str) -> bool:
        """Whether this method can restore inputs degraded at ``setting``."""
        return protocols.parse_setting(setting)[0] in self.tasks


def _baseline(name: str, tasks: Iterable[str], description: str) -> Method:
    from reprolib import baselines  # imports torch models; only when a method is used

    def factory(setting: str) -> Restorer:
        return baselines.restorer(name, setting)

    return Method(name, factory, frozenset(tasks), description)


#: Every method known by name. Baselines are always here; trained models are added by
#: :func:`register_method` or :func:`discover_checkpoints`.
METHODS: dict[str, Method] = {
    m.name: m
    for m in [
        _baseline("Noisy", ["denoise"], "the noisy input itself (no restoration)"),
        _baseline("Bicubic", ["sr"], "MATLAB-compatible bicubic up-sampling (the network input)"),
        _baseline("JPEG", ["jpeg"], "the JPEG-decoded input itself (no restoration)"),
        _baseline("BM3D", ["denoise"], "BM3D (bm3d package) at the true noise level"),
        _baseline(
            "DnCNN", TASKS, "published DnCNN weights: DnCNN-S per sigma, DnCNN-3 for SR/JPEG"
        ),
        _baseline("DnCNN-B", ["denoise"], "published blind Gaussian DnCNN-B weights"),
        _baseline("DnCNN-3", TASKS, "published DnCNN-3 weights (one model for all three tasks)"),
    ]
}

#: Turns a ``model.pt`` path into a :class:`Method` (or ``None`` to skip it); see
#: :func:`set_checkpoint_loader`. Unset until the project's checkpoint loader exists.
_checkpoint_loader: Callable[[Path], Method | None] | None = None


def register_method(method: Method, *, replace: bool = False) -> Method:
    """Make ``method`` available by name (e.g. a trained model wrapped in a restorer).

    Re-registering a name raises ``ValueError`` unless ``replace`` is set, so two checkpoints
    cannot silently shadow each other.
    """
    unknown = set(method.tasks) - set(TASKS)
    if unknown:
        raise ValueError(f"method {method.name!r}: unknown task(s) {sorted(unknown)}")
    if method.name in METHODS and not replace:
        raise ValueError(f"method {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def set_checkpoint_loader(loader: Callable[[Path], Method | None] | None) -> None:
    """Install the hook that turns a ``results/**/model.pt`` file into a :class:`Method`.

    The loader receives the checkpoint's path and returns a :class:`Method` (its ``factory``
    builds the model and returns e.g. ``lambda x: inference.restore(model, x, tile=256)``), or
    ``None`` for a file it does not handle. ``None`` uninstalls the hook.
    """
    global _checkpoint_loader
    _checkpoint_loader = loader


def discover_checkpoints(root: str | Path | None = None) -> list[Method]:
    """Register every checkpoint under ``root`` (default ``results/``) the loader accepts.

    Without a loader (:func:`set_checkpoint_loader`) nothing is found, so the explorer works
    before any model is trained. Already registered names are replaced (a rerun overwrites).
    """
    if _checkpoint_loader is None:
        return []
    root = Path(root) if root is not None else claims.results_root()
    found = []
    for path in sorted(root.glob("**/model.pt")):
        method = _checkpoint_loader(path)
        if method is not None:
            found.append(register_method(method, replace=True))
    return found


def available_methods(setting: str | None = None, *, checkpoints: bool = True) -> list[str]:
    """Names of the methods that apply to ``setting`` (all methods when ``None``).

    With ``checkpoints`` the trained models found by :func:`discover_checkpoints` are included.
    """
    if checkpoints:
        discover_checkpoints()
    return [n for n, m in METHODS.items() if setting is None or m.applies_to(setting)]


def get_method(name: str) -> Method:
    """Look a method up by name; unknown names list the known ones."""
    if name not in METHODS:
        discover_checkpoints()
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name]


# --------------------------------------------------------------------------------------------
# one case
# --------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One image restored by one method at one setting, with everything needed to show it.

    Images are uint8 single-channel arrays in the protocol's channel (Y or gray) and of the
    same size: ``degraded`` is the network input (bicubic-upsampled for SR), ``restored`` the
    method's output and ``ground_truth`` the reference. ``diff`` is restored minus ground truth
    on the 0-255 scale (float32, from the output as scored, so rounded where the protocol
    rounds). Scores are computed by the protocol exactly as in the tables (including any SR
    border shave); they are per image and, when ``crop`` is set, for the crop only.
    """

    dataset: str
    image: str
    key: str
    setting: str
    method: str
    protocol: str
    degraded: np.ndarray
    restored: np.ndarray
    ground_truth: np.ndarray
    diff: np.ndarray
    psnr_degraded: float
    ssim_degraded: float
    psnr_restored: float
    ssim_restored: float
    crop: tuple[int, int, int, int] | None = None
    seconds: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return protocols.parse_setting(self.setting)[0]

    @property
    def image_label(self) -> str:
        """``Set12/09 (Barbara)``-style name of the image."""
        alias = SET12_NAMES.get(self.image) if self.dataset == "Set12" else None
        return f"{self.dataset}/{self.image}" + (f" ({alias})" if alias else "")

    @property
    def label(self) -> str:
        """One line naming the case, e.g. ``Set12/09 (Barbara), sigma25: BM3D``."""
        return f"{self.image_label}, {self.setting}: {self.method}"

    @property
    def psnr_gain(self) -> float:
        """PSNR of the restoration minus PSNR of its input (dB)."""
        return self.psnr_restored - self.psnr_degraded

    def scores_html(self) -> str:
        """The case's numbers as a short HTML paragraph."""
        crop = ""
        if self.crop is not None:
            t, left, h, w = self.crop
            crop = f"; crop {h}x{w} at (row {t}, col {left})"
        return (
            f"<b>{self.label}</b><br>"
            f"input: PSNR {self.psnr_degraded:.2f} dB, SSIM {self.ssim_degraded:.4f} &rarr; "
            f"{self.method}: PSNR <b>{self.psnr_restored:.2f} dB</b>, SSIM "
            f"<b>{self.ssim_restored:.4f}</b> (gain {self.psnr_gain:+.2f} dB)<br>"
            f"<small>protocol {self.protocol}{crop}; {self.seconds:.1f} s on this machine"
            "</small>"
        )


def image_names(dataset: str) -> list[str]:
    """File stems of a set's images, sorted (the names :func:`compute_case` accepts)."""
    return [key.split("/", 1)[1] for key, _, _ in data.files(dataset)]


def _find_image(dataset: str, image: str) -> tuple[str, np.ndarray]:
    """Key and pixels of one image, loading only that file (its bytes checked)."""
    entries = data.files(dataset)  # unknown sets raise DatasetError listing the known ones
    names = {key.split("/", 1)[1]: (key, path, rec) for key, path, rec in entries}
    wanted = image
    if wanted not in names:
        lower = {n.lower(): n for n in names}
        aliases = {v.lower(): k for k, v in SET12_NAMES.items()} if dataset == "Set12" else {}
        prefixes = [n.lower().split("_")[0] for n in names]  # "butterfly" for "butterfly_GT"
        stripped = {p: n for p, n in zip(prefixes, names) if prefixes.count(p) == 1}
        low = image.lower()
        wanted = lower.get(low) or aliases.get(low) or stripped.get(low) or image
    if wanted not in names:
        shown = ", ".join(list(names)[:12]) + (", ..." if len(names) > 12 else "")
        raise KeyError(f"no image {image!r} in set {dataset!r}; its images: {shown}")
    key, path, rec = names[wanted]
    if not path.is_file():
        raise data.DatasetError(
            f"{key}: file {path} is missing (source: {data.source_of(dataset)})"
        )
    if hashlib.sha256(path.read_bytes()).hexdigest() != rec["sha256"]:
        raise data.DatasetError(f"{key}: {path} differs from MANIFEST.json")
    with Image.open(path) as img:
        pixels = np.asarray(img.convert("L" if img.mode in ("L", "1") else "RGB"))
    if data.SPLITS[dataset].gray and pixels.ndim == 3:
        pixels = imageops.rgb2gray(pixels)
    return key, pixels


def _crop_box(
    shape: tuple[int, int], crop: int | tuple[int, int, int] | None, scale: int
) -> tuple[int, int, int, int] | None:
    """``(top, left, height, width)`` of the requested crop, clipped to the image.

    ``crop`` is a size (a central square) or ``(top, left, size)``. Sizes are rounded down to a
    multiple of the SR scale so that the crop needs no further mod-crop.
    """
    if crop is None:
        return None
    h, w = shape
    if isinstance(crop, (int, np.integer)):
        size, top, left = int(crop), None, None
    else:
        top, left, size = (int(v) for v in crop)
    if size < 16:
        raise ValueError(f"crop size must be at least 16 px, got {size}")
    ch, cw = min(size, h), min(size, w)
    ch, cw = ch - ch % scale, cw - cw % scale
    if top is None:
        top, left = (h - ch) // 2, (w - cw) // 2
    if not (0 <= top < h and 0 <= left < w):
        raise ValueError(f"crop origin ({top}, {left}) is outside the {h}x{w} image")
    top, left = min(top, h - ch), min(left, w - cw)
    return top, left, ch, cw


def compute_case(
    dataset: str,
    image_name: str,
    setting: str,
    method: str,
    protocol: str | None = None,
    *,
    crop: int | tuple[int, int, int] | None = None,
) -> Case:
    """Degrade one test image, restore it with ``method`` and score both against the reference.

    ``protocol`` defaults to the task's entry in :data:`DEFAULT_PROTOCOL`. ``crop`` (a size for a
    central square, or ``(top, left, size)``) cuts the reference *before* it is degraded, so a
    slow method (BM3D, a deep network on CPU) only sees that region; the degradation is then
    that of the crop (noise seeded by the image key, bicubic and JPEG of the crop itself), not
    a crop of the full-image degradation. Unknown sets, images, methods and settings, and a
    method or protocol that does not fit the setting, raise with the valid choices.
    """
    task, level = protocols.parse_setting(setting)
    proto = protocols.get(protocol or DEFAULT_PROTOCOL[task])
    if proto.task != task:
        raise ValueError(f"protocol {proto.name!r} is for {proto.task}, not setting {setting!r}")
    meth = get_method(method)
    if not meth.applies_to(setting):
        raise ValueError(
            f"method {method!r} does not apply to {task} setting {setting!r}; methods that do: "
            f"{', '.join(available_methods(setting))}"
        )
    scale = level if task == "sr" else 1
    key, pixels = _find_image(dataset, image_name)
    gt = proto.ground_truth(pixels, dataset, scale)
    box = _crop_box(gt.shape, crop, scale)
    if box is not None:
        t, left, h, w = box
        gt = np.ascontiguousarray(gt[t : t + h, left : left + w])
    x = degraded_input(gt, setting, key)
    restorer = meth.factory(setting)
    t0 = time.perf_counter()
    y = np.asarray(restorer(x), dtype=np.float64)
    seconds = time.perf_counter() - t0
    if y.shape != gt.shape:
        raise ValueError(f"method {method!r} returned shape {y.shape}, expected {gt.shape}")
    p_in, s_in = proto.score(x * 255.0, gt, scale)
    p_out, s_out = proto.score(y * 255.0, gt, scale)
    scored = imageops.to_uint8(y * 255.0) if proto.round_output else y * 255.0
    return Case(
        dataset=dataset,
        image=key.split("/", 1)[1],
        key=key,
        setting=setting,
        method=method,
        protocol=proto.name,
        degraded=imageops.to_uint8(x * 255.0),
        restored=imageops.to_uint8(y * 255.0),
        ground_truth=gt,
        diff=(np.asarray(scored, dtype=np.float64) - gt).astype(np.float32),
        psnr_degraded=p_in,
        ssim_degraded=s_in,
        psnr_restored=p_out,
        ssim_restored=s_out,
        crop=box,
        seconds=seconds,
        metadata={
            "task": task,
            "level": level,
            "channel": proto.channel,
            "scale": scale,
            "image_shape": tuple(pixels.shape),
            "method_description": meth.description,
            "protocol_source": proto.source,
        },
    )


# Cases the book shows: only methods that need no training, each cut to <= 256 px first so the
# whole set computes in well under a minute on two CPU cores. Regions hold fine texture (the
# scarf and face, the tablecloth, the wing pattern) where methods differ most.
CURATED = (
    ("Set12", "09", "sigma25", ("Noisy", "BM3D", "DnCNN"), (48, 256, 256)),
    ("Set5", "butterfly_GT", "x3", ("Bicubic", "DnCNN-3"), 256),
    ("Classic5", "barbara", "q10", ("JPEG", "DnCNN-3"), (150, 0, 256)),
)


def curated_cases(spec: Sequence[tuple] = CURATED) -> list[Case]:
    """The explorer's curated cases: ``(set, image, setting, methods, crop)`` per entry."""
    return [
        compute_case(ds, img, setting, m, crop=crop)
        for ds, img, setting, methods, crop in spec
        for m in methods
    ]


def cases_table(cases: Sequence[Case]):
    """The cases' numbers, one row per case (a pandas DataFrame, for a table under the pictures)."""
    import pandas as pd

    rows = []
    for c in cases:
        crop = "full" if c.crop is None else "{2}x{3} at ({0}, {1})".format(*c.crop)
        rows.append(
            {
                "image": c.image_label, "setting": c.setting, "method": c.method,
                "protocol": c.protocol, "region": crop, "input PSNR": c.psnr_degraded,
                "PSNR": c.psnr_restored, "gain (dB)": c.psnr_gain,
                "input SSIM": c.ssim_degraded, "SSIM": c.ssim_restored, "seconds": c.seconds,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# pictures
# --------------------------------------------------------------------------------------------


def diff_limit(case: Case, percentile: float = 99.0) -> float:
    """Colour range (+-, grey levels) of a case's difference map.

    Half the ``percentile`` of the *input's* absolute error (at least 4): every method that
    restores the same input is drawn on the same scale, the restorations' errors are visible,
    and the unrestored input (e.g. ``Noisy``) saturates.
    """
    err = np.abs(case.degraded.astype(np.float64) - case.ground_truth)
    return float(max(4.0, np.ceil(np.percentile(err, percentile) / 2)))


def _colourise(diff: np.ndarray, limit: float, signed: bool) -> Image.Image:
    """Difference map as a palette PNG image (1 byte per pixel: small when embedded)."""
    import matplotlib

    cmap = matplotlib.colormaps["RdBu_r" if signed else "magma"]
    if signed:
        idx = np.clip((diff / limit + 1.0) * 127.5, 0, 255)
    else:
        idx = np.clip(np.abs(diff) / limit * 255.0, 0, 255)
    img = Image.fromarray(np.rint(idx).astype(np.uint8), mode="P")
    lut = (cmap(np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)
    img.putpalette(lut.ravel().tolist())
    return img


def _png(img: Image.Image | np.ndarray) -> bytes:
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _fit(arr: np.ndarray, max_px: int) -> np.ndarray:
    """Downscale (area-averaged) so that neither side exceeds ``max_px``; never upscale."""
    h, w = arr.shape[:2]
    f = max(h, w) / max_px
    if f <= 1:
        return arr
    size = (max(1, round(w / f)), max(1, round(h / f)))
    return np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.BOX))


def detailed_regions(gt: np.ndarray, size: int, n: int = 4) -> list[tuple[int, int]]:
    """Top-left corners of ``n`` non-overlapping ``size`` px windows with the most texture.

    Texture is the mean gradient magnitude of the reference, so the zoomed regions fall where
    restorations differ (edges, stripes), as in the papers' figures. Deterministic.
    """
    h, w = gt.shape
    size = min(size, h, w)
    g = gt.astype(np.float64)
    energy = np.zeros_like(g)
    energy[:, 1:] += np.abs(np.diff(g, axis=1))
    energy[1:, :] += np.abs(np.diff(g, axis=0))
    ii = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    step = max(1, size // 4)
    cands = []
    for t in range(0, h - size + 1, step):
        for left in range(0, w - size + 1, step):
            s = ii[t + size, left + size] - ii[t, left + size] - ii[t + size, left] + ii[t, left]
            cands.append((s, t, left))
    cands.sort(key=lambda c: (-c[0], c[1], c[2]))
    chosen: list[tuple[int, int]] = []
    for _, t, left in cands:
        if all(abs(t - a) >= size or abs(left - b) >= size for a, b in chosen):
            chosen.append((t, left))
        if len(chosen) == n:
            break
    return chosen


def _zoom(arr: np.ndarray, t: int, left: int, size: int, zoom: int) -> np.ndarray:
    """A ``size`` px crop enlarged ``zoom`` times by pixel repetition (no smoothing)."""
    c = arr[t : t + size, left : left + size]
    return np.repeat(np.repeat(c, zoom, axis=0), zoom, axis=1)


def _locator(gt: np.ndarray, t: int, left: int, size: int, px: int) -> Image.Image:
    """A thumbnail of the reference with the zoomed region outlined in red."""
    h, w = gt.shape
    f = px / max(h, w)
    img = Image.fromarray(_fit(gt, px)).convert("RGB")
    box = [left * f, t * f, (left + size) * f - 1, (t + size) * f - 1]
    ImageDraw.Draw(img).rectangle(box, outline=(220, 30, 30), width=2)
    return img.quantize(colors=64)


def plot_case(
    case: Case,
    center: tuple[float, float] = (0.5, 0.5),
    zoom: int = 4,
    *,
    signed: bool = True,
):
    """Matplotlib figure of a case: full panels with the zoom region outlined, then the crops.

    ``center`` is the zoom region's centre as fractions (row, column) of the image; the region
    is ``1/zoom`` of the shorter side, cut at the same place from every panel.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from reprolib import plotting  # noqa: F401  (house style)

    h, w = case.ground_truth.shape
    size = max(8, min(h, w) // max(zoom, 1))
    t = int(np.clip(round(center[0] * h - size / 2), 0, h - size))
    left = int(np.clip(round(center[1] * w - size / 2), 0, w - size))
    lim = diff_limit(case)
    panels = [
        (case.degraded, f"input\n{case.psnr_degraded:.2f} dB / {case.ssim_degraded:.4f}"),
        (case.restored, f"{case.method}\n{case.psnr_restored:.2f} dB / {case.ssim_restored:.4f}"),
        (case.ground_truth, "ground truth\n(reference)"),
    ]
    fig, axes = plt.subplots(2, 4, figsize=(12, 6.4), gridspec_kw={"height_ratios": [1, 1]})
    kw = {"vmin": -lim, "vmax": lim, "cmap": "RdBu_r"} if signed else {}
    if not signed:
        kw = {"vmin": 0, "vmax": lim, "cmap": "magma"}
    dmap = case.diff if signed else np.abs(case.diff)
    for col, (arr, title) in enumerate(panels):
        axes[0, col].imshow(arr, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        axes[0, col].set_title(title, fontsize=9)
        axes[1, col].imshow(
            arr[t : t + size, left : left + size], cmap="gray", vmin=0, vmax=255,
            interpolation="nearest",
        )  # fmt: skip
    im = axes[0, 3].imshow(dmap, interpolation="nearest", **kw)
    axes[0, 3].set_title(
        ("restored - GT" if signed else "|restored - GT|") + "\n(0-255)", fontsize=9
    )
    axes[1, 3].imshow(dmap[t : t + size, left : left + size], interpolation="nearest", **kw)
    fig.colorbar(im, cax=axes[0, 3].inset_axes((1.04, 0.0, 0.05, 1.0)))
    for col in range(4):
        axes[0, col].add_patch(
            Rectangle((left - 0.5, t - 0.5), size, size, fill=False, ec="red", lw=1.2)
        )
        for row in range(2):
            axes[row, col].set_axis_off()
    fig.suptitle(f"{case.label} ({case.protocol})", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------
# live explorer (needs a kernel)
# --------------------------------------------------------------------------------------------

_CROP_CHOICES = (
    ("256 px centre crop", 256),
    ("512 px centre crop", 512),
    ("full image", 0),
)  # 0: no crop


def live_explorer(
    dataset: str = "Set12",
    image: str = "09",
    setting: str = "sigma25",
    method: str = "DnCNN",
    *,
    crop: int | None = 256,
):
    """An ipywidgets UI to explore any set, image, setting and method in a running kernel.

    Dropdowns choose the case (the image list follows the set, the method list the setting);
    ``crop`` (changeable in the UI) limits the computation to a centre crop, as full images
    take long for BM3D on CPU. Sliders move and size the zoomed region, shown from the same
    place in every panel. Computed cases are cached, so going back is instant; while a case
    is computed the status line says so and the controls are disabled.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    if crop not in {c for _, c in _CROP_CHOICES} | {None}:
        raise ValueError(f"crop must be 256, 512 or None (full image), got {crop!r}")
    cache: dict[tuple, Case] = {}
    wide = {"style": {"description_width": "initial"}}
    wrap = widgets.Layout(flex_flow="row wrap")
    narrow = {"layout": widgets.Layout(width="16em"), **wide}
    w_set = widgets.Dropdown(options=list(DATASETS), value=dataset, description="set", **narrow)
    w_img = widgets.Dropdown(
        options=image_names(dataset), value=image, description="image", **narrow
    )
    w_setting = widgets.Dropdown(
        options=list(SETTINGS), value=setting, description="setting", **narrow
    )
    w_method = widgets.Dropdown(
        options=available_methods(setting), value=method, description="method", **narrow
    )
    w_crop = widgets.Dropdown(
        options=list(_CROP_CHOICES), value=crop or 0, description="compute on", **narrow
    )
    w_y = widgets.FloatSlider(0.5, min=0, max=1, step=0.01, description="zoom row", **wide)
    w_x = widgets.FloatSlider(0.5, min=0, max=1, step=0.01, description="zoom col", **wide)
    w_zoom = widgets.IntSlider(4, min=2, max=12, description="zoom factor", **wide)
    w_signed = widgets.ToggleButtons(
        options=[("signed difference", True), ("absolute difference", False)], value=True
    )
    status = widgets.HTML()
    out = widgets.Output()
    controls = [w_set, w_img, w_setting, w_method, w_crop]
    state: dict[str, Any] = {"case": None, "quiet": False}

    def draw(*_: Any) -> None:
        case = state["case"]
        if case is None:
            return
        out.clear_output(wait=True)
        with out:
            fig = plot_case(case, (w_y.value, w_x.value), w_zoom.value, signed=w_signed.value)
            display(fig)
            plt.close(fig)

    def compute(*_: Any) -> None:
        key = (w_set.value, w_img.value, w_setting.value, w_method.value, w_crop.value)
        if state["quiet"] or None in key[:4]:
            return
        if key not in cache:
            status.value = f"<b>computing</b> {w_method.value} on {w_set.value}/{w_img.value} ..."
            for c in controls:
                c.disabled = True
            try:
                cache[key] = compute_case(*key[:4], crop=key[4] or None)
            except Exception as err:  # shown to the reader, not raised into the callback
                status.value = f"<span style='color:#b00'>error: {err}</span>"
                return
            finally:
                for c in controls:
                    c.disabled = False
        state["case"] = cache[key]
        status.value = state["case"].scores_html()
        draw()

    def refill(dropdown: Any, names: list[str], keep: str | None) -> None:
        """New options for a dropdown, then one recomputation (not one per trait change)."""
        state["quiet"] = True
        try:
            dropdown.options = names
            dropdown.value = keep if keep in names else names[0]
        finally:
            state["quiet"] = False
        compute()

    def on_set(change: dict) -> None:
        refill(w_img, image_names(change["new"]), None)

    def on_setting(change: dict) -> None:
        refill(w_method, available_methods(change["new"]), w_method.value)

    w_set.observe(on_set, names="value")
    w_setting.observe(on_setting, names="value")
    for w in (w_img, w_method, w_crop):
        w.observe(compute, names="value")
    for w in (w_x, w_y, w_zoom, w_signed):
        w.observe(draw, names="value")
    ui = widgets.VBox(
        [
            widgets.HBox([w_set, w_img, w_setting, w_method, w_crop], layout=wrap),
            widgets.HBox([w_y, w_x, w_zoom, w_signed], layout=wrap),
            status,
            out,
        ]
    )
    compute()
    return ui


# --------------------------------------------------------------------------------------------
# static explorer (no kernel: state embedded in the notebook)
# --------------------------------------------------------------------------------------------


class _Parts:
    """Widget factory for the static explorer that keeps the embedded state small.

    Every distinct PNG becomes one ``widgets.Image``, shared by all cases that show it (same
    input, same reference), so each picture is stored once; Layout and style models are
    shared as well (each model is stored with all its fields, so models add up).
    """

    def __init__(self) -> None:
        import ipywidgets as widgets
        from ipywidgets.widgets.widget_string import HTMLStyle

        self.widgets = widgets
        self.images: dict[str, Any] = {}
        self.image_layout = widgets.Layout(margin="0 2px")
        self.panel_layout = widgets.Layout(align_items="center", margin="0 0 4px 0")
        self.row_layout = widgets.Layout(flex_flow="row wrap", align_items="flex-end")
        self.html_style = HTMLStyle()  # one style and one layout model for every caption
        self.html_layout = widgets.Layout()

    def image(self, png: bytes, width: int):
        key = hashlib.sha1(png).hexdigest() + f"-{width}"
        if key not in self.images:
            self.images[key] = self.widgets.Image(
                value=png, format="png", width=str(width), layout=self.image_layout
            )
        return self.images[key]

    def html(self, value: str):
        return self.widgets.HTML(value, style=self.html_style, layout=self.html_layout)

    def row(self, panels: Sequence[tuple[str, bytes, int]], beside_last: Sequence[Any] = ()):
        """Captioned pictures side by side, wrapping onto more lines on narrow pages.

        ``beside_last`` (e.g. a colour bar) sits right of the last picture, under its caption.
        """
        boxes = []
        for i, (title, png, w) in enumerate(panels):
            picture = self.image(png, w)
            if beside_last and i == len(panels) - 1:
                picture = self.widgets.HBox([picture, *beside_last], layout=self.html_layout)
            boxes.append(
                self.widgets.VBox(
                    [self.html(f"<small>{title}</small>"), picture], layout=self.panel_layout
                )
            )
        return self.widgets.HBox(boxes, layout=self.row_layout)


def _colourbar_png(limit: float, signed: bool, height: int) -> bytes:
    """A vertical colour bar with tick labels (grey levels), as a small palette PNG."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(0.75, height / 100), dpi=100)
    grad = np.linspace(1, -1 if signed else 0, 256)[:, None] * limit
    ax.imshow(
        grad, aspect="auto", cmap="RdBu_r" if signed else "magma",
        vmin=-limit if signed else 0, vmax=limit, extent=(0, 1, grad[-1, 0], grad[0, 0]),
    )  # fmt: skip
    ax.yaxis.tick_right()
    ax.set_xticks([])
    ax.grid(False)
    ax.tick_params(labelsize=7)
    fig.subplots_adjust(left=0.05, right=0.45, top=0.97, bottom=0.03)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches=None)
    plt.close(fig)
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(colors=64)
    return _png(img)


def static_explorer(
    cases: Sequence[Case],
    *,
    max_px: int = 256,
    regions: int = 4,
    region_px: int = 40,
    zoom: int = 3,
    signed: bool = True,
):
    """Precomputed cases as widgets that stay interactive in static HTML (no kernel).

    One ``widgets.Stack`` child per case: the case's scores, then the input, the restoration,
    the reference and the difference map (each at most ``max_px`` px, PNG) with a colour
    bar, then a nested Stack of ``regions`` zoomed crops (``region_px`` px enlarged ``zoom``
    times by pixel repetition) cut from the same place in every panel, chosen where the
    reference has most texture and outlined on a thumbnail. A Dropdown selects the case and
    ToggleButtons the region; both drive the stacks through ``widgets.jslink``, which the
    browser's widget manager runs without Python. Returns a ``VBox``: ``children[0]`` holds
    the two controls (a VBox), ``children[1]`` is the case Stack; ``explorer_links`` lists
    the ``jslink`` objects (case selector first).
    """
    if not cases:
        raise ValueError("static_explorer needs at least one case")
    parts = _Parts()
    widgets = parts.widgets
    cbars: dict[tuple[float, int], Any] = {}
    children, region_stacks = [], []
    for case in cases:
        lim = diff_limit(case)
        gt = case.ground_truth
        full = [_fit(a, max_px) for a in (case.degraded, case.restored, gt)]
        width = full[0].shape[1]
        ckey = (lim, full[0].shape[0])
        if ckey not in cbars:
            cbars[ckey] = parts.image(_colourbar_png(lim, signed, full[0].shape[0]), 75)
        diff_title = "restored - GT" if signed else "|restored - GT|"
        top = parts.row(
            [
                (f"input ({case.psnr_degraded:.2f} dB)", _png(full[0]), width),
                (f"{case.method} ({case.psnr_restored:.2f} dB)", _png(full[1]), width),
                ("ground truth", _png(full[2]), width),
                (diff_title, _png(_colourise(_fit(case.diff, max_px), lim, signed)), width),
            ],
            beside_last=[cbars[ckey]],
        )
        size = min(region_px, *gt.shape)
        zw = size * zoom
        crops = []
        for t, left in detailed_regions(gt, size, regions):
            z = [_zoom(a, t, left, size, zoom) for a in (case.degraded, case.restored, gt)]
            crops.append(
                parts.row(
                    [
                        ("where", _png(_locator(gt, t, left, size, zw)), zw),
                        ("input", _png(z[0]), zw),
                        (case.method, _png(z[1]), zw),
                        ("ground truth", _png(z[2]), zw),
                        (
                            "difference",
                            _png(_colourise(_zoom(case.diff, t, left, size, zoom), lim, signed)),
                            zw,
                        ),
                    ]
                )
            )
        region_stacks.append(widgets.Stack(crops, selected_index=0))
        children.append(widgets.VBox([parts.html(case.scores_html()), top, region_stacks[-1]]))

    stack = widgets.Stack(children, selected_index=0)
    selector = widgets.Dropdown(
        options=[(c.label, i) for i, c in enumerate(cases)],
        value=0,
        description="case",
        layout=widgets.Layout(width="30em"),
    )
    n_regions = max(len(s.children) for s in region_stacks)
    region = widgets.ToggleButtons(
        options=[(str(i + 1), i) for i in range(n_regions)],
        value=0,
        description="zoomed region",
        tooltips=[f"region {i + 1} (outlined on the thumbnail)" for i in range(n_regions)],
        style={"button_width": "3em", "description_width": "initial"},
    )
    links = [widgets.jslink((selector, "index"), (stack, "selected_index"))]
    links += [widgets.jslink((region, "index"), (s, "selected_index")) for s in region_stacks]
    ui = widgets.VBox([widgets.VBox([selector, region]), stack])
    ui.explorer_links = links  # the Link models, kept with the widget that uses them
    return ui


def embedded_bytes(widget: Any) -> int:
    """Bytes of PNG data held by the ``widgets.Image`` descendants of ``widget`` (each once).

    The notebook stores them base64-encoded, about 4/3 of this.
    """
    seen: dict[int, int] = {}

    def walk(w: Any) -> None:
        if id(w) in seen:
            return
        value = getattr(w, "value", None)
        is_png = isinstance(value, (bytes, memoryview)) and hasattr(w, "format")
        seen[id(w)] = memoryview(value).nbytes if is_png else 0
        for child in getattr(w, "children", ()):
            walk(child)

    walk(widget)
    return sum(seen.values())
