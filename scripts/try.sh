#!/usr/bin/env bash
# Try a recipe offline: start its local emulator (tests/api_zoo), run examples/NAME.json against
# it with the emulator's test credentials in place of the sm:// secrets, print records per stream.
#   bash scripts/try.sh stripe     # one recipe
#   bash scripts/try.sh all        # every recipe
# Needs the tap in .venv (bash scripts/demo.sh or scripts/test.sh made it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "try: no .venv here yet: run bash scripts/demo.sh first (it installs the tap)" >&2
  exit 1
fi
export NO_GCE_CHECK=true GCE_METADATA_HOST=127.0.0.1:9 GCE_METADATA_IP=127.0.0.1:9
exec .venv/bin/python -m tests.api_zoo.recipes "$@"
