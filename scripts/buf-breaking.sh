#!/usr/bin/env bash
# buf breaking (FILE rules) against the last landed main.
# The reference is, in order: $BUF_BREAKING_AGAINST (any git ref), else the
# `landed` tag that marks the last landed main (see README, "Releasing the contract").
# With neither, there is nothing to compare against yet and the check says so.
set -euo pipefail
cd "$(dirname "$0")/.."
ref="${BUF_BREAKING_AGAINST:-}"
if [ -z "$ref" ] && git rev-parse -q --verify "refs/tags/landed" >/dev/null; then
  ref="landed"
fi
if [ -z "$ref" ]; then
  echo "buf breaking: no landed main to compare against (set BUF_BREAKING_AGAINST=<git ref>); skipped"
  exit 0
fi
if ! git cat-file -e "$ref:proto" 2>/dev/null; then
  echo "buf breaking: $ref has no proto/ folder; nothing to compare against"
  exit 0
fi
npx buf breaking proto --against ".git#ref=$ref,subdir=proto"
echo "buf breaking: no breaking change against $ref"
