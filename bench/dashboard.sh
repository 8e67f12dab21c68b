#!/usr/bin/env bash
# The dashboard's project page against the JSON API read of the same data, in one run on loopback:
#   GET /projects/{id} (the dashboard page, server-rendered, signed in with the session cookie) for a project with 100 deployments
#   GET /api/v1/deployments?project_id={id}&limit=100 (the same 100 deployments as JSON, with the same user's JWT)
# Bars: the page's p99 <= 30 ms and <= 2x the API read's p99 (8 connections, rate limits off).
# Usage: bench/dashboard.sh     env: DURATION CONNECTIONS THREADS WARMUP SKIP_BUILD=1 (ports are picked free)
set -euo pipefail
source "$(dirname "$0")/engine-common.sh"

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-8}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-15s}

need_tools wrk curl jq git dotnet python3
build_server
# The rate limiter is not what this measures (the page asks the API twice per render).
export Slipway__RateLimits__Enabled=false
start_server

init_repo
echo '<h1>bench</h1>' >"$WORK/src/index.html"
git -C "$WORK/src" add -A
git -C "$WORK/src" -c user.email=bench@example.test -c user.name=Bench commit -q -m static
git -C "$WORK/src" push -q origin main

JWT=$(api POST /api/v1/auth/register "{\"email\":\"bench-$RANDOM@example.test\",\"name\":\"Bench\",\"password\":\"correct horse battery\"}" | jq -r .token)
TOKEN=$JWT
SITE=$(api POST /api/v1/projects "$(jq -n --arg repo "$REPO" '{name: "site", repo_url: $repo, framework: "static"}')" | jq -r .id)
DEPLOYMENT=$(api POST /api/v1/deployments "{\"project_id\":\"$SITE\"}" | jq -r .id)
wait_status "$DEPLOYMENT" ready 120 0.2
# 99 more (a missing branch: they fail at once), so the project has 100 deployments.
for _ in $(seq 1 99); do api POST /api/v1/deployments "{\"project_id\":\"$SITE\",\"branch\":\"missing\"}" >/dev/null; done
for _ in $(seq 1 900); do
    [[ "$(api GET "/api/v1/deployments?project_id=$SITE&status=queued" | jq '.data | length')" == 0 \
       && "$(api GET "/api/v1/deployments?project_id=$SITE&status=building" | jq '.data | length')" == 0 ]] && break
    sleep 0.2
done
COOKIE="Cookie: slipway_session=$JWT"
[[ "$(api GET "/api/v1/deployments?project_id=$SITE&limit=100" | jq '.data | length')" == 100 ]] || { echo "the project does not have 100 deployments" >&2; exit 1; }
rows=$(curl -sS -f -H "$COOKIE" "$BASE/projects/$SITE" | grep -c '<a href="/deployments/' || true)
[[ "$rows" -ge 100 ]] || { echo "the page shows $rows deployment links, not 100" >&2; exit 1; }

server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"; }
run_wrk() { # name path header
    local out=$WORK/wrk-$1.txt cpu0 cpu1
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -H "$3" "$BASE$2" >/dev/null
    cpu0=$(server_cpu)
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$3" "$BASE$2" >"$out"
    cpu1=$(server_cpu)
    # Server CPU time per request: much less sensitive than latency to other work on a shared machine.
    awk -v a="$cpu0" -v b="$cpu1" -v n="$(awk '/requests in/ { print $1 }' "$out")" 'BEGIN { printf "%.0f", (b - a) * 1e6 / n }' >"$WORK/cpu-$1"
    if grep -q "Non-2xx" "$out"; then
        echo "WARNING ($1): $(grep 'Non-2xx' "$out" | xargs) - the figures are not for successful requests" >&2
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
run_wrk api "/api/v1/deployments?project_id=$SITE&limit=100" "Authorization: Bearer $JWT"
run_wrk page "/projects/$SITE" "$COOKIE"

API_P99=$(p api 99)
PAGE_P99=$(p page 99)
RATIO=$(awk -v a="$PAGE_P99" -v b="$API_P99" 'BEGIN { printf "%.2f", a / b }')
echo
printf '%-54s %6.0f req/s  p50 %6s ms  p99 %6s ms  CPU %5s us/req\n' "GET /api/v1/deployments?project_id=&limit=100 [JWT]" "$(rps api)" "$(p api 50)" "$API_P99" "$(cat "$WORK/cpu-api")"
printf '%-54s %6.0f req/s  p50 %6s ms  p99 %6s ms  CPU %5s us/req  p99 %sx the API'"'"'s\n' "GET /projects/{id} [dashboard page, cookie]" "$(rps page)" "$(p page 50)" "$PAGE_P99" "$(cat "$WORK/cpu-page")" "$RATIO"
if awk -v p="$PAGE_P99" -v r="$RATIO" 'BEGIN { exit !(p <= 30 && r <= 2) }'; then echo "PASS (page p99 <= 30 ms and <= 2x the API p99)"; else echo "FAIL (bars: page p99 <= 30 ms and <= 2x the API p99)"; exit 1; fi
