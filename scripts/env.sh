# Sourced by scripts/demo.sh and scripts/test.sh: the two virtual environments, created or
# updated only when what they are built from changed, from nothing but python3 (>= 3.10) with
# venv and pip. Each step prints one line with its time; its output goes to a log shown on failure.
#   .venv          the tap (editable) and the test tools
#   .venv-meltano  Meltano itself; it installs each plugin into .meltano/ with uv
MELTANO_VERSION=4.4.1
PYTHON="${PYTHON:-python3}"
LOGS=output/setup
# pip's version check and the build backend's warnings are not the user's to act on.
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

require_python() {
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "error: Python >= 3.10 is needed; '$PYTHON' is $("$PYTHON" -V 2>&1 || echo missing)." \
      "Set PYTHON=/path/to/python3.x" >&2
    exit 1
  fi
}

# step NAME DESCRIPTION COMMAND...: run COMMAND with its output in $LOGS/NAME.log and print
# "==> DESCRIPTION (3.2s)"; on failure print the end of the log and exit.
step() {
  local name="$1" description="$2"
  shift 2
  mkdir -p "$LOGS"
  local started
  started=$(date +%s%N)
  if ! "$@" >"$LOGS/$name.log" 2>&1; then
    echo "==> $description: FAILED (log: $LOGS/$name.log)" >&2
    tail -n 30 "$LOGS/$name.log" >&2
    exit 1
  fi
  echo "==> $description ($(awk -v ns="$(( $(date +%s%N) - started ))" 'BEGIN { printf "%.1fs", ns / 1e9 }'))"
}

# stamp_is_current NAME FILE...: true when the stamp .stamps/NAME holds the checksum of FILE...
# (the inputs of a step that is skipped when they did not change).
stamp_is_current() {
  local name="$1"
  shift
  [ -f ".stamps/$name" ] && [ "$(cat ".stamps/$name")" = "$(cat "$@" | cksum)" ]
}

stamp_write() {
  local name="$1"
  shift
  mkdir -p .stamps
  cat "$@" | cksum >".stamps/$name"
}

_install_tap() {
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet -e "$1"
}

# ensure_tap_venv SPEC: install the tap (editable) with SPEC's extras, e.g. '.[test]'; skipped
# when pyproject.toml and SPEC are what the last install used (code changes need no reinstall).
ensure_tap_venv() {
  require_python
  local spec="$1" stamp="tap-venv-${1//[^a-z]/}"
  if [ -x .venv/bin/python ] && printf '%s' "$spec" | stamp_is_current "$stamp" pyproject.toml -; then
    echo "==> tap in .venv is current (pyproject.toml unchanged)"
    return 0
  fi
  # The tap with its test tools (scripts/test.sh) also serves the demo's plain install.
  if [ "$spec" = . ] && [ -x .venv/bin/python ] && printf '%s' '.[test]' | stamp_is_current tap-venv-test pyproject.toml -; then
    echo "==> tap in .venv is current (pyproject.toml unchanged)"
    return 0
  fi
  step tap-venv "installing the tap into .venv (pip install -e '$spec')" _install_tap "$spec"
  printf '%s' "$spec" | stamp_write "$stamp" pyproject.toml -
}

_install_meltano() {
  [ -x .venv-meltano/bin/python ] || "$PYTHON" -m venv .venv-meltano
  .venv-meltano/bin/python -m pip install --quiet "meltano==$MELTANO_VERSION"
}

# ensure_meltano: Meltano in .venv-meltano (skipped when the right version is there), then
# export MELTANO_BIN for the scripts and the tests.
ensure_meltano() {
  require_python
  if [ -x .venv-meltano/bin/meltano ] && grep -qs "^Version: $MELTANO_VERSION\$" \
    .venv-meltano/lib/python3*/site-packages/meltano-"$MELTANO_VERSION".dist-info/METADATA; then
    echo "==> Meltano $MELTANO_VERSION in .venv-meltano is current"
  else
    step meltano-venv "installing Meltano $MELTANO_VERSION into .venv-meltano" _install_meltano
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

PRISM_VERSION=5.14
# ensure_prism: Stoplight Prism (npm @stoplight/prism-cli, 5.14.x: later versions need Node 24) in
# .prism/ for tests/test_openapi_real.py; skipped when installed, or when npm is absent (the tests
# then skip with a message saying so).
ensure_prism() {
  if [ -x .prism/node_modules/.bin/prism ]; then
    echo "==> Prism in .prism is current"
    return 0
  fi
  if ! command -v npm >/dev/null; then
    echo "==> npm not found: the Prism tests will be skipped"
    return 0
  fi
  step prism "installing Stoplight Prism $PRISM_VERSION into .prism (npm)" \
    npm install --no-audit --no-fund --prefix .prism "@stoplight/prism-cli@$PRISM_VERSION"
}

# ensure_plugins PLUGIN...: `meltano install PLUGIN...`, skipped when meltano.yml and
# pyproject.toml are unchanged since the last install of the same plugins.
ensure_plugins() {
  local stamp="plugins-$(printf '%s' "$*" | cksum | cut -d' ' -f1)"
  if [ -d .meltano ] && stamp_is_current "$stamp" meltano.yml pyproject.toml; then
    echo "==> Meltano plugins are current (meltano.yml unchanged): $*"
    return 0
  fi
  step meltano-install "meltano install $* (plugins go to .meltano/)" "$MELTANO_BIN" install "$@"
  stamp_write "$stamp" meltano.yml pyproject.toml
}

# ensure_postgres: Debian's postgresql package (PostgreSQL >= 15) for the target-postgres test,
# installed with apt-get when missing; without apt the test is skipped with a message.
_install_postgres() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq postgresql || { $sudo apt-get update -qq && $sudo apt-get install -y -qq postgresql; }
}

ensure_postgres() {
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "==> PostgreSQL is installed ($(ls -d /usr/lib/postgresql/*/ | xargs -n1 basename | sort -n | tail -n1))"
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "==> PostgreSQL is not installed and apt-get is unavailable: the target-postgres test is skipped"
    return 0
  fi
  step postgres "installing PostgreSQL (apt-get install postgresql)" _install_postgres
}
