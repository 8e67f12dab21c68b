#!/usr/bin/env bash
# What the bubblewrap sandbox costs (issue 16): two Release servers in the same run on free loopback ports, one with
# the sandbox on (the default) and one with Slipway__Runtime__Sandbox=none, the same bare repository and Node app
# (build_command `sh build.sh`, start_command `node server.js`), default engine settings. Work alternates between the
# two servers (which one goes first alternates too), so load from elsewhere falls on both alike.
#
# Deploy: RUNS times, push a commit and deploy it on both; trigger -> `ready` (polling GET /api/v1/deployments/{id}
# every 20 ms). Added cost = median(on) - median(off). Bar: <= 100 ms.
# Rollback: ROLLBACKS times on both, POST /api/v1/deployments/{earlier}/rollback; trigger -> the router serving that
# version (GET / with the Host header every 10 ms). Added cost = median(on) - median(off). Bar: <= 100 ms.
# Router: ROUNDS x wrk (-t THREADS -c CONNECTIONS -d DURATION, after a WARMUP) through each server's router to its
# live app, alternating. Ratio = median req/s (sandboxed) / median req/s (unsandboxed). Bar: >= 0.97.
# Run 0 (each server's first deployment, paying JIT for the whole path) is printed but not counted.
#
# Usage: bench/sandbox.sh   env: RUNS=6 ROLLBACKS=4 ROUNDS=3 DURATION=5s WARMUP=2s CONNECTIONS=32 THREADS=2 SKIP_BUILD=1 KEEP=1
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/engine-common.sh"

RUNS="${RUNS:-6}"
ROLLBACKS="${ROLLBACKS:-4}"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5s}"
WARMUP="${WARMUP:-2s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
(( ROLLBACKS < RUNS )) || { echo "ROLLBACKS must be below RUNS (it rolls back to runs 1..ROLLBACKS)" >&2; exit 2; }
command -v bwrap >/dev/null || { echo "bubblewrap is needed (apt-get install -y bubblewrap)" >&2; exit 2; }

need_tools curl jq git node python3 dotnet wrk
build_server
init_repo
commit_version v-initial

declare -A S_BASE S_ROUTER S_TOKEN S_PROJECT
start_one() { # name sandbox-mode
  local name=$1 api_port router_port pid
  api_port="$(free_port)"; router_port="$(free_port)"
  S_BASE[$name]="http://127.0.0.1:$api_port"; S_ROUTER[$name]="http://127.0.0.1:$router_port"
  mkdir -p "$WORK/data-$name"
  (
    cd "$WORK"
    exec env DOTNET_ENVIRONMENT=Production \
      "Slipway__DataDirectory=$WORK/data-$name" \
      "urls=${S_BASE[$name]}" \
      "Slipway__Router__Urls=${S_ROUTER[$name]}" \
      "Slipway__Runtime__Sandbox=$2" \
      "Slipway__Projects__AllowLocalRepositories=true" \
      "Slipway__RateLimits__Standard__RequestsPerMinute=1000000" \
      "Slipway__RateLimits__Standard__Burst=1000000" \
      "Logging__LogLevel__Default=Warning" \
      dotnet "$DLL" >"$WORK/server-$name.log" 2>&1
  ) &
  pid=$!
  EXTRA_PIDS+=("$pid")
  for _ in $(seq 1 600); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "${S_BASE[$name]}/ready" 2>/dev/null || true)" == 200 ]] && return 0
    kill -0 "$pid" 2>/dev/null || { echo "server $name exited:" >&2; cat "$WORK/server-$name.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "server $name never became ready" >&2; exit 1
}
use() { BASE=${S_BASE[$1]}; ROUTER=${S_ROUTER[$1]}; TOKEN=${S_TOKEN[$1]:-}; PROJECT=${S_PROJECT[$1]:-}; }

start_one on bubblewrap
start_one off none
for name in on off; do
  use "$name"
  create_project
  S_TOKEN[$name]=$TOKEN; S_PROJECT[$name]=$PROJECT
  echo "server $name: API ${S_BASE[$name]}, router ${S_ROUTER[$name]}, /health sandbox: $(curl -s "${S_BASE[$name]}/health" | jq -r .sandbox)"
done
machine

deploy_on() { # name run -> echoes "id ms"
  local t0 created id
  use "$1"
  t0=$(now_ms)
  created=$(api POST /api/v1/deployments "{\"project_id\":\"$PROJECT\"}")
  [[ "$created" =~ \"id\":\"([^\"]+)\" ]] || { echo "no id in $created" >&2; exit 1; }
  id=${BASH_REMATCH[1]}
  wait_status "$id" ready "${DEPLOY_TIMEOUT:-120}" 0.02 || { tail -n 40 "$WORK/server-$1.log" >&2; exit 1; }
  echo "$id $(( $(now_ms) - t0 ))"
}

rollback_on() { # name target-id version -> echoes ms
  local t0 created id served=
  use "$1"
  t0=$(now_ms)
  created=$(api POST "/api/v1/deployments/$2/rollback")
  [[ "$created" =~ \"id\":\"([^\"]+)\" ]] || { echo "no id in $created" >&2; exit 1; }
  id=${BASH_REMATCH[1]}
  for _ in $(seq 1 3000); do
    [[ "$(router_body)" == "$3 "* ]] && { served=$(now_ms); break; }
    sleep 0.01
  done
  [[ -n "$served" ]] || { echo "rollback on $1 to $3: the router never served it" >&2; exit 1; }
  wait_status "$id" ready 60 0.05 || exit 1
  echo $(( served - t0 ))
}

order() { if (( $1 % 2 == 0 )); then echo "on off"; else echo "off on"; fi; }

declare -A IDS
DEPLOY_ON=(); DEPLOY_OFF=()
echo
echo "deploy (trigger -> ready, ms):"
for run in $(seq 0 "$RUNS"); do
  commit_version "v$run"
  line="  run $run"; if (( run == 0 )); then line+="*"; fi
  for name in $(order "$run"); do
    read -r id ms < <(deploy_on "$name")
    IDS[$name-$run]=$id
    line+="  $name $ms"
    if (( run > 0 )); then if [[ $name == on ]]; then DEPLOY_ON+=("$ms"); else DEPLOY_OFF+=("$ms"); fi; fi
  done
  echo "$line"
  sleep 2.5 # the previous releases drain for 2 s after the switch
done

echo "rollback (trigger -> router serves the earlier version, ms):"
ROLL_ON=(); ROLL_OFF=()
for k in $(seq 1 "$ROLLBACKS"); do
  line="  to v$k"
  for name in $(order "$k"); do
    ms=$(rollback_on "$name" "${IDS[$name-$k]}" "v$k")
    line+="  $name $ms"
    if [[ $name == on ]]; then ROLL_ON+=("$ms"); else ROLL_OFF+=("$ms"); fi
  done
  echo "$line"
  sleep 2.5
done

echo "router (wrk -t$THREADS -c$CONNECTIONS -d$DURATION after a $WARMUP warm-up, req/s):"
RPS_ON=(); RPS_OFF=()
for name in on off; do
  use "$name"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -H "Host: $HOST_HEADER" "$ROUTER/" >/dev/null
done
for round in $(seq 1 "$ROUNDS"); do
  line="  round $round"
  for name in $(order "$round"); do
    use "$name"
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "Host: $HOST_HEADER" "$ROUTER/")
    rps=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' <<<"$out")
    errors=$( (grep -E "Non-2xx|Socket errors" <<<"$out" || true) | tr -s ' ' | paste -sd ';' -)
    [[ -z "$errors" ]] || { echo "wrk against $name: $errors" >&2; exit 1; }
    line+="  $name $rps"
    if [[ $name == on ]]; then RPS_ON+=("$rps"); else RPS_OFF+=("$rps"); fi
  done
  echo "$line"
done

d_on=$(median "${DEPLOY_ON[@]}"); d_off=$(median "${DEPLOY_OFF[@]}")
r_on=$(median "${ROLL_ON[@]}"); r_off=$(median "${ROLL_OFF[@]}")
t_on=$(median "${RPS_ON[@]}"); t_off=$(median "${RPS_OFF[@]}")
ratio=$(awk -v a="$t_on" -v b="$t_off" 'BEGIN { printf "%.3f", a / b }')
echo
echo "deploy:   median on $d_on ms, off $d_off ms: added $(( d_on - d_off )) ms (bar <= 100 ms)"
echo "rollback: median on $r_on ms, off $r_off ms: added $(( r_on - r_off )) ms (bar <= 100 ms)"
echo "router:   median on $t_on req/s, off $t_off req/s: ratio $ratio (bar >= 0.97)"
result=PASS
if (( d_on - d_off <= 100 )); then echo "deploy: PASS"; else echo "deploy: FAIL"; result=FAIL; fi
if (( r_on - r_off <= 100 )); then echo "rollback: PASS"; else echo "rollback: FAIL"; result=FAIL; fi
if awk -v r="$ratio" 'BEGIN { exit !(r >= 0.97) }'; then echo "router: PASS"; else echo "router: FAIL"; result=FAIL; fi
echo "RESULT: $result"
[[ $result == PASS ]]
