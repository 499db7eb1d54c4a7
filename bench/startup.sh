#!/usr/bin/env bash
# Time `make run` from a fresh clone until /healthz answers 200: cold (new .venv, pip's
# cache disabled so every dependency downloads) and warm (everything installed).
# Usage: bash bench/startup.sh [port]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
port=${1:-8199}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work"
cd "$work"

time_until_healthy() {
  local start end pid
  start=$(date +%s.%N)
  PORT=$port setsid "$@" make run >"$work/run.log" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "make run exited:"; tail -5 "$work/run.log"; exit 1; }
    sleep 0.1
  done
  end=$(date +%s.%N)
  printf '%.1f' "$(echo "$end - $start" | bc)"
  kill -INT -- "-$pid" 2>/dev/null || true  # make and the server share a process group
  wait "$pid" 2>/dev/null || true
}

cold=$(time_until_healthy env PIP_NO_CACHE_DIR=1)
warm=$(time_until_healthy env)
echo "make run -> /healthz 200: cold ${cold} s (limit 180), warm ${warm} s (limit 10)"
