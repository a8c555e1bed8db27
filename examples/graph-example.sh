#!/usr/bin/env bash
# Regenerate docs/images/graph-example.png from a real project: the demo (two trainings, v2 is
# champion), then a third training from a dirty tree (a snapshot commit) that becomes
# `challenger`, and a reproduction of v1; then draw where the challenger came from.
# Usage: bash examples/graph-example.sh [OUTPUT.png]   (needs Graphviz's dot)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo_root=$(cd "$here/.." && pwd)
out=$(realpath -m "${1:-$repo_root/docs/images/graph-example.png}")
if [ -x "$repo_root/.venv/bin/lineage" ]; then export PATH="$repo_root/.venv/bin:$PATH"; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/lineage-graph-example-XXXXXX")
log="$work/steps.log"
trap 'status=$?; [ $status -eq 0 ] || cat "$log" >&2; rm -rf "$work"' EXIT
bash "$here/demo.sh" "$work" >"$log" 2>&1
export MLFLOW_TRACKING_URI="sqlite:///$work/mlflow.db" PYTHONWARNINGS=ignore DVC_NO_ANALYTICS=1
export GIT_AUTHOR_NAME="Demo User" GIT_AUTHOR_EMAIL=demo@example.com
export GIT_COMMITTER_NAME="Demo User" GIT_COMMITTER_EMAIL=demo@example.com
cd "$work/project"

# Train v3 without committing the change first: lineage snapshots the dirty tree.
sed -i.bak 's/max_depth: 12/max_depth: 8/' params.yaml && rm -f params.yaml.bak
lineage run -- dvc repro -q >>"$log" 2>&1
python - >>"$log" 2>&1 <<'PY'
import logging, mlflow
logging.getLogger("mlflow").setLevel(logging.WARNING)
mlflow.MlflowClient().set_registered_model_alias("churn-model", "challenger", "3")
PY
# Rebuild v1 (whose prepared data v3 reused) and record the verdict.
lineage reproduce churn-model/1 -y >>"$log" 2>&1

mkdir -p "$(dirname "$out")"
lineage graph churn-model@challenger -o "$out"
