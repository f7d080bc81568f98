#!/usr/bin/env bash
# Install what a GPU window brought back (scripts/gpu_window.sh) into results/ (REPROLIB_RESULTS
# if set), run folder by run folder; a folder holding a run of a different recipe is refused
# unless --force. Then `reprolib run <entry> --budget <b> --runs ... --seeds ...` (printed)
# evaluates the finished runs without training them again, and resumes the partial ones.
#
#   bash scripts/gpu_unpack.sh DIR [--force]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${REPROLIB_PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then REPROLIB_PYTHON=.venv/bin/python; else REPROLIB_PYTHON=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$REPROLIB_PYTHON" scripts/gpu_window.py unpack "$@"
