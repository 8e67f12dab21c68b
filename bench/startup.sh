#!/usr/bin/env bash
# Time from process start to the first 200 from /ready, with an empty SQLite data directory (migrations included),
# against a minimal ASP.NET Core app (one MapGet) published and started the same way in the same run, runs interleaved.
# Both are published as docs/operations.md says to publish for production: Release, ReadyToRun (precompiled, so start-up
# does not wait for the JIT), framework-dependent.
# Bar: median start-up <= 2x the minimal app's.   Usage: bench/startup.sh   env: RUNS (default 7) SKIP_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-7}
OUT=${TMPDIR:-/tmp}/slipway-startup-publish-$(pwd | md5sum | cut -c1-8) # one per checkout
DLL=$OUT/slipway/Slipway.Server.dll
PUBLISH=(-c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -nologo -v q)

for tool in curl dotnet python3; do
    command -v "$tool" >/dev/null || { echo "missing '$tool'" >&2; exit 2; }
done
if [[ "${SKIP_BUILD:-}" != 1 || ! -f "$DLL" ]]; then
    echo "publishing Slipway (Release, ReadyToRun; a few minutes)..."
    # From scratch: a ReadyToRun image reused from an earlier publish of other sources aborted at start once.
    rm -rf "$OUT/slipway" src/Slipway.Server/obj/Release/net10.0/linux-x64
    dotnet publish src/Slipway.Server/Slipway.Server.csproj "${PUBLISH[@]}" -o "$OUT/slipway" >"$OUT.log" 2>&1 || { cat "$OUT.log" >&2; exit 1; }
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

WORK=$(mktemp -d /tmp/slipway-startup-XXXXXX)
SERVER_PID=
stop() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    SERVER_PID=
}
trap 'stop; rm -rf "$WORK"' EXIT

# The minimal app: outside the repository, so none of its build settings apply; same runtime, same configuration.
mkdir -p "$WORK/minimal"
cat >"$WORK/minimal/Minimal.csproj" <<'XML'
<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
</Project>
XML
cat >"$WORK/minimal/Program.cs" <<'CS'
var app = WebApplication.CreateBuilder(args).Build();
app.MapGet("/ready", () => "ok");
app.Run();
CS
echo "publishing the minimal app the same way..."
dotnet publish "$WORK/minimal/Minimal.csproj" "${PUBLISH[@]}" -o "$WORK/minimal/out" >"$WORK/minimal.log" 2>&1 || { cat "$WORK/minimal.log" >&2; exit 1; }

time_to_ready() { # label command... -> prints milliseconds
    local port start ready= run_dir
    port=$(free_port)
    run_dir=$(mktemp -d "$WORK/run-XXXXXX")
    start=$(date +%s%N)
    # The router gets a free port too: its default (127.0.0.1:8000) may be taken by another server on this machine.
    Slipway__DataDirectory="$run_dir" Slipway__Router__Urls=http://127.0.0.1:0 "${@:2}" --urls "http://127.0.0.1:$port" >"$run_dir/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 3000); do
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready" 2>/dev/null || true)" == 200 ]]; then ready=$(date +%s%N); break; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "$1 exited:" >&2; cat "$run_dir/server.log" >&2; exit 1; }
        sleep 0.005
    done
    [[ -n "$ready" ]] || { echo "$1 never ready" >&2; exit 1; }
    [[ "$1" != slipway || -f "$run_dir/slipway.db" ]] || { echo "no database was created" >&2; exit 1; }
    stop
    rm -rf "$run_dir"
    echo $(( (ready - start) / 1000000 ))
}
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
slipway=()
minimal=()
for run in $(seq 1 "$RUNS"); do
    minimal+=("$(time_to_ready minimal dotnet "$WORK/minimal/out/Minimal.dll")")
    slipway+=("$(time_to_ready slipway dotnet "$DLL")")
    echo "run $run: slipway ${slipway[-1]} ms, minimal app ${minimal[-1]} ms"
done

S=$(median "${slipway[@]}")
M=$(median "${minimal[@]}")
RATIO=$(awk -v s="$S" -v m="$M" 'BEGIN { printf "%.2f", s / m }')
echo "median start-to-ready over $RUNS runs: slipway ${S} ms, minimal ASP.NET Core app ${M} ms, ratio ${RATIO} (bar <= 2.00)"
if awk -v r="$RATIO" 'BEGIN { exit !(r <= 2) }'; then echo "PASS"; else echo "FAIL"; exit 1; fi
