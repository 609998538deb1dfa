"""How well `product_box` finds the product: mean mask IoU and box IoU per background kind.

Two tuning sets. The cut-out set is composited from cut-outs whose masks are exact
(`creativeloop.datasets.cutouts`: drawn garments, a matted plant photo, MPEG-7 silhouettes filled
with photo texture, the scikit-image horse, the OpenCV logo) on plain, gradient, texture and photo
backgrounds, in four placements (centred, off-centre, tall, wide). The ad set
(`creativeloop.datasets.ad_composites`) adds copy, badges, drop shadows, props, patterned grounds
and products cut by the frame; there the product box is located as the understanding service
locates it, with the boxes of the text OCR reads on the picture. Run::

    creativeloop eval product-box [--limit N] [--ads 100]
    creativeloop eval product-box --set test   # the independent test set, aggregates only
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.datasets.ad_composites import GROUNDS, AdCase
from creativeloop.datasets.ad_composites import PLACEMENTS as AD_PLACEMENTS
from creativeloop.datasets.cutouts import BACKGROUND_KINDS, PHOTOS, PLACEMENTS, TEXTURES, Case
from creativeloop.datasets.photos import missing_photos
from creativeloop.datasets.test_sets import product_boxes
from creativeloop.understanding.analyzer import words_only
from creativeloop.understanding.ocr import OcrPipeline
from creativeloop.understanding.product_box import Image, ProductBox, locate_product

#: Files the whole set needs (besides the cut-outs' own): the report refuses to run without them.
REQUIRED_PHOTOS = (*TEXTURES, *PHOTOS, "skimage:horse.png", "opencv-doc:data/orange.jpg")


def missing() -> list[str]:
    """`REQUIRED_PHOTOS` not installed, with the package that brings each."""
    return missing_photos(REQUIRED_PHOTOS)


def mask_iou(a: Image, b: Image) -> float:
    fa, fb = a > 0, b > 0
    union = np.count_nonzero(fa | fb)
    return np.count_nonzero(fa & fb) / union if union else 1.0


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


def true_box(mask: Image) -> tuple[int, int, int, int]:
    points = cv2.findNonZero(mask)
    if points is None:
        return (0, 0, mask.shape[1], mask.shape[0])
    x, y, w, h = cv2.boundingRect(points)
    return (int(x), int(y), int(w), int(h))


@dataclass(frozen=True)
class Result:
    case: Case
    found: ProductBox
    iou: float
    box_iou: float
    ms: float


def run(cases: Sequence[Case] | Iterator[Case]) -> list[Result]:
    results = []
    for case in cases:
        start = time.perf_counter()
        found = locate_product(case.image)
        ms = (time.perf_counter() - start) * 1000.0
        results.append(
            Result(case, found, mask_iou(found.mask, case.mask), box_iou(found.box, true_box(case.mask)), ms)
        )
    return results


def _row(label: str, group: list[Result]) -> str:
    iou = np.array([r.iou for r in group])
    biou = np.array([r.box_iou for r in group])
    return (
        f"| {label} | {len(group)} | {iou.mean():.3f} | {np.median(iou):.3f} | {biou.mean():.3f} "
        f"| {np.mean(iou >= 0.5):.2f} | {np.mean([r.ms for r in group]):.0f} |"
    )


def report(results: Sequence[Result]) -> str:
    """Markdown tables: by background kind, by placement, by cut-out, and confidence vs IoU."""
    head = (
        "| {} | n | mean IoU | median IoU | mean box IoU | IoU >= 0.5 | ms |\n|---|---|---|---|---|---|---|"
    )
    lines = [head.format("background")]
    lines += [
        _row(k, [r for r in results if r.case.background == k])
        for k in BACKGROUND_KINDS
        if any(r.case.background == k for r in results)
    ]
    lines.append(_row("**all**", list(results)))
    lines += ["", head.format("placement")]
    lines += [_row(p, [r for r in results if r.case.placement == p]) for p in PLACEMENTS]
    lines += ["", head.format("cut-out")]
    names = sorted({r.case.cutout for r in results})
    lines += [_row(n, [r for r in results if r.case.cutout == n]) for n in names]
    lines += ["", head.format("confidence")]
    for lo, hi in ((0.0, 0.25), (0.25, 0.5), (0.5, 1.01)):
        group = [r for r in results if lo <= r.found.confidence < hi]
        if group:
            lines.append(_row(f"{lo:.2f}-{min(hi, 1.0):.2f}", group))
    return "\n".join(lines)


def ad_report(cases: Iterator[AdCase], locate: Callable[[Image], ProductBox]) -> str:
    """Box and mask IoU on the ad pictures (`creativeloop.datasets.ad_composites`), overall and
    with or without text, badges, props, by shadow, ground and placement."""
    rows: list[tuple[AdCase, float, float, float]] = []
    for case in cases:
        start = time.perf_counter()
        found = locate(case.image)
        ms = (time.perf_counter() - start) * 1000.0
        rows.append((case, box_iou(found.box, true_box(case.mask)), mask_iou(found.mask, case.mask), ms))

    def line(label: str, chosen: list[tuple[AdCase, float, float, float]]) -> str:
        boxes = np.array([r[1] for r in chosen])
        masks = np.array([r[2] for r in chosen])
        return (
            f"| {label} | {len(chosen)} | {boxes.mean():.3f} | {np.mean(boxes >= 0.8):.0%} "
            f"| {masks.mean():.3f} | {np.mean([r[3] for r in chosen]):.0f} |"
        )

    out = [
        "| ad pictures | n | mean box IoU | box IoU >= 0.8 | mean mask IoU | ms |",
        "|---|---|---|---|---|---|",
    ]
    groups: list[tuple[str, list[tuple[AdCase, float, float, float]]]] = [
        ("with text", [r for r in rows if r[0].text]),
        ("no text", [r for r in rows if not r[0].text]),
        ("with a badge", [r for r in rows if r[0].badge]),
        ("with a prop", [r for r in rows if r[0].prop]),
    ]
    groups += [
        (f"{kind} shadow", [r for r in rows if r[0].shadow == kind]) for kind in ("none", "soft", "hard")
    ]
    groups += [(f"{g} ground", [r for r in rows if r[0].ground == g]) for g in GROUNDS]
    groups += [(p, [r for r in rows if r[0].placement == p]) for p in AD_PLACEMENTS]
    out += [line(label, chosen) for label, chosen in groups if chosen]
    out.append(line("**all**", rows))
    return "\n".join(out)


def save_worst(results: Sequence[Result], folder: Path, count: int = 12) -> None:
    """The ``count`` lowest-IoU cases as JPEGs: found mask in red, found box in green."""
    folder.mkdir(parents=True, exist_ok=True)
    for r in sorted(results, key=lambda r: r.iou)[:count]:
        overlay = r.case.image.copy()
        overlay[r.found.mask > 0] = (overlay[r.found.mask > 0] * 0.5 + np.array([0, 0, 255]) * 0.5).astype(
            np.uint8
        )
        x, y, w, h = r.found.box
        cv2.rectangle(overlay, (x, y), (x + w, y + h), (0, 255, 0), 2)
        name = f"{r.iou:.2f}-{r.case.cutout}-{r.case.background}-{r.case.placement}.jpg"
        cv2.imwrite(str(folder / name), overlay)


# -- the independent test set (creativeloop.datasets.test_sets.product_boxes) ---------------------


@dataclass(frozen=True)
class TestSetFigures:
    """Aggregate figures on the independent product-box test set (no per-case output)."""

    count: int
    mean_box_iou: float
    median_box_iou: float
    share_box_iou_08: float
    mean_mask_iou: float
    #: (cases, mean box IoU, share >= 0.8) where text overlays the picture and where none does.
    text_overlay: tuple[int, float, float]
    no_text_overlay: tuple[int, float, float]
    #: How the labels' box read: "xywh" or "xyxy" (checked against each case's mask).
    box_convention: str
    ms: float

    def format(self) -> str:
        def row(label: str, n: int, mean: float, share: float) -> str:
            return f"| {label} | {n} | {mean:.3f} | {share:.0%} |"

        return "\n".join(
            [
                f"independent test set: {self.count} composites (labels' box read as {self.box_convention})",
                "| cases | n | mean box IoU | box IoU >= 0.8 |",
                "|---|---|---|---|",
                row("text over the picture", *self.text_overlay),
                row("no text", *self.no_text_overlay),
                row("**all**", self.count, self.mean_box_iou, self.share_box_iou_08),
                f"median box IoU {self.median_box_iou:.3f}; mean mask IoU {self.mean_mask_iou:.3f}; "
                f"{self.ms:.0f} ms per picture",
            ]
        )


def _label_box(box: tuple[int, int, int, int], mask: Image) -> tuple[tuple[int, int, int, int], str]:
    """The label's box as (x, y, w, h): whichever reading, (x, y, w, h) or (x0, y0, x1, y1), agrees
    with the bounding rectangle of the case's mask."""
    a, b, c, d = (int(v) for v in box)
    reference = true_box(mask)
    xywh, xyxy = (a, b, c, d), (a, b, c - a, d - b)
    if c > a and d > b and box_iou(xyxy, reference) > box_iou(xywh, reference):
        return xyxy, "xyxy"
    return xywh, "xywh"


TextReader = Callable[[Image], Sequence[Sequence[tuple[float, float]]]]


def ocr_text_boxes(pipeline: OcrPipeline) -> TextReader:
    """What the understanding service gives `locate_product`: the boxes of the lines OCR reads
    (`words_only`: at least two letters or digits)."""

    def read(image: Image) -> list[Sequence[tuple[float, float]]]:
        return [line.box for line in words_only(pipeline.read_one(image)).lines]

    return read


def locate_with(reader: TextReader | None) -> Callable[[Image], ProductBox]:
    """`locate_product` as the service calls it: with the text read on the picture, when a reader is given."""
    if reader is None:
        return locate_product
    return lambda image: locate_product(image, text_boxes=reader(image))


def run_test_set(locate: Callable[[Image], ProductBox] = locate_product) -> TestSetFigures:
    """Score ``locate`` on every case of the independent test set, as its docstrings say: box IoU
    against the labelled box, mask IoU against ``mask_u8``. Aggregates only."""
    box_ious: list[float] = []
    mask_ious: list[float] = []
    overlay: list[bool] = []
    conventions: set[str] = set()
    elapsed = 0.0
    for index in range(product_boxes.COUNT):
        case = product_boxes.case(index)
        truth_mask = case.mask_u8
        start = time.perf_counter()
        found = locate(case.image)
        elapsed += time.perf_counter() - start
        box, convention = _label_box(case.box, truth_mask)
        conventions.add(convention)
        box_ious.append(box_iou(found.box, box))
        mask_ious.append(mask_iou(found.mask, truth_mask))
        overlay.append(bool(case.has_text_overlay))
    ious = np.array(box_ious)
    flags = np.array(overlay, dtype=bool)

    def group(selected: npt.NDArray[np.bool_]) -> tuple[int, float, float]:
        chosen = ious[selected]
        if not len(chosen):
            return (0, 0.0, 0.0)
        return (len(chosen), float(chosen.mean()), float(np.mean(chosen >= 0.8)))

    return TestSetFigures(
        count=len(ious),
        mean_box_iou=float(ious.mean()),
        median_box_iou=float(np.median(ious)),
        share_box_iou_08=float(np.mean(ious >= 0.8)),
        mean_mask_iou=float(np.mean(mask_ious)),
        text_overlay=group(flags),
        no_text_overlay=group(~flags),
        box_convention="/".join(sorted(conventions)),
        ms=1000.0 * elapsed / max(1, len(ious)),
    )
