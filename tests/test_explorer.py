"""The explorer: scores consistent with its pictures, kernel-free widgets, one method lookup
(baselines, trained runs, registered methods) and clear errors. Cases are small crops so the
file runs in seconds on CPU."""

from __future__ import annotations

import json
import shutil

import ipywidgets as widgets
import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

from reprolib import data, explorer, restorers
from reprolib.recipes import get_recipe, recipe_to_dict


@pytest.fixture(scope="module")
def noisy(data_root):
    return explorer.compute_case("Set12", "09", "sigma25", "Noisy", crop=96)


def test_noisy_case_scores_match_its_pictures(noisy):
    c = noisy
    assert c.key == "Set12/09" and c.protocol == "dncnn_denoise" and c.crop == (208, 208, 96, 96)
    assert c.degraded.dtype == c.restored.dtype == c.ground_truth.dtype == np.uint8
    assert c.degraded.shape == c.restored.shape == c.ground_truth.shape == c.diff.shape
    assert 19.5 < c.psnr_degraded < 21.5  # sigma 25 on the 0-255 scale: about 20.2 dB
    assert c.psnr_restored == c.psnr_degraded  # "Noisy" restores nothing
    # dncnn_denoise rounds the output, so the difference map is exactly what was scored.
    np.testing.assert_array_equal(c.diff, c.restored.astype(np.float32) - c.ground_truth)
    psnr_from_diff = 10 * np.log10(255.0**2 / np.mean(c.diff.astype(np.float64) ** 2))
    assert psnr_from_diff == pytest.approx(c.psnr_restored, abs=1e-6)


def test_dncnn_restores_better_than_its_input(noisy):
    c = explorer.compute_case("Set12", "Barbara", "sigma25", "DnCNN", crop=96)  # alias of 09
    np.testing.assert_array_equal(c.degraded, noisy.degraded)  # same seeded noise
    assert c.psnr_restored > c.psnr_degraded + 5 and c.ssim_restored > c.ssim_degraded


def test_sr_and_jpeg_cases_use_their_protocols(data_root):
    sr = explorer.compute_case("Set5", "butterfly", "x3", "Bicubic", crop=(10, 20, 64))
    assert sr.protocol == "memnet_sr" and sr.crop == (10, 20, 63, 63)  # a multiple of 3
    assert sr.psnr_restored == sr.psnr_degraded and 18 < sr.psnr_degraded < 35
    jpeg = explorer.compute_case("Classic5", "barbara", "q10", "JPEG", crop=64)
    assert jpeg.protocol == "memnet_jpeg" and 20 < jpeg.psnr_degraded < 35
    assert explorer.cases_table([sr, jpeg])["method"].tolist() == ["Bicubic", "JPEG"]


@pytest.mark.parametrize(
    "args,kwargs,error,match",
    [
        (("NoSuchSet", "01", "sigma25", "Noisy"), {}, data.DatasetError, "unknown set"),
        (("Set12", "99", "sigma25", "Noisy"), {}, KeyError, "no image '99'"),
        (("Set12", "01", "sigma25", "SRCNN"), {}, KeyError, "unknown method 'SRCNN'"),
        (("Set12", "01", "blur", "Noisy"), {}, ValueError, "bad setting"),
        (("Set12", "01", "x3", "BM3D"), {}, ValueError, "does not apply"),
        (("Set12", "01", "x3", "Bicubic", "dncnn_denoise"), {}, ValueError, "is for denoise"),
        (("Set12", "01", "sigma25", "Noisy", "nope"), {}, KeyError, "unknown protocol"),
        (("Set12", "01", "sigma25", "Noisy"), {"crop": 4}, ValueError, "at least 16"),
    ],
)
def test_bad_inputs_raise_clear_errors(data_root, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        explorer.compute_case(*args, **kwargs)


def test_static_explorer_is_a_jslinked_stack(data_root, noisy):
    sr = explorer.compute_case("Set5", "butterfly", "x3", "Bicubic", crop=48)
    cases = [noisy, sr, noisy]
    ui = explorer.static_explorer(cases, regions=2, region_px=16)
    (selector, region), stack = ui.children[0].children, ui.children[1]
    assert isinstance(stack, widgets.Stack) and len(stack.children) == len(cases)
    assert [label for label, _ in selector.options] == [c.label for c in cases]
    case_link, *region_links = ui.explorer_links
    assert isinstance(case_link, widgets.widget_link.Link)
    assert case_link.source == (selector, "index")
    assert case_link.target == (stack, "selected_index")
    region_stacks = [child.children[2] for child in stack.children]
    assert all(isinstance(s, widgets.Stack) and len(s.children) == 2 for s in region_stacks)
    assert {link.target[0] for link in region_links} == set(region_stacks)
    assert all(link.source == (region, "index") for link in region_links)
    # Pictures shown twice are stored once: "Noisy" output == its input, case 3 == case 1.
    top_noisy = [box.children[1] for box in stack.children[0].children[1].children[:2]]
    assert top_noisy[0] is top_noisy[1]
    assert 0 < explorer.embedded_bytes(ui) < 400_000
    with pytest.raises(ValueError, match="at least one case"):
        explorer.static_explorer([])


def test_method_registry_and_trained_runs(data_root, tmp_path, monkeypatch):
    """Registered methods and the trained runs under the results root are looked up like the
    baselines: by name, for the settings they apply to; copied weights are listed once."""
    factory = lambda setting: lambda x: ndi.uniform_filter(x, 3)  # noqa: E731
    box = restorers.Method("Box (test)", factory, frozenset({"denoise"}), "a 3x3 mean")
    restorers.register(box)
    try:
        assert "Box (test)" in restorers.available("sigma25", trained=False)
        assert "Box (test)" not in restorers.available("x3", trained=False)
        c = explorer.compute_case("Set12", "09", "sigma25", "Box (test)", crop=32)
        assert c.psnr_restored > c.psnr_degraded  # a 3x3 mean removes some noise
        with pytest.raises(ValueError, match="already registered"):
            restorers.register(box)
    finally:
        restorers.unregister("Box (test)")
    assert "Box (test)" not in restorers.available()

    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    recipe = get_recipe("dncnn_denoise", sigma=25, budget="smoke",
                        model_kwargs=dict(depth=3, features=4, batch_norm=False))  # fmt: skip
    mine = tmp_path / "p" / "e" / "smoke" / "Mine__seed2"
    mine.mkdir(parents=True)
    fields = recipe_to_dict(recipe)
    weights = restorers.build_model(recipe).state_dict()
    torch.save({"recipe": fields, "model": weights}, mine / "model.pt")
    (mine / "train_summary.json").write_text(
        json.dumps({"status": "finished", "recipe_fields": fields, "iterations": 0})
    )
    copy = tmp_path / "p" / "f" / "smoke" / "Copy"
    shutil.copytree(mine, copy)
    (copy / "REUSED_FROM").write_text("p/e/smoke/Mine__seed2\n")
    (tmp_path / "p" / "g" / "smoke" / "NoSummary").mkdir(parents=True)
    (tmp_path / "p" / "g" / "smoke" / "NoSummary" / "model.pt").write_bytes(b"")
    found = restorers.trained_methods()
    assert [m.name for m in found] == ["p/e/Mine__seed2@smoke", "p/f/Copy@smoke"]
    assert found[0].caption == "Mine (p/e, smoke, seed 2)" and found[1].trained.is_copy
    assert "p/e/Mine__seed2@smoke" in restorers.available("sigma25")
    assert "p/f/Copy@smoke" not in restorers.available("sigma25")  # the same weights
    assert "p/e/Mine__seed2@smoke" not in restorers.available("sigma50")  # trained at 25
    c = explorer.compute_case("Set12", "09", "sigma25", "p/e/Mine__seed2@smoke", crop=32)
    assert c.restored.shape == (32, 32) and np.isfinite(c.psnr_restored)


def test_comparisons_put_trained_models_beside_baselines(data_root):
    """Every curated comparison has its baselines and the trained models of its entries
    (those under the committed results root); a proxy comparison is RGB, scored on Y."""
    spec = explorer.SHOWCASE
    sigma25 = next(s for s in spec if s.setting == "sigma25")
    trained = explorer.trained_for(sigma25.entries, "sigma25")
    assert trained and all(n.startswith("nlrn/table4/") for n in trained)
    shadow = next(s for s in spec if s.setting == "shadow")
    names = explorer.trained_for(shadow.entries, "shadow")[:1]
    c = explorer.compare(shadow.dataset, shadow.image, "shadow", names, crop=48)
    assert c.protocol == "proxy" and c.ground_truth.shape == (48, 48, 3)
    assert c.panels[0].diff.shape == (48, 48) and c.panels[0].caption.endswith("seed 0)")
    ui = explorer.static_explorer([c], regions=1, region_px=16)
    assert len(ui.children[1].children[0].children) == 4  # scores, pictures, zoom, differences


def test_live_explorer_follows_its_controls(data_root):
    ui = explorer.live_explorer("Set12", "09", "sigma25", "Noisy", crop=256)
    (w_set, w_img, w_setting, w_method, _), status = ui.children[0].children, ui.children[2]
    assert "Noisy" in status.value and "dB" in status.value
    picture = ui.children[3]  # an Image widget, never an Output widget (see the kernel test)
    assert isinstance(picture, widgets.Image) and bytes(picture.value[:4]) == b"\x89PNG"
    first = bytes(picture.value)
    w_setting.value = "x2"  # the method list follows the setting
    assert "Bicubic" in w_method.options and "BM3D" not in w_method.options
    assert "x2: Bicubic" in status.value and bytes(picture.value) != first
    w_set.value = "Set5"  # the image list follows the set
    assert w_img.value == "baby_GT" and "Set5/baby_GT" in status.value
    with pytest.raises(ValueError, match="crop must be"):
        explorer.live_explorer(crop=100)


def test_live_explorer_cell_runs_in_a_kernel_without_hanging(data_root, tmp_path):
    """The notebook's ``live = True`` cell, executed three times by papermill in a real kernel,
    returns as soon as the kernel is done. With the figure in an Output widget, nbclient
    mirrored the widget's outputs back on the shell channel while waiting there for the
    execute_reply, lost the reply's wake-up and sat idle until the execution timeout (4 runs of
    5): each live cell then took the whole ``timeout`` seconds."""
    import nbformat as nbf
    import papermill as pm

    from reprolib.provenance import REPO_ROOT

    source = nbf.read(REPO_ROOT / "notebooks" / "explorer.ipynb", as_version=4)
    (live_cell,) = [c for c in source.cells if c.source.startswith("if live:")]
    params = nbf.v4.new_code_cell("live = False")
    params.metadata["tags"] = ["parameters"]
    nb = nbf.v4.new_notebook()
    nb.cells = [
        nbf.v4.new_code_cell(
            "from IPython.display import display\n\nfrom reprolib import explorer"
        ),
        params,
        *[nbf.v4.new_code_cell(live_cell.source) for _ in range(3)],  # the hang was a race
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbf.write(nb, tmp_path / "live.ipynb")
    timeout = 30
    out = pm.execute_notebook(
        str(tmp_path / "live.ipynb"), str(tmp_path / "out.ipynb"), parameters={"live": True},
        cwd=str(REPO_ROOT), kernel_name="python3", execution_timeout=timeout, progress_bar=False,
    )  # fmt: skip
    live = [c for c in out.cells if c.source.startswith("if live:")]
    for cell in live:
        assert cell.metadata.papermill.duration < timeout - 5, cell.metadata.papermill
        (shown,) = [o for o in cell.outputs if o.output_type == "display_data"]
        assert "application/vnd.jupyter.widget-view+json" in shown.data
