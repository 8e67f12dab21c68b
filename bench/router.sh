#!/usr/bin/env bash
# Router throughput: wrk against a tiny Node backend directly, through Slipway's router, and through nginx configured
# as an equivalent streaming reverse proxy (keep-alive upstream pool, no buffering), all on loopback in one run.
# Bars: router req/s >= 0.7 x nginx req/s, and router p50 - direct p50 <= 1 ms.
#
# Usage: bench/router.sh            (DURATION=10s CONNECTIONS=32 THREADS=2 by default; KEEP=1 keeps the temp dir)
set -euo pipefail

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
WARMUP="${WARMUP:-5s}"
HOST_HEADER="bench.localhost"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx; then
  echo "installing wrk and nginx..." >&2
  apt-get install -y wrk nginx >/dev/null
fi
need node || { echo "node is required for the backend" >&2; exit 2; }

WORK="$(mktemp -d /tmp/slipway-bench-router.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ "${KEEP:-0}" != 1 ]]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
BACKEND_PORT="$(free_port)"; ROUTER_PORT="$(free_port)"; API_PORT="$(free_port)"; NGINX_PORT="$(free_port)"

wait_for() { # url [host header]
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null -H "Host: ${2:-localhost}" "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "timed out waiting for $1" >&2; return 1
}

echo "== building the server (Release)" >&2
dotnet build "$ROOT/src/Slipway.Server/Slipway.Server.csproj" -c Release -v q -nologo 2>&1 | grep -E " error |rror\(s\)" >&2 || true
SERVER_DLL="$ROOT/src/Slipway.Server/bin/Release/net10.0/Slipway.Server.dll"
[[ -f "$SERVER_DLL" ]] || { echo "no $SERVER_DLL" >&2; exit 2; }

echo "== backend: node on :$BACKEND_PORT" >&2
cat >"$WORK/backend.js" <<'JS'
const http = require('http');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 2 });
  res.end('ok');
});
server.keepAliveTimeout = 65000;
server.listen(Number(process.env.PORT), '127.0.0.1');
JS
PORT="$BACKEND_PORT" node "$WORK/backend.js" &
PIDS+=($!)
wait_for "http://127.0.0.1:$BACKEND_PORT/"

echo "== Slipway router on :$ROUTER_PORT (API on :$API_PORT)" >&2
(
  cd "$WORK"
  exec env DOTNET_ENVIRONMENT=Production \
    "Slipway__DataDirectory=$WORK/data" \
    "urls=http://127.0.0.1:$API_PORT" \
    "Slipway__Router__Urls=http://127.0.0.1:$ROUTER_PORT" \
    "Slipway__Router__FixedRoutes__$HOST_HEADER=http://127.0.0.1:$BACKEND_PORT" \
    "Logging__LogLevel__Default=Warning" \
    dotnet "$SERVER_DLL" >"$WORK/slipway.log" 2>&1
) &
PIDS+=($!)
wait_for "http://127.0.0.1:$ROUTER_PORT/" "$HOST_HEADER" || { cat "$WORK/slipway.log" >&2; exit 1; }

echo "== nginx on :$NGINX_PORT" >&2
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  upstream app { server 127.0.0.1:$BACKEND_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    server_name $HOST_HEADER;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$http_host;
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
wait_for "http://127.0.0.1:$NGINX_PORT/" "$HOST_HEADER"

# ms from wrk's "50%  1.23ms" style values (us, ms, s)
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

declare -A RPS P50 P99 ERRORS
run() { # name port
  local name="$1" port="$2" out
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -H "Host: $HOST_HEADER" "http://127.0.0.1:$port/" >/dev/null
  out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $HOST_HEADER" "http://127.0.0.1:$port/")"
  echo "$out" >"$WORK/wrk-$name.txt"
  RPS[$name]="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
  P50[$name]="$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")"
  P99[$name]="$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")"
  ERRORS[$name]="$( (grep -E "Non-2xx|Socket errors" <<<"$out" || true) | tr -s ' ' | paste -sd ';' -)"
  printf "%-8s %12s req/s   p50 %8s ms   p99 %8s ms   %s\n" "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "${ERRORS[$name]:-no errors}"
}

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (after a $WARMUP warm-up each); $(nproc) cores; $(nginx -v 2>&1); node $(node --version); dotnet $(dotnet --version)"
run direct "$BACKEND_PORT"
run router "$ROUTER_PORT"
run nginx "$NGINX_PORT"

ratio="$(awk -v a="${RPS[router]}" -v b="${RPS[nginx]}" 'BEGIN { printf "%.2f", a / b }')"
added="$(awk -v a="${P50[router]}" -v b="${P50[direct]}" 'BEGIN { printf "%.3f", a - b }')"
ratio_ok="$(awk -v r="$ratio" 'BEGIN { print (r >= 0.7) ? "PASS" : "FAIL" }')"
added_ok="$(awk -v d="$added" 'BEGIN { print (d <= 1.0) ? "PASS" : "FAIL" }')"
errors_ok=PASS
[[ -z "${ERRORS[router]}" ]] || errors_ok=FAIL
echo
echo "router/nginx throughput: $ratio (bar >= 0.70)  $ratio_ok"
echo "router p50 added vs direct: $added ms (bar <= 1.00 ms)  $added_ok"
echo "router errors: ${ERRORS[router]:-none}  $errors_ok"
if [[ "$ratio_ok$added_ok$errors_ok" == PASSPASSPASS ]]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; exit 1; fi
