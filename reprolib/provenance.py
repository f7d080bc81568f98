"""Where and how a result was produced: hardware, software, commit, time.

Every CSV the study writes carries these fields next to its numbers (honesty rule: the budget
and hardware stand beside each measurement).
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(device: str | torch.device = "cpu") -> str:
    """A one-line description, e.g. ``'cpu: 2 threads, Intel Xeon ...'`` or the GPU name."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    return f"cpu: {torch.get_num_threads()} threads, {cpu_name()}"


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def stamp(device: str | torch.device = "cpu") -> dict[str, str]:
    """Fields recorded with every result file."""
    return {
        "hardware": hardware(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "commit": git_commit(),
        "host_cpus": str(os.cpu_count()),
        "finished_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
