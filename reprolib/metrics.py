"""Image-quality metrics with the MATLAB conventions the four papers were evaluated with.

All functions take numpy arrays. Pixel values are on the [0, 255] scale unless stated; floats
are kept unrounded. The MATLAB conventions applied before scoring (uint8 rounding, Y/gray
conversion, mod-crop, border shave) live in :mod:`reprolib.imageops`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import correlate1d

from reprolib.imageops import to_uint8


def mse(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(np.mean(d * d))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(data_range^2 / MSE); inf for equal images."""
    err = mse(a, b)
    return float("inf") if err == 0 else float(10.0 * np.log10(data_range**2 / err))


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    r = len(g) // 2
    out = correlate1d(correlate1d(img, g, axis=0, mode="constant"), g, axis=1, mode="constant")
    return out[r:-r, r:-r]


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM exactly as Wang et al.'s ``ssim_index.m`` (2004).

    11x11 Gaussian window with sigma 1.5 (``fspecial('gaussian', 11, 1.5)``, which is separable),
    K1 = 0.01, K2 = 0.03, L = ``data_range``, statistics over 'valid' positions only (no padding),
    no automatic downsampling. Inputs are single-channel.
    """
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"ssim expects two equal 2-D images, got {a.shape} and {b.shape}")
    if min(a.shape) < 11:
        raise ValueError(f"ssim needs images of at least 11x11 pixels, got {a.shape}")
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    g = _gaussian_1d()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mu_x * mu_x
    syy = _filter_valid(y * y, g) - mu_y * mu_y
    sxy = _filter_valid(x * y, g) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (sxx + syy + c2)
    return float(np.mean(num / den))


# --------------------------------------------------------------------------------------------
# Shadow removal (ISTD, MemoryNet Table I): errors in CIELAB and PSNR per region.
#
# Table I of MemoryNet (Zhang et al. 2022) reports "RMSE", "RMSE-N", "RMSE-S" and PSNR / SSIM
# over all pixels, the non-shadow region (N) and the shadow region (S) of the ISTD test set
# (Wang et al., CVPR 2018), "in the LAB color space". The rows of the other methods are copied
# from earlier papers, which all use MATLAB scripts descending from Guo et al. (TPAMI 2013) that
# differ in small but visible ways. What the scripts do (read from the public repositories):
#
# * zhangbaijin/SpA-Former-shadow-removal ``evaluate.m`` (commit d38bee9; same first author as
#   MemoryNet; its result folder is ``MPRNet\MPRNet-Memory\test``, i.e. MemoryNet's outputs):
#   images as double/255, ``imresize`` to [480 640] (ISTD's native size, so a no-op; the
#   [256 256] lines are commented out), shadow = ``m ~= 0`` of the test_B mask, LAB via
#   ``applycform(x, makecform('srgb2lab'))``, and the line it prints is "PI-Lab-RMSE": a true
#   root-mean-square error per image, sqrt(sum of squared L, a, b differences over the region /
#   number of region pixels), averaged over images. Its MAE lines are commented out.
# * The Guo / ST-CGAN / SID / DHAN / Fu et al. (Auto-Exposure, CVPR 2021) lineage, as summarised
#   in nachifur/DMTN's ``evaluate_ISTD_results.m``: the number called "RMSE" is a mean *absolute*
#   error, sum of |dL| + |da| + |db| over the region / number of region pixels, printed per
#   image averaged ("PI-Lab") and pooled over the whole set ("PP-Lab"); Fu et al. resize the
#   uint8 images to 256x256 first, Wang et al. and Le & Samaras do not resize.
# * PSNR in every script is MATLAB ``psnr`` on the RGB images in [0, 1] (not LAB, whatever the
#   paper's sentence says), and the region PSNRs are computed on images multiplied by the region
#   mask, so the squared error is divided by *all* 3 H W values; this is why PSNR-S is higher
#   than PSNR in Table I (results/claims) although the shadow region has the larger error.
#
# The defaults below follow MemoryNet's own script (true RMSE, native size, per-image mean);
# ``kind="mae"``, ``size=(256, 256)``, ``resize_uint8=True`` and ``reduce="pixel"`` give the
# lineage's variants. Bit-exactness with MATLAB is not claimed for the LAB transform (see
# :func:`srgb2lab`); differences are in the fourth significant digit of L, a, b.
# --------------------------------------------------------------------------------------------

SHADOW_REGIONS = ("shadow", "non_shadow", "all")

# Bradford cone-response matrix (Lam 1985; ICC.1 Annex E), for adapting D65 XYZ to the D50 PCS.
_BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)


def _bradford(src_white: np.ndarray, dst_white: np.ndarray) -> np.ndarray:
    cone = np.diag((_BRADFORD @ dst_white) / (_BRADFORD @ src_white))
    return np.linalg.inv(_BRADFORD) @ cone @ _BRADFORD


def srgb2lab(rgb: np.ndarray, white: str = "d50") -> np.ndarray:
    """CIELAB of an sRGB image (``HxWx3``, values on the [0, 255] scale, any real dtype).

    ``white="d50"`` (default) mimics MATLAB ``applycform(x, makecform('srgb2lab'))``, which the
    ISTD evaluation scripts use: makecform's sRGB transforms are relative to the ICC profile
    connection space, i.e. XYZ chromatically adapted to D50 and L*a*b* with a D50 white
    (MathWorks ``makecform`` documentation, "AdaptedWhitePoint"; MATLAB's newer ``rgb2lab``
    defaults to D65 instead). It is computed as scikit-image ``rgb2xyz`` (IEC 61966-2-1 sRGB
    decoding, D65 matrix), a Bradford D65 -> D50 adaptation, then ``xyz2lab`` with the D50
    white. Check: [0.2, 0.3, 0.4] gives (31.329, -4.074, -18.173) here and (31.3294, -4.0732,
    -18.1750) in MathWorks' ``rgb2lab(..., 'WhitePoint', 'd50')`` example.

    ``white="d65"`` is plain :func:`skimage.color.rgb2lab`, the usual Python stand-in (e.g.
    ports of the evaluation to Python); its a*, b* differ by a few units from the D50 values for
    saturated colours, so errors measured with it are not comparable to the MATLAB tables.
    """
    from skimage import color  # local import: scikit-image is slow to import

    x = np.asarray(rgb, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"srgb2lab expects an HxWx3 image, got shape {x.shape}")
    x = x / 255.0
    if white == "d65":
        return color.rgb2lab(x)
    if white == "d50":
        w65 = color.xyz_tristimulus_values(illuminant="D65", observer="2")
        w50 = color.xyz_tristimulus_values(illuminant="D50", observer="2")
        xyz = color.rgb2xyz(x) @ _bradford(w65, w50).T
        return color.xyz2lab(xyz, illuminant="D50", observer="2")
    raise ValueError(f"white must be 'd50' (MATLAB makecform) or 'd65' (skimage), got {white!r}")


def _shadow_inputs(
    pred: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    size: tuple[int, int] | None,
    resize_uint8: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and (optionally) resize like the MATLAB scripts; float images on [0, 255]."""
    from reprolib.imresize import imresize  # local import keeps this module light

    pred, target, mask = np.asarray(pred), np.asarray(target), np.asarray(mask)
    if pred.shape != target.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"expected two equal HxWx3 images, got {pred.shape} and {target.shape}")
    if mask.shape != pred.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image size {pred.shape[:2]}")
    if mask.dtype == np.bool_:
        m8 = mask.astype(np.uint8) * 255
    elif np.issubdtype(mask.dtype, np.integer) and mask.min(initial=0) >= 0:
        m8 = np.clip(mask, 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"mask must be boolean or a non-negative integer image, got {mask.dtype}")
    if size is not None and tuple(size) != pred.shape[:2]:
        shape = tuple(int(v) for v in size)
        if resize_uint8:  # Fu et al. 2021: imresize(uint8) first, then double
            pred = imresize(to_uint8(pred), output_shape=shape)
            target = imresize(to_uint8(target), output_shape=shape)
        else:  # SpA-Former / MemoryNet evaluate.m: double first, then imresize (no rounding)
            pred = imresize(np.asarray(pred, np.float64), output_shape=shape)
            target = imresize(np.asarray(target, np.float64), output_shape=shape)
        m8 = imresize(m8, output_shape=shape)  # uint8 in MATLAB too: rounded and saturated
    # MATLAB: nmask = ~m; smask = ~nmask, so every non-zero mask value is shadow.
    return np.asarray(pred, np.float64), np.asarray(target, np.float64), m8 != 0


@dataclass(frozen=True)
class LabRegionSums:
    """Per-image sums of CIELAB errors by region, from which every published variant follows.

    ``abs_*`` = sum over the region's pixels of |dL| + |da| + |db|; ``sq_*`` = sum of
    dL^2 + da^2 + db^2; ``n_*`` = number of pixels. The channel errors are *summed*, not
    averaged, as in the MATLAB scripts (``sum(dist(:)) / npixels`` over an HxWx3 array).
    """

    abs_shadow: float
    abs_non_shadow: float
    sq_shadow: float
    sq_non_shadow: float
    n_shadow: int
    n_non_shadow: int

    @classmethod
    def from_lab(
        cls, pred_lab: np.ndarray, target_lab: np.ndarray, shadow: np.ndarray
    ) -> LabRegionSums:
        """Sums from two ``HxWx3`` L*a*b* images and a boolean ``HxW`` shadow mask."""
        if pred_lab.shape != target_lab.shape or shadow.shape != pred_lab.shape[:2]:
            raise ValueError(
                f"shapes differ: {pred_lab.shape}, {target_lab.shape}, mask {shadow.shape}"
            )
        shadow = np.asarray(shadow, dtype=bool)
        d = np.asarray(pred_lab, np.float64) - np.asarray(target_lab, np.float64)
        per_abs = np.abs(d).sum(axis=-1)
        per_sq = (d * d).sum(axis=-1)
        return cls(
            abs_shadow=float(per_abs[shadow].sum()),
            abs_non_shadow=float(per_abs[~shadow].sum()),
            sq_shadow=float(per_sq[shadow].sum()),
            sq_non_shadow=float(per_sq[~shadow].sum()),
            n_shadow=int(shadow.sum()),
            n_non_shadow=int((~shadow).sum()),
        )

    def __add__(self, other: LabRegionSums) -> LabRegionSums:
        return LabRegionSums(
            *(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__)
        )

    def values(self, kind: str = "rmse") -> dict[str, float]:
        """``{'shadow', 'non_shadow', 'all'}``: RMSE (``kind='rmse'``) or MAE (``'mae'``).

        An empty region gives NaN (MATLAB's 0/0).
        """
        if kind == "rmse":
            s, n = self.sq_shadow, self.sq_non_shadow
        elif kind == "mae":
            s, n = self.abs_shadow, self.abs_non_shadow
        else:
            raise ValueError(f"kind must be 'rmse' or 'mae', got {kind!r}")
        total = self.n_shadow + self.n_non_shadow
        out = {
            "shadow": s / self.n_shadow if self.n_shadow else float("nan"),
            "non_shadow": n / self.n_non_shadow if self.n_non_shadow else float("nan"),
            "all": (s + n) / total if total else float("nan"),
        }
        if kind == "rmse":
            out = {k: float(np.sqrt(v)) for k, v in out.items()}
        return {k: float(v) for k, v in out.items()}


def lab_error_sums(
    pred_rgb: np.ndarray,
    target_rgb: np.ndarray,
    mask: np.ndarray,
    *,
    size: tuple[int, int] | None = None,
    resize_uint8: bool = False,
    white: str = "d50",
) -> LabRegionSums:
    """Region sums of the L*a*b* error of one image; see :func:`lab_rmse_regions`."""
    p, t, shadow = _shadow_inputs(pred_rgb, target_rgb, mask, size, resize_uint8)
    return LabRegionSums.from_lab(srgb2lab(p, white), srgb2lab(t, white), shadow)


def lab_rmse_regions(
    pred_rgb: np.ndarray,
    target_rgb: np.ndarray,
    mask: np.ndarray,
    *,
    kind: str = "rmse",
    size: tuple[int, int] | None = None,
    resize_uint8: bool = False,
    white: str = "d50",
) -> dict[str, float]:
    """Shadow-removal error in CIELAB over the shadow, non-shadow and whole image (one image).

    Returns ``{'shadow': S, 'non_shadow': NS, 'all': All}`` (MemoryNet Table I columns RMSE-S,
    RMSE-N, RMSE). ``pred_rgb`` / ``target_rgb`` are ``HxWx3`` sRGB images on the [0, 255]
    scale (normally uint8, as the result PNGs are); ``mask`` is the ISTD test_B mask, boolean or
    its raw uint8 values (every non-zero value counts as shadow, as MATLAB's ``~m``).

    ``kind='rmse'`` (default): sqrt(sum over region pixels of dL^2 + da^2 + db^2 / pixels), the
    value MemoryNet's first author's script prints (SpA-Former ``evaluate.m``, "PI-Lab-RMSE").
    ``kind='mae'``: sum of |dL| + |da| + |db| / pixels, the number that Guo et al. (TPAMI 2013),
    ST-CGAN (Wang et al., CVPR 2018), SID (Le & Samaras, ICCV 2019), DHAN (Cun et al., AAAI
    2020) and Auto-Exposure (Fu et al., CVPR 2021) call "RMSE": despite the name it is a mean
    absolute error, and the other rows of Table I were measured that way.

    ``size=(256, 256)`` resizes with MATLAB bicubic ``imresize`` first (DHAN / Fu et al.
    protocol); ``resize_uint8=True`` resizes the uint8 images before the conversion to double,
    as Fu et al.'s script does for the LAB error (the default resizes the doubles, as
    ``evaluate.m``). The mask is resized as uint8 and thresholded at non-zero. ``size=None``
    (default) keeps ISTD's native 480x640, which is what ``evaluate.m``'s [480 640] does.
    ``white`` selects the LAB transform, see :func:`srgb2lab`.

    ``all`` is the pixel-weighted combination of the regions: for MAE
    ``(n_S S + n_NS NS) / (n_S + n_NS)``, for RMSE the same on the squares.
    """
    sums = lab_error_sums(
        pred_rgb, target_rgb, mask, size=size, resize_uint8=resize_uint8, white=white
    )
    return sums.values(kind)


def lab_rmse_dataset(
    triples: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    kind: str = "rmse",
    reduce: str = "image",
    size: tuple[int, int] | None = None,
    resize_uint8: bool = False,
    white: str = "d50",
) -> dict[str, float]:
    """:func:`lab_rmse_regions` over a test set of ``(pred, target, mask)`` triples.

    ``reduce='image'`` (default, "PI" in the scripts): the per-image values are averaged, each
    image weighing the same; this is what ``evaluate.m`` prints for MemoryNet. ``reduce='pixel'``
    ("PP"): errors and pixel counts are pooled over the whole set before dividing, so images
    with a large shadow weigh more in S and NS. S and NS can differ noticeably between the two
    because ISTD's shadow areas vary a lot between scenes; ``all`` is the same for both under
    MAE when every image has the same size (ISTD: 480x640), as DMTN's script notes. Published
    tables do not always say which one they report.
    """
    if reduce not in ("image", "pixel"):
        raise ValueError(f"reduce must be 'image' or 'pixel', got {reduce!r}")
    per_image: list[dict[str, float]] = []
    pooled: LabRegionSums | None = None
    for pred, target, mask in triples:
        s = lab_error_sums(pred, target, mask, size=size, resize_uint8=resize_uint8, white=white)
        per_image.append(s.values(kind))
        pooled = s if pooled is None else pooled + s
    if pooled is None:
        raise ValueError("no images to evaluate")
    if reduce == "pixel":
        return pooled.values(kind)
    return {r: float(np.mean([v[r] for v in per_image])) for r in SHADOW_REGIONS}


def shadow_psnr_regions(
    pred_rgb: np.ndarray,
    target_rgb: np.ndarray,
    mask: np.ndarray,
    *,
    normalize: str = "image",
    size: tuple[int, int] | None = None,
) -> dict[str, float]:
    """PSNR over the shadow, non-shadow and whole image, as the ISTD MATLAB scripts compute it.

    Returns ``{'shadow', 'non_shadow', 'all'}`` in dB (MemoryNet Table I PSNR-S, PSNR-N, PSNR).
    The scripts call MATLAB ``psnr`` on the **RGB** images in [0, 1] (peak 1; identical to peak
    255 on [0, 255]) before any LAB conversion, although MemoryNet's text says "in the LAB color
    space"; a PSNR in LAB would need a peak value nobody defines, so RGB is used here.

    ``normalize='image'`` (default, the scripts' ``psnr(s.*smask, f.*smask)``): pixels outside
    the region are zeroed in both images and the squared error is averaged over all 3 H W
    values, so MSE_all = MSE_S + MSE_NS and a small region gets a high PSNR.
    ``normalize='region'``: the squared error is averaged over the region's values only, so
    ``n_S MSE_S + n_NS MSE_NS = N MSE_all``. Identical images give ``inf``; an empty region
    gives ``inf`` under 'image' (zero error) and NaN under 'region'.
    """
    p, t, shadow = _shadow_inputs(pred_rgb, target_rgb, mask, size, resize_uint8=False)
    if normalize not in ("image", "region"):
        raise ValueError(f"normalize must be 'image' or 'region', got {normalize!r}")
    d2 = ((p - t) ** 2).sum(axis=-1)  # sum over the three channels, [0, 255] scale
    n_values = 3 * shadow.size
    out = {}
    for name, region in (("shadow", shadow), ("non_shadow", ~shadow), ("all", None)):
        err = d2.sum() if region is None else d2[region].sum()
        if normalize == "image" or region is None:
            denom = n_values
        else:
            denom = 3 * int(region.sum())
        if denom == 0:
            out[name] = float("nan")
            continue
        m = err / denom
        out[name] = float("inf") if m == 0 else float(10.0 * np.log10(255.0**2 / m))
    return out


def shadow_psnr_dataset(
    triples: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    normalize: str = "image",
    size: tuple[int, int] | None = None,
) -> dict[str, float]:
    """Mean over images of :func:`shadow_psnr_regions` (the scripts' ``mean(ppsnr)`` etc.)."""
    vals = [shadow_psnr_regions(p, t, m, normalize=normalize, size=size) for p, t, m in triples]
    if not vals:
        raise ValueError("no images to evaluate")
    return {r: float(np.mean([v[r] for v in vals])) for r in SHADOW_REGIONS}
