#!/usr/bin/env bash
# `slipway deploy` wall time against the API's own trigger -> ready time, in the same run, on the same server and
# repository (the dependency-free Node app of bench/engine-common.sh, default engine settings, everything on loopback).
#
# Each run pushes a new commit and deploys it twice, alternating which goes first:
#   api: POST /api/v1/deployments, then GET /api/v1/deployments/{id} every 50 ms until `ready` (trigger -> ready);
#   cli: `dotnet slipway.dll deploy --project app` (the built CLI, its own process start included) until it exits 0,
#        having streamed the phases and the build log (stdout to a file).
# Bar: median(cli) <= median(api) + 300 ms. Run 0 (JIT of the server's whole path) is printed but not counted.
#
# Usage: bench/cli.sh      env: RUNS=5 SKIP_BUILD=1 KEEP=1
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/engine-common.sh"

RUNS="${RUNS:-5}"
CLI_DLL="$ROOT/src/Slipway.Cli/bin/Release/net10.0/slipway.dll"

need_tools curl jq git node python3 dotnet
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  echo "== building the CLI (Release)" >&2
  dotnet build "$ROOT/src/Slipway.Cli/Slipway.Cli.csproj" -c Release -v q -nologo 2>&1 | grep -E " error |rror\(s\)" >&2 || true
fi
[[ -f "$CLI_DLL" ]] || { echo "no $CLI_DLL" >&2; exit 2; }
build_server
start_server
init_repo
commit_version v-initial
create_project
machine
echo "server: API $BASE, router $ROUTER, default engine settings; CLI $CLI_DLL"

api_deploy() { # -> ms from POST to ready seen
  local t0 created id
  t0=$(now_ms)
  created=$(api POST /api/v1/deployments "{\"project_id\":\"$PROJECT\"}")
  id=$(jq -r .id <<<"$created")
  wait_status "$id" ready "${DEPLOY_TIMEOUT:-120}" 0.05 || exit 1
  echo $(( $(now_ms) - t0 ))
}

cli_deploy() { # run -> ms from starting the CLI to its exit
  local t0
  t0=$(now_ms)
  SLIPWAY_URL="$BASE" SLIPWAY_TOKEN="$TOKEN" SLIPWAY_CONFIG_DIR="$WORK/cli-config" \
    timeout "${DEPLOY_TIMEOUT:-120}" dotnet "$CLI_DLL" deploy --project "$PROJECT_NAME" >"$WORK/cli-$1.out" 2>&1 \
    || { echo "slipway deploy failed:" >&2; cat "$WORK/cli-$1.out" >&2; exit 1; }
  echo $(( $(now_ms) - t0 ))
}

declare -a API CLI
printf '\n%-4s %-6s %9s %9s %9s\n' run first "api (ms)" "cli (ms)" "cli-api"
for run in $(seq 0 "$RUNS"); do
  if (( run % 2 == 0 )); then
    commit_version "a$run"; a=$(api_deploy)
    commit_version "c$run"; c=$(cli_deploy "$run")
    first=api
  else
    commit_version "c$run"; c=$(cli_deploy "$run")
    commit_version "a$run"; a=$(api_deploy)
    first=cli
  fi
  grep -q '▸ build' "$WORK/cli-$run.out" && grep -q 'Live in' "$WORK/cli-$run.out" \
    || { echo "the CLI did not show its phases:" >&2; cat "$WORK/cli-$run.out" >&2; exit 1; }
  printf '%-4s %-6s %9s %9s %+9d%s\n' "$run" "$first" "$a" "$c" $(( c - a )) "$( (( run == 0 )) && echo '  (warm-up, not counted)')"
  if (( run > 0 )); then API+=("$a"); CLI+=("$c"); fi
done

api_median=$(median "${API[@]}")
cli_median=$(median "${CLI[@]}")
echo
echo "median api trigger->ready: $api_median ms; median slipway deploy: $cli_median ms; difference $(( cli_median - api_median )) ms" \
  "(ratio $(python3 -c "print(f'{$cli_median / $api_median:.3f}')")x)"
if (( cli_median <= api_median + 300 )); then echo "PASS: slipway deploy <= API trigger->ready + 300 ms"; else echo "FAIL: slipway deploy > API trigger->ready + 300 ms"; fi
