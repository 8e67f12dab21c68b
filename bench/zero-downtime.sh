#!/usr/bin/env bash
# Zero-downtime redeploys: wrk drives traffic through the router (Host: app.localhost) to a dependency-free Node app
# while the script performs REDEPLOYS consecutive POST /api/v1/deployments/{live}/redeploy, each waiting for ready;
# TAIL seconds after the last one (the old release drains for 2 s, then gets SIGTERM) wrk is stopped (SIGINT).
# A wrk Lua script counts every response whose status is not 2xx (wrk's own "Non-2xx or 3xx responses" line skips
# 3xx) and which release answered; socket errors come from wrk's summary. Default engine settings, loopback only.
# Bar: 0 non-2xx responses and 0 socket errors (connect, read, write, timeout).
#
# Usage: bench/zero-downtime.sh     env: REDEPLOYS=5 CONNECTIONS=32 THREADS=2 TAIL=4 SKIP_BUILD=1 KEEP=1
#   GRACEFUL=0: the app has no SIGTERM handler (dies at once when its release is stopped after the drain)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/engine-common.sh"

REDEPLOYS="${REDEPLOYS:-5}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
TAIL="${TAIL:-4}"
MAX_SECONDS=600 # wrk's own upper bound; it is normally stopped long before

need_tools wrk curl jq git node python3 dotnet
build_server
start_server
init_repo
commit_version v1
create_project
machine
echo "server: API $BASE, router $ROUTER (Host: $HOST_HEADER), default engine settings; app $([[ "${GRACEFUL:-1}" != 0 ]] && echo "closes gracefully on SIGTERM" || echo "dies on SIGTERM")"

created=$(api POST /api/v1/deployments "{\"project_id\":\"$PROJECT\"}")
LIVE=$(jq -r .id <<<"$created")
wait_status "$LIVE" ready "${DEPLOY_TIMEOUT:-120}" 0.1 || { tail -n 40 "$WORK/server.log" >&2; exit 1; }
[[ "$(router_body)" == "v1 $LIVE" ]] || { echo "the router does not serve the first release: $(router_body)" >&2; exit 1; }

cat >"$WORK/count.lua" <<'LUA'
-- Counts non-2xx statuses and which release (response body) answered, summed over all threads in done().
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0; statuses = {}; bodies = {} end
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    statuses[tostring(status)] = (statuses[tostring(status)] or 0) + 1
  end
  local key = string.gsub(body or "", "%s+$", "")
  bodies[key] = (bodies[key] or 0) + 1
end
function done(summary, latency, requests)
  local total, byStatus, byBody = 0, {}, {}
  for _, t in ipairs(threads) do
    total = total + t:get("non2xx")
    for k, v in pairs(t:get("statuses")) do byStatus[k] = (byStatus[k] or 0) + v end
    for k, v in pairs(t:get("bodies")) do byBody[k] = (byBody[k] or 0) + v end
  end
  io.write(string.format("LUA non2xx %d\n", total))
  for k, v in pairs(byStatus) do io.write(string.format("LUA status %s %d\n", k, v)) end
  for k, v in pairs(byBody) do io.write(string.format("LUA body %d %s\n", v, string.sub(k, 1, 80))) end
  local e = summary.errors
  io.write(string.format("LUA errors connect %d read %d write %d timeout %d status %d\n", e.connect, e.read, e.write, e.timeout, e.status))
  io.write(string.format("LUA latency p50 %.2f p99 %.2f max %.2f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
LUA

echo "wrk -t$THREADS -c$CONNECTIONS -H 'Host: $HOST_HEADER' --latency -s count.lua $ROUTER/ during $REDEPLOYS redeploys (+${TAIL}s tail)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${MAX_SECONDS}s" --timeout 10s --latency -H "Host: $HOST_HEADER" -s "$WORK/count.lua" "$ROUTER/" \
  >"$WORK/wrk.txt" 2>&1 &
WRK_PID=$!
EXTRA_PIDS=("$WRK_PID")
sleep 2 # traffic on the old release first

declare -a TOOK
for n in $(seq 1 "$REDEPLOYS"); do
  t0=$(now_ms)
  created=$(api POST "/api/v1/deployments/$LIVE/redeploy")
  id=$(jq -r .id <<<"$created")
  wait_status "$id" ready "${DEPLOY_TIMEOUT:-120}" 0.1 || { kill -INT "$WRK_PID" 2>/dev/null || true; tail -n 40 "$WORK/server.log" >&2; exit 1; }
  TOOK[n]=$(( $(now_ms) - t0 ))
  server=$(api GET "/api/v1/deployments/$id" | jq -r '.timings | "clone \(.clone_ms) build \(.build_ms) pack \(.pack_ms) release \(.release_ms) total \(.total_ms)"')
  printf '  redeploy %s: %s -> %s ready in %6s ms under load   server timings (ms): %s\n' "$n" "${LIVE:0:13}…" "${id:0:13}…" "${TOOK[n]}" "$server"
  LIVE=$id
done
sleep "$TAIL"
kill -INT "$WRK_PID"
for _ in $(seq 1 100); do kill -0 "$WRK_PID" 2>/dev/null || break; sleep 0.1; done
wait "$WRK_PID" || true
EXTRA_PIDS=()

echo
grep -v '^LUA' "$WORK/wrk.txt"
echo
grep '^LUA' "$WORK/wrk.txt" | sed 's/^LUA /  /'

REQUESTS=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
NON2XX=$(awk '/^LUA non2xx/ { print $3 }' "$WORK/wrk.txt")
WRK_NON2XX=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2 }' "$WORK/wrk.txt")
read -r CONNECT READ WRITE TIMEOUT < <(awk '/^LUA errors/ { print $4, $6, $8, $10 }' "$WORK/wrk.txt")
SOCKET_LINE=$(grep 'Socket errors' "$WORK/wrk.txt" | xargs || true)
RELEASES=$(grep -c '^LUA body' "$WORK/wrk.txt" || true)
[[ -n "$REQUESTS" && -n "$NON2XX" && -n "$CONNECT" ]] || { echo "could not parse wrk's output" >&2; exit 1; }
SOCKET=$(( CONNECT + READ + WRITE + TIMEOUT ))

echo
echo "requests: $REQUESTS   non-2xx: $NON2XX (wrk's own >=400 count: ${WRK_NON2XX:-0})   socket errors: connect $CONNECT, read $READ, write $WRITE, timeout $TIMEOUT${SOCKET_LINE:+ ($SOCKET_LINE)}"
echo "distinct releases that answered: $RELEASES (expected $(( REDEPLOYS + 1 )))   redeploy trigger->ready under load (ms): ${TOOK[*]}"
if (( NON2XX == 0 && SOCKET == 0 && ${WRK_NON2XX:-0} == 0 )); then echo "RESULT: PASS"; else echo "RESULT: FAIL"; exit 1; fi
