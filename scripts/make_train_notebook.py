"""Write notebooks/train.ipynb (kept as a script so the notebook's source stays reviewable).

The notebook is thin: a ``parameters`` cell for papermill, one call to
:func:`reprolib.train.train`, the learning curve, and one call to
:func:`reprolib.evaluate.evaluate_run`, which scores the final model on the recipe's test sets
and writes ``per_image.csv`` and ``metrics.csv`` into the run folder (:mod:`reprolib.runs`).
Run ``python scripts/make_train_notebook.py`` after editing here.
"""

from reprolib.runner import NotebookSet, code, parameters
from reprolib.runner import markdown as md

NOTEBOOKS = NotebookSet()
NOTEBOOKS.add(
    "train",
    [
        md(
            "# Training one recipe\n\n"
            "Trains a paper's recipe (`reprolib.recipes`) at a budget with the study's single "
            "training loop (`reprolib.train.train`), shows the learning curve and scores the final "
            "model on the recipe's test sets with the recipe's evaluation protocol. The run folder "
            "(`reprolib.runs`) holds `log.csv`, `checkpoint.pt`, `model.pt`, `train_summary.json` "
            "(budget, iterations, patches seen, hardware, wall time, commit) and the evaluation, "
            "`per_image.csv` and `metrics.csv` (`reprolib.evaluate.evaluate_run`). Running the "
            "notebook again continues an unfinished run and never retrains a finished one."
        ),
        parameters(
            "# Parameters (papermill)\n"
            'recipe = "dncnn_denoise_sigma25"  # reprolib.recipes.available(); per level: _sigma<N>\n'
            'budget = "smoke"  # smoke | cpu | gpu | paper\n'
            'overrides = {}  # recipe fields or model keywords, e.g. {"iterations": 500}\n'
            "out_dir = None  # relative to the repository root; None: results/train/<recipe>/<budget>\n"
            "eval_sets = None  # test sets; None: the recipe's own\n"
            "eval_limit = None  # first N images per test set (a quick look)\n"
            'device = None  # "cpu", "cuda", ...; None: CUDA when available\n'
            "max_minutes = None  # stop training, then scoring, after this long; run again to resume\n"
            "threads = None  # torch CPU threads (1 is faster on a busy shared machine)\n"
            "overwrite = False  # discard a finished or unfinished run in out_dir (else resume)"
        ),
        code(
            "import time\n\n"
            "import matplotlib.pyplot as plt\n"
            "import pandas as pd\n"
            "from IPython.display import display\n\n"
            "from reprolib import evaluate, plotting, runs, train\n"
            "from reprolib.provenance import REPO_ROOT\n\n"
            "resolved = train.resolve_recipe(recipe, budget, overrides)\n"
            "out = REPO_ROOT / out_dir if out_dir else train.default_out_dir(resolved)\n"
            "started = time.time()  # max_minutes bounds the training and then the scoring\n"
            "summary = train.train(\n"
            "    recipe,\n"
            "    budget,\n"
            "    out_dir=out,\n"
            "    device=device,\n"
            "    max_minutes=max_minutes,\n"
            "    overrides=overrides,\n"
            "    threads=threads,\n"
            "    overwrite=overwrite,\n"
            ")\n"
            "keys = [\n"
            '    "status", "recipe", "budget", "model", "model_kwargs", "iterations",\n'
            '    "iterations_total", "patches_seen", "wall_s", "final_loss", "final_val_psnr",\n'
            '    "val", "hardware", "precision", "threads", "model_dtype", "commit",\n'
            "]  # fmt: skip\n"
            "pd.Series({k: summary.get(k) for k in keys}, name=str(out))"
        ),
        md(
            "## Learning curve\n\n"
            "Training loss (the recipe's objective, averaged over each logging window) and the "
            "periodic validation PSNR on the first images of the validation set (monitoring only; "
            "no model selection)."
        ),
        code(
            "log = pd.read_csv(out / runs.LOG)\n"
            "fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))\n"
            'plotting.learning_curve(log, "iteration", "loss", ax=ax1)\n'
            'ax1.set_yscale("log")\n'
            'val = log.dropna(subset=["val_psnr"])\n'
            'plotting.learning_curve(val, "iteration", "val_psnr", ax=ax2)\n'
            'ax2.set_ylabel(f"val PSNR (dB), {resolved.val_set} {resolved.val_setting}")\n'
            'fig.suptitle(f"{resolved.name} @ {resolved.budget}")\n'
            "fig.tight_layout()"
        ),
        md(
            "## Test sets\n\n"
            "Average PSNR/SSIM per set and setting under the recipe's protocol, through the "
            "study's one evaluation path (`reprolib.evaluate`; MemoryNet: the synthetic proxy), "
            "written to the run folder by `reprolib.evaluate.evaluate_run`."
        ),
        code(
            "deadline = None if max_minutes is None else started + 60 * max_minutes\n"
            'if summary["status"] == "finished":\n'
            "    try:\n"
            "        metrics = evaluate.evaluate_run(\n"
            "            out,\n"
            "            eval_sets,\n"
            "            recipe=resolved,\n"
            "            limit=eval_limit,\n"
            "            device=device,\n"
            "            threads=threads,\n"
            "            deadline=deadline,\n"
            "        )\n"
            "        display(metrics)\n"
            "    except evaluate.EvaluationPaused as paused:\n"
            "        print(paused)\n"
            "else:\n"
            "    print(f\"run paused at iteration {summary['iterations']}: run again to continue\")"
        ),
    ],
)

if __name__ == "__main__":
    NOTEBOOKS.main()
