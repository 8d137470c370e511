#!/usr/bin/env bash
# The full suite: lint, types, unit + simulator + integration tests (root for integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python
echo "== ruff";  $PY -m ruff check carpd tests
echo "== mypy --strict carpd"; $PY -m mypy --strict carpd
echo "== pytest"; exec $PY -m pytest "$@"
