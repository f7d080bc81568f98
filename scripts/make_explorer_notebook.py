"""Write notebooks/explorer.ipynb, the restoration explorer page (kept as code to stay reviewable).

    .venv/bin/python scripts/make_explorer_notebook.py

The notebook is thin: a ``parameters`` cell (papermill), calls into :mod:`reprolib.explorer`,
and displays. Its executed copy, which the book renders, is made with papermill, which stores
the widget state (nbclient's ``store_widget_state`` is on by default) in the notebook metadata:

    .venv/bin/papermill notebooks/explorer.ipynb results/explorer/explorer.ipynb --cwd .
"""

from reprolib.runner import code, hidden, parameters, write_notebook
from reprolib.runner import markdown as md

CELLS = [
    md(
        "# Restoration explorer\n\n"
        "The papers compare methods on a few images, with the same detail cut out of every "
        "result (MemNet Figs. 7-9, RED-Net Figs. 4-6). This page does the same for the methods "
        "that need no training: the noisy, bicubic or JPEG input itself, BM3D, and the DnCNN "
        "authors' published weights. Choose a **case** (image, degradation, method) and a "
        "**zoom** region; each case shows\n\n"
        "- the degraded input, the restoration and the ground truth, in the channel the "
        "task's protocol scores (gray for denoising, Y for super-resolution and JPEG);\n"
        "- the signed difference restoration - ground truth on the 0-255 scale (red: too "
        "bright, blue: too dark), on a colour range set by the input's error so that methods "
        "restoring the same input share one scale;\n"
        "- the same region of every panel enlarged 3x by pixel repetition (no smoothing), "
        "chosen automatically where the image has most texture, with its position outlined on "
        "a thumbnail;\n"
        "- PSNR/SSIM of input and restoration, computed by the same code as the tables "
        "(`reprolib.protocols`), on the region shown.\n\n"
        "Every case is a crop of at most 256 px, degraded as a whole (so its scores are not "
        "the full-image numbers of the tables). The pictures are embedded in the page and the "
        "controls are linked in the browser, so the explorer works in the static book without "
        "Python."
    ),
    parameters(
        "# Parameters (papermill).\n"
        "live = False  # True: also build the kernel-backed explorer (needs a running kernel)"
    ),
    code(
        "from reprolib import explorer\n\n"
        "cases = explorer.curated_cases()\n"
        "ui = explorer.static_explorer(cases)\n"
        "ui"
    ),
    md(
        "## The curated cases in numbers\n\n"
        "PSNR (dB) and SSIM of each region shown, input and restoration, under the task's "
        "protocol (its name and the region are printed above each case)."
    ),
    hidden(
        'cols = ["image", "setting", "method", "input PSNR", "PSNR", "gain (dB)", "input SSIM", '
        '"SSIM"]\n'
        "(\n"
        "    explorer.cases_table(cases)[cols]\n"
        "    .style.format(precision=2)\n"
        '    .format(precision=4, subset=["input SSIM", "SSIM"])\n'
        '    .hide(axis="index")\n'
        ")"
    ),
    md(
        "## Any image, degradation and method (in Jupyter)\n\n"
        "The explorer above is fixed when the page is built. With a running kernel, "
        "`explorer.live_explorer()` offers every test set, image, setting (`sigma15`...`x4`"
        "...`q40`) and method (the baselines and, once trained, this project's models), "
        "recomputed on change with the zoom position and factor on sliders. Open this "
        "notebook in Jupyter and set `live = True` in the parameters cell, or run "
        "`from reprolib import explorer; explorer.live_explorer()` in any notebook."
    ),
    code(
        "if live:\n"
        "    from IPython.display import display\n\n"
        "    display(explorer.live_explorer())\n"
        "else:\n"
        '    print("live = False: run explorer.live_explorer() in Jupyter to explore any case")'
    ),
    hidden("from reprolib.provenance import stamp\n\nstamp()"),
]


def main() -> None:
    print(f"wrote {write_notebook('explorer', CELLS)}")


if __name__ == "__main__":
    main()
