#!/usr/bin/env bash
# Set up everything lineage needs on a fresh machine: a virtualenv in .venv with lineage and its
# dev tools installed (editable), and Graphviz's `dot` from the system package manager.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "lineage needs Python 3.11 or newer as '$PYTHON'; install it or set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
command -v git >/dev/null || { echo "lineage needs git; install it first (apt-get install git)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.lineage-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing lineage and its dependencies into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -m pip install --quiet -e ".[dev]" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -c 'import lineage, mlflow, dvc, pygit2, sklearn' \
    || { echo "installing Python packages failed; see the pip output above" >&2; exit 1; }
  touch "$stamp"
fi

if ! command -v dot >/dev/null; then
  say "installing Graphviz (dot) from the system package manager"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if command -v apt-get >/dev/null; then
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq graphviz >/dev/null
  elif command -v dnf >/dev/null; then $SUDO dnf install -y graphviz
  elif command -v brew >/dev/null; then brew install graphviz
  else echo "Graphviz's dot is missing and no known package manager was found; install graphviz" >&2; exit 1
  fi
fi
say "ready: $(.venv/bin/lineage --version), $(dot -V 2>&1)"
