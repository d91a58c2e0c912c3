#!/usr/bin/env bash
# Install everything the tests need into .venv (and Meltano into .venv-meltano), then run
# lint, type checks and the whole test suite. Needs only python3 (>= 3.10) and pip.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install --quiet -e '.[test]'
.venv/bin/ruff check tap_restoauth tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
