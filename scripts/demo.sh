#!/usr/bin/env bash
# Set everything up, then run lineage's main job on a throwaway example project:
# git + DVC (local remote) + MLflow (SQLite), trained twice, registered, aliased, inspected.
# Usage: bash scripts/demo.sh [DIR]   (default: a new temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec bash examples/demo.sh "$@"
