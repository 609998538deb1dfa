#!/usr/bin/env bash
# rapidocr and scenedetect-headless require opencv-python-headless, which writes the same cv2
# folder as opencv-contrib-python-headless (saliency, BRISQUE). Reinstall contrib last so cv2 has
# the contrib modules, then prove it. Usage: scripts/fix-opencv.sh PYTHON
set -euo pipefail
PYTHON=${1:-python}
"$PYTHON" -m pip install -q --force-reinstall --no-deps opencv-contrib-python-headless==5.0.0.93
"$PYTHON" -c "import cv2; cv2.saliency.StaticSaliencySpectralResidual_create(); cv2.quality.QualityBRISQUE_compute" \
  || { echo "cv2 lacks the contrib modules" >&2; exit 1; }
