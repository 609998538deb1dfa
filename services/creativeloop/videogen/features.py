"""Per-frame features for shot scoring, all classical and cheap (a few ms at 320 px wide).

- sharpness: variance of the Laplacian (Pech-Pacheco et al., 2000), log-scaled to 0..1;
- exposure: mid-tones good, crushed blacks and clipped whites bad;
- motion: median Farneback optical-flow magnitude between the frame and the one before it,
  scored so that moderate motion wins over both a frozen frame and a violent shake;
- product: saliency (spectral residual, Hou & Zhang 2007) times the product's colour likelihood
  when a product image is known, else how concentrated saliency is (one clear subject);
- text: share of the frame covered by text-like blobs (gradient, Otsu, horizontal closing,
  box geometry), the classical stand-in for an OCR text-area ratio;
- faces: share of the frame covered by Haar-cascade faces (Viola & Jones, 2001).

Each also yields the product's (or the salient subject's) centroid, which the crop follows.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.videogen.media import Frame
from creativeloop.videogen.product import ProductLook

Floats = npt.NDArray[np.float32]
Grey = npt.NDArray[Any]
_FLOW_WIDTH = 96


@dataclass(frozen=True)
class FrameFeatures:
    """Feature values of one sampled frame, each 0..1, and where its subject is (fractions)."""

    frame: int
    sharpness: float
    exposure: float
    motion: float
    product: float
    text: float
    faces: float
    centre_x: float
    centre_y: float

    @property
    def quality(self) -> float:
        return 0.6 * self.sharpness + 0.4 * self.exposure


def sharpness(grey: Grey) -> float:
    variance = float(cv2.Laplacian(grey, cv2.CV_32F).var())
    return min(1.0, math.log1p(variance) / math.log1p(1500.0))


def exposure(grey: Grey) -> float:
    mean = float(grey.mean())
    clipped = float(((grey < 8) | (grey > 247)).mean())
    return max(0.0, 1.0 - abs(mean - 120.0) / 120.0) * max(0.0, 1.0 - 2.0 * clipped)


def flow_magnitude(previous: Grey, current: Grey) -> float:
    """Median optical-flow magnitude, in pixels at `_FLOW_WIDTH` wide (measured at two thirds of
    that width, where Farneback costs half as much, and scaled back)."""
    width = _FLOW_WIDTH * 2 // 3
    height = max(8, round(width * current.shape[0] / current.shape[1]))
    a = cv2.resize(previous, (width, height), interpolation=cv2.INTER_AREA)
    b = cv2.resize(current, (width, height), interpolation=cv2.INTER_AREA)
    flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 2, 5, 1.1, 0)  # type: ignore[call-overload]
    magnitude = cv2.magnitude(flow[..., 0], flow[..., 1])
    return float(np.median(magnitude)) * _FLOW_WIDTH / width


def motion_score(magnitude: float) -> float:
    """Rises to 1 by 1.5 px/frame, falls back to 0 from 5 to 10 px/frame (shake, whip pans)."""
    rising = min(1.0, magnitude / 1.5)
    falling = 1.0 if magnitude <= 5.0 else max(0.0, 1.0 - (magnitude - 5.0) / 5.0)
    return 0.3 + 0.7 * rising * falling


def text_fraction(grey: Grey) -> float:
    """Share of the frame inside text-like boxes: short, wide, dense blobs of strong gradient."""
    height, width = grey.shape
    gradient = cv2.morphologyEx(
        grey, cv2.MORPH_GRADIENT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    )
    _, binary = cv2.threshold(gradient, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    if float(binary.mean()) > 255 * 0.5:  # texture everywhere, no text structure to find
        return 0.0
    closed = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 1)))
    count, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    area = 0
    for x, y, w, h, pixels in stats[1:count]:
        if not (0.015 * height <= h <= 0.15 * height and w >= 2.0 * h and w <= 0.95 * width):
            continue
        if pixels / float(w * h) < 0.35:
            continue
        region = binary[y : y + h, x : x + w]
        # Text has many strokes: many gradient runs across a row, unlike a plain edge.
        transitions = float(np.count_nonzero(np.diff(region[h // 2].astype(np.int16)))) / max(1, w)
        if transitions >= 0.08:
            area += int(w * h)
    return min(1.0, area / float(height * width))


_LOCAL = threading.local()


def _cascade(path: str) -> cv2.CascadeClassifier | None:
    """The face cascade at `path`, loaded once per thread (loading parses ~1 MB of XML, and a
    cascade is not safe to share between threads); None when missing or unreadable."""
    loaded: dict[str, cv2.CascadeClassifier | None] = getattr(_LOCAL, "cascades", None) or {}
    _LOCAL.cascades = loaded
    if path not in loaded:
        cascade = cv2.CascadeClassifier(path) if Path(path).is_file() else None
        loaded[path] = cascade if cascade is not None and not cascade.empty() else None
    return loaded[path]


class FeatureExtractor:
    """Measures `FrameFeatures`; holds the saliency model, face cascade and product look."""

    def __init__(self, product: ProductLook | None = None, cascade_path: Path | None = None) -> None:
        self.product = product
        self._saliency = cv2.saliency.StaticSaliencySpectralResidual_create()  # type: ignore[attr-defined]
        self._faces = _cascade(str(cascade_path)) if cascade_path is not None else None

    @property
    def has_face_model(self) -> bool:
        return self._faces is not None

    def subject_map(self, frame: Frame) -> Floats:
        """Where the subject is, 0..1 per pixel: saliency, times product likelihood if known."""
        ok, saliency = self._saliency.computeSaliency(frame)
        if not ok:
            saliency = np.ones(frame.shape[:2], np.float32)
        saliency = cv2.resize(saliency.astype(np.float32), (frame.shape[1], frame.shape[0]))
        top = float(saliency.max())
        if top > 0:
            saliency /= top
        if self.product is None:
            return np.asarray(saliency, np.float32)
        likelihood = self.product.likelihood(frame)
        return np.asarray(likelihood * (0.3 + 0.7 * cv2.GaussianBlur(saliency, (0, 0), 3)), np.float32)

    def faces(self, grey: Grey) -> float:
        if self._faces is None:
            return 0.0
        height, width = grey.shape
        # Faces that matter in an ad are big: at least a seventh of the frame height (and it is
        # the small scales that make a cascade slow).
        side = max(20, height // 7)
        found = self._faces.detectMultiScale(grey, scaleFactor=1.2, minNeighbors=5, minSize=(side, side))
        area = sum(int(w) * int(h) for (_, _, w, h) in found)
        return min(1.0, 5.0 * area / float(height * width))

    def measure(self, index: int, frame: Frame, previous: Frame | None, *, with_faces: bool) -> FrameFeatures:
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        magnitude = 0.0
        if previous is not None:
            magnitude = flow_magnitude(cv2.cvtColor(previous, cv2.COLOR_BGR2GRAY), grey)
        subject = self.subject_map(frame)
        cx, cy, presence = centroid_and_presence(subject, product_known=self.product is not None)
        return FrameFeatures(
            frame=index,
            sharpness=sharpness(grey),
            exposure=exposure(grey),
            motion=motion_score(magnitude) if previous is not None else 0.5,
            product=presence,
            text=text_fraction(grey),
            faces=self.faces(grey) if with_faces else math.nan,
            centre_x=cx,
            centre_y=cy,
        )


def centroid_and_presence(subject: Floats, *, product_known: bool) -> tuple[float, float, float]:
    """Centroid (fractions) of the strong part of `subject` and how present the subject is."""
    height, width = subject.shape
    strong = np.where(subject >= max(0.25, float(subject.mean() + subject.std())), subject, 0.0)
    mass = float(strong.sum())
    if mass <= 1e-6:
        return 0.5, 0.5, 0.0
    moments = cv2.moments(strong.astype(np.float32))
    cx = float(moments["m10"] / mass) / max(1, width - 1)
    cy = float(moments["m01"] / mass) / max(1, height - 1)
    if product_known:
        # Share of the frame that looks like the product, saturating at a tenth of the frame.
        presence = min(1.0, float((subject >= 0.35).mean()) / 0.1)
    else:
        # Concentration: saliency mass within the strongest tenth of the pixels.
        flat = subject.ravel()
        top = max(1, flat.size // 10)
        strongest = np.partition(flat, flat.size - top)[flat.size - top :]
        presence = float(strongest.sum() / max(1e-6, float(flat.sum())))
        presence = min(1.0, max(0.0, (presence - 0.1) / 0.4))
    return cx, cy, presence
