#!/usr/bin/env bash
# Throughput of an authenticated API read against the cheapest anonymous endpoint, on loopback.
#   (a) GET /api/v1/projects/{id} with an API key (projects:read)   (b) GET /ready
# Bar: req/s(a) / req/s(b) >= 0.4 and p99(a) < 10 ms at 32 connections.
# Usage: bench/api.sh            env: PORT DURATION CONNECTIONS THREADS WARMUP SKIP_BUILD=1
# Rate limiting stays on (its cost is part of (a)) with a bucket no run can empty: wrk sends ~10^6 requests with one key.
# Extra server settings can be passed as Slipway__... env vars.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-18080}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
# Tiered JIT needs well over 10 s of load to settle on 2 busy cores; measuring earlier reports start-up, not steady state.
WARMUP=${WARMUP:-15s}
BASE="http://127.0.0.1:$PORT"
DLL=src/Slipway.Server/bin/Release/net10.0/Slipway.Server.dll

for tool in wrk curl jq dotnet; do
    command -v "$tool" >/dev/null || { echo "missing '$tool' (apt-get install -y wrk curl jq)" >&2; exit 2; }
done

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    echo "building Release..."
    dotnet build src/Slipway.Server/Slipway.Server.csproj -c Release -nologo -v q >/dev/null
fi

DATA=$(mktemp -d /tmp/slipway-bench-XXXXXX)
SERVER_PID=
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$DATA"
}
trap cleanup EXIT

export Slipway__RateLimits__Standard__RequestsPerMinute=${Slipway__RateLimits__Standard__RequestsPerMinute:-1000000000}
export Slipway__RateLimits__Standard__Burst=${Slipway__RateLimits__Standard__Burst:-1000000000}
Slipway__DataDirectory="$DATA" dotnet "$DLL" --urls "$BASE" >"$DATA/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/ready" || true)" == 200 ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited:" >&2; cat "$DATA/server.log" >&2; exit 1; }
    sleep 0.1
done
[[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/ready")" == 200 ]] || { echo "server never became ready" >&2; exit 1; }

post() { # path json [token] -> body; fails on non-2xx
    curl -sf -X POST "$BASE$1" -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} -d "$2"
}
JWT=$(post /api/v1/auth/register "{\"email\":\"bench-$RANDOM@example.test\",\"name\":\"Bench\",\"password\":\"correct horse battery\"}" | jq -r .token)
PROJECT=$(post /api/v1/projects "{\"name\":\"bench-$RANDOM\",\"repo_url\":\"https://example.com/acme/app.git\"}" "$JWT" | jq -r .id)

KEY_STATUS=$(curl -s -o "$DATA/key.json" -w '%{http_code}' -X POST "$BASE/api/v1/api-keys" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $JWT" -d '{"name":"bench","scopes":["projects:read"]}')
if [[ "$KEY_STATUS" == 201 || "$KEY_STATUS" == 200 ]]; then
    TOKEN=$(jq -r .key "$DATA/key.json")
    CREDENTIAL="API key (projects:read)"
elif [[ "$KEY_STATUS" == 404 ]]; then
    TOKEN=$JWT
    CREDENTIAL="user JWT"
    echo "NOTE: POST /api/v1/api-keys returned 404 (not on this branch): benchmarking with the user JWT instead of an API key."
else
    echo "creating the API key failed with HTTP $KEY_STATUS: $(cat "$DATA/key.json")" >&2
    exit 1
fi
[[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/projects/$PROJECT")" == 200 ]] \
    || { echo "GET project with the $CREDENTIAL does not return 200" >&2; exit 1; }

run_wrk() { # name url [auth header]
    local name=$1 url=$2 out=$DATA/wrk-$1.txt
    local header=()
    [[ -n "${3:-}" ]] && header=(-H "$3")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "${header[@]}" "$url" >/dev/null
    local cpu0 cpu1
    cpu0=$(server_cpu)
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${header[@]}" "$url" >"$out"
    cpu1=$(server_cpu)
    # Server CPU time per request: much less sensitive than req/s to other work on a shared machine.
    awk -v a="$cpu0" -v b="$cpu1" -v n="$(awk '/requests in/ { print $1 }' "$out")" 'BEGIN { printf "%.0f", (b - a) * 1e6 / n }' >"$DATA/cpu-$name"
    if grep -q "Non-2xx" "$out"; then
        echo "WARNING ($name): $(grep 'Non-2xx' "$out" | xargs) - the figures are not for successful requests" >&2
    fi
}
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"; }
rps() { awk '/^Requests\/sec:/ { print $2 }' "$DATA/wrk-$1.txt"; }
p() { # name percentile -> milliseconds
    awk -v want="$2%" '
        /Latency Distribution/ { on = 1; next }
        on && $1 == want {
            v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
            if (unit == "us") v /= 1000; else if (unit == "s") v *= 1000; else if (unit == "m") v *= 60000
            printf "%.2f", v; exit
        }' "$DATA/wrk-$1.txt"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk: $THREADS threads, $CONNECTIONS connections, $DURATION per endpoint after a $WARMUP warm-up, loopback"
run_wrk project "$BASE/api/v1/projects/$PROJECT" "Authorization: Bearer $TOKEN"
run_wrk ready "$BASE/ready"

A=$(rps project); B=$(rps ready); P99=$(p project 99); P50=$(p project 50); RP99=$(p ready 99)
RATIO=$(awk -v a="$A" -v b="$B" 'BEGIN { printf "%.2f", a / b }')
echo
printf '(a) GET /api/v1/projects/{id} [%s]: %8.0f req/s  p50 %7s ms  p99 %7s ms  server CPU %5s us/request\n' \
    "$CREDENTIAL" "$A" "$P50" "$P99" "$(cat "$DATA/cpu-project")"
printf '(b) GET /ready [anonymous]: %8.0f req/s  p50 %7s ms  p99 %7s ms  server CPU %5s us/request\n' \
    "$B" "$(p ready 50)" "$RP99" "$(cat "$DATA/cpu-ready")"
echo "ratio a/b: $RATIO (bar >= 0.4)   p99(a): $P99 ms (bar < 10 ms)"
if awk -v r="$RATIO" -v p="$P99" 'BEGIN { exit !(r >= 0.4 && p < 10) }'; then
    echo "PASS"
else
    echo "FAIL"
    exit 1
fi
