#!/usr/bin/env bash
# Install a local Triton Inference Server for tests and local runs, from PyPI only:
#
#   nvidia-pytriton 0.7.0   bundles tritonserver 2.51 with only the Python backend (and its stubs)
#   numpy 1.26.4            the Python-backend stub returns empty outputs with numpy 2
#   onnxruntime 1.31.1      runs the ONNX models inside the Python backend (model.py), CPU only
#
# They live in their own virtualenv (default <repo>/.venv-triton, git-ignored) because the
# project's .venv needs numpy 2; creativeloop.stack.triton runs the server from there.
# Idempotent: a venv that already has these versions is left alone.
#
#   scripts/install-triton.sh
#   CREATIVELOOP_TRITON_VENV=/opt/triton-venv PYTHON=python3.11 scripts/install-triton.sh
#
# Environment: CREATIVELOOP_TRITON_VENV (venv path), PYTHON (interpreter for a new venv; default
# python3; it must be a shared-library build, as pyenv's --enable-shared or Debian's python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CREATIVELOOP_TRITON_VENV:-$ROOT/.venv-triton}"
BASE_PYTHON="${PYTHON:-python3}"

PYTRITON_VERSION="0.7.0"
NUMPY_VERSION="1.26.4"
ONNXRUNTIME_VERSION="1.31.1"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

say() { printf 'install-triton: %s\n' "$*"; }
die() { printf 'install-triton: error: %s\n' "$*" >&2; exit 1; }

# The interpreter's major.minor must have a bundled stub, and the stub embeds the interpreter's
# shared libpython (found through LD_LIBRARY_PATH at run time): check both before installing.
check_interpreter() {
  "$1" - <<'PYEOF'
import os, sys, sysconfig
version = f"{sys.version_info[0]}.{sys.version_info[1]}"
if version not in {"3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}:
    sys.exit(f"python {version} has no Triton Python-backend stub in nvidia-pytriton (3.8-3.13)")
libdir = sysconfig.get_config_var("LIBDIR") or ""
soname = sysconfig.get_config_var("INSTSONAME") or ""
if not (soname.endswith(".so") or ".so." in soname) or not os.path.exists(os.path.join(libdir, soname)):
    sys.exit(f"{sys.executable} is not a shared-library build ({libdir}/{soname} missing): "
             "use one built with --enable-shared (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared) "
             "or Debian's python3 with libpython3.x")
PYEOF
}

installed_ok() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$PYTRITON_VERSION" "$NUMPY_VERSION" "$ONNXRUNTIME_VERSION" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import PackageNotFoundError, version
wanted = dict(zip(["nvidia-pytriton", "numpy", "onnxruntime"], sys.argv[1:4]))
try:
    sys.exit(0 if all(version(name) == want for name, want in wanted.items()) else 1)
except PackageNotFoundError:
    sys.exit(1)
PYEOF
}

start=$SECONDS
if installed_ok; then
  say "already installed in $VENV (nvidia-pytriton $PYTRITON_VERSION, numpy $NUMPY_VERSION, onnxruntime $ONNXRUNTIME_VERSION)"
else
  if [ ! -x "$VENV/bin/python" ]; then
    command -v "$BASE_PYTHON" >/dev/null || die "$BASE_PYTHON not found (set PYTHON=/path/to/python3.11)"
    check_interpreter "$BASE_PYTHON" || die "unsuitable interpreter $BASE_PYTHON"
    say "creating $VENV with $("$BASE_PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    "$BASE_PYTHON" -m venv "$VENV"
  fi
  check_interpreter "$VENV/bin/python" || die "unsuitable interpreter in $VENV (remove it and rerun)"
  say "pip install nvidia-pytriton==$PYTRITON_VERSION numpy==$NUMPY_VERSION onnxruntime==$ONNXRUNTIME_VERSION"
  "$VENV/bin/python" -m pip install -q \
    "nvidia-pytriton==$PYTRITON_VERSION" "numpy==$NUMPY_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION"
  installed_ok || die "versions in $VENV do not match after pip install"
  say "installed in $((SECONDS - start)) s"
fi

# Where the bundled binary is, and a check that it and the 3.x stub link (no missing libraries).
read -r TRITONSERVER STUB LIBDIR < <("$VENV/bin/python" - <<'PYEOF'
import importlib.util, os, sys, sysconfig
spec = importlib.util.find_spec("pytriton")
root = os.path.join(list(spec.submodule_search_locations)[0], "tritonserver")
version = f"{sys.version_info[0]}.{sys.version_info[1]}"
print(os.path.join(root, "bin", "tritonserver"), os.path.join(root, "python_backend_stubs", version,
      "triton_python_backend_stub"), sysconfig.get_config_var("LIBDIR"))
PYEOF
)
[ -x "$TRITONSERVER" ] || die "tritonserver binary not found at $TRITONSERVER"
[ -x "$STUB" ] || die "Python-backend stub not found at $STUB"
if command -v ldd >/dev/null; then
  missing="$(LD_LIBRARY_PATH="$LIBDIR" ldd "$TRITONSERVER" "$STUB" 2>/dev/null | grep 'not found' || true)"
  [ -z "$missing" ] || die "tritonserver or its stub lacks shared libraries: $missing"
fi
ORT_DISABLE_TELEMETRY=1 "$VENV/bin/python" -c \
  'import numpy, onnxruntime; assert "CPUExecutionProvider" in onnxruntime.get_available_providers()' \
  || die "onnxruntime does not import in $VENV"

say "tritonserver: $TRITONSERVER"
say "venv: $VENV (creativeloop finds it there, or set CREATIVELOOP_TRITON_VENV)"
