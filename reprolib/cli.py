"""Command line of the study.

    reprolib data list|verify [SET ...]     the benchmark sets and derived splits
    reprolib models                         every registered model with its size
    reprolib protocol [--full]              the no-training columns (notebooks/protocol.ipynb)
    reprolib experiments                    the experiment registry (experiments.yaml)
    reprolib experiments --budget cpu       ... which runs are current, which are missing
    reprolib run ID|all --budget cpu        train + evaluate + report one entry or all
    reprolib run ID --runs RED MemoryNet    ... only some runs of an entry (its report: all)
    reprolib run ID --max-minutes 90        ... pause after 90 min (training or scoring); resumes
    reprolib reports                        re-execute comparison and scoreboard pages
    reprolib reports --entries              ... after every entry's report (no training)
    reprolib scaling --budget cpu           budget-scaling curves from training snapshots
    reprolib speed                          the papers' speed claims timed here, as ratios
    reprolib train RECIPE --budget gpu      one training run (also under torchrun, for DDP):
        torchrun --nproc_per_node 4 -m reprolib.cli train nlrn_denoise_sigma25 --budget gpu

Run ``reprolib --help`` (or ``python -m reprolib.cli --help``) for the options.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from reprolib.data import DatasetError
from reprolib.recipes import RecipeError

#: Bad input reported in one line with exit status 2 (``REPROLIB_DEBUG=1`` shows tracebacks):
#: an unknown budget, recipe, entry or run, a bad override or seed, a missing or corrupt set.
USER_ERRORS = (RecipeError, DatasetError, KeyError, ValueError)


def _data(args: argparse.Namespace) -> int:
    from reprolib import data

    print(f"data root: {data.data_root()}")
    if args.action == "list":
        for name in data.available():
            split = data.SPLITS[name]
            parts = "+".join(split.parts) if split.parts != (name,) else ""
            print(f"{name:16s} {parts:28s} {split.description}")
        return 0
    names = args.names or [n for n in data.available() if data.SPLITS[n].parts == (n,)]
    failed = 0
    for name in names:
        try:
            print(f"{name:16s} ok ({data.verify(name)} files)")
        except data.DatasetError as err:
            failed += 1
            print(f"{name:16s} FAILED: {err}", file=sys.stderr)
    return 1 if failed else 0


def _models(args: argparse.Namespace) -> int:
    from reprolib import models

    for name in models.available():
        m = models.build(name)
        print(
            f"{name:18s} conv weights {models.conv_weight_params(m):>10,d}  "
            f"params {models.total_params(m):>10,d}  depth {getattr(m, 'depth', '-')}"
        )
    return 0


def _check_max_minutes(minutes: float | None) -> None:
    """``ValueError`` unless the time limit is absent or positive."""
    if minutes is not None and not minutes > 0:
        raise ValueError(f"--max-minutes must be positive, got {minutes}")


def _protocol(args: argparse.Namespace) -> int:
    from reprolib import claims, protocol_check, runner

    try:  # fail fast on unknown ids or a bad time limit, before measuring anything
        protocol_check.load_targets(args.targets)
        _check_max_minutes(args.max_minutes)
    except (KeyError, ValueError) as err:
        print(f"reprolib protocol: {err.args[0]}", file=sys.stderr)
        return 2
    full = "only" if args.full_only else args.full
    params = {
        "targets": args.targets,
        "full": full,
        "limit": args.limit,
        "measure": not args.render,
        "max_minutes": args.max_minutes,
    }
    name = "protocol_full.ipynb" if full == "only" and not args.render else "protocol.ipynb"
    folder = claims.results_root() / "protocol"
    out = (folder if args.limit is None else folder / f"limit{args.limit}") / name
    print(runner.execute("notebooks/protocol.ipynb", out, params))
    return 0


def _experiments(args: argparse.Namespace) -> int:
    from reprolib import experiments

    if args.budget is None:
        for eid, e in experiments.load().items():
            runs = ", ".join(r.name for r in e.runs)
            print(f"{eid:24s} {e.title}  [runs: {runs}]")
        return 0
    try:
        table = experiments.progress(args.budget)
    except ValueError as err:
        print(f"reprolib experiments: {err}", file=sys.stderr)
        return 2
    for row in table.itertuples():
        done = f"{row.current}/{row.runs} current, {row.training_h:.2f} h training"
        print(f"{row.experiment:24s} {done}" + (f"; missing: {row.missing}" if row.missing else ""))
    return 0


def _run(args: argparse.Namespace) -> int:
    from reprolib import experiments

    experiments.check_budget(args.budget)
    ids = list(experiments.load()) if args.experiment == ["all"] else args.experiment
    for eid in ids:  # fail fast on unknown ids or run names, before any training
        try:
            experiments.select_runs(experiments.get(eid), args.runs)
            experiments.check_seeds(args.seeds)
            _check_max_minutes(args.max_minutes)
        except (KeyError, ValueError) as err:
            print(f"reprolib run: {err.args[0]}", file=sys.stderr)
            return 2
    checked: set[str] = set()  # ... and on a missing or corrupt set of any entry's runs
    for eid in ids:
        experiments.check_data(eid, args.budget, args.runs, checked)
    deadline = None if args.max_minutes is None else time.time() + 60.0 * args.max_minutes
    for eid in ids:
        out = experiments.run(
            eid, args.budget, force=args.force, device=args.device, threads=args.threads,
            only=args.runs, seeds=args.seeds, deadline=deadline,
        )  # fmt: skip
        print(out)
    return 0


def _reports(args: argparse.Namespace) -> int:
    """Re-execute the pages that summarise results/ (cheap: they read CSVs, train nothing)."""
    from reprolib import chapters, claims, experiments, runner, speed

    if args.entries:  # first: they write the summary.csv and findings.csv the pages read
        experiments.check_budget(args.budget)
        for eid, row in experiments.progress(args.budget).set_index("experiment").iterrows():
            if row["current"]:
                print(experiments.render_report(eid, args.budget))
    root = claims.results_root()
    print(runner.execute("notebooks/comparison.ipynb", root / "architecture/comparison.ipynb", {}))
    print(runner.execute("notebooks/scoreboard.ipynb", root / "scoreboard.ipynb", {}))
    if (root / "scaling" / "summary.csv").exists():
        print(runner.execute("notebooks/scaling.ipynb", root / "scaling/scaling.ipynb", {}))
    if (root / "speed" / "speed.csv").exists():
        if speed.refresh_psnr():
            print("speed.csv: PSNR re-read from the trained runs (timings kept)")
        print(runner.execute("notebooks/speed.ipynb", root / "speed/speed.ipynb", {"quick": False}))
    for paper in chapters.PAPERS:
        out = root / paper / "chapter.ipynb"
        title = f"{chapters.PAPERS[paper]}: every table and finding"
        print(runner.execute("notebooks/chapter.ipynb", out, {"paper": paper}, title=title))
    chapters.write_headline()
    if root.resolve() == claims.default_results_root().resolve():
        chapters.write_toc()
        print("wrote _toc.yml")
    else:  # the book's table of contents describes the committed results only
        print(f"_toc.yml left as it is (REPROLIB_RESULTS={root} is not the book's results)")
    return 0


def _scaling(args: argparse.Namespace) -> int:
    """Score every kept training snapshot of the scaling curves' models (no training)."""
    from reprolib import claims, experiments, scaling

    experiments.check_budget(args.budget)
    if args.convergence:
        table = scaling.convergence_check(args.budget, threads=args.threads)
        agree = int(table["agree"].sum()) if len(table) else 0
        print(
            f"convergence on the whole validation set agrees with the log's for {agree} of "
            f"{len(table)} runs -> {claims.results_root() / 'scaling/convergence_check.csv'}"
        )
        return 0
    table = scaling.write(args.budget, threads=args.threads)
    print(f"{len(table)} snapshot scores -> {claims.results_root() / 'scaling'}")
    return 0


def _speed(args: argparse.Namespace) -> int:
    """Time the speed claims of RED-Net Sec. 4.5, MemNet Fig. 6 and NLRN Table 3 in one run
    (no training), then render its page."""
    from reprolib import runner, speed

    table = speed.write(args.repeats, args.warmup, args.threads, quick=args.quick)
    folder = speed.output_dir(args.quick)
    print(f"{len(table)} rows -> {folder / 'speed.csv'}")
    print(runner.execute("notebooks/speed.ipynb", folder / "speed.ipynb", {"quick": args.quick}))
    return 0


def _explorer(args: argparse.Namespace) -> int:
    """Execute the restoration explorer page; its executed copy is what the book shows."""
    from reprolib import claims, runner

    out = claims.results_root() / "explorer" / "explorer.ipynb"
    print(runner.execute("notebooks/explorer.ipynb", out, {}))
    return 0


def _train(args: argparse.Namespace) -> int:
    import json

    from reprolib import train

    overrides = json.loads(args.overrides) if args.overrides else None
    summary = train.train(
        args.recipe, args.budget, out_dir=args.out_dir, device=args.device,
        overrides=overrides, max_minutes=args.max_minutes, threads=args.threads,
    )  # fmt: skip
    print(json.dumps({k: summary.get(k) for k in ("status", "iterations", "wall_s")}))
    return 0


_LISTINGS = {"data", "models", "experiments"}  # read-only commands whose output is piped


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="reprolib", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", help="list or verify the benchmark sets")
    d.add_argument("action", choices=["list", "verify"])
    d.add_argument("names", nargs="*", help="sets to verify (default: every staged set)")
    d.set_defaults(func=_data)

    m = sub.add_parser("models", help="list every registered model with its size")
    m.set_defaults(func=_models)

    pr = sub.add_parser("protocol", help="run notebooks/protocol.ipynb through papermill")
    pr.add_argument("--full", action="store_true", help="include the slow sets")
    pr.add_argument("--full-only", action="store_true", help="only the slow sets")
    pr.add_argument("--render", action="store_true", help="re-render stored results, no measuring")
    pr.add_argument("--targets", nargs="+", help="target ids (protocol_targets.yaml)")
    pr.add_argument("--limit", type=int, help="first N images per set (separate folder)")
    pr.add_argument(
        "--max-minutes", type=float, metavar="M",
        help="pause before the next image after M minutes (the same command resumes)",
    )  # fmt: skip
    pr.set_defaults(func=_protocol)

    e = sub.add_parser("experiments", help="list the experiment registry (or its runs' state)")
    e.add_argument("--budget", help="which runs are current at this budget, which are missing")
    e.set_defaults(func=_experiments)

    r = sub.add_parser("run", help="run experiments (train, evaluate, report) via papermill")
    r.add_argument("experiment", nargs="+", help="experiment ids, or 'all'")
    r.add_argument("--budget", default="cpu", help="smoke | cpu | gpu | paper (default cpu)")
    r.add_argument("--force", action="store_true", help="re-run even if results are current")
    r.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    r.add_argument("--threads", type=int, help="torch CPU threads per training process")
    r.add_argument(
        "--runs", nargs="+", metavar="RUN", help="train only these runs of the entry (default all)"
    )
    r.add_argument(
        "--seeds", nargs="+", type=int, metavar="K",
        help="train each run for these seeds (default: the entry's seeds in experiments.yaml, "
        "else 0; seed k adds k to the recipe's seed)",
    )  # fmt: skip
    r.add_argument(
        "--max-minutes", type=float, metavar="M",
        help="stop after M minutes of this command: a training in progress keeps a checkpoint, "
        "a scoring in progress the images scored (run again to resume); later runs wait",
    )  # fmt: skip
    r.set_defaults(func=_run)

    rep = sub.add_parser("reports", help="re-execute the comparison and scoreboard notebooks")
    rep.add_argument(
        "--entries",
        action="store_true",
        help="first re-execute the report of every entry with runs at --budget",
    )
    rep.add_argument("--budget", default="cpu", help="the budget of --entries (default cpu)")
    rep.set_defaults(func=_reports)

    sc = sub.add_parser("scaling", help="score training snapshots: PSNR vs patches seen")
    sc.add_argument("--budget", default="cpu", help="the budget whose runs are scored")
    sc.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    sc.add_argument(
        "--convergence", action="store_true",
        help="instead: the convergence test on the whole validation set, from the snapshots",
    )  # fmt: skip
    sc.set_defaults(func=_scaling)

    sp = sub.add_parser("speed", help="time the papers' speed claims here, as ratios")
    sp.add_argument("--repeats", type=int, default=4, help="timed rounds (default 4)")
    sp.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    sp.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    sp.add_argument(
        "--quick",
        action="store_true",
        help="tiny inputs, written to results/speed/quick (a check, not a result)",
    )
    sp.set_defaults(func=_speed)

    ex = sub.add_parser("explorer", help="execute the restoration explorer page (no training)")
    ex.set_defaults(func=_explorer)

    t = sub.add_parser("train", help="train one recipe (torchrun-compatible for several GPUs)")
    t.add_argument("recipe", help="e.g. memnet_sr, nlrn_denoise_sigma25 (reprolib.recipes)")
    t.add_argument("--budget", default="cpu", help="smoke | cpu | gpu | paper (default cpu)")
    t.add_argument("--out-dir", help="run folder (default results/train/<recipe>/<budget>)")
    t.add_argument("--overrides", help="JSON recipe overrides, e.g. '{\"iterations\": 500}'")
    t.add_argument("--device", help="cpu, cuda, ... (under torchrun: one GPU per rank)")
    t.add_argument("--max-minutes", type=float, help="stop with a checkpoint after this long")
    t.add_argument("--threads", type=int, help="torch CPU threads")
    t.set_defaults(func=_train)

    args = p.parse_args(argv)
    if args.command in _LISTINGS and hasattr(signal, "SIGPIPE"):
        # `reprolib experiments | head` ends quietly, as ls does; commands that train keep
        # Python's default, so a closed pipe cannot kill a run between checkpoints.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        return args.func(args)
    except USER_ERRORS as err:
        if os.environ.get("REPROLIB_DEBUG"):
            raise
        print(f"reprolib {args.command}: {_one_line(err)}", file=sys.stderr)
        return 2
    except Exception as err:  # a failed notebook: its root error and where it is kept
        if type(err).__name__ != "PapermillExecutionError" or os.environ.get("REPROLIB_DEBUG"):
            raise
        print(f"reprolib {args.command}: a notebook failed: {err.ename}: {err.evalue}",
              file=sys.stderr)  # fmt: skip
        return 1


def _one_line(err: BaseException) -> str:
    msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return str(msg).strip().splitlines()[0] if str(msg).strip() else type(err).__name__


if __name__ == "__main__":
    raise SystemExit(main())
