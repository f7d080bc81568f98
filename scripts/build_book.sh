#!/usr/bin/env bash
# Build the Jupyter Book into _build/html, fully offline-capable.
#
#   bash scripts/build_book.sh            (expects the venv's bin on PATH: jupyter-book)
#
# 1. vendor MathJax / RequireJS / the widget manager (skipped when up to date);
# 2. jupyter-book build with warnings as errors (-W), nitpicky references (-n) and
#    --keep-going (report every warning, then fail).
# Notebooks are never executed (execute_notebooks: off in _config.yml).
# Extra arguments are passed to `jupyter-book build` (e.g. --all for a clean rebuild).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

command -v jupyter-book >/dev/null || {
    echo "build_book: jupyter-book not on PATH (pip install -e '.[book]'; put .venv/bin on PATH)" >&2
    exit 1
}

start=$SECONDS
bash scripts/vendor_book_assets.sh
jupyter-book build . --path-output . -W -n --keep-going "$@"
echo "build_book: done in $((SECONDS - start)) s -> $ROOT/_build/html/index.html"
