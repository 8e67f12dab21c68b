#!/usr/bin/env bash
# The whole test suite: builds with warnings as errors, runs every test on SQLite, again on PostgreSQL when
# SLIPWAY_TEST_POSTGRES is set, checks the committed API docs, and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"

# (Re)install the npm clients and scanners whenever package-lock.json differs from what was installed last.
if [ -f package.json ] && ! cmp -s package-lock.json node_modules/.slipway-installed-lock.json 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error || { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }
  cp package-lock.json node_modules/.slipway-installed-lock.json
fi

dotnet build Slipway.slnx -c Release -warnaserror -nologo -v q || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

rm -rf TestResults
passed=0
failed=0
status=0

run_suite() { # $1 = provider
  local provider=$1
  echo "== tests on $provider =="
  SLIPWAY_TEST_PROVIDER=$provider dotnet test Slipway.slnx -c Release --no-build --nologo \
    --logger "trx;LogFileName=$provider.trx" --logger "console;verbosity=minimal" --results-directory TestResults \
    -- RunConfiguration.TestSessionTimeout=2400000 || status=1
  local trx="TestResults/$provider.trx"
  if [ -f "$trx" ]; then
    local counters
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
    local p f
    p=$(echo "$counters" | sed -n 's/.* passed="\([0-9]*\)".*/\1/p')
    f=$(echo "$counters" | sed -n 's/.* failed="\([0-9]*\)".*/\1/p')
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
  else
    failed=$((failed + 1))
  fi
}

run_suite sqlite
if [ -n "${SLIPWAY_TEST_POSTGRES:-}" ]; then
  run_suite postgres
fi

if [ -x scripts/check-api-docs.sh ]; then
  echo "== API docs (OpenAPI staleness, Postman collection, redocly lint) =="
  if scripts/check-api-docs.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
fi

[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
