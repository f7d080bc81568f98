"""The house style: tables whose empty cells stay empty, figures legible at the book's width."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reprolib import plotting


def _summary(targets: int = 8, cells: int = 12) -> pd.DataFrame:
    rows = []
    for t in range(targets):
        for c in range(cells if t % 2 == 0 else 4):
            for metric in ("psnr", "ssim"):
                rows.append({
                    "target": f"paper-t{t}-method", "dataset": f"Set{c}", "setting": "sigma50",
                    "metric": metric, "claimed": 30.0, "diff": 0.01 * (c - 3), "tolerance": 0.05,
                })  # fmt: skip
    return pd.DataFrame(rows)


def test_a_missing_diff_is_an_empty_cell_not_a_black_block():
    """background_gradient gives NaN the colour map's transparent-black "bad" colour, which
    reached the HTML as ``background-color: #000000``: black blocks in the book."""
    df = pd.DataFrame(
        {"method": ["A", "B", "C"], "claimed": [30.0, np.nan, 31.0],
         "measured": [30.1, 29.0, np.nan], "diff": [0.1, np.nan, np.nan]}
    )  # fmt: skip
    html = plotting.style_comparison(df).to_html()
    assert "#000000" not in html
    assert html.count("background-color") == 1  # only the measured diff is coloured
    empty = pd.DataFrame(
        {"method": ["A"], "claimed": [np.nan], "measured": [1.0], "diff": [np.nan]}
    )
    assert "background-color" not in plotting.style_comparison(empty).to_html()


def test_gap_bars_fit_the_page_width_with_readable_labels():
    """Eight targets used to be one 25-inch row (2802 px shrunk to ~780 in the book): panels
    wrap now, at most two a row, horizontal bars labelled at 9 pt."""
    fig = plotting.diff_bars(_summary())
    width, height = fig.get_size_inches()
    assert width <= plotting.PAGE_WIDTH_IN and height < 16
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 8
    assert len({round(ax.get_position().x0, 3) for ax in panels}) == 2  # two columns
    for ax in panels:
        labels = ax.get_yticklabels()
        assert labels and all(lab.get_rotation() == 0 for lab in labels)
        assert min(lab.get_fontsize() for lab in labels) >= 9
        assert ax.title.get_fontsize() >= 10
    one = plotting.diff_bars(_summary(targets=1), metric="ssim")
    assert [ax.get_visible() for ax in one.axes] == [True]
