"""The study's one evaluation path: test pairs, any restorer, one score per image.

Every number the study reports comes through here: non-learned baselines, the published DnCNN
weights, the trained models of all four papers (on their test sets, while training as
validation, and on MemoryNet's synthetic proxies), the analyses' figures and the explorer.

* :func:`make_pair` forms a test pair (:class:`Pair`) from a stored image as the protocol says
  (``reprolib.protocols``: channel, mod-crop, reference resizing) and degrades it
  (``reprolib.degrade``); :func:`iter_pairs` does so for a test set. This is the only place
  where pairs are formed.
* :func:`measure` runs a method (a name known to :mod:`reprolib.restorers` or any restorer) on
  every pair of a set and scores it, one row per image (:data:`PER_IMAGE_COLUMNS`);
  :func:`summarise` averages over images, as the papers do.
* :func:`evaluate_checkpoint` scores a trained model on a grid of sets and settings;
  :func:`evaluate_run` does so for a run folder and writes its ``per_image.csv`` and
  ``metrics.csv`` (:mod:`reprolib.runs`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from reprolib import data, degrade, protocols, restorers, runs
from reprolib.recipes import Recipe
from reprolib.restorers import Restorer

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "PER_IMAGE_COLUMNS",
    "Pair",
    "degraded_input",
    "evaluate_checkpoint",
    "evaluate_run",
    "iter_pairs",
    "make_pair",
    "measure",
    "summarise",
]

PER_IMAGE_COLUMNS = [
    "protocol", "dataset", "setting", "method", "image", "psnr", "ssim", "seconds",
]  # fmt: skip


class EvaluationPaused(RuntimeError):
    """A deadline stopped an evaluation between two images. The images scored so far are kept
    (the rows files of :func:`measure`), so the next call resumes at the first one not scored:
    on one core MemNet's Table 4 grid takes over five hours, longer than a working session."""


@dataclass(frozen=True)
class Pair:
    """One test image as a restorer sees it and as it is scored.

    Attributes:
        key: ``<set>/<file stem>``; it seeds the degradation, so a pair is the same every time.
        dataset: the set label the protocol is applied for (BSD200 is halved by some).
        setting: ``"x3"``, ``"sigma25"``, ``"q10"``, ``"font10"``, ``"shadow"``, ...
        protocol: the :mod:`reprolib.protocols` preset.
        degraded: the network input, float64 on [0, 1] (HxW; HxWx3 for the RGB proxies).
        target: the uint8 reference in the protocol's channel.
        mask: the shadow region of the shadow proxy or the corrupted (text or scratch) pixels
            of inpainting (bool HxW), else ``None``.
        scale: the SR scale (1 for other tasks): the width of the border some protocols shave.
    """

    key: str
    dataset: str
    setting: str
    protocol: str
    degraded: np.ndarray
    target: np.ndarray
    mask: np.ndarray | None = None
    scale: int = 1

    @property
    def image(self) -> str:
        """The file stem (``"09"``, ``"butterfly_GT"``)."""
        return self.key.split("/", 1)[1]

    def score(self, restored: np.ndarray) -> tuple[float, float]:
        """(PSNR, SSIM) of a restoration on [0, 1], as the protocol scores it."""
        return protocols.get(self.protocol).score(restored * 255.0, self.target, self.scale)


def _degrade(target: np.ndarray, setting: str, key: str) -> tuple[np.ndarray, np.ndarray | None]:
    task, level = protocols.parse_setting(setting)
    mask = None
    if task == "sr":
        degraded = degrade.bicubic_degrade(target / 255.0, level)
    elif task == "denoise":
        degraded = degrade.add_gaussian_noise(target.astype(np.float64), level, key=key) / 255.0
    elif task == "jpeg":
        degraded = degrade.jpeg(target, level).astype(np.float64) / 255.0
    elif task == "inpaint":
        corrupted, mask = degrade.inpaint_corruption(target, level, key=key)
        degraded = corrupted.astype(np.float64) / 255.0
    else:
        corrupted, mask = degrade.synthetic_proxy(target, task, key=key)
        degraded = corrupted.astype(np.float64) / 255.0
    return degraded, mask


def degraded_input(gt: np.ndarray, setting: str, key: str) -> np.ndarray:
    """The network input for one uint8 reference image, as float64 on [0, 1].

    * ``x<s>``: MATLAB bicubic down by ``s`` then up by ``s``, in double precision, not
      quantised (MemNet/VDSR test code);
    * ``sigma<n>``: additive Gaussian noise of std ``n`` (on the 0-255 scale), unclipped, seeded
      per image key and sigma (see :func:`reprolib.degrade.add_gaussian_noise`);
    * ``q<n>``: JPEG round trip of the uint8 channel at quality ``n`` (Pillow, IJG tables);
    * ``font<n>`` / ``scratch``: white text of font size ``n`` or random scratches drawn on the
      uint8 channel (:func:`reprolib.degrade.inpaint_corruption`), keyed on the image;
    * ``shadow`` / ``motion_blur``: MemoryNet's synthetic proxy of an RGB image, uint8
      (:func:`reprolib.degrade.synthetic_proxy`), keyed on the image.
    """
    return _degrade(gt, setting, key)[0]


def make_pair(
    image: data.LoadedImage,
    dataset: str,
    setting: str,
    protocol: str,
    *,
    box: tuple[int, int, int, int] | None = None,
) -> Pair:
    """The test pair of one loaded image under ``protocol`` at ``setting``.

    ``box`` ``(top, left, height, width)`` cuts the reference before it is degraded (the
    explorer's crops): the degradation is then that of the crop (noise keyed on the image,
    bicubic and JPEG of the crop itself), not a crop of the whole image's degradation. For SR
    its sides must be multiples of the scale. Settings the protocol does not score raise
    ``ValueError`` naming both.
    """
    proto = protocols.get(protocol)
    task, level = proto.task_of(setting)
    scale = level if task == "sr" else 1
    target = proto.ground_truth(image.pixels, dataset, scale)
    if box is not None:
        top, left, h, w = box
        target = np.ascontiguousarray(target[top : top + h, left : left + w])
    degraded, mask = _degrade(target, setting, image.key)
    return Pair(image.key, dataset, setting, protocol, degraded, target, mask, scale)


def iter_pairs(
    dataset: str,
    setting: str,
    protocol: str,
    *,
    split: str | None = None,
    limit: int | None = None,
) -> Iterator[Pair]:
    """The test pairs of a set, one at a time (the first ``limit`` images when given).

    ``split`` is the registry set to load when it differs from the label the protocol is
    applied for (``dataset="Urban100", split="Urban100-gray"``). The images are checked
    against the manifest first; a pair is formed only when it is needed.
    """
    protocols.get(protocol).task_of(setting)  # fail before loading anything
    for image in data.load(split or dataset, limit=limit):
        yield make_pair(image, dataset, setting, protocol)


def measure(
    method: str | Restorer,
    dataset: str,
    setting: str,
    protocol: str,
    *,
    split: str | None = None,
    method_name: str | None = None,
    limit: int | None = None,
    progress: bool = True,
    rows_file: str | Path | None = None,
    deadline: float | None = None,
) -> pd.DataFrame:
    """Per-image PSNR/SSIM of ``method`` on ``dataset`` at ``setting`` under ``protocol``.

    ``method`` is a name :func:`reprolib.restorers.get` knows (``"Bicubic"``, ``"BM3D"``,
    ``"DnCNN"``, ``"nlrn/table4/NLRN@cpu"``, ...) or any :data:`~reprolib.restorers.Restorer`.
    Returns :data:`PER_IMAGE_COLUMNS` rows; ``seconds`` is the restorer's time per image.
    ``rows_file``: each image's row is appended there as it is scored, and images already in it
    (a stopped measurement of the same restorer) are kept, not restored again - on one CPU core
    a large set such as Urban100 takes over an hour per setting for MemNet. ``deadline`` (a
    :func:`time.time` value): past it, :class:`EvaluationPaused` is raised before the next
    image is restored (with ``rows_file``, nothing scored is lost).
    """
    protocols.get(protocol).task_of(setting)
    restore = restorers.restorer(method, setting) if isinstance(method, str) else method
    name = method_name or (method if isinstance(method, str) else "custom")
    kept = _scored_rows(rows_file)
    rows = []
    pairs = iter_pairs(dataset, setting, protocol, split=split, limit=limit)
    bar = tqdm(pairs, desc=f"{name} {dataset} {setting}", disable=not progress, leave=False)
    for pair in bar:
        if pair.image in kept:
            rows.append(kept[pair.image])
            continue
        if deadline is not None and time.time() >= deadline:
            raise EvaluationPaused(f"{name} {dataset} {setting}: deadline reached after "
                                   f"{len(rows)} images")  # fmt: skip
        t0 = time.perf_counter()
        restored = restore(pair.degraded)
        seconds = time.perf_counter() - t0
        p, s = pair.score(restored)
        rows.append((protocol, dataset, setting, name, pair.image, p, s, seconds))
        if rows_file is not None:
            _append_row(rows_file, rows[-1])
    return pd.DataFrame(rows, columns=PER_IMAGE_COLUMNS)


def _scored_rows(rows_file: str | Path | None) -> dict[str, tuple]:
    """The rows of a stopped measurement, by image (none when there is no file)."""
    if rows_file is None or not Path(rows_file).is_file():
        return {}
    frame = pd.read_csv(rows_file, dtype={"image": str})
    return {r.image: tuple(r) for r in frame[PER_IMAGE_COLUMNS].itertuples(index=False)}


def _append_row(rows_file: str | Path, row: tuple) -> None:
    """Append one scored image to ``rows_file`` (header first), flushed to disk at once."""
    path = Path(rows_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = not path.is_file()
    with path.open("a") as f:
        pd.DataFrame([row], columns=PER_IMAGE_COLUMNS).to_csv(f, header=header, index=False)
        f.flush()
        os.fsync(f.fileno())


def grid_images(
    recipe: Recipe, limit: int | None = None, datasets: Sequence[str] | None = None
) -> int:
    """How many images an evaluation of ``recipe``'s test grid scores (every image of every
    test set, or of ``datasets``, once per setting; the first ``limit`` of each set when
    given)."""
    per_set = [len(data.files(ds)) for ds in datasets or recipe.test_sets]
    if limit is not None:
        per_set = [min(n, limit) for n in per_set]
    return sum(per_set) * len(recipe.test_settings)


def rows_path(rows_dir: str | Path, dataset: str, setting: str) -> Path:
    """Where a stopped set x setting keeps the rows scored so far (:func:`measure`)."""
    return Path(rows_dir) / f"{dataset}__{setting}.rows.csv"


def summarise(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean PSNR/SSIM per (protocol, dataset, setting, method), with image count and time."""
    keys = ["protocol", "dataset", "setting", "method"]
    g = per_image.groupby(keys, sort=False)
    out = g.agg(psnr=("psnr", "mean"), ssim=("ssim", "mean"), seconds=("seconds", "sum"))
    out["n_images"] = g.size()
    return out.reset_index()


# --------------------------------------------------------------------------------------------
# trained models
# --------------------------------------------------------------------------------------------


def evaluate_checkpoint(
    run: str | Path | nn.Module,
    datasets: Sequence[str] | None = None,
    settings: Sequence[str] | None = None,
    protocol: str | None = None,
    *,
    recipe: Recipe | None = None,
    limit: int | None = None,
    ensemble: bool = False,
    tile: int | str | None = "auto",
    device: str | torch.device | None = None,
    method_name: str | None = None,
    progress: bool = True,
    threads: int | None = None,
    rows_dir: str | Path | None = None,
    deadline: float | None = None,
) -> pd.DataFrame:
    """Per-image PSNR/SSIM of a trained model on ``datasets`` x ``settings`` under ``protocol``.

    ``run`` is a run folder / model file (the recipe comes with it) or a model (then pass
    ``recipe`` or all of ``datasets``, ``settings``, ``protocol``). Defaults are the recipe's
    test sets, settings and protocol. Restoration as :func:`reprolib.restorers.model_restorer`
    (``tile``, ``ensemble``). ``threads``: torch CPU threads while scoring (more threads than
    free cores slows inference several times over). ``rows_dir``: each set x setting keeps its
    rows as they are scored in ``<set>__<setting>.rows.csv`` there (:func:`measure`'s
    ``rows_file``); ``deadline``: as :func:`measure`'s. Returns :data:`PER_IMAGE_COLUMNS`
    rows; average them with :func:`summarise`.
    """
    import torch

    from reprolib.models.inference import check_threads, torch_threads

    check_threads(threads)
    if isinstance(run, torch.nn.Module):
        model = run
        if recipe is None and (datasets is None or settings is None or protocol is None):
            raise ValueError("evaluating a bare model needs recipe= or datasets/settings/protocol")
        dev = torch.device(device) if device else next(model.parameters()).device
    else:
        model, loaded = restorers.load_model(run, device)
        recipe = recipe or loaded
        dev = next(model.parameters()).device
    sets = list(datasets or recipe.test_sets)  # type: ignore[union-attr]
    grid = list(settings or recipe.test_settings)  # type: ignore[union-attr]
    proto = protocol or recipe.protocol  # type: ignore[union-attr]
    name = method_name or (f"{recipe.name}@{recipe.budget}" if recipe else "model")
    restore = restorers.model_restorer(model, dev, tile=tile, ensemble=ensemble)
    with torch_threads(threads):
        frames = [
            measure(
                restore,
                ds,
                st,
                proto,
                method_name=name,
                limit=limit,
                progress=progress,
                rows_file=None if rows_dir is None else rows_path(rows_dir, ds, st),
                deadline=deadline,
            )  # fmt: skip
            for ds in sets
            for st in grid
        ]
    return pd.concat(frames, ignore_index=True)


def evaluate_run(
    run_dir: str | Path,
    datasets: Sequence[str] | None = None,
    *,
    recipe: Recipe | None = None,
    limit: int | None = None,
    device: str | torch.device | None = None,
    threads: int | None = None,
    progress: bool = True,
    deadline: float | None = None,
) -> pd.DataFrame:
    """Score a finished run folder on its test grid (with the x8 self-ensemble where the recipe's
    ``test_ensemble`` says so) and write its evaluation; return the per-set averages (what
    ``metrics.csv`` holds). An evaluation stopped part-way resumes at
    the first set x setting not yet scored by the same weights (``evaluation_partial/``),
    at the first image not yet scored in it. Past ``deadline`` (a :func:`time.time` value)
    it stops between two images with :class:`EvaluationPaused`, writing no ``metrics.csv``.

    ``recipe`` is the grid to score (default: the one saved with the weights; an entry that
    reused another's weights passes its own). ``per_image.csv`` gets one row per image
    (:func:`evaluate_checkpoint`); ``metrics.csv`` the averages (:func:`summarise`) with the
    training budget (``budget, iterations, patches_seen`` first, ``train_wall_s, hardware``
    last) from ``train_summary.json``. Both are written by :func:`reprolib.runs.
    write_evaluation`.
    """
    run_dir = Path(run_dir)
    info = runs.read_summary(run_dir)
    if info.get("status") != "finished":
        raise FileNotFoundError(f"{run_dir} holds no finished training run to evaluate")
    model, saved = restorers.load_model(run_dir, device)
    grid = recipe or saved
    # Each set x setting is kept as it is scored (keyed by the weights' hash), and each image
    # within it, so an evaluation stopped part-way (Urban100 takes hours on one core) resumes
    # at the first image not yet scored.
    weights = run_dir / runs.MODEL
    key = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    partial = run_dir / runs.PARTIAL / (f"{key}_x8" if grid.test_ensemble else key)
    frames = []
    for ds in datasets or grid.test_sets:
        for st in grid.test_settings:
            done = partial / (f"{ds}__{st}.csv" if limit is None else f"{ds}__{st}__{limit}.csv")
            if done.is_file():
                frames.append(pd.read_csv(done, dtype={"image": str}))
                continue
            try:
                frame = evaluate_checkpoint(
                    model, [ds], [st], recipe=grid, limit=limit, ensemble=grid.test_ensemble,
                    threads=threads, progress=progress,
                    rows_dir=partial / "rows" if limit is None else None, deadline=deadline,
                )  # fmt: skip
            except EvaluationPaused:
                scored = runs.scored_images(run_dir)
                raise EvaluationPaused(
                    f"{run_dir}: evaluation stopped at its deadline, {scored} of "
                    f"{grid_images(grid, limit, datasets)} images scored; run again to continue"
                ) from None
            runs.write_csv(done, frame)
            rows_path(partial / "rows", ds, st).unlink(missing_ok=True)
            frames.append(frame)
    per_image = pd.concat(frames, ignore_index=True)
    metrics = summarise(per_image)
    metrics.insert(0, "budget", recipe.budget if recipe is not None else info["budget"])
    metrics.insert(1, "iterations", info["iterations"])
    metrics.insert(2, "patches_seen", info["patches_seen"])
    metrics["train_wall_s"] = info["wall_s"]
    metrics["hardware"] = info["hardware"]
    runs.write_evaluation(run_dir, per_image, metrics)
    shutil.rmtree(run_dir / runs.PARTIAL, ignore_errors=True)
    return metrics
