"""Write notebooks/explorer.ipynb, the restoration explorer page (kept as code to stay reviewable).

    .venv/bin/python scripts/make_explorer_notebook.py

The notebook is thin: a ``parameters`` cell (papermill), calls into :mod:`reprolib.explorer`,
and displays. Its executed copy, which the book renders, is made with papermill
(``reprolib explorer``, i.e. :func:`reprolib.runner.execute`), which stores the widget state
(nbclient's ``store_widget_state`` is on by default) in the notebook metadata, so the page stays
interactive without a kernel.
"""

from reprolib.runner import NotebookSet, code, hidden, parameters
from reprolib.runner import markdown as md

NOTEBOOKS = NotebookSet()
NOTEBOOKS.add(
    "explorer",
    [
        md(
            "# Restoration explorer\n\n"
            "The papers compare methods on a few images, with the same detail cut out of every "
            "result (MemNet Figs. 7-9, RED-Net Figs. 14-16). This page does the same for the "
            "models this study trained for the four papers, beside the methods that need no "
            "training (the degraded input itself, BM3D and the DnCNN authors' published "
            "weights). Choose a **case** (an image at one degradation) and a **zoomed region**; "
            "each case shows\n\n"
            "- the degraded input, every restoration and the ground truth, in the channel the "
            "task's protocol scores (gray for denoising, Y for super-resolution and JPEG, RGB "
            "scored on Y for MemoryNet's synthetic proxies), each captioned with its PSNR and "
            "SSIM, computed by the same code as the tables (`reprolib.evaluate`);\n"
            "- the same region of every panel enlarged 3x by pixel repetition (no smoothing), "
            "chosen where the image has most texture and outlined on a thumbnail;\n"
            "- the signed difference from the ground truth of the input and of every "
            "restoration on the 0-255 scale (red: too bright, blue: too dark), all on one colour "
            "scale set by the input's error.\n\n"
            "The trained models are those of the registry entries named in each case, as found "
            "under `results/` (each run at the best budget present, labelled with entry, "
            "budget and seed; weights shared by two entries shown once). Reduced budgets train "
            "far less than the papers did, so these are not the papers' models. Where a paper's "
            "figure names an image that is in the available sets, that image is used. Every case "
            "is a crop of at most 256 px, degraded as a whole, so its scores are not the "
            "full-image numbers of the tables. The pictures are embedded in the page and the "
            "controls are linked in the browser, so the explorer works in the static book "
            "without Python."
        ),
        parameters(
            "# Parameters (papermill).\n"
            "live = False  # True: also build the kernel-backed explorer (needs a running kernel)"
        ),
        code(
            "from reprolib import explorer\n\n"
            "comparisons = explorer.showcase()\n"
            "ui = explorer.static_explorer(comparisons, regions=2, region_px=48)\n"
            "ui"
        ),
        md(
            "## The cases in numbers\n\n"
            "PSNR (dB) and SSIM of each region shown, input and restoration, under the task's "
            "protocol (its name and the region are printed above each case)."
        ),
        hidden(
            "cols = [\n"
            '    "image", "setting", "shown as", "input PSNR", "PSNR", "gain (dB)", "input SSIM",\n'
            '    "SSIM",\n'
            "]  # fmt: skip\n"
            "(\n"
            "    explorer.cases_table(comparisons)[cols]\n"
            "    .style.format(precision=2)\n"
            '    .format(precision=4, subset=["input SSIM", "SSIM"])\n'
            '    .hide(axis="index")\n'
            ")"
        ),
        md(
            "## The methods shown\n\n"
            "What each panel is: a baseline, or a trained run (its recipe, budget, iterations, "
            "registry entry and seed), and the embedded size of this page."
        ),
        hidden(
            "from IPython.display import Markdown, display\n\n"
            "display(explorer.methods_table(comparisons))\n"
            "megabytes = explorer.embedded_bytes(ui) / 1e6\n"
            'Markdown(f"{len(comparisons)} cases, {megabytes:.1f} MB of embedded pictures.")'
        ),
        md(
            "## Any image, degradation and trained model (in Jupyter)\n\n"
            "The explorer above is fixed when the page is built. With a running kernel, "
            "`explorer.live_explorer()` offers every test set and image, every setting "
            "(`sigma15`...`sigma70`, `x2`...`x4`, `q10`...`q40`, and the proxies `shadow` and "
            "`motion_blur`) and every method that applies to it, the trained models of all four "
            "papers included; several can be shown side by side, with the zoom position and "
            "factor on sliders. Open this notebook in JupyterLab (`jupyter lab "
            "notebooks/explorer.ipynb`, installed with the `notebooks` extra) and set "
            "`live = True` in the parameters cell, or run `from reprolib import explorer; "
            "explorer.live_explorer()` in any notebook."
        ),
        code(
            "if live:\n"
            "    display(explorer.live_explorer())\n"
            "else:\n"
            '    print("live = False: run explorer.live_explorer() in Jupyter to explore any case")'
        ),
        hidden("from reprolib.provenance import stamp\n\nstamp()"),
    ],
)

if __name__ == "__main__":
    NOTEBOOKS.main()
