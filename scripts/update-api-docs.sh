#!/usr/bin/env bash
# Regenerates the API docs from the running code:
#   docs/openapi.json                    GET /openapi.json of a freshly built server, pretty-printed
#   docs/slipway.postman_collection.json scripts/postman.mjs over that document
# Usage: scripts/update-api-docs.sh [OUTPUT_DIR]   (default: docs; scripts/check-api-docs.sh passes a temp dir)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/docs}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
project="$root/src/Slipway.Server/Slipway.Server.csproj"

work="$(mktemp -d "${TMPDIR:-/tmp}/slipway-api-docs.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "update-api-docs: building the server" >&2
if ! dotnet build "$project" -nologo -v q >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "update-api-docs: build failed" >&2
  exit 1
fi
dll="$(dotnet msbuild "$project" -nologo -getProperty:TargetPath)"

# Port 0: Kestrel picks a free loopback port and logs it. A fresh data directory and SQLite keep the
# document independent of whatever database settings the caller's environment carries.
mkdir -p "$work/data"
env Slipway__DataDirectory="$work/data" \
  Slipway__Database__Provider=sqlite \
  Slipway__Database__ConnectionString= \
  Slipway__Router__Urls=http://127.0.0.1:0 \
  ASPNETCORE_ENVIRONMENT=Production \
  dotnet "$dll" --urls "http://127.0.0.1:0" >"$work/server.log" 2>&1 &
server_pid=$!

# Two listeners log "Now listening on" (the API and the router): the API is the one that serves /ready.
url=""
for _ in $(seq 1 300); do
  for candidate in $(grep -oE 'Now listening on: http://127\.0\.0\.1:[0-9]+' "$work/server.log" | sed 's/^Now listening on: //' || true); do
    if node -e 'fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$candidate/ready" 2>/dev/null; then
      url="$candidate"
    fi
  done
  [[ -n "$url" ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [[ -z "$url" ]]; then
  cat "$work/server.log" >&2
  echo "update-api-docs: the server did not start" >&2
  exit 1
fi

node "$root/scripts/fetch-json.mjs" "$url/openapi.json" >"$work/openapi.json"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""

node "$root/scripts/postman.mjs" "$work/openapi.json" >"$work/slipway.postman_collection.json"
mv "$work/openapi.json" "$out/openapi.json"
mv "$work/slipway.postman_collection.json" "$out/slipway.postman_collection.json"
echo "update-api-docs: wrote $out/openapi.json and $out/slipway.postman_collection.json" >&2
