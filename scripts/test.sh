#!/usr/bin/env bash
# The README's test command: install everything the tests need into .venv (the tap and the
# test tools) and .venv-meltano (Meltano, which installs its plugins itself), then run lint,
# type checks and the test suite on several workers (pytest-xdist). Needs python3 (>= 3.10,
# with venv) and pip; PostgreSQL comes from apt-get when it is missing.
#   bash scripts/test.sh                   # everything, as CI runs it
#   bash scripts/test.sh --quick           # without the end-to-end tier (@pytest.mark.e2e)
#   bash scripts/test.sh tests/test_x.py   # any pytest arguments
#   TEST_WORKERS=2 bash scripts/test.sh    # workers (default 4; 0 runs in this process)
#   COVERAGE=1 bash scripts/test.sh        # also the coverage of tap_restoauth (slower)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
quick=0
if [ "${1:-}" = --quick ]; then
  quick=1
  shift
fi
ensure_tap_venv '.[test]'
if [ "$quick" = 0 ]; then
  ensure_meltano  # exports MELTANO_BIN for tests/test_meltano.py
  ensure_postgres
  ensure_prism  # tests/test_openapi_real.py
fi
# Byte-compile the tap once: with PYTHONDONTWRITEBYTECODE set, every tap process the tests
# start would otherwise compile its ~90 modules again (~0.1 s each time).
.venv/bin/python -m compileall -q tap_restoauth
step ruff "ruff check" .venv/bin/ruff check tap_restoauth tests benchmarks scripts
step mypy "mypy" .venv/bin/mypy
# pytest keeps the test modules it rewrites (assertions) in __pycache__ only where bytecode may
# be written: without that, every worker rewrites all of them on every run (~3 s of CPU each).
unset PYTHONDONTWRITEBYTECODE
# Tests of one xdist_group (the Meltano project, installed once) stay on one worker.
args=(-n "${TEST_WORKERS:-4}" --dist loadgroup)
if [ "$quick" = 1 ]; then
  args+=(-m "not e2e")
fi
started=$(date +%s)
finish() {
  echo "==> tests$([ "$quick" = 1 ] && echo " (quick: no e2e)") took $(( $(date +%s) - started ))s"
}
if [ "${COVERAGE:-0}" != 1 ]; then
  .venv/bin/python -m pytest "${args[@]}" "$@"
  finish
  exit
fi
# Coverage of the tap, including the tap processes the tests start (pyproject.toml: patch =
# subprocess).
rm -rf .coverage-data && mkdir -p .coverage-data
.venv/bin/python -m coverage run -m pytest "${args[@]}" "$@"
finish
.venv/bin/python -m coverage combine -q
echo "==> coverage of tap_restoauth, tap subprocesses included: $(.venv/bin/python -m coverage report --format=total)%" \
  "(details: .venv/bin/python -m coverage report -m)"
