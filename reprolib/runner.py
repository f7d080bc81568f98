"""Execute a parameterised notebook with Papermill, keeping the executed copy under results/.

Notebooks are run from the repository root (so relative paths in parameters mean the same thing
from the CLI, from Snakemake and from a reader's shell), with the repo's ``python3`` kernel.
A failed run raises and leaves the partially executed notebook next to its destination with a
``.failed.ipynb`` suffix, so nothing earlier under ``results/`` is overwritten by a broken run.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from reprolib.provenance import REPO_ROOT


def execute(notebook: str | Path, output: str | Path, parameters: dict[str, Any]) -> Path:
    """Run ``notebook`` with ``parameters``; write the executed copy to ``output``."""
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
        shutil.copy(scratch, dst)
    return dst
