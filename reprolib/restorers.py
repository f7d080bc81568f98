"""Every restoration method of the study behind one interface and one lookup.

A *restorer* maps a degraded image to its restoration, both float arrays on [0, 1] (HxW for one
channel, HxWx3 for MemoryNet's RGB proxies): :data:`Restorer`. A :class:`Method` makes the
restorer for a setting (``"sigma25"``, ``"x3"``, ``"q10"``, ``"shadow"``) and says which settings
it applies to. :func:`get` finds a method by name among

* the baselines that need no training, :data:`BASELINES`: the degraded input itself
  (``Noisy``, ``Bicubic``, ``JPEG``: the papers' input columns), BM3D and the DnCNN authors'
  published weights (MemNet Tables 4-5, NLRN Table 4);
* every trained model under the results root (:func:`reprolib.claims.results_root`), one per run
  folder with a ``model.pt`` (:func:`trained_methods`), named ``<paper>/<entry>/<run>@<budget>``,
  e.g. ``nlrn/table4/NLRN@cpu`` (``<run>__seed<k>`` for seed ``k``);
* methods added with :func:`register` (e.g. a model being developed, or a test's stand-in).

A trained model is also a restorer directly: :func:`load_model` reads a run folder and
:func:`model_restorer` wraps any ``nn.Module``. Nothing here scores; :func:`reprolib.evaluate.
measure` scores any method or restorer. torch is imported only when a model is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reprolib import protocols, runs
from reprolib.degrade import PROXY_TASKS
from reprolib.recipes import (
    BUDGETS,
    Recipe,
    RecipeError,
    recipe_from_dict,
    with_overrides,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "BASELINES",
    "Method",
    "Restorer",
    "TrainedRun",
    "available",
    "build_model",
    "dncnn_weights_for",
    "get",
    "identity",
    "load_model",
    "model_restorer",
    "register",
    "restorer",
    "trained_methods",
]

#: A restorer maps a degraded float image on [0, 1] to its restoration on [0, 1].
Restorer = Callable[[np.ndarray], np.ndarray]

#: Images with more pixels than this are restored in tiles by :func:`model_restorer`'s default
#: (bounded memory on CPU; 32 pixels of context per tile, as MemNet's test code tiles too).
TILE_ABOVE_PIXELS = 512 * 512


@dataclass(frozen=True)
class TrainedRun:
    """Where a trained model comes from: its run folder and what the folder name says.

    ``weights_from`` is the folder that trained the weights: ``folder`` itself, or the run they
    were copied from (``REUSED_FROM``), whose method lists the same weights once.
    """

    folder: Path
    paper: str
    entry: str
    run: str
    budget: str
    seed: int
    weights_from: Path

    @property
    def is_copy(self) -> bool:
        return self.weights_from != self.folder


@dataclass(frozen=True)
class Method:
    """A restoration method: a name, a restorer per setting, and where it applies.

    Attributes:
        name: the name it is looked up by (unique).
        factory: ``setting -> restorer`` (:data:`Restorer`).
        tasks: the tasks (:data:`reprolib.protocols.TASKS`) it applies to.
        description: one line for the reader (what it is, where its weights come from).
        settings: the only settings it applies to (a model trained at some levels), or
            ``None`` for every setting of its tasks.
        label: a short caption for pictures (default: the name).
        trained: the run a trained model comes from (``None`` for other methods).
    """

    name: str
    factory: Callable[[str], Restorer]
    tasks: frozenset[str]
    description: str = ""
    settings: frozenset[str] | None = None
    label: str = ""
    trained: TrainedRun | None = None

    @property
    def caption(self) -> str:
        return self.label or self.name

    def applies_to(self, setting: str) -> bool:
        """Whether this method restores inputs degraded at ``setting``."""
        task, _ = protocols.parse_setting(setting)
        s = setting.strip().lower()
        return task in self.tasks and (self.settings is None or s in self.settings)

    def restorer(self, setting: str) -> Restorer:
        """The restorer for ``setting``; ``ValueError`` when the method does not apply."""
        if not self.applies_to(setting):
            raise ValueError(f"method {self.name!r} does not apply to setting {setting!r}")
        return self.factory(setting)


# --------------------------------------------------------------------------------------------
# baselines: no training
# --------------------------------------------------------------------------------------------


def identity(x: np.ndarray) -> np.ndarray:
    """The degraded input as its own restoration (the Bicubic, JPEG and Noisy columns)."""
    return x


@lru_cache(maxsize=8)
def _published(name: str):
    from reprolib.models.dncnn import published_dncnn

    return published_dncnn(name)


def _dncnn(name: str, tile: int | None = 512) -> Restorer:
    from reprolib.models.inference import restore

    model = _published(name)
    return lambda x: restore(model, x, tile=tile, overlap=24)


def _bm3d(setting: str) -> Restorer:
    import bm3d

    sigma = protocols.parse_setting(setting)[1]
    return lambda x: np.asarray(bm3d.bm3d(x, sigma_psd=sigma / 255.0), dtype=np.float64)


def dncnn_weights_for(setting: str, method: str = "DnCNN") -> str:
    """Which published DnCNN file a paper's DnCNN column used for this setting.

    Denoising columns (NLRN Table 4) are DnCNN-S, one model per sigma (15/25/50); other sigmas
    use the blind DnCNN-B. SR and JPEG columns (MemNet Tables 4-5) are DnCNN-3.
    """
    task, level = protocols.parse_setting(setting)
    if method == "DnCNN-3" or (method == "DnCNN" and task != "denoise"):
        return "dncnn3"
    if method == "DnCNN-B" or level not in (15, 25, 50):
        return "dncnn_b"
    return f"dncnn_s{level}"


def _baseline(name: str, factory: Callable[[str], Restorer], tasks: str, text: str) -> Method:
    return Method(name, factory, frozenset(tasks.split()), text)


_PAPER_TASKS = "sr denoise jpeg"

#: The methods that need no training, by name; each says once which tasks it applies to.
BASELINES: dict[str, Method] = {
    m.name: m
    for m in [
        _baseline("Noisy", lambda s: identity, "denoise", "the noisy input itself"),
        _baseline(
            "Bicubic", lambda s: identity, "sr",
            "MATLAB-compatible bicubic up-sampling (the network input)",
        ),
        _baseline("JPEG", lambda s: identity, "jpeg", "the JPEG-decoded input itself"),
        _baseline("BM3D", _bm3d, "denoise", "BM3D (bm3d package) at the true noise level"),
        _baseline(
            "DnCNN", lambda s: _dncnn(dncnn_weights_for(s)), _PAPER_TASKS,
            "published DnCNN weights: DnCNN-S per sigma (else DnCNN-B), DnCNN-3 for SR/JPEG",
        ),
        _baseline(
            "DnCNN-B", lambda s: _dncnn("dncnn_b"), "denoise",
            "published blind Gaussian DnCNN-B weights",
        ),
        _baseline(
            "DnCNN-3", lambda s: _dncnn("dncnn3"), _PAPER_TASKS,
            "published DnCNN-3 weights (one model for all three tasks)",
        ),
    ]
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# trained models
# --------------------------------------------------------------------------------------------


def build_model(recipe: Recipe) -> nn.Module:
    """``models.build(recipe.model, **recipe.model_kwargs)`` with a clear error on bad keywords."""
    from reprolib import models

    try:
        return models.build(recipe.model, **recipe.model_kwargs)
    except TypeError as err:
        raise RecipeError(
            f"recipe {recipe.name!r}: model {recipe.model!r} rejected the keywords "
            f"{sorted(recipe.model_kwargs)}: {err}"
        ) from None


def load_model(
    run: str | Path, device: str | torch.device | None = None
) -> tuple[nn.Module, Recipe]:
    """The model (eval mode) and recipe of a run folder (``model.pt``, else ``checkpoint.pt``)
    or of a weights file."""
    import torch

    p = Path(run)
    if p.is_dir():
        p = p / runs.MODEL if (p / runs.MODEL).is_file() else p / runs.CHECKPOINT
    if not p.is_file():
        raise FileNotFoundError(f"no {runs.MODEL} or {runs.CHECKPOINT} at {run}")
    payload = torch.load(p, map_location="cpu", weights_only=False)
    recipe = recipe_from_dict(payload["recipe"])
    state = payload["model"]
    if (
        recipe.family == "memnet"
        and "recon_bn_per_block" not in recipe.model_kwargs
        and "reconnet.act.1.0.weight" not in state
        and recipe.model_kwargs.get("multi_supervised", True)
    ):  # saved before a BN per ReconNet block became MemNet's default: one shared BN
        recipe = with_overrides(recipe, {"recon_bn_per_block": False})
    model = build_model(recipe)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    dev = torch.device(device) if device else torch.device("cpu")
    return model.to(dev).eval(), recipe


def model_restorer(
    model: nn.Module,
    device: str | torch.device | None = None,
    *,
    tile: int | str | None = "auto",
    ensemble: bool = False,
) -> Restorer:
    """A model as a restorer (:func:`reprolib.models.inference.restore`, eval mode).

    ``tile="auto"`` restores images above :data:`TILE_ABOVE_PIXELS` pixels in 256-pixel tiles
    with 32 pixels of context; ``ensemble`` is the x8 self-ensemble (RED Sec. 3.5, NLRN-MV).
    """
    from reprolib.models import inference

    def run(x: np.ndarray) -> np.ndarray:
        t = tile
        if t == "auto":
            t = 256 if x.shape[0] * x.shape[1] > TILE_ABOVE_PIXELS else None
        return inference.restore(model, x, tile=t, ensemble=ensemble, device=device)

    return run


@lru_cache(maxsize=64)
def _cached_model(folder: Path, stamp: int) -> nn.Module:
    """A run folder's model, loaded once per ``model.pt`` version (``stamp``: its mtime)."""
    return load_model(folder)[0]


def _trained_factory(folder: Path) -> Callable[[str], Restorer]:
    def factory(setting: str) -> Restorer:
        stamp = (folder / runs.MODEL).stat().st_mtime_ns
        return model_restorer(_cached_model(folder, stamp))

    return factory


def _settings_of(recipe: Recipe) -> frozenset[str] | None:
    """The settings a model was trained or scored at (all of its task's for a proxy)."""
    if recipe.task in PROXY_TASKS:
        return None
    named = {*recipe.settings, recipe.val_setting, *recipe.test_settings}
    return frozenset(s.strip().lower() for s in named)


def _trained_method(folder: Path, root: Path) -> Method | None:
    """The method of one run folder (``None`` when its summary is missing or unreadable)."""
    info = runs.read_summary(folder)
    try:
        recipe = recipe_from_dict(info["recipe_fields"])
    except (KeyError, TypeError, RecipeError):
        return None
    rel = folder.relative_to(root)
    if len(rel.parts) != 4:
        return None
    paper, entry, budget, name = rel.parts
    run_name, seed = runs.split_seed(name)
    origin = runs.weights_origin(folder)
    trained = TrainedRun(folder, paper, f"{paper}/{entry}", run_name, budget, seed, origin)
    copied = f"; same weights as {origin.relative_to(root)}" if trained.is_copy else ""
    return Method(
        name=f"{trained.entry}/{name}@{budget}",
        factory=_trained_factory(folder),
        tasks=frozenset({recipe.task}),
        description=(
            f"{recipe.paper}: {recipe.model} trained with recipe {recipe.name} at budget "
            f"{budget} ({info.get('iterations', '?')} iterations), run {run_name} of "
            f"{trained.entry}, seed {seed}{copied}"
        ),
        settings=_settings_of(recipe),
        label=f"{run_name} ({trained.entry}, {budget}, seed {seed})",
        trained=trained,
    )


def trained_methods(root: str | Path | None = None) -> list[Method]:
    """One method per run folder with a ``model.pt`` under ``root`` (default: the results
    root), in folder order. Folders whose weights were copied from another run are included
    (:attr:`TrainedRun.is_copy`); :func:`available` lists each set of weights once."""
    from reprolib import claims

    base = Path(root) if root is not None else claims.results_root()
    found = (_trained_method(d, base) for d in runs.trained_run_dirs(base))
    return [m for m in found if m is not None]


# --------------------------------------------------------------------------------------------
# one lookup
# --------------------------------------------------------------------------------------------

#: Methods added at run time (:func:`register`), by name.
_REGISTERED: dict[str, Method] = {}


def register(method: Method, *, replace: bool = False) -> Method:
    """Make ``method`` available by name. Re-registering a name raises ``ValueError`` unless
    ``replace`` is set, so two methods cannot silently shadow each other."""
    unknown = set(method.tasks) - set(protocols.TASKS)
    if unknown:
        raise ValueError(f"method {method.name!r}: unknown task(s) {sorted(unknown)}")
    if method.name in BASELINES or (method.name in _REGISTERED and not replace):
        raise ValueError(f"method {method.name!r} is already registered")
    _REGISTERED[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a method added with :func:`register` (nothing happens for other names)."""
    _REGISTERED.pop(name, None)


def _best_budget_only(methods: list[Method]) -> list[Method]:
    """Each trained run at the largest budget present, each set of weights once."""
    rank = {b: i for i, b in enumerate(BUDGETS)}
    best: dict[tuple[str, str, int], int] = {}
    for m in methods:
        t = m.trained
        key = (t.entry, t.run, t.seed)
        best[key] = max(best.get(key, -1), rank.get(t.budget, -1))
    return [
        m for m in methods
        if not m.trained.is_copy
        and rank.get(m.trained.budget, -1) == best[(m.trained.entry, m.trained.run, m.trained.seed)]
    ]  # fmt: skip


def _all() -> dict[str, Method]:
    trained = {m.name: m for m in trained_methods()}
    return {**BASELINES, **trained, **_REGISTERED}


def get(name: str) -> Method:
    """Look a method up by name; an unknown name raises ``KeyError`` listing the known ones."""
    methods = _all()
    if name not in methods:
        listed = ", ".join(available())
        raise KeyError(f"unknown method {name!r}; known: {listed}")
    return methods[name]


def available(setting: str | None = None, *, trained: bool = True) -> list[str]:
    """Names of the methods that apply to ``setting`` (all when ``None``): baselines first,
    then the trained models (each run at the best budget present, copied weights left out),
    then registered methods."""
    listed = list(BASELINES.values())
    if trained:
        listed += _best_budget_only(trained_methods())
    listed += list(_REGISTERED.values())
    return [m.name for m in listed if setting is None or m.applies_to(setting)]


def restorer(name: str, setting: str) -> Restorer:
    """The restorer of the method called ``name`` at ``setting`` (errors name the choices)."""
    method = get(name)
    if not method.applies_to(setting):
        raise ValueError(
            f"method {name!r} does not apply to setting {setting!r}; methods that do: "
            f"{', '.join(available(setting))}"
        )
    return method.factory(setting)


def describe(names: list[str] | None = None) -> list[dict[str, Any]]:
    """Name, caption, tasks and description of methods (all available ones by default)."""
    return [
        {"method": m.name, "caption": m.caption, "tasks": " ".join(sorted(m.tasks)),
         "description": m.description}
        for m in map(get, names if names is not None else available())
    ]  # fmt: skip
