"""The paper / official code / this project registers the book renders, one per model family."""

from __future__ import annotations

import pytest

from reprolib import chapters

KEYS = ["topic", "paper", "official_code", "this_project", "option", "source"]


@pytest.mark.parametrize("paper", list(chapters.PAPERS))
def test_register_is_complete_and_well_formed(paper):
    reg = chapters.differences(paper)
    assert list(reg.columns) == KEYS
    assert len(reg) >= 8, f"{paper}: too few entries"
    for col in ("topic", "paper", "official_code", "this_project", "source"):
        assert reg[col].notna().all(), f"{paper}: empty {col}"
    import yaml

    raw = yaml.safe_load((chapters.DIFFERENCES / f"{paper}.yaml").read_text())
    ids = [e["id"] for e in raw]
    assert len(ids) == len(set(ids)), f"{paper}: duplicate ids"
    assert all(set(e) == {"id", *KEYS} for e in raw)
