"""The run folder's helpers that other modules rely on: reading a log that is being written,
and the progress bar `reprolib run` shows while the train notebook's kernel trains."""

from __future__ import annotations

import shutil
import time

import pytest

from reprolib import runs

HEADER = "iteration,loss,lr,val_psnr,wall_s,patches_per_s\n"


def test_last_logged_reads_the_last_complete_row_and_the_last_validation(tmp_path):
    assert runs.last_logged(tmp_path) == {}  # no log yet
    (tmp_path / runs.LOG).write_text(
        HEADER
        + "100,0.5,0.001,28.25,10.0,5.0\n"
        + "150,0.4,0.001,nan,15.0,5.0\n"
        + "200,0.3,0.001,nan,20.0,5.0\n"
        + "250,0.2,0.0"  # being appended: skipped
    )
    assert runs.last_logged(tmp_path) == {"iteration": 200.0, "loss": 0.3, "val_psnr": 28.25}
    (tmp_path / runs.LOG).write_text(HEADER + "50,0.9,0.001,nan,5.0,5.0\n")
    assert runs.last_logged(tmp_path) == {"iteration": 50.0, "loss": 0.9}  # no validation yet


def test_follow_run_tracks_the_log_while_it_grows(tmp_path):
    (tmp_path / runs.LOG).write_text(HEADER + "100,0.5,0.001,27.5,10.0,5.0\n")  # a resumed run
    with runs.follow_run(tmp_path, total=400, desc="t", every_s=0.01) as bar:
        deadline = time.monotonic() + 5
        while bar.n != 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert bar.n == 100
        assert bar.format_dict["initial"] == 100  # the rate counts this call's iterations only
        with (tmp_path / runs.LOG).open("a") as log:
            log.write("400,0.25,0.001,29.0,40.0,5.0\n")
    assert bar.n == 400  # the last update on exit
    assert bar.postfix == "loss=0.25, val_psnr=29.00"


@pytest.mark.parametrize("content", ["", HEADER, "garbage\n1,2\n"])
def test_follow_run_survives_a_missing_or_odd_log(tmp_path, content):
    if content:
        (tmp_path / runs.LOG).write_text(content)
    with runs.follow_run(tmp_path, total=10, desc="t", every_s=0.01) as bar:
        time.sleep(0.05)
    assert bar.n == 0


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_follow_run_then_follows_the_scoring_image_by_image(tmp_path):
    """The training's last rows, then the scoring of a stopped evaluation that resumes (its
    scored files appear before the last log row here, so the switch sees them): the bar
    switches to images (the finished set x setting files and the rows file count, the loss is
    dropped) and ends full once this call's metrics.csv is written (the partial rows gone)."""
    cols = "protocol,dataset,setting,method,image,psnr,ssim,seconds\n"
    (tmp_path / runs.LOG).write_text(HEADER + "300,0.5,0.001,28.0,30.0,5.0\n")
    with runs.follow_run(tmp_path, total=400, desc="t", every_s=0.01, images=19) as bar:
        _wait_for(lambda: bar.postfix)  # the first poll (the bar starts at the log's 300)
        assert bar.n == 300 and bar.unit == "it" and "loss=0.5" in bar.postfix
        staged = tmp_path / "staged"  # the scored files appear at once (no poll in between)
        part = staged / "0123abcd"
        (part / "rows").mkdir(parents=True)
        (part / "Set5__x2.csv").write_text(cols + "p,Set5,x2,m,a,30,0.9,1\n" * 5)
        (part / "rows" / "Set14__x2.rows.csv").write_text(cols + "p,Set14,x2,m,a,30,0.9,1\n" * 2)
        staged.rename(tmp_path / runs.PARTIAL)
        rows = tmp_path / runs.PARTIAL / "0123abcd" / "rows" / "Set14__x2.rows.csv"
        assert runs.scored_images(tmp_path) == 7
        with (tmp_path / runs.LOG).open("a") as log:
            log.write("400,0.25,0.001,29.0,40.0,5.0\n")
        _wait_for(lambda: bar.unit == "img" and bar.n == 7)
        assert (bar.n, bar.total, bar.format_dict["initial"]) == (7, 19, 7)
        assert bar.desc.startswith("t scoring") and not bar.postfix
        with rows.open("a") as f:
            f.write("p,Set14,x2,m,a,30,0.9,1\n")
        _wait_for(lambda: bar.n == 8)
        assert bar.n == 8
        shutil.rmtree(tmp_path / runs.PARTIAL)  # evaluate_run finished: metrics, no partial
        (tmp_path / runs.METRICS).write_text("dataset,psnr\nSet5,30\n")
    assert bar.n == 19


def test_grid_images_counts_every_image_of_every_set_per_setting(data_root):
    from reprolib import evaluate, recipes

    r = recipes.get_recipe("memnet_sr_identity_adam", budget="cpu")
    r = recipes.replace(r, test_sets=("Set5", "Set14"), test_settings=("x2", "x3", "x4"))
    assert evaluate.grid_images(r) == (5 + 14) * 3
    assert evaluate.grid_images(r, limit=2) == (2 + 2) * 3


def test_scored_rows_lists_the_images_a_stopped_evaluation_scored(tmp_path):
    """Finished set x setting files and the rows file of the set in progress, as strings (an
    image named 001 stays 001); a run with no stopped evaluation has none."""
    assert runs.scored_rows(tmp_path).empty
    cols = "protocol,dataset,setting,method,image,psnr,ssim,seconds\n"
    part = tmp_path / runs.PARTIAL / "0123abcd"
    (part / "rows").mkdir(parents=True)
    (part / "Set5__x2.csv").write_text(
        cols + "p,Set5,x2,m,001,30,0.9,1\np,Set5,x2,m,002,31,0.9,1\n"
    )
    (part / "rows" / "Urban100__x2.rows.csv").write_text(cols + "p,Urban100,x2,m,img_1,25,0.8,40\n")
    got = runs.scored_rows(tmp_path).sort_values("image").values.tolist()
    assert got == [["Set5", "x2", "001"], ["Set5", "x2", "002"], ["Urban100", "x2", "img_1"]]
    assert runs.scored_images(tmp_path) == len(got)
