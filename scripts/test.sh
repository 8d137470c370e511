#!/usr/bin/env bash
# The full suite: lint, types, unit + simulator + integration tests (root for integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python
# Debian 12's own python3-pyroute2 (0.7.2, no asyncio API) is the oldest version we claim:
# unpack it beside the venv so the netlink adapter is tested against it as well.
old=.venv/debian-pyroute2
if [ ! -d "$old/usr/lib/python3/dist-packages/pyroute2" ]; then
    rm -rf "$old" && mkdir -p "$old"
    (cd "$old" && apt-get download -q python3-pyroute2 >/dev/null 2>&1 \
        && dpkg -x python3-pyroute2_*.deb .) || echo "test.sh: could not fetch python3-pyroute2"
fi
[ -d "$old/usr/lib/python3/dist-packages/pyroute2" ] && \
    export CARPD_PYROUTE2_072="$PWD/$old/usr/lib/python3/dist-packages"
echo "== ruff";  $PY -m ruff check carpd tests scripts bench
echo "== mypy --strict carpd"; $PY -m mypy --strict carpd
# two workers (pytest-xdist), a test module at a time: tests/conftest.py says why
echo "== pytest"; exec $PY -m pytest -n "${CARPD_TEST_WORKERS:-2}" --dist loadfile "$@"
