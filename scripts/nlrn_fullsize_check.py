"""Full-size NLRN inference check: one 1024x768 grey image through NLRN (C=128, T=12, q=45).

Shows that the blocked neighbourhood attention (reprolib.models.attention) keeps full-size test
images (Urban100 is ~1024x768) within a CPU machine's memory, correlation propagation included:
the carried logits are one [1, 2025, 768, 1024] float32 buffer (6.4 GB), updated in place.
Prints the wall time and the peak resident memory of the process. Not part of the test suite
(it takes minutes on two CPU cores).

    python scripts/nlrn_fullsize_check.py [--height 768 --width 1024 --steps 12 --tile 16]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import torch

from reprolib.models import build, conv_weight_params


def peak_rss_gib() -> float:
    """Peak resident set size of this process in GiB (Linux reports ru_maxrss in KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (1024**2 if sys.platform != "darwin" else 1024**3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=768)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--q", type=int, default=45)
    parser.add_argument("--tile", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    # zero_init_g=False: g != 0 so that the attention output really enters the features.
    model = build("nlrn", steps=args.steps, q=args.q, tile=args.tile, zero_init_g=False)
    model = model.to(args.device).eval()
    x = torch.rand(1, 1, args.height, args.width, device=args.device)
    print(
        f"NLRN C=128 T={args.steps} q={args.q} tile={args.tile}: "
        f"{conv_weight_params(model):,} conv weights; input {tuple(x.shape)}; "
        f"{torch.get_num_threads()} threads; rss before {peak_rss_gib():.2f} GiB",
        flush=True,
    )
    t0 = time.perf_counter()
    with torch.no_grad():  # the forward flushes denormals on CPU under no_grad
        y = model(x)
    if y.is_cuda:
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    finite = bool(torch.isfinite(y).all())
    print(f"output {tuple(y.shape)}, finite={finite}")
    print(f"time {dt:.1f} s; peak RSS {peak_rss_gib():.2f} GiB")
    if y.is_cuda:
        print(f"peak CUDA memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    return 0 if finite and y.shape == x.shape else 1


if __name__ == "__main__":
    raise SystemExit(main())
