#!/usr/bin/env bash
# Time from process start to the first 200 from /ready, with an empty SQLite data directory (migrations included).
# Bar: median < 2 s.   Usage: bench/startup.sh   env: RUNS (default 7) PORT SKIP_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-7}
PORT=${PORT:-18081}
BASE="http://127.0.0.1:$PORT"
DLL=src/Slipway.Server/bin/Release/net10.0/Slipway.Server.dll

for tool in curl dotnet; do
    command -v "$tool" >/dev/null || { echo "missing '$tool'" >&2; exit 2; }
done
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    echo "building Release..."
    dotnet build src/Slipway.Server/Slipway.Server.csproj -c Release -nologo -v q >/dev/null
fi

SERVER_PID=
DATA=
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    [[ -n "$DATA" ]] && rm -rf "$DATA"
    SERVER_PID=
    DATA=
}
trap cleanup EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
times=()
for run in $(seq 1 "$RUNS"); do
    DATA=$(mktemp -d /tmp/slipway-startup-XXXXXX)
    start=$(date +%s%N)
    # The router gets a free port: its default (127.0.0.1:8000) may be taken by another server on this machine.
    Slipway__DataDirectory="$DATA" Slipway__Router__Urls=http://127.0.0.1:0 dotnet "$DLL" --urls "$BASE" >"$DATA/server.log" 2>&1 &
    SERVER_PID=$!
    ready=
    for _ in $(seq 1 3000); do
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/ready" 2>/dev/null || true)" == 200 ]]; then ready=$(date +%s%N); break; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited:" >&2; cat "$DATA/server.log" >&2; exit 1; }
        sleep 0.005
    done
    [[ -n "$ready" ]] || { echo "run $run: never ready" >&2; exit 1; }
    [[ -f "$DATA/slipway.db" ]] || { echo "run $run: no database was created" >&2; exit 1; }
    ms=$(( (ready - start) / 1000000 ))
    times+=("$ms")
    echo "run $run: ${ms} ms"
    cleanup
done

MEDIAN=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }')
echo "median start-to-ready: ${MEDIAN} ms over $RUNS runs (bar < 2000 ms)"
if (( MEDIAN < 2000 )); then echo "PASS"; else echo "FAIL"; exit 1; fi
