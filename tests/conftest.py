"""Shared fixtures: the real data root (skip cleanly when ../shared is absent)."""

from __future__ import annotations

import pytest

from reprolib import data


@pytest.fixture(scope="session")
def data_root():
    try:
        return data.data_root()
    except data.DatasetError as err:
        pytest.skip(f"benchmark data not available: {err}")


@pytest.fixture
def attention_inputs():
    """Random float64 query/key/value maps (seed 0) for the neighbourhood attention of NLRN's
    Eq. 6, and a function drawing previous-state logits for neighbourhood ``q`` (None: all)."""
    import torch

    def make(n: int, d: int, c: int, h: int, w: int):
        torch.manual_seed(0)
        f64 = torch.float64
        qm, km = torch.randn(n, d, h, w, dtype=f64), torch.randn(n, d, h, w, dtype=f64)
        vm = torch.randn(n, c, h, w, dtype=f64)

        def logits(q: int | None):
            return torch.randn(n, h * w if q is None else q * q, h, w, dtype=f64)

        return qm, km, vm, logits

    return make


@pytest.fixture
def finished_run():
    """A function faking a finished run of ``exp``'s first run at ``budget`` (its recipe fields,
    status and a weights file, no training): the donor that weight reuse looks for."""
    import json

    from reprolib import recipes

    def make(exp, budget: str = "smoke"):
        run = exp.runs[0]
        folder = exp.run_dir(run, budget)
        folder.mkdir(parents=True)
        fields = recipes.recipe_to_dict(exp.recipe_for(run, budget))
        (folder / "train_summary.json").write_text(
            json.dumps({"status": "finished", "recipe_fields": fields})
        )
        (folder / "model.pt").write_bytes(b"weights")
        return folder

    return make
