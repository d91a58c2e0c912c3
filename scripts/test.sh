#!/usr/bin/env bash
# The README's test command: install everything the tests need into .venv (the tap and the
# test tools) and .venv-meltano (Meltano, which installs its plugins itself), then run lint,
# type checks and the whole test suite. Needs only python3 (>= 3.10) and pip.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
require_python
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
ensure_tap_venv '.[test]'
ensure_meltano  # exports MELTANO_BIN for tests/test_meltano.py
.venv/bin/ruff check tap_restoauth tests benchmarks scripts
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
