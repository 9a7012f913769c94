#!/usr/bin/env bash
# Every static check CI runs, zero warnings allowed. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$1"; }

step "TypeScript (strict, noUncheckedIndexedAccess)"
npx tsc --noEmit -p .

step "ESLint (typescript-eslint strict, type-checked)"
npx eslint --max-warnings 0 .

step "Prettier"
npx prettier --check --log-level warn .

step "buf lint (STANDARD)"
npx buf lint

step "buf format"
npx buf format --diff --exit-code

step "buf breaking (FILE) against the last landed main"
bash scripts/buf-breaking.sh

step "Generated code is up to date"
bash scripts/check-generated.sh

echo
echo "lint: all checks passed"
