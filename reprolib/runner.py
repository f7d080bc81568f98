"""Execute a parameterised notebook with Papermill, keeping the executed copy under results/.

Notebooks are run from the repository root (so relative paths in parameters mean the same thing
from the CLI, from Snakemake and from a reader's shell), with the repo's ``python3`` kernel.
A failed run raises and leaves the partially executed notebook next to its destination with a
``.failed.ipynb`` suffix, so nothing earlier under ``results/`` is overwritten by a broken run.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from reprolib import runs
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
        if dst.is_file() and _same_page(dst, scratch):
            return dst  # nothing a reader sees changed: the committed bytes stay as they are
        # readers never see a half-written notebook
        runs.atomic_write(dst, lambda tmp_dst: shutil.copy(scratch, tmp_dst))
    return dst


def _page(path: Path) -> list:
    """What a reader of an executed notebook sees: every cell's source, outputs and the
    metadata the book renders by (``tags``: hidden input or cell; ``mystnb``: e.g. the markdown
    format of its outputs), without what changes on every execution (papermill's times and
    paths, execution timestamps, the output of the provenance ``stamp()`` cell: its time and
    commit, and the memory addresses in object reprs such as
    ``<pandas.io.formats.style.Styler at 0x7f2e...>``)."""
    import nbformat as nbf

    nb = nbf.read(path, as_version=4)
    page = []
    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        if cell.cell_type == "code" and cell.source.rstrip().endswith("stamp()"):
            outputs = []
        shown = re.sub(r" at 0x[0-9a-f]+>", " at 0x>", json.dumps(outputs, sort_keys=True))
        rendering = {k: cell.metadata.get(k) for k in ("tags", "mystnb")}
        page.append((cell.cell_type, cell.source, shown, rendering))
    return page


def _same_page(old: Path, new: Path) -> bool:
    """Whether re-executing changed nothing but run metadata (see :func:`_page`)."""
    try:
        return _page(old) == _page(new)
    except Exception:  # an unreadable old copy is simply replaced
        return False


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


def write_notebook(name: str, cells: list, folder: str | Path | None = None) -> Path:
    """Write ``<folder>/<name>.ipynb`` (default folder: ``notebooks/``) with the repository's
    python3 kernel."""
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
    path = Path(folder or REPO_ROOT / "notebooks") / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbf.write(nb, path)
    return path


class NotebookSet(dict):
    """The notebooks one generator script defines, ``name -> cells``, written together.

    Every generator (``scripts/make_notebooks.py``, ``make_train_notebook.py``,
    ``make_explorer_notebook.py``) has the same shape: ``NOTEBOOKS = NotebookSet()``, one
    ``NOTEBOOKS.add(name, cells)`` per notebook, and ``NOTEBOOKS.main()`` when run as a script.
    A test imports each generator and writes its notebooks into a temporary folder to check
    that the committed ones are up to date.
    """

    def add(self, name: str, cells: list) -> None:
        if name in self:
            raise ValueError(f"notebook {name!r} is defined twice")
        self[name] = cells

    def write(self, folder: str | Path | None = None) -> list[Path]:
        """Write every notebook into ``folder`` (default ``notebooks/``)."""
        return [write_notebook(name, cells, folder) for name, cells in self.items()]

    def main(self) -> None:
        for path in self.write():
            print(f"wrote {path}")
