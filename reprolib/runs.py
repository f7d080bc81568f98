"""The run folder: what one training run leaves under the results root, and how it is written.

Every trained run of the study lives in ``<results root>/<paper>/<entry>/<budget>/<run>/`` (the
results root is :func:`reprolib.claims.results_root`; ``<run>`` is the run's name for seed 0
and ``<run>__seed<k>`` for seed ``k``, :func:`seed_dir_name`). This module owns that layout, so
that the training loop, the evaluation, the experiment registry, the scaling curves and the
explorer agree on it:

* the file names (constants below) and who writes them: :mod:`reprolib.train` the checkpoint,
  the final weights, the summary, the log and the snapshots; :func:`reprolib.evaluate.
  evaluate_run` the evaluation (:func:`write_evaluation`: ``per_image.csv``, then
  ``metrics.csv``); :mod:`reprolib.experiments` the spec stamp, the reuse note and the executed
  notebook;
* atomic writes (:func:`atomic_write`): a temporary file in the same folder, then a rename, so a
  reader (or a run killed half-way) never leaves half a file behind;
* finding runs (:func:`trained_run_dirs`) and the run that trained a folder's weights when they
  were copied from another entry (:func:`weights_origin`);
* following a training from outside the process that runs it (:func:`follow_run`: the
  progress bar ``reprolib run`` shows while the train notebook's kernel trains).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from reprolib import claims

__all__ = [
    "CHECKPOINT",
    "LOG",
    "METRICS",
    "MODEL",
    "NOTEBOOK",
    "PER_IMAGE",
    "REUSED_FROM",
    "SNAPSHOTS",
    "SPEC",
    "SUMMARY",
    "TRAINED_FILES",
    "atomic_write",
    "follow_run",
    "last_logged",
    "read_summary",
    "seed_dir_name",
    "split_seed",
    "trained_run_dirs",
    "weights_origin",
    "write_csv",
    "write_evaluation",
    "write_text",
]

CHECKPOINT = "checkpoint.pt"  # full training state, every ckpt_every steps (train)
MODEL = "model.pt"  # final weights and recipe (train)
SUMMARY = "train_summary.json"  # recipe, budget, iterations, hardware, wall time (train)
LOG = "log.csv"  # loss, lr and validation PSNR per logging window (train)
SNAPSHOTS = "snapshots"  # weights at every validation point, model_<iteration>.pt (train)
PER_IMAGE = "per_image.csv"  # one row per test image and setting (evaluate_run)
METRICS = "metrics.csv"  # averages per set and setting: the run is scored (evaluate_run)
PARTIAL = "evaluation_partial"  # <weights sha>/<set>__<setting>.csv scored so far (evaluate_run)
SPEC = "spec.json"  # what the results were produced from (experiments)
REUSED_FROM = "REUSED_FROM"  # the run folder whose weights were copied here (experiments)
NOTEBOOK = "train.ipynb"  # the executed training notebook (experiments)

#: The files of a finished training run that another entry can reuse (not its evaluation).
TRAINED_FILES: tuple[str, ...] = (SUMMARY, MODEL, LOG)

_SEED_DIR = re.compile(r"(.+?)(?:__seed(\d+))?")


def seed_dir_name(run_name: str, seed: int) -> str:
    """The run folder name of one seed: the run's name for seed 0, ``<run>__seed<k>`` else."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"a seed is a non-negative integer, got {seed!r}")
    return run_name if seed == 0 else f"{run_name}__seed{seed}"


def split_seed(folder_name: str) -> tuple[str, int]:
    """``(run name, seed)`` of a run folder name (the inverse of :func:`seed_dir_name`)."""
    m = _SEED_DIR.fullmatch(folder_name)
    return (m.group(1), int(m.group(2) or 0)) if m else (folder_name, 0)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    ``os.replace`` is atomic on one file system: readers see the old file or the new one,
    never a part of it. The folder is created; the temporary file never outlives the call.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_csv(path: str | Path, frame: pd.DataFrame, **to_csv: Any) -> Path:
    """Write ``frame`` to ``path`` as CSV (no index unless asked) atomically."""
    to_csv.setdefault("index", False)
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, **to_csv))


def write_evaluation(run_dir: str | Path, per_image: pd.DataFrame, metrics: pd.DataFrame) -> None:
    """A run's evaluation: ``per_image.csv`` first, then ``metrics.csv``, whose presence marks
    the run as scored (:func:`reprolib.experiments.is_current`)."""
    write_csv(Path(run_dir) / PER_IMAGE, per_image)
    write_csv(Path(run_dir) / METRICS, metrics)


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """A run folder's ``train_summary.json`` ({} before its training has finished once)."""
    path = Path(run_dir) / SUMMARY
    return json.loads(path.read_text()) if path.exists() else {}


def weights_origin(run_dir: str | Path) -> Path:
    """The folder that trained ``run_dir``'s weights: itself, or, when they were copied from
    another entry (``REUSED_FROM``, relative to the results root), that folder's origin."""
    folder, seen = Path(run_dir), set()
    while (folder / REUSED_FROM).exists() and folder not in seen:
        seen.add(folder)
        folder = claims.results_root() / (folder / REUSED_FROM).read_text().strip()
    return folder


def trained_run_dirs(root: str | Path | None = None) -> list[Path]:
    """Every run folder with final weights, ``<paper>/<entry>/<budget>/<run>/model.pt``, under
    ``root`` (default: the results root), sorted."""
    base = Path(root) if root is not None else claims.results_root()
    return sorted(p.parent for p in base.glob(f"*/*/*/*/{MODEL}"))


def last_logged(run_dir: str | Path) -> dict[str, float]:
    """The last ``iteration`` and ``loss`` of a run's ``log.csv`` and its last ``val_psnr``
    ({} while there is none). Tolerates a log being appended to: a half-written last line is
    skipped."""
    path = Path(run_dir) / LOG
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    if len(lines) < 2:
        return {}
    header = lines[0].split(",")
    out: dict[str, float] = {}
    for line in reversed(lines[1:]):
        values = line.split(",")
        if len(values) != len(header):
            continue
        row = dict(zip(header, values, strict=True))
        try:
            if "iteration" not in out:
                out["iteration"], out["loss"] = float(row["iteration"]), float(row["loss"])
            if row.get("val_psnr", "nan") not in ("", "nan"):
                out["val_psnr"] = float(row["val_psnr"])
                break
        except (KeyError, ValueError):
            continue
    return out


def scored_images(run_dir: str | Path) -> int:
    """Images a run's evaluation has scored so far: the rows of the finished set x setting files
    and of the per-image row files under ``evaluation_partial/`` (0 when there are none)."""
    n = 0
    for path in _partial_files(run_dir):
        try:
            n += max(0, sum(1 for line in path.read_text().splitlines() if line) - 1)
        except OSError:
            continue
    return n


def _partial_files(run_dir: str | Path) -> list[Path]:
    """A stopped evaluation's scored files: finished set x setting CSVs and per-image rows."""
    part = Path(run_dir) / PARTIAL
    return [*part.glob("*/*.csv"), *part.glob("*/rows/*.rows.csv")]


def scored_rows(run_dir: str | Path) -> pd.DataFrame:
    """The ``dataset, setting, image`` a run's stopped evaluation has scored so far (the files
    :func:`scored_images` counts), so that what is left can be costed image by image."""
    keys, frames = ["dataset", "setting", "image"], []
    for path in _partial_files(run_dir):
        try:
            frames.append(pd.read_csv(path, usecols=keys, dtype=str))
        except (OSError, ValueError, pd.errors.EmptyDataError):
            continue
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=keys)


@contextmanager
def follow_run(
    run_dir: str | Path, total: int, desc: str, every_s: float = 10.0, images: int = 0
) -> Iterator[Any]:
    """A terminal progress bar of a run another process trains and scores (the train notebook's
    kernel, whose own bar a ``reprolib run`` user never sees): iterations logged so far in the
    run's ``log.csv``, the last loss and validation PSNR, polled every ``every_s`` seconds. A
    resumed run starts at the iteration its log had reached (``initial``), so the rate shown
    is this call's, not the earlier calls' iterations over ten seconds. With ``images`` (the
    size of the evaluation grid), the bar then follows the scoring, image by image
    (:func:`scored_images`): on one core MemNet takes hours over Urban100. Yields the bar."""
    from tqdm import tqdm

    start = int(last_logged(run_dir).get("iteration", 0))
    bar = tqdm(total=total, initial=start, desc=desc, unit="it", dynamic_ncols=True)
    scoring = threading.Event()
    stop = threading.Event()
    began = time.time()

    def update() -> None:
        last = last_logged(run_dir)
        scored = scored_images(run_dir) if images else 0
        metrics = Path(run_dir) / METRICS
        if images and metrics.is_file() and metrics.stat().st_mtime >= began:
            scored = images  # written by this call: the partial rows are gone, all scored
        if images and not scoring.is_set() and (scored or last.get("iteration", 0) >= total):
            scoring.set()  # training done (or reused): the same bar follows the scoring
            bar.unit = "img"
            bar.set_description(f"{desc} scoring", refresh=False)
            bar.set_postfix({}, refresh=False)  # the training's loss no longer applies
            bar.initial = 0
            bar.reset(total=images)
            bar.initial = bar.n = bar.last_print_n = scored  # the rate: this call's images
        if scoring.is_set():
            bar.update(max(0, min(scored, images) - bar.n))
            bar.refresh()
        elif "iteration" in last:
            bar.update(int(last["iteration"]) - bar.n)
            shown = {"loss": f"{last['loss']:.4g}"}
            if "val_psnr" in last:
                shown["val_psnr"] = f"{last['val_psnr']:.2f}"
            bar.set_postfix(shown, refresh=False)
            bar.refresh()

    def poll() -> None:
        while not stop.wait(every_s):
            update()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield bar
    finally:
        stop.set()
        thread.join()
        update()
        bar.close()
