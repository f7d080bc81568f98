"""The notebooks under notebooks/ are what their generators write, and their code is linted."""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GENERATORS = sorted((REPO / "scripts").glob("make_*notebook*.py"))


def test_every_generator_has_the_shared_shape():
    names = [p.name for p in GENERATORS]
    assert names == ["make_explorer_notebook.py", "make_notebooks.py", "make_train_notebook.py"]
    for path in GENERATORS:
        assert "NOTEBOOKS.main()" in path.read_text(), path.name


@pytest.mark.parametrize("generator", GENERATORS, ids=lambda p: p.stem)
def test_committed_notebooks_are_what_the_generator_writes(generator, tmp_path):
    """Regenerate into a temporary folder: a notebook edited by hand, or a generator edited
    without running it, shows up here as a difference."""
    notebooks = runpy.run_path(str(generator))["NOTEBOOKS"]  # defines them; writes nothing
    assert notebooks, f"{generator.name} defines no notebook"
    for path in notebooks.write(tmp_path):
        committed = REPO / "notebooks" / path.name
        assert committed.is_file(), f"{committed} is not committed; run {generator.name}"
        assert path.read_text() == committed.read_text(), (
            f"{committed.relative_to(REPO)} differs from what {generator.name} writes; run "
            f"`python scripts/{generator.name}`"
        )


def test_no_notebook_without_a_generator(tmp_path):
    written = set()
    for generator in GENERATORS:
        written |= {p.name for p in runpy.run_path(str(generator))["NOTEBOOKS"].write(tmp_path)}
    committed = {p.name for p in (REPO / "notebooks").glob("*.ipynb")}
    assert committed == written


RUFF = Path(sys.executable).parent / "ruff"


@pytest.mark.skipif(not RUFF.exists() and shutil.which("ruff") is None, reason="no ruff")
def test_notebook_code_passes_ruff():
    ruff = str(RUFF) if RUFF.exists() else shutil.which("ruff")
    for args in (["check"], ["format", "--check"]):
        done = subprocess.run([ruff, *args, "notebooks"], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_notebooks_extra_brings_a_jupyter_front_end_on_both_install_routes():
    """The live explorer needs a front end: JupyterLab comes with the `notebooks` extra, which
    the pip route (Makefile) and the conda route (environment.yml) both install."""
    import tomllib
    import yaml

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(req.startswith("jupyterlab") for req in extras["notebooks"])
    assert "notebooks" in (REPO / "Makefile").read_text().split('pip install -q -e ".[')[1]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(line.startswith("-e .[") and "notebooks" in line for line in pip)
    assert "jupyter lab notebooks/explorer.ipynb" in (REPO / "README.md").read_text()


def test_re_executing_an_unchanged_page_keeps_its_bytes(monkeypatch, tmp_path):
    """`reprolib reports` over unchanged results rewrote every page: papermill's times, the
    provenance stamp, pandas' random table ids and the address in a Styler's text repr changed
    on every run. A page whose cells and
    outputs are unchanged (run metadata and the stamp's output aside) now keeps its bytes; a
    changed output is written."""
    import nbformat as nbf
    import papermill as pm

    from reprolib import runner

    runs = iter(range(100))

    def fake_execute(src, dst, parameters, **kw):
        k = next(runs)
        nb = nbf.v4.new_notebook()
        shown = {"text/plain": f"<Styler at 0x7f{k:04x}>", "text/html": parameters["value"]}
        table = nbf.v4.new_code_cell("table", outputs=[nbf.v4.new_output(
            "execute_result", shown, execution_count=1)])  # fmt: skip
        table.metadata["papermill"] = {"duration": 0.1 * k}
        stamp = nbf.v4.new_code_cell("stamp()", outputs=[nbf.v4.new_output(
            "execute_result", {"text/plain": f"finished_utc {k}"}, execution_count=2)])  # fmt: skip
        nb.cells = [table, stamp]
        nb.metadata["papermill"] = {"start_time": f"t{k}", "duration": k}
        nbf.write(nb, dst)

    monkeypatch.setattr(pm, "execute_notebook", fake_execute)
    out = tmp_path / "page.ipynb"
    runner.execute("notebooks/explorer.ipynb", out, {"value": "1.25"})
    first = out.read_bytes()
    runner.execute("notebooks/explorer.ipynb", out, {"value": "1.25"})
    assert out.read_bytes() == first
    runner.execute("notebooks/explorer.ipynb", out, {"value": "1.26"})
    assert out.read_bytes() != first and b"1.26" in out.read_bytes()


def test_a_changed_rendering_option_rewrites_the_page(monkeypatch, tmp_path):
    """A cell's tags or ``mystnb`` options change what the book shows (hidden input, markdown
    outputs rendered as MyST): a page that differs only there is written again."""
    import nbformat as nbf
    import papermill as pm

    from reprolib import runner

    def fake_execute(src, dst, parameters, **kw):
        cell = nbf.v4.new_code_cell("show()")
        if parameters["myst"]:
            cell.metadata["mystnb"] = {"markdown_format": "myst"}
        nb = nbf.v4.new_notebook()
        nb.cells = [cell]
        nbf.write(nb, dst)

    monkeypatch.setattr(pm, "execute_notebook", fake_execute)
    out = tmp_path / "page.ipynb"
    runner.execute("notebooks/explorer.ipynb", out, {"myst": False})
    assert b"mystnb" not in out.read_bytes()
    runner.execute("notebooks/explorer.ipynb", out, {"myst": True})
    assert b"markdown_format" in out.read_bytes()


def test_a_styled_table_renders_the_same_bytes_every_time():
    import re

    import numpy as np
    import pandas as pd

    from reprolib import plotting

    df = pd.DataFrame({"method": ["A", "B"], "claimed": [30.0, 31.0], "measured": [30.2, np.nan],
                       "diff": [0.2, np.nan]})  # fmt: skip
    first = plotting.style_comparison(df).to_html()
    assert plotting.style_comparison(df.copy()).to_html() == first
    other = df.assign(measured=[30.3, np.nan], diff=[0.3, np.nan])
    table_id = re.compile(r'<table id="(T_\w+)"')
    changed = plotting.style_comparison(other).to_html()
    assert table_id.search(changed)[1] != table_id.search(first)[1]
