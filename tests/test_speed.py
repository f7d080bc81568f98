"""The speed claims as ratios (RED-Net Sec. 4.5, MemNet Fig. 6, NLRN Table 3): FLOP counts
checked against the architecture by hand, the ratio arithmetic, and the CLI's CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reprolib import claims, cli, runner, speed

RED_CPU = tuple(c for c in speed.CASES if c.paper == "rednet" and c.width == "cpu")


def test_red20_flops_of_each_downsampling_follow_the_architecture():
    """RED20 (Sec. 5: 10 conv + 10 deconv, 3x3) at the cpu width C = 32 on H x W: a C->C layer
    at full size costs a = 2*9*C*C*H*W FLOPs, the first conv and last deconv (1 <-> C) b =
    2*9*C*H*W, and a layer at half resolution a quarter of that (a stride-2 deconv is counted
    on its half-size input). Down-sampling at conv1 puts all 20 layers at half resolution: 1/4.
    At conv5 the layers conv5..conv10 and deconv1..deconv6 are halved; at conv9 conv9, conv10,
    deconv1 and deconv2; at conv5+9 the same four again at a quarter of that."""
    table = speed.measure(RED_CPU, repeats=1, warmup=0, quick=True).set_index("variant")
    h, w = speed.QUICK_SIZE
    c = 32
    a, b = 2 * 9 * c * c * h * w, 2 * 9 * c * h * w
    expected = {
        "no_downsample": 2 * b + 18 * a,
        "down_conv1": (2 * b + 18 * a) // 4,
        "down_conv5": 2 * b + 6 * a + 12 * a // 4,
        "down_conv9": 2 * b + 14 * a + 4 * a // 4,
        "down_conv5_9": 2 * b + 6 * a + 8 * a // 4 + 4 * a // 16,
    }
    assert table["flops"].to_dict() == expected
    ratios = speed.add_ratios(table.reset_index()).set_index("variant")["ratio_flops"]
    assert ratios["down_conv1"] == 0.25
    assert ratios["down_conv5"] == pytest.approx(0.5, abs=0.01)  # the two 1-channel layers


def _row(
    variant: str, group: str, seconds: float, flops: int, params: int,
    paper_time_s: float = np.nan, paper_params: float = np.nan,
) -> dict:  # fmt: skip
    return {"paper": group, "experiment": f"{group}/x", "width": "cpu", "variant": variant,
            "reference": "ref", "time_s_median": seconds, "cpu_s_median": seconds / 2,
            "flops": flops, "params": params,
            "paper_time_s": paper_time_s, "paper_params": paper_params}  # fmt: skip


def test_ratios_are_taken_against_the_reference_of_each_group():
    table = pd.DataFrame([
        _row("ref", "rednet", 2.0, 100, 10, paper_time_s=3.17),
        _row("fast", "rednet", 0.5, 25, 10, paper_time_s=0.84),
        _row("ref", "nlrn", 4.0, 400, 330, paper_params=330_000),
        _row("big", "nlrn", 1.0, 800, 4131, paper_params=4_131_000),
        _row("x", "memnet", 3.0, 30, 3),
    ])  # fmt: skip
    table.loc[4, "reference"] = "x"
    out = speed.add_ratios(table).set_index(["paper", "variant"])
    assert list(out.columns) == [c for c in speed.COLUMNS if c not in ("paper", "variant")]
    cols = ["ratio_measured", "ratio_cpu", "ratio_flops", "ratio_params"]
    assert out.loc[("rednet", "fast"), cols].tolist() == [0.25, 0.25, 0.25, 1.0]
    assert out.loc[("rednet", "fast"), "paper_ratio"] == pytest.approx(0.84 / 3.17)
    assert out.loc[("rednet", "fast"), "paper_ratio_of"] == "time_s"
    assert out.loc[("nlrn", "big"), "ratio_measured"] == 0.25
    assert out.loc[("nlrn", "big"), "paper_ratio"] == pytest.approx(4131 / 330)
    assert out.loc[("nlrn", "big"), "paper_ratio_of"] == "params"
    assert np.isnan(out.loc[("memnet", "x"), "paper_ratio"])
    assert out.loc[("memnet", "x"), "paper_ratio_of"] == ""
    with pytest.raises(ValueError, match="reference row more than once"):
        speed.add_ratios(pd.concat([table, table.iloc[[0]]]))


def test_cli_quick_run_writes_every_case_with_its_columns(monkeypatch, tmp_path):
    """`reprolib speed --quick` measures every case on tiny inputs into speed/quick under the
    results root and renders the page from there (the notebook run itself is stubbed here)."""
    (tmp_path / "claims").symlink_to(claims.default_results_root() / "claims")
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    executed = []
    monkeypatch.setattr(runner, "execute", lambda nb, out, params: executed.append((out, params)))
    assert cli.main(["speed", "--quick", "--repeats", "2", "--warmup", "0"]) == 0
    table = pd.read_csv(tmp_path / "speed" / "quick" / "speed.csv")
    assert list(table.columns) == speed.COLUMNS
    assert executed == [(tmp_path / "speed" / "quick" / "speed.ipynb", {"quick": True})]
    assert set(table["experiment"]) == {"rednet/fig8", "memnet/table1", "nlrn/table3"}
    assert (table["input_shape"] == "1x1x32x48").all() and (table["threads"] == 1).all()
    timed = table[table["time_s_median"].notna()]
    assert len(timed) == 5 + 5 + 5 + 4  # RED at two widths, MemNet's 4 blocks + output, Table 3
    assert (timed["time_s_median"] > 0).all() and (timed["repeats"] == 2).all()
    assert (timed["cpu_s_median"] > 0).all() and timed["ratio_cpu"].notna().all()
    assert (table["flops"] > 0).all() and table["psnr_source"].notna().all()
    paper = table[(table["variant"] == "down_conv1") & (table["width"] == "paper")].iloc[0]
    assert paper["paper_time_s"] == 0.84 and paper["paper_ratio"] == pytest.approx(0.84 / 3.17)
    assert paper["psnr_source"] == "not yet run"  # nothing is trained under this results root


def test_refresh_psnr_rereads_the_scores_and_keeps_the_timings(monkeypatch, tmp_path):
    """A variant trained after the timing run gets its PSNR on the next `reprolib reports`
    (speed.refresh_psnr), its times untouched; rows of no case keep theirs; nothing changed,
    nothing written."""
    case = RED_CPU[1]  # down_conv1 at the cpu width
    rows = [
        {**_row(case.run, "rednet", 0.1, 25, 10), "experiment": case.experiment,
         "psnr": np.nan, "psnr_cell": "BSD200 sigma50", "psnr_source": "not yet run"},
        {**_row("gone", "rednet", 0.3, 75, 10), "experiment": case.experiment,
         "psnr": 20.0, "psnr_cell": "BSD200 sigma50", "psnr_source": "old"},
    ]  # fmt: skip
    speed.add_ratios(pd.DataFrame(rows).assign(reference=case.run)).to_csv(
        tmp_path / "speed.csv", index=False
    )
    scored = {"psnr": 24.18, "psnr_cell": "BSD200 sigma50", "psnr_source": "trained"}

    def fake_psnr(exp, c, labels):
        if c == case:
            return {labels[0]: scored}
        return {label: {"psnr": np.nan, "psnr_cell": "", "psnr_source": "x"} for label in labels}

    monkeypatch.setattr(speed, "_psnr", fake_psnr)
    assert speed.refresh_psnr(tmp_path) is True
    out = pd.read_csv(tmp_path / "speed.csv").set_index("variant")
    assert out.loc[case.run, ["psnr", "psnr_source"]].tolist() == [24.18, "trained"]
    assert out.loc[case.run, "time_s_median"] == 0.1 and out.loc["gone", "time_s_median"] == 0.3
    assert out.loc["gone", ["psnr", "psnr_source"]].tolist() == [20.0, "old"]
    assert speed.refresh_psnr(tmp_path) is False
