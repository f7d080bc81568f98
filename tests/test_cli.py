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
