"""Real photos that install with packages, named by reference instead of by path.

A reference is ``source:path``: ``opencv-doc:data/fruits.jpg`` (Debian ``opencv-doc`` samples,
under `OPENCV_DOC`), ``skimage:coffee.png`` (``scikit-image``'s data folder) or
``sklearn:china.jpg`` (``scikit-learn``'s sample images). The vision models train and are
measured on these (`cutouts`, `scenes`, `ad_text`, `creativeloop.training.aesthetics`); a missing
package changes the set, so callers check `missing_photos` before they report figures.

Two readers, because their callers rely on different decoding:

- `load_image_file`: any picture file, also ``.gz``-compressed (as Debian ships some), decoded
  with its alpha and grey channels turned into BGR by `as_bgr`; raises when missing;
- `read_photo`: a reference as OpenCV's colour reader sees it, or one frame of a film
  (``ref@frame``), cached, None when not installed.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from creativeloop.understanding.product_box import Image, as_bgr

OPENCV_DOC = Path(os.environ.get("CREATIVELOOP_OPENCV_DOC", "/usr/share/doc/opencv-doc/examples"))
#: Where each Python package keeps its sample pictures, relative to the package folder.
_PACKAGE_DATA = {"skimage": "data", "sklearn": "datasets/images"}
#: How to install each source.
INSTALL_HINTS = {
    "opencv-doc": "apt-get install opencv-doc",
    "skimage": "pip install scikit-image",
    "sklearn": "pip install scikit-learn",
}


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (None when absent)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def photo_path(ref: str) -> Path:
    """Where a photo reference lives on this machine (it may not exist: see `missing_photos`)."""
    source, _, rel = ref.partition(":")
    if source == "opencv-doc":
        return OPENCV_DOC / rel
    if source in _PACKAGE_DATA:
        root = package_dir(source)
        base = Path("/nonexistent") / source if root is None else root
        return base / _PACKAGE_DATA[source] / rel
    raise ValueError(f"unknown photo source in {ref!r} (opencv-doc, skimage, sklearn)")


def existing_file(path: Path) -> Path | None:
    """``path``, or its ``.gz`` sibling, whichever is installed (None when neither is)."""
    if path.is_file():
        return path
    gz = path.with_name(path.name + ".gz")
    return gz if gz.is_file() else None


def missing_photos(refs: Sequence[str]) -> list[str]:
    """References whose file is not installed, with the package that brings it."""
    missing = []
    for ref in refs:
        if existing_file(photo_path(ref)) is None:
            missing.append(f"{ref} ({INSTALL_HINTS[ref.partition(':')[0]]})")
    return missing


def load_image_file(path: Path) -> Image:
    """Read a picture (also ``.gz``-compressed, as Debian ships some); BGR uint8."""
    found = existing_file(path)
    if found is None:
        raise FileNotFoundError(path)
    data = found.read_bytes()
    if found.suffix == ".gz":
        data = gzip.decompress(data)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot decode {found}")
    return as_bgr(image)


@lru_cache(maxsize=64)
def read_photo(ref: str) -> Image | None:
    """A photo (``ref``) or a film frame (``ref@frame``) as BGR, or None when not installed."""
    name, _, frame = ref.partition("@")
    path = photo_path(name)
    if not path.is_file():
        return None
    if frame:
        capture = cv2.VideoCapture(str(path))
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(frame))
        ok, frame_pixels = capture.read()
        capture.release()
        return np.asarray(frame_pixels, dtype=np.uint8) if ok else None
    pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if pixels is None else np.asarray(pixels, dtype=np.uint8)
