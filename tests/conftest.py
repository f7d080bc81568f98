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
