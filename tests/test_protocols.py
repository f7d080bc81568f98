"""Protocol presets, setting parsing, and the measurement engine on real test images."""

from __future__ import annotations

import numpy as np
import pytest

from reprolib import evaluate, protocols, restorers


@pytest.mark.parametrize(
    "setting,expected",
    [
        ("x3", ("sr", 3)),
        ("sigma25", ("denoise", 25)),
        ("q10", ("jpeg", 10)),
        ("font20", ("inpaint", 20)),
        ("scratch", ("inpaint", 0)),
        ("shadow", ("shadow", 0)),
    ],
)
def test_parse_setting(setting, expected):
    assert protocols.parse_setting(setting) == expected
    assert protocols.setting_name(*expected) == setting  # and back


@pytest.mark.parametrize(
    "bad,msg",
    [
        ("x5", "scale must be 2, 3 or 4"),
        ("sigma-5", "sigma must be >= 0"),
        ("q0", "quality must be in 1..100"),
        ("q101", "quality must be in 1..100"),
        ("font0", "font size must be in 4..200"),
        ("font300", "font size must be in 4..200"),
        ("blur", "bad setting"),
        ("xfoo", "bad setting"),
    ],
)
def test_parse_setting_rejects_bad_values(bad, msg):
    with pytest.raises(ValueError, match=msg):
        protocols.parse_setting(bad)


def test_unknown_protocol_lists_known():
    with pytest.raises(KeyError, match="memnet_sr"):
        protocols.get("nope")


def test_sr_protocol_rounds_and_shaves_but_denoise_protocol_does_not():
    sr, dn = protocols.get("memnet_sr"), protocols.get("memnet_denoise")
    gt = np.full((20, 20), 100, np.uint8)
    out = np.full((20, 20), 100.4)
    out[0, :] = 0  # a bad border row: shaved away by SR scoring only
    assert sr.score(out, gt, scale=2)[0] == float("inf")  # 100.4 rounds to 100
    assert np.isfinite(dn.score(out, gt)[0])


def test_ground_truth_modcrops_and_uses_luminance():
    rgb = np.zeros((11, 14, 3), np.uint8)
    gt = protocols.get("memnet_sr").ground_truth(rgb, "Set5", 3)
    assert gt.shape == (9, 12) and gt.dtype == np.uint8 and gt.max() == 16  # Y of black


def test_bsd200_is_halved_for_memnet_denoising():
    img = np.zeros((321, 481, 3), np.uint8)
    assert protocols.get("memnet_denoise").ground_truth(img, "BSD200").shape == (161, 241)


def test_degraded_input_is_deterministic_per_key():
    gt = np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1))
    a = evaluate.degraded_input(gt, "sigma25", "Set12/01")
    b = evaluate.degraded_input(gt, "sigma25", "Set12/01")
    c = evaluate.degraded_input(gt, "sigma25", "Set12/02")
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.std(a * 255 - gt) == pytest.approx(25, rel=0.15)
    sr = evaluate.degraded_input(gt, "x2", "k")
    assert sr.shape == gt.shape and sr.dtype == np.float64


def test_baseline_lookup_errors():
    with pytest.raises(KeyError, match="unknown method 'SRCNN'"):
        restorers.restorer("SRCNN", "x2")
    with pytest.raises(ValueError, match="does not apply"):
        restorers.restorer("Bicubic", "sigma25")
    assert restorers.dncnn_weights_for("sigma25") == "dncnn_s25"
    assert restorers.dncnn_weights_for("sigma30") == "dncnn_b"
    assert restorers.dncnn_weights_for("x3") == "dncnn3"


def test_bicubic_on_set5_reproduces_the_published_column(data_root):
    """MemNet Table 4, Bicubic, Set5 x2: 33.66 / 0.9299 (the paper's numbers, as a test)."""
    df = evaluate.measure("Bicubic", "Set5", "x2", "memnet_sr", progress=False)
    assert len(df) == 5
    assert df["psnr"].mean() == pytest.approx(33.66, abs=0.01)
    assert df["ssim"].mean() == pytest.approx(0.9299, abs=0.001)


def test_identity_jpeg_on_classic5_matches_table5(data_root):
    """MemNet Table 5, JPEG, Classic5 q10: 27.82 / 0.7595 (the paper's numbers, as a test)."""
    df = evaluate.measure("JPEG", "Classic5", "q10", "memnet_jpeg", progress=False)
    assert df["psnr"].mean() == pytest.approx(27.82, abs=0.05)
    assert df["ssim"].mean() == pytest.approx(0.7595, abs=0.003)


def test_measure_accepts_any_restorer_and_rejects_mismatched_protocol(data_root):
    df = evaluate.measure(
        lambda x: x, "Set12", "sigma25", "dncnn_denoise", limit=1, method_name="Noisy",
        progress=False,
    )  # fmt: skip
    assert df.loc[0, "method"] == "Noisy" and 19 < df.loc[0, "psnr"] < 21
    with pytest.raises(ValueError, match="protocol 'memnet_sr' is for sr"):
        evaluate.measure("Noisy", "Set12", "sigma25", "memnet_sr")


def test_protocol_run_writes_summary_in_the_shared_shape_and_merges(data_root, tmp_path):
    from reprolib import protocol_check

    (bicubic,) = protocol_check.load_targets(["memnet-t4-bicubic"])
    (jpeg,) = protocol_check.load_targets(["memnet-t5-jpeg"])
    protocol_check.run([bicubic], limit=1, out_dir=tmp_path, progress=False)
    _, summary = protocol_check.run([jpeg], limit=1, out_dir=tmp_path, progress=False)
    required = ["paper", "table", "dataset", "setting", "method", "metric", "claimed",
                "measured", "diff", "n_images"]  # fmt: skip
    assert list(summary.columns[: len(required)]) == required
    written = protocol_check.load_summary(tmp_path)
    # 4 sets x 3 scales x 2 metrics from the first run survive the second run's write.
    assert (written["target"] == "memnet-t4-bicubic").sum() == 24
    assert (written["target"] == "memnet-t5-jpeg").sum() == 8
    assert written["claimed"].notna().all() and (written["n_images"] == 1).all()
    assert set(protocol_check.verdicts(written)["status"]) <= {"reproduced", "gap"}


def test_protocol_cell_pauses_at_a_deadline_and_resumes_image_by_image(data_root, tmp_path):
    """A slow baseline cell (BM3D on Urban100: a minute per image) survives a stop: the images
    scored are kept under rows/ and only the rest are measured when the command runs again."""
    import time

    from reprolib import protocol_check

    jpeg = protocol_check.Target(
        id="t", paper="memnet", table="table5", protocol="memnet_jpeg", method="JPEG",
        datasets={"Classic5": "Classic5"}, settings=["q10"], tolerance={"psnr": 0.05},
    )  # fmt: skip
    whole, _ = protocol_check.run([jpeg], limit=3, out_dir=tmp_path / "whole", progress=False)
    assert len(whole) == 3 and protocol_check.paused_cells(tmp_path / "whole").empty

    out = tmp_path / "stopped"  # as a kill after two images leaves it
    rows = protocol_check.rows_file(out, "memnet_jpeg", "JPEG", "Classic5", "q10")
    rows.parent.mkdir(parents=True)
    whole.iloc[:2].assign(seconds=123.0).to_csv(rows, index=False)
    assert protocol_check.paused_cells(out)["images_scored"].tolist() == [2]

    per_image, summary = protocol_check.run(
        [jpeg], limit=3, out_dir=out, progress=False, deadline=time.time() - 1
    )  # the third image is past the deadline: nothing merged, the two rows kept
    assert per_image.empty and summary.empty and not (out / "summary.csv").exists()
    assert protocol_check.paused_cells(out)["images_scored"].tolist() == [2]

    per_image, _ = protocol_check.run([jpeg], limit=3, out_dir=out, progress=False)
    assert per_image["seconds"].tolist()[:2] == [123.0, 123.0]  # kept, not measured again
    assert per_image["psnr"].tolist() == pytest.approx(whole["psnr"].tolist())
    assert protocol_check.paused_cells(out).empty and not rows.exists()
    stored = protocol_check.load_summary(out)
    assert stored["n_images"].tolist() == [3, 3] and stored["wall_s"].min() >= 246


def test_proxy_settings_name_their_task_and_fit_only_the_proxy_protocol():
    assert protocols.parse_setting("shadow") == ("shadow", 0)
    assert protocols.get("proxy").task_of("motion_blur") == ("motion_blur", 0)
    with pytest.raises(ValueError, match="is for proxy"):
        protocols.get("proxy").task_of("sigma25")
    with pytest.raises(ValueError, match="is for denoise"):
        protocols.get("dncnn_denoise").task_of("shadow")


def test_inpainting_pairs_are_corrupted_the_same_way_every_time_per_image(data_root):
    """RED-Net Sec. 5.6 on LIVE1: white text (font 10/20) or scratches on the Y channel, keyed
    on each image, so every model is scored on the same corrupted images."""
    from reprolib import data
    from reprolib.imageops import rgb2y

    first, second = data.load("LIVE1", limit=2)
    masks = {}
    for setting in ("font10", "font20", "scratch"):
        a = evaluate.make_pair(first, "LIVE1", setting, "red_inpaint")
        b = evaluate.make_pair(first, "LIVE1", setting, "red_inpaint")
        assert np.array_equal(a.degraded, b.degraded) and np.array_equal(a.mask, b.mask)
        assert np.array_equal(a.target, rgb2y(first.pixels))
        assert np.all(a.degraded[a.mask] == 1.0)  # white corruption ...
        assert np.array_equal(a.degraded[~a.mask] * 255.0, a.target[~a.mask])  # ... only there
        assert 0.005 < a.mask.mean() < 0.3
        other = evaluate.make_pair(second, "LIVE1", setting, "red_inpaint")
        assert not np.array_equal(other.mask, a.mask[: other.mask.shape[0], : other.mask.shape[1]])
        masks[setting] = a.mask
    assert not np.array_equal(masks["font10"], masks["font20"])
    with pytest.raises(ValueError, match="is for inpaint"):
        protocols.get("red_inpaint").task_of("q10")
