"""Exact per-pixel neighbourhood attention for NLRN's non-local module (Liu et al. 2018).

What is computed (NLRN Sec. 3.3, Eqs. 1, 2 and 6, Fig. 3): for every query pixel ``i`` and every
position ``j`` of the ``q x q`` window ``S_i`` centred on ``i``,

    L_i^j = score(Q_i, K_j) * scale + P_i^j            (logits; P = previous state's logits)
    Z_i   = sum_j  w_i^j  V_j,   w_i = normalise(L_i)   (softmax, or division by |S_i|)

``score`` is the dot product ``Q_i K_j^T`` (embedded/plain Gaussian and dot products of Table 1) or
the negative squared distance ``-||Q_i - K_j||^2`` (the Euclidean metric of Table 1, with
``scale = 1/h^2``). ``P`` is the correlation state ``s_corr^{t-1}`` that NLRN adds before the
softmax (correlation propagation, Sec. 4); the returned logits ``L`` are the next ``s_corr^t``.
With ``q=None`` the window is the whole image (Wang et al.'s non-local block; NLRN's released code
applied to a training/test patch).

Layout of logits (shared by both implementations, so propagation works identically):
``[N, K, H, W]`` with ``K = q*q`` per pixel, window offsets ``(dy, dx)`` in raster order,
``dy, dx = -r..r``, ``r = q // 2`` (index ``(dy + r) * q + (dx + r)``). With ``q=None``,
``K = H*W`` in raster order of the absolute key position. The returned tensors are stored
channels-last (each pixel's ``K`` logits contiguous, ``logits.permute(0, 2, 3, 1)`` is free),
which keeps the tile copies of the blocked form cheap; any strides are accepted as input.
Only this per-pixel layout makes propagation feasible at full size: ``[N, q*q, H, W]`` grows
linearly with the image area (1024x768, q=45: 6.4 GB in float32), ``[N, HW, HW]``
quadratically (2.4 TB).

Borders (``padding``):

* ``"circular"`` (paper Sec. 5, "circular padding for the neighborhood outside input patches";
  default): a window position outside the image wraps around (``y mod H``, ``x mod W``). A window
  larger than the image (q=45 on a 43x43 training patch) then holds some pixels more than once,
  and each copy counts, exactly as a circularly padded feature map would give.
* ``"zero"`` (the authors' newer repository): positions outside the image are zero vectors for
  both key and value: they keep a logit ``score(Q_i, 0)`` (``0`` for dot products) and contribute
  nothing to the sum, but take part in the normalisation.
* ``"mask"``: positions outside the image are excluded (weight 0; the mean divides by the
  number of in-image positions). Their stored logits are ``score(Q_i, 0) + P``, never used.

:func:`neighbourhood_attention` has three implementations with identical results. The plain
form comes first in this file: ``impl="reference"``, loops over pixels and window positions
exactly as the equations read (slow; for reading, and for checking the others on tiny inputs,
as the tests do). Two fast forms follow:

* ``impl="dense"``: all ``HW x HW`` scores in one matrix product, the per-pixel window gathered
  from it with an index table, the weights scattered back into a ``HW x HW`` attention matrix
  (duplicated circular positions add up) that multiplies the values. Fast for training patches
  (43x43: 1849^2 scores per image); memory grows with the area squared.
* ``impl="blocked"``: queries in ``t x t`` tiles; each tile attends to its
  ``(t + q - 1)^2`` halo window only, one row of tiles at a time as a batched matrix product.
  Memory is linear in the area, so full-size test images (Urban100, ~1024x768) fit on a CPU.
  Under ``torch.no_grad()`` the new logits can overwrite ``prev_logits`` (``inplace=True``),
  so a propagated correlation state costs one ``[N, K, H, W]`` buffer, not two.

``impl="auto"`` takes the dense form for images of at most ``dense_max_pixels`` pixels.

On CPU, softmax produces denormal numbers that slow inference many times over; call
:func:`flush_denormals` (NLRN's forward does so itself under ``torch.no_grad()`` on CPU).
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "Normalization",
    "Padding",
    "Score",
    "flush_denormals",
    "neighbourhood_attention",
    "neighbourhood_size",
    "normalise_logits",
    "pixel_window_validity",
]

Padding = Literal["circular", "zero", "mask"]
Score = Literal["dot", "neg_sq_dist"]
Normalization = Literal["softmax", "mean"]
Impl = Literal["auto", "dense", "blocked", "reference"]

_PADDINGS = ("circular", "zero", "mask")
_SCORES = ("dot", "neg_sq_dist")
_NORMALIZATIONS = ("softmax", "mean")

#: Above this many pixels ``impl="auto"`` switches from the dense to the blocked form.
DENSE_MAX_PIXELS = 2601  # 51 x 51: training patches (43x43, 45x45) stay dense


def flush_denormals() -> bool:
    """Turn on flushing of denormal floats on CPU (a process-wide setting); returns success.

    ``exp`` of very negative logits underflows into denormals that the CPU handles in
    microcode, which makes softmax-heavy inference several times slower. Flushing them to zero
    changes results by less than the smallest normal float (~1e-38).
    """
    return torch.set_flush_denormal(True)


def neighbourhood_size(q: int | None, height: int, width: int) -> int:
    """``K``, the number of window positions per pixel: ``q*q``, or ``H*W`` for ``q=None``."""
    return height * width if q is None else q * q


def _check_q(q: int | None) -> None:
    if q is not None and (q < 1 or q % 2 == 0):
        raise ValueError(f"neighbourhood size q must be a positive odd integer or None, got {q}")


def normalise_logits(logits: Tensor, valid: Tensor | None, normalization: Normalization) -> Tensor:
    """Weights from logits over the last dimension (the ``1/delta_i`` of Eq. 1).

    ``"softmax"``: ``exp(L) / sum exp(L)`` (the Gaussian family of Table 1; ``delta_i`` of Eq. 6).
    ``"mean"``: ``L / |S_i|`` (the dot-product metrics of Table 1, whose raw sum can be zero or
    negative; the normalisation by the number of positions follows Wang et al. [41], as the
    paper gives none). ``valid`` (bool, broadcastable) excludes positions.
    """
    if normalization == "softmax":
        if valid is not None:
            logits = logits.masked_fill(~valid, float("-inf"))
        return torch.softmax(logits, dim=-1)
    if normalization == "mean":
        if valid is None:
            return logits / logits.shape[-1]
        v = valid.to(logits.dtype)
        return logits * v / v.sum(-1, keepdim=True)
    raise ValueError(f"unknown normalization {normalization!r}; expected one of {_NORMALIZATIONS}")


def pixel_window_validity(
    q: int | None, height: int, width: int, y: int, x: int, padding: Padding
) -> Tensor | None:
    """Which of the ``K`` window positions of pixel ``(y, x)`` count (``None``: all of them)."""
    if q is None or padding != "mask":
        return None
    r = q // 2
    dy = torch.arange(-r, r + 1)
    rows = ((y + dy) >= 0) & ((y + dy) < height)
    cols = ((x + dy) >= 0) & ((x + dy) < width)
    return (rows[:, None] & cols[None, :]).reshape(-1)


# --------------------------------------------------------------------------------------------
# The plain form: one pixel and one window position at a time, as Eqs. 1, 2 and 6 read
# --------------------------------------------------------------------------------------------


def _reference(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    q: int | None,
    score: Score,
    scale: float,
    normalization: Normalization,
    padding: Padding,
    prev_logits: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """What :func:`neighbourhood_attention` computes, as explicit loops (``impl="reference"``).

    For every pixel ``i`` and every position ``j`` of its window ``S_i`` (raster order of the
    offsets, wrapped around the image for ``"circular"`` padding):
    ``L_i^j = score(Q_i, K_j) * scale + P_i^j`` and ``Z_i = sum_j w_i^j V_j`` with
    ``w_i = normalise(L_i)`` (Eq. 6's softmax, or division by ``|S_i|``). A position outside
    the image is a zero key and value (``"zero"``) or left out (``"mask"``). Meant for reading
    and for checking the fast forms on tiny inputs (the tests do, to 1e-10 in float64).
    Returns ``(Z, logits)`` in the layout of :func:`neighbourhood_attention`.
    """
    n, d, h, w = query.shape
    c = value.shape[1]
    kk = neighbourhood_size(q, h, w)
    out = torch.zeros(n, c, h, w, dtype=query.dtype)
    logits = torch.zeros(n, kk, h, w, dtype=query.dtype)
    for b, y, x in itertools.product(range(n), range(h), range(w)):
        if q is None:
            window = [(yy, xx, True) for yy in range(h) for xx in range(w)]
        else:
            r = q // 2
            window = []
            for dy, dx in itertools.product(range(-r, r + 1), repeat=2):
                yy, xx = y + dy, x + dx
                if padding == "circular":  # the window wraps around the image
                    window.append((yy % h, xx % w, True))
                else:
                    window.append((yy, xx, 0 <= yy < h and 0 <= xx < w))
        scores, values, counted = [], [], []
        qi = query[b, :, y, x]
        for j, (yy, xx, inside) in enumerate(window):
            kj = key[b, :, yy, xx] if inside else torch.zeros(d, dtype=query.dtype)
            vj = value[b, :, yy, xx] if inside else torch.zeros(c, dtype=query.dtype)
            s = (qi * kj).sum() if score == "dot" else -((qi - kj) ** 2).sum()
            previous = prev_logits[b, j, y, x] if prev_logits is not None else 0.0
            scores.append(s * scale + previous)
            values.append(vj)
            counted.append(inside or padding != "mask")
        lv, vv, ok = torch.stack(scores), torch.stack(values), torch.tensor(counted)
        logits[b, :, y, x] = lv
        if normalization == "softmax":
            e = torch.where(ok, torch.exp(lv - lv[ok].max()), torch.zeros_like(lv))
            weights = e / e.sum()
        else:
            weights = torch.where(ok, lv, torch.zeros_like(lv)) / ok.sum()
        out[b, :, y, x] = (weights[:, None] * vv).sum(0)
    return out, logits


def _scores(q: Tensor, k_t: Tensor, score: Score, scale: float, q_sq: Tensor | None) -> Tensor:
    """``score(Q, K) * scale`` for batched ``q`` [B, P, d] and ``k_t`` [B, d, M] -> [B, P, M]."""
    s = torch.bmm(q, k_t)
    if score == "neg_sq_dist":
        # -||q - k||^2 = 2 q.k - |q|^2 - |k|^2
        k_sq = (k_t * k_t).sum(1)
        s = 2 * s - q_sq[:, :, None] - k_sq[:, None, :]
    return s * scale if scale != 1.0 else s


def _dense_index(
    height: int, width: int, q: int, padding: Padding, device: torch.device
) -> tuple[Tensor, Tensor]:
    """For every pixel ``p`` and window slot ``k``: the flat key index and whether it is inside.

    Both ``[H*W, q*q]``; out-of-image slots of ``"zero"``/``"mask"`` get index 0 (never used).
    """
    r = q // 2
    ys = torch.arange(height, device=device)
    xs = torch.arange(width, device=device)
    off = torch.arange(-r, r + 1, device=device)
    yy = ys[:, None, None, None] + off[None, None, :, None]  # H,1,q,1
    xx = xs[None, :, None, None] + off[None, None, None, :]  # 1,W,1,q
    if padding == "circular":
        yy, xx = yy % height, xx % width
    inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)  # H,W,q,q
    idx = yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1)
    shape = (height * width, q * q)
    return idx.expand(height, width, q, q).reshape(shape), inside.reshape(shape)


def _as_pixel_rows(logits: Tensor) -> Tensor:
    """``[N, K, H, W]`` -> ``[N, H, W, K]`` view (free for the channels-last layout we return)."""
    return logits.permute(0, 2, 3, 1)


def _dense(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    q: int | None,
    score: Score,
    scale: float,
    normalization: Normalization,
    padding: Padding,
    prev: Tensor | None,
    return_logits: bool,
) -> tuple[Tensor, Tensor | None]:
    n, _, h, w = query.shape
    c, p = value.shape[1], h * w
    qf = query.flatten(2).transpose(1, 2)  # N,P,d
    kf = key.flatten(2)  # N,d,P
    vf = value.flatten(2).transpose(1, 2)  # N,P,c
    q_sq = (qf * qf).sum(-1) if score == "neg_sq_dist" else None
    s = _scores(qf, kf, score, scale, q_sq)  # N,P,P
    valid = None
    if q is None:
        logits = s
    else:
        idx, inside = _dense_index(h, w, q, padding, query.device)
        logits = s.gather(2, idx.expand(n, p, idx.shape[1]))
        if padding != "circular":
            # score against a zero key: 0 for dot products, -|q|^2 * scale for the distance
            pad = q_sq[:, :, None] * (-scale) if q_sq is not None else logits.new_zeros(())
            logits = torch.where(inside, logits, pad)
        if padding == "mask":
            valid = inside
    if prev is not None:
        logits = logits + _as_pixel_rows(prev).reshape(n, p, -1)
    weights = normalise_logits(logits, valid, normalization)
    if q is None:
        attn = weights
    else:
        if padding != "circular":
            weights = torch.where(inside, weights, weights.new_zeros(()))
        attn = s.new_zeros(n, p, p).scatter_add(2, idx.expand(n, p, idx.shape[1]), weights)
    out = torch.bmm(attn, vf).transpose(1, 2).reshape(n, c, h, w)
    if not return_logits:
        return out, None
    return out, logits.reshape(n, h, w, -1).permute(0, 3, 1, 2)


def _pad_border_nhwc(x: Tensor, r: int, padding: Padding) -> Tensor:
    """Pad ``[N, H, W, C]`` by ``r`` on every side: wrap-around (any ``r``) or zeros."""
    if r == 0:
        return x
    if padding != "circular":
        return F.pad(x, (0, 0, r, r, r, r))
    for dim in (1, 2):
        size = x.shape[dim]
        if r <= size:  # one wrap: the last r rows/columns before, the first r after
            x = torch.cat([x.narrow(dim, size - r, r), x, x.narrow(dim, 0, r)], dim)
            continue
        reps = 2 * math.ceil(r / size) + 1
        start = (reps // 2) * size - r  # index start + j of the repeats holds x[(j - r) mod size]
        x = torch.cat([x] * reps, dim).narrow(dim, start, size + 2 * r)
    return x


def _windows(x: Tensor, tile: int, halo: int) -> Tensor:
    """Halo windows of a row of tiles: [N, t+halo, Wp+halo, C] -> [N*nT, (t+halo)^2, C]."""
    n, c = x.shape[0], x.shape[-1]
    side = tile + halo
    u = x.unfold(2, side, tile)  # N, side, nT, C, side
    return u.permute(0, 2, 1, 4, 3).reshape(n * u.shape[2], side * side, c)


def _tiles(x: Tensor, tile: int, n_t: int) -> Tensor:
    """One row of tiles [N, t, nT*t, C] -> [N*nT, t*t, C]."""
    n, c = x.shape[0], x.shape[-1]
    return x.reshape(n, tile, n_t, tile, c).permute(0, 2, 1, 3, 4).reshape(n * n_t, -1, c)


def _untile(x: Tensor, n: int, tile: int, n_t: int) -> Tensor:
    """Inverse of :func:`_tiles`: [N*nT, t*t, C] -> [N, t, nT*t, C]."""
    c = x.shape[-1]
    return x.reshape(n, n_t, tile, tile, c).permute(0, 2, 1, 3, 4).reshape(n, tile, n_t * tile, c)


def _local_index(tile: int, q: int, device: torch.device) -> Tensor:
    """[t*t, q*q]: position of each query's window slot inside its tile's halo window."""
    side = tile + q - 1
    a = torch.arange(tile, device=device)
    d = torch.arange(q, device=device)
    rows = a[:, None, None, None] + d[None, None, :, None]
    cols = a[None, :, None, None] + d[None, None, None, :]
    return (rows * side + cols).reshape(tile * tile, q * q)


def _blocked_local(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    q: int,
    score: Score,
    scale: float,
    normalization: Normalization,
    padding: Padding,
    prev: Tensor | None,
    tile: int,
    return_logits: bool,
    inplace: bool,
) -> tuple[Tensor, Tensor | None]:
    # Internally channels-last ([N, H, W, C]): tiles and windows then copy contiguous runs of
    # channels (and of the K logits of a pixel) instead of gathering across planes.
    n, d, h, w = query.shape
    r, kk, t = q // 2, q * q, tile
    halo = 2 * r
    n_th, n_tw = math.ceil(h / t), math.ceil(w / t)
    hp, wp = n_th * t, n_tw * t
    extra = (0, 0, 0, wp - w, 0, hp - h)
    qn = query.permute(0, 2, 3, 1)
    # Border padding of the image, then zeros up to whole tiles (only fake queries see those).
    kp = F.pad(_pad_border_nhwc(key.permute(0, 2, 3, 1), r, padding), extra)
    vp = F.pad(_pad_border_nhwc(value.permute(0, 2, 3, 1), r, padding), extra)
    valid_map = None
    if padding == "mask":
        ones = query.new_ones(1, h, w, 1)
        # in-image 1, border 0; the tile padding is 1 so that fake queries never see an
        # all-masked window (no NaN that could leak into gradients).
        valid_map = F.pad(F.pad(ones, (0, 0, r, r, r, r)), extra, value=1.0)
    local = _local_index(t, q, query.device)
    idx = local.expand(n * n_tw, t * t, kk)
    side = t + halo
    prev_rows = _as_pixel_rows(prev) if prev is not None else None  # N, H, W, K

    write_into = None
    if return_logits and not torch.is_grad_enabled():
        if inplace and prev_rows is not None:
            write_into = prev_rows
        else:
            write_into = query.new_empty(n, h, w, kk)  # returned as channels-last [N,K,H,W]
    outs: list[Tensor] = []
    logit_rows: list[Tensor] = []
    for i in range(n_th):
        y0 = i * t
        th = min(t, h - y0)
        rows = slice(y0, y0 + t + halo)
        qs = _tiles(F.pad(qn[:, y0 : y0 + th], (0, 0, 0, wp - w, 0, t - th)), t, n_tw)
        ks = _windows(kp[:, rows], t, halo)  # N*nT, side^2, d
        vs = _windows(vp[:, rows], t, halo)  # N*nT, side^2, c
        q_sq = (qs * qs).sum(-1) if score == "neg_sq_dist" else None
        s = _scores(qs, ks.transpose(1, 2), score, scale, q_sq)  # N*nT, t*t, side^2
        logits = s.gather(2, idx)
        if prev_rows is not None:
            ps = F.pad(prev_rows[:, y0 : y0 + th], (0, 0, 0, wp - w, 0, t - th))
            logits = logits + _tiles(ps, t, n_tw)
        valid = None
        if valid_map is not None:
            vwin = _windows(valid_map[:, rows], t, halo)[..., 0]  # nT, side^2
            valid = vwin[:, None, :].expand(n_tw, t * t, side * side).gather(2, idx[:n_tw]) > 0
            valid = valid.repeat(n, 1, 1)
        weights = normalise_logits(logits, valid, normalization)
        attn = s.new_zeros(s.shape).scatter_add(2, idx, weights)
        o = torch.bmm(attn, vs)  # N*nT, t*t, c
        outs.append(_untile(o, n, t, n_tw)[:, :th, :w])
        if return_logits:
            lg = _untile(logits, n, t, n_tw)[:, :th, :w]
            if write_into is not None:
                write_into[:, y0 : y0 + th] = lg
            else:
                logit_rows.append(lg)
    out = (torch.cat(outs, 1) if len(outs) > 1 else outs[0]).permute(0, 3, 1, 2)
    if not return_logits:
        return out, None
    if write_into is None:
        write_into = torch.cat(logit_rows, 1) if len(logit_rows) > 1 else logit_rows[0]
    return out, write_into.permute(0, 3, 1, 2)


def _blocked_global(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    score: Score,
    scale: float,
    normalization: Normalization,
    prev: Tensor | None,
    tile: int,
    return_logits: bool,
) -> tuple[Tensor, Tensor | None]:
    """Whole-image attention (``q=None``), queries in strips of rows."""
    n, _, h, w = query.shape
    c, p = value.shape[1], h * w
    kf = key.flatten(2)
    vf = value.flatten(2).transpose(1, 2)
    rows = max(1, min(h, (tile * tile * 64) // w))
    outs, logit_rows = [], []
    for y0 in range(0, h, rows):
        th = min(rows, h - y0)
        qs = query[:, :, y0 : y0 + th].flatten(2).transpose(1, 2)
        q_sq = (qs * qs).sum(-1) if score == "neg_sq_dist" else None
        logits = _scores(qs, kf, score, scale, q_sq)  # N, th*W, P
        if prev is not None:
            logits = logits + _as_pixel_rows(prev[:, :, y0 : y0 + th]).reshape(n, th * w, p)
        weights = normalise_logits(logits, None, normalization)
        outs.append(torch.bmm(weights, vf).transpose(1, 2).reshape(n, c, th, w))
        if return_logits:
            logit_rows.append(logits.reshape(n, th, w, p))
    out = torch.cat(outs, 2)
    if not return_logits:
        return out, None
    return out, torch.cat(logit_rows, 1).permute(0, 3, 1, 2)


def neighbourhood_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    q: int | None,
    *,
    score: Score = "dot",
    scale: float = 1.0,
    normalization: Normalization = "softmax",
    padding: Padding = "circular",
    prev_logits: Tensor | None = None,
    impl: Impl = "auto",
    tile: int = 16,
    return_logits: bool = True,
    inplace: bool = False,
    dense_max_pixels: int = DENSE_MAX_PIXELS,
) -> tuple[Tensor, Tensor | None]:
    """Attention of every pixel over its ``q x q`` window (module docstring for the maths).

    Args:
        query, key: ``[N, d, H, W]`` (theta(X) and psi(X), or X itself, per Table 1's metric).
        value: ``[N, c, H, W]`` (``G(X) = X W_g``, Eq. 5).
        q: odd window size, or ``None`` for the whole image.
        prev_logits: ``[N, K, H, W]``, added before normalisation (correlation propagation).
        impl: ``"reference"`` (plain loops), ``"dense"``, ``"blocked"`` or ``"auto"`` (the
            dense form for small images, else the blocked one); identical results.
        tile: query tile side of the blocked form (row-strip height budget for ``q=None``).
        return_logits: also return the ``[N, K, H, W]`` logits (the next correlation state).
        inplace: blocked form under ``torch.no_grad()`` only: write the new logits into
            ``prev_logits`` instead of a new tensor (halves the memory of the state).

    Returns:
        ``(Z, logits)``: ``Z`` is ``[N, c, H, W]`` (no skip connection), ``logits`` or ``None``.
    """
    _check_q(q)
    if padding not in _PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; expected one of {_PADDINGS}")
    if score not in _SCORES:
        raise ValueError(f"unknown score {score!r}; expected one of {_SCORES}")
    if normalization not in _NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}")
    if query.shape != key.shape or query.shape[0] != value.shape[0]:
        raise ValueError(f"shape mismatch: query {tuple(query.shape)}, key {tuple(key.shape)}")
    if query.shape[-2:] != value.shape[-2:]:
        raise ValueError("query and value must have the same spatial size")
    n, _, h, w = query.shape
    kk = neighbourhood_size(q, h, w)
    if prev_logits is not None and tuple(prev_logits.shape) != (n, kk, h, w):
        raise ValueError(
            f"prev_logits must be [N, K, H, W] = {(n, kk, h, w)}, got {tuple(prev_logits.shape)}"
        )
    if impl == "auto":
        impl = "dense" if h * w <= dense_max_pixels else "blocked"
    if impl == "reference":
        out, logits = _reference(
            query, key, value, q, score, scale, normalization, padding, prev_logits
        )
        return out, logits if return_logits else None
    if impl == "dense":
        return _dense(
            query, key, value, q, score, scale, normalization, padding, prev_logits, return_logits
        )
    if impl != "blocked":
        raise ValueError(
            f"unknown impl {impl!r}; expected 'auto', 'dense', 'blocked' or 'reference'"
        )
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    if q is None:
        return _blocked_global(
            query, key, value, score, scale, normalization, prev_logits, tile, return_logits
        )
    if inplace and torch.is_grad_enabled():
        raise RuntimeError("inplace=True is only allowed under torch.no_grad()")
    return _blocked_local(
        query,
        key,
        value,
        q,
        score,
        scale,
        normalization,
        padding,
        prev_logits,
        tile,
        return_logits,
        inplace,
    )
