#!/usr/bin/env bash
# Webhook delivery benchmark (issue 5): 10,000 events committed through the server's own DbContext (as the engine
# commits state changes) at RATE events/s, fanned out to 4 loopback Node receivers, one failing half of its requests
# with 503. Prints successful deliveries/s, commit-to-first-attempt p50/p99, and whether every (event, receiver) pair
# was delivered; PASS needs >= 2,000 deliveries/s, p50 <= 50 ms, nothing lost, no success sent twice, no warning in
# the server log and a clean stop.
#   bench/webhooks.sh                                   SQLite (default)
#   SLIPWAY_BENCH_POSTGRES='Host=…;Database=…' bench/webhooks.sh   PostgreSQL (an empty database)
#   EVENTS=10000 RECEIVERS=4 FAIL_RATE=0.5 RATE=800 COMMIT_BATCH=10 bench/webhooks.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v node >/dev/null || { echo "missing node" >&2; exit 2; }
if [ -z "${SKIP_BUILD:-}" ]; then
  dotnet build "$ROOT/bench/WebhookBench/WebhookBench.csproj" -c Release -nologo -v q >/dev/null
fi
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); node $(node --version), dotnet $(dotnet --version)"
exec timeout 600 dotnet "$ROOT/bench/WebhookBench/bin/Release/net10.0/WebhookBench.dll"
