#!/usr/bin/env bash
# Deploy overhead and rollback time for a dependency-free Node app (build_command `sh build.sh`, start_command
# `node server.js`), with the server's default engine settings, everything on loopback.
#
# Deploy: RUNS times, push a new commit and POST /api/v1/deployments; trigger -> status ready is timed by this script
# (polling GET /api/v1/deployments/{id} every 50 ms). In the same run, right after, the script does the same work by
# hand: `git clone --depth 1` of the same bare repository into a temp dir, `sh build.sh`, and `node server.js` with
# PORT until its first 2xx (polled every 10 ms). Overhead = (trigger -> ready) - (clone + build + start).
# Bar: median overhead <= 1500 ms.
#
# Rollback: ROLLBACKS times, POST /api/v1/deployments/{earlier}/rollback to a retained earlier release; trigger -> the
# router serving that version (GET / with the Host header every 20 ms until the body changes to it).
# Bar: median <= 2000 ms.
#
# Run 0 (the server's first deployment, paying JIT for the whole path) is printed but not counted.
#
# Usage: bench/deploy.sh      env: RUNS=5 ROLLBACKS=3 SKIP_BUILD=1 KEEP=1 VERBOSE=1 (log timeline of every run)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/engine-common.sh"

RUNS="${RUNS:-5}"
ROLLBACKS="${ROLLBACKS:-3}"
(( ROLLBACKS < RUNS )) || { echo "ROLLBACKS must be below RUNS (it rolls back to runs 1..ROLLBACKS)" >&2; exit 2; }

need_tools curl jq git node python3 dotnet
build_server
start_server
init_repo
commit_version v-initial
create_project
machine
echo "server: API $BASE, router $ROUTER (Host: $HOST_HEADER), default engine settings; data in $WORK/data"

# The deployment's own log, as ms offsets from its creation: where the time went inside the server.
timeline() { # deployment id
  local deployment logs
  deployment=$(api GET "/api/v1/deployments/$1")
  logs=$(api GET "/api/v1/logs/$1?limit=1000")
  jq -rn --argjson d "$deployment" --argjson l "$logs" '
    def ms: (.[0:19] + "Z" | fromdateiso8601) * 1000 + (.[20:23] | tonumber);
    ($d.created_at | ms) as $t0
    | "      +\(($d.started_at | ms) - $t0) ms  [started_at]",
      ($l.data | sort_by(.seq)[] | "      +\((.timestamp | ms) - $t0) ms  \(.stream): \(.message[0:110])"),
      "      +\(($d.finished_at | ms) - $t0) ms  [finished_at, status \($d.status)]"'
}

declare -a IDS TOTAL CLONE BUILD START OVER
printf '\n%-4s %10s | %8s %8s %8s %8s | %9s | %s\n' run "trig→ready" clone build start "sum" overhead \
  "server timings (ms): queue clone build pack release total; ready→router (stale answers)"
for run in $(seq 0 "$RUNS"); do
  commit_version "v$run"

  t0=$(now_ms)
  created=$(api POST /api/v1/deployments "{\"project_id\":\"$PROJECT\"}")
  [[ "$created" =~ \"id\":\"([^\"]+)\" ]] || { echo "no id in $created" >&2; exit 1; }
  id=${BASH_REMATCH[1]}
  wait_status "$id" ready "${DEPLOY_TIMEOUT:-120}" 0.05 || { tail -n 40 "$WORK/server.log" >&2; exit 1; }
  t1=$(now_ms)
  # Does "ready" already mean "served by the router"? Poll until the new version answers (20 ms steps, 10 s at most).
  # Counts the answers from the previous release seen after "ready" (0 when the switch came first).
  lag=; stale=0
  for _ in $(seq 1 500); do
    [[ "$(router_body)" == "v$run "* ]] && { lag=$(( $(now_ms) - t1 )); break; }
    stale=$(( stale + 1 ))
    sleep 0.02
  done
  [[ -n "$lag" ]] || { echo "run $run: the router never served v$run" >&2; exit 1; }

  # The same work by hand, right after, on the same machine.
  base="$WORK/baseline-$run"
  port=$(free_port)
  b0=$(now_ms)
  git clone -q --depth 1 --branch main --single-branch --no-tags -- "$REPO" "$base" 2>/dev/null
  b1=$(now_ms)
  (cd "$base" && sh build.sh)
  b2=$(now_ms)
  (cd "$base" && PORT=$port HOST=127.0.0.1 exec node server.js) &
  node_pid=$!
  EXTRA_PIDS=("$node_pid")
  up=
  for _ in $(seq 1 1000); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null || true)" == 2* ]]; then up=$(now_ms); break; fi
    sleep 0.01
  done
  kill "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true
  EXTRA_PIDS=()
  [[ -n "$up" ]] || { echo "run $run: the app never answered when started by hand" >&2; exit 1; }
  rm -rf "$base"

  IDS[run]=$id
  TOTAL[run]=$(( t1 - t0 )); CLONE[run]=$(( b1 - b0 )); BUILD[run]=$(( b2 - b1 )); START[run]=$(( up - b2 ))
  sum=$(( CLONE[run] + BUILD[run] + START[run] ))
  OVER[run]=$(( TOTAL[run] - sum ))
  label=$run
  if (( run == 0 )); then label="0*"; WARM_OVER=${OVER[0]}; unset 'OVER[0]'; fi
  server=$(api GET "/api/v1/deployments/$id" | jq -r '.timings | "\(.queue_ms) \(.clone_ms) \(.build_ms) \(.pack_ms) \(.release_ms) \(.total_ms)"')
  printf '%-4s %7s ms | %8s %8s %8s %8s | %6s ms | %s; +%s ms (%s)\n' "$label" "${TOTAL[run]}" "${CLONE[run]}" "${BUILD[run]}" \
    "${START[run]}" "$sum" "$(( TOTAL[run] - sum ))" "$server" "$lag" "$stale"
  if [[ "${VERBOSE:-0}" == 1 || $run == 1 ]]; then timeline "$id"; fi
  sleep 2.5 # the previous release drains for 2 s after the switch: let it go before the next run
done

echo
echo "rollback (trigger -> router serves the earlier version, router polled every 20 ms):"
declare -a ROLL
for k in $(seq 1 "$ROLLBACKS"); do
  target=${IDS[k]}
  t0=$(now_ms)
  created=$(api POST "/api/v1/deployments/$target/rollback")
  [[ "$created" =~ \"id\":\"([^\"]+)\" ]] || { echo "no id in $created" >&2; exit 1; }
  id=${BASH_REMATCH[1]}
  served=
  for _ in $(seq 1 1500); do
    [[ "$(router_body)" == "v$k "* ]] && { served=$(now_ms); break; }
    sleep 0.02
  done
  [[ -n "$served" ]] || { echo "rollback to v$k: the router never served it" >&2; exit 1; }
  wait_status "$id" ready 60 0.05 || exit 1
  ROLL[k]=$(( served - t0 ))
  server=$(api GET "/api/v1/deployments/$id" | jq -r '.timings | "queue \(.queue_ms) release \(.release_ms) total \(.total_ms)"')
  printf '  to v%s (deployment %s): %6s ms   server timings (ms): %s\n' "$k" "$target" "${ROLL[k]}" "$server"
  if [[ "${VERBOSE:-0}" == 1 || $k == 1 ]]; then timeline "$id"; fi
  sleep 2.5
done

OVERHEAD=$(median "${OVER[@]}")
ROLLBACK=$(median "${ROLL[@]}")
echo
echo "deploy overhead per run (ms): ${OVER[*]}   median $OVERHEAD ms (bar <= 1500 ms); run 0* (first deployment of a fresh server, not counted): $WARM_OVER ms"
echo "rollback per run (ms): ${ROLL[*]}   median $ROLLBACK ms, worst $(printf '%s\n' "${ROLL[@]}" | sort -n | tail -1) ms (bar <= 2000 ms)"
result=PASS
if (( OVERHEAD <= 1500 )); then echo "deploy overhead: PASS"; else echo "deploy overhead: FAIL"; result=FAIL; fi
if (( ROLLBACK <= 2000 )); then echo "rollback: PASS"; else echo "rollback: FAIL"; result=FAIL; fi
echo "RESULT: $result"
[[ $result == PASS ]]
