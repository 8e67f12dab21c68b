#!/usr/bin/env node
// Fetches a JSON document and prints it pretty-printed (2 spaces, trailing newline), keys in the server's order.
// Usage: node scripts/fetch-json.mjs http://127.0.0.1:PORT/openapi.json
const [, , url] = process.argv;
if (!url) {
  console.error('usage: node scripts/fetch-json.mjs <url>');
  process.exit(2);
}
const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
if (!response.ok) {
  console.error(`GET ${url}: HTTP ${response.status}`);
  process.exit(1);
}
process.stdout.write(JSON.stringify(await response.json(), null, 2) + '\n');
