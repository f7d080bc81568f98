"""The whole study as a Snakemake workflow over the experiment registry (experiments.yaml).

The jobs come from the registry's run status at the chosen budget (`reprolib experiments
--budget <budget>`): one job per run and seed that is not current (`reprolib run <entry>
--budget <budget> --runs <run> --seeds <k>`: train or resume, evaluate), then one job per entry
that had such a run (its report), then the summary pages. A run that is current has no job, so
a dry run lists exactly what is missing.

    snakemake -c2                                   # locally on 2 cores, budget "cpu"
    snakemake -c2 --config budget=smoke             # every entry at the smoke budget
    snakemake -n --config budget=gpu                # dry run: what would be executed
    snakemake --executor slurm --jobs 16 --config budget=gpu \
        --default-resources slurm_partition=gpu     # on a SLURM cluster
        # (needs `pip install snakemake-executor-plugin-slurm`; each job asks for one GPU)

Job flags live under .snakemake/reprolib/ (not under results/): results stay owned by reprolib.
"""

from reprolib import experiments

BUDGET = config.get("budget", "cpu")
GPU_BUDGETS = ("gpu", "paper")
FLAGS = ".snakemake/reprolib/" + BUDGET
STATUS = experiments.run_status([experiments.check_budget(BUDGET)])
MISSING = STATUS[STATUS["state"] != "current"]
RUNS = [f"{r.experiment}/{r.run}/seed{r.seed}" for r in MISSING.itertuples()]
ENTRIES = sorted(set(MISSING["experiment"]))


wildcard_constraints:
    experiment="[a-z]+/[A-Za-z0-9_.-]+",
    run="[A-Za-z0-9_.+-]+",
    seed="[0-9]+",


rule all:
    input:
        FLAGS + "/reports.done",


rule train_run:
    output:
        FLAGS + "/{experiment}/{run}/seed{seed}.done",
    resources:
        gpu=1 if BUDGET in GPU_BUDGETS else 0,
        slurm_extra="'--gres=gpu:1'" if BUDGET in GPU_BUDGETS else "",
    threads: 1
    shell:
        "reprolib run {wildcards.experiment} --budget " + BUDGET + " --runs {wildcards.run}"
        " --seeds {wildcards.seed} --threads {threads} && touch {output}"


rule reports:
    input:
        [FLAGS + f"/{r}.done" for r in RUNS],
    output:
        FLAGS + "/reports.done",
    shell:
        "reprolib reports --entries --budget " + BUDGET + " && touch {output}"
