"""Benchmark every main model: size, depth, FLOPs per pixel, CPU time and peak memory.

Writes ``<results root>/bench/models.csv``. Each model runs in its own subprocess so that the peak
resident memory (``ru_maxrss``) is that model's alone. Times are the median of a few
inference passes (``torch.no_grad``, float32, batch 1, single-channel input, or RGB for
MemoryNet) after one warm-up pass, on this machine's CPU with all its threads; a model whose
first pass takes longer than ``SLOW_S`` is timed by that pass alone. The 1-minute load average
is recorded beside each row: timings taken on a busy machine are slower than on an idle one.

    python scripts/bench_models.py                 # every model in MODELS
    python scripts/bench_models.py --models nlrn   # a subset (merged into the CSV)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from reprolib import claims

REPO = Path(__file__).resolve().parents[1]
SLOW_S = 20.0  # a first pass slower than this is the timing (NLRN attention at 512 px)
OUT = claims.results_root() / "bench" / "models.csv"
# Registry names; RED30 is benchmarked as released (128 channels), as in the papers' tables.
MODELS = {
    "dncnn17": {},
    "vdsr": {},
    "red10": {"channels": 128},
    "red20": {"channels": 128},
    "red30": {"channels": 128},
    "memnet_m4r6": {},
    "memnet_m6r6": {},
    "memnet_m6r8": {},
    "memnet_m10r10": {},
    "nlrn": {},
    "memorynet": {},
}
COLUMNS = [
    "model", "kwargs", "conv_weight_params", "params_total", "depth", "flops_per_pixel",
    "cpu_s_256", "cpu_s_512", "peak_mem_mb", "threads", "load_avg_1min", "hardware",
]  # fmt: skip


def bench_one(name: str, kwargs: dict, repeats: int) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from reprolib import models, provenance

    torch.set_flush_denormal(True)
    model = models.build(name, **kwargs).eval()
    channels = 3 if name.startswith("memorynet") else 1
    # Counted with autograd on: the counter's module hooks fail on parameter views made under
    # no_grad (MemoryNet's prototypes). The count is the forward pass either way.
    with FlopCounterMode(display=False) as counter:
        model(torch.rand(1, channels, 64, 64))
    flops = counter.get_total_flops() / (64 * 64)
    times = {}
    for size in (256, 512):
        x = torch.rand(1, channels, size, size)
        with torch.no_grad():
            t0 = time.perf_counter()
            model(x)  # warm-up; a model slower than SLOW_S is timed by this one pass
            runs = [time.perf_counter() - t0]
            for _ in range(repeats if runs[0] < SLOW_S else 0):
                t0 = time.perf_counter()
                model(x)
                runs.append(time.perf_counter() - t0)
        times[size] = sorted(runs[1:] or runs)[len(runs[1:] or runs) // 2]
    return {
        "model": name,
        "kwargs": json.dumps(kwargs, sort_keys=True),
        "conv_weight_params": models.conv_weight_params(model),
        "params_total": models.total_params(model),
        "depth": getattr(model, "depth", ""),
        "flops_per_pixel": round(flops),
        "cpu_s_256": round(times[256], 4),
        "cpu_s_512": round(times[512], 4),
        "peak_mem_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "threads": torch.get_num_threads(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "hardware": provenance.hardware(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one model, print JSON
    args = p.parse_args()
    if args.one:
        print(json.dumps(bench_one(args.one, MODELS[args.one], args.repeats)))
        return

    for name in args.models:
        print(f"benchmarking {name} ...", flush=True)
        res = subprocess.run(
            [sys.executable, __file__, "--one", name, "--repeats", str(args.repeats)],
            capture_output=True, text=True, cwd=REPO,
        )  # fmt: skip
        if res.returncode != 0:
            print(res.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"benchmark of {name} failed (rows of earlier models are kept)")
        row = json.loads(res.stdout.strip().splitlines()[-1])
        print(f"  {row}", flush=True)
        merge([row])
    print(pd.read_csv(OUT).to_string(index=False))


def merge(rows: list[dict]) -> None:
    """Add rows to the CSV, replacing earlier rows of the same models."""
    new = pd.DataFrame(rows, columns=COLUMNS)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if OUT.exists():
        old = pd.read_csv(OUT)
        new = pd.concat([old[~old["model"].isin(new["model"])], new], ignore_index=True)
    new.to_csv(OUT, index=False)


if __name__ == "__main__":
    main()
