"""Training loop, recipes and patch sampler: fast checks with the smoke budget and tiny models.

Everything runs with one torch thread: on a shared 2-core machine two competing OpenMP threads
slow these tiny models down by orders of magnitude.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from reprolib import degrade, recipes
from reprolib.evaluate import evaluate_checkpoint
from reprolib.imresize import imresize
from reprolib.patches import PatchSampler, apply_view, windows_with
from reprolib.recipes import RecipeError, get_recipe, with_overrides
from reprolib.train import CHECKPOINT, LOG, RecipeMismatchError, RunError
from reprolib.train import train as run_train

# A tiny DnCNN (no BN) on sigma 25: a few hundred ms per run.
TINY = dict(
    budget="smoke",
    model_kwargs=dict(depth=4, features=8, batch_norm=False),
    patch=24,
    batch=4,
    train_limit=6,
    val_limit=1,
)


def tiny(**kw) -> recipes.Recipe:
    return get_recipe("dncnn_denoise", sigma=25, **{**TINY, **kw})


def train(recipe, out, **kw):
    return run_train(recipe, None, out_dir=out, progress=False, threads=1, **kw)


def final_state(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=False)["model"]


def synthetic_images(n: int = 3, size: int = 48) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(f"img{i}", rng.integers(0, 256, (size, size + 8), dtype=np.uint8)) for i in range(n)]


# ---------------------------------------------------------------------------------------------
# (a) exact resume
# ---------------------------------------------------------------------------------------------
def test_resume_is_bit_identical(tmp_path, data_root):
    r = tiny(iterations=10, ckpt_every=3, log_every=2, val_every=10)
    ref = train(r, tmp_path / "ref")
    assert ref["status"] == "finished" and ref["iterations"] == 10

    out = tmp_path / "cut"
    first = train(r, out, stop_after=5)  # stops between checkpoints: partial log window
    assert first["status"] == "paused" and first["iterations"] == 5

    class Crash(RuntimeError):
        pass

    def crash(it, loss, model):
        if it == 8:
            raise Crash  # a kill after the checkpoint at 6: iterations 7-8 are lost

    with pytest.raises(Crash):
        train(r, out, callback=crash)
    done = train(r, out)
    assert done["status"] == "finished"

    a, b = final_state(tmp_path / "ref"), final_state(out)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    log_a, log_b = pd.read_csv(tmp_path / "ref" / LOG), pd.read_csv(out / LOG)
    assert log_a["iteration"].tolist() == log_b["iteration"].tolist() == [2, 4, 6, 8, 10]
    assert log_a["loss"].tolist() == log_b["loss"].tolist()
    assert log_a["val_psnr"].iloc[-1] == log_b["val_psnr"].iloc[-1]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["patches_seen"] == 10 * r.batch and summary["budget"] == "smoke"
    assert summary["hardware"].startswith("cpu") and summary["wall_s"] > 0
    # The weights at the validation point are kept for the budget-scaling curves.
    snaps = sorted((out / "snapshots").glob("model_*.pt"))
    assert [p.name for p in snaps] == ["model_0000010.pt"]
    snap = torch.load(snaps[0], weights_only=True)
    assert snap["iteration"] == 10 and all(
        torch.allclose(v.float(), a[k].float(), atol=1e-2)
        for k, v in snap["model"].items()
        if k in a
    )


# ---------------------------------------------------------------------------------------------
# (b) two-process DDP on CPU (gloo)
# ---------------------------------------------------------------------------------------------
def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    r = tiny(iterations=4, ckpt_every=2, log_every=2, val_every=4)

    def keep(it, loss, model):
        if it == r.iterations:
            torch.save(model.state_dict(), Path(out) / f"rank{rank}.pt")

    summary = run_train(r, None, out_dir=Path(out) / "run", progress=False, threads=1,
                        device="cpu", callback=keep)  # fmt: skip
    assert summary["world_size"] == world and summary["patches_seen"] == 4 * r.batch * world


def test_ddp_two_processes_cpu(tmp_path, data_root):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.start_processes(
        _ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, start_method="spawn"
    )
    w0, w1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    assert (tmp_path / "run" / "train_summary.json").is_file()
    ckpt = torch.load(tmp_path / "run" / CHECKPOINT, weights_only=False)
    assert ckpt["world_size"] == 2 and len(ckpt["ranks"]) == 2
    s0, s1 = (st["sampler"]["rng"] for st in ckpt["ranks"])
    assert s0 != s1  # each rank draws its own patch stream


# ---------------------------------------------------------------------------------------------
# (c) lookup and parameter errors
# ---------------------------------------------------------------------------------------------
def test_recipe_and_budget_errors():
    with pytest.raises(RecipeError, match="known recipes: .*memnet_denoise"):
        get_recipe("memnet_deblur")
    with pytest.raises(RecipeError, match="budgets: smoke, cpu, gpu, paper"):
        get_recipe("memnet_denoise", budget="laptop")
    with pytest.raises(RecipeError, match="pass sigma="):
        get_recipe("nlrn_denoise")
    with pytest.raises(RecipeError, match="override levels"):
        get_recipe("memnet_denoise", sigma=50)
    with pytest.raises(RecipeError, match="sigma must be"):
        get_recipe("red_denoise", sigma=-5)
    with pytest.raises(RecipeError, match="batch must be a positive integer"):
        get_recipe("memnet_denoise", batch=0)
    with pytest.raises(RecipeError, match="optimizer='adamw' is not one of"):
        get_recipe("memnet_denoise", optimizer="adamw")
    with pytest.raises(RecipeError, match="already scaled"):
        recipes.apply_budget(get_recipe("memnet_sr", budget="cpu"), "smoke")
    with pytest.raises(RecipeError, match="rejected the keywords"):
        train(tiny(no_such_layer=3), "/nonexistent/never-created")
    with pytest.raises(ValueError, match="max_minutes"):
        train(tiny(), "/nonexistent/never-created", max_minutes=-1)
    assert not Path("/nonexistent/never-created").exists()
    # lookups that work, and the shape-keeping iteration override
    assert get_recipe("nlrn_denoise_sigma25") == get_recipe("nlrn_denoise", sigma=25)
    r = get_recipe("nlrn_denoise", sigma=25, iterations=40_000)
    assert r.milestones == (7_500, 15_000, 22_500, 30_000, 37_500)
    cpu = get_recipe("memnet_denoise", budget="cpu")
    assert cpu.budget == "cpu" and cpu.milestones == (1_000, 2_000) and cpu.lr == 0.1
    assert recipes.lr_at(cpu, 0) == 0.1 and recipes.lr_at(cpu, 2_500) == pytest.approx(1e-3)
    m = get_recipe("memorynet_shadow")
    assert recipes.lr_at(m, 0) == pytest.approx(2e-4 / 252)
    assert recipes.lr_at(m, m.iterations - 1) == pytest.approx(1e-6, rel=1e-2)
    for name in recipes.available():
        kw = {"sigma": 50} if name.split("_")[0] in ("red", "nlrn", "dncnn") and (
            "denoise" in name and not name.endswith("_blind")  # one model for every level
        ) else {}  # fmt: skip
        for budget in recipes.BUDGETS:
            assert get_recipe(name, budget=budget, **kw).budget == budget


def test_red_inpaint_is_one_model_for_text_and_scratches_scaled_like_red_jpeg():
    """RED-Net Sec. 5.6 on RED's JPEG set-up (Y channel, BSD300, LIVE1): only the task, its
    levels and the protocol differ, at every budget."""
    for budget in recipes.BUDGETS:
        r = get_recipe("red_inpaint", budget=budget)
        assert r.settings == r.test_settings == ("font10", "font20", "scratch")
        assert (r.task, r.protocol, r.channel, r.train_set) == ("inpaint", "red_inpaint", "y",
                                                                "BSD300")  # fmt: skip
        diff = recipes.recipe_diff(get_recipe("red_jpeg_q10", budget=budget), r)
        assert {line.split(":")[0] for line in diff} == {
            "name", "task", "levels", "protocol", "val_setting", "test_settings"
        }  # fmt: skip
    text_only = get_recipe("red_inpaint", levels=[10, 20])  # the register's other reading
    assert text_only.settings == ("font10", "font20")


# ---------------------------------------------------------------------------------------------
# (d) the patch sampler
# ---------------------------------------------------------------------------------------------
def test_sampler_determinism_and_noise():
    imgs = synthetic_images()
    kw = dict(task="denoise", levels=(10, 50), patch=16, batch=64, channel="gray", seed=3)
    a, b = PatchSampler(imgs, **kw), PatchSampler(imgs, **kw)
    xa, ya, meta = a.sample_numpy()
    xb, yb, _ = b.sample_numpy()
    assert xa.shape == ya.shape == (64, 1, 16, 16) and xa.dtype == np.float32
    assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    assert 0.0 <= ya.min() and ya.max() <= 1.0
    state = a.state_dict()
    nxt = a.sample_numpy()[0]
    b.load_state_dict(state)
    assert np.array_equal(b.sample_numpy()[0], nxt)
    other = PatchSampler(imgs, **{**kw, "seed": 3}, rank=1).sample_numpy()[0]
    assert not np.array_equal(other, xa)
    noise = (xa - ya)[:, 0] * 255.0
    for level in (10, 50):
        sel = meta["levels"] == level
        assert sel.any()
        assert noise[sel].std() == pytest.approx(level, rel=0.1)
    for k in range(4):  # targets are exact crops of the (dihedrally viewed) image
        img = dict(imgs)[meta["keys"][k]]
        t, left = meta["top"][k], meta["left"][k]
        crop = apply_view(img[t : t + 16, left : left + 16], int(meta["view"][k]))
        assert np.allclose(ya[k, 0] * 255.0, crop, atol=1e-4)


def test_sampler_sr_and_jpeg_inputs():
    imgs = synthetic_images(2, 60)
    sr = PatchSampler(imgs, task="sr", levels=(2, 3, 4), patch=20, batch=12, channel="y", seed=1)
    x, y, meta = sr.sample_numpy()
    for k in range(12):
        s = int(meta["levels"][k])
        hr = dict(imgs)[meta["keys"][k]]
        hr = hr[: hr.shape[0] - hr.shape[0] % s, : hr.shape[1] - hr.shape[1] % s]
        up = imresize(imresize(hr.astype(np.float64) / 255.0, 1.0 / s), float(s))
        t, left, v = meta["top"][k], meta["left"][k], int(meta["view"][k])
        win = (slice(t, t + 20), slice(left, left + 20))
        assert np.allclose(x[k, 0], apply_view(up[win], v), atol=1e-6)
        assert np.allclose(y[k, 0] * 255.0, apply_view(hr[win], v), atol=1e-4)
    jp = PatchSampler(imgs, task="jpeg", levels=(10,), patch=16, batch=4, channel="y", seed=1)
    x, y, meta = jp.sample_numpy()
    coded = degrade.jpeg(dict(imgs)[meta["keys"][0]], 10)
    t, left, v = meta["top"][0], meta["left"][0], int(meta["view"][0])
    assert np.allclose(x[0, 0] * 255.0, apply_view(coded[t : t + 16, left : left + 16], v),
                       atol=1e-4)  # fmt: skip
    rgb = [(k, np.stack([im] * 3, -1)) for k, im in imgs]
    sh = PatchSampler(rgb, task="shadow", levels=(), patch=16, batch=3, channel="rgb", seed=0)
    x, y = sh.sample()
    assert x.shape == (3, 3, 16, 16) and float(x.max()) <= 1.0


def test_windows_with_marks_the_windows_holding_a_true_pixel():
    mask = np.zeros((5, 6), bool)
    mask[2, 3] = True
    got = windows_with(mask, 2)  # 2x2 windows: corners (1..2, 2..3) cover (2, 3)
    want = np.zeros((4, 5), bool)
    want[1:3, 2:4] = True
    assert np.array_equal(got, want)
    assert windows_with(np.ones((3, 3), bool), 3).tolist() == [[True]]


def test_sampler_inpainting_pairs_are_clean_targets_with_corrupted_pixels_in_every_patch():
    """RED-Net Sec. 5.6: patches "with text on them" (or scratches), mapped to the originals."""
    imgs = synthetic_images(3, 96)
    kw = dict(task="inpaint", levels=(10, 20, degrade.SCRATCH_LEVEL), patch=16, batch=48,
              channel="y", seed=2)  # fmt: skip
    x, y, meta = PatchSampler(imgs, **kw).sample_numpy()
    x2, y2, _ = PatchSampler(imgs, **kw).sample_numpy()
    assert np.array_equal(x, x2) and np.array_equal(y, y2)  # deterministic for a seed
    assert set(meta["levels"]) == {10, 20, degrade.SCRATCH_LEVEL}
    for k in range(48):
        img = dict(imgs)[meta["keys"][k]]
        corrupted = degrade.inpaint_corruption(img, int(meta["levels"][k]), key=meta["keys"][k])[0]
        t, left, v = meta["top"][k], meta["left"][k], int(meta["view"][k])
        win = (slice(t, t + 16), slice(left, left + 16))
        assert np.allclose(y[k, 0] * 255.0, apply_view(img[win], v), atol=1e-4)  # clean
        assert np.allclose(x[k, 0] * 255.0, apply_view(corrupted[win], v), atol=1e-4)
        changed = x[k, 0] != y[k, 0]
        assert changed.any()  # every patch holds corrupted pixels ...
        assert np.all(x[k, 0][changed] == 1.0)  # ... white, and only those differ
    # Scratches leave most 16-pixel windows of these images clean: only the others are drawn.
    scratch = PatchSampler(imgs, **{**kw, "levels": (degrade.SCRATCH_LEVEL,), "batch": 64})
    clean = [~windows_with(s.inp != s.target, 16) for s in scratch.sources[0]]
    assert np.mean([c.mean() for c in clean]) > 0.2
    x, y, _ = scratch.sample_numpy()
    assert (x != y).reshape(64, -1).any(axis=1).all()


# ---------------------------------------------------------------------------------------------
# (e) training learns
# ---------------------------------------------------------------------------------------------
def test_training_reduces_loss(tmp_path, data_root):
    r = tiny(
        iterations=30, batch=16, patch=32, log_every=10, val_every=30, ckpt_every=30,
        val_limit=2, train_limit=20, schedule="constant", milestones=(),
        model_kwargs=dict(depth=5, features=16, batch_norm=False),
    )  # fmt: skip
    s = train(r, tmp_path / "run")
    log = pd.read_csv(tmp_path / "run" / LOG)
    assert log["loss"].iloc[-1] < log["loss"].iloc[0]
    noisy = evaluate_checkpoint(
        torch.nn.Identity(), ["Set12"], ["sigma25"], "dncnn_denoise", limit=2, progress=False,
        device="cpu",
    )  # fmt: skip
    assert s["final_val_psnr"] > noisy["psnr"].mean() + 1.0
    scored = evaluate_checkpoint(tmp_path / "run", ["Set12"], limit=2, progress=False)
    assert scored["psnr"].mean() == pytest.approx(s["final_val_psnr"], abs=0.01)


# ---------------------------------------------------------------------------------------------
# (f) refusing to resume or overwrite across recipes
# ---------------------------------------------------------------------------------------------
def test_refuses_other_recipe_and_keeps_results(tmp_path, data_root):
    r = tiny(iterations=4, ckpt_every=2, log_every=2, val_every=4)
    out = tmp_path / "run"
    train(r, out, stop_after=2)
    with pytest.raises(RecipeMismatchError, match="lr: 0.001 -> 0.002"):
        train(tiny(iterations=4, ckpt_every=2, log_every=2, val_every=4, lr=2e-3), out)
    with pytest.raises(RunError, match="resume=True"):
        train(r, out, resume=False)
    done = train(r, out)
    stamp = (out / "model.pt").stat().st_mtime_ns
    again = train(r, out)  # finished: returned, not retrained
    assert again["finished_utc"] == done["finished_utc"]
    assert (out / "model.pt").stat().st_mtime_ns == stamp
    with pytest.raises(RecipeMismatchError, match="finished run of a different recipe"):
        train(tiny(iterations=6, ckpt_every=2, log_every=2, val_every=6), out)
    redo = train(tiny(iterations=6, ckpt_every=2, log_every=2, val_every=6), out, overwrite=True)
    assert redo["iterations"] == 6


def test_recipe_diff_training_only_ignores_the_test_grid_and_citations():
    from reprolib.recipes import get_recipe, recipe_diff, with_overrides

    a = get_recipe("nlrn_denoise", sigma=25, budget="smoke")
    b = with_overrides(a, {"test_sets": ["Set12"], "test_settings": ["sigma50"], "source": "x"})
    assert len(recipe_diff(a, b)) == 3
    assert recipe_diff(a, b, training_only=True) == []
    assert recipe_diff(a, with_overrides(b, {"lr": 0.5}), training_only=True) == [
        f"lr: {a.lr!r} -> 0.5"
    ]


def test_memnet_weights_saved_with_one_shared_reconnet_bn_still_load(tmp_path):
    from reprolib.models import build
    from reprolib.restorers import load_model
    from reprolib.train import resolve_recipe

    recipe = resolve_recipe("memnet_sr", "smoke", None)
    saved = recipes.recipe_to_dict(recipe)
    saved["model_kwargs"].pop("recon_bn_per_block")  # as written before the default changed
    old = build(recipe.model, **{**recipe.model_kwargs, "recon_bn_per_block": False})
    torch.save({"recipe": saved, "model": old.state_dict()}, tmp_path / "model.pt")
    model, loaded = load_model(tmp_path)
    assert len(model.reconnet.act) == 1 and loaded.model_kwargs["recon_bn_per_block"] is False
    x = torch.rand(1, 1, 12, 12)
    assert torch.allclose(model(x), old.eval()(x))


def test_proxy_scores_of_the_identity_are_the_degraded_inputs_scores(data_root):
    """The MemoryNet proxies: a pair is the same every time (keyed on the image name), and the
    identity restorer scores exactly the Y-channel PSNR of the degraded image."""
    from reprolib import data, evaluate, imageops, metrics

    im = data.load("BSD200", limit=1)[0]
    for task in recipes.PROXY_TASKS:
        pair = evaluate.make_pair(im, "BSD200", task, "proxy")
        deg, gt = imageops.to_uint8(pair.degraded * 255.0), pair.target
        again = imageops.to_uint8(evaluate.make_pair(im, "BSD200", task, "proxy").degraded * 255)
        assert deg.dtype == gt.dtype == np.uint8 and np.array_equal(deg, again)
        assert np.array_equal(deg / 255.0, pair.degraded)  # the input is the uint8 image
        assert not np.array_equal(deg, gt)
        assert (pair.mask is not None) == (task == "shadow")
        scores = evaluate.measure(lambda x: x, "BSD200", task, "proxy", limit=1, progress=False)
        expected = metrics.psnr(imageops.rgb2y(deg), imageops.rgb2y(gt))
        assert scores.psnr.iloc[0] == pytest.approx(expected, abs=1e-9)
    with pytest.raises(ValueError, match="bad setting 'rain'"):
        evaluate.make_pair(im, "BSD200", "rain", "proxy")


def test_evaluation_keeps_the_requested_thread_count(monkeypatch):
    """`threads` holds while scoring too (the train notebook evaluates after training: with the
    default thread count on a machine whose other cores are busy, inference ran ~4x slower),
    and the previous setting comes back afterwards, also on errors."""
    from reprolib import evaluate
    from reprolib.models.inference import torch_threads

    seen = []

    def fake_measure(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return pd.DataFrame({"psnr": [1.0]})

    monkeypatch.setattr(evaluate, "measure", fake_measure)
    model = torch.nn.Conv2d(1, 1, 3)
    before = torch.get_num_threads()
    kw = dict(datasets=["Set12"], settings=["sigma25"], protocol="dncnn_denoise")
    evaluate.evaluate_checkpoint(model, threads=1, **kw)
    assert seen == [1] and torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        evaluate.evaluate_checkpoint(model, threads=0, **kw)
    with pytest.raises(RuntimeError), torch_threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError
    assert torch.get_num_threads() == before


def test_bn_statistics_are_re_estimated_at_the_end_when_the_recipe_asks(tmp_path, data_root):
    r = with_overrides(get_recipe("memnet_denoise_identity_adam", budget="smoke"),
                       {"iterations": 4, "val_every": 4})  # fmt: skip
    assert r.bn_stats_patch == 128  # the MemNet denoising deviation
    plain = train(with_overrides(r, {"bn_stats_patch": 0}), tmp_path / "plain")
    fixed = train(r, tmp_path / "fixed")
    assert "bn_stats" not in plain and fixed["bn_stats"].endswith("patches of 128 px")
    a, b = (
        torch.load(tmp_path / d / "model.pt", weights_only=False)["model"]
        for d in ("plain", "fixed")
    )
    stats = [k for k in a if k.endswith(("running_mean", "running_var"))]
    assert stats and all(
        torch.equal(a[k], b[k]) for k in a if k not in stats and "num_batches" not in k
    )
    assert not all(torch.equal(a[k], b[k]) for k in stats)  # only the statistics changed
