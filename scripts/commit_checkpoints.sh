#!/usr/bin/env bash
# Keep unfinished training runs resumable across machines and sessions: checkpoint.pt files are
# ignored by git (results/**/checkpoint.pt), so before stopping, stage the checkpoint of every
# run that has not finished (no model.pt yet) and unstage those of finished runs.
#
#   bash scripts/commit_checkpoints.sh          # then: git commit -m "..."
set -euo pipefail
cd "$(dirname "$0")/.."
root="${REPROLIB_RESULTS:-results}"
find "$root" -name checkpoint.pt -not -path "*/smoke/*" | sort | while read -r ckpt; do
    run="$(dirname "$ckpt")"
    if [[ -f "$run/model.pt" ]]; then
        git rm -q --cached --ignore-unmatch "$ckpt"
    else
        git add -f "$ckpt" "$run"/log.csv 2>/dev/null || git add -f "$ckpt"
        echo "staged $ckpt ($(du -h "$ckpt" | cut -f1))"
    fi
done
