"""The analyses the papers make beyond their tables, as plain functions for the report notebooks.

Numbers in, DataFrames or arrays out; no plotting and no file I/O (test pairs come from
:func:`reprolib.evaluate.iter_pairs`, the study's one place that forms them).

* MemNet Fig. 4 (Sec. 3.4): 1-D spectral densities of restored images and their differences
  (:func:`radial_power_spectrum`, :func:`spectral_difference`).
* MemNet Fig. 5 (Sec. 5.3): the gate units' weight norms ``v_m^l`` per kind of memory
  (:func:`gate_norm_table`, :func:`gate_norm_bars`).
* MemNet Fig. 6 (Sec. 5.4): PSNR of each intermediate prediction against the time to produce it
  (:func:`psnr_per_intermediate`), from the cost of each prediction (:func:`intermediate_costs`:
  seconds with the study's one timer :func:`timed`, or FLOPs with :func:`flops`).
* NLRN Fig. 4 (Sec. 5.1): correlation maps of query pixels per recurrent state, and how much of
  their weight falls on pixels similar to the query (:func:`correlation_map_grid`,
  :func:`neighbourhood`, :func:`similarity_mass`, :func:`correlation_similarity`).
* MemoryNet Fig. 7 (Sec. IV-C): first-layer features with and without the memory augment, and
  how far each lies from the features of the clean image (:func:`memory_feature_deviation`).
* RED-Net Figs. 2, 6-12 (Sec. 3-4): training curves of several runs side by side
  (:func:`learning_curve_table`, :func:`final_values`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from reprolib import protocols
from reprolib.models.memnet import MemNet
from reprolib.models.memorynet import MemoryNet
from reprolib.models.nlrn import NLRN

T = TypeVar("T")

__all__ = [
    "correlation_map_grid",
    "correlation_similarity",
    "final_values",
    "flops",
    "gate_norm_bars",
    "gate_norm_table",
    "intermediate_costs",
    "learning_curve_table",
    "memory_feature_deviation",
    "memory_first_layer",
    "model_input",
    "neighbourhood",
    "psnr_per_intermediate",
    "radial_power_spectrum",
    "similarity_mass",
    "spectral_difference",
    "timed",
]


def model_input(model: torch.nn.Module, img: np.ndarray) -> Tensor:
    """An image on [0, 1] (HxW or HxWxC) as the ``[1, C, H, W]`` float32 input of ``model``, on
    the model's device."""
    arr = np.asarray(img, dtype=np.float32)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr))[None].to(next(model.parameters()).device)


# ------------------------------------------------------------------------------------------
# MemNet Fig. 4: spectral densities
# ------------------------------------------------------------------------------------------


def radial_power_spectrum(img: np.ndarray, n_bins: int | None = None) -> pd.DataFrame:
    """1-D spectral density of one image: its centred power spectrum summed over rings.

    MemNet Sec. 3.4 and Fig. 4(b): "We compute their power spectrums, center them, estimate
    spectral densities for a continuous set of frequency ranges from low to high by placing
    concentric circles"; the caption: "We convert 2-D power spectra to 1-D spectral densities by
    integrating the spectrums along each concentric circle". The power spectrum is
    ``|FFT2(img)|^2`` (numpy's unnormalised FFT), shifted so that frequency 0 is at
    ``(H // 2, W // 2)``; "integrating" is a sum over each ring, so the rows add up to the total
    power ``H W sum(img^2)`` (Parseval). The paper analyses one image (Fig. 4(a)), so no
    averaging over images is offered; comparisons are between outputs of the same image.

    Rings are drawn in cycles per pixel, ``f = sqrt((k_y / H)^2 + (k_x / W)^2)``, so they are
    circles in frequency for any aspect ratio. With ``n_bins=None`` ring ``k`` holds the
    coefficients with ``round(f * min(H, W)) == k``: for a square image of side ``N`` this is
    the integer pixel radius ``k`` around the centre, ``f = k / N``. With ``n_bins`` the range
    ``[0, f_max]`` (``f_max`` the corner frequency) is cut into that many equal rings.

    Returns one row per ring: ``radius`` (ring index ``k``), ``frequency`` (its centre in cycles
    per pixel), ``power`` (the sum of ``|F|^2`` over the ring) and ``count`` (coefficients in
    it; ``power / count`` is the mean density if wanted).
    """
    x = np.asarray(img, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a single-channel HxW image, got shape {x.shape}")
    h, w = x.shape
    power = np.abs(np.fft.fftshift(np.fft.fft2(x))) ** 2
    fy = (np.arange(h) - h // 2) / h
    fx = (np.arange(w) - w // 2) / w
    freq = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    if n_bins is None:
        side = min(h, w)
        ring = np.rint(freq * side).astype(np.int64)
        n = int(ring.max()) + 1
        centre = np.arange(n) / side
    else:
        if n_bins < 1:
            raise ValueError(f"n_bins must be >= 1, got {n_bins}")
        width = max(float(freq.max()), np.finfo(float).tiny) / n_bins
        ring = np.minimum((freq / width).astype(np.int64), n_bins - 1)
        n = n_bins
        centre = (np.arange(n) + 0.5) * width
    return pd.DataFrame(
        {
            "radius": np.arange(n),
            "frequency": centre,
            "power": np.bincount(ring.ravel(), weights=power.ravel(), minlength=n),
            "count": np.bincount(ring.ravel(), minlength=n),
        }
    )


def spectral_difference(a: np.ndarray, b: np.ndarray, n_bins: int | None = None) -> pd.DataFrame:
    """Ring by ring difference of the spectral densities of two images, ``a - b``.

    MemNet Fig. 4(c), "Differences of spectral densities of two networks": e.g. the 4th minus
    the 6th output of MemNet_NL shows mid frequencies that later layers lose, MemNet's 6th minus
    MemNet_NL's 6th output the high frequencies the long-term connections recover (Sec. 3.4).
    ``a`` and ``b`` are outputs for the same input, so of the same size. Columns ``radius``,
    ``frequency``, ``power_a``, ``power_b``, ``difference`` (see :func:`radial_power_spectrum`).
    """
    if np.shape(a) != np.shape(b):
        raise ValueError(f"images differ in size: {np.shape(a)} vs {np.shape(b)}")
    sa, sb = radial_power_spectrum(a, n_bins), radial_power_spectrum(b, n_bins)
    out = sa[["radius", "frequency"]].copy()
    out["power_a"], out["power_b"] = sa["power"], sb["power"]
    out["difference"] = sa["power"] - sb["power"]
    return out


# ------------------------------------------------------------------------------------------
# MemNet Fig. 5: gate weight norms
# ------------------------------------------------------------------------------------------

_SOURCE = {"long": "long-term", "short": "short-term", "last": "short-term"}


def gate_norm_table(model: MemNet, scale: str = "model") -> pd.DataFrame:
    """The weight norm ``v_m^l`` of every gate input map, labelled by its memory (Fig. 5).

    MemNet Sec. 5.3: ``v_m^l = sqrt(sum_i W_m^gate(1, 1, l, i)^2)``, the norm over the 64 filters
    of the weights reading input map ``l`` of gate ``m`` ("a weight norm as an approximate for
    the dependency of the current layer on its preceding layers"), from
    :meth:`MemNet.gate_weight_norms`. Fig. 5: "the left (m x 64) elements denote the long-term
    memories and the rest the short-term memories"; its bars split the short-term part into the
    first ``R - 1`` recursions and the last one (:meth:`MemNet.gate_memory_slices`).

    "For better visualization, we normalize the norms to the range of 0 to 1": ``norm_scaled``
    is min-max scaled, ``(v - min) / (max - min)``, over the whole model (``scale="model"``,
    default: one panel of Fig. 5 is one model, and Sec. 5.3's observation (2), that average and
    variance shrink with the block number, needs one scale for all blocks), over each block
    (``scale="block"``, each curve on its own range) or not at all (``scale="none"``). Note that
    He initialisation alone gives ``E[v_m^l]^2 ~ 2 * 64 / L_m``: norms of later, wider gates
    start smaller.

    Columns: ``block`` (``m``, 1-based), ``index`` (``l``, 1-based), ``source`` ("long-term" or
    "short-term"), ``memory`` ("long", "short" for recursions ``1..R-1``, "last" for recursion
    ``R``), ``map`` (the memory map it reads: ``B_j`` or ``H_m^r``), ``norm``, ``norm_scaled``.
    """
    if scale not in ("model", "block", "none"):
        raise ValueError(f"scale must be 'model', 'block' or 'none', got {scale!r}")
    c, r_last = model.channels, model.num_recursions
    frames = []
    for m, (norms, slices) in enumerate(
        zip(model.gate_weight_norms(), model.gate_memory_slices(), strict=True), start=1
    ):
        v = norms.double().cpu().numpy()
        memory = np.empty(v.size, dtype=object)
        names = np.empty(v.size, dtype=object)
        for kind, sl in slices.items():
            idx = np.arange(sl.start, sl.stop)
            memory[idx] = kind
            group = (idx - sl.start) // c  # which map of this kind: B_j or the r-th recursion
            if kind == "long":
                names[idx] = [f"B_{j}" for j in group]
            elif kind == "short":
                names[idx] = [f"H_{m}^{j + 1}" for j in group]
            else:
                names[idx] = f"H_{m}^{r_last}"
        frames.append(
            pd.DataFrame(
                {
                    "block": m,
                    "index": np.arange(1, v.size + 1),
                    "source": [_SOURCE[k] for k in memory],
                    "memory": memory,
                    "map": names,
                    "norm": v,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)

    def minmax(s: pd.Series) -> pd.Series:
        span = s.max() - s.min()
        return (s - s.min()) / span if span > 0 else s * 0.0

    if scale == "model":
        table["norm_scaled"] = minmax(table["norm"])
    elif scale == "block":
        table["norm_scaled"] = table.groupby("block")["norm"].transform(minmax)
    else:
        table["norm_scaled"] = table["norm"]
    return table


def gate_norm_bars(table: pd.DataFrame, column: str = "norm_scaled") -> pd.DataFrame:
    """The bar diagrams of Fig. 5: mean norm per block of each kind of memory.

    "The bar diagrams illustrate the average norm of long-term memories, short-term memories from
    the first R - 1 recursions and from the last recursion, respectively" (MemNet Fig. 5).
    One row per block, columns ``long``, ``short``, ``last`` (NaN where an ablation removed that
    memory), from :func:`gate_norm_table`'s ``column``.
    """
    bars = table.pivot_table(index="block", columns="memory", values=column, aggfunc="mean")
    return bars.reindex(columns=["long", "short", "last"]).rename_axis(columns=None)


# ------------------------------------------------------------------------------------------
# MemNet Fig. 6: PSNR of the intermediate predictions vs inference time
# ------------------------------------------------------------------------------------------


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], T], device: torch.device) -> tuple[T, np.ndarray]:
    """``fn()`` and its seconds ``[wall, cpu]``: wall clock (``perf_counter``, synchronised on
    CUDA) and this process's CPU time (``process_time``). The one timer of the study's
    inference-time measurements (MemNet Fig. 6, :mod:`reprolib.speed`). On a CPU shared with
    other processes the wall time includes the time the process waited for a core; with one
    thread its CPU time is the time it computed, which that load changes far less."""
    _synchronise(device)
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    _synchronise(device)
    return out, np.array([time.perf_counter() - t0, time.process_time() - c0])


def flops(fn: Callable[[], T]) -> tuple[T, int]:
    """``fn()`` and the floating-point operations it performs, as counted by
    :class:`torch.utils.flop_counter.FlopCounterMode` (convolutions and matrix products, a
    multiply-add counted as 2): the hardware-independent cost beside every measured time. The
    count depends on shapes only, so ``fn`` may run on the ``meta`` device (no arithmetic)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        out = fn()
    return out, int(counter.get_total_flops())


def _staged_forward(
    model: MemNet, x: Tensor, measure: Callable[[Callable[[], Tensor]], tuple[Tensor, Any]]
) -> tuple[list[Tensor], Tensor, dict[str, list]]:
    """MemNet's forward stage by stage, each stage's cost taken by ``measure`` (``fn -> (out,
    cost)``: seconds ``[wall, cpu]`` or FLOPs).

    Returns the predictions ``[y_1..y_M]``, the output and the cost of ``fenet``, each
    ``block``, each ``recon`` (``y_m = x + f_rec(B_m)``, Eq. 11) and the ``fuse`` (Sec. 3.3).
    """
    costs: dict[str, list] = {"block": [], "recon": []}
    b, c = measure(lambda: model.fenet(x))
    costs["fenet"] = [c]
    long_memory, predictions = [b], []
    for m, block in enumerate(model.blocks):
        b, c = measure(lambda block=block, b=b: block(b, long_memory))
        long_memory.append(b)
        costs["block"].append(c)
        y, c = measure(lambda b=b, m=m: x + model.reconnet(b, m))
        predictions.append(y)
        costs["recon"].append(c)
    if model.multi_supervised:
        w = model.output_weights
        final, c = measure(lambda: sum(w[m] * y for m, y in enumerate(predictions)))
    else:
        final, c = predictions[-1], 0.0
    costs["fuse"] = [c]
    return predictions, final, costs


def _per_prediction(model: MemNet, costs: dict[str, list]) -> list[np.ndarray]:
    """The cost of ``y_1 .. y_M`` and of the output from the stage costs of one pass: ``y_m``
    is FENet + blocks ``1..m`` + one reconstruction (the median of the ``M`` measured ones: the
    same conv on the same size), hence non-decreasing in ``m``; the output is FENet + all
    blocks + all ``M`` reconstructions + the weighted sum (``y_M`` for the basic MemNet)."""
    stem = np.asarray(costs["fenet"][0], dtype=float)
    cum_blocks = np.cumsum(costs["block"], axis=0, dtype=float)
    recon = np.median(costs["recon"], axis=0)
    out = [stem + cb + recon for cb in cum_blocks]
    if model.multi_supervised:
        out.append(stem + cum_blocks[-1] + np.sum(costs["recon"], axis=0) + costs["fuse"][0])
    else:
        out.append(out[-1])
    return out


@torch.no_grad()
def intermediate_costs(
    model: MemNet, x: Tensor, *, repeats: int = 1, warmup: int = 1, count: str = "seconds"
) -> tuple[list[Tensor], np.ndarray]:
    """What each intermediate prediction of MemNet costs (Fig. 6, Sec. 5.4: "the inference
    time ... when processing a 288 x 288 image").

    ``x`` is the ``[1, C, H, W]`` network input on the model's device (the model's mode is
    left as it is). ``count="seconds"``: ``warmup`` untimed passes, then ``repeats`` timed
    ones (:func:`timed`, stage by stage); ``count="flops"``: one counted pass (:func:`flops`;
    ``x`` and the model may be on the ``meta`` device). Returns the predictions ``[y_1 .. y_M,
    output]`` of the last pass and the cost of ``y_1 .. y_M`` and of the output in each pass
    (:func:`_per_prediction`): seconds ``[repeats, M + 1, 2]`` (wall, cpu), FLOPs ``[1, M +
    1]``.
    """
    if count not in ("seconds", "flops"):
        raise ValueError(f"count must be 'seconds' or 'flops', got {count!r}")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    if count == "flops":
        predictions, final, costs = _staged_forward(model, x, flops)
        return [*predictions, final], np.array([_per_prediction(model, costs)])

    def measure(fn: Callable[[], Tensor]) -> tuple[Tensor, float]:
        return timed(fn, x.device)

    for _ in range(warmup):
        _staged_forward(model, x, measure)
    rows = []
    for _ in range(repeats):
        predictions, final, costs = _staged_forward(model, x, measure)
        rows.append(_per_prediction(model, costs))
    return [*predictions, final], np.array(rows)


@torch.no_grad()
def psnr_per_intermediate(
    model: MemNet,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    setting: str,
    protocol: str,
    *,
    repeats: int = 1,
    warmup: int = 1,
) -> pd.DataFrame:
    """PSNR/SSIM of each intermediate prediction ``y_m`` and of the output, with their time.

    MemNet Fig. 6 and Sec. 5.4: "the PSNR of different intermediate predictions in MemNet (e.g.,
    MemNet_M3 denotes the prediction of the 3rd memory block) for scale x3 on Set5, in which the
    colorbar indicates the inference time (sec.) when processing a 288 x 288 image"; the claim
    is that "MemNet already achieve comparable result at the 3rd prediction". ``y_m = x +
    f_rec(B_m)`` (Eq. 11) and the output ``sum_m w_m y_m`` (Sec. 3.3; ``y_M`` for the basic
    MemNet).

    ``pairs`` are ``(input, reference)`` of :func:`reprolib.evaluate.iter_pairs` (``degraded``,
    ``target``): a float HxW input on [0, 1] and the uint8 reference; each prediction is scored
    by the protocol's :meth:`~reprolib.protocols.Protocol.score` (its rounding and border
    shave) on the [0, 255] scale, whole image at once (no tiling), in eval mode, float32, on
    the model's device.

    Time: :func:`intermediate_costs` (one pass stage by stage, synchronised on CUDA), per
    image the minimum wall-clock time over ``repeats`` passes after ``warmup`` untimed ones,
    per prediction.

    One row per prediction, ``y_1 .. y_M`` then the output: ``prediction`` ("M1".. or
    "final"), ``blocks`` (``m``), ``psnr``, ``ssim``, ``seconds`` (means over the images) and
    ``n_images``.
    """
    if not pairs:
        raise ValueError("no (input, reference) pairs to evaluate")
    proto = protocols.get(protocol)
    task, level = proto.task_of(setting)
    scale = level if task == "sr" else 1
    dev = next(model.parameters()).device
    if dev.type == "cpu":
        torch.set_flush_denormal(True)  # as reprolib.models.inference.restore
    n_blocks = model.num_blocks
    labels = [f"M{m}" for m in range(1, n_blocks + 1)] + ["final"]
    rows: list[tuple] = []
    was_training = model.training
    model.eval()
    try:
        for inp, gt in pairs:
            arr = np.asarray(inp, dtype=np.float32)
            if arr.ndim != 2:
                raise ValueError(f"expected single-channel HxW inputs, got shape {arr.shape}")
            x = torch.from_numpy(arr)[None, None].to(dev)
            outputs, passes = intermediate_costs(model, x, repeats=repeats, warmup=warmup)
            seconds = passes[..., 0].min(axis=0)  # wall clock
            for label, m, y, t in zip(
                labels, [*range(1, n_blocks + 1), n_blocks], outputs, seconds,
                strict=True,
            ):  # fmt: skip
                out = y[0, 0].double().cpu().numpy() * 255.0
                p, s = proto.score(out, gt, scale)
                rows.append((label, m, p, s, t))
    finally:
        model.train(was_training)
    per_image = pd.DataFrame(rows, columns=["prediction", "blocks", "psnr", "ssim", "seconds"])
    g = per_image.groupby("prediction", sort=False)
    out = g.agg(
        blocks=("blocks", "first"), psnr=("psnr", "mean"), ssim=("ssim", "mean"),
        seconds=("seconds", "mean"),
    )  # fmt: skip
    out["n_images"] = g.size()
    return out.reset_index()


# ------------------------------------------------------------------------------------------
# NLRN Fig. 4: correlation maps
# ------------------------------------------------------------------------------------------


def neighbourhood(
    img: np.ndarray, pixel: tuple[int, int], q: int | None, padding: str = "circular"
) -> np.ndarray:
    """The ``q x q`` window of ``img`` centred on ``pixel = (y, x)``, laid out as NLRN's maps.

    NLRN Fig. 4 shows the "Noisy patch/ground truth patch: the neighborhood of the red center
    pixel used in non-local operations" next to the correlation maps; rows and columns are the
    offsets ``dy, dx = -r..r`` like :meth:`NLRN.correlation_maps`. Positions outside the image
    wrap around for ``padding="circular"`` (the paper's circular padding, Sec. 5) and are 0
    otherwise (zero key; masked positions carry weight 0). ``q=None``: the whole image.
    """
    a = np.asarray(img)
    if q is None:
        return a.copy()
    h, w = a.shape[:2]
    y, x = pixel
    r = q // 2
    rows, cols = np.arange(y - r, y + r + 1), np.arange(x - r, x + r + 1)
    if padding == "circular":
        return a[np.ix_(rows % h, cols % w)]
    inside = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]
    window = a[np.ix_(np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1))]
    return np.where(inside, window, 0)


def _as_input(model: NLRN, img: np.ndarray | Tensor) -> Tensor:
    t = torch.as_tensor(np.asarray(img, dtype=np.float32) if not torch.is_tensor(img) else img)
    if t.ndim != 2:
        raise ValueError(f"expected a single-channel HxW image, got shape {tuple(t.shape)}")
    return t.float()[None, None].to(next(model.parameters()).device)


def correlation_map_grid(
    model: NLRN,
    img: np.ndarray | Tensor,
    pixels: list[tuple[int, int]],
    step: int | None = -1,
) -> dict[tuple[int, int], np.ndarray]:
    """Correlation (attention) weights of query pixels over their window, per pixel.

    NLRN Fig. 4: "the correlation map for recurrent state 1-6 from NLRN with unrolling length
    of 6" of a red centre pixel, over "the neighborhood of the red center pixel used in
    non-local operations" (Sec. 5.1). ``step`` indexes the states that hold a non-local module
    (``-1`` the last; ``None`` all of them). Values come from :meth:`NLRN.correlation_maps` on the
    whole image (``img`` HxW, the network input) in eval mode; each map is ``q x q`` (rows
    ``dy = -r..r``; ``H x W`` absolute positions when ``q=None``), ``[S, q, q]`` for
    ``step=None``. Plot next to :func:`neighbourhood` of the noisy and clean images.
    """
    x = _as_input(model, img)
    was_training = model.training
    model.eval()
    try:
        out = {}
        for pixel in pixels:
            maps = model.correlation_maps(x, tuple(pixel)).double().cpu().numpy()
            out[tuple(pixel)] = maps if step is None else maps[step]
        return out
    finally:
        model.train(was_training)


def similarity_mass(
    weights: np.ndarray, window: np.ndarray, centre: float, tol: float
) -> tuple[float, float]:
    """``(mass, fraction)``: weight on positions whose clean value is within ``tol`` of ``centre``.

    A measurable form of NLRN's reading of Fig. 4: "as the number of recurrent states increases,
    the locations with similar features progressively show higher correlations in the map"
    (Sec. 5.1). ``mass`` is the sum of ``weights`` over positions with ``|window - centre| <=
    tol``; ``fraction`` is the share of such positions, the mass a uniform map would give.
    Meaningful for softmax metrics (weights >= 0 summing to 1), the paper's default.
    """
    w, win = np.asarray(weights, dtype=np.float64), np.asarray(window, dtype=np.float64)
    if w.shape != win.shape:
        raise ValueError(f"weights {w.shape} and window {win.shape} differ in shape")
    similar = np.abs(win - centre) <= tol
    return float(w[similar].sum()), float(similar.mean())


def correlation_similarity(
    model: NLRN,
    img: np.ndarray | Tensor,
    clean: np.ndarray,
    pixels: list[tuple[int, int]],
    tol: float = 10 / 255,
) -> pd.DataFrame:
    """Per query pixel and recurrent state, the correlation weight on clean-similar pixels.

    Checks NLRN Sec. 5.1's claim on Fig. 4 that similar locations "progressively show higher
    correlations" with the state number: ``mass_similar`` (:func:`similarity_mass` against the
    clean image's window, ``tol`` in the units of ``clean``, default 10 grey levels on [0, 1])
    should grow with ``state`` and exceed ``fraction_similar`` (``lift = mass / fraction > 1``).
    Columns ``y``, ``x``, ``state`` (1-based recurrent state, Fig. 4's (1)-(6)),
    ``mass_similar``, ``fraction_similar``, ``lift``.
    """
    ref = np.asarray(clean, dtype=np.float64)
    states = [t + 1 for t, has_nl in enumerate(model.nonlocal_steps) if has_nl]
    maps = correlation_map_grid(model, img, pixels, step=None)
    rows = []
    for (y, x), per_state in maps.items():
        window = neighbourhood(ref, (y, x), model.q, model.padding)
        for state, weights in zip(states, per_state, strict=True):
            mass, frac = similarity_mass(weights, window, ref[y, x], tol)
            rows.append((y, x, state, mass, frac, mass / frac))
    return pd.DataFrame(
        rows, columns=["y", "x", "state", "mass_similar", "fraction_similar", "lift"]
    )


# ------------------------------------------------------------------------------------------
# MemoryNet Fig. 7: first-layer features with and without the memory augment
# ------------------------------------------------------------------------------------------


@torch.no_grad()
def memory_first_layer(
    model: MemoryNet, degraded: np.ndarray, clean: np.ndarray
) -> dict[str, Tensor]:
    """What Fig. 7 compares, for one ``(degraded, clean)`` uint8 RGB pair: the inputs ``x``
    (degraded) and ``y`` (clean), the memory read ``read`` (``y_part``) of ``x``, and stage 1's
    first-layer features ``f_input`` (of ``x``), ``f_memory`` (of ``read``) and ``f_clean``
    (of ``y``)."""
    x, y = model_input(model, degraded / 255.0), model_input(model, clean / 255.0)
    feats = model.first_layer_features(x)
    return {
        "x": x, "y": y, "read": model.memory(x).part, "f_input": feats["input"],
        "f_memory": feats["memory"], "f_clean": model.first_layer_features(y)["input"],
    }  # fmt: skip


def memory_feature_deviation(
    model: MemoryNet, pairs: list[tuple[np.ndarray, np.ndarray]], names: list[str] | None = None
) -> pd.DataFrame:
    """MemoryNet Fig. 7, measured: do the memory-augmented first-layer features stay closer to
    those of the clean image than the features of the raw degraded image do?

    Fig. 7 shows stage 1's first-layer feature maps of a degraded image "without any
    processing" and "after memory augment", and Sec. IV-C reads from it that the former
    "obviously deviates from the original image". With ``f`` that first convolution
    (:meth:`MemoryNet.first_layer_features`) and ``y`` the clean image, each ``(degraded,
    clean)`` pair gives two rows: ``without memory`` (``a`` = the degraded image) and ``with
    memory`` (``a`` = its memory read ``y_part``, what stage 1 actually reads), with
    ``deviation = ||f(a) - f(y)|| / ||f(y)||``, ``psnr``, the PSNR of ``a`` against ``y`` (RGB
    on [0, 1], peak 1), and ``contrast``, the standard deviation of ``a`` over its pixels and
    channels relative to that of ``y`` (near 0: ``a`` is almost one flat colour), and
    ``correlation``, the Pearson correlation of ``a`` with ``y`` over all pixels and channels:
    how much of the clean image's structure ``a`` keeps whatever its contrast and offset (a
    faint read that still follows the image scores high; a read that does not, low; NaN for a
    constant ``a``). Columns:
    ``image, features, deviation, psnr, contrast, correlation``.
    """
    if model.memory is None:
        raise ValueError("the model has no memory augment (an MPRNet baseline): nothing to compare")
    rows = []
    for i, (degraded, clean) in enumerate(pairs):
        t = memory_first_layer(model, degraded, clean)
        y, ref = t["y"], t["f_clean"]
        for label, img, f in (("without memory", t["x"], t["f_input"]),
                              ("with memory", t["read"], t["f_memory"])):  # fmt: skip
            dev = (f - ref).norm() / ref.norm()
            mse = float(((img.clamp(0, 1) - y) ** 2).mean())
            psnr = float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)
            contrast = float(img.std() / y.std())
            corr = float(torch.corrcoef(torch.stack([img.flatten(), y.flatten()]))[0, 1])
            rows.append((names[i] if names else str(i), label, float(dev), psnr, contrast, corr))
    columns = ["image", "features", "deviation", "psnr", "contrast", "correlation"]
    return pd.DataFrame(rows, columns=columns)


# ------------------------------------------------------------------------------------------
# RED-Net Figs. 2, 6-12: learning curves
# ------------------------------------------------------------------------------------------


def learning_curve_table(logs: dict[str, pd.DataFrame], window: int = 10) -> pd.DataFrame:
    """Several runs' training logs in one long table, with a smoothed loss, for curve figures.

    RED-Net compares runs by their curves: validation PSNR during training (Fig. 2, deconv vs
    conv; Figs. 7-12, skip types, down-sampling, filter number and size, patch size, skip step)
    and training loss (Fig. 6, with and without skip connections, Sec. 4.1). Each log is a
    ``log.csv`` of :func:`reprolib.train.train` (``iteration, loss, lr, val_psnr, wall_s,
    patches_per_s``; ``loss`` is already the mean over the iterations since the previous row).

    ``loss_smooth`` is a trailing moving average of ``loss`` over the last ``window`` logged rows
    of the same run (fewer at the start: ``rolling(window, min_periods=1).mean()``), so it uses
    no future values. Returns every input column plus ``run`` (the dict key, in dict order) and
    ``loss_smooth``, rows sorted by iteration within each run.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    frames = []
    for run, log in logs.items():
        df = log.sort_values("iteration").reset_index(drop=True).copy()
        df.insert(0, "run", run)
        df["loss_smooth"] = df["loss"].rolling(window, min_periods=1).mean()
        frames.append(df)
    if not frames:
        raise ValueError("no logs given")
    return pd.concat(frames, ignore_index=True)


def final_values(logs: dict[str, pd.DataFrame] | pd.DataFrame) -> pd.DataFrame:
    """Per run: the last logged loss and the best and last validation PSNR.

    RED-Net reports curve end points this way (Fig. 7 lists "the PSNR at the last iteration" of
    each curve; the values are in results/claims); Sec. 4.1 compares runs by training loss
    and by PSNR upon convergence (Fig. 2). ``logs`` is a dict of ``log.csv`` frames or the
    table of :func:`learning_curve_table`. Columns ``run``, ``iteration`` (last logged),
    ``loss`` (last logged), ``best_val_psnr``, ``best_val_iteration``, ``last_val_psnr``,
    ``last_val_iteration`` (NaN without any validation row) and ``wall_s`` (last).
    """
    table = learning_curve_table(logs, window=1) if isinstance(logs, dict) else logs
    rows = []
    for run, df in table.groupby("run", sort=False):
        df = df.sort_values("iteration")
        last = df.iloc[-1]
        val = df.dropna(subset=["val_psnr"])
        best = val.loc[val["val_psnr"].idxmax()] if len(val) else None
        rows.append(
            {
                "run": run,
                "iteration": last["iteration"],
                "loss": last["loss"],
                "best_val_psnr": best["val_psnr"] if best is not None else np.nan,
                "best_val_iteration": best["iteration"] if best is not None else np.nan,
                "last_val_psnr": val["val_psnr"].iloc[-1] if len(val) else np.nan,
                "last_val_iteration": val["iteration"].iloc[-1] if len(val) else np.nan,
                "wall_s": last["wall_s"] if "wall_s" in df else np.nan,
            }
        )
    return pd.DataFrame(rows)
