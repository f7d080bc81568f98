"""Paired restoration sets (degraded image, clean target, optional mask) in their release layouts.

MemoryNet (Zhang et al. 2022, Sec. IV) trains and tests on three paired sets, each distributed
in its own folder layout:

* **ISTD** (Wang, Li & Yang, "Stacked conditional GANs for jointly learning shadow detection
  and shadow removal", CVPR 2018; https://github.com/DeepInsight-PCALab/ST-CGAN): ``train_A/``
  shadow images, ``train_B/`` shadow masks, ``train_C/`` shadow-free images, the same for
  ``test_*``, matched by file name (1330 training and 540 test triples); the release nests them
  as ``train/train_A`` and ``test/test_A``, and both are accepted. The staged sample
  ``ISTD_sample`` uses a flat naming instead: ``<id>_shadow.png``, ``<id>_shadow_mask.png``,
  ``<id>_shadow_free_original.png`` (the test_C image, not colour-adjusted).
* **RainDrop** (Qian et al., "Attentive generative adversarial network for raindrop removal
  from a single image", CVPR 2018; https://github.com/rui1996/DeRaindrop): ``data/N_rain.png``
  and ``gt/N_clean.png`` per split (``train``, ``test_a``, ``test_b``), matched by the number
  N (the authors' ``predict.py`` pairs the two sorted listings, which is the same when every
  file has its partner).
* **GoPro** (Nah, Kim & Lee, "Deep multi-scale CNN for dynamic scene deblurring", CVPR 2017;
  https://seungjunnah.github.io/Datasets/gopro): ``<split>/<sequence>/blur/*.png`` (or
  ``blur_gamma/``) and ``<split>/<sequence>/sharp/*.png``, matched by file name (2103 training
  and 1111 test pairs). The staged sample ``GoPro_sample`` is flat: ``Flower_blur1.png`` /
  ``Flower_sharp1.png``.

Pairing is checked for the whole set before anything is decoded, so a shadow image without a
mask, or a rainy image without its clean partner, fails at once with :class:`PairedDataError`
naming the folder, the layout that was expected and the files that are unpaired. Images are
decoded lazily by :class:`PairedDataset` (a sequence of :class:`PairedSample`), because the full
sets are several GB. The full sets are not staged with this project (see the datasets README);
pointed at a missing folder, the loaders say where to download them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np
from PIL import Image

from reprolib import data

__all__ = [
    "SOURCES",
    "LAYOUTS",
    "PairedDataError",
    "PairPaths",
    "PairedSample",
    "PairedDataset",
    "detect_layout",
    "load_paired",
    "load_istd",
    "load_raindrop",
    "load_gopro",
    "load_sample",
    "sample_root",
]

SOURCES = {
    "ISTD": "https://github.com/DeepInsight-PCALab/ST-CGAN",
    "RainDrop": "https://github.com/rui1996/DeRaindrop",
    "GoPro": "https://seungjunnah.github.io/Datasets/gopro",
}

# Layout name -> (dataset, human description used in error messages).
LAYOUTS = {
    "istd": (
        "ISTD",
        "<split>_A/ (shadow), <split>_B/ (mask), <split>_C/ (shadow-free), same names",
    ),
    "istd_flat": ("ISTD", "<id>_shadow.png, <id>_shadow_mask.png, <id>_shadow_free_original.png"),
    "raindrop": ("RainDrop", "data/N_rain.png and gt/N_clean.png, matched by N"),
    "gopro": ("GoPro", "<sequence>/blur/*.png and <sequence>/sharp/*.png, same names"),
    "gopro_flat": ("GoPro", "<scene>_blur<k>.png and <scene>_sharp<k>.png"),
}

# Folder names under a data root where a full set is looked for when no root is given.
_FULL_SET_FOLDERS = {
    "ISTD": ("ISTD_Dataset", "ISTD"),
    "RainDrop": ("RainDrop", "DeRaindrop", "raindrop"),
    "GoPro": ("GOPRO_Large", "GoPro", "GOPRO"),
}

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_MAX_LISTED = 5

_ISTD_FLAT = re.compile(r"^(?P<id>.+?)_(?P<role>shadow_free_original|shadow_mask|shadow)$")
_GOPRO_FLAT = re.compile(r"^(?P<scene>.+)_(?P<role>blur|sharp)(?P<k>\d*)$")
_RAIN = re.compile(r"^(?P<n>\d+)_(?P<role>rain|clean)$")


class PairedDataError(data.DatasetError, ValueError):
    """A paired set is missing, has an unknown layout, or has unpaired / inconsistent files.

    A :class:`ValueError` (bad input) and also a :class:`reprolib.data.DatasetError`, so code
    that already handles missing benchmark data handles paired sets the same way.
    """


@dataclass(frozen=True)
class PairPaths:
    """The files of one pair; ``mask`` only for ISTD."""

    name: str
    degraded: Path
    target: Path
    mask: Path | None = None


@dataclass(frozen=True)
class PairedSample:
    """One decoded pair: uint8 ``HxWx3`` degraded and target images, bool ``HxW`` mask or None.

    ``mask`` is True on shadow pixels: every non-zero value of the ISTD mask PNG, as the MATLAB
    evaluation scripts' ``~m`` (see :func:`reprolib.metrics.lab_rmse_regions`).
    """

    name: str
    degraded: np.ndarray
    target: np.ndarray
    mask: np.ndarray | None = None


class PairedDataset(Sequence[PairedSample]):
    """A checked list of pairs that decodes each one on access (``ds[i]``, iteration, slices)."""

    def __init__(self, root: Path, layout: str, pairs: Sequence[PairPaths]) -> None:
        self.root = Path(root)
        self.layout = layout
        self.pairs: tuple[PairPaths, ...] = tuple(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    @overload
    def __getitem__(self, index: int) -> PairedSample: ...

    @overload
    def __getitem__(self, index: slice) -> list[PairedSample]: ...

    def __getitem__(self, index: int | slice) -> PairedSample | list[PairedSample]:
        if isinstance(index, slice):
            return [_decode_pair(p) for p in self.pairs[index]]
        return _decode_pair(self.pairs[index])

    def __iter__(self) -> Iterator[PairedSample]:
        for p in self.pairs:
            yield _decode_pair(p)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.pairs]

    def load(self) -> list[PairedSample]:
        """Decode every pair now."""
        return list(self)

    def __repr__(self) -> str:
        return f"PairedDataset({str(self.root)!r}, layout={self.layout!r}, {len(self)} pairs)"


# --------------------------------------------------------------------------------------------
# Decoding


def _read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def _read_mask(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("L")) != 0


def _decode_pair(p: PairPaths) -> PairedSample:
    degraded, target = _read_rgb(p.degraded), _read_rgb(p.target)
    if degraded.shape != target.shape:
        raise PairedDataError(
            f"pair {p.name!r}: {p.degraded} is {degraded.shape[1]}x{degraded.shape[0]} but "
            f"{p.target} is {target.shape[1]}x{target.shape[0]}"
        )
    mask = None
    if p.mask is not None:
        mask = _read_mask(p.mask)
        if mask.shape != degraded.shape[:2]:
            raise PairedDataError(
                f"pair {p.name!r}: mask {p.mask} is {mask.shape[1]}x{mask.shape[0]} but the "
                f"image is {degraded.shape[1]}x{degraded.shape[0]}"
            )
    return PairedSample(p.name, degraded, target, mask)


# --------------------------------------------------------------------------------------------
# Listing and pairing


def _natural_key(s: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def _images(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda p: _natural_key(p.name),
    )


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _fail(folder: Path, layout: str, problems: list[str]) -> PairedDataError:
    dataset, description = LAYOUTS[layout]
    return PairedDataError(
        f"{folder}: not a complete {dataset} set in the {layout!r} layout "
        f"({description}): " + "; ".join(problems)
    )


def _pair_up(
    groups: dict[str, dict[str, Path]],
    roles: dict[str, str],
    folder: Path,
    layout: str,
    extra_problems: Sequence[str] = (),
) -> list[dict[str, Path]]:
    """Check that every key has every role; ``roles`` maps role -> where it should be."""
    problems = list(extra_problems)
    for role, where in roles.items():
        lacking = [k for k in groups if role not in groups[k]]
        if lacking:
            have = {r for k in lacking for r in groups[k]}
            have_txt = "/".join(sorted(have))
            problems.append(
                f"{len(lacking)} {have_txt} file(s) without a {role} in {where}: "
                f"{_listing([_shown_name(groups[k], folder) for k in lacking])}"
            )
    if problems:
        raise _fail(folder, layout, problems)
    if not groups:
        raise _fail(folder, layout, ["no image pairs found"])
    return [groups[k] for k in sorted(groups, key=_natural_key)]


def _shown_name(group: dict[str, Path], folder: Path) -> str:
    p = next(iter(group.values()))
    try:
        return p.relative_to(folder).as_posix()
    except ValueError:
        return str(p)


def _add(
    groups: dict[str, dict[str, Path]], key: str, role: str, path: Path, dupes: list[str]
) -> None:
    g = groups.setdefault(key, {})
    if role in g:
        dupes.append(f"{g[role].name} and {path.name} are both the {role} of {key!r}")
    else:
        g[role] = path


def _duplicates(dupes: list[str]) -> list[str]:
    return [f"ambiguous files: {_listing(dupes)}"] if dupes else []


# --------------------------------------------------------------------------------------------
# Layouts


def _istd_split_dir(root: Path, split: str) -> Path:
    if (root / f"{split}_A").is_dir():
        return root
    if (root / split / f"{split}_A").is_dir():
        return root / split
    raise _fail(root, "istd", [f"no {split}_A/ folder here or in {split}/"])


def _istd_pairs(root: Path, split: str) -> list[PairPaths]:
    folder = _istd_split_dir(root, split)
    role_dirs = {"shadow image": "A", "mask": "B", "shadow-free image": "C"}
    missing_dirs = [
        f"{split}_{s}/" for s in role_dirs.values() if not (folder / f"{split}_{s}").is_dir()
    ]
    if missing_dirs:
        raise _fail(folder, "istd", [f"missing folder(s) {', '.join(missing_dirs)}"])
    groups: dict[str, dict[str, Path]] = {}
    dupes: list[str] = []
    for role, s in role_dirs.items():
        for p in _images(folder / f"{split}_{s}"):
            _add(groups, p.stem, role, p, dupes)
    where = {role: f"{split}_{s}/" for role, s in role_dirs.items()}
    matched = _pair_up(groups, where, folder, "istd", _duplicates(dupes))
    return [
        PairPaths(g["shadow image"].stem, g["shadow image"], g["shadow-free image"], g["mask"])
        for g in matched
    ]


def _istd_flat_pairs(folder: Path) -> list[PairPaths]:
    names = {"shadow": "shadow image", "shadow_mask": "mask", "shadow_free_original": "target"}
    groups: dict[str, dict[str, Path]] = {}
    dupes: list[str] = []
    for p in _images(folder):
        m = _ISTD_FLAT.match(p.stem)
        if m:
            _add(groups, m["id"], names[m["role"]], p, dupes)
    where = {
        "shadow image": "<id>_shadow.png",
        "mask": "<id>_shadow_mask.png",
        "target": "<id>_shadow_free_original.png",
    }
    matched = _pair_up(groups, where, folder, "istd_flat", _duplicates(dupes))
    return [
        PairPaths(
            g["shadow image"].stem.removesuffix("_shadow"),
            g["shadow image"],
            g["target"],
            g["mask"],
        )
        for g in matched
    ]


def _raindrop_split_dir(root: Path, split: str | None) -> Path:
    if (root / "data").is_dir() or (root / "gt").is_dir():
        return root
    if split is not None and (root / split / "data").is_dir():
        return root / split
    raise _fail(root, "raindrop", [f"no data/ and gt/ folders here or in {split}/"])


def _raindrop_pairs(root: Path, split: str | None) -> list[PairPaths]:
    folder = _raindrop_split_dir(root, split)
    missing_dirs = [f"{d}/" for d in ("data", "gt") if not (folder / d).is_dir()]
    if missing_dirs:
        raise _fail(folder, "raindrop", [f"missing folder(s) {', '.join(missing_dirs)}"])
    groups: dict[str, dict[str, Path]] = {}
    dupes: list[str] = []
    odd: list[str] = []
    for sub, want in (("data", "rain"), ("gt", "clean")):
        for p in _images(folder / sub):
            m = _RAIN.match(p.stem)
            if m is None or m["role"] != want:
                odd.append(f"{sub}/{p.name}")
                continue
            _add(
                groups,
                str(int(m["n"])),
                "rainy image" if want == "rain" else "clean image",
                p,
                dupes,
            )
    extra = _duplicates(dupes)
    if odd:
        extra.append(f"file names not of the form N_rain / N_clean: {_listing(odd)}")
    where = {"rainy image": "data/ (N_rain.png)", "clean image": "gt/ (N_clean.png)"}
    matched = _pair_up(groups, where, folder, "raindrop", extra)
    return [
        PairPaths(g["rainy image"].stem.split("_")[0], g["rainy image"], g["clean image"])
        for g in matched
    ]


def _is_sequence(d: Path) -> bool:
    return d.is_dir() and (d / "sharp").is_dir()


def _gopro_sequences(root: Path, split: str | None) -> tuple[Path, list[Path]]:
    if (root / "sharp").is_dir() or (root / "blur").is_dir():
        return root.parent, [root]  # a single sequence folder
    for folder in ([root / split] if split else []) + [root]:
        if folder.is_dir():
            seqs = sorted((d for d in folder.iterdir() if _is_sequence(d)), key=lambda d: d.name)
            if seqs:
                return folder, seqs
    raise _fail(root, "gopro", [f"no <sequence>/sharp/ folders here or in {split}/"])


def _gopro_pairs(root: Path, split: str | None, blur: str) -> list[PairPaths]:
    folder, seqs = _gopro_sequences(root, split)
    groups: dict[str, dict[str, Path]] = {}
    dupes: list[str] = []
    problems: list[str] = []
    for seq in seqs:
        if not (seq / blur).is_dir():
            problems.append(f"{seq.name}/ has no {blur}/ folder")
            continue
        for role, sub in (("blurred image", blur), ("sharp image", "sharp")):
            if (seq / sub).is_dir():
                for p in _images(seq / sub):
                    _add(groups, f"{seq.name}/{p.stem}", role, p, dupes)
    where = {"blurred image": f"<sequence>/{blur}/", "sharp image": "<sequence>/sharp/"}
    matched = _pair_up(groups, where, folder, "gopro", problems + _duplicates(dupes))
    return [
        PairPaths(
            f"{g['sharp image'].parent.parent.name}/{g['sharp image'].stem}",
            g["blurred image"],
            g["sharp image"],
        )
        for g in matched
    ]


def _gopro_flat_pairs(folder: Path) -> list[PairPaths]:
    groups: dict[str, dict[str, Path]] = {}
    dupes: list[str] = []
    for p in _images(folder):
        m = _GOPRO_FLAT.match(p.stem)
        if m:
            key = f"{m['scene']}{m['k']}"
            _add(groups, key, "blurred image" if m["role"] == "blur" else "sharp image", p, dupes)
    where = {"blurred image": "<scene>_blur<k>.png", "sharp image": "<scene>_sharp<k>.png"}
    matched = _pair_up(groups, where, folder, "gopro_flat", _duplicates(dupes))
    out = []
    for g in matched:
        m = _GOPRO_FLAT.match(g["blurred image"].stem)
        assert m is not None
        out.append(PairPaths(f"{m['scene']}{m['k']}", g["blurred image"], g["sharp image"]))
    return out


# --------------------------------------------------------------------------------------------
# Public entry points


def _missing_root(root: Path, dataset: str | None) -> PairedDataError:
    if dataset is None:
        where = "; ".join(f"{k}: {v}" for k, v in SOURCES.items())
        return PairedDataError(f"{root} does not exist. Paired sets can be downloaded from {where}")
    return PairedDataError(
        f"{dataset} folder {root} does not exist. The full {dataset} set is not staged with this "
        f"project (several GB); download it from {SOURCES[dataset]} and pass its folder, or put "
        f"it under a data root as {' or '.join(_FULL_SET_FOLDERS[dataset])}."
    )


def _resolve_root(root: str | Path | None, dataset: str) -> Path:
    if root is not None:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise _missing_root(root, dataset)
        return root
    searched = []
    for base in data.candidate_roots():
        for name in _FULL_SET_FOLDERS[dataset]:
            if (base / name).is_dir():
                return base / name
            searched.append(str(base / name))
    raise PairedDataError(
        f"the full {dataset} set was not found (searched {', '.join(searched)}). It is not staged "
        f"with this project (several GB); download it from {SOURCES[dataset]} and pass root=, "
        f"or set {data.ENV_VAR} to a folder holding it."
    )


def detect_layout(root: str | Path) -> str:
    """The layout of a folder: one of :data:`LAYOUTS` (``'istd'``, ``'raindrop'``, ...).

    Recognises a release root (``ISTD_Dataset/`` with ``train/`` and ``test/``, a RainDrop root
    with ``train/``, ``test_a/``, ..., ``GOPRO_Large/`` with ``train/`` and ``test/``), one of
    its split folders, or the flat sample folders. Raises :class:`PairedDataError` otherwise.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise _missing_root(root, None)
    dirs = {d.name for d in root.iterdir() if d.is_dir()}
    if any(re.fullmatch(r"(train|test)_[ABC]", d) for d in dirs) or any(
        (root / s / f"{s}_A").is_dir() for s in ("train", "test")
    ):
        return "istd"
    if {"data", "gt"} & dirs or any((root / d / "data").is_dir() for d in dirs):
        return "raindrop"
    if {"sharp", "blur"} & dirs or any(
        _is_sequence(root / d) or any(_is_sequence(x) for x in (root / d).iterdir()) for d in dirs
    ):
        return "gopro"
    stems = [p.stem for p in _images(root)]
    if any(_ISTD_FLAT.match(s) for s in stems):
        return "istd_flat"
    if any(_GOPRO_FLAT.match(s) for s in stems):
        return "gopro_flat"
    expected = "; ".join(f"{k}: {v[1]}" for k, v in LAYOUTS.items())
    raise PairedDataError(f"{root}: no known paired layout found. Expected one of: {expected}")


def load_paired(root: str | Path, *, split: str | None = None, blur: str = "blur") -> PairedDataset:
    """Open any supported paired folder, detecting its layout (:func:`detect_layout`).

    ``split`` picks a split below a release root (defaults: ISTD ``'test'``, RainDrop
    ``'test_a'``, GoPro ``'test'``); ``blur`` is GoPro's ``'blur'`` or ``'blur_gamma'``.
    """
    root = Path(root).expanduser()
    layout = detect_layout(root)
    if layout == "istd":
        pairs = _istd_pairs(root, split or "test")
    elif layout == "istd_flat":
        pairs = _istd_flat_pairs(root)
    elif layout == "raindrop":
        pairs = _raindrop_pairs(root, split or "test_a")
    elif layout == "gopro":
        pairs = _gopro_pairs(root, split or "test", blur)
    else:
        pairs = _gopro_flat_pairs(root)
    return PairedDataset(root, layout, pairs)


def _load_as(
    dataset: str, layouts: tuple[str, ...], root: str | Path | None, **kw: str | None
) -> PairedDataset:
    folder = _resolve_root(root, dataset)
    ds = load_paired(folder, **kw)  # type: ignore[arg-type]
    if ds.layout not in layouts:
        raise PairedDataError(
            f"{folder} looks like the {ds.layout!r} layout, not {dataset} "
            f"({' or '.join(LAYOUTS[k][1] for k in layouts)})"
        )
    return ds


def load_istd(root: str | Path | None = None, *, split: str = "test") -> PairedDataset:
    """ISTD shadow / mask / shadow-free triples of ``split`` (``'train'`` or ``'test'``).

    ``root`` is the release folder (``ISTD_Dataset``), a folder holding ``test_A/`` etc., or
    the flat sample folder; without it, ``ISTD_Dataset`` or ``ISTD`` under a data root.
    """
    return _load_as("ISTD", ("istd", "istd_flat"), root, split=split)


def load_raindrop(root: str | Path | None = None, *, split: str = "test_a") -> PairedDataset:
    """RainDrop rainy / clean pairs of ``split`` (``'train'``, ``'test_a'``, ``'test_b'``)."""
    return _load_as("RainDrop", ("raindrop",), root, split=split)


def load_gopro(
    root: str | Path | None = None, *, split: str = "test", blur: str = "blur"
) -> PairedDataset:
    """GoPro blurred / sharp pairs of ``split``; ``blur='blur_gamma'`` for the gamma version."""
    if blur not in ("blur", "blur_gamma"):
        raise ValueError(f"blur must be 'blur' or 'blur_gamma', got {blur!r}")
    return _load_as("GoPro", ("gopro", "gopro_flat"), root, split=split, blur=blur)


def sample_root(name: str) -> Path:
    """Folder of a staged sample set (``'ISTD_sample'``, ``'GoPro_sample'``) in the data root.

    Uses :func:`reprolib.data.data_root` and the set's ``MANIFEST.json`` entry, and checks that
    the manifest's files are present.
    """
    entry = data.manifest_entry(name)
    folder = data.data_root() / entry["folder"]
    missing = [r["file"] for r in entry["files"] if not (folder / r["file"]).is_file()]
    if missing:
        raise PairedDataError(
            f"sample set {name!r} in {folder} is incomplete: missing {_listing(missing)}. "
            f"Source: {data.source_of(name)}."
        )
    return folder


def load_sample(name: str) -> PairedDataset:
    """A staged sample set as a :class:`PairedDataset` (for smoke tests only)."""
    return load_paired(sample_root(name))
