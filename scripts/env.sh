# Sourced by scripts/demo.sh and scripts/test.sh: the two virtual environments, created or
# updated as needed, from nothing but python3 (>= 3.10) with venv and pip.
#   .venv          the tap (editable) and the test tools
#   .venv-meltano  Meltano itself; it installs each plugin into .meltano/ with uv
MELTANO_VERSION=4.4.1
PYTHON="${PYTHON:-python3}"

require_python() {
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "error: Python >= 3.10 is needed; '$PYTHON' is $("$PYTHON" -V 2>&1 || echo missing)." \
      "Set PYTHON=/path/to/python3.x" >&2
    exit 1
  fi
}

# ensure_tap_venv SPEC: install the tap (editable) with SPEC's extras, e.g. '.[test]'.
ensure_tap_venv() {
  require_python
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet -e "$1"
}

# ensure_meltano: Meltano in .venv-meltano (skipped when the right version is there), then
# export MELTANO_BIN for the scripts and the tests.
ensure_meltano() {
  require_python
  if ! .venv-meltano/bin/meltano --version 2>/dev/null | grep -q " $MELTANO_VERSION\$"; then
    [ -x .venv-meltano/bin/python ] || "$PYTHON" -m venv .venv-meltano
    .venv-meltano/bin/python -m pip install --quiet "meltano==$MELTANO_VERSION"
  fi
  export MELTANO_BIN="$PWD/.venv-meltano/bin/meltano"
  export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
  # Meltano installs plugins with uv, which reads UV_INDEX_URL and not pip's configuration:
  # hand pip's index over when one is configured (a mirror), else uv uses PyPI like pip.
  if [ -z "${UV_INDEX_URL:-}${UV_DEFAULT_INDEX:-}" ]; then
    local index="${PIP_INDEX_URL:-}"
    [ -n "$index" ] || index="$(.venv-meltano/bin/python -m pip config get global.index-url 2>/dev/null || true)"
    if [ -n "$index" ]; then export UV_INDEX_URL="$index"; fi
  fi
}
