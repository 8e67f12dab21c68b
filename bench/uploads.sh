#!/usr/bin/env bash
# Uploaded builds, in one run on loopback:
#   1. a 1 GiB .tar.gz (stored, incompressible) POSTed with curl -F to POST /api/v1/projects/{id}/uploads, against the same
#      curl command to a plain Kestrel endpoint (built in this run, outside the repository) that reads the body and
#      discards it; runs interleaved, medians. The server's resident memory is sampled every 20 ms during each upload.
#   2. upload-to-serving: a 50 MB static site (.tar.gz) with automatic approval and auto release, from the 201 of the
#      upload to the first router answer carrying the new page.
# Bars: upload throughput >= 0.5 x the discarding endpoint, memory growth <= 64 MB; serving <= 2 s beyond the upload.
# Usage: bench/uploads.sh     env: RUNS (default 3) SIZE_MB (default 1024) SITE_MB (default 50) SKIP_BUILD=1
set -euo pipefail
PROJECT_NAME=site
source "$(dirname "$0")/engine-common.sh"

RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-1024}
SITE_MB=${SITE_MB:-50}

need_tools curl jq dotnet python3
build_server
start_server
echo "$(machine)"

mkdir -p "$WORK/discard"
cat >"$WORK/discard/Discard.csproj" <<'XML'
<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
</Project>
XML
cat >"$WORK/discard/Program.cs" <<'CS'
var builder = WebApplication.CreateBuilder(args);
builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
var app = builder.Build();
app.MapPost("/discard", async (HttpRequest request) => { await request.Body.CopyToAsync(Stream.Null); return "ok"; });
app.Run();
CS
echo "building the discarding endpoint..." >&2
dotnet build "$WORK/discard/Discard.csproj" -c Release -nologo -v q -o "$WORK/discard/out" >/dev/null
DISCARD_PORT=$(free_port)
(cd "$WORK/discard" && exec env "urls=http://127.0.0.1:$DISCARD_PORT" Logging__LogLevel__Default=Warning dotnet out/Discard.dll >"$WORK/discard.log" 2>&1) &
DISCARD_PID=$!
EXTRA_PIDS+=("$DISCARD_PID")
for _ in $(seq 1 300); do curl -s -o /dev/null -X POST "http://127.0.0.1:$DISCARD_PORT/discard" && break; sleep 0.1; done

python3 - "$WORK/big.tar.gz" "$SIZE_MB" "$WORK/site.tar.gz" "$SITE_MB" <<'PY'
import io, os, sys, tarfile
big, size_mb, site, site_mb = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
chunk = os.urandom(1 << 20)
class Random(io.RawIOBase):
    def __init__(self, n): self.left = n
    def readable(self): return True
    def readinto(self, b):
        n = min(len(b), self.left, len(chunk)); b[:n] = chunk[:n]; self.left -= n; return n
with tarfile.open(big, "w:gz", compresslevel=0) as tar:
    info = tarfile.TarInfo("payload.bin"); info.size = size_mb << 20
    tar.addfile(info, io.BufferedReader(Random(info.size)))
with tarfile.open(site, "w:gz", compresslevel=1) as tar:
    page = b"<!doctype html><title>uploaded</title><h1>bench-upload-marker</h1>"
    info = tarfile.TarInfo("index.html"); info.size = len(page); tar.addfile(info, io.BytesIO(page))
    for i in range(site_mb):
        data = os.urandom(1 << 20)
        info = tarfile.TarInfo(f"assets/blob-{i:03}.bin"); info.size = len(data); tar.addfile(info, io.BytesIO(data))
PY
echo "archives: $(( $(stat -c %s "$WORK/big.tar.gz") >> 20 )) MiB upload, $(( $(stat -c %s "$WORK/site.tar.gz") >> 20 )) MiB site"

TOKEN=$(api POST /api/v1/auth/register "{\"email\":\"bench-$RANDOM@example.test\",\"name\":\"Bench\",\"password\":\"correct horse battery\"}" | jq -r .token)
BIG_PROJECT=$(api POST /api/v1/projects '{"name":"big","framework":"static","upload_approval":"manual"}' | jq -r .id)
SITE_PROJECT=$(api POST /api/v1/projects "{\"name\":\"$PROJECT_NAME\",\"framework\":\"static\"}" | jq -r .id)

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$SERVER_PID/status"; }
sample_rss() { local max=0 v; while [[ -e "$WORK/sampling" ]]; do v=$(kib VmRSS); (( v > max )) && max=$v; sleep 0.02; done; echo "$max" >"$WORK/peak"; }
post() { # url, file, auth? -> seconds
  curl -sS -f --max-time 600 -o "$WORK/answer.json" -w '%{time_total}' -X POST "$1" ${3:+-H "Authorization: Bearer $3"} -F "file=@$2"
}

# CPU seconds (user + system) a process spent: on a shared machine this moves far less than wall time.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
slipway=(); discard=(); growth=(); slipway_cpu=(); discard_cpu=()
size=$(stat -c %s "$WORK/big.tar.gz")
# Each measurement starts with no dirty pages from the previous step (archive creation, validation), so neither side
# pays for the kernel flushing earlier writes.
sync
for run in $(seq 1 "$RUNS"); do
  sync
  c=$(cpu_ticks "$DISCARD_PID")
  d=$(post "http://127.0.0.1:$DISCARD_PORT/discard" "$WORK/big.tar.gz")
  discard_cpu+=("$(( $(cpu_ticks "$DISCARD_PID") - c ))")
  sync
  before=$(kib VmRSS)
  touch "$WORK/sampling"; sample_rss & sampler=$!
  c=$(cpu_ticks "$SERVER_PID")
  s=$(post "$BASE/api/v1/projects/$BIG_PROJECT/uploads" "$WORK/big.tar.gz" "$TOKEN")
  slipway_cpu+=("$(( $(cpu_ticks "$SERVER_PID") - c ))")
  rm -f "$WORK/sampling"; wait "$sampler"
  id=$(jq -r .id "$WORK/answer.json")
  grown=$(( ($(cat "$WORK/peak") - before) / 1024 ))
  # Let validation finish and free the disk before the next run.
  for _ in $(seq 1 600); do
    st=$(api GET "/api/v1/uploads/$id" | jq -r .status); [[ "$st" == uploaded || "$st" == validating ]] || break; sleep 0.2
  done
  api DELETE "/api/v1/uploads/$id" >/dev/null || true
  slipway+=("$(awk -v b="$size" -v t="$s" 'BEGIN { printf "%d", b / t / 1048576 }')")
  discard+=("$(awk -v b="$size" -v t="$d" 'BEGIN { printf "%d", b / t / 1048576 }')")
  growth+=("$grown")
  echo "run $run: slipway ${slipway[-1]} MiB/s, ${slipway_cpu[-1]} CPU ticks (rss +${grown} MB, validated: $st); discarding Kestrel ${discard[-1]} MiB/s, ${discard_cpu[-1]} CPU ticks"
done
S=$(median "${slipway[@]}"); D=$(median "${discard[@]}"); G=$(printf '%s\n' "${growth[@]}" | sort -n | tail -1)
RATIO=$(awk -v s="$S" -v d="$D" 'BEGIN { printf "%.2f", s / d }')
verdict=$(awk -v r="$RATIO" -v g="$G" 'BEGIN { print (r >= 0.5 && g <= 64) ? "PASS" : "FAIL" }')
echo "upload $SIZE_MB MiB: median slipway $S MiB/s, discarding Kestrel $D MiB/s, ratio $RATIO (bar >= 0.50); peak rss growth $G MB (bar <= 64): $verdict"
echo "CPU per upload (ticks of 1/$(getconf CLK_TCK) s, medians): slipway $(median "${slipway_cpu[@]}"), discarding Kestrel $(median "${discard_cpu[@]}")"

sync
t0=$(now_ms)
post "$BASE/api/v1/projects/$SITE_PROJECT/uploads" "$WORK/site.tar.gz" "$TOKEN" >/dev/null
t1=$(now_ms)
served=
for _ in $(seq 1 3000); do
  if router_body | grep -q bench-upload-marker; then served=$(now_ms); break; fi
  sleep 0.01
done
[[ -n "$served" ]] || { echo "the site was never served: $(api GET "/api/v1/projects/$SITE_PROJECT/uploads" | jq -c '.data[0] | {status, reason}')"; exit 1; }
site_id=$(jq -r .id "$WORK/answer.json")
deployment=$(api GET "/api/v1/uploads/$site_id" | jq -r .deployment_id)
timings=$(api GET "/api/v1/deployments/$deployment" | jq -c .timings)
beyond=$(( served - t1 ))
if (( beyond <= 2000 )); then verdict=PASS; else verdict=FAIL; fi
echo "upload-to-serving $SITE_MB MB static site: upload $(( t1 - t0 )) ms, then serving after $beyond ms (bar <= 2000): $verdict; deployment timings $timings"
