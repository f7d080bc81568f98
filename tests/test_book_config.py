"""The book's configuration keeps it offline and its table of contents points at real files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _toc_files(node) -> list[str]:
    out = []
    if isinstance(node, dict):
        if "file" in node:
            out.append(node["file"])
        for v in node.values():
            out += _toc_files(v)
    elif isinstance(node, list):
        for v in node:
            out += _toc_files(v)
    return out


def test_config_renders_stored_outputs_offline():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["execute"]["execute_notebooks"] == "off"
    sphinx = cfg["sphinx"]["config"]
    assert not sphinx["mathjax_path"].startswith("http")
    assert all(not k.startswith("http") for k in sphinx["nb_ipywidgets_js"])
    assert all("_static" != Path(p).name for p in sphinx["html_static_path"])
    launch = cfg["launch_buttons"]
    assert not any(launch.get(k) for k in ("binderhub_url", "jupyterhub_url", "colab_url"))
    assert launch["thebe"] is False


def test_every_toc_entry_exists():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"], *_toc_files(toc["parts"])]
    missing = [f for f in files if not any((ROOT / f).with_suffix(s).exists()
                                           for s in (".md", ".ipynb"))]  # fmt: skip
    assert not missing, missing
    assert "results/protocol/protocol" in files and "results/explorer/explorer" in files
    # a file only this checkout has (git-ignored, e.g. a failed report) breaks a fresh clone's book
    ignored = subprocess.run(
        ["git", "check-ignore", *[f + ".ipynb" for f in files]],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert not ignored, ignored


def test_failed_reports_stay_out_of_the_chapters(tmp_path, monkeypatch):
    from reprolib import chapters

    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    folder = tmp_path / "memnet" / "table1"
    folder.mkdir(parents=True)
    (folder / "report_cpu.ipynb").write_text("{}")
    (folder / "report_cpu.failed.ipynb").write_text("{}")
    assert [p.name for p in chapters.experiment_reports("memnet")] == ["report_cpu.ipynb"]


def test_reports_are_listed_in_the_papers_reading_order(tmp_path, monkeypatch):
    """Tables, then figures, then sections, by number: not fig10 before fig6."""
    from reprolib import chapters

    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    names = ["fig10", "fig6", "sec5.6", "table10", "table9", "fig12", "table2", "similarity"]
    for name in names:
        (tmp_path / "rednet" / name).mkdir(parents=True)
        (tmp_path / "rednet" / name / "report_cpu.ipynb").write_text("{}")
    listed = [p.parent.name for p in chapters.experiment_reports("rednet")]
    expected = ["table2", "table9", "table10", "fig6", "fig10", "fig12", "sec5.6", "similarity"]
    assert listed == expected


def test_every_paper_table_and_figure_has_a_section_in_its_chapter():
    """Each executed chapter notebook renders one section per table and figure of its paper
    (``contents.csv``), headed by the paper's name for it (issue 19: a section per table and
    figure)."""
    from reprolib import chapters, claims

    for paper in chapters.PAPERS:
        tables = set(claims.load_claims(paper)["table"])
        assert set(chapters.tables(paper)) == tables
        page = (ROOT / "results" / paper / "chapter.ipynb").read_text()
        for item in claims.load_contents(paper)["item"]:
            assert f"### {chapters.item_label(item)}:" in page, (paper, item)
