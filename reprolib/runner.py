"""Execute a parameterised notebook with Papermill, keeping the executed copy under results/.

Notebooks are run from the repository root (so relative paths in parameters mean the same thing
from the CLI, from Snakemake and from a reader's shell), with the repo's ``python3`` kernel.
A failed run raises and leaves the partially executed notebook next to its destination with a
``.failed.ipynb`` suffix, so nothing earlier under ``results/`` is overwritten by a broken run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from reprolib.provenance import REPO_ROOT


def execute(
    notebook: str | Path, output: str | Path, parameters: dict[str, Any], title: str | None = None
) -> Path:
    """Run ``notebook`` with ``parameters``; write the executed copy to ``output``, its first
    heading replaced by ``title`` when given (the page's name in the book)."""
    import papermill as pm

    src = REPO_ROOT / notebook
    dst = REPO_ROOT / output
    if not src.is_file():
        raise FileNotFoundError(f"notebook {src} does not exist")
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / dst.name
        try:
            pm.execute_notebook(
                str(src), str(scratch), parameters=parameters, cwd=str(REPO_ROOT),
                kernel_name="python3", progress_bar=True,
            )  # fmt: skip
        except Exception:
            if scratch.exists():
                shutil.copy(scratch, dst.with_suffix(".failed.ipynb"))
            raise
        if title:
            _retitle(scratch, title)
        tmp_dst = dst.with_name(f".{dst.name}.tmp")
        shutil.copy(scratch, tmp_dst)
        os.replace(tmp_dst, dst)  # readers never see a half-written notebook
    return dst


def _retitle(path: Path, title: str) -> None:
    """Replace the first markdown heading of the notebook at ``path`` with ``# title``."""
    import nbformat as nbf

    nb = nbf.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            first, _, rest = cell.source.partition("\n")
            cell.source = f"# {title}\n{rest}"
            break
    nbf.write(nb, path)


# --------------------------------------------------------------------------- authoring
# The notebooks under notebooks/ are written by scripts/make_*.py with these helpers, so their
# source stays reviewable as code and every notebook has the same shape.


def markdown(source: str):
    import nbformat as nbf

    return nbf.v4.new_markdown_cell(source)


def code(source: str, *tags: str):
    """A code cell, optionally tagged (``parameters``: papermill, ``hide-input``: the book)."""
    import nbformat as nbf

    cell = nbf.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def parameters(source: str):
    """The cell papermill injects parameters after. The book removes it (``remove-cell``): a
    page shows the injected values, not the defaults they replaced."""
    return code(source, "parameters", "remove-cell")


def hidden(source: str):
    """A code cell whose input the book hides (its output is what the reader needs)."""
    return code(source, "hide-input")


def write_notebook(name: str, cells: list) -> Path:
    """Write ``notebooks/<name>.ipynb`` with the repository's python3 kernel."""
    import nbformat as nbf

    nb = nbf.v4.new_notebook()
    nb.cells = cells
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name}-{i}"  # stable ids: regenerating an unchanged notebook is a no-op
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = REPO_ROOT / "notebooks" / f"{name}.ipynb"
    path.parent.mkdir(exist_ok=True)
    nbf.write(nb, path)
    return path
