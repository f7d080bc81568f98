"""The driver of ``scripts/gpu_window.sh`` (a lent GPU) and ``scripts/gpu_unpack.sh`` (here).

    python scripts/gpu_window.py window --minutes 9 --out $OUT [--jobs 4] [--queue FILE]
    python scripts/gpu_window.py window --minutes 1 --out DIR --dry-run   # CPU, smoke budget
    python scripts/gpu_window.py unpack DIR [--force]

``window`` works through the queue (``scripts/gpu_queue.py``, priority order) until the
wall-clock limit: ``--jobs`` runs at a time on the one GPU, each a child process calling
:func:`reprolib.train.train` with the registry's recipe, overrides (seed included) and run
folder (:meth:`reprolib.experiments.Experiment.run_dir`), ``max_minutes`` set to what is left
of the window, so every run stops with a checkpoint in time and resumes in the next window or
here. A row is skipped when its training or validation set is not in the data root, when its
run folder already holds a finished training of the same recipe, or when it cannot finish in
what is left and its checkpoint is too big to bring back. It then packs every run folder it
touched (``train_summary.json``, ``log.csv``, ``model.pt``, ``checkpoint.pt``, ``snapshots/``)
into at most :data:`MAX_ARCHIVES` ``runs-<k>.tar.gz`` under ``--out`` (each under
:data:`ARCHIVE_MIB`; what does not fit is left out in this order: checkpoints of finished runs,
then snapshots, and listed) and writes ``summary.txt``. ``--dry-run``: the same on CPU with
every row at the ``smoke`` budget (into whatever ``REPROLIB_RESULTS`` names: the shell script
makes it a scratch folder).

``unpack`` extracts the archives into the results root (``REPROLIB_RESULTS`` if set) run folder
by run folder: a folder that already holds a finished training of the same recipe is kept, as
is a partial one at least as far along; a finished training (or checkpoint) of a different
recipe is refused unless ``--force``. Installing a training removes the folder's evaluation
files of an earlier training (``spec.json``, ``metrics.csv``, ``per_image.csv``), so that
``reprolib run <entry> --budget <b> --runs ... --seeds ...`` (printed) evaluates it without
training again.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gpu_queue  # noqa: E402
import pandas as pd  # noqa: E402

from reprolib import data, experiments, recipes  # noqa: E402
from reprolib.claims import results_root  # noqa: E402

TRAINING_FILES = ("train_summary.json", "log.csv", "model.pt", "checkpoint.pt")
EVAL_FILES = ("spec.json", "metrics.csv", "per_image.csv", "REUSED_FROM")
MAX_ARCHIVES = 7  # plus summary.txt: 8 files come back from a device call
ARCHIVE_MIB = 15.5  # raw bytes per archive (gzip never grows them past the 16 MiB per file)
TOTAL_MIB = 60.0  # raw bytes packed in all (64 MiB come back together)
RESULT = "GPU_WINDOW_RESULT "


# ----------------------------------------------------------------------------------- window
def _prepare(row: dict[str, Any], budget: str | None) -> dict[str, Any]:
    """What one queue row trains and where; ``skip`` says why it is not started."""
    exp = experiments.get(row["experiment"])
    run = next(r for r in exp.runs if r.name == row["run"])
    seed, b = int(row["seed"]), budget or row["budget"]
    rec = {
        "priority": int(row["priority"]), "experiment": exp.id, "run": run.name, "seed": seed,
        "budget": b, "recipe": gpu_queue.train_name(run),
        "overrides": exp.overrides_for(run, seed), "dir": exp.run_dir(run, b, seed),
        "status": "skipped", "skip": "", "overwrite": False, "note": "",
    }  # fmt: skip
    recipe = exp.recipe_for(run, b, seed)
    rec["iterations_total"] = recipe.iterations
    missing = []
    for name in (recipe.train_set, recipe.val_set):
        try:
            if not all(p.is_file() for _, p, _ in data.files(name)):
                missing.append(name)
        except data.DatasetError:
            missing.append(name)
    if missing:
        rec["skip"] = f"data not here: {', '.join(dict.fromkeys(missing))}"
        return rec
    d = rec["dir"]
    done = d / "train_summary.json"
    old = None
    if done.is_file():
        old = recipes.recipe_from_dict(json.loads(done.read_text())["recipe_fields"])
    elif (d / "checkpoint.pt").is_file():
        import torch

        ckpt = torch.load(d / "checkpoint.pt", map_location="cpu", weights_only=False)
        old = recipes.recipe_from_dict(ckpt["recipe"])
    if old is not None:
        if not recipes.recipe_diff(old, recipe, training_only=True):
            if done.is_file():
                rec["skip"] = "already trained (same recipe)"
        else:
            rec["overwrite"] = True
            rec["note"] = "replaced a run of another recipe"
    return rec


def _child(spec: str) -> int:
    """One training run (the window's child process)."""
    from reprolib.train import train

    a = json.loads(spec)
    minutes = max((a["stop_at"] - time.time()) / 60, 0.01)  # start-up time excluded
    s = train(
        a["recipe"], a["budget"], out_dir=a["dir"], device=a["device"],
        max_minutes=minutes, overrides=a["overrides"], overwrite=a["overwrite"],
        threads=a["threads"], progress=False,
    )  # fmt: skip
    keys = ("status", "iterations", "iterations_total", "wall_s", "wall_s_this_call",
            "final_val_psnr")  # fmt: skip
    print(RESULT + json.dumps({k: s.get(k) for k in keys}), flush=True)
    return 0


def _launch(rec: dict, device: str, stop_at: float, threads: int, logs: Path) -> None:
    spec = {
        "recipe": rec["recipe"], "budget": rec["budget"], "dir": str(rec["dir"]),
        "device": device, "stop_at": stop_at, "overrides": rec["overrides"],
        "overwrite": rec["overwrite"], "threads": threads,
    }  # fmt: skip
    rec["log"] = logs / f"{rec['priority']:04d}.log"
    rec["t0"] = time.time()
    rec["status"] = "running"
    with rec["log"].open("w") as log:
        rec["proc"] = subprocess.Popen(
            [sys.executable, __file__, "child", json.dumps(spec)], stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def _reap(rec: dict) -> None:
    proc = rec.pop("proc")
    rec["wall_s"] = round(time.time() - rec.pop("t0"), 1)
    text = rec["log"].read_text(errors="replace")
    line = next((ln for ln in reversed(text.splitlines()) if ln.startswith(RESULT)), None)
    if line is not None:
        rec.update(json.loads(line[len(RESULT) :]))
    elif rec.get("killed"):
        rec["status"] = "stopped at the deadline"
    else:
        rec["status"] = f"failed (exit {proc.returncode})"
        rec["error"] = "\n".join(text.splitlines()[-15:])


def _progress(rec: dict) -> None:
    """Iterations and last validation PSNR from the run folder (after a kill or a failure)."""
    d = rec["dir"]
    if "iterations" not in rec and (d / "checkpoint.pt").is_file():
        import torch

        ckpt = torch.load(d / "checkpoint.pt", map_location="cpu", weights_only=False)
        rec["iterations"] = int(ckpt["iteration"])
    if rec.get("final_val_psnr") is None and (d / "log.csv").is_file():
        log = pd.read_csv(d / "log.csv").dropna(subset=["val_psnr"])
        if len(log):
            rec["final_val_psnr"] = float(log["val_psnr"].iloc[-1])


def run_window(args: argparse.Namespace, records: list[dict[str, Any]]) -> None:
    """Train the queue's rows; ``records`` receives one dict per row looked at."""
    started = args.started or time.time()
    total = args.minutes * 60
    reserve = min(30.0, max(5.0, 0.08 * total))  # packing and the summary
    deadline = started + total - reserve
    device = "cpu" if args.dry_run else "cuda"
    jobs = args.jobs
    threads = 1 if args.dry_run else max(1, (os.cpu_count() or 1) // jobs)
    min_start = 10.0 if args.dry_run else 30.0
    queue = pd.read_csv(args.queue).sort_values("priority")
    if args.limit:
        queue = queue.head(args.limit)
    logs = Path(tempfile.mkdtemp(prefix="gpu_window_logs_"))
    pending = iter(queue.to_dict("records"))
    running: list[dict] = []
    print(f"window: {len(queue)} queued rows, {jobs} at a time on {device}, "
          f"{(deadline - time.time()) / 60:.1f} min left for training", flush=True)  # fmt: skip
    try:
        _loop(args, pending, running, records, deadline, jobs, threads, device, min_start, logs)
    finally:  # never leave a child behind (an error in the driver, a KeyboardInterrupt)
        for rec in running:
            if rec["proc"].poll() is None:
                os.killpg(rec["proc"].pid, signal.SIGKILL)
            rec["proc"].wait()
            rec["killed"] = True
            _reap(rec)
        for rec in records:
            if rec["status"] != "skipped":
                _progress(rec)


def _loop(args, pending, running, records, deadline, jobs, threads, device, min_start, logs):
    exhausted = False
    while True:
        for rec in [r for r in running if r["proc"].poll() is not None]:
            running.remove(rec)
            _reap(rec)
            print(f"  done {rec['priority']}: {rec['experiment']} {rec['run']} seed "
                  f"{rec['seed']}: {rec['status']}", flush=True)  # fmt: skip
        now = time.time()
        if now >= deadline and running:
            for rec in running:  # checkpoints are atomic: the last one stays valid
                rec["killed"] = True
                os.killpg(rec["proc"].pid, signal.SIGTERM)
            time.sleep(3)
            for rec in running:
                if rec["proc"].poll() is None:
                    os.killpg(rec["proc"].pid, signal.SIGKILL)
                rec["proc"].wait()
            deadline = math.inf  # reap them above, start nothing more
            jobs = 0
            continue
        while not exhausted and len(running) < jobs and deadline - now > min_start:
            row = next(pending, None)
            if row is None:
                exhausted = True
                break
            try:
                rec = _prepare(row, "smoke" if args.dry_run else None)
            except Exception as err:  # a row that cannot be resolved here: the next one
                rec = {**row, "status": "skipped", "skip": f"{type(err).__name__}: {err}"}
            left = deadline - now
            if not rec["skip"] and not args.dry_run:
                est = float(row.get("est_gpu_s") or 0)
                if float(row.get("ckpt_mib") or 0) > ARCHIVE_MIB and est > left:
                    rec["skip"] = (f"cannot finish in {left / 60:.0f} min and its checkpoint "
                                   f"({row['ckpt_mib']} MiB) cannot come back")  # fmt: skip
            records.append(rec)
            if rec["skip"]:
                continue
            tail = min(30.0, 0.1 * left)  # the final validation, fp16 check and saving
            _launch(rec, device, deadline - tail, threads, logs)
            running.append(rec)
            print(f"  start {rec['priority']}: {rec['experiment']} {rec['run']} seed "
                  f"{rec['seed']} @{rec['budget']} ({(left - tail) / 60:.1f} min)",
                  flush=True)  # fmt: skip
        if not running and (exhausted or jobs == 0 or deadline - time.time() <= min_start):
            break
        time.sleep(0.5)


def _files(records: list[dict]) -> tuple[list[Path], list[str]]:
    """The files to pack (within :data:`TOTAL_MIB`) and what was left out."""
    root = results_root()
    tiers: list[list[Path]] = [[], [], []]  # essential, snapshots, finished runs' checkpoints
    for rec in records:
        d = rec["dir"]
        if rec["status"] == "skipped" or not d.is_dir():
            continue
        finished = (d / "train_summary.json").is_file()
        for name in TRAINING_FILES:
            p = d / name
            if p.is_file():
                tiers[2 if finished and name == "checkpoint.pt" else 0].append(p)
        tiers[1] += sorted((d / "snapshots").glob("*.pt"))
    chosen, left, total = [], [], 0
    for tier in tiers:
        for p in tier:
            size = p.stat().st_size
            if size > ARCHIVE_MIB * 2**20 or total + size > TOTAL_MIB * 2**20:
                left.append(f"{p.relative_to(root)} ({size / 2**20:.1f} MiB)")
            else:
                chosen.append(p)
                total += size
    return chosen, left


def pack(records: list[dict], out: Path, meta: dict) -> tuple[list[str], list[str]]:
    """``runs-<k>.tar.gz`` under ``out`` (first fit, largest first) and what was left out."""
    root = results_root()
    files, left = _files(records)
    bins: list[list[Path]] = []
    sizes: list[int] = []
    for p in sorted(files, key=lambda f: -f.stat().st_size):
        s = p.stat().st_size
        k = next((i for i, used in enumerate(sizes) if used + s <= ARCHIVE_MIB * 2**20), None)
        if k is None:
            if len(bins) == MAX_ARCHIVES:
                left.append(f"{p.relative_to(root)} ({s / 2**20:.1f} MiB)")
                continue
            bins.append([])
            sizes.append(0)
            k = len(bins) - 1
        bins[k].append(p)
        sizes[k] += s
    window = json.dumps(meta, indent=1, default=str).encode()
    written = []
    for i, group in enumerate(bins or [[]], 1):
        path = out / f"runs-{i}.tar.gz"
        with tarfile.open(path, "w:gz") as tar:
            if i == 1:
                info = tarfile.TarInfo("window.json")
                info.size = len(window)
                tar.addfile(info, io.BytesIO(window))
            for p in sorted(group):
                tar.add(p, arcname=str(p.relative_to(root)))
        mib = path.stat().st_size / 2**20
        written.append(f"{path.name} ({mib:.2f} MiB, {len(group)} files)")
    return written, left


def _fmt(v: Any, spec: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec)


def next_commands(records: list[dict]) -> list[str]:
    """``reprolib run`` commands that evaluate the trained runs (no training) here."""
    by: dict[tuple[str, str, tuple[int, ...]], list[str]] = {}
    runs: dict[tuple[str, str, str], list[int]] = {}
    for rec in records:
        if rec["status"] == "finished":
            runs.setdefault((rec["experiment"], rec["budget"], rec["run"]), []).append(rec["seed"])
    for (eid, budget, run), seeds in runs.items():
        by.setdefault((eid, budget, tuple(sorted(seeds))), []).append(run)
    return [
        f"reprolib run {eid} --budget {b} --runs {' '.join(names)} --seeds "
        f"{' '.join(map(str, seeds))}"
        for (eid, b, seeds), names in by.items()
    ]


def summary_text(records: list[dict], meta: dict, written: list[str], left: list[str]) -> str:
    lines = [
        f"GPU window: {meta['device']}, torch {meta['torch']}, {meta['jobs']} runs at a time, "
        f"limit {meta['minutes']} min, wall {meta['wall_s']:.0f} s"
        + (" (DRY RUN: CPU, smoke budget)" if meta["dry_run"] else ""),
        f"CUDA tests: {meta['tests']}",
        f"queue: {meta['queue']} ({meta['rows']} rows; {meta['started_runs']} started)",
        "",
        f"{'pri':>4} {'experiment':20s} {'run':28s} {'seed':>4} {'budget':6s} "
        f"{'status':24s} {'iterations':>15s} {'wall_s':>7s} {'val_psnr':>8s}",
    ]  # fmt: skip
    for r in records:
        if r["status"] == "skipped":
            continue
        its = f"{_fmt(r.get('iterations'))}/{_fmt(r.get('iterations_total'))}"
        lines.append(
            f"{r['priority']:>4} {r['experiment']:20s} {r['run']:28s} {r['seed']:>4} "
            f"{r['budget']:6s} {r['status']:24s} {its:>15s} {_fmt(r.get('wall_s'), '.0f'):>7s} "
            f"{_fmt(r.get('final_val_psnr'), '.2f'):>8s}" + (f"  {r['note']}" if r["note"] else "")
        )  # fmt: skip
        if r.get("error"):
            lines += ["      " + ln for ln in r["error"].splitlines()]
    skipped = [r for r in records if r["status"] == "skipped"]
    if skipped:
        lines += ["", "skipped:"] + [
            f"{r['priority']:>4} {r['experiment']} {r['run']} seed {r['seed']}: {r['skip']}"
            for r in skipped
        ]
    lines += ["", "packed: " + ", ".join(written)]
    if left:
        lines += ["left out (too big for what comes back): " + ", ".join(left)]
    cmds = next_commands(records)
    lines += ["", "here: bash scripts/gpu_unpack.sh <the folder the files came back to>"]
    if cmds:
        lines += ["then (evaluation only):"] + [f"  {c}" for c in cmds]
    return "\n".join(lines) + "\n"


def window(args: argparse.Namespace) -> int:
    import torch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = args.started or time.time()
    records: list[dict] = []
    try:
        run_window(args, records)
    finally:  # whatever ran comes back, also after an error in the driver
        cuda = not args.dry_run and torch.cuda.is_available()
        dev = torch.cuda.get_device_name() if cuda else "cpu"
        meta = {
            "device": dev, "torch": torch.__version__, "jobs": args.jobs,
            "minutes": args.minutes, "dry_run": args.dry_run, "tests": args.tests,
            "queue": str(args.queue), "rows": len(records),
            "started_runs": sum(r["status"] != "skipped" for r in records),
            "results_root": str(results_root()),
            "runs": [{k: v for k, v in r.items() if k not in ("proc", "log", "t0")}
                     for r in records],
        }  # fmt: skip
        written, left = pack(records, out, meta)
        meta["wall_s"] = time.time() - t0
        text = summary_text(records, meta, written, left)
        (out / "summary.txt").write_text(text)
        print(text, flush=True)
    return 0


# ----------------------------------------------------------------------------------- unpack
def _safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    for m in tar.getmembers():
        if m.name.startswith("/") or ".." in Path(m.name).parts or not (m.isfile() or m.isdir()):
            raise SystemExit(f"refusing archive member {m.name!r}")
    tar.extractall(dest)


def _trained_recipe(d: Path) -> tuple[recipes.Recipe | None, int, bool]:
    """(recipe, iterations, finished) of the training in run folder ``d`` (None: none)."""
    if (d / "train_summary.json").is_file():
        s = json.loads((d / "train_summary.json").read_text())
        return recipes.recipe_from_dict(s["recipe_fields"]), int(s["iterations"]), True
    if (d / "checkpoint.pt").is_file():
        import torch

        c = torch.load(d / "checkpoint.pt", map_location="cpu", weights_only=False)
        return recipes.recipe_from_dict(c["recipe"]), int(c["iteration"]), False
    return None, 0, False


def unpack(src: Path, force: bool = False) -> int:
    archives = sorted(src.glob("runs-*.tar.gz"))
    if not archives:
        raise SystemExit(f"no runs-*.tar.gz in {src}")
    root = results_root()
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        for a in archives:
            with tarfile.open(a, "r:gz") as tar:
                _safe_extract(tar, stage)
        meta = json.loads((stage / "window.json").read_text()) if (
            stage / "window.json").is_file() else {"runs": []}  # fmt: skip
        folders = sorted({p.parent for p in stage.rglob("*") if p.is_file()
                          and p.name in TRAINING_FILES} | {p.parent.parent for p in
                          stage.rglob("snapshots/*.pt")})  # fmt: skip
        refused = 0
        for new in folders:
            rel = new.relative_to(stage)
            dest = root / rel
            r_new, it_new, fin_new = _trained_recipe(new)
            r_old, it_old, fin_old = _trained_recipe(dest)
            if r_new is None:
                print(f"{rel}: only snapshots came back (no training files); skipped")
                continue
            differs = r_old is not None and recipes.recipe_diff(r_old, r_new, training_only=True)
            if differs and not force:
                refused += 1
                what = "finished" if fin_old else "partial"
                print(f"{rel}: REFUSED: holds a {what} run of a different recipe "
                      f"({'; '.join(differs[:3])}); --force replaces it")  # fmt: skip
                continue
            if r_old is not None and not differs:
                if fin_old:
                    print(f"{rel}: kept (already finished here with the same recipe)")
                    continue
                if not fin_new and it_old >= it_new:
                    print(f"{rel}: kept (here: {it_old} iterations, came back: {it_new})")
                    continue
            dest.mkdir(parents=True, exist_ok=True)
            for name in (*TRAINING_FILES, *EVAL_FILES):
                (dest / name).unlink(missing_ok=True)
            if (new / "snapshots").is_dir():
                shutil.rmtree(dest / "snapshots", ignore_errors=True)
            for p in sorted(new.rglob("*")):
                if p.is_file():
                    target = dest / p.relative_to(new)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(p, target)
            state = "finished" if fin_new else f"partial, resumes here at iteration {it_new}"
            print(f"{rel}: installed ({state})")
    cmds = next_commands(meta.get("runs", []))
    if cmds:
        print("evaluate (trains nothing for a finished run):")
        for c in cmds:
            print(f"  {c}")
    return 1 if refused else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("window", help="train the queue for MINUTES, then pack into --out")
    w.add_argument("--minutes", type=float, required=True)
    w.add_argument("--out", required=True, help="where the archives and summary.txt go")
    w.add_argument("--queue", type=Path, default=None, help="default <results>/queue.csv")
    w.add_argument("--jobs", type=int, help="runs at a time (default 4; dry run 2)")
    w.add_argument("--limit", type=int, help="only the first N rows of the queue")
    w.add_argument("--dry-run", action="store_true", help="CPU, smoke budget")
    w.add_argument("--started", type=float, help="epoch seconds the window started")
    w.add_argument("--tests", default="not run", help="the CUDA tests' outcome (for the summary)")
    u = sub.add_parser("unpack", help="install the archives of a window into the results root")
    u.add_argument("dir", type=Path)
    u.add_argument("--force", action="store_true", help="replace runs of another recipe")
    c = sub.add_parser("child")
    c.add_argument("spec")
    args = p.parse_args(argv)
    if args.command == "child":
        return _child(args.spec)
    if args.command == "unpack":
        return unpack(args.dir, args.force)
    args.queue = args.queue or gpu_queue.queue_path()
    args.jobs = args.jobs or (2 if args.dry_run else 4)
    if args.jobs < 1 or args.minutes <= 0:
        raise SystemExit("--jobs and --minutes must be positive")
    if not args.queue.is_file():  # made here, without the (slow) cost estimates
        print(f"no queue at {args.queue}: making one (python scripts/gpu_queue.py does this "
              "beforehand, with cost estimates)", flush=True)  # fmt: skip
        gpu_queue.write_queue(gpu_queue.build_queue(costs=False), args.queue)
    return window(args)


if __name__ == "__main__":
    raise SystemExit(main())
