"""VDSR (Kim et al., CVPR 2016) as a trained baseline: its recipe family, the identity start of
the cpu deviation, and weight reuse across protocols (its registry runs and checks:
tests/test_experiments.py).

Everything trains with one torch thread at the smoke budget (a few seconds).
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from reprolib import experiments, protocols, recipes
from reprolib.experiments import Experiment, Run
from reprolib.models import build, conv_weight_params, model_depth
from reprolib.recipes import get_recipe, recipe_diff, with_overrides
from reprolib.train import train

#: What VDSR shares with MemNet's SR recipe, so that the two are trained on the same data and
#: scored identically (MemNet Sec. 5.1 follows VDSR's setting).
SAME_AS_MEMNET = (
    "task", "levels", "train_set", "channel", "protocol", "val_set", "val_setting", "val_limit",
    "test_sets", "test_settings", "scale_aug", "train_limit",
)  # fmt: skip


# ---------------------------------------------------------------------------------- the model
def test_zero_last_init_starts_as_the_identity_and_the_default_is_the_papers_he_init():
    x = torch.rand(2, 1, 17, 13)
    torch.manual_seed(0)
    he = build("vdsr", channels=16)
    torch.manual_seed(0)
    zero = build("vdsr", channels=16, last_init="zero")
    with torch.no_grad():
        assert torch.equal(zero(x), x)  # y = x + f(x), f = 0 at step 0
        assert not torch.allclose(he(x), x)  # He init: a residual of its own at step 0
    a, b = he.state_dict(), zero.state_dict()
    last = "body.38.weight"  # the 20th conv
    assert torch.count_nonzero(b[last]) == 0 and torch.count_nonzero(a[last]) > 0
    assert all(torch.equal(a[k], b[k]) for k in a if k != last)  # the rest: the same draws
    assert model_depth(zero) == 20 and conv_weight_params(build("vdsr")) == 664_704
    with pytest.raises(ValueError, match="last_init"):
        build("vdsr", last_init="xavier")


# -------------------------------------------------------------------------------- the recipes
def test_vdsr_sr_is_the_papers_recipe():
    """VDSR Sec. 4.2: 9,960 iterations of 64 patches, lr 0.1 divided by 10 every 20 of the 80
    epochs, SGD 0.9, weight decay 1e-4, adjustable clipping; 41 px patches (Sec. 3.2)."""
    r = get_recipe("vdsr_sr")
    assert (r.family, r.model, r.model_kwargs) == ("vdsr", "vdsr", {})
    assert (r.iterations, r.batch, r.patch) == (9_960, 64, 41)
    assert (r.optimizer, r.lr, r.momentum, r.weight_decay) == ("sgd", 0.1, 0.9, 1e-4)
    assert r.milestones == (2_490, 4_980, 7_470) and r.gamma == 0.1
    assert [recipes.lr_at(r, i) for i in (0, 2_489, 2_490, 7_470)] == pytest.approx(
        [0.1, 0.1, 0.01, 1e-4]
    )
    assert (r.clip, r.clip_value, r.loss) == ("value_over_lr", 0.01, "sse_half")
    assert r.levels == (2, 3, 4) and r.train_set == "291" and r.channel == "y"
    assert "9960 iterations" in r.source and "chosen" in r.source


def test_the_identity_adam_deviation_is_memnets_and_changes_nothing_else():
    for budget in recipes.BUDGETS:
        paper = get_recipe("vdsr_sr", budget=budget)
        dev = get_recipe("vdsr_sr_identity_adam", budget=budget)
        assert {line.split(":")[0] for line in recipe_diff(paper, dev)} == {
            "name", "optimizer", "lr", "model_kwargs", "source"
        }  # fmt: skip
        assert (dev.optimizer, dev.lr) == (
            recipes.MEMNET_IDENTITY_ADAM["optimizer"],
            recipes.MEMNET_IDENTITY_ADAM["lr"],
        )
        assert dev.model_kwargs["last_init"] == "zero" and "DEVIATION" in dev.source


@pytest.mark.parametrize("budget", recipes.BUDGETS)
def test_vdsr_uses_memnets_sr_data_protocol_and_evaluation_at_every_budget(budget):
    vdsr = get_recipe("vdsr_sr_identity_adam", budget=budget)
    memnet = get_recipe("memnet_sr_identity_adam", budget=budget)
    for name in SAME_AS_MEMNET:
        assert getattr(vdsr, name) == getattr(memnet, name), name
    assert vdsr.budget == budget


def test_cpu_budget_keeps_20_layers_at_memnets_width_batch_and_patch():
    vdsr = get_recipe("vdsr_sr_identity_adam", budget="cpu")
    memnet = get_recipe("memnet_sr_identity_adam", budget="cpu")
    model = build(vdsr.model, **vdsr.model_kwargs)
    assert model_depth(model) == 20
    assert vdsr.model_kwargs["channels"] == memnet.model_kwargs["channels"] == 32
    assert (vdsr.batch, vdsr.patch) == (memnet.batch, memnet.patch) == (16, 31)
    # Sized to MemNet's cost (FLOPs ratio 2.9, CPU-time ratio 3.2-3.9 per step): the
    # paper's own iteration count, so its milestones are kept as they are.
    assert 8_600 <= vdsr.iterations <= 11_700 and memnet.iterations == 3_000
    assert vdsr.milestones == get_recipe("vdsr_sr").milestones
    gpu = get_recipe("vdsr_sr_identity_adam", budget="gpu")
    assert gpu.model_kwargs == {"last_init": "zero"} and (gpu.batch, gpu.patch) == (64, 41)


def test_vdsr_smoke_trains_and_is_scored_under_memnets_protocol(tmp_path, data_root):
    from reprolib import evaluate

    r = get_recipe("vdsr_sr_identity_adam", budget="smoke")
    s = train(r, None, tmp_path, device="cpu", progress=False, threads=1)
    assert s["status"] == "finished" and s["iterations"] == r.iterations == 6
    assert s["patches_seen"] == 6 * r.batch and s["model"] == "vdsr"
    log = pd.read_csv(tmp_path / "log.csv")
    assert log["loss"].notna().all() and log["val_psnr"].notna().any()
    m = evaluate.evaluate_run(tmp_path, ["Set5"], limit=1, threads=1, progress=False)
    assert list(m.setting) == ["x2", "x3", "x4"] and (m.protocol == "memnet_sr").all()
    # Six Adam steps from the identity stay near the bicubic input (Set5 x2: ~30-35 dB).
    assert m.psnr.between(20, 45).all()


# ------------------------------------------------------------- protocols and training reuse
def test_memnet_and_nlrn_sr_protocols_score_alike_and_reds_does_not():
    get = protocols.get
    assert get("memnet_sr").scoring == get("nlrn_sr").scoring
    assert get("red_sr").scoring != get("memnet_sr").scoring
    a = get_recipe("vdsr_sr_identity_adam", budget="cpu")
    b = with_overrides(a, {"protocol": "nlrn_sr"})
    assert recipe_diff(a, b, training_only=True) == []
    assert recipe_diff(a, b) == ["protocol: 'memnet_sr' -> 'nlrn_sr'"]
    red = with_overrides(a, {"protocol": "red_sr"})
    assert recipe_diff(a, red, training_only=True) == ["protocol: 'memnet_sr' -> 'red_sr'"]


def test_protocol_is_a_training_field_only_through_how_it_scores(tmp_path, data_root):
    """Training validates with the recipe's protocol: memnet_sr and nlrn_sr leave the same
    weights and log, red_sr (float output, no shave) the same training steps but another log -
    so a red_sr run cannot take a memnet_sr run's log, and is trained again."""
    base = get_recipe("vdsr_sr_identity_adam", budget="smoke")
    runs = {}
    for name in ("memnet_sr", "nlrn_sr", "red_sr"):
        out = tmp_path / name
        recipe = with_overrides(base, {"protocol": name})
        train(recipe, None, out, device="cpu", progress=False, threads=1)
        ckpt = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)
        runs[name] = (ckpt["model"], pd.read_csv(out / "log.csv"))
    (w_m, log_m), (w_n, log_n), (w_r, log_r) = runs["memnet_sr"], runs["nlrn_sr"], runs["red_sr"]
    assert all(torch.equal(w_m[k], w_n[k]) and torch.equal(w_m[k], w_r[k]) for k in w_m)
    pd.testing.assert_series_equal(log_m["val_psnr"], log_n["val_psnr"])
    pd.testing.assert_series_equal(log_m["loss"], log_r["loss"])  # the same training steps
    assert not log_m["val_psnr"].dropna().equals(log_r["val_psnr"].dropna())


def test_find_trained_reuses_a_run_across_protocols_that_score_alike(
    monkeypatch, tmp_path, finished_run
):
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    donor = finished_run(Experiment("p/a", "a", "p", (Run("VDSR", "vdsr_sr_identity_adam"),), {}))

    def recipe(protocol: str, seed: int = 0) -> recipes.Recipe:
        run = Run("VDSR", "vdsr_sr_identity_adam", {"protocol": protocol})
        exp = Experiment("p/b", "b", "p", (run,), {"sets": ["Set14"]})
        return exp.recipe_for(run, "smoke", seed)

    assert experiments.find_trained(recipe("nlrn_sr")) == donor
    assert experiments.find_trained(recipe("red_sr")) is None
    assert experiments.find_trained(recipe("nlrn_sr", seed=1)) is None  # another seed
