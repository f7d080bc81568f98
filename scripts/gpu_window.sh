#!/usr/bin/env bash
# One command for a lent GPU window: train the study's queued runs for MINUTES, bring them back.
#
#   bash scripts/gpu_window.sh MINUTES [--dry-run] [--jobs K] [--queue FILE] [--limit N]
#
# On the GPU machine (a copy of this checkout, its python3 with torch/CUDA preinstalled, no
# network), with results/queue.csv (python scripts/gpu_queue.py) and the datasets it needs in
# .gpu_data/ (python scripts/gpu_queue.py --pack-data .gpu_data; carried with the call), and
# results/ set aside here for the call (python scripts/gpu_queue.py --slim; --restore after it:
# the committed results are larger than the 64 MiB a call carries):
#   (a) makes the project importable over the preinstalled torch (PYTHONPATH, installs nothing);
#   (b) runs the CUDA-marked tests (pytest -m cuda);
#   (c) trains the queue in priority order, K runs at a time on the one GPU, each stopping with
#       a checkpoint before the limit (scripts/gpu_window.py window);
#   (d) packs every finished or partial run folder into at most 7 runs-<k>.tar.gz under $OUT,
#       with $OUT/summary.txt (iterations done/total, wall time, last validation PSNR per run);
#   (e) prints the summary.
# MINUTES counts from this script's start, tests and packing included (a device call allows
# 10 minutes: use 9). Back here: bash scripts/gpu_unpack.sh <the folder the files came to>.
#
# --dry-run: the same on this CPU at the smoke budget, first 2 queue rows unless --limit, into a
# scratch REPROLIB_RESULTS and OUT unless they are set (CI: tests/test_gpu_window.py).
set -uo pipefail
started=$(date +%s)
cd "$(dirname "$0")/.."
minutes=${1:?usage: bash scripts/gpu_window.sh MINUTES [--dry-run] [--jobs K] [--queue FILE]}
shift
dry=0
limit=""
for a in "$@"; do
  [ "$a" = --dry-run ] && dry=1
  [ "$a" = --limit ] && limit=given
done

# (a) the project over the preinstalled torch: nothing to install (papermill is not needed)
if [ -z "${REPROLIB_PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then REPROLIB_PYTHON=.venv/bin/python; else REPROLIB_PYTHON=python3; fi
fi
PY=$REPROLIB_PYTHON
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if [ -z "${REPROLIB_DATA:-}" ] && [ -f .gpu_data/MANIFEST.json ]; then
  export REPROLIB_DATA="$PWD/.gpu_data"
fi
extra=()
if [ "$dry" = 1 ]; then
  export REPROLIB_RESULTS="${REPROLIB_RESULTS:-$(mktemp -d)}"
  OUT="${OUT:-$(mktemp -d)}"
  [ -z "$limit" ] && extra+=(--limit 2)
fi
if [ -z "${OUT:-}" ]; then
  echo "gpu_window.sh: set OUT to the folder whose files come back" >&2
  exit 2
fi
mkdir -p "$OUT"
echo "== (a) environment ($((SECONDS))s)"
"$PY" -c "import sys, torch, reprolib.train; c = torch.cuda.is_available(); \
print('torch', torch.__version__, '|', torch.cuda.get_device_name() if c else 'no CUDA'); \
sys.exit(0 if c or $dry else 3)"
rc=$?
if [ "$rc" = 3 ]; then
  echo "gpu_window.sh: no CUDA device here (use --dry-run on a CPU)" >&2
  exit 1
elif [ "$rc" != 0 ]; then
  echo "gpu_window.sh: the project does not import over this python ($PY)" >&2
  exit 1
fi
echo "data: ${REPROLIB_DATA:-default data root}; results: ${REPROLIB_RESULTS:-results/}; out: $OUT"

echo "== (b) CUDA tests ($((SECONDS))s)"
mapfile -t files < <(grep -l 'mark\.cuda' tests/*.py)
if [ "${#files[@]}" = 0 ]; then
  tests="none found"
elif timeout 120 "$PY" -m pytest -m cuda -q -p no:cacheprovider "${files[@]}"; then
  tests="passed"
else
  tests="FAILED or skipped (exit $?): check the output above"
fi
[ "$dry" = 1 ] && tests="$tests (dry run: every CUDA test skips on a CPU)"

echo "== (c) queue, (d) pack, (e) summary ($((SECONDS))s)"
# the limit counts from this script's start on the GPU (a device call has a hard limit); in a
# dry run from the driver's (a busy CPU can spend most of a minute importing and collecting)
[ "$dry" = 1 ] || extra+=(--started "$started")
"$PY" scripts/gpu_window.py window --minutes "$minutes" --out "$OUT" --tests "$tests" "$@" \
  "${extra[@]}"
