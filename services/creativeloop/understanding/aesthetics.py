"""Aesthetic quality of a product picture: hand-made features, a trained ranker, a 0-100 score.

No pretrained aesthetics model installs offline (docs/models/README.md lists what does), so the
score is a LightGBM ranker the project trains itself (`creativeloop.training.aesthetics`) on
controlled degradations of real photos, over the classical measures below. ``FEATURE_NAMES`` is
the contract between this module, the training code and the ONNX model ``aesthetics`` (input
``features`` FP32 [N, F], output ``score`` FP32 [N, 1] in 0..100): append new features at the end
and retrain; never reorder.

Everything but blockiness is measured on a copy at most ``ANALYSIS_LONG_SIDE`` pixels on its long
side, so a score does not depend on the upload's resolution (admission gates resolution
separately); JPEG blockiness is measured on the pixels as given, where the 8x8 grid still is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.kit.models.client import ModelClient
from creativeloop.understanding.product_box import Image, as_bgr, decode_image, saliency_map

MODEL_NAME = "aesthetics"
INPUT_NAME = "features"
OUTPUT_NAME = "score"
ANALYSIS_LONG_SIDE = 512
BRISQUE_DIR = Path("/usr/share/opencv4/quality")  # Debian package opencv-data

#: The model's input columns, in order. A contract: append only.
FEATURE_NAMES: tuple[str, ...] = (
    "sharp_laplacian",  # log1p variance of the Laplacian
    "sharp_tenengrad",  # log1p mean squared Sobel gradient
    "sharp_reblur",  # share of gradient energy a sigma-1 blur removes (content-normalised sharpness)
    "sharp_edges",  # log1p 99th percentile of |Laplacian|: sharpness where the edges are
    "edge_density",  # share of pixels with a gradient over 20 grey levels (flat studio backdrops: low)
    "luma_mean",  # mean luminance, 0..1
    "clip_high",  # share of pixels at >= 250
    "clip_low",  # share of pixels at <= 5
    "luma_range",  # 99th - 1st luminance percentile, 0..1
    "contrast_rms",  # RMS contrast: std of luminance, 0..1
    "colourfulness",  # Hasler & Süsstrunk (2003) M, / 100
    "noise_sigma",  # log1p Immerkær (1996) noise sigma, in grey levels
    "blockiness",  # JPEG 8x8 grid: log ratio of steps across vs inside blocks
    "brisque",  # BRISQUE (Mittal et al. 2012) / 100: lower is better
    "saliency_thirds",  # saliency centroid to nearest rule-of-thirds point, / diagonal
    "saliency_centre",  # saliency centroid to the image centre, / diagonal
    "saliency_spread",  # weighted spread of saliency around its centroid, / diagonal
    "fill_ratio",  # box of the salient region over the image area
    "saliency_border",  # share of salient mass in the outer 5 % band (subject cut by the frame)
    "subject_cut",  # share of the frame's edge the salient subject (Otsu mask of saliency) touches
    "subject_edge_area",  # share of the salient subject's area in the outer 8 % band
    "saliency_off_frame",  # mean saliency in the outer 5 % band over mean saliency in the centre half
    "clip_channel",  # share of pixels with any colour channel at >= 250
    "clip_interior",  # clipped (luma >= 250) pixels in regions not touching the frame: on the subject
    "highlight_flat",  # share of the brightest 5 % of pixels that are clipped flat (lost detail)
    "border_edges",  # edge density in the outer 5 % band over the whole picture's (busy cut edges)
)
N_FEATURES = len(FEATURE_NAMES)


def analysis_image(image: Image) -> Image:
    """The copy features are measured on: downscaled (never upscaled) to the analysis size."""
    h, w = image.shape[:2]
    scale = ANALYSIS_LONG_SIDE / float(max(h, w))
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


@lru_cache(maxsize=1)
def _brisque() -> cv2.quality.QualityBRISQUE:
    model, ranges = BRISQUE_DIR / "brisque_model_live.yml", BRISQUE_DIR / "brisque_range_live.yml"
    if not model.is_file() or not ranges.is_file():
        raise FileNotFoundError(
            f"BRISQUE model files missing under {BRISQUE_DIR}: apt-get install opencv-data"
        )
    scorer: cv2.quality.QualityBRISQUE = cv2.quality.QualityBRISQUE_create(  # type: ignore[attr-defined]
        str(model), str(ranges)
    )
    return scorer


def _tenengrad(grey: npt.NDArray[np.float32]) -> float:
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.mean(gx * gx + gy * gy))


def colourfulness(bgr: Image) -> float:
    """Hasler & Süsstrunk's M: spread and mean of the rg / yb opponent channels."""
    b, g, r = (bgr[..., i].astype(np.float32) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def noise_sigma(grey: npt.NDArray[np.float32]) -> float:
    """Immerkær's fast estimate: a Laplacian-difference kernel cancels image structure, not noise."""
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    response = cv2.filter2D(grey, cv2.CV_32F, kernel)[1:-1, 1:-1]
    h, w = grey.shape
    return float(math.sqrt(math.pi / 2.0) * np.abs(response).sum() / (6.0 * (w - 2) * (h - 2)))


def blockiness(grey: npt.NDArray[np.float32]) -> float:
    """Mean step across 8-pixel block edges over the mean step elsewhere (log), both directions."""
    crop = grey[:1024, :1024]
    values = []
    for axis in (0, 1):
        steps = np.abs(np.diff(crop, axis=axis))
        if steps.shape[axis] < 16:
            continue
        index = np.arange(steps.shape[axis])
        edge = (index % 8) == 7
        across = float(np.take(steps, np.flatnonzero(edge), axis=axis).mean())
        inside = float(np.take(steps, np.flatnonzero(~edge), axis=axis).mean())
        values.append(math.log((across + 1.0) / (inside + 1.0)))
    return float(np.mean(values)) if values else 0.0


def _composition(bgr: Image) -> tuple[float, ...]:
    sal = saliency_map(bgr).astype(np.float64)
    h, w = sal.shape
    diag = math.hypot(w, h)
    total = float(sal.sum())
    if total <= 1e-9:
        return (0.0, 0.0, 0.5, 1.0, 0.0, 0.0, 0.0, 1.0)
    yy, xx = np.mgrid[0:h, 0:w]
    cx = float((sal * xx).sum() / total)
    cy = float((sal * yy).sum() / total)
    thirds = min(math.hypot(cx - w * fx, cy - h * fy) for fx in (1 / 3, 2 / 3) for fy in (1 / 3, 2 / 3))
    centre = math.hypot(cx - w / 2.0, cy - h / 2.0)
    spread = math.sqrt(float((sal * ((xx - cx) ** 2 + (yy - cy) ** 2)).sum() / total))
    level, _ = cv2.threshold((sal * 255).astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    salient = (sal * 255 >= max(level, 1)).astype(np.uint8)
    points = cv2.findNonZero(salient)
    fill = 0.0
    if points is not None:
        _, _, bw, bh = cv2.boundingRect(points)
        fill = bw * bh / float(w * h)
    band = max(1, round(0.05 * min(h, w)))
    inner = float(sal[band:-band, band:-band].sum()) if h > 2 * band and w > 2 * band else 0.0
    border = (total - inner) / total
    return (thirds / diag, centre / diag, spread / diag, fill, border, *_framing(sal, salient))


def _framing(sal: npt.NDArray[np.float64], salient: Image) -> tuple[float, float, float]:
    """Is the subject cut by the frame? (share of the frame's edge the salient mask touches, share
    of the mask's area in the outer 8 % band, border-band saliency over centre saliency)."""
    h, w = salient.shape
    edge = np.concatenate([salient[0], salient[-1], salient[1:-1, 0], salient[1:-1, -1]])
    cut = float(np.count_nonzero(edge)) / float(max(1, edge.size))
    band = max(1, round(0.08 * min(h, w)))
    area = float(np.count_nonzero(salient))
    inner = float(np.count_nonzero(salient[band:-band, band:-band])) if h > 2 * band and w > 2 * band else 0.0
    edge_area = (area - inner) / area if area else 0.0
    thin = max(1, round(0.05 * min(h, w)))
    ring = np.ones((h, w), dtype=bool)
    ring[thin:-thin, thin:-thin] = False
    centre = sal[h // 4 : h - h // 4, w // 4 : w - w // 4]
    off_frame = float(sal[ring].mean()) / max(float(centre.mean()), 1e-6)
    return (cut, edge_area, min(off_frame, 4.0))


def _border_edges(edges: npt.NDArray[np.bool_]) -> float:
    """Edge density in the outer 5 % band over the whole picture's: a framed subject leaves calm
    margins, a crop runs busy structure into the frame (capped at 3)."""
    h, w = edges.shape
    band = max(1, round(0.05 * min(h, w)))
    ring = np.ones((h, w), dtype=bool)
    ring[band:-band, band:-band] = False
    overall = float(edges.mean())
    if overall <= 1e-6:
        return 1.0
    return min(3.0, float(edges[ring].mean()) / overall)


def _clipping(bgr: Image, grey8: Image) -> tuple[float, float, float]:
    """Clipped highlights: any channel at the top, clipped areas away from the frame (a white studio
    backdrop touches the frame, a burnt-out highlight on the subject does not), and how much of
    the brightest 5 % is flat white."""
    channel = float(np.count_nonzero(bgr.max(axis=2) >= 250)) / float(grey8.size)
    clipped = (grey8 >= 250).astype(np.uint8)
    interior = 0.0
    if clipped.any():
        _count, labels = cv2.connectedComponents(clipped, connectivity=8)
        touching = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        inside = (labels > 0) & ~np.isin(labels, touching)
        interior = float(np.count_nonzero(inside)) / float(grey8.size)
    top = float(np.percentile(grey8.astype(np.float32), 95.0))
    bright = grey8 >= top
    brightest = int(np.count_nonzero(bright))
    flat = float(np.count_nonzero(bright & (grey8 >= 250))) / float(max(1, brightest))
    return (channel, interior, flat)


def features(image: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
    """The ``FEATURE_NAMES`` vector (float32, length ``N_FEATURES``) of one BGR/BGRA/grey image."""
    bgr = as_bgr(image)
    if min(bgr.shape[:2]) < 16:
        raise ValueError(f"image {bgr.shape[1]}x{bgr.shape[0]} is too small to score (min 16 px)")
    native_grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    small = analysis_image(bgr)
    grey8 = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    grey = grey8.astype(np.float32)
    laplacian = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    tenengrad = _tenengrad(grey)
    reblur = 1.0 - _tenengrad(np.asarray(cv2.GaussianBlur(grey, (0, 0), 1.0), np.float32)) / (
        tenengrad + 1e-6
    )
    p1, p99 = np.percentile(grey8, [1.0, 99.0])
    magnitude = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)) / 4.0
    brisque = float(_brisque().compute(small)[0])
    values = (
        math.log1p(float(laplacian.var())),
        math.log1p(tenengrad),
        reblur,
        math.log1p(float(np.percentile(np.abs(laplacian), 99.0))),
        float(np.count_nonzero(magnitude > 20.0)) / magnitude.size,
        float(grey.mean()) / 255.0,
        float(np.count_nonzero(grey8 >= 250)) / grey8.size,
        float(np.count_nonzero(grey8 <= 5)) / grey8.size,
        float(p99 - p1) / 255.0,
        float(grey.std()) / 255.0,
        colourfulness(small) / 100.0,
        math.log1p(noise_sigma(grey)),
        blockiness(native_grey),
        brisque / 100.0,
        *_composition(small),
        *_clipping(small, np.asarray(grey8, dtype=np.uint8)),
        _border_edges(magnitude > 20.0),
    )
    vector = np.asarray(values, dtype=np.float32)
    if vector.shape != (N_FEATURES,) or not np.all(np.isfinite(vector)):
        raise ValueError(f"feature vector is malformed: {vector}")
    return vector


def feature_dict(image: npt.NDArray[np.generic]) -> dict[str, float]:
    """Named features, for logs and the quality report."""
    return dict(zip(FEATURE_NAMES, (float(v) for v in features(image)), strict=True))


def feature_matrix(images: Sequence[npt.NDArray[np.generic]]) -> npt.NDArray[np.float32]:
    if not images:
        return np.zeros((0, N_FEATURES), dtype=np.float32)
    return np.stack([features(image) for image in images]).astype(np.float32)


class AestheticScorer:
    """Scores pictures 0..100 through the model repository (embedded onnxruntime or Triton)."""

    def __init__(self, client: ModelClient, model: str = MODEL_NAME) -> None:
        self.client = client
        self.model = model

    def score_features(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Scores of a feature matrix [N, F]: one float per row."""
        if matrix.ndim != 2 or matrix.shape[1] != N_FEATURES:
            raise ValueError(f"features must be [N, {N_FEATURES}], got {matrix.shape}")
        if matrix.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        batch = self.client.spec(self.model).max_batch_size or matrix.shape[0]
        rows = np.ascontiguousarray(matrix, dtype=np.float32)
        parts = [
            np.asarray(
                self.client.infer(self.model, {INPUT_NAME: rows[i : i + batch]})[OUTPUT_NAME], np.float32
            )
            for i in range(0, rows.shape[0], batch)
        ]
        return np.concatenate(parts).reshape(-1)

    def score(self, image: npt.NDArray[np.generic]) -> float:
        return float(self.score_features(features(image)[None, :])[0])

    def score_bytes(self, data: bytes) -> float:
        """Score of an encoded picture; ValueError when the bytes are not an image."""
        return self.score(decode_image(data))
