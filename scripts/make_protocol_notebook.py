"""Write notebooks/protocol.ipynb (kept as a script so the notebook's source stays reviewable)."""

from pathlib import Path

import nbformat as nbf

nb = nbf.v4.new_notebook()
md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
params = code(
    """# Parameters (papermill). Target ids are listed in reprolib/protocol_targets.yaml.
targets = None  # e.g. ["memnet-t4-bicubic"]; None runs every target
full = False  # also the slow sets: BM3D on BSD68/BSD200, published DnCNN on Urban100
limit = None  # first N images per set (a quick look; written to a separate folder)
out_dir = "results/protocol"  # relative to the repository root"""
)
params.metadata["tags"] = ["parameters"]
nb.cells = [
    md(
        "# Evaluation protocol: the numbers that need no training\n\n"
        "Bicubic and JPEG baselines, BM3D and the DnCNN authors' published weights, measured "
        "with this project's data loaders, degradations and metrics, and compared with the "
        "values the papers print. If these match, a later gap on a trained model is the "
        "model's, not the pipeline's. *Claimed* is the paper's number (transcribed in "
        "`results/claims/`), *measured* is this run, *diff* = measured - claimed."
    ),
    params,
    code(
        """import pandas as pd
from myst_nb import glue

from reprolib import plotting, protocol_check
from reprolib.provenance import REPO_ROOT, stamp

out = protocol_check.output_dir(REPO_ROOT / out_dir, limit)
per_image, summary = protocol_check.run(
    protocol_check.load_targets(targets), full=full, limit=limit, out_dir=out
)
print(f"wrote {out.relative_to(REPO_ROOT)}: {len(per_image)} image scores")
stamp()"""
    ),
    md("## Claimed vs measured\n\nOne row per table cell; tolerance is the acceptance band."),
    code(
        """summary = protocol_check.load_summary(out)
plotting.style_comparison(summary)"""
    ),
    md("## Gaps per paper column\n\nBars show measured - claimed; the band is the tolerance."),
    code("""plotting.diff_bars(summary);"""),
    md("## Which cells are within tolerance"),
    code(
        """verdict = protocol_check.verdicts(summary)
for _, row in verdict.iterrows():
    glue(f"protocol-{row.target}-{row.metric}-maxdiff", row.max_abs_diff, display=False)
    glue(f"protocol-{row.target}-{row.metric}-within", row.within, display=False)
verdict"""
    ),
    md("## Per-image scores\n\nThe spread behind each average (box per set and setting)."),
    code("""plotting.per_image_boxes(protocol_check.load_per_image(out));"""),
]
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
Path("notebooks").mkdir(exist_ok=True)
nbf.write(nb, "notebooks/protocol.ipynb")
