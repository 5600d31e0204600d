#!/usr/bin/env bash
# `buf breaking` against the main branch: no change may break consumers of a published contract version.
# Compares with origin/main when it exists (a PR checkout), else the local main branch.
set -euo pipefail
cd "$(dirname "$0")/.."
buf=node_modules/.bin/buf
ref=main
git rev-parse --verify -q origin/main >/dev/null && ref=origin/main
if ! git rev-parse --verify -q "$ref" >/dev/null; then
  echo "buf-breaking: no main branch to compare with; skipped"; exit 0
fi
if ! git cat-file -e "$ref:proto/buf.yaml" 2>/dev/null; then
  echo "buf-breaking: $ref has no proto/ yet; nothing to break"; exit 0
fi
against=$(mktemp -d)
trap 'rm -rf "$against"' EXIT
git archive "$ref" proto | tar -x -C "$against"
"$buf" breaking proto --against "$against/proto"
echo "buf-breaking: no breaking change against $ref"
