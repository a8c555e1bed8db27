#!/usr/bin/env bash
# Set everything up, then run the linters and the whole test suite (real git, DVC, MLflow, dot).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> ruff" >&2
.venv/bin/ruff check lineage tests bench
echo "==> mypy" >&2
.venv/bin/mypy lineage
echo "==> pytest" >&2
exec .venv/bin/python -m pytest -n 2 -p no:cacheprovider "$@"
