"""Command line of the study.

    reprolib data list|verify [SET ...]     the benchmark sets and derived splits
    reprolib models                         every registered model with its size
    reprolib protocol [--full]              the no-training columns (notebooks/protocol.ipynb)
    reprolib experiments                    the experiment registry (experiments.yaml)
    reprolib run ID|all --budget cpu        train + evaluate + report one entry or all
    reprolib reports                        re-execute comparison and scoreboard pages

Run ``reprolib --help`` (or ``python -m reprolib.cli --help``) for the options.
"""

from __future__ import annotations

import argparse
import sys


def _data(args: argparse.Namespace) -> int:
    from reprolib import data

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


def _protocol(args: argparse.Namespace) -> int:
    from reprolib import protocol_check, runner

    protocol_check.load_targets(args.targets)  # fail fast on unknown ids
    full = "only" if args.full_only else args.full
    params = {"targets": args.targets, "full": full, "limit": args.limit}
    name = "protocol_full.ipynb" if full == "only" else "protocol.ipynb"
    folder = "results/protocol" if args.limit is None else f"results/protocol/limit{args.limit}"
    out = f"{folder}/{name}"
    print(runner.execute("notebooks/protocol.ipynb", out, params))
    return 0


def _experiments(args: argparse.Namespace) -> int:
    from reprolib import experiments

    for eid, e in experiments.load().items():
        runs = ", ".join(r.name for r in e.runs)
        print(f"{eid:24s} {e.title}  [runs: {runs}]")
    return 0


def _run(args: argparse.Namespace) -> int:
    from reprolib import experiments

    experiments.check_budget(args.budget)
    ids = list(experiments.load()) if args.experiment == ["all"] else args.experiment
    for eid in ids:
        experiments.get(eid)  # fail fast on unknown ids, before any training
    for eid in ids:
        print(experiments.run(eid, args.budget, force=args.force, device=args.device))
    return 0


REPORTS = {
    "notebooks/comparison.ipynb": "results/architecture/comparison.ipynb",
    "notebooks/scoreboard.ipynb": "results/scoreboard.ipynb",
}


def _reports(args: argparse.Namespace) -> int:
    from reprolib import runner

    for src, dst in REPORTS.items():
        print(runner.execute(src, dst, {}))
    return 0


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
    pr.add_argument("--targets", nargs="+", help="target ids (protocol_targets.yaml)")
    pr.add_argument("--limit", type=int, help="first N images per set (separate folder)")
    pr.set_defaults(func=_protocol)

    e = sub.add_parser("experiments", help="list the experiment registry")
    e.set_defaults(func=_experiments)

    r = sub.add_parser("run", help="run experiments (train, evaluate, report) via papermill")
    r.add_argument("experiment", nargs="+", help="experiment ids, or 'all'")
    r.add_argument("--budget", default="cpu", help="smoke | cpu | gpu | paper (default cpu)")
    r.add_argument("--force", action="store_true", help="re-run even if results are current")
    r.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    r.set_defaults(func=_run)

    rep = sub.add_parser("reports", help="re-execute the comparison and scoreboard notebooks")
    rep.set_defaults(func=_reports)

    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
