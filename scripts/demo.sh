#!/usr/bin/env bash
# The live demo: installs what it needs, then runs two carpd servers in network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py
