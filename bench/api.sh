#!/usr/bin/env bash
# Throughput of the hot authenticated API reads against the cheapest anonymous endpoint, in one run on loopback:
#   GET /ready (the reference)
#   GET /api/v1/projects/{id} with an API key, for a project without a live release and for one whose live release is a static site
#   the same read of the static-site project with a user JWT
#   GET /api/v1/projects and GET /api/v1/deployments?project_id= with the API key, 25 items a page
# Bars: key reads >= 0.6x /ready, JWT read >= 0.5x, lists >= 0.25x, every p99 <= 10 ms (32 connections, rate limits off).
# Usage: bench/api.sh            env: DURATION CONNECTIONS THREADS WARMUP SKIP_BUILD=1 (ports are picked free)
set -euo pipefail
source "$(dirname "$0")/engine-common.sh"

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
# Tiered JIT needs well over 10 s of load to settle on 2 busy cores; measuring earlier reports start-up, not steady state.
WARMUP=${WARMUP:-15s}

need_tools wrk curl jq git dotnet python3
build_server
# The rate limiter is not what this measures (and one key sends ~10^6 requests).
export Slipway__RateLimits__Enabled=false
start_server

init_repo
echo '<h1>bench</h1>' >"$WORK/src/index.html"
git -C "$WORK/src" add -A
git -C "$WORK/src" -c user.email=bench@example.test -c user.name=Bench commit -q -m static
git -C "$WORK/src" push -q origin main

JWT=$(api POST /api/v1/auth/register "{\"email\":\"bench-$RANDOM@example.test\",\"name\":\"Bench\",\"password\":\"correct horse battery\"}" | jq -r .token)
TOKEN=$JWT
project() { api POST /api/v1/projects "$(jq -n --arg name "$1" --arg repo "$REPO" --arg framework "$2" '{name: $name, repo_url: $repo, framework: $framework}')" | jq -r .id; }
PLAIN=$(project plain static)
SITE=$(project site static)
for i in $(seq 1 24); do project "filler-$i" static >/dev/null; done
DEPLOYMENT=$(api POST /api/v1/deployments "{\"project_id\":\"$SITE\"}" | jq -r .id)
wait_status "$DEPLOYMENT" ready 120 0.2
# 24 more deployments of the site's project (a missing branch: they fail at once), so its list has a full page.
for _ in $(seq 1 24); do api POST /api/v1/deployments "{\"project_id\":\"$SITE\",\"branch\":\"missing\"}" >/dev/null; done
for _ in $(seq 1 600); do
    [[ "$(api GET "/api/v1/deployments?project_id=$SITE&status=queued" | jq '.data | length')" == 0 \
       && "$(api GET "/api/v1/deployments?project_id=$SITE&status=building" | jq '.data | length')" == 0 ]] && break
    sleep 0.2
done
KEY=$(api POST /api/v1/api-keys '{"name":"bench","scopes":["projects:read","deployments:read"]}' | jq -r .key)
[[ "$(api GET "/api/v1/projects/$SITE" | jq -r .live_status)" == running ]] || { echo "the static site is not live" >&2; exit 1; }
[[ "$(TOKEN=$KEY api GET "/api/v1/deployments?project_id=$SITE" | jq '.data | length')" == 25 ]] || { echo "the deployments page is not 25 items" >&2; exit 1; }
[[ "$(TOKEN=$KEY api GET /api/v1/projects | jq '.data | length')" == 25 ]] || { echo "the projects page is not 25 items" >&2; exit 1; }

server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"; }
run_wrk() { # name path [token]
    local name=$1 url=$BASE$2 out=$WORK/wrk-$1.txt cpu0 cpu1
    local header=()
    [[ -n "${3:-}" ]] && header=(-H "Authorization: Bearer $3")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "${header[@]}" "$url" >/dev/null
    cpu0=$(server_cpu)
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${header[@]}" "$url" >"$out"
    cpu1=$(server_cpu)
    # Server CPU time per request: much less sensitive than req/s to other work on a shared machine.
    awk -v a="$cpu0" -v b="$cpu1" -v n="$(awk '/requests in/ { print $1 }' "$out")" 'BEGIN { printf "%.0f", (b - a) * 1e6 / n }' >"$WORK/cpu-$name"
    if grep -q "Non-2xx" "$out"; then
        echo "WARNING ($name): $(grep 'Non-2xx' "$out" | xargs) - the figures are not for successful requests" >&2
    fi
}
rps() { awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk-$1.txt"; }
p() { # name percentile -> milliseconds
    awk -v want="$2%" '
        /Latency Distribution/ { on = 1; next }
        on && $1 == want {
            v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
            if (unit == "us") v /= 1000; else if (unit == "s") v *= 1000; else if (unit == "m") v *= 60000
            printf "%.2f", v; exit
        }' "$WORK/wrk-$1.txt"
}

machine
echo "wrk: $THREADS threads, $CONNECTIONS connections, $DURATION per endpoint after a $WARMUP warm-up, loopback, rate limits off"
run_wrk ready /ready
run_wrk key-plain "/api/v1/projects/$PLAIN" "$KEY"
run_wrk key-live "/api/v1/projects/$SITE" "$KEY"
run_wrk jwt-live "/api/v1/projects/$SITE" "$JWT"
run_wrk projects "/api/v1/projects" "$KEY"
run_wrk deployments "/api/v1/deployments?project_id=$SITE" "$KEY"

READY=$(rps ready)
FAIL=0
echo
report() { # name label bar
    local ratio p99
    ratio=$(awk -v a="$(rps "$1")" -v b="$READY" 'BEGIN { printf "%.2f", a / b }')
    p99=$(p "$1" 99)
    local verdict=pass
    awk -v r="$ratio" -v p="$p99" -v bar="$3" 'BEGIN { exit !(r >= bar && p <= 10) }' || { verdict=FAIL; FAIL=1; }
    printf '%-52s %8.0f req/s  p50 %6s ms  p99 %6s ms  CPU %4s us/req  %5sx /ready (bar %s)  %s\n' \
        "$2" "$(rps "$1")" "$(p "$1" 50)" "$p99" "$(cat "$WORK/cpu-$1")" "$ratio" "$3" "$verdict"
}
printf '%-52s %8.0f req/s  p50 %6s ms  p99 %6s ms  CPU %4s us/req\n' "GET /ready [anonymous]" "$READY" "$(p ready 50)" "$(p ready 99)" "$(cat "$WORK/cpu-ready")"
report key-plain "GET /projects/{id} [key, no live release]" 0.6
report key-live "GET /projects/{id} [key, live static site]" 0.6
report jwt-live "GET /projects/{id} [JWT, live static site]" 0.5
report projects "GET /projects [key, 25 items]" 0.25
report deployments "GET /deployments?project_id= [key, 25 items]" 0.25
if (( FAIL )); then echo "FAIL"; exit 1; fi
echo "PASS"
