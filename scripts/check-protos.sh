#!/usr/bin/env bash
# The contract checks: buf lint, buf format, and buf breaking against the previous commit
# (skipped only when there is no previous commit with protos/, e.g. a shallow clone's first).
set -euo pipefail
cd "$(dirname "$0")/.."
buf lint protos
buf format -d --exit-code protos
against="${BUF_BREAKING_AGAINST:-HEAD~1}"
if git rev-parse -q --verify "${against}:protos/buf.yaml" >/dev/null; then
  buf breaking protos --against ".git#ref=${against},subdir=protos"
  echo "buf breaking: no breaking change against ${against}"
else
  echo "buf breaking: ${against} has no protos/ (first commit or shallow clone), nothing to compare"
fi
