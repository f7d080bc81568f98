"""The explorer: consistent scores, a kernel-free Stack linked to its selector, clear errors."""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from ipywidgets.widgets import widget_link

from reprolib import explorer


def test_compute_case_scores_degraded_and_restored(data_root):
    case = explorer.compute_case("Set12", "01", "sigma25", "Noisy")
    assert case.ground_truth.shape == case.restored.shape == (explorer.CROP, explorer.CROP)
    assert 19.5 < case.psnr_degraded < 21.5  # sigma 25: ~20.2 dB, more once clipped to uint8
    assert case.psnr_restored == case.psnr_degraded  # "Noisy" restores nothing
    jpeg = explorer.compute_case("Classic5", "barbara", "q10", "JPEG")
    assert jpeg.protocol == "memnet_jpeg" and jpeg.psnr_restored < 40


def test_static_explorer_links_selector_and_stack(data_root):
    cases = [explorer.compute_case("Set12", "01", "sigma25", m) for m in ("Noisy", "BM3D")]
    ui = explorer.static_explorer(cases)
    pick, stack = ui.children
    assert isinstance(stack, widgets.Stack) and len(stack.children) == 2
    assert [label for label, _ in pick.options] == [c.label for c in cases]
    links = [w for w in widgets.Widget.widgets.values() if isinstance(w, widget_link.Link)]
    assert any(
        link.source == (pick, "index") and link.target == (stack, "selected_index")
        for link in links
    )
    assert cases[1].psnr_restored > cases[0].psnr_restored + 5  # BM3D denoises


def test_bad_inputs_raise(data_root):
    with pytest.raises(KeyError, match="no image"):
        explorer.compute_case("Set12", "99", "sigma25", "Noisy")
    with pytest.raises(KeyError, match="unknown baseline"):
        explorer.compute_case("Set12", "01", "sigma25", "SRCNN")
    with pytest.raises(ValueError, match="bad setting"):
        explorer.compute_case("Set12", "01", "blur", "Noisy")
    with pytest.raises(ValueError):
        explorer.static_explorer([])
