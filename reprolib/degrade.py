"""Degradation operators of the four papers' protocols (numpy in, numpy out).

Conventions
-----------
* Images are ``HxW`` (grayscale / Y channel) or ``HxWxC`` (colour, ``C = 3`` for RGB) arrays on
  the **[0, 255] pixel scale**, either ``uint8`` or floating point.
* Operators that MATLAB applies to ``uint8`` images and that return ``uint8`` in MATLAB
  (``imresize``, ``imfilter``, ``imwrite``-JPEG) keep that behaviour here: ``uint8`` in, ``uint8``
  out, rounded half away from zero and saturated. Floating-point input is computed in float64 and
  returned as float64, never rounded or clipped unless asked.
* Additive noise is always returned as float64 (the noisy image is not quantised in the MemNet,
  RED-Net and NLRN denoising protocols).
* Every random degradation is deterministic: its random generator is derived from a stable hash
  of a caller-supplied ``key`` (e.g. the image's file name) plus the degradation's parameters (see
  :func:`rng_for`). The same key always gives the same corruption, on any machine, independent
  of call order, so training pairs and test sets are reproducible without storing them.

Contents
--------
* :func:`add_gaussian_noise` -- AWGN (MemNet Sec. 5.1, RED-Net Sec. 5.2, NLRN Sec. 5).
* :func:`bicubic_degrade` -- MATLAB bicubic down/up-sampling for SR (MemNet Sec. 5.1, RED-Net
  Sec. 5.3, NLRN Sec. 5); the resize itself lives in :mod:`reprolib.imresize`, mod-crop in
  :mod:`reprolib.imageops`.
* :func:`jpeg` -- JPEG compression at a quality factor (MemNet Sec. 5.1, RED-Net Sec. 5.4).
* :func:`fspecial_gaussian`, :func:`fspecial_disk`, :func:`fspecial_motion`,
  :func:`deblur_kernel`, :func:`blur` -- blur kernels of RED-Net Sec. 5.5 and the filtering.
* :func:`text_overlay`, :func:`random_scratches`, :func:`inpaint_corruption` -- inpainting
  corruptions of RED-Net Sec. 5.6.
* :func:`synthetic_shadow`, :func:`synthetic_motion_blur`, :func:`synthetic_proxy` -- synthetic
  *proxies* for MemoryNet's ISTD shadow-removal and GoPro deblurring data (MemoryNet Sec. IV),
  which are not available here. They are not the real datasets and results on them are not
  comparable with the paper.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Sequence

import numpy as np
import scipy.ndimage as ndi
import scipy.signal as sps
from PIL import Image, ImageDraw, ImageFont

from reprolib.imageops import to_uint8
from reprolib.imresize import imresize

__all__ = [
    "rng_for",
    "add_gaussian_noise",
    "bicubic_degrade",
    "jpeg",
    "ijg_quant_table",
    "fspecial_gaussian",
    "fspecial_disk",
    "fspecial_motion",
    "deblur_kernel",
    "DEBLUR_KERNELS",
    "blur",
    "text_overlay",
    "random_scratches",
    "inpaint_corruption",
    "SCRATCH_LEVEL",
    "synthetic_shadow",
    "synthetic_motion_blur",
    "synthetic_proxy",
    "PROXY_TASKS",
]

_EPS = np.finfo(np.float64).eps

#: The synthetic stand-ins for MemoryNet's tasks (:func:`synthetic_proxy`).
PROXY_TASKS: tuple[str, ...] = ("shadow", "motion_blur")

#: The inpainting "level" of scratch removal; text removal's level is its font size
#: (:func:`inpaint_corruption`, RED-Net Sec. 5.6).
SCRATCH_LEVEL = 0


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _canon(part: object) -> str:
    """Stable text form of one seed component (``25``, ``25.0`` and ``np.float32(25)`` agree)."""
    if isinstance(part, (bool, np.bool_)):
        return "b:" + str(bool(part))
    if isinstance(part, (int, np.integer)):
        return "n:" + str(int(part))
    if isinstance(part, (float, np.floating)):
        f = float(part)
        return "n:" + (str(int(f)) if f.is_integer() else repr(f))
    if isinstance(part, (tuple, list)):
        return "t:(" + ",".join(_canon(p) for p in part) + ")"
    return "s:" + str(part)


def rng_for(*parts: object) -> np.random.Generator:
    """Deterministic random generator for a tuple of seed components.

    Seeding scheme: each component is turned into canonical text (integers and integral floats
    as decimal integers, other floats via ``repr``, strings verbatim, tuples recursively); the
    pieces are joined with the unit separator ``\\x1f``, UTF-8 encoded and hashed with SHA-256.
    The 256-bit digest (big-endian integer) is the entropy of a ``numpy.random.SeedSequence``
    driving a ``PCG64`` generator. The result depends only on the components, not on Python's
    ``hash`` randomisation, the call order or the platform.
    """
    text = "\x1f".join(_canon(p) for p in parts)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    seq = np.random.SeedSequence(int.from_bytes(digest, "big"))
    return np.random.Generator(np.random.PCG64(seq))


def _check_image(img: np.ndarray, name: str = "img") -> np.ndarray:
    arr = np.asarray(img)
    if arr.ndim not in (2, 3) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be a non-empty HxW or HxWxC array, got shape {arr.shape}")
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"{name} must have a real numeric dtype, got {arr.dtype}")
    return arr


def _check_key(key: object) -> None:
    if not isinstance(key, (str, int, np.integer)) or isinstance(key, bool):
        raise ValueError(f"key must be a str or int, got {type(key).__name__}")


def _like_input(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Return ``out`` as uint8 (MATLAB rounding) when ``ref`` is uint8, else as float64."""
    if ref.dtype == np.uint8:
        return to_uint8(out)
    return np.asarray(out, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# 1. additive white Gaussian noise
# --------------------------------------------------------------------------------------------


def add_gaussian_noise(
    img: np.ndarray,
    sigma: float,
    *,
    key: str | int,
    base_seed: int = 0,
    clip: bool = False,
) -> np.ndarray:
    """Add zero-mean white Gaussian noise of standard deviation ``sigma`` (in [0, 255] units).

    Denoising protocols (MemNet Sec. 5.1, RED-Net Sec. 5.2, NLRN Sec. 5) add
    ``sigma * randn`` to the clean image and do not clip or quantise the noisy input; that is
    the default here (``clip=False``). ``clip=True`` clips the result to ``[0, 255]``.

    Seeding: the noise field is ``rng_for("gaussian_noise", str(key), sigma, base_seed)
    .standard_normal(img.shape) * sigma`` (see :func:`rng_for`: SHA-256 of the canonical text
    of the components -> ``SeedSequence`` -> ``PCG64``). ``sigma`` enters as a number, so ``25``
    and ``25.0`` give the same noise; ``key`` enters as text, so ``3`` and ``"3"`` are the same
    key. Different sigmas get independent (not rescaled) noise fields. Colour images get
    independent noise per channel.

    Returns the noisy image as float64 of the same shape.
    """
    arr = _check_image(img)
    _check_key(key)
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.integer, np.floating)):
        raise ValueError(f"sigma must be a real number >= 0, got {sigma!r}")
    if not math.isfinite(float(sigma)) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0 (pixel units, 0-255), got {sigma}")
    if not isinstance(base_seed, (int, np.integer)) or isinstance(base_seed, bool):
        raise ValueError(f"base_seed must be an int, got {base_seed!r}")
    rng = rng_for("gaussian_noise", str(key), float(sigma), int(base_seed))
    noisy = arr.astype(np.float64) + float(sigma) * rng.standard_normal(arr.shape)
    if clip:
        noisy = np.clip(noisy, 0.0, 255.0)
    return noisy


# --------------------------------------------------------------------------------------------
# 2. bicubic degradation for super-resolution
# --------------------------------------------------------------------------------------------


def _check_scale(scale: object) -> int:
    if isinstance(scale, bool) or scale not in (2, 3, 4):
        raise ValueError(f"scale must be 2, 3 or 4, got {scale!r}")
    return int(scale)  # type: ignore[arg-type]


def bicubic_degrade(hr: np.ndarray, scale: int, *, output: str = "float") -> np.ndarray:
    """Bicubic down-sampling by ``scale`` then up-sampling back (MATLAB ``imresize`` twice).

    This is the SR input of MemNet (Sec. 5.1 and official code), RED-Net (Sec. 5.3) and NLRN
    (Sec. 5): the HR image (already :func:`reprolib.imageops.modcrop`-ed, else ``ValueError``)
    is resized by ``1/scale`` and back by ``scale`` with :func:`reprolib.imresize.imresize`.

    ``output`` selects the arithmetic:

    * ``"float"`` (default): float64 all the way, no rounding -- the network input of the
      authors' code (MATLAB ``imresize`` on ``im2double`` / ``single`` data; the [0, 1] vs
      [0, 255] scale does not matter because the operator is linear). Returns float64.
    * ``"uint8"``: same float64 computation, the final image rounded and saturated to uint8 --
      this is how the bicubic baseline rows of the SR tables are obtained (checked on Set5).
    * ``"uint8_per_pass"``: MATLAB ``imresize`` applied directly to a uint8 image, i.e. the
      result of every 1-D pass rounded to uint8 (two passes per resize). Requires uint8 input.
    """
    arr = _check_image(hr, "hr")
    s = _check_scale(scale)
    if output not in ("float", "uint8", "uint8_per_pass"):
        raise ValueError(f"output must be 'float', 'uint8' or 'uint8_per_pass', got {output!r}")
    h, w = arr.shape[:2]
    if h % s or w % s:
        raise ValueError(
            f"hr shape {arr.shape[:2]} is not a multiple of scale {s}; apply modcrop(hr, {s}) first"
        )
    if output == "uint8_per_pass":
        if arr.dtype != np.uint8:
            raise ValueError(f"output='uint8_per_pass' needs uint8 input, got {arr.dtype}")
        return imresize(imresize(arr, 1.0 / s), float(s))
    up = imresize(imresize(arr.astype(np.float64), 1.0 / s), float(s))
    return to_uint8(up) if output == "uint8" else up


# --------------------------------------------------------------------------------------------
# 3. JPEG
# --------------------------------------------------------------------------------------------

# ITU-T T.81 Annex K.1 luminance table (natural row-major order), the base of IJG's tables.
_ANNEX_K_LUMA = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.int64,
)


def _check_quality(quality: object) -> int:
    if (
        isinstance(quality, bool)
        or not isinstance(quality, (int, np.integer))
        or not 1 <= quality <= 100
    ):
        raise ValueError(f"quality must be an integer in 1..100, got {quality!r}")
    return int(quality)


def ijg_quant_table(quality: int) -> np.ndarray:
    """IJG libjpeg luminance quantisation table at ``quality`` (``jpeg_set_quality``, baseline).

    ``scale = 5000 / q`` for ``q < 50`` else ``200 - 2 q``; entries ``(base * scale + 50) // 100``
    clamped to ``[1, 255]`` (baseline forced, as Pillow does; the clamp only matters below
    quality ~25, e.g. for q = 10 and 20, and that MATLAB's ``imwrite`` clamps the same way is
    assumed, not verified here). Used to check that :func:`jpeg` writes the standard tables.
    """
    q = _check_quality(quality)
    scale = 5000 // q if q < 50 else 200 - 2 * q
    return np.clip((_ANNEX_K_LUMA * scale + 50) // 100, 1, 255)


def jpeg(img_uint8: np.ndarray, quality: int) -> np.ndarray:
    """JPEG-compress and decode a uint8 image at IJG quality ``quality`` (1..100).

    Protocol of MemNet (Sec. 5.1) and RED-Net (Sec. 5.4): MATLAB ``imwrite(Y, f, 'Quality', q)``
    of the uint8 Y channel, then ``imread``. Pillow's encoder is libjpeg(-turbo) and
    ``save(..., quality=q)`` calls ``jpeg_set_quality`` with baseline forcing, which produces
    the standard IJG tables (Annex K scaled, clamped to 1..255; see :func:`ijg_quant_table`).
    For a single-channel image ``subsampling`` does not apply (one component), ``optimize``
    only re-derives the Huffman tables (lossless: decoded pixels are identical) and
    ``qtables`` is left unset so that the standard tables are used. DCT is libjpeg's default
    integer slow DCT (``JDCT_ISLOW``), as in IJG 6b. Colour (``HxWx3``) input is written as
    YCbCr with Pillow's default 4:2:0 chroma subsampling (libjpeg's default).

    Accepts ``HxW``, ``HxWx1`` or ``HxWx3`` uint8; returns uint8 of the same shape.
    """
    arr = _check_image(img_uint8, "img_uint8")
    if arr.dtype != np.uint8:
        raise ValueError(f"img_uint8 must have dtype uint8, got {arr.dtype}")
    q = _check_quality(quality)
    squeeze = arr.ndim == 3 and arr.shape[2] == 1
    if squeeze:
        arr = arr[:, :, 0]
    if arr.ndim == 3 and arr.shape[2] != 3:
        raise ValueError(f"img_uint8 must be HxW, HxWx1 or HxWx3, got shape {arr.shape}")
    mode = "L" if arr.ndim == 2 else "RGB"
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr), mode=mode).save(buf, format="JPEG", quality=q)
    buf.seek(0)
    with Image.open(buf) as im:
        out = np.asarray(im.convert(mode), dtype=np.uint8).copy()
    return out[:, :, None] if squeeze else out


# --------------------------------------------------------------------------------------------
# 4. blur kernels (MATLAB fspecial) and filtering (MATLAB imfilter)
# --------------------------------------------------------------------------------------------


def _hsize_pair(hsize: int | Sequence[int]) -> tuple[int, int]:
    vals = (hsize, hsize) if np.isscalar(hsize) else tuple(hsize)  # type: ignore[arg-type]
    if len(vals) != 2 or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in vals
    ):
        raise ValueError(f"hsize must be a positive integer or a pair of them, got {hsize!r}")
    return int(vals[0]), int(vals[1])


def fspecial_gaussian(hsize: int | Sequence[int] = 3, sigma: float = 0.5) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', hsize, sigma)``: rotationally symmetric Gaussian, sum 1.

    ``exp(-(x^2 + y^2) / (2 sigma^2))`` on the grid ``-(hsize-1)/2 .. (hsize-1)/2``, values below
    ``eps * max`` set to 0, then normalised to sum 1.
    """
    rows, cols = _hsize_pair(hsize)
    if not (isinstance(sigma, (int, float, np.integer, np.floating)) and sigma > 0) or not (
        math.isfinite(float(sigma))
    ):
        raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
    y = np.arange(rows, dtype=np.float64) - (rows - 1) / 2.0
    x = np.arange(cols, dtype=np.float64) - (cols - 1) / 2.0
    xx, yy = np.meshgrid(x, y)
    h = np.exp(-(xx * xx + yy * yy) / (2.0 * float(sigma) ** 2))
    h[h < _EPS * h.max()] = 0.0
    return h / h.sum()


def fspecial_disk(radius: float = 5.0) -> np.ndarray:
    """MATLAB ``fspecial('disk', radius)``: pillbox of the given radius, sum 1.

    Each entry is the area of the pixel square covered by the disk (MATLAB's analytic
    formula, including its corrections for the pixels the circle barely touches), size
    ``2 * ceil(radius - 0.5) + 1``. Computed in complex arithmetic so that MATLAB's
    ``0 * sqrt(negative)`` terms vanish exactly as they do in MATLAB.
    """
    if not (isinstance(radius, (int, float, np.integer, np.floating)) and radius > 0) or not (
        math.isfinite(float(radius))
    ):
        raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
    rad = float(radius)
    crad = int(math.ceil(rad - 0.5))
    rng_ = np.arange(-crad, crad + 1, dtype=np.float64)
    x, y = np.meshgrid(rng_, rng_)
    maxxy = np.maximum(np.abs(x), np.abs(y)).astype(np.complex128)
    minxy = np.minimum(np.abs(x), np.abs(y)).astype(np.complex128)
    r2 = rad * rad
    mx, mn = maxxy.real, minxy.real

    def csqrt(v: np.ndarray) -> np.ndarray:
        return np.sqrt(v.astype(np.complex128))

    c1 = r2 < (mx + 0.5) ** 2 + (mn - 0.5) ** 2
    m1 = c1 * (minxy - 0.5) + (~c1) * csqrt(r2 - (maxxy + 0.5) ** 2)
    c2 = r2 > (mx - 0.5) ** 2 + (mn + 0.5) ** 2
    m2 = c2 * (minxy + 0.5) + (~c2) * csqrt(r2 - (maxxy - 0.5) ** 2)
    a2 = np.arcsin(m2 / rad)
    a1 = np.arcsin(m1 / rad)
    region = (
        (r2 < (mx + 0.5) ** 2 + (mn + 0.5) ** 2) & (r2 > (mx - 0.5) ** 2 + (mn - 0.5) ** 2)
    ) | ((mn == 0) & (mx - 0.5 < rad) & (mx + 0.5 >= rad))
    sgrid = (
        r2 * (0.5 * (a2 - a1) + 0.25 * (np.sin(2 * a2) - np.sin(2 * a1)))
        - (maxxy - 0.5) * (m2 - m1)
        + (m1 - minxy + 0.5)
    ) * region
    sgrid = sgrid + ((mx + 0.5) ** 2 + (mn + 0.5) ** 2 < r2)
    c = crad  # 0-based centre index
    sgrid[c, c] = min(math.pi * r2, math.pi / 2)
    if crad > 0 and rad > crad - 0.5 and r2 < (crad - 0.5) ** 2 + 0.25:
        m1s = math.sqrt(r2 - (crad - 0.5) ** 2)
        m1n = m1s / rad
        sg0 = 2 * (
            r2 * (0.5 * math.asin(m1n) + 0.25 * math.sin(2 * math.asin(m1n))) - m1s * (crad - 0.5)
        )
        n = 2 * crad  # 0-based index of the last row/column
        sgrid[n, c] = sg0
        sgrid[c, n] = sg0
        sgrid[c, 0] = sg0
        sgrid[0, c] = sg0
        sgrid[n - 1, c] -= sg0
        sgrid[c, n - 1] -= sg0
        sgrid[c, 1] -= sg0
        sgrid[1, c] -= sg0
    sgrid[c, c] = min(sgrid[c, c].real, 1.0)
    h = sgrid.real
    return h / h.sum()


def fspecial_motion(length: float = 9.0, angle: float = 0.0) -> np.ndarray:
    """MATLAB ``fspecial('motion', len, theta)``: linear camera motion of ``length`` pixels.

    The kernel approximates a line segment of the given length at ``angle`` degrees
    counter-clockwise from horizontal, with antialiased (one pixel wide) sides, following
    MATLAB's construction (half kernel by distance to the line, unfolded by 180-degree
    symmetry, normalised to sum 1).
    """
    for name, v in (("length", length), ("angle", angle)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name} must be a real number, got {v!r}")
        if not math.isfinite(float(v)):
            raise ValueError(f"{name} must be finite, got {v!r}")
    if length < 1:
        raise ValueError(f"length must be >= 1 pixel, got {length}")
    ln = max(1.0, float(length))
    half = (ln - 1.0) / 2.0
    phi = math.fmod(float(angle), 180.0)
    if phi < 0:
        phi += 180.0
    phi = phi / 180.0 * math.pi
    cosphi, sinphi = math.cos(phi), math.sin(phi)
    xsign = float(np.sign(cosphi))
    linewdt = 1.0
    sx = math.trunc(half * cosphi + linewdt * xsign - ln * _EPS)
    sy = math.trunc(half * sinphi + linewdt - ln * _EPS)
    if xsign == 0:  # cos(phi) is never exactly 0 in floating point; kept for safety
        xsign = 1.0
    xs = np.arange(abs(sx) + 1, dtype=np.float64) * xsign  # MATLAB 0:xsign:sx
    ys = np.arange(sy + 1, dtype=np.float64)  # MATLAB 0:sy
    x, y = np.meshgrid(xs, ys)
    dist2line = y * cosphi - x * sinphi
    rad = np.sqrt(x * x + y * y)
    last = (rad >= half) & (np.abs(dist2line) <= linewdt)
    x2last = half - np.abs((x[last] + dist2line[last] * sinphi) / cosphi)
    dist2line[last] = np.sqrt(dist2line[last] ** 2 + x2last**2)
    dist2line = linewdt + _EPS - np.abs(dist2line)
    dist2line[dist2line < 0] = 0.0
    r, c = dist2line.shape
    h = np.zeros((2 * r - 1, 2 * c - 1))
    h[:r, :c] = np.rot90(dist2line, 2)
    h[r - 1 :, c - 1 :] = dist2line
    h = h / (h.sum() + _EPS * ln * ln)
    if cosphi > 0:
        h = np.flipud(h)
    return h


# Kernels of the RED-Net non-blind deblurring experiment (Sec. 5.5). The paper names the three
# kernel types and defers to Xu et al. (NIPS 2014) without parameters; the authors' released
# demo (demo_debluring.m) uses fspecial('disk', 7) and fspecial('gaussian', 25, 1.6). No motion
# kernel parameters are published in either place; the motion default below is this project's
# choice and is recorded as such.
DEBLUR_KERNELS: dict[str, dict[str, float | int]] = {
    "disk": {"radius": 7.0},
    "gaussian": {"hsize": 25, "sigma": 1.6},
    "motion": {"length": 15.0, "angle": 45.0},
}


def deblur_kernel(kind: str, **params: float) -> np.ndarray:
    """Blur kernel ``kind`` in {'disk', 'motion', 'gaussian'} of RED-Net Sec. 5.5.

    Defaults (overridable by keyword): disk radius 7 and Gaussian 25x25 with sigma 1.6 as in the
    authors' released deblurring demo; motion length 15 at 45 degrees, a project choice since
    neither the paper nor the code gives one (see :data:`DEBLUR_KERNELS`).
    """
    if kind not in DEBLUR_KERNELS:
        raise ValueError(f"kind must be one of {sorted(DEBLUR_KERNELS)}, got {kind!r}")
    args = {**DEBLUR_KERNELS[kind], **params}
    unknown = set(args) - set(DEBLUR_KERNELS[kind])
    if unknown:
        raise ValueError(f"unknown parameter(s) {sorted(unknown)} for kind {kind!r}")
    if kind == "disk":
        return fspecial_disk(args["radius"])
    if kind == "gaussian":
        hs = args["hsize"]
        if isinstance(hs, float) and hs.is_integer():
            hs = int(hs)
        return fspecial_gaussian(hs, args["sigma"])  # type: ignore[arg-type]
    return fspecial_motion(args["length"], args["angle"])


_PAD_MODES = {"replicate": "edge", "symmetric": "symmetric", "circular": "wrap", "zero": "constant"}


def _filter2d(img2d: np.ndarray, corr_kernel: np.ndarray, boundary: str) -> np.ndarray:
    kr, kc = corr_kernel.shape
    # MATLAB imfilter centre of the (rotated) kernel: floor((size + 1) / 2), 1-based.
    cr, cc = (kr + 1) // 2 - 1, (kc + 1) // 2 - 1
    pad = ((cr, kr - 1 - cr), (cc, kc - 1 - cc))
    padded = np.pad(img2d, pad, mode=_PAD_MODES[boundary])  # type: ignore[call-overload]
    return sps.correlate(padded, corr_kernel, mode="valid")


def blur(
    img: np.ndarray,
    kernel: np.ndarray,
    *,
    boundary: str = "replicate",
    noise_sigma: float = 0.0,
    key: str | int | None = None,
) -> np.ndarray:
    """Blur ``img`` by ``kernel`` like MATLAB ``imfilter(img, K, 'conv', boundary)``, + noise.

    RED-Net Sec. 5.5 generates blurred images with the chosen kernel; the authors' demo uses
    ``imfilter(image, K, 'conv', 'replicate')`` on the uint8 image, so the default boundary is
    ``'replicate'`` (edge pixels repeated) and the operation is a true convolution (kernel
    rotated by 180 degrees; irrelevant for the symmetric disk and Gaussian kernels, relevant for
    motion). Other boundaries: ``'symmetric'``, ``'circular'``, ``'zero'`` (MATLAB's default).
    The output has the input's size; colour channels are filtered independently.

    uint8 input gives uint8 output (MATLAB rounds ``imfilter`` results for uint8 images);
    float input gives float64. If ``noise_sigma > 0``, Gaussian noise from
    :func:`add_gaussian_noise` with ``key`` (required then) is added to the blurred image and the
    result is float64 (not clipped).
    """
    arr = _check_image(img)
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2 or k.size == 0 or not np.all(np.isfinite(k)):
        raise ValueError(f"kernel must be a finite non-empty 2-D array, got shape {k.shape}")
    if boundary not in _PAD_MODES:
        raise ValueError(f"boundary must be one of {sorted(_PAD_MODES)}, got {boundary!r}")
    if not math.isfinite(float(noise_sigma)) or noise_sigma < 0:
        raise ValueError(f"noise_sigma must be a finite number >= 0, got {noise_sigma!r}")
    if noise_sigma > 0 and key is None:
        raise ValueError("key is required when noise_sigma > 0 (it seeds the noise)")
    corr_kernel = k[::-1, ::-1]
    src = arr.astype(np.float64)
    if src.ndim == 2:
        out = _filter2d(src, corr_kernel, boundary)
    else:
        out = np.stack(
            [_filter2d(src[:, :, ch], corr_kernel, boundary) for ch in range(src.shape[2])],
            axis=2,
        )
    out = _like_input(out, arr)
    if noise_sigma > 0:
        return add_gaussian_noise(out, noise_sigma, key=key)  # type: ignore[arg-type]
    return out


# --------------------------------------------------------------------------------------------
# 5. inpainting corruptions (RED-Net Sec. 5.6)
# --------------------------------------------------------------------------------------------

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _apply_mask(arr: np.ndarray, mask: np.ndarray, value: float) -> np.ndarray:
    out = arr.copy() if arr.dtype == np.uint8 else arr.astype(np.float64)
    sel = mask if out.ndim == 2 else np.broadcast_to(mask[:, :, None], out.shape)
    out[sel] = value
    return out


def _check_value(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"value must be a number in [0, 255], got {value!r}")
    if not 0 <= value <= 255:
        raise ValueError(f"value must be in [0, 255], got {value}")
    return float(value)


def _load_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # pragma: no cover - old Pillow / no FreeType
        for path in (
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
        ):
            try:
                return ImageFont.truetype(path, size)
            except OSError:
                continue
        raise


def text_overlay(
    img: np.ndarray,
    font_size: int,
    *,
    key: str | int,
    value: float = 255.0,
    line_spacing: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Overlay random text of ``font_size`` pixels on the image (RED-Net Sec. 5.6, sizes 10/20).

    Lines of random words (letters and digits, 2-8 characters) are written across the whole
    image, one line every ``line_spacing * font_size`` pixels, each starting at a random
    horizontal offset; the text pixels are set to ``value`` (white by default) in every channel.
    Glyphs are rendered without antialiasing (binary mask) with Pillow's bundled default
    FreeType font (``ImageFont.load_default(size=font_size)``, Pillow >= 10.1; font size in
    pixels). Content and placement come from ``rng_for("text_overlay", key, font_size, ...)``.
    The paper gives neither font nor density, so both are project choices.

    Returns ``(corrupted, mask)``: ``corrupted`` has the input's dtype (uint8 stays uint8,
    other dtypes become float64); ``mask`` is a bool ``HxW`` array, True where text was drawn.
    """
    arr = _check_image(img)
    _check_key(key)
    if isinstance(font_size, bool) or not isinstance(font_size, (int, np.integer)):
        raise ValueError(f"font_size must be an integer in 4..200, got {font_size!r}")
    if not 4 <= font_size <= 200:
        raise ValueError(f"font_size must be an integer in 4..200, got {font_size}")
    val = _check_value(value)
    if not (math.isfinite(float(line_spacing)) and line_spacing >= 1.0):
        raise ValueError(f"line_spacing must be >= 1 (in units of font_size), got {line_spacing}")
    rng = rng_for("text_overlay", str(key), int(font_size), float(line_spacing))
    h, w = arr.shape[:2]
    font = _load_font(int(font_size))
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    draw.fontmode = "1"  # no antialiasing: every text pixel is fully replaced
    step = max(1, int(round(line_spacing * font_size)))
    y = int(rng.integers(0, step))
    while y < h:
        n_chars = 0
        words = []
        # enough characters to cross the image width (average glyph ~0.55 font_size wide)
        while n_chars * 0.5 * font_size < w + font_size * 10:
            length = int(rng.integers(2, 9))
            words.append("".join(rng.choice(list(_ALPHABET), size=length)))
            n_chars += length + 1
        x = -int(rng.integers(0, 4 * font_size))
        draw.text((x, y), " ".join(words), fill=255, font=font)
        y += step
    mask = np.asarray(canvas) > 0
    return _apply_mask(arr, mask, val), mask


def random_scratches(
    img: np.ndarray,
    *,
    key: str | int,
    n_scratches: int | None = None,
    width_range: tuple[int, int] = (1, 3),
    value: float = 255.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw random curved scratches on the image (RED-Net Sec. 5.6, "scratch removal").

    The paper only says scratches are drawn randomly. Each scratch here is a smooth random walk
    (a polyline whose heading turns by small random angles) of random length between 10 % and
    50 % of the image diagonal and random width in ``width_range`` pixels, drawn with Pillow
    (no antialiasing) and set to ``value`` (white by default). The number of scratches is
    ``n_scratches`` or, if None, random in 4..12 (scaled by image area relative to 256x256).
    Everything is drawn from ``rng_for("random_scratches", key, ...)``.

    Returns ``(corrupted, mask)`` as :func:`text_overlay` does.
    """
    arr = _check_image(img)
    _check_key(key)
    val = _check_value(value)
    if n_scratches is not None and (
        isinstance(n_scratches, bool)
        or not isinstance(n_scratches, (int, np.integer))
        or n_scratches < 0
    ):
        raise ValueError(f"n_scratches must be None or an integer >= 0, got {n_scratches!r}")
    wr = tuple(width_range)
    if (
        len(wr) != 2
        or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in wr)
        or not 1 <= wr[0] <= wr[1]
    ):
        raise ValueError(f"width_range must be (lo, hi) integers with 1 <= lo <= hi, got {wr}")
    h, w = arr.shape[:2]
    rng = rng_for("random_scratches", str(key), -1 if n_scratches is None else int(n_scratches), wr)
    if n_scratches is None:
        area = max(1.0, h * w / 65536.0)
        n_scratches = int(round(rng.integers(4, 13) * math.sqrt(area)))
    diag = math.hypot(h, w)
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(n_scratches)):
        length = rng.uniform(0.1, 0.5) * diag
        step = max(2.0, diag / 100.0)
        n_steps = max(2, int(length / step))
        heading = rng.uniform(0, 2 * math.pi)
        turns = np.cumsum(rng.normal(0.0, 0.15, size=n_steps))
        xs = rng.uniform(0, w) + np.concatenate([[0.0], np.cumsum(step * np.cos(heading + turns))])
        ys = rng.uniform(0, h) + np.concatenate([[0.0], np.cumsum(step * np.sin(heading + turns))])
        width = int(rng.integers(wr[0], wr[1] + 1))
        draw.line(list(zip(xs.tolist(), ys.tolist())), fill=255, width=width, joint="curve")
    mask = np.asarray(canvas) > 0
    return _apply_mask(arr, mask, val), mask


def inpaint_corruption(
    img: np.ndarray, level: int, *, key: str | int
) -> tuple[np.ndarray, np.ndarray]:
    """The corruption of one RED-Net Sec. 5.6 inpainting setting, keyed on the image.

    ``level`` is the font size of the text (``font10``, ``font20``: :func:`text_overlay`) or
    :data:`SCRATCH_LEVEL` for scratches (``scratch``: :func:`random_scratches`); corrupted
    pixels are white (255). Training patches and test pairs both come from here, so an image
    is corrupted the same way wherever it is used. Returns ``(corrupted, mask)`` as
    :func:`text_overlay` does.
    """
    if level == SCRATCH_LEVEL:
        return random_scratches(img, key=key)
    return text_overlay(img, level, key=key)


# --------------------------------------------------------------------------------------------
# 6. synthetic proxies for MemoryNet's data (shadow removal, motion deblurring)
# --------------------------------------------------------------------------------------------


def synthetic_shadow(
    img_rgb: np.ndarray, *, key: str | int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cast a synthetic soft shadow on an RGB image -- a *proxy* for ISTD (MemoryNet Sec. IV).

    ISTD (real shadow / mask / shadow-free triples) is not available here, so this makes a
    stand-in triple from any clean RGB image: a random smooth blob (a bicubic-upsampled 6x6
    Gaussian field thresholded at a random quantile, covering about 20-45 % of the image) is
    feathered with a Gaussian of random width to give a soft penumbra ``alpha`` in [0, 1];
    inside it each channel is multiplied by ``brightness * cast_c`` with brightness in
    [0.35, 0.65] and a bluish colour cast (red attenuated more than blue), i.e.
    ``shadowed = img * (1 - alpha * (1 - gain_c))``. It is a crude physical approximation
    (no ambient/direct light model, no texture in the penumbra); results on it are not
    comparable with results on ISTD.

    Returns ``(shadowed, mask, shadow_free)``: ``shadowed`` in the input's dtype (uint8 rounded,
    else float64), ``mask`` a bool ``HxW`` array (``alpha >= 0.5``, like ISTD's binary masks),
    ``shadow_free`` a copy of the input.
    """
    arr = _check_image(img_rgb, "img_rgb")
    _check_key(key)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"img_rgb must be HxWx3, got shape {arr.shape}")
    h, w = arr.shape[:2]
    rng = rng_for("synthetic_shadow", str(key))
    coarse = rng.standard_normal((6, 6))
    field = imresize(coarse, output_shape=(h, w))
    coverage = rng.uniform(0.20, 0.45)
    binary = field >= np.quantile(field, 1.0 - coverage)
    feather = rng.uniform(0.005, 0.02) * math.hypot(h, w)
    alpha = ndi.gaussian_filter(binary.astype(np.float64), sigma=feather, mode="nearest")
    brightness = rng.uniform(0.35, 0.65)
    cast = rng.uniform(0.05, 0.20)
    gain = np.clip(brightness * np.array([1.0 - cast, 1.0, 1.0 + cast]), 0.0, 1.0)
    factor = 1.0 - alpha[:, :, None] * (1.0 - gain[None, None, :])
    shadowed = _like_input(arr.astype(np.float64) * factor, arr)
    return shadowed, alpha >= 0.5, arr.copy()


def synthetic_motion_blur(
    img: np.ndarray,
    *,
    key: str | int,
    length_range: tuple[float, float] = (5.0, 25.0),
    boundary: str = "replicate",
) -> tuple[np.ndarray, np.ndarray]:
    """Blur with a random linear motion kernel -- a *proxy* for GoPro (MemoryNet Sec. IV).

    GoPro blur comes from averaging real high-frame-rate video (non-uniform, non-linear);
    this proxy uses one uniform ``fspecial('motion', L, theta)`` kernel per image with
    ``L`` uniform in ``length_range`` pixels and ``theta`` uniform in [0, 180) degrees, both from
    ``rng_for("synthetic_motion_blur", key, length_range)``, applied with :func:`blur`
    (``boundary`` as there). Results on it are not comparable with results on GoPro.

    Returns ``(blurred, kernel)``; ``blurred`` has the input's dtype convention of :func:`blur`.
    """
    arr = _check_image(img)
    _check_key(key)
    lr = tuple(float(v) for v in length_range)
    if (
        len(lr) != 2
        or not (math.isfinite(lr[0]) and math.isfinite(lr[1]))
        or not (1.0 <= lr[0] <= lr[1])
    ):
        raise ValueError(f"length_range must be (lo, hi) with 1 <= lo <= hi, got {length_range}")
    rng = rng_for("synthetic_motion_blur", str(key), lr)
    length = rng.uniform(lr[0], lr[1])
    angle = rng.uniform(0.0, 180.0)
    kernel = fspecial_motion(length, angle)
    return blur(arr, kernel, boundary=boundary), kernel


def synthetic_proxy(
    img_rgb: np.ndarray, task: str, *, key: str | int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The degraded uint8 image of one MemoryNet proxy task, and its shadow mask.

    ``task`` is ``"shadow"`` (:func:`synthetic_shadow`; the mask is its bool ``HxW`` shadow
    region) or ``"motion_blur"`` (:func:`synthetic_motion_blur`, rounded to uint8 as a stored
    image would be; the mask is ``None``). Training patches and test pairs both come from here,
    so a proxy image is degraded the same way wherever it is used.
    """
    if task == "shadow":
        shadowed, mask, _ = synthetic_shadow(img_rgb, key=key)
        return shadowed, mask
    if task == "motion_blur":
        blurred = np.asarray(synthetic_motion_blur(img_rgb, key=key)[0])
        return (blurred if blurred.dtype == np.uint8 else to_uint8(blurred)), None
    raise ValueError(f"proxy task must be one of {PROXY_TASKS}, got {task!r}")
