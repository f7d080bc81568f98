"""Look at restorations image by image: every paper's trained models beside the baselines.

The papers show their methods side by side on a few images, with the same zoomed region cut
out of every panel (MemNet Figs. 7-9, RED-Net Figs. 14-16). This module does the same for
every method this project can run, the baselines and the trained models of all four papers
(:mod:`reprolib.restorers`):

* :func:`compare` forms one test pair through the study's evaluation path
  (:func:`reprolib.evaluate.make_pair`), restores it with several methods and scores every
  restoration as the tables do: a :class:`Comparison`, whose pictures and numbers come from the
  same code; :func:`compute_case` is its one-method view (:class:`Case`);
* :func:`showcase` computes the curated comparisons of the book's page (:data:`SHOWCASE`): per
  task, the papers' own showcase images where they are in the available sets, with the trained
  models that apply (each run at the best budget present, labelled with budget and seed);
* :func:`static_explorer` turns comparisons into widgets that need no kernel: PNGs in
  ``widgets.Image`` inside ``widgets.Stack``, switched in the browser by ``jslink``. Executed
  with the widget state stored (nbclient/papermill store it by default), the page stays
  interactive in the book's static HTML;
* :func:`live_explorer` is an ipywidgets UI for a running kernel: any test set, image, setting
  and any methods that apply, trained models included, recomputed (and cached) on change.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from reprolib import data, evaluate, imageops, protocols, restorers

# --------------------------------------------------------------------------------------------
# what can be explored
# --------------------------------------------------------------------------------------------

#: The protocol each task is scored under unless another is asked for.
DEFAULT_PROTOCOL = {
    "sr": "memnet_sr", "denoise": "dncnn_denoise", "jpeg": "memnet_jpeg",
    "inpaint": "red_inpaint", "shadow": "proxy", "motion_blur": "proxy",
}  # fmt: skip

#: Test sets offered by the live explorer (every name :mod:`reprolib.data` knows also works).
DATASETS = (
    "Set12", "BSD68", "BSD200", "Set5", "Set14", "BSD100", "Urban100", "Classic5", "LIVE1",
)  # fmt: skip

#: Settings offered by the live explorer (any setting :func:`protocols.parse_setting` accepts
#: works in :func:`compare`): every level a trained model of the study was trained at.
SETTINGS = (
    "sigma15", "sigma25", "sigma30", "sigma50", "sigma70", "x2", "x3", "x4", "q10", "q20",
    "q30", "q40", "shadow", "motion_blur",
)  # fmt: skip

#: Readable names of Set12's numbered files (the DnCNN test set's usual order).
SET12_NAMES = {
    "01": "Cameraman", "02": "House", "03": "Peppers", "04": "Starfish", "05": "Monarch",
    "06": "Airplane", "07": "Parrot", "08": "Lena", "09": "Barbara", "10": "Boat", "11": "Man",
    "12": "Couple",
}  # fmt: skip


def image_names(dataset: str) -> list[str]:
    """File stems of a set's images, sorted (the names :func:`compare` accepts)."""
    return [key.split("/", 1)[1] for key, _, _ in data.files(dataset)]


def _resolve_image(dataset: str, image: str) -> str:
    """The file stem an image name means: itself, a Set12 alias (``"Barbara"``), any case, or
    a Set5-style name without its suffix (``"butterfly"`` for ``"butterfly_GT"``)."""
    names = image_names(dataset)  # unknown sets raise DatasetError listing the known ones
    if image in names:
        return image
    lower = {n.lower(): n for n in names}
    aliases = {v.lower(): k for k, v in SET12_NAMES.items()} if dataset == "Set12" else {}
    prefixes = [n.lower().split("_")[0] for n in names]
    stripped = {p: n for p, n in zip(prefixes, names) if prefixes.count(p) == 1}
    low = image.lower()
    return lower.get(low) or aliases.get(low) or stripped.get(low) or image


# --------------------------------------------------------------------------------------------
# comparisons
# --------------------------------------------------------------------------------------------


def _luma(img: np.ndarray) -> np.ndarray:
    """The channel an image is scored on, as float64: itself, or Y of an RGB proxy image."""
    return np.asarray(imageops.rgb2y(img) if img.ndim == 3 else img, dtype=np.float64)


@dataclass
class Panel:
    """One method's restoration of a comparison's input.

    ``restored`` is uint8 (for display); ``diff`` is the restoration minus the reference on the
    channel the protocol scores (Y for the RGB proxies), 0-255 scale, float32, from the output
    as scored (rounded where the protocol rounds). ``psnr``/``ssim`` are the protocol's scores.
    """

    method: str
    caption: str
    restored: np.ndarray
    diff: np.ndarray
    psnr: float
    ssim: float
    seconds: float = 0.0
    description: str = ""


@dataclass
class Comparison:
    """One test image at one setting, restored by several methods, from the same input.

    ``degraded`` is the network input (bicubic-upsampled for SR) and ``ground_truth`` the
    reference, both uint8 in the protocol's channel (RGB for the proxies) and of one size
    (``crop``, ``(top, left, height, width)`` of the protocol's reference, when cut). Scores
    are computed by the protocol exactly as in the tables (SR border shave included), per
    image and, when cropped, for the crop only.
    """

    dataset: str
    image: str
    key: str
    setting: str
    protocol: str
    degraded: np.ndarray
    ground_truth: np.ndarray
    psnr_degraded: float
    ssim_degraded: float
    panels: list[Panel]
    crop: tuple[int, int, int, int] | None = None
    note: str = ""
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
        """One line naming it, e.g. ``Set12/09 (Barbara), sigma25: BM3D``."""
        text = f"{self.image_label}, {self.setting}"
        if len(self.panels) == 1:
            text += f": {self.panels[0].method}"
        return text + (f" - {self.note}" if self.note else "")

    def case(self, index: int = 0) -> Case:
        """The one-method view of panel ``index``."""
        p = self.panels[index]
        return Case(
            dataset=self.dataset, image=self.image, key=self.key, setting=self.setting,
            method=p.method, protocol=self.protocol, degraded=self.degraded,
            restored=p.restored, ground_truth=self.ground_truth, diff=p.diff,
            psnr_degraded=self.psnr_degraded, ssim_degraded=self.ssim_degraded,
            psnr_restored=p.psnr, ssim_restored=p.ssim, crop=self.crop, seconds=p.seconds,
            metadata={**self.metadata, "method_description": p.description},
        )  # fmt: skip

    def scores_html(self) -> str:
        """The comparison's numbers as a short HTML paragraph and table."""
        crop = ""
        if self.crop is not None:
            t, left, h, w = self.crop
            crop = f"; crop {h}x{w} at (row {t}, col {left})"
        rows = [("input", self.psnr_degraded, self.ssim_degraded, "", "")]
        rows += [
            (p.caption, p.psnr, p.ssim, f"{p.psnr - self.psnr_degraded:+.2f}", f"{p.seconds:.1f}")
            for p in self.panels
        ]
        body = "".join(
            f"<tr><td>{name}</td><td>{psnr:.2f}</td><td>{ssim:.4f}</td><td>{gain}</td>"
            f"<td>{secs}</td></tr>"
            for name, psnr, ssim, gain, secs in rows
        )
        return (
            f"<b>{self.label}</b><br><small>protocol {self.protocol}{crop}; PSNR (dB) and SSIM "
            "of the region shown; seconds on this machine</small>"
            "<table><tr><th>method</th><th>PSNR</th><th>SSIM</th><th>gain</th><th>s</th></tr>"
            f"{body}</table>"
        )


@dataclass
class Case:
    """One image restored by one method at one setting (a one-panel :class:`Comparison`).

    Images are uint8 arrays in the protocol's channel and of one size: ``degraded`` is the
    network input, ``restored`` the method's output and ``ground_truth`` the reference.
    ``diff`` is restored minus ground truth on the scored channel, 0-255 scale (float32, from
    the output as scored). Scores are the protocol's, per image or for the crop only.
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

    def comparison(self) -> Comparison:
        """The case as a one-panel :class:`Comparison`."""
        panel = Panel(
            self.method, self.method, self.restored, self.diff, self.psnr_restored,
            self.ssim_restored, self.seconds, self.metadata.get("method_description", ""),
        )  # fmt: skip
        return Comparison(
            self.dataset, self.image, self.key, self.setting, self.protocol, self.degraded,
            self.ground_truth, self.psnr_degraded, self.ssim_degraded, [panel], self.crop,
            metadata=self.metadata,
        )  # fmt: skip

    @property
    def task(self) -> str:
        return protocols.parse_setting(self.setting)[0]

    @property
    def image_label(self) -> str:
        return self.comparison().image_label

    @property
    def label(self) -> str:
        """One line naming the case, e.g. ``Set12/09 (Barbara), sigma25: BM3D``."""
        return self.comparison().label

    @property
    def psnr_gain(self) -> float:
        """PSNR of the restoration minus PSNR of its input (dB)."""
        return self.psnr_restored - self.psnr_degraded

    def scores_html(self) -> str:
        return self.comparison().scores_html()


def _crop_box(
    shape: tuple[int, ...], crop: int | tuple[int, int, int] | None, scale: int
) -> tuple[int, int, int, int] | None:
    """``(top, left, height, width)`` of the requested crop, clipped to the image.

    ``crop`` is a size (a central square) or ``(top, left, size)``. Sizes are rounded down to a
    multiple of the SR scale so that the crop needs no further mod-crop.
    """
    if crop is None:
        return None
    h, w = shape[:2]
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


def _pair(
    dataset: str,
    image: str,
    setting: str,
    protocol: str | None,
    crop: int | tuple[int, int, int] | None,
) -> tuple[evaluate.Pair, tuple[int, int, int, int] | None, tuple[int, ...]]:
    """The (cropped) test pair of one image, its crop box and the stored image's shape."""
    task, level = protocols.parse_setting(setting)
    proto = protocols.get(protocol or DEFAULT_PROTOCOL[task])
    proto.task_of(setting)
    loaded = data.load_image(dataset, _resolve_image(dataset, image))
    scale = level if task == "sr" else 1
    box = _crop_box(proto.ground_truth(loaded.pixels, dataset, scale).shape, crop, scale)
    pair = evaluate.make_pair(loaded, dataset, setting, proto.name, box=box)
    return pair, box, loaded.pixels.shape


def _scored_diff(pair: evaluate.Pair, restored: np.ndarray) -> np.ndarray:
    """Restoration minus reference on the scored channel, from the output as scored."""
    proto = protocols.get(pair.protocol)
    out = restored * 255.0
    if proto.round_output:
        out = imageops.to_uint8(out)
    return (_luma(out) - _luma(pair.target)).astype(np.float32)


def _panel(pair: evaluate.Pair, name: str) -> Panel:
    """Restore a pair with the method called ``name`` and score the result."""
    method = restorers.get(name)
    if not method.applies_to(pair.setting):
        raise ValueError(
            f"method {name!r} does not apply to {protocols.parse_setting(pair.setting)[0]} "
            f"setting {pair.setting!r}; methods that do: "
            f"{', '.join(restorers.available(pair.setting))}"
        )
    restore = method.factory(pair.setting)
    t0 = time.perf_counter()
    y = np.asarray(restore(pair.degraded), dtype=np.float64)
    seconds = time.perf_counter() - t0
    if y.shape != pair.degraded.shape:
        raise ValueError(
            f"method {name!r} returned shape {y.shape}, expected {pair.degraded.shape}"
        )
    psnr, ssim = pair.score(y)
    restored = imageops.to_uint8(y * 255.0)
    diff = _scored_diff(pair, y)
    return Panel(name, method.caption, restored, diff, psnr, ssim, seconds, method.description)


def _comparison(
    pair: evaluate.Pair,
    panels: list[Panel],
    box: tuple[int, int, int, int] | None,
    shape: tuple[int, ...],
    note: str = "",
) -> Comparison:
    psnr_in, ssim_in = pair.score(pair.degraded)
    proto = protocols.get(pair.protocol)
    return Comparison(
        dataset=pair.dataset, image=pair.image, key=pair.key, setting=pair.setting,
        protocol=pair.protocol, degraded=imageops.to_uint8(pair.degraded * 255.0),
        ground_truth=pair.target, psnr_degraded=psnr_in, ssim_degraded=ssim_in, panels=panels,
        crop=box, note=note,
        metadata={"task": protocols.parse_setting(pair.setting)[0], "scale": pair.scale,
                  "channel": proto.channel, "image_shape": tuple(shape),
                  "protocol_source": proto.source},
    )  # fmt: skip


def compare(
    dataset: str,
    image: str,
    setting: str,
    methods: Sequence[str] | None = None,
    protocol: str | None = None,
    *,
    crop: int | tuple[int, int, int] | None = None,
    note: str = "",
) -> Comparison:
    """Degrade one test image, restore it with every method in ``methods`` (default: every
    method that applies, :func:`reprolib.restorers.available`) and score all of them.

    ``protocol`` defaults to the task's entry in :data:`DEFAULT_PROTOCOL`. ``crop`` (a size for
    a central square, or ``(top, left, size)``) cuts the reference *before* it is degraded, so
    slow methods (BM3D, deep networks on CPU) only see that region; the degradation is then that
    of the crop (noise seeded by the image key, bicubic and JPEG of the crop itself), not a crop
    of the full-image degradation. Unknown sets, images, methods and settings, and a method or
    protocol that does not fit the setting, raise with the valid choices.
    """
    pair, box, shape = _pair(dataset, image, setting, protocol, crop)
    names = list(methods) if methods is not None else restorers.available(setting)
    panels = [_panel(pair, name) for name in names]
    return _comparison(pair, panels, box, shape, note)


def compute_case(
    dataset: str,
    image_name: str,
    setting: str,
    method: str,
    protocol: str | None = None,
    *,
    crop: int | tuple[int, int, int] | None = None,
) -> Case:
    """One method's restoration of one test image, scored: :func:`compare` for one method."""
    task = protocols.parse_setting(setting)[0]
    protocols.get(protocol or DEFAULT_PROTOCOL[task]).task_of(setting)
    restorers.get(method)  # an unknown method fails before any image is read
    return compare(dataset, image_name, setting, [method], protocol, crop=crop).case(0)


# --------------------------------------------------------------------------------------------
# the curated comparisons of the book's page
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Showcase:
    """One curated comparison: an image, a setting, the baselines and the registry entries
    whose trained models (those that apply) are shown, and where the image comes from."""

    dataset: str
    image: str
    setting: str
    baselines: tuple[str, ...]
    entries: tuple[str, ...]
    crop: int | tuple[int, int, int] | None
    note: str
    protocol: str | None = None


#: The book page's comparisons, per task. Each crop is at most 256 px, cut before degrading;
#: with :func:`static_explorer`'s two zoomed regions of 48 px the page embeds about 5 MB of
#: pictures (``explorer.embedded_bytes``; the notebook stores them base64-encoded, ~4/3).
#: Where a paper's figure names an image that is in the available sets, that image is used:
#: MemNet Fig. 7 ("206062" of BSD200 at sigma 70), Fig. 8 ("108005" of BSD100 = img_007 at x3,
#: "img_002" of Urban100 at x4) and Fig. 9 ("barbara" of Classic5 at q10); RED-Net Fig. 13's
#: test images include Barbara and Boat (Set12). RED-Net Figs. 14-16, MemNet Fig. 9's
#: "lighthouse" and NLRN's figures name no image that is in the available sets.
SHOWCASE: tuple[Showcase, ...] = (
    Showcase("Set12", "09", "sigma25", ("Noisy", "BM3D", "DnCNN"), ("nlrn/table4",),
             (48, 256, 224), "NLRN Table 4's models; RED Fig. 13 test image"),
    Showcase("Set12", "10", "sigma50", ("Noisy", "BM3D", "DnCNN-B"),
             ("rednet/table2", "rednet/fig6", "memnet/table3"), (144, 144, 224),
             "RED-Net's and MemNet's sigma-50 models; RED Fig. 13 test image", "red"),
    Showcase("BSD200", "206062", "sigma70", ("Noisy", "BM3D", "DnCNN-B"), ("memnet/table3",),
             None, "MemNet Fig. 7, second row (half size, MemNet's protocol)", "memnet_denoise"),
    Showcase("BSD100", "img_007_SRF_4_HR", "x3", ("Bicubic", "DnCNN-3"),
             ("memnet/table1", "nlrn/table6", "rednet/table4"), (64, 224, 255),
             "MemNet Fig. 8, first row (BSD 108005)"),
    Showcase("Urban100", "img_002_SRF_4_HR", "x4", ("Bicubic", "DnCNN-3"),
             ("memnet/table1", "nlrn/table6", "rednet/table4"), (256, 384, 256),
             "MemNet Fig. 8, second row"),
    Showcase("Classic5", "barbara", "q10", ("JPEG", "DnCNN-3"), ("memnet/table5",),
             (150, 0, 256), "MemNet Fig. 9, first row"),
    Showcase("BSD200", "103006", "shadow", (), ("memorynet/table4", "memorynet/similarity"),
             224, "MemoryNet Table IV's variants on the synthetic-shadow proxy"),
    Showcase("BSD200", "108036", "motion_blur", (), ("memorynet/table3",), 224,
             "MemoryNet Table III's models on the synthetic motion-blur proxy"),
)  # fmt: skip


def trained_for(entries: Sequence[str], setting: str) -> list[str]:
    """The trained models of registry ``entries`` that apply to ``setting``: each run at the
    best budget present, each set of weights once (:func:`reprolib.restorers.available`)."""
    trained = {m.name: m.trained for m in restorers.trained_methods()}
    found = [n for n in restorers.available(setting) if n in trained]
    found = [n for n in found if trained[n].entry in entries]
    return sorted(found, key=lambda n: entries.index(trained[n].entry))


def showcase(spec: Sequence[Showcase] = SHOWCASE) -> list[Comparison]:
    """The curated comparisons: each image with its baselines and the trained models of its
    entries that are present under the results root."""
    return [
        compare(
            s.dataset,
            s.image,
            s.setting,
            [*s.baselines, *trained_for(s.entries, s.setting)],
            s.protocol,
            crop=s.crop,
            note=s.note,
        )
        for s in spec
    ]


def cases_table(items: Sequence[Comparison | Case]):
    """The numbers, one row per restoration (a pandas DataFrame, for a table under pictures)."""
    import pandas as pd

    rows = []
    for c in map(_as_comparison, items):
        crop = "full" if c.crop is None else "{2}x{3} at ({0}, {1})".format(*c.crop)
        for p in c.panels:
            rows.append({
                "image": c.image_label, "setting": c.setting, "method": p.method,
                "shown as": p.caption, "protocol": c.protocol, "region": crop,
                "input PSNR": c.psnr_degraded, "PSNR": p.psnr,
                "gain (dB)": p.psnr - c.psnr_degraded, "input SSIM": c.ssim_degraded,
                "SSIM": p.ssim, "seconds": p.seconds,
            })  # fmt: skip
    return pd.DataFrame(rows)


def methods_table(items: Sequence[Comparison | Case]):
    """One row per method shown: its name, its caption and what it is (a DataFrame)."""
    import pandas as pd

    rows: dict[str, dict[str, str]] = {}
    for c in map(_as_comparison, items):
        for p in c.panels:
            rows.setdefault(
                p.method, {"method": p.method, "shown as": p.caption, "what it is": p.description}
            )
    return pd.DataFrame(list(rows.values()))


def _as_comparison(item: Comparison | Case) -> Comparison:
    return item.comparison() if isinstance(item, Case) else item


# --------------------------------------------------------------------------------------------
# pictures
# --------------------------------------------------------------------------------------------


def diff_limit(item: Comparison | Case, percentile: float = 99.0) -> float:
    """Colour range (+-, grey levels) of the difference maps of a comparison.

    Half the ``percentile`` of the *input's* absolute error (at least 4), on the scored
    channel: every method restoring the same input is drawn on the same scale, the
    restorations' errors are visible, and the unrestored input (e.g. ``Noisy``) saturates.
    """
    err = np.abs(_luma(item.degraded) - _luma(item.ground_truth))
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
    h, w = gt.shape[:2]
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
    h, w = gt.shape[:2]
    f = px / max(h, w)
    img = Image.fromarray(_fit(gt, px)).convert("RGB")
    box = [left * f, t * f, (left + size) * f - 1, (t + size) * f - 1]
    ImageDraw.Draw(img).rectangle(box, outline=(220, 30, 30), width=2)
    return img.quantize(colors=64)


def _two_lines(caption: str) -> str:
    """``"NLRN\n(nlrn/table4, cpu, seed 0)"`` for a narrow figure title."""
    return caption.replace(" (", "\n(", 1)


def plot_comparison(
    item: Comparison | Case,
    center: tuple[float, float] = (0.5, 0.5),
    zoom: int = 4,
    *,
    signed: bool = True,
):
    """Matplotlib figure of a comparison: the input, every restoration and the reference with
    the zoom region outlined (top row), the same region enlarged from every panel (middle) and
    each picture's difference from the reference on one colour scale (bottom).

    ``center`` is the zoom region's centre as fractions (row, column) of the image; the region
    is ``1/zoom`` of the shorter side, cut at the same place from every panel.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from reprolib import plotting  # noqa: F401  (house style)

    c = _as_comparison(item)
    h, w = c.ground_truth.shape[:2]
    size = max(8, min(h, w) // max(zoom, 1))
    t = int(np.clip(round(center[0] * h - size / 2), 0, h - size))
    left = int(np.clip(round(center[1] * w - size / 2), 0, w - size))
    lim = diff_limit(c)
    input_diff = (_luma(c.degraded) - _luma(c.ground_truth)).astype(np.float32)
    columns = [
        (c.degraded, f"input\n{c.psnr_degraded:.2f} dB / {c.ssim_degraded:.4f}", input_diff),
        *[
            (p.restored, f"{_two_lines(p.caption)}\n{p.psnr:.2f} dB / {p.ssim:.4f}", p.diff)
            for p in c.panels
        ],
        (c.ground_truth, "ground truth\n(reference)", None),
    ]
    n = len(columns)
    fig, axes = plt.subplots(3, n, figsize=(2.6 * n, 8.2), squeeze=False)
    kw = {"vmin": -lim, "vmax": lim, "cmap": "RdBu_r"} if signed else {}
    if not signed:
        kw = {"vmin": 0, "vmax": lim, "cmap": "magma"}
    shown = None
    for col, (arr, title, diff) in enumerate(columns):
        gray = {"cmap": "gray", "vmin": 0, "vmax": 255} if arr.ndim == 2 else {}
        axes[0, col].imshow(arr, interpolation="nearest", **gray)
        axes[0, col].set_title(title, fontsize=8)
        axes[0, col].add_patch(
            Rectangle((left - 0.5, t - 0.5), size, size, fill=False, ec="red", lw=1.2)
        )
        axes[1, col].imshow(arr[t : t + size, left : left + size], interpolation="nearest", **gray)
        if diff is not None:
            shown = axes[2, col].imshow(diff if signed else np.abs(diff), **kw)
            axes[2, col].set_title(("- GT" if signed else "|- GT|") + " (0-255)", fontsize=8)
        for row in range(3):
            axes[row, col].set_axis_off()
    if shown is not None:
        fig.colorbar(shown, cax=axes[2, -1].inset_axes((0.1, 0.0, 0.08, 1.0)))
    fig.suptitle(f"{c.label} ({c.protocol})", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------
# live explorer (needs a kernel)
# --------------------------------------------------------------------------------------------

#: Resolution (dots per inch) of the live explorer's figure, sent as a PNG to an Image widget.
LIVE_DPI = 100

_CROP_CHOICES = (
    ("256 px centre crop", 256),
    ("512 px centre crop", 512),
    ("full image", 0),
)  # 0: no crop


def live_explorer(
    dataset: str = "Set12",
    image: str = "09",
    setting: str = "sigma25",
    method: str | Sequence[str] = "DnCNN",
    *,
    crop: int | None = 256,
):
    """An ipywidgets UI to explore any set, image, setting and methods in a running kernel.

    Dropdowns choose the image (the list follows the set) and the setting; the method list
    follows the setting and offers every method that applies, the trained models of the four
    papers included (:func:`reprolib.restorers.available`); several can be selected (ctrl- or
    shift-click) and are shown side by side. ``crop`` (changeable in the UI) limits the
    computation to a centre crop, as full images take long for BM3D or NLRN on CPU. Sliders
    move and size the zoomed region, shown from the same place in every panel. Restorations
    are cached per method, so going back or adding a method is quick; while one is computed
    the status line says so and the controls are disabled.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    if crop not in {c for _, c in _CROP_CHOICES} | {None}:
        raise ValueError(f"crop must be 256, 512 or None (full image), got {crop!r}")
    pairs: dict[tuple, tuple] = {}
    panels: dict[tuple, Panel] = {}
    wide = {"style": {"description_width": "initial"}}
    wrap = widgets.Layout(flex_flow="row wrap")
    narrow = {"layout": widgets.Layout(width="16em"), **wide}
    chosen = (method,) if isinstance(method, str) else tuple(method)
    w_set = widgets.Dropdown(options=list(DATASETS), value=dataset, description="set", **narrow)
    w_img = widgets.Dropdown(
        options=image_names(dataset), value=image, description="image", **narrow
    )
    w_setting = widgets.Dropdown(
        options=list(SETTINGS), value=setting, description="setting", **narrow
    )
    w_method = widgets.SelectMultiple(
        options=restorers.available(setting), value=chosen, description="methods", rows=6,
        layout=widgets.Layout(width="30em"), **wide,
    )  # fmt: skip
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
    # The figure goes into an Image widget, not an Output widget: under papermill/nbclient an
    # Output widget that receives a display makes the client send a comm message on the shell
    # channel while it waits there for the cell's execute_reply; the zmq wake-up for the reply
    # is lost and the cell sits idle until the execution timeout (nbclient issue #312).
    picture = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
    controls = [w_set, w_img, w_setting, w_method, w_crop]
    state: dict[str, Any] = {"comparison": None, "quiet": False}

    def draw(*_: Any) -> None:
        c = state["comparison"]
        if c is None:
            return
        fig = plot_comparison(c, (w_y.value, w_x.value), w_zoom.value, signed=w_signed.value)
        try:
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=LIVE_DPI, bbox_inches="tight")
            picture.value = buf.getvalue()
        finally:
            plt.close(fig)

    def compute(*_: Any) -> None:
        key = (w_set.value, w_img.value, w_setting.value, w_crop.value)
        if state["quiet"] or None in key[:3] or not w_method.value:
            return
        for c in controls:
            c.disabled = True
        try:
            if key not in pairs:
                status.value = f"<b>loading</b> {w_set.value}/{w_img.value} ..."
                pairs[key] = _pair(*key[:3], None, key[3] or None)
            pair, box, shape = pairs[key]
            for name in w_method.value:
                if (key, name) not in panels:
                    status.value = f"<b>computing</b> {name} on {w_set.value}/{w_img.value} ..."
                    panels[key, name] = _panel(pair, name)
        except Exception as err:  # shown to the reader, not raised into the callback
            status.value = f"<span style='color:#b00'>error: {err}</span>"
            return
        finally:
            for c in controls:
                c.disabled = False
        chosen = [panels[key, name] for name in w_method.value]
        state["comparison"] = _comparison(pair, chosen, box, shape)
        status.value = state["comparison"].scores_html()
        draw()

    def refill(widget: Any, names: list[str], keep: Any) -> None:
        """New options for a selector, then one recomputation (not one per trait change)."""
        state["quiet"] = True
        try:
            widget.options = names
            if isinstance(widget, widgets.SelectMultiple):
                kept = tuple(n for n in keep if n in names)
                widget.value = kept or (names[0],)
            else:
                widget.value = keep if keep in names else names[0]
        finally:
            state["quiet"] = False
        compute()

    def on_set(change: dict) -> None:
        refill(w_img, image_names(change["new"]), None)

    def on_setting(change: dict) -> None:
        refill(w_method, restorers.available(change["new"]), w_method.value)

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
            picture,
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
    items: Sequence[Comparison | Case],
    *,
    max_px: int = 256,
    regions: int = 4,
    region_px: int = 40,
    zoom: int = 3,
    signed: bool = True,
):
    """Precomputed comparisons as widgets that stay interactive in static HTML (no kernel).

    One ``widgets.Stack`` child per comparison (a :class:`Case` is a one-method comparison),
    a ``VBox`` of

    0. the scores (PSNR/SSIM of the input and of every restoration, on the region shown);
    1. the input, every restoration and the reference (each at most ``max_px`` px, PNG),
       captioned with their scores;
    2. a nested Stack of ``regions`` zoomed crops (``region_px`` px enlarged ``zoom`` times by
       pixel repetition) cut from the same place in every panel, chosen where the reference
       has most texture and outlined on a thumbnail;
    3. the difference from the reference of the input and of every restoration, on one colour
       scale (:func:`diff_limit`) with its colour bar.

    A Dropdown selects the comparison and ToggleButtons the region; both drive the stacks
    through ``widgets.jslink``, which the browser's widget manager runs without Python.
    Returns a ``VBox``: ``children[0]`` holds the two controls (a VBox), ``children[1]`` is the
    comparison Stack; ``explorer_links`` lists the ``jslink`` objects (selector first).
    """
    if not items:
        raise ValueError("static_explorer needs at least one case")
    comparisons = [_as_comparison(item) for item in items]
    parts = _Parts()
    widgets = parts.widgets
    cbars: dict[tuple[float, int], Any] = {}
    children, region_stacks = [], []
    for c in comparisons:
        lim = diff_limit(c)
        gt = c.ground_truth
        pictures = [
            (f"input ({c.psnr_degraded:.2f} dB, {c.ssim_degraded:.3f})", c.degraded),
            *[(f"{p.caption} ({p.psnr:.2f} dB, {p.ssim:.3f})", p.restored) for p in c.panels],
            ("ground truth", gt),
        ]
        fitted = [_fit(a, max_px) for _, a in pictures]
        width, height = fitted[0].shape[1], fitted[0].shape[0]
        top = parts.row([(title, _png(a), width) for (title, _), a in zip(pictures, fitted)])
        ckey = (lim, height)
        if ckey not in cbars:
            cbars[ckey] = parts.image(_colourbar_png(lim, signed, height), 75)
        input_diff = _luma(c.degraded) - _luma(gt)
        diffs = [("input - GT", input_diff)]
        diffs += [(f"{p.caption} - GT", p.diff) for p in c.panels]
        diff_row = parts.row(
            [(t, _png(_colourise(_fit(d, max_px), lim, signed)), width) for t, d in diffs],
            beside_last=[cbars[ckey]],
        )
        size = min(region_px, *gt.shape[:2])
        zw = size * zoom
        crops = []
        for t, left in detailed_regions(_luma(gt), size, regions):
            zoomed = [("where", _png(_locator(gt, t, left, size, zw)), zw)]
            zoomed += [
                (title.split(" (")[0], _png(_zoom(a, t, left, size, zoom)), zw)
                for title, a in pictures
            ]
            crops.append(parts.row(zoomed))
        region_stacks.append(widgets.Stack(crops, selected_index=0))
        children.append(
            widgets.VBox([parts.html(c.scores_html()), top, region_stacks[-1], diff_row])
        )

    stack = widgets.Stack(children, selected_index=0)
    selector = widgets.Dropdown(
        options=[(c.label, i) for i, c in enumerate(comparisons)],
        value=0,
        description="case",
        layout=widgets.Layout(width="40em"),
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
