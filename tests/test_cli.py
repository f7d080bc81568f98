"""The command line: data listing and verification, and errors that name valid choices."""

from __future__ import annotations

import pytest

from reprolib import cli, protocol_check


def test_data_list_shows_derived_splits(capsys, data_root):
    assert cli.main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "BSD300" in out and "BSDS500-train+BSDS500-val" in out


def test_data_verify_reports_failure_with_nonzero_exit(capsys, data_root, monkeypatch, tmp_path):
    assert cli.main(["data", "verify", "Set5"]) == 0
    assert cli.main(["data", "verify", "NoSuchSet"]) == 1
    assert "unknown set" in capsys.readouterr().err


def test_protocol_targets_are_valid_and_unknown_ids_fail():
    targets = protocol_check.load_targets()
    assert {t.id for t in targets} >= {"memnet-t4-bicubic", "nlrn-t4-dncnn"}
    assert cli.main(["protocol", "--targets", "nope"]) == 2  # one line, nothing measured


def test_listing_into_a_closed_pipe_ends_without_traceback():
    """`reprolib experiments | head -1`: the reader goes away; no BrokenPipeError trace."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "reprolib.cli", "experiments"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    proc.stdout.close()  # before the child has imported anything, so its writes hit EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) in (0, -13), err
    assert "Traceback" not in err and "BrokenPipeError" not in err


@pytest.mark.parametrize(
    "argv, says",
    [
        (["run", "memnet/table1", "--budget", "tiny"], "reprolib run: unknown budget 'tiny'"),
        (["run", "memnet/table9"], "reprolib run: unknown experiment 'memnet/table9'"),
        (["train", "memnet_foo", "--budget", "smoke"], "reprolib train: unknown recipe"),
        (["run", "memnet/table1", "--seeds", "-1"], "reprolib run: a seed is a non-negative"),
        (["run", "memnet/table1", "--max-minutes", "0"], "reprolib run: --max-minutes must be"),
        (["protocol", "--max-minutes", "-5"], "reprolib protocol: --max-minutes must be"),
        (["protocol", "--targets", "nope"], "reprolib protocol: unknown protocol target"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(argv, says, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(says) and err.count("\n") == 1, err


def test_an_unusable_reprolib_data_is_an_error_not_a_silent_fallback(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("REPROLIB_DATA", str(tmp_path / "missing"))
    assert cli.main(["data", "verify", "Set5"]) == 2
    assert "REPROLIB_DATA=" in capsys.readouterr().err
    monkeypatch.setenv("REPROLIB_DATA", str(tmp_path))  # exists, but holds no manifest
    assert cli.main(["data", "list"]) == 2
    assert "has no MANIFEST.json" in capsys.readouterr().err


def test_reports_and_protocol_write_under_reprolib_results_only(monkeypatch, tmp_path):
    """A scratch REPROLIB_RESULTS receives every page; the checkout (and _toc.yml) is untouched."""
    from reprolib import chapters, runner

    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    written = []
    monkeypatch.setattr(
        runner, "execute", lambda nb, out, params, title=None: written.append(out) or out
    )
    monkeypatch.setattr(chapters, "write_toc", lambda *a: pytest.fail("_toc.yml rewritten"))
    monkeypatch.setattr(chapters, "write_headline", lambda: written.append(tmp_path / "headline"))
    assert cli.main(["reports"]) == 0
    assert cli.main(["protocol", "--render", "--limit", "5"]) == 0
    assert len(written) == 2 + len(chapters.PAPERS) + 1 + 1
    assert all(str(p).startswith(str(tmp_path)) for p in written), written


@pytest.fixture
def scratch_data(data_root, tmp_path, monkeypatch):
    """A REPROLIB_DATA folder with the real manifest and every staged set except BSD68 (the
    real folders linked, not copied); a test adds BSD68 back, whole or corrupt, as it needs."""
    import shutil

    root = tmp_path / "data"
    root.mkdir()
    shutil.copy(data_root / "MANIFEST.json", root / "MANIFEST.json")
    for folder in data_root.iterdir():
        if folder.is_dir() and folder.name != "BSD68":
            (root / folder.name).symlink_to(folder)
    monkeypatch.setenv("REPROLIB_DATA", str(root))
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path / "results"))
    return root


def _no_training(monkeypatch):
    """Fail the test if anything starts training (a notebook or the loop)."""
    from reprolib import runner, train

    def refuse(*a, **k):
        pytest.fail("training started before the data were checked")

    monkeypatch.setattr(runner, "execute", refuse)
    monkeypatch.setattr(train, "_train", refuse)


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_run_and_train_check_every_set_a_recipe_needs_before_training(
    damage, scratch_data, data_root, monkeypatch, capsys
):
    """A test set that is absent or corrupt stops `run` and `train` in one line naming the set
    and the data folder, exit status 2, before anything trains (it used to surface as a
    papermill traceback once the whole training had finished)."""
    import shutil

    from reprolib import experiments
    from reprolib.experiments import Experiment, Run

    if damage == "corrupt":
        shutil.copytree(data_root / "BSD68", scratch_data / "BSD68")
        victim = sorted((scratch_data / "BSD68").iterdir())[3]
        victim.write_bytes(victim.read_bytes()[:-7])
    run = Run("A", "red_denoise", sigma=50)
    exp = Experiment("p/t", "t", "p", (run,), {"sets": ["Set12", "BSD68"]})
    monkeypatch.setattr(experiments, "get", lambda eid: exp)
    _no_training(monkeypatch)
    word = "incomplete" if damage == "missing" else "corrupt"
    out_dir = str(scratch_data.parent / "train")
    for argv in (
        ["run", "p/t", "--budget", "smoke"],
        ["train", "dncnn_denoise_sigma25", "--budget", "smoke", "--out-dir", out_dir],
    ):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "test set 'BSD68' of " in err and word in err, err
        assert str(scratch_data) in err, err


def test_train_checks_its_training_and_validation_sets_too(scratch_data, monkeypatch, capsys):
    _no_training(monkeypatch)
    for folder, role, name in (("Set12", "validation", "Set12"), ("BSDS500", "training", "BSD300")):
        (scratch_data / folder).unlink()
        argv = ["train", "red_denoise_sigma50", "--budget", "smoke", "--out-dir", "/nonexistent"]
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert f"{role} set '{name}' of recipe red_denoise_sigma50" in err, err
