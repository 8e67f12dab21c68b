# Shared by bench/deploy.sh and bench/zero-downtime.sh (sourced, not run): a Release server on free loopback ports
# with a temporary data directory, a bare git repository holding a dependency-free Node app, a user and a project.
# Everything it starts is stopped, and everything it creates removed, on exit (KEEP=1 keeps the temp directory).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DLL="$ROOT/src/Slipway.Server/bin/Release/net10.0/Slipway.Server.dll"
PROJECT_NAME="${PROJECT_NAME:-app}"
HOST_HEADER="$PROJECT_NAME.localhost"

need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing '$tool' (apt-get install -y wrk curl jq git nodejs)" >&2; exit 2; }
  done
}

now_ms() { local t=$EPOCHREALTIME; echo $(( ${t%.*} * 1000 + 10#${t#*.} / 1000 )); }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg);" \
    "node $(node --version), $(git --version), dotnet $(dotnet --version)"
}

WORK="$(mktemp -d /tmp/slipway-bench-engine.XXXXXX)"
SERVER_PID=
EXTRA_PIDS=()

# Children of the server run in their own process groups (setsid): if any survived the server's shutdown, they are
# found by their working directory inside this run's temp directory, reported and killed by pid.
stray_processes() {
  local dir pid cwd
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    cwd=$(readlink "$dir/cwd" 2>/dev/null) || continue
    [[ "$cwd" == "$WORK"/* && "$pid" != "$$" ]] && echo "$pid"
  done
  return 0
}

stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

engine_cleanup() {
  local pid strays
  for pid in "${EXTRA_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  stop_server
  strays=$(stray_processes)
  if [[ -n "$strays" ]]; then
    echo "WARNING: processes left running after the server stopped: $(echo $strays)" >&2
    for pid in $strays; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap engine_cleanup EXIT
trap 'exit 130' INT TERM

build_server() {
  if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    echo "== building the server (Release)" >&2
    dotnet build "$ROOT/src/Slipway.Server/Slipway.Server.csproj" -c Release -v q -nologo 2>&1 | grep -E " error |rror\(s\)" >&2 || true
  fi
  [[ -f "$DLL" ]] || { echo "no $DLL" >&2; exit 2; }
}

# Starts the server with default engine settings (health check every 250 ms, 2 s drain, ...); extra
# Slipway__... settings can be passed in the environment of the calling script.
start_server() {
  API_PORT="$(free_port)"; ROUTER_PORT="$(free_port)"
  BASE="http://127.0.0.1:$API_PORT"
  ROUTER="http://127.0.0.1:$ROUTER_PORT"
  mkdir -p "$WORK/data"
  (
    cd "$WORK"
    exec env DOTNET_ENVIRONMENT=Production \
      "Slipway__DataDirectory=$WORK/data" \
      "urls=$BASE" \
      "Slipway__Router__Urls=$ROUTER" \
      "Slipway__Projects__AllowLocalRepositories=true" \
      "Slipway__RateLimits__Standard__RequestsPerMinute=${Slipway__RateLimits__Standard__RequestsPerMinute:-1000000}" \
      "Slipway__RateLimits__Standard__Burst=${Slipway__RateLimits__Standard__Burst:-1000000}" \
      "Logging__Console__FormatterName=simple" \
      "Logging__Console__FormatterOptions__TimestampFormat=HH:mm:ss.fff " \
      "Logging__Console__FormatterOptions__SingleLine=true" \
      dotnet "$DLL" >"$WORK/server.log" 2>&1
  ) &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/ready" 2>/dev/null || true)" == 200 ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited:" >&2; cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "server never became ready" >&2; cat "$WORK/server.log" >&2; exit 1
}

api() { # method path [json] -> body; fails on a non-2xx answer
  curl -sS -f --max-time 30 -X "$1" "$BASE$2" -H 'Content-Type: application/json' ${TOKEN:+-H "Authorization: Bearer $TOKEN"} ${3:+-d "$3"}
}

# The app answers "<version> <deployment id>" so a client can tell which release served it.
write_app() { # version
  cat >"$WORK/src/server.js" <<JS
const http = require('http');
const VERSION = '$1';
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(VERSION + ' ' + (process.env.SLIPWAY_DEPLOYMENT_ID || 'direct') + '\n');
});
server.listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1');
JS
  # GRACEFUL=0: an app that simply dies on SIGTERM (node's default), the harsher case for draining.
  if [[ "${GRACEFUL:-1}" != 0 ]]; then
    echo "process.on('SIGTERM', () => server.close(() => process.exit(0)));" >>"$WORK/src/server.js"
  fi
  # "A little work": a shell loop (~50-100 ms of CPU) and a file the app could read.
  cat >"$WORK/src/build.sh" <<'SH'
set -e
i=0
while [ "$i" -lt 50000 ]; do i=$((i + 1)); done
echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) after $i steps" > build.txt
SH
}

init_repo() {
  REPO="$WORK/origin.git"
  git init -q --bare --initial-branch main "$REPO"
  git init -q --initial-branch main "$WORK/src"
  git -C "$WORK/src" remote add origin "$REPO"
}

commit_version() { # version -> pushes a commit whose app answers that version
  write_app "$1"
  git -C "$WORK/src" add -A
  git -C "$WORK/src" -c user.email=bench@example.test -c user.name=Bench commit -q -m "version $1"
  git -C "$WORK/src" push -q origin main
}

create_project() {
  TOKEN=
  TOKEN=$(api POST /api/v1/auth/register "{\"email\":\"bench-$RANDOM@example.test\",\"name\":\"Bench\",\"password\":\"correct horse battery\"}" | jq -r .token)
  PROJECT=$(api POST /api/v1/projects "$(jq -n --arg name "$PROJECT_NAME" --arg repo "$REPO" \
    '{name: $name, repo_url: $repo, build_command: "sh build.sh", start_command: "node server.js"}')" | jq -r .id)
}

status_of() { # deployment id -> status (no fork besides curl)
  local body
  body=$(curl -s --max-time 5 "$BASE/api/v1/deployments/$1" -H "Authorization: Bearer $TOKEN" || true)
  if [[ "$body" =~ \"status\":\"([a-z]+)\" ]]; then echo "${BASH_REMATCH[1]}"; fi
}

wait_status() { # deployment id, wanted, timeout s, poll interval s -> 0 when reached; 1 on another terminal status or timeout
  local id=$1 want=$2 deadline=$(( $(now_ms) + $3 * 1000 )) poll=$4 s
  while (( $(now_ms) < deadline )); do
    s=$(status_of "$id")
    [[ "$s" == "$want" ]] && return 0
    if [[ "$s" == ready || "$s" == failed || "$s" == canceled ]]; then
      echo "deployment $id ended $s: $(api GET "/api/v1/deployments/$id" | jq -r .error)" >&2
      return 1
    fi
    sleep "$poll"
  done
  echo "deployment $id still not $want after $3 s" >&2
  diagnose "$id"
  return 1
}

# What a stuck deployment looks like from outside: API answers, the deployment and its log, the server's children.
diagnose() { # deployment id
  local id=$1 t0 code
  KEEP=1
  echo "== diagnosis (temp dir kept: $WORK)" >&2
  t0=$(now_ms)
  code=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$BASE/ready" || true)
  echo "GET /ready: $code in $(( $(now_ms) - t0 )) ms; router GET /: $(router_body | head -c 100)" >&2
  curl -s --max-time 5 "$BASE/api/v1/deployments/$id" -H "Authorization: Bearer $TOKEN" | jq -c '{status, error, timings, started_at, updated_at}' >&2 || true
  curl -s --max-time 5 "$BASE/api/v1/logs/$id?limit=1000" -H "Authorization: Bearer $TOKEN" \
    | jq -r '.data | sort_by(.seq)[] | "  \(.timestamp) \(.stream): \(.message[0:150])"' >&2 || true
  echo "server threads: $(ls "/proc/$SERVER_PID/task" 2>/dev/null | wc -l); processes in the server's tree:" >&2
  ps -e -o pid=,ppid=,pgid=,stat=,etimes=,args= | awk -v root="$SERVER_PID" '
    { pid[NR] = $1; ppid[NR] = $2; line[NR] = $0 }
    END { keep[root] = 1; changed = 1
          while (changed) { changed = 0; for (i = 1; i <= NR; i++) if (keep[ppid[i]] && !keep[pid[i]]) { keep[pid[i]] = 1; changed = 1 } }
          for (i = 1; i <= NR; i++) if (keep[pid[i]]) print "  " line[i] }' >&2
  if [[ "${DIAGNOSE_TRACE:-0}" == 1 ]] && command -v dotnet-trace >/dev/null; then
    dotnet-trace collect -p "$SERVER_PID" --duration 00:00:00:05 --format Speedscope -o "$WORK/stuck.nettrace" >/dev/null 2>&1 || true
    echo "managed stacks (5 s sample): $WORK/stuck.speedscope.json" >&2
  fi
  cp "$WORK/server.log" "$WORK/server-at-diagnosis.log" 2>/dev/null || true
}

router_body() { curl -s --max-time 5 -H "Host: $HOST_HEADER" "$ROUTER/" 2>/dev/null || true; }
