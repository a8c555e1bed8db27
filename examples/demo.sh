#!/usr/bin/env bash
# lineage's main job on a throwaway project: build the churn example as a git + DVC repo with a
# local DVC remote and an MLflow SQLite store, train it twice under `lineage run`, register both
# model versions, point the `champion` alias at the second, then ask lineage what produced it
# and rebuild it from its recorded code and data, and audit the aliased models.
# Usage: bash examples/demo.sh [DIR]   (expects lineage, dvc and mlflow on PATH, e.g. .venv/bin)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo_root=$(cd "$here/.." && pwd)
if [ -x "$repo_root/.venv/bin/lineage" ]; then export PATH="$repo_root/.venv/bin:$PATH"; fi

demo=${1:-$(mktemp -d "${TMPDIR:-/tmp}/lineage-demo-XXXXXX")}
mkdir -p "$demo"
demo=$(cd "$demo" && pwd)
if [ -e "$demo/project" ]; then
  echo "demo: $demo/project already exists; give an empty or new directory" >&2
  exit 1
fi

step() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

export MLFLOW_TRACKING_URI="sqlite:///$demo/mlflow.db"
export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-"Demo User"} GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-demo@example.com}
export GIT_COMMITTER_NAME=${GIT_COMMITTER_NAME:-"Demo User"} GIT_COMMITTER_EMAIL=${GIT_COMMITTER_EMAIL:-demo@example.com}
export DVC_NO_ANALYTICS=1 PYTHONWARNINGS=ignore

step "A project with code in git, data in DVC (local remote), runs in MLflow ($demo)"
cp -R "$here/churn" "$demo/project"
cd "$demo/project"
run git init -q -b main
run git init -q --bare "$demo/origin.git"
run git remote add origin "$demo/origin.git"
run dvc init -q
run dvc remote add -q -d storage "$demo/dvc-remote"
run python generate_data.py --rows 5000 --seed 7
run dvc add -q data/raw/customers.csv
# Artifacts next to the store, not in the project: MLflow would default to ./mlruns.
python - <<PY
import logging, mlflow
logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("alembic").setLevel(logging.WARNING)
mlflow.MlflowClient().create_experiment("churn", artifact_location="file://$demo/mlartifacts")
PY
run lineage init
# The metric `lineage log` shows for each run.
sed -i.bak 's/^main = ""/main = "roc_auc"/' .lineage/config.toml && rm -f .lineage/config.toml.bak
run git add -A
run git commit -q -m "Churn model: pipeline, params and raw data"

step "Train v1 under lineage (dvc repro runs prepare + train; train.py registers churn-model)"
run lineage run -- dvc repro -q
run git add -A
run git commit -q -m "Train churn model v1"
run dvc push -q

step "Train v2 with deeper trees"
sed -i.bak 's/max_depth: 6/max_depth: 12/' params.yaml && rm -f params.yaml.bak
run git commit -q -am "Deeper trees (max_depth 12)"
run lineage run -- dvc repro -q
run git add -A
run git commit -q -m "Train churn model v2"
run dvc push -q
run git push -q origin main

step "Promote v2: alias champion"
python - <<'PY'
import logging, mlflow
logging.getLogger("mlflow").setLevel(logging.WARNING)
client = mlflow.MlflowClient()
client.set_registered_model_alias("churn-model", "champion", "2")
print("$ (MLflow) churn-model@champion -> version 2")
PY

step "What has lineage recorded?"
run lineage log

step "What exactly produced the champion?"
run lineage show churn-model@champion

step "Draw where the champion came from"
run lineage graph churn-model@champion -o "$demo/champion-provenance.svg"
echo "provenance of churn-model@champion drawn to $demo/champion-provenance.svg"

step "Can we rebuild it? Rerun its recorded code, data and command in a separate worktree"
run lineage reproduce churn-model@champion

step "Audit every model version that holds an alias (what CI would run)"
run lineage audit

printf '\nThe demo project is in %s/project (MLflow store: %s).\n' "$demo" "$MLFLOW_TRACKING_URI"
