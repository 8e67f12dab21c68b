#!/usr/bin/env bash
# Fails when the committed API docs no longer match the code, then lints the OpenAPI document.
#   1. regenerates docs/openapi.json and the Postman collection into a temp dir (scripts/update-api-docs.sh);
#   2. compares them with the committed docs/ files;
#   3. runs redocly lint (recommended ruleset, redocly.yaml) on docs/openapi.json.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fresh="$(mktemp -d "${TMPDIR:-/tmp}/slipway-api-docs-check.XXXXXX")"
trap 'rm -rf "$fresh"' EXIT

"$root/scripts/update-api-docs.sh" "$fresh"

stale=0
for file in openapi.json slipway.postman_collection.json; do
  if [[ ! -f "$root/docs/$file" ]]; then
    echo "check-api-docs: docs/$file is missing." >&2
    stale=1
  elif ! cmp -s "$root/docs/$file" "$fresh/$file"; then
    echo "check-api-docs: docs/$file differs from what the code generates:" >&2
    diff -u "$root/docs/$file" "$fresh/$file" | head -n 60 >&2 || true
    stale=1
  fi
done
if [[ "$stale" -ne 0 ]]; then
  echo "check-api-docs: the API docs are out of date. Run scripts/update-api-docs.sh and commit docs/." >&2
  exit 1
fi
echo "check-api-docs: docs/openapi.json and docs/slipway.postman_collection.json are up to date." >&2

"$root/scripts/lint-api-docs.sh"
