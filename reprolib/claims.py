"""The papers' published numbers (claims) as data, and their comparison with measurements.

The transcriptions live in ``results/claims/`` as one CSV per paper (``memnet.csv``,
``rednet.csv``, ``nlrn.csv``, ``memorynet.csv``) with the columns of :data:`CLAIM_COLUMNS`,
one row per published table cell, plus ``findings.csv`` with the papers' qualitative or
ordering statements (columns :data:`FINDING_COLUMNS`) and ``contents.csv``, every table and
figure of each paper with a short caption (columns :data:`CONTENT_COLUMNS`: what a chapter
lists, including the figures no number or finding is taken from). ``results/claims/README.md``
documents the vocabulary (dataset, setting, method and metric names).

The results root is ``<repo>/results``; the environment variable ``REPROLIB_RESULTS``
overrides it (the claims are then read from ``$REPROLIB_RESULTS/claims``).

This module holds no paper numbers itself: every value comes from the CSVs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

PAPERS: tuple[str, ...] = ("memnet", "rednet", "nlrn", "memorynet")
"""Paper identifiers; each has ``results/claims/<paper>.csv``."""

KEY_COLUMNS: list[str] = ["paper", "table", "dataset", "setting", "method", "metric"]
"""Columns that identify one claimed number."""

CLAIM_COLUMNS: list[str] = [*KEY_COLUMNS, "value", "note"]
"""Exact column order of the per-paper claim CSVs."""

FINDING_COLUMNS: list[str] = ["claim_id", "paper", "source", "claim", "kind", "quantities", "note"]
"""Exact column order of ``findings.csv``."""

FINDING_KINDS: tuple[str, ...] = ("ordering", "trend", "qualitative")
"""Allowed values of the ``kind`` column of ``findings.csv``."""

CONTENT_COLUMNS: list[str] = ["paper", "item", "caption", "content"]
"""Exact column order of ``contents.csv``."""

CONTENT_KINDS: tuple[str, ...] = ("numbers", "plot", "images", "diagram")
"""Allowed values of its ``content`` column: a table (or numbers stated in the text), a plot
of measured quantities, example images (visual results, feature maps), an illustration of
the method."""

NO_TRAINING: str = "none (no training)"
"""The ``budget`` of a measured cell that needed no training (architecture, protocol checks)."""

MEASURED_COLUMNS: list[str] = [*KEY_COLUMNS, "measured", "n_images"]
"""Columns a measurements frame must have for :func:`compare`."""

COMPARE_COLUMNS: list[str] = [*KEY_COLUMNS, "claimed", "measured", "diff", "n_images"]
"""Column order of the frame returned by :func:`compare`."""


def default_results_root() -> Path:
    """``<repo>/results``: the committed results, from which the book is built."""
    return Path(__file__).resolve().parents[1] / "results"


def results_root() -> Path:
    """Return the results root: ``$REPROLIB_RESULTS`` if set, else ``<repo>/results``.

    Every path under the results is derived from here (run folders: :mod:`reprolib.runs`)."""
    env = os.environ.get("REPROLIB_RESULTS")
    if env:
        return Path(env).expanduser()
    return default_results_root()


def claims_dir() -> Path:
    """Return the folder holding the claim CSVs (``<results root>/claims``)."""
    return results_root() / "claims"


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    """Read ``path`` with every column as text (no NA guessing) and check its header."""
    if not path.is_file():
        raise FileNotFoundError(f"claims file not found: {path}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if list(frame.columns) != columns:
        raise ValueError(f"{path}: expected columns {columns}, found {list(frame.columns)}")
    return frame


def load_claims(paper: str | None = None) -> pd.DataFrame:
    """Load the transcribed table cells of one paper, or of all four papers.

    Args:
        paper: one of :data:`PAPERS`, or ``None`` for all papers concatenated.

    Returns:
        A frame with the columns of :data:`CLAIM_COLUMNS`. ``value`` is a float (the
        printed digits are kept in the CSV); all other columns are strings, with ``-``
        meaning "not applicable" for ``dataset`` and ``setting``.

    Raises:
        ValueError: for an unknown paper name or a malformed CSV.
        FileNotFoundError: when a CSV is missing.
    """
    if paper is not None and paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; expected one of {PAPERS}")
    papers = PAPERS if paper is None else (paper,)
    frames = [_read_csv(claims_dir() / f"{name}.csv", CLAIM_COLUMNS) for name in papers]
    claims = pd.concat(frames, ignore_index=True)
    claims["value"] = claims["value"].astype(float)
    return claims


def load_findings() -> pd.DataFrame:
    """Load ``findings.csv``: stated findings from figures and text (all columns strings)."""
    return _read_csv(claims_dir() / "findings.csv", FINDING_COLUMNS)


def load_contents(paper: str | None = None) -> pd.DataFrame:
    """Load ``contents.csv``: every table and figure of one paper (or all four), in the
    order listed, with a short caption and the kind of content (all columns strings)."""
    contents = _read_csv(claims_dir() / "contents.csv", CONTENT_COLUMNS)
    if paper is None:
        return contents
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; expected one of {PAPERS}")
    return contents[contents["paper"] == paper].reset_index(drop=True)


def _describe(key: dict[str, str]) -> str:
    return ", ".join(f"{col}={val!r}" for col, val in key.items())


def claim_value(
    paper: str, table: str, dataset: str, setting: str, method: str, metric: str
) -> float:
    """Return the single number a paper claims for one table cell.

    Args:
        paper, table, dataset, setting, method, metric: the key columns, spelt as in the
            CSVs (see ``results/claims/README.md``).

    Raises:
        KeyError: when no row matches (the message lists the methods and settings that the
            table does have) or when more than one row matches.
    """
    key = dict(zip(KEY_COLUMNS, (paper, table, dataset, setting, method, metric), strict=True))
    if paper not in PAPERS:
        raise KeyError(f"no claim for {_describe(key)}: unknown paper; expected one of {PAPERS}")
    claims = load_claims(paper)
    mask = pd.Series(True, index=claims.index)
    for col, val in key.items():
        mask &= claims[col] == val
    hits = claims[mask]
    if len(hits) == 1:
        return float(hits["value"].iloc[0])
    if len(hits) > 1:
        raise KeyError(f"ambiguous claim: {len(hits)} rows match {_describe(key)}")
    in_table = claims[(claims["paper"] == paper) & (claims["table"] == table)]
    if in_table.empty:
        tables = sorted(claims.loc[claims["paper"] == paper, "table"].unique())
        raise KeyError(f"no claim for {_describe(key)}: table not found; tables: {tables}")
    raise KeyError(
        f"no claim for {_describe(key)}; this table has datasets "
        f"{sorted(in_table['dataset'].unique())}, settings {sorted(in_table['setting'].unique())}, "
        f"methods {sorted(in_table['method'].unique())}, metrics "
        f"{sorted(in_table['metric'].unique())}"
    )


def compare(measured: pd.DataFrame, claims: pd.DataFrame | None = None) -> pd.DataFrame:
    """Join measurements with the papers' claims.

    Args:
        measured: one row per measured number, with the columns of
            :data:`MEASURED_COLUMNS` (extra columns are ignored).
        claims: claim rows with :data:`KEY_COLUMNS` and ``value``; defaults to
            :func:`load_claims` for all papers.

    Returns:
        One row per measured row (same order), with the columns of :data:`COMPARE_COLUMNS`:
        ``claimed`` is the paper's value (NaN when the paper has no such cell) and
        ``diff = measured - claimed``.

    Raises:
        ValueError: when a required column is missing or the claims hold duplicate keys.
    """
    missing = [col for col in MEASURED_COLUMNS if col not in measured.columns]
    if missing:
        raise ValueError(f"measured frame lacks columns {missing}")
    if claims is None:
        claims = load_claims()
    missing = [col for col in [*KEY_COLUMNS, "value"] if col not in claims.columns]
    if missing:
        raise ValueError(f"claims frame lacks columns {missing}")

    right = claims[[*KEY_COLUMNS, "value"]].copy()
    for col in KEY_COLUMNS:
        right[col] = right[col].astype(str)
    dup = right.duplicated(KEY_COLUMNS, keep=False)
    if dup.any():
        raise ValueError(f"claims hold duplicate keys:\n{right.loc[dup, KEY_COLUMNS]}")
    right = right.rename(columns={"value": "claimed"})
    right["claimed"] = right["claimed"].astype(float)

    left = measured[MEASURED_COLUMNS].copy().reset_index(drop=True)
    for col in KEY_COLUMNS:
        left[col] = left[col].astype(str)
    left["measured"] = left["measured"].astype(float)

    out = left.merge(right, on=KEY_COLUMNS, how="left", validate="many_to_one", sort=False)
    out["diff"] = out["measured"] - out["claimed"]
    return out[COMPARE_COLUMNS]


_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9}


def _number(text: str) -> int:
    text = text.strip()
    return _ROMAN[text] if text in _ROMAN else int(text)


def source_items(source: str) -> list[str]:
    """The tables, figures and sections a finding's ``source`` names, as items:
    ``"Tables 1-2, 4-6, 9; Sec. 5"`` -> table1, table2, table4, table5, table6, table9, sec5
    (roman table numbers as arabic; a section is its first token: ``Sec. IV-B observation (1)``
    -> ``secIV-B``)."""
    items = []
    for part in str(source).split(";"):
        m = re.match(r"\s*(Tables?|Figs?\.|Figures?|Sec\.)\s*(.+)", part)
        if m is None:
            continue
        kind = {"T": "table", "F": "fig", "S": "sec"}[m.group(1)[0]]
        if kind == "sec":
            items.append("sec" + m.group(2).split()[0])
            continue
        for piece in m.group(2).split(","):
            ends = [_number(n) for n in piece.split("-")]
            items += [f"{kind}{n}" for n in range(ends[0], ends[-1] + 1)]
    return items
