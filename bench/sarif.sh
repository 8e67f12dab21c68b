#!/usr/bin/env bash
# Security triage at scale, in one run on loopback:
#   POST /api/v1/repositories/{id}/sarif with one run of 25,000 results (500 files, partialFingerprints as CI uploads carry),
#   then the same file again (a rescan: no new findings), then GET /api/v1/repositories/{id}/findings (25 a page) under
#   wrk at 8 connections, with GET /ready in the same run as the reference.
# Bars: ingest <= 2 s and <= 150 MB peak server memory growth; rescan <= 2 s with 0 new; findings page p99 <= 20 ms.
# Usage: bench/sarif.sh           env: RESULTS DURATION CONNECTIONS SKIP_BUILD=1 (ports are picked free)
set -euo pipefail
source "$(dirname "$0")/engine-common.sh"

RESULTS=${RESULTS:-25000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-8}

need_tools wrk curl jq dotnet python3
build_server
export Slipway__RateLimits__Enabled=false
start_server
echo "$(machine)"

TOKEN=$(api POST /api/v1/auth/register "{\"email\":\"bench-$RANDOM@example.test\",\"name\":\"Bench\",\"password\":\"correct horse battery\"}" | jq -r .token)
REPO_ID=$(api POST /api/v1/projects '{"name":"triage","repo_url":"https://example.com/acme/triage.git"}' | jq -r .id)
KEY=$(api POST /api/v1/api-keys '{"name":"bench","scopes":["security:read","security:write"]}' | jq -r .key)

python3 - "$WORK/big.sarif" "$RESULTS" <<'PY'
import json, sys
path, count = sys.argv[1], int(sys.argv[2])
rules = [{"id": f"bench/rule-{r}", "name": f"rule-{r}", "shortDescription": {"text": f"Rule {r}"},
          "properties": {"security-severity": str(2 + r % 8), "tags": ["security", f"external/cwe/cwe-{79 + r}"]}} for r in range(40)]
results = [{"ruleId": f"bench/rule-{i % 40}", "ruleIndex": i % 40, "level": "warning",
            "message": {"text": f"Finding {i}: user input reaches a sink"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": f"src/module{i % 500}/file.js"},
                                                "region": {"startLine": 1 + i // 500, "startColumn": 5, "endColumn": 40,
                                                           "snippet": {"text": f"  sink(input{i});"}}}}],
            "partialFingerprints": {"primaryLocationLineHash": f"{i:016x}:1"}} for i in range(count)]
json.dump({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "bench-scanner", "rules": rules}}, "results": results}]},
          open(path, "w"))
PY
echo "SARIF: $RESULTS results, $(( $(stat -c %s "$WORK/big.sarif") / 1024 )) KiB"

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$SERVER_PID/status"; }
upload() { # -> seconds, response in $WORK/upload.json
  curl -sS -f --max-time 120 -o "$WORK/upload.json" -w '%{time_total}' -X POST "$BASE/api/v1/repositories/$REPO_ID/sarif" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/sarif+json' --data-binary @"$WORK/big.sarif"
}
# Peak growth: the server's resident memory sampled every 20 ms during the upload, minus what it held before.
sample_rss() { local max=0 v; while [[ -e "$WORK/sampling" ]]; do v=$(kib VmRSS); (( v > max )) && max=$v; sleep 0.02; done; echo "$max" >"$WORK/peak"; }
# The server's CPU time (user + system) over an upload: less sensitive than wall time to other work on the machine.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
cpu_seconds() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'; }
before=$(kib VmRSS)
touch "$WORK/sampling"; sample_rss & sampler=$!
ticks=$(cpu_ticks)
first=$(upload)
first_cpu=$(cpu_seconds $(( $(cpu_ticks) - ticks )))
rm -f "$WORK/sampling"; wait "$sampler"
peak=$(cat "$WORK/peak")
first_new=$(jq .counts.new "$WORK/upload.json")
ticks=$(cpu_ticks)
second=$(upload)
second_cpu=$(cpu_seconds $(( $(cpu_ticks) - ticks )))
second_new=$(jq .counts.new "$WORK/upload.json")
second_unchanged=$(jq .counts.unchanged "$WORK/upload.json")
growth=$(( (peak - before) / 1024 ))

latency() { # name url -> "rps p99ms"
  wrk -t2 -c"$CONNECTIONS" -d5s -H "Authorization: Bearer $KEY" "$2" >/dev/null
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $KEY" "$2" >"$WORK/wrk-$1.txt"
  awk '/^Requests\/sec:/ { r = $2 } /^ +99%/ { v = $2; if (v ~ /us$/) p = v / 1000; else if (v ~ /ms$/) p = v + 0; else p = v * 1000 }
       END { printf "%s %.2f\n", r, p }' "$WORK/wrk-$1.txt"
}
[[ "$(TOKEN=$KEY api GET "/api/v1/repositories/$REPO_ID/findings" | jq '.data | length')" == 25 ]] || { echo "the findings page is not 25 items" >&2; exit 1; }
read -r ready_rps ready_p99 < <(latency ready "$BASE/ready")
read -r list_rps list_p99 < <(latency findings "$BASE/api/v1/repositories/$REPO_ID/findings")

verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
printf 'ingest   %6.2f s (server CPU %s s), %d new findings, peak memory growth %d MB   %s\n' "$first" "$first_cpu" "$first_new" "$growth" \
  "$(verdict "$first <= 2 && $growth <= 150 && $first_new == $RESULTS")"
printf 'rescan   %6.2f s (server CPU %s s), %d new, %d unchanged          %s\n' "$second" "$second_cpu" "$second_new" "$second_unchanged" \
  "$(verdict "$second <= 2 && $second_new == 0 && $second_unchanged == $RESULTS")"
printf 'findings page: %s req/s, p99 %s ms (/ready: %s req/s, p99 %s ms), %d connections   %s\n' "$list_rps" "$list_p99" \
  "$ready_rps" "$ready_p99" "$CONNECTIONS" "$(verdict "$list_p99 <= 20")"
