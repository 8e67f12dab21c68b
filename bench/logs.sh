#!/usr/bin/env bash
# Log ingestion and live fan-out (issue 4): a build that writes LINES lines as fast as it can, followed by SUBSCRIBERS
# clients, once per transport (WebSocket, SSE, socket.io), everything on loopback.
#
# The app is a static site whose build_command is `node emit.js`: it waits (at most 120 s) for a go file from this
# script, then writes "L <n> <epoch ms when written, 3 decimals> <padding>" for n = 1..LINES to stdout, 64 lines
# per synchronous write(2) (a full pipe makes it wait: it writes as fast as the server reads). The subscribers
# (bench/logs.js: lean protocol clients from bench/logs-lean.js, or with CLIENT=npm the npm `ws` / Node http /
# `socket.io-client`; spread over CLIENT_PROCS Node processes) connect to the new deployment's stream first; the go file is written only once every one of them has
# received a line (so all are live before the build writes). Each checks that seqs arrive contiguous and once and that
# build lines come 1..LINES in order, ending with `end` status `ready`, and records receive time - written time.
#
# Figures per transport: ingest = LINES / (first line written -> last line stored; the script polls
# GET /api/v1/logs/{id}?after=<last seq - 1>&limit=1 every 20 ms), p50/p99/max latency over all subscribers, every
# line received yes/no, the server's peak RSS (VmHWM, reset before each run through /proc/PID/clear_refs) and CPU time.
# Bar, per transport: ingest >= 100,000 lines/s, every subscriber gets every line in order, p99 <= 100 ms.
# Before each measured run, WARMUP_RUNS warm-up runs of WARMUP_LINES (not counted) let the JIT settle: tier-up of the
# server's paths goes on for the first million or so lines (the runtime keeps postponing it while new code is still
# being compiled) and costs up to a third of the server's CPU meanwhile.
#
# PostgreSQL instead of SQLite: BENCH_POSTGRES="Host=127.0.0.1;Port=55432;Username=postgres" (a database is created
# for the run and dropped after it; needs psql).
#
# Usage: bench/logs.sh   env: LINES=500000 SUBSCRIBERS=10 CLIENT_PROCS=5 CLIENT=lean TRANSPORTS="ws sse socketio" WARMUP_LINES=300000 WARMUP_RUNS=4
#                             RUN_TIMEOUT=180 (s per run) BENCH_POSTGRES= SKIP_BUILD=1 KEEP=1
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/engine-common.sh"

export LINES="${LINES:-500000}" SUBSCRIBERS="${SUBSCRIBERS:-10}" CLIENT_PROCS="${CLIENT_PROCS:-5}" CLIENT="${CLIENT:-lean}"
export TRANSPORTS="${TRANSPORTS:-ws sse socketio}" WARMUP_LINES="${WARMUP_LINES:-300000}" WARMUP_RUNS="${WARMUP_RUNS:-4}" RUN_TIMEOUT="${RUN_TIMEOUT:-180}"
# Retention must not trim the run's deployment (100,000 lines per deployment by default) while it is measured.
export Slipway__Logs__MaxLinesPerDeployment=0


need_tools curl jq git node python3 dotnet
[[ -d "$ROOT/node_modules/ws" && -d "$ROOT/node_modules/socket.io-client" ]] || { echo "needs npm packages ws and socket.io-client (npm ci)" >&2; exit 2; }

PG_DATABASE=
if [[ -n "${BENCH_POSTGRES:-}" ]]; then
  need_tools psql
  pg_field() { tr ';' '\n' <<<"$BENCH_POSTGRES" | awk -F= -v k="$1" 'tolower($1) == tolower(k) { print $2 }'; }
  PSQL=(psql -h "$(pg_field Host)" -p "$(pg_field Port)" -U "$(pg_field Username)" -d postgres -q -v ON_ERROR_STOP=1)
  PG_DATABASE="slipway_bench_logs_$$"
  "${PSQL[@]}" -c "CREATE DATABASE $PG_DATABASE"
  export Slipway__Database__Provider=postgres Slipway__Database__ConnectionString="$BENCH_POSTGRES;Database=$PG_DATABASE"
  logs_cleanup() { engine_cleanup; "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $PG_DATABASE WITH (FORCE)" >/dev/null 2>&1 || true; }
  trap logs_cleanup EXIT
fi

build_server
start_server
init_repo

cat >"$WORK/src/emit.js" <<JS
// Waits for the bench's go file (it holds the number of lines to write), then writes them as fast as it can.
const fs = require('fs');
const go = '$WORK/go-' + process.env.SLIPWAY_DEPLOYMENT_ID;
const deadline = Date.now() + 120000;
const pause = new Int32Array(new SharedArrayBuffer(4));
while (!fs.existsSync(go)) {
  if (Date.now() > deadline) { console.error('no go file'); process.exit(1); }
  Atomics.wait(pause, 0, 0, 5);
}
const lines = Number(fs.readFileSync(go, 'utf8'));
const origin = performance.timeOrigin;
const pad = ' the quick brown fox jumps over the lazy dog 0123456789';
// Synchronous writes straight to the pipe (process.stdout would queue in memory when the pipe is full, and the
// timestamps would then say when a line was queued, not written): a full pipe makes the writer wait, as in C.
function write(text) {
  let buffer = Buffer.from(text);
  while (buffer.length > 0) {
    try {
      buffer = buffer.subarray(fs.writeSync(1, buffer));
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 0.05);
    }
  }
}
let chunk = '';
for (let n = 1; n <= lines; n++) {
  chunk += 'L ' + n + ' ' + (origin + performance.now()).toFixed(3) + pad + '\n';
  if (n % 64 === 0) { write(chunk); chunk = ''; }
}
if (chunk) write(chunk);
JS
echo '<!doctype html><title>logs bench</title><h1>logs bench</h1>' >"$WORK/src/index.html"
git -C "$WORK/src" add -A
git -C "$WORK/src" -c user.email=bench@example.test -c user.name=Bench commit -q -m "log emitter"
git -C "$WORK/src" push -q origin main

TOKEN=$(api POST /api/v1/auth/register "{\"email\":\"bench-$RANDOM@example.test\",\"name\":\"Bench\",\"password\":\"correct horse battery\"}" | jq -r .token)
PROJECT=$(api POST /api/v1/projects "$(jq -n --arg name "$PROJECT_NAME" --arg repo "$REPO" \
  '{name: $name, repo_url: $repo, framework: "static", build_command: "node emit.js", output_directory: "."}')" | jq -r .id)

machine
echo "server: API $BASE, database ${PG_DATABASE:+postgres ($PG_DATABASE)}${PG_DATABASE:-sqlite}, data in $WORK/data;" \
  "$LINES lines, $SUBSCRIBERS subscribers in $CLIENT_PROCS client processes"
# By hand, for scale: the same writer into a pipe that only counts bytes.
echo "$LINES" >"$WORK/go-by-hand"
t0=$(now_ms)
(cd "$WORK/src" && SLIPWAY_DEPLOYMENT_ID=by-hand node emit.js | wc -c >/dev/null)
t1=$(now_ms)
echo "the writer alone, into a pipe: $LINES lines in $(( t1 - t0 )) ms (incl. node start-up)"

export BASE TOKEN PROJECT WORK SERVER_PID
node "$ROOT/bench/logs.js"
