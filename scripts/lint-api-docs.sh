#!/usr/bin/env bash
# redocly lint of docs/openapi.json with redocly.yaml, installing the pinned CLI (package-lock.json) when missing.
# Offline apart from that install: no telemetry, no update check.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [[ ! -x node_modules/.bin/redocly ]]; then
  echo "lint-api-docs: installing node tooling (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true
node_modules/.bin/redocly lint --config redocly.yaml docs/openapi.json
