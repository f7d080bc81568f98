"""The whole study as a Snakemake workflow over the experiment registry (experiments.yaml).

Each registry entry is one job (`reprolib run <id> --budget <budget>`: train every run through
papermill, evaluate, write the report); the scoreboard and comparison pages depend on all of them.

    snakemake -c2                                   # locally on 2 cores, budget "cpu"
    snakemake -c2 --config budget=smoke             # every entry at the smoke budget
    snakemake -n --config budget=gpu                # dry run: what would be executed
    snakemake --executor slurm --jobs 16 --config budget=gpu \
        --default-resources slurm_partition=gpu     # on a SLURM cluster
        # (needs `pip install snakemake-executor-plugin-slurm`; each job asks for one GPU)

A job skips runs whose results are current (same recipe, overrides, evaluation and budget).
"""

import yaml

BUDGET = config.get("budget", "cpu")
EXPERIMENTS = list(yaml.safe_load(open("experiments.yaml")))
GPU_BUDGETS = ("gpu", "paper")


wildcard_constraints:
    experiment="[a-z]+/[A-Za-z0-9_.-]+",


rule all:
    input:
        "results/scoreboard.csv",


rule experiment:
    input:
        "experiments.yaml",
    output:
        "results/{experiment}/report_" + BUDGET + ".ipynb",
    resources:
        gpu=1 if BUDGET in GPU_BUDGETS else 0,
        slurm_extra="'--gres=gpu:1'" if BUDGET in GPU_BUDGETS else "",
    threads: 2
    shell:
        "reprolib run {wildcards.experiment} --budget " + BUDGET


rule reports:
    input:
        expand("results/{experiment}/report_" + BUDGET + ".ipynb", experiment=EXPERIMENTS),
    output:
        "results/scoreboard.csv",
    shell:
        "reprolib reports"
