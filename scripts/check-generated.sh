#!/usr/bin/env bash
# Fails when the committed generated code differs from what `npm run generate` makes now.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r services/gen "$tmp/services-gen"
cp -r gateway/web/src/gen "$tmp/web-gen"
npx buf generate
npx buf generate --template buf.gen.oip.yaml
if ! diff -r "$tmp/services-gen" services/gen >/dev/null || ! diff -r "$tmp/web-gen" gateway/web/src/gen >/dev/null; then
  echo "Generated code is stale: run 'npm run generate' and commit the result." >&2
  diff -r "$tmp/services-gen" services/gen | head -20 >&2 || true
  exit 1
fi
echo "generated code matches proto/"
