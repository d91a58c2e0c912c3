#!/usr/bin/env bash
# The README's test command: install everything the tests need into .venv (the tap and the
# test tools) and .venv-meltano (Meltano, which installs its plugins itself), then run lint,
# type checks and the whole test suite. Needs only python3 (>= 3.10) and pip.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ensure_tap_venv '.[test]'
ensure_meltano  # exports MELTANO_BIN for tests/test_meltano.py
ensure_postgres
ensure_prism  # tests/test_openapi_real.py
step ruff "ruff check" .venv/bin/ruff check tap_restoauth tests benchmarks scripts
step mypy "mypy" .venv/bin/mypy
if [ "${COVERAGE:-1}" = 0 ]; then
  .venv/bin/python -m pytest "$@"
  exit
fi
# Coverage of the tap, including the tap processes the tests start (pyproject.toml: patch =
# subprocess). It costs about a quarter more time; COVERAGE=0 bash scripts/test.sh skips it.
rm -rf .coverage-data && mkdir -p .coverage-data
.venv/bin/python -m coverage run -m pytest "$@"
.venv/bin/python -m coverage combine -q
echo "==> coverage of tap_restoauth, tap subprocesses included: $(.venv/bin/python -m coverage report --format=total)%" \
  "(details: .venv/bin/python -m coverage report -m)"
