#!/usr/bin/env bash
# Set everything up, then run the linters and the whole test suite (real git, DVC, MLflow, dot).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# tests/team runs a real PostgreSQL server (initdb in a temp dir) under a team's `mlflow server`.
say() { printf '==> %s\n' "$*" >&2; }
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && ! command -v initdb >/dev/null; then
  say "installing PostgreSQL's server from the system packages (for tests/team)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if command -v apt-get >/dev/null; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  else
    echo "tests/team needs PostgreSQL's server (initdb, postgres) and no apt-get was found;" \
      "install it with your package manager (dnf install postgresql-server," \
      "brew install postgresql) and run this again" >&2
    exit 1
  fi
fi
# The Git LFS tests (tests/adapters/test_git_lfs.py, ...) run the real git-lfs.
if ! git lfs version >/dev/null 2>&1; then
  say "installing git-lfs from the system packages (for the Git LFS tests)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if command -v apt-get >/dev/null; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq git-lfs >/dev/null
  else
    echo "the Git LFS tests need git-lfs and no apt-get was found; install it with your" \
      "package manager (dnf install git-lfs, brew install git-lfs) and run this again" >&2
    exit 1
  fi
fi
if ! .venv/bin/python -c 'import psycopg2' 2>/dev/null; then
  say "installing psycopg2-binary into .venv (for tests/team)"
  .venv/bin/python -m pip install --quiet 'psycopg2-binary>=2.9' 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -c 'import psycopg2' || { echo "installing psycopg2-binary failed; see above" >&2; exit 1; }
fi

if ! .venv/bin/python -c 'import wandb' 2>/dev/null; then
  say "installing wandb into .venv (tests of W&B runs, offline)"
  .venv/bin/python -m pip install --quiet 'wandb>=0.31' 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -c 'import wandb' || { echo "installing wandb failed; see above" >&2; exit 1; }
fi

echo "==> ruff" >&2
.venv/bin/ruff check lineage tests bench
echo "==> mypy" >&2
.venv/bin/mypy lineage
echo "==> pytest" >&2
# loadgroup: the tests of one xdist_group (tests/team's server) run on one worker, the rest as usual.
exec .venv/bin/python -m pytest -n 2 --dist loadgroup -p no:cacheprovider --durations=25 "$@"
