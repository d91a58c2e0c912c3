#!/usr/bin/env bash
# The README's demo: install the tap and Meltano, start the local sandbox API (OAuth 2.0 client
# credentials, four streams), run `meltano run tap-restoauth target-jsonl`, print the records
# per stream next to the API's own counts, and stop the sandbox. Needs python3 (>= 3.10, with venv) and pip.
#   DEMO_PORT=8765 bash scripts/demo.sh   # a fixed port instead of a free one
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

ensure_tap_venv .
ensure_meltano
ensure_plugins tap-restoauth target-jsonl
out=output/demo
rm -rf "$out" && mkdir -p "$out"

port="${DEMO_PORT:-$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
.venv/bin/python -m tap_restoauth.sandbox --port "$port" >"$out/sandbox.json" 2>"$out/sandbox.log" &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  [ -s "$out/sandbox.json" ] && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$out/sandbox.log" >&2; exit 1; }
  sleep 0.2
done
url="http://127.0.0.1:$port"
echo "==> sandbox API on $url (client sandbox-client / sandbox-secret)"

export TAP_RESTOAUTH_API_URL="$url"
export TAP_RESTOAUTH_AUTH_TOKEN_URL="$url/oauth/token"
export TAP_RESTOAUTH_AUTH_CLIENT_SECRET=sandbox-secret  # the sandbox's public demo secret
export TARGET_JSONL_DESTINATION_PATH="$out"
started=$(date +%s%N)
if ! "$MELTANO_BIN" run --full-refresh tap-restoauth target-jsonl >"$out/meltano.log" 2>&1; then
  echo "==> meltano run --full-refresh tap-restoauth target-jsonl: FAILED (log: $out/meltano.log)" >&2
  grep -E "error|Error" "$out/meltano.log" | tail -n 20 >&2
  exit 1
fi
seconds=$(awk -v ns="$(( $(date +%s%N) - started ))" 'BEGIN { printf "%.1f", ns / 1e9 }')
echo "==> meltano run --full-refresh tap-restoauth target-jsonl (${seconds}s; log: $out/meltano.log, $(wc -l <"$out/meltano.log") lines)"

"$MELTANO_BIN" state get dev:tap-restoauth-to-target-jsonl >"$out/state.json" 2>/dev/null

.venv/bin/python - "$out" <<'PY'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
expected = json.loads((out / "sandbox.json").read_text())["counts"]
print(f"{'stream':<14}{'records':>9}{'API has':>9}")
ok = True
for stream, count in expected.items():
    path = out / f"{stream}.jsonl"
    got = sum(1 for _ in path.open()) if path.exists() else 0
    ok &= got == count
    print(f"{stream:<14}{got:>9}{count:>9}  {path}")
print("all records extracted" if ok else "MISMATCH: see the log")
print("bookmarks Meltano saved for the next, incremental run (meltano state get dev:tap-restoauth-to-target-jsonl):")
for stream, mark in json.loads((out / "state.json").read_text())["singer_state"]["bookmarks"].items():
    if "replication_key_value" in mark:
        print(f"  {stream}: {mark['replication_key']} >= {mark['replication_key_value']}")
sys.exit(0 if ok else 1)
PY
