"""Write the report notebooks under notebooks/ (kept as code so their source stays reviewable).

Each notebook is thin: a ``parameters`` cell (papermill), calls into ``reprolib``, results written
under ``results/``, and a display. Run ``python scripts/make_notebooks.py`` after editing here.
"""

from reprolib.runner import NotebookSet, code, hidden, parameters
from reprolib.runner import markdown as md

NOTEBOOKS = NotebookSet()


def myst(cell):
    """Render the cell's markdown outputs as MyST, not CommonMark (the book's default), so that
    a link to another page's notebook (``[report](table1/report_cpu.ipynb)``) resolves to it."""
    cell.metadata["mystnb"] = {"markdown_format": "myst"}
    return cell


NOTEBOOKS.add(
    "protocol",
    [
        md(
            "# Evaluation protocol: the numbers that need no training\n\n"
            "Bicubic and JPEG baselines, BM3D and the DnCNN authors' published weights, "
            "measured with this project's data loaders, degradations and metrics, and compared "
            "with the values the papers print. If these match, a later gap on a trained model "
            "is the model's, not the pipeline's. *Claimed* is the paper's number (transcribed "
            "in `results/claims/`), *measured* is this run, *diff* = measured - claimed."
        ),
        parameters(
            "# Parameters (papermill). Target ids are listed in reprolib/protocol_targets.yaml.\n"
            'targets = None  # e.g. ["memnet-t4-bicubic"]; None runs every target\n'
            "full = False  # True adds the slow sets (BM3D on BSD68/BSD200, DnCNN on Urban100);\n"
            '# "only" runs just those, to complete a committed default run\n'
            "limit = None  # first N images per set (a quick look; written to its own folder)\n"
            "out_dir = None  # None: <results root>/protocol (REPROLIB_RESULTS); else a path\n"
            "measure = True  # False: only render the results stored in out_dir\n"
            "max_minutes = None  # pause before the next image after this long; rerun to resume"
        ),
        code(
            "import time\n\n"
            "from myst_nb import glue\n\n"
            "from reprolib import claims, plotting, protocol_check\n"
            "from reprolib.provenance import REPO_ROOT, stamp\n\n"
            'folder = claims.results_root() / "protocol" if out_dir is None else REPO_ROOT / out_dir\n'
            "out = protocol_check.output_dir(folder, limit)\n"
            "if measure:\n"
            "    deadline = None if max_minutes is None else time.time() + 60 * max_minutes\n"
            "    per_image, _ = protocol_check.run(\n"
            "        protocol_check.load_targets(targets),\n"
            "        full=full,\n"
            "        limit=limit,\n"
            "        out_dir=out,\n"
            "        deadline=deadline,\n"
            "    )\n"
            '    print(f"measured {len(per_image)} image scores; wrote {out}")\n'
            "paused = protocol_check.paused_cells(out)\n"
            "if len(paused):\n"
            '    print("incomplete cells (scored images kept; the same command resumes them):")\n'
            "    display(paused)\n"
            "stamp()"
        ),
        md(
            "## Claimed vs measured\n\nOne row per table cell (all runs so far, including the "
            "committed `full` run); tolerance is the acceptance band."
        ),
        hidden("summary = protocol_check.load_summary(out)\nplotting.style_comparison(summary)"),
        md("## Gaps per paper column\n\nBars show measured - claimed; the band is the tolerance."),
        hidden("plotting.diff_bars(summary);"),
        hidden('plotting.diff_bars(summary, metric="ssim");'),
        md("## Verdict per column"),
        hidden(
            "verdict = protocol_check.verdicts(summary)\n"
            "for _, row in verdict.iterrows():\n"
            '    key = f"protocol-{row.target}-{row.metric}"\n'
            '    glue(f"{key}-maxdiff", f"{row.max_abs_diff:.3f}", display=False)\n'
            '    glue(f"{key}-cells", f"{row.within}/{row.cells}", display=False)\n'
            "verdict"
        ),
        md(
            "## Gaps and their causes\n\n"
            "Every super-resolution cell outside tolerance is measured again with one change: "
            "the bicubic network input rounded to uint8 first, as evaluation code that stores "
            "the bicubic image as a file would do. MemNet's protocol (which this study keeps) "
            "feeds the unrounded double; the DnCNN column is cited by MemNet from the DnCNN "
            "paper, whose own evaluation may have used stored images. A gap that closes here "
            "is explained by that difference; the protocol's number stays the reported one."
        ),
        hidden("protocol_check.diagnose_gaps(summary)"),
        md("## Per-image scores\n\nThe spread behind each average."),
        hidden("plotting.per_image_boxes(protocol_check.load_per_image(out));"),
    ],
)

NOTEBOOKS.add(
    "comparison",
    [
        md(
            "# Architectures under one roof\n\n"
            "Every parameter-count and depth cell the papers print, checked against the "
            "models this project builds, then size, FLOPs, CPU time and memory of every main "
            "model measured on this machine (`scripts/bench_models.py`)."
        ),
        parameters("out_dir = None  # None: <results root>/architecture; else a path"),
        code(
            "import pandas as pd\n"
            "from myst_nb import glue\n\n"
            "from reprolib import architecture, claims, plotting\n"
            "from reprolib.provenance import REPO_ROOT\n\n"
            'out = claims.results_root() / "architecture" if out_dir is None else REPO_ROOT / out_dir\n'
            "out.mkdir(parents=True, exist_ok=True)\n"
            "check = architecture.check()\n"
            'check.to_csv(out / "summary.csv", index=False)\n'
            'glue("arch-cells", f"{int(check.within_tolerance.sum())}/{len(check)}", '
            "display=False)"
        ),
        md("## Paper sizes vs this project's models"),
        hidden("plotting.style_comparison(check)"),
        md(
            "## Cost of each model on this machine\n\n"
            "Conv weights, all parameters, paper-defined depth, FLOPs per output pixel, median "
            "CPU seconds for one 256x256 and one 512x512 gray image (batch 1, float32, "
            "inference), and peak resident memory of the benchmarking process."
        ),
        hidden(
            'bench_path = claims.results_root() / "bench" / "models.csv"\n'
            "bench = pd.read_csv(bench_path) if bench_path.exists() else None\n"
            "bench"
        ),
        hidden("if bench is not None:\n    plotting.cost_scatter(bench)"),
    ],
)

NOTEBOOKS.add(
    "scoreboard",
    [
        md(
            "# Claims scoreboard\n\n"
            "Every table cell and every stated finding of the four papers, with its kind and "
            "status, computed from the results folder alone (`reprolib.scoreboard`) and written "
            "to `scoreboard.csv`; the verdict of every checked finding at every budget is "
            "written next to it, to `verdicts.csv`.\n\n"
            "Kinds: **baseline** (measured without training: bicubic, JPEG, BM3D, the DnCNN "
            "authors' weights), **architecture** (parameter counts and depths), **model** "
            "(trained models), **finding** (the papers' stated findings). Statuses:\n\n"
            "- **reproduced**: measured at a comparable budget and within tolerance (never a "
            "reduced-budget cell);\n"
            "- **consistent (formula)**: a depth, which the model computes from its constructor "
            "arguments: a consistency check, not a reproduction;\n"
            "- **direction only (reduced budget)**: trained with a reduced budget; the value is "
            "not comparable, the findings comparing this method hold;\n"
            "- **not reproduced**: measured, outside tolerance, or a finding comparing it does "
            "not hold;\n"
            "- **inconclusive**: the verdict rule could not decide, or no checked finding "
            "compares this method (the gap is reported, not judged);\n"
            "- **not attempted**: the reason column says why.\n\n"
            "A cell two tables print (same measurement, same source file) is shown under both "
            "and counted once."
        ),
        parameters("out = None  # scoreboard.csv path; None: under the results root"),
        code(
            "import pandas as pd\n"
            "from IPython.display import Markdown, display\n"
            "from myst_nb import glue\n\n"
            "from reprolib import chapters, experiments, plotting, scoreboard  # noqa: F401 (plotting: table style)\n"
            "from reprolib.provenance import REPO_ROOT\n\n"
            "board = scoreboard.write(None if out is None else REPO_ROOT / out)\n"
            "counts = scoreboard.counts(board)\n"
            "for status in scoreboard.STATUSES:\n"
            '    glue(f"score-{chapters.slug(status)}", int(counts.loc["all", status]), '
            "display=False)\n"
            'glue("score-total", len(board), display=False)\n'
            'display(Markdown("\\n\\n".join(scoreboard.headline(board).splitlines())))\n'
            "counts"
        ),
        md("## Distinct measurements per paper"),
        hidden('scoreboard.counts(board, by="paper")'),
        md("## Everything measured"),
        hidden(
            'pd.set_option("display.max_rows", 500)\n'
            'board[board.status != "not attempted"].reset_index(drop=True)'
        ),
        md("## Findings (figures and text)"),
        hidden('board[board.kind.eq("finding")].reset_index(drop=True)'),
        md(
            "## Verdicts at every budget\n\n"
            "`verdicts.csv`: one row per finding and budget, with the deciding paired difference "
            "(margin, 95% interval, p-value), seeds, convergence and the reason of the verdict "
            "rule; older findings files carry the verdict and its evidence only."
        ),
        hidden("scoreboard.verdicts()[scoreboard.VERDICT_COLUMNS]"),
        md(
            "## Which recipes converge at each budget\n\n"
            "Condition (4) of the verdict rule: a run has converged when its validation PSNR "
            "moved by less than 0.05 dB over the last 20% of its iterations. A finding whose runs "
            "have not converged stays *inconclusive* however many seeds it gets, so this table "
            "says where extra seeds can decide a finding (recipes that end on a plateau) and "
            "where only a longer schedule can (`reprolib.experiments.convergence_by_recipe`; "
            "each training counted once, weights reused by another entry at the folder that "
            "trained them). `median_change_db` is signed: positive, still rising; negative, "
            "falling back over the last fifth."
        ),
        hidden(
            'for budget in ("cpu", "gpu", "paper"):\n'
            "    by_recipe = experiments.convergence_by_recipe(budget)\n"
            "    if by_recipe.empty:\n"
            "        continue\n"
            "    display(Markdown(f\"**Budget `{budget}`**: {int(by_recipe['converged'].sum())} of \"\n"
            "                     f\"{int(by_recipe['trainings'].sum())} trainings converged.\"))  # fmt: skip\n"
            "    display(by_recipe.round(3))"
        ),
        md(
            "## What each undecided finding still needs\n\n"
            "`verdict_plan.csv` (written by `python scripts/gpu_queue.py` with the queue): for "
            "every finding that lacks seeds or runs, the missing seeds 0-2 of each run it "
            "compares, with the hours of one core their training (what is left of it, for a "
            "paused run) and their evaluation take. Evaluation costs are measured from a scored "
            "seed of the same run (per-image seconds), or scaled by FLOPs from another run of the "
            "entry where none is scored (`~` in `items`). `blocked_by`: scored runs that did not "
            "converge or learned nothing, so seeds alone cannot decide the finding at that "
            "budget; `untested`: runs not scored yet, with how often their recipe converged. "
            "Unblocked findings first, cheapest first."
        ),
        hidden(
            "plan = chapters.load_verdict_plan()\n"
            'if "items" in plan:\n'
            '    free = plan[plan["blocked_by"] == ""]\n'
            "    n, m = len(plan), len(free)\n"
            '    display(Markdown(f"{n} findings lack seeds or runs; {m} are not blocked."))\n'
            '    display(plan.drop(columns=["experiments", "items"]))\n'
            "else:\n"
            '    display(Markdown("No `results/verdict_plan.csv` yet: `scripts/gpu_queue.py` writes '
            'it."))'
        ),
        md("## Not attempted, by reason"),
        hidden(
            'na = board[board.status == "not attempted"]\n'
            'na.groupby(["paper", "reason"]).size().rename("cells").reset_index()'
        ),
        md(
            "## Runs of the experiment registry\n\n"
            "Where every entry of `experiments.yaml` stands at each budget that has results "
            "(`reprolib.experiments.progress`; the same table prints with `reprolib experiments "
            "--budget cpu`): how many of its runs are *current* (scored under the entry's "
            "present recipe and grid), which are missing and why (*not run*, *partial*: training "
            "started and resumes, *stale*: scored under a recipe that has since changed), the "
            "training hours its own runs took (weights reused from another entry count there), "
            "and the command that completes it. A missing run marked *trained weights exist* "
            "would reuse another entry's weights and only be scored."
        ),
        hidden(
            'for budget in ("cpu", "gpu", "paper"):\n'
            "    table = experiments.progress(budget)\n"
            '    if table["current"].sum() == 0:\n'
            "        continue\n"
            '    done = int((table["current"] == table["runs"]).sum())\n'
            '    display(Markdown(f"**Budget `{budget}`**: {done} of {len(table)} entries complete, "\n'
            "                     f\"{table['training_h'].sum():.1f} h of training in all.\"))  # fmt: skip\n"
            "    display(table)"
        ),
    ],
)

NOTEBOOKS.add(
    "experiment_report",
    [
        md(
            "# Experiment report\n\n"
            "Joins the runs of one registry entry (`experiments.yaml`) with the paper's claims, "
            "checks the paper's stated findings, and shows the learning curves with the paper's "
            "final value as a reference line. Measured values come from the runs under "
            "`results/<paper>/<experiment>/<budget>/`; reduced budgets are labelled as such."
        ),
        parameters(
            'experiment = "memnet/table1"  # an id from experiments.yaml\n'
            'budget = "cpu"  # smoke | cpu | gpu | paper'
        ),
        code(
            "from IPython.display import Markdown, display\n"
            "from myst_nb import glue\n\n"
            "from reprolib import experiments, plotting\n\n"
            "exp = experiments.get(experiment)\n"
            "summary, findings = experiments.report(experiment, budget)\n"
            'display(Markdown(f"## {exp.title}\\n\\n{exp.note}\\n\\nBudget: **{budget}**"))'
        ),
        md("## Training budget of each run"),
        hidden(
            "metrics = experiments.run_metrics(exp, budget)\n"
            'cols = ["run", "method", "budget", "iterations", "patches_seen", "wall_s", '
            '"hardware"]\n'
            'runs = metrics[cols].drop_duplicates("run").reset_index(drop=True)\n'
            "current = {r.name: experiments.is_current(exp, r, budget) for r in exp.runs}\n"
            'runs["current"] = runs["run"].map(current)\n'
            'if not runs["current"].all():\n'
            "    display(Markdown(\n"
            '        "Runs marked `current = False` were trained from an earlier recipe or model "\n'
            '        "default; `reprolib run " + experiment + " --budget " + budget + "` retrains "\n'
            '        "them."\n'
            "    ))  # fmt: skip\n"
            "runs"
        ),
        md("## Claimed vs measured"),
        hidden('plotting.style_comparison(summary) if len(summary) else "no runs yet"'),
        md(
            "## Every seed\n\n"
            "Mean PSNR of each trained seed per cell, and their mean (the *measured* value "
            "above). The findings below are judged on the per-image scores of every seed."
        ),
        hidden(
            "seeds = experiments.seed_metrics(exp, budget)\n"
            'if len(seeds) and seeds["seed"].nunique() > 1:\n'
            "    table = seeds.pivot_table(\n"
            '        index=["run", "dataset", "setting"], columns="seed", values="psnr"\n'
            '    ).rename(columns=lambda k: f"seed {k}")\n'
            '    table["mean"] = table.mean(axis=1)\n'
            "    display(table.round(3))\n"
            "else:\n"
            '    display(Markdown("One seed per run at this budget."))'
        ),
        md(
            "## Per-image scores\n\n"
            "A mean over a set can hide images on which a run fails outright: one point per "
            "test image and run, then each run's lowest-scoring image per cell, with how far it "
            "falls below the run's median."
        ),
        hidden(
            "import matplotlib.pyplot as plt\n\n"
            "scores = experiments.per_image(exp, budget)\n"
            "if len(scores):\n"
            "    fig = plotting.per_image_by_run(scores)\n"
            "    display(fig)\n"
            "    plt.close(fig)\n"
            "    display(experiments.lowest_images(scores).round(4))\n"
            "else:\n"
            '    display(Markdown("No run of this entry has been scored yet."))'
        ),
        md("## The paper's findings at this budget"),
        hidden(
            "from reprolib import stats\n\n"
            'display(Markdown("**The verdict rule** (`reprolib.stats`): " + stats.VERDICT_RULE))\n'
            "# one key per finding: an entry can check it at several levels (one row each)\n"
            'for claim, rows in findings.groupby("claim_id", sort=False):\n'
            '    verdicts = ", ".join(dict.fromkeys(rows["verdict"]))\n'
            '    glue(f"{experiment}-{budget}-{claim}", verdicts, display=False)\n'
            'cols = ["claim_id", "verdict", "margin_db", "ci_low", "ci_high", "p_value", "seeds",\n'
            '        "converged", "reason", "runs"]  # fmt: skip\n'
            'findings[cols] if len(findings) else Markdown("This entry checks no finding.")'
        ),
        md(
            "## Learning curves\n\n"
            "Validation PSNR is measured during training on the first few images of each run's "
            "validation set and setting (`val` in its `train_summary.json`). It only monitors: "
            "the scored model is always the last iterate, never one chosen by validation. The "
            "dashed line is the paper's final number for that set and setting (all its images, "
            "full budget), drawn where the paper tabulates that cell."
        ),
        hidden(
            "plotting.run_curves(\n"
            "    experiments.learning_curves(exp, budget),\n"
            "    summary,\n"
            "    title=exp.title,\n"
            "    val_cells=experiments.validation_cells(exp, budget),\n"
            ");"
        ),
        md(
            "## The paper's figures from these runs\n\n"
            "Each analysis listed under the entry's `analyses` (`reprolib.figures`), computed "
            "from the trained models of this budget; its numbers are written next to the runs "
            "under `analysis/`."
        ),
        hidden(
            "import matplotlib.pyplot as plt\n\n"
            "from reprolib import figures\n\n"
            "if not exp.analyses:\n"
            '    display(Markdown("This entry has no figure analyses."))\n'
            "for name in exp.analyses:\n"
            '    display(Markdown(f"### {name}"))\n'
            "    try:\n"
            "        fig = figures.make(name, exp, budget)\n"
            "    except figures.FigureInputMissing as err:\n"
            '        display(Markdown(f"Not computed: {err}"))\n'
            "        continue\n"
            "    display(Markdown(fig.caption))\n"
            "    for part, table in fig.tables.items():\n"
            "        if len(table) > 40:\n"
            '            display(Markdown(f"`{part}`: {len(table)} rows, in the CSV under `analysis/`"))\n'
            "        else:\n"
            "            display(table.round(4))\n"
            "    if fig.figure is not None:\n"
            "        display(fig.figure)\n"
            "        plt.close(fig.figure)"
        ),
    ],
)

NOTEBOOKS.add(
    "chapter",
    [
        md("# Every table and finding"),
        parameters('paper = "memnet"  # memnet | rednet | nlrn | memorynet'),
        code(
            "import pandas as pd\n"
            "from IPython.display import Markdown, display\n"
            "from myst_nb import glue\n\n"
            "from reprolib import chapters, plotting\n\n"
            'pd.set_option("display.max_rows", 300)\n'
            "board = chapters.scoreboard(paper)\n"
            'counts = board["status"].value_counts()\n'
            "for status, n in counts.items():\n"
            '    glue(f"{paper}-{chapters.slug(status)}", int(n), display=False)\n'
            "for key, text in chapters.finding_glue(paper).items():  # pasted by book/<paper>.md\n"
            "    glue(key, text, display=False)\n"
            'display(Markdown(f"**{chapters.PAPERS[paper]}**"))\n'
            "display(Markdown(\n"
            '    f"{len(board)} claims (table cells and stated findings): "\n'
            '    + ", ".join(f"**{n}** {s}" for s, n in counts.items())\n'
            '    + ". Statuses and reasons come from `results/scoreboard.csv`."\n'
            "))  # fmt: skip"
        ),
        md(
            "## Tables and figures\n\n"
            "Every table and figure of the paper (`results/claims/contents.csv`), first at a "
            "glance, then one section each: the registry entry that measures it and its report, "
            "the runs scored at each budget (seeds per run against the seeds the registry asks) "
            "and what they trained for (iterations, patches seen, wall time, hardware: "
            "`train_summary.json`), the status of its cells (`results/scoreboard.csv`), the "
            "verdict of each finding with its reason (`results/verdicts.csv`), and what is not "
            "measured here and why. A cell measured at a reduced budget (`cpu`) is never "
            "counted as reproduced: its value is not comparable with the paper's."
        ),
        hidden(
            "from reprolib import figures, stats\n\n"
            'display(Markdown("**The verdict rule** (`reprolib.stats`): " + stats.VERDICT_RULE))\n'
            "display(Markdown(\n"
            '    "**Observations read off a figure** (`reprolib.figures`): " + figures.OBSERVATION_RULE\n'
            "))  # fmt: skip\n"
            "items = chapters.tables_and_figures(paper)\n"
            "index = chapters.overview(items)\n"
            "plotting.style_comparison(index, list(index.columns))"
        ),
        myst(
            hidden(
                "printed = set(chapters.tables(paper))\n"
                "for it in items:\n"
                "    display(Markdown(chapters.item_markdown(it)))\n"
                "    if it.item not in printed:\n"
                "        continue\n"
                "    measured = chapters.table_measured(board, it.item)\n"
                "    if len(measured):\n"
                '        display(Markdown("Measured cells:"))\n'
                "        display(plotting.style_comparison(measured))\n"
                '    display(Markdown("The table as printed in the paper (transcribed claims):"))\n'
                "    display(chapters.table_as_printed(paper, it.item))"
            )
        ),
        md(
            "## Architecture check\n\nParameter counts (conv weights, as the papers count them) "
            "and depths of the models this project builds, against the paper's numbers."
        ),
        hidden(
            "arch = chapters.architecture(paper)\n"
            'none = Markdown("This paper prints no parameter or depth table.")\n'
            "plotting.style_comparison(arch) if len(arch) else none"
        ),
        md(
            "## Differences register\n\nWhere the paper, the authors' released code "
            "(`shared/reference/official_code_notes.md`) and this project differ; `option` "
            "selects the code's behaviour."
        ),
        hidden("chapters.differences(paper)"),
    ],
)

NOTEBOOKS.add(
    "memnet_diagnosis",
    [
        md(
            "# MemNet diagnosis: why the paper's recipe learned nothing at the cpu budget\n\n"
            "Controlled probes (`scripts/memnet_diagnosis.py`): each is the first 500 "
            "iterations of the `cpu`-budget MemNet run (M4R6, 32 channels, batch 16, 31 px "
            "patches, one torch thread) with **one** change to the paper's recipe. *Gain* is "
            "the PSNR of the output minus that of the degraded input (bicubic, noisy) on the "
            "same images: 0 means the network returns its input. *Eval* scores use BatchNorm's "
            "running statistics (inference mode, as every reported number); *train mode* uses "
            "the test image's own statistics. A large gap between the two means the running "
            "statistics, not the weights, failed."
        ),
        parameters("out_dir = None  # None: <results root>/memnet/diagnosis; else a path"),
        code(
            "import pandas as pd\n"
            "from IPython.display import Markdown, display\n\n"
            "from reprolib import claims, plotting\n"
            "from reprolib.provenance import REPO_ROOT\n\n"
            'folder = claims.results_root() / "memnet" / "diagnosis"\n'
            "if out_dir is not None:\n"
            "    folder = REPO_ROOT / out_dir\n"
            'probes = pd.read_csv(folder / "probes.csv")\n'
            'logs = {p: pd.read_csv(folder / p / "log.csv") for p in probes["probe"]\n'
            '        if (folder / p / "log.csv").exists()}  # fmt: skip\n'
            'cols = ["probe", "factor", "change", "iterations", "eval_set", "input_psnr",\n'
            '        "eval_gain", "train_mode_gain", "images_below_input", "loss_max_over_min",\n'
            '        "wall_s"]  # fmt: skip\n'
            "probes[[c for c in cols if c in probes]].round(3)"
        ),
        md(
            "## Curves per probe\n\nLeft: training loss (log scale; spikes are the "
            "instability). Right: validation gain over the degraded input, eval mode."
        ),
        hidden('plotting.diagnosis_curves(probes[probes["probe"].isin(logs)], logs);'),
        md("## What the probes say"),
        hidden(
            'row = probes.set_index("probe")\n\n\n'
            'def g(p, c="eval_gain"):\n'
            '    return f"{row.loc[p, c]:+.2f} dB" if p in row.index else "not run"\n\n\n'
            "lines = [\n"
            "    f\"- Paper recipe: {g('paper_recipe')} after 500 iterations (train mode \"\n"
            "    f\"{g('paper_recipe', 'train_mode_gain')}).\",\n"
            '    f"- One optimiser/clipping change, He init kept: global-norm clip "\n'
            "    f\"{g('global_norm_clip')}, SGD lr 0.01 {g('sgd_lr0.01')}, Adam {g('adam')}.\",\n"
            '    f"- ReconNet conv zero-initialised (the network starts at its input): with the "\n'
            "    f\"paper's SGD {g('zero_init')}, with Adam {g('zero_init_adam')}; with the \"\n"
            "    f\"released code's loss weights as well {g('zero_init_adam_code_weights')} (their \"\n"
            '    f"fused output starts at M times the input).",\n'
            '    f"- Zero-init + Adam at lr 1e-4 / 3e-4 / 1e-3 (Adam\'s default, what the cpu "\n'
            "    f\"entries use): {g('zero_init_adam')} / {g('zero_init_adam_lr3e-4')} / \"\n"
            "    f\"{g('zero_init_adam_lr1e-3')}.\",\n"
            "    f\"- Denoising, zero-init + Adam: {g('denoise_zero_init_adam')} (train mode \"\n"
            "    f\"{g('denoise_zero_init_adam', 'train_mode_gain')}); committed Table 3 model \"\n"
            "    f\"(paper recipe, 3,000 iterations): {g('table3_committed')} (train mode \"\n"
            "    f\"{g('table3_committed', 'train_mode_gain')}), after recomputing its running \"\n"
            "    f\"statistics {g('table3_committed_recalibrated')}.\",\n"
            '    f"- The same weights, BN statistics re-estimated on patches of 31 / 64 / 128 / "\n'
            "    f\"256 px: {g('table3_committed_recalibrated_31px')} / \"\n"
            "    f\"{g('table3_committed_recalibrated_64px')} / \"\n"
            "    f\"{g('table3_committed_recalibrated_128px')} / \"\n"
            "    f\"{g('table3_committed_recalibrated_256px')}: the statistics of training-size \"\n"
            '    f"patches, not their staleness, fail on whole images.",\n'
            "]  # fmt: skip\n"
            'display(Markdown("\\n".join(lines)))'
        ),
    ],
)

# The explorer and train notebooks have their own generators: scripts/make_explorer_notebook.py
# and scripts/make_train_notebook.py.

NOTEBOOKS.add(
    "scaling",
    [
        md(
            "# Budget scaling: how far a reduced-budget number is from the paper's\n\n"
            "Test PSNR of each paper's main model (and DnCNN) along training, against the "
            "patches it has seen (log axis), from the weight snapshots kept at every validation "
            "point (`reprolib scaling`, `results/scaling/`). Runs trained before snapshots were "
            "kept show their validation log instead: PSNR on the first few images of the same "
            "test cell, labelled in `source`. The dotted line is the paper's value on the whole "
            "set at its full schedule (the vertical line). The dashed line is a straight fit in "
            "log(patches) to the later half of the points, extended to the paper's schedule: an "
            "**extrapolation**, not a measurement; learning-rate drops and saturation bend real "
            "curves, so read it as a trend only."
        ),
        parameters('budget = "cpu"  # the budget whose runs were scored'),
        code(
            "import pandas as pd\n\n"
            "from reprolib import claims, plotting, scaling  # noqa: F401 (plotting: the style)\n\n"
            'folder = claims.results_root() / "scaling"\n'
            'table = pd.read_csv(folder / "summary.csv")\n'
            'fits = pd.read_csv(folder / "fits.csv")\n'
            'table = table[table["budget"] == budget]'
        ),
        hidden("scaling.plot(table, fits);"),
        md("## Fitted trends (extrapolations, labelled as such)"),
        hidden("fits"),
        md("## Every point"),
        hidden('table.drop(columns=["entry", "paper_patches"]).round(3)'),
        md(
            "## Can three validation images tell a converged run?\n\n"
            "The verdict rule calls a run converged when its validation PSNR moved by less than "
            "0.05 dB over the last fifth of its iterations, read from its training log, which "
            "scores only the first few images of the validation set (`log_images`: three, one "
            "for MemoryNet). For every run that kept its weight snapshots, the two snapshots "
            "that test compares are scored again on every image of the validation set "
            "(`reprolib scaling --convergence`, `results/scaling/convergence_check.csv`); "
            "`agree` says whether both measurements put the run on the same side of the "
            "threshold. Runs trained before snapshots were kept are not in the table; the "
            "verdicts still use the log's test, as the rule states."
        ),
        hidden(
            'check_file = folder / "convergence_check.csv"\n'
            "if check_file.exists():\n"
            "    check = pd.read_csv(check_file)\n"
            '    check = check[check["run_dir"].str.split("/").str[2] == budget]\n'
            "    print(\n"
            "        f\"{int(check['agree'].sum())} of {len(check)} runs: the same verdict \"\n"
            '        "on the whole validation set as on the log\'s images"\n'
            "    )\n"
            '    display(check.drop(columns=["val_setting"]).round(3))\n'
            "else:\n"
            '    print("not measured yet: reprolib scaling --convergence")'
        ),
    ],
)

NOTEBOOKS.add(
    "speed",
    [
        md(
            "# Speed claims timed on one machine, as ratios\n\n"
            "Three papers make claims about test-time cost: RED-Net times its down-sampling "
            "variants (Sec. 4.5, Fig. 8) on an i7-2600 CPU, MemNet colours its intermediate "
            "predictions by their time on a P40 GPU (Fig. 6, Sec. 5.4), and NLRN compares "
            "parameter counts (Table 3). Absolute seconds belong to one machine, so every "
            "network here is timed in **one run** (`reprolib speed`, `results/speed/speed.csv`), "
            "interleaved round by round, and compared as a **ratio** to a reference network of "
            "its group: the time of each variant over the reference's (below 1: faster). The "
            "FLOP count (`torch.utils.flop_counter`) is the hardware-independent counterpart. "
            "Paper values are the papers' printed numbers (`results/claims/`), labelled as such.\n\n"
            "Each time is the median over the timed rounds after a warm-up round, on one CPU "
            "thread, float32, batch 1, with its interquartile range (`_iqr`) over the rounds. "
            "Timings taken while other processes run (the study's training runs often do) "
            "are slower and noisier, which is why `load_avg_1min` (the "
            "system load average during each row's rounds) stands beside each time, and why "
            "only ratios taken in the same rounds are compared. Two clocks are kept: the wall "
            "clock (`time_s`, `ratio_measured`; what the papers report) also counts the time "
            "the process waited for a core, the process's CPU time (`cpu_s`, `ratio_cpu`) only "
            "the time it computed, so the CPU-time ratios are the steadier estimate of what an "
            "idle machine would show. PSNR is this study's measurement for the "
            "same network where one exists; the source column says where it comes from, or "
            "that the run has not been trained or scored yet."
        ),
        parameters("quick = False  # True: the tiny-input check of `reprolib speed --quick`"),
        code(
            "import pandas as pd\n\n"
            "from reprolib import plotting, speed  # noqa: F401 (plotting: the style)\n\n"
            'table = pd.read_csv(speed.output_dir(quick) / "speed.csv")\n'
            "first = table.iloc[0]\n"
            "print(\n"
            '    f"{first.hardware}; torch {first.torch}; {first.threads} thread(s); "\n'
            '    f"{first.repeats:.0f} timed rounds after {first.warmup:.0f} warm-up; {first.date}"\n'
            ")"
        ),
        hidden("speed.plot(table);"),
        md(
            "## RED-Net Sec. 4.5: down-sampling at conv1, conv5, conv9, conv5+9\n\n"
            "RED20 on a 160x240 image, the paper's test. The section does not state the width: "
            "`paper` is 64 filters (the paper's parameter study, Sec. 5.1), `cpu` the 32 of the "
            "models trained here. `paper_ratio` is the paper's time over its 3.17 s without "
            "down-sampling; `ratio_flops` what the arithmetic alone predicts."
        ),
        hidden(
            'cols = ["variant", "width", "flops", "time_s_median", "time_s_iqr", "cpu_s_median",\n'
            '        "cpu_s_iqr", "ratio_measured", "ratio_cpu", "ratio_flops", "paper_time_s",\n'
            '        "paper_ratio", "psnr", "psnr_source", "load_avg_1min"]  # fmt: skip\n'
            'table.loc[table["paper"] == "rednet", cols].round(3)'
        ),
        md(
            "## MemNet Fig. 6: time of each intermediate prediction\n\n"
            "The prediction of block m (`MemNet_Mm`) and the output (`MemNet`) on a 288x288 "
            "image, relative to the output. The paper's times are plotted only (a colour bar), "
            "so there is no paper ratio. The 80-layer paper network is counted but not timed "
            "(about six times the FLOPs of the `cpu` network, see `flops`); PSNR is Set5 x3 of "
            "the trained `cpu` model (the Fig. 6 analysis of `memnet/table1`)."
        ),
        hidden(
            'cols = ["variant", "width", "params", "flops", "time_s_median", "cpu_s_median",\n'
            '        "cpu_s_iqr", "ratio_measured", "ratio_cpu", "ratio_flops", "ratio_params",\n'
            '        "psnr", "load_avg_1min"]  # fmt: skip\n'
            'table.loc[table["paper"] == "memnet", cols].round(3)'
        ),
        md(
            "## NLRN Table 3: time per image against parameters\n\n"
            "Table 3 prints parameters and PSNR, no time. Here each network's time and FLOPs "
            "per 256x256 image (Set12's size) stand beside its conv weights, relative to NLRN; "
            "`paper_ratio` is the ratio of the parameters the paper prints. The `paper`-width "
            "networks (NLRN's 330K, the released 128-filter RED30's 4,131K) are counted, not "
            "timed (NLRN's non-local module makes one pass about 1.6 TFLOP). RED's number in "
            "the paper is multi-view (8 passes: 8 times the time)."
        ),
        hidden(
            'cols = ["variant", "width", "params", "flops", "time_s_median", "cpu_s_median",\n'
            '        "ratio_measured", "ratio_cpu", "ratio_flops", "ratio_params", "paper_params",\n'
            '        "paper_ratio", "psnr", "psnr_source"]  # fmt: skip\n'
            'table.loc[table["paper"] == "nlrn", cols].round(3)'
        ),
        md("## Every row, with its hardware and date"),
        hidden("table"),
    ],
)

if __name__ == "__main__":
    NOTEBOOKS.main()
