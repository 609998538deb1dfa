"""Content admission: may this product's content be advertised, and if not, exactly why.

A verdict is a bool plus machine-readable reason codes, per image and per product:

- ``IMAGE_TOO_SMALL``: below the resolution gate (either side);
- ``IMAGE_BLURRY``: edge sharpness (variance of the Laplacian on edge pixels, at the 512-px
  analysis size, so a flat studio backdrop does not read as blur) under the gate;
- ``IMAGE_TOO_MUCH_TEXT``: overlaid text covers too much of the picture (the ratio comes from OCR);
- ``IMAGE_LOW_QUALITY``: aesthetic score (0..100, `aesthetics`) under the gate;
- ``NO_IMAGE``: the product has no picture;
- ``EMPTY_TITLE``;
- ad-law codes from `creativeloop.compliance.check`: on the title as returned
  (``ADLAW_ABSOLUTE_TERM``...), on text read from an image with ``IMAGE_TEXT_`` in front
  (``IMAGE_TEXT_ADLAW_ABSOLUTE_TERM``), so a reviewer knows whether to fix the title or the picture.

Codes come out deduplicated and in one fixed order (`REASON_ORDER`, then alphabetical), so the
same content always gives the same list. Thresholds live in `AdmissionThresholds` (frozen; the
service builds it from its settings).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.compliance import check
from creativeloop.understanding.aesthetics import AestheticScorer, analysis_image
from creativeloop.understanding.product_box import as_bgr, decode_image
from creativeloop.v1 import common_pb2

IMAGE_TOO_SMALL = "IMAGE_TOO_SMALL"
IMAGE_BLURRY = "IMAGE_BLURRY"
IMAGE_TOO_MUCH_TEXT = "IMAGE_TOO_MUCH_TEXT"
IMAGE_LOW_QUALITY = "IMAGE_LOW_QUALITY"
NO_IMAGE = "NO_IMAGE"
EMPTY_TITLE = "EMPTY_TITLE"
IMAGE_TEXT_PREFIX = "IMAGE_TEXT_"

#: Codes in the order verdicts list them; others (compliance codes) follow alphabetically.
REASON_ORDER: tuple[str, ...] = (
    NO_IMAGE,
    EMPTY_TITLE,
    IMAGE_TOO_SMALL,
    IMAGE_BLURRY,
    IMAGE_TOO_MUCH_TEXT,
    IMAGE_LOW_QUALITY,
)


class ViolationLike(Protocol):
    """What admission reads of `creativeloop.compliance.Violation`."""

    @property
    def code(self) -> str: ...

    @property
    def severity(self) -> str: ...


TextChecker = Callable[[str, str | None], Sequence[ViolationLike]]


def compliance_checker(text: str, language: str | None) -> Sequence[ViolationLike]:
    """The project's ad-law checker (it loads its lexicon once, on first use)."""
    return check(text, language=language)


@dataclass(frozen=True)
class AdmissionThresholds:
    """Gates. Defaults are measured (docs/_drafts/product-aesthetics-admission.md)."""

    min_width: int = 300
    min_height: int = 300
    #: Edge sharpness under this is blurry: sample originals >= 2,300, Gaussian blur sigma 2.5 <= 480.
    min_edge_sharpness: float = 1000.0
    #: Share of the picture covered by overlaid text boxes (OCR) above which it is rejected
    #: (the 20 % rule social ad platforms used for years).
    max_text_area_ratio: float = 0.2
    #: Aesthetic score (0..100) under which a picture is rejected; training originals median 80.
    min_aesthetic_score: float = 25.0
    #: Compliance findings of severity "warning" are listed; they block only when this is true.
    block_on_warnings: bool = False
    #: A product without pictures is listed NO_IMAGE; it is refused only when this is true
    #: (text creatives need no picture).
    require_image: bool = False
    #: Pictures that must pass for the product to pass (when it has any).
    min_admitted_images: int = 1


def order_reasons(codes: Sequence[str]) -> tuple[str, ...]:
    """Deduplicated, in `REASON_ORDER` then alphabetical: deterministic for the same content."""
    rank = {code: i for i, code in enumerate(REASON_ORDER)}
    return tuple(sorted(set(codes), key=lambda c: (rank.get(c, len(rank)), c)))


def edge_sharpness(image: npt.NDArray[np.generic]) -> float:
    """Variance of the Laplacian over edge pixels (gradient > 8 grey levels) at analysis size.

    Whole-image Laplacian variance calls a sharp product on a plain backdrop blurry; restricting
    it to where there are edges measures how crisp those edges are. 0 when there are no edges.
    """
    small = analysis_image(as_bgr(image))
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
    laplacian = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    edges = cv2.magnitude(gx, gy) / 4.0 > 8.0
    if np.count_nonzero(edges) < 50:
        return 0.0
    return float(laplacian[edges].var())


@dataclass(frozen=True)
class ImageEvidence:
    """What admission knows about one picture; OCR fields come from the OCR stage."""

    width: int
    height: int
    edge_sharpness: float
    aesthetic_score: float | None = None
    text_area_ratio: float | None = None
    ocr_text: str = ""


def measure_image(
    image: npt.NDArray[np.generic],
    *,
    scorer: AestheticScorer | None = None,
    text_area_ratio: float | None = None,
    ocr_text: str = "",
) -> ImageEvidence:
    """Measure a decoded picture (BGR/BGRA/grey). ValueError on a malformed array or ratio."""
    bgr = as_bgr(image)
    if text_area_ratio is not None and not 0.0 <= text_area_ratio <= 1.0:
        raise ValueError(f"text_area_ratio must be in 0..1, got {text_area_ratio}")
    height, width = bgr.shape[:2]
    score = scorer.score(bgr) if scorer is not None and min(height, width) >= 16 else None
    return ImageEvidence(width, height, edge_sharpness(bgr), score, text_area_ratio, ocr_text)


def measure_image_bytes(
    data: bytes,
    *,
    scorer: AestheticScorer | None = None,
    text_area_ratio: float | None = None,
    ocr_text: str = "",
) -> ImageEvidence:
    """`measure_image` on encoded bytes; ValueError when they are not a picture."""
    return measure_image(
        decode_image(data), scorer=scorer, text_area_ratio=text_area_ratio, ocr_text=ocr_text
    )


@dataclass(frozen=True)
class ImageVerdict:
    admitted: bool
    reasons: tuple[str, ...]
    evidence: ImageEvidence


@dataclass(frozen=True)
class ProductVerdict:
    """The product's verdict and, for each picture in input order, its own."""

    admitted: bool
    reasons: tuple[str, ...]
    images: tuple[ImageVerdict, ...] = field(default_factory=tuple)

    @property
    def admitted_images(self) -> tuple[int, ...]:
        """Indexes of the pictures creatives may use."""
        return tuple(i for i, v in enumerate(self.images) if v.admitted)


def _text_reasons(
    text: str, language: str | None, checker: TextChecker, thresholds: AdmissionThresholds, prefix: str = ""
) -> tuple[list[str], bool]:
    """Compliance codes for ``text`` and whether any of them blocks."""
    if not text.strip():
        return [], False
    codes: list[str] = []
    blocking = False
    for violation in checker(text, language):
        codes.append(prefix + violation.code)
        blocking = blocking or violation.severity == "error" or thresholds.block_on_warnings
    return codes, blocking


def judge_image(
    evidence: ImageEvidence,
    thresholds: AdmissionThresholds | None = None,
    *,
    language: str | None = None,
    checker: TextChecker = compliance_checker,
) -> ImageVerdict:
    """One picture's verdict. Missing measurements (no OCR, no scorer) skip their gate."""
    thresholds = thresholds or AdmissionThresholds()
    reasons: list[str] = []
    if evidence.width < thresholds.min_width or evidence.height < thresholds.min_height:
        reasons.append(IMAGE_TOO_SMALL)
    if evidence.edge_sharpness < thresholds.min_edge_sharpness:
        reasons.append(IMAGE_BLURRY)
    if evidence.text_area_ratio is not None and evidence.text_area_ratio > thresholds.max_text_area_ratio:
        reasons.append(IMAGE_TOO_MUCH_TEXT)
    if evidence.aesthetic_score is not None and evidence.aesthetic_score < thresholds.min_aesthetic_score:
        reasons.append(IMAGE_LOW_QUALITY)
    blocking = bool(reasons)
    text_codes, text_blocks = _text_reasons(
        evidence.ocr_text, language, checker, thresholds, IMAGE_TEXT_PREFIX
    )
    reasons += text_codes
    return ImageVerdict(not (blocking or text_blocks), order_reasons(reasons), evidence)


def judge_product(
    title: str,
    images: Sequence[ImageEvidence],
    thresholds: AdmissionThresholds | None = None,
    *,
    language: str | None = None,
    checker: TextChecker = compliance_checker,
) -> ProductVerdict:
    """The product's verdict from its title and its pictures' evidence.

    The product passes when its title is clean and at least ``min_admitted_images`` pictures
    pass. Picture codes are repeated at product level only when too few pictures pass (then they
    are why the product fails); otherwise they stay on the pictures that earned them.
    """
    thresholds = thresholds or AdmissionThresholds()
    verdicts = tuple(judge_image(e, thresholds, language=language, checker=checker) for e in images)
    reasons: list[str] = []
    blocked = False
    if not title.strip():
        reasons.append(EMPTY_TITLE)
        blocked = True
    title_codes, title_blocks = _text_reasons(title, language, checker, thresholds)
    reasons += title_codes
    blocked = blocked or title_blocks
    if not images:
        reasons.append(NO_IMAGE)
        blocked = blocked or thresholds.require_image
    elif sum(v.admitted for v in verdicts) < thresholds.min_admitted_images:
        blocked = True
        reasons += [code for v in verdicts for code in v.reasons]
    return ProductVerdict(not blocked, order_reasons(reasons), verdicts)


def to_proto(verdict: ProductVerdict) -> common_pb2.Admission:
    """The `creativeloop.v1.Admission` message of a product verdict."""
    return common_pb2.Admission(admitted=verdict.admitted, reason_codes=list(verdict.reasons))
