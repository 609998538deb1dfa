"""What kind of ad picture this is: plain product shot, lifestyle, person, detail, poster, collage.

No pretrained scene model for these six ad-picture kinds installs offline (docs/models/README.md
lists what does: no Places365, no CLIP), so the class comes from measurable signals combined by a
small LightGBM model the project trains itself (`creativeloop train scene`):

- **background uniformity**: how plain the border band is (Lab spread, share near its median
  colour) and how much of the picture differs from it (the product's footprint);
- **text**: the OCR's text-area ratio, line and character counts, tallest line, area of large
  lines, extent of all lines and summed line heights (posters are mostly text, and big), over
  lines with a letter or digit;
- **people**: the frontal-face Haar and profile-face LBP cascades (Debian ``opencv-data``), the
  skin-tone share and its largest connected region;
- **saliency spread**: spectral-residual saliency, its area, spread and offset from the centre;
- **edges and texture**: edge density overall, in the centre and in the border, the share of
  grid cells with texture (close-ups are texture edge to edge), Laplacian energy, colourfulness;
- **collage grid lines**: straight image-long edges at interior rows/columns, from the projected
  gradient (tile borders and gutters);
- **ImageNet classifier** (``image_classifier``): top-1 probability, entropy, and probability
  mass on apparel, people, text-like, place and texture classes.

``FEATURE_NAMES`` is the combiner's input contract (append only, then retrain); ``CLASSES`` is its
output order. Every signal is computed on copies resized to a fixed long side, so the class does
not depend on the upload's resolution, and the same pixels always give the same class.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import cv2
import lightgbm
import numpy as np
import numpy.typing as npt

from creativeloop.kit.images import ImageRejected, decode_image
from creativeloop.kit.models.client import ModelClient
from creativeloop.kit.models.image_classifier import MODEL as CLASSIFIER_MODEL
from creativeloop.kit.models.image_classifier import prepare_image, read_labels
from creativeloop.understanding.ocr import OcrLine, OcrPipeline, OcrResult, text_area_ratio

Pixels: TypeAlias = npt.NDArray[np.uint8]
Floats: TypeAlias = npt.NDArray[np.float32]

#: Long side of the copy most signals are measured on, and of the copy the cascades scan.
WORK_SIDE = 384
FACE_SIDE = 384
HAAR_DIR = Path("/usr/share/opencv4/haarcascades")  # Debian package opencv-data
PROFILE_CASCADE = "/usr/share/opencv4/lbpcascades/lbpcascade_profileface.xml"
#: The trained combiner shipped with the package (LightGBM text format).
DEFAULT_MODEL = Path(__file__).with_name("models") / "scene.txt"
COMBINER_MODEL = "scene_classifier"


class SceneClass(StrEnum):
    """The six kinds; names match the contract's ``SceneClass`` enum (``SCENE_CLASS_<NAME>``)."""

    PLAIN_PRODUCT = "plain_product"
    LIFESTYLE = "lifestyle"
    PERSON = "person"
    DETAIL_CLOSEUP = "detail_closeup"
    TEXT_POSTER = "text_poster"
    COLLAGE = "collage"


#: The combiner's output order. A contract: never reorder.
CLASSES: tuple[SceneClass, ...] = tuple(SceneClass)

#: The combiner's input columns, in order. A contract: append only, then retrain.
FEATURE_NAMES: tuple[str, ...] = (
    "aspect_log",  # log(width / height)
    "border_plain",  # share of border-band pixels within 12 Lab units of the band's median colour
    "border_spread",  # mean Lab standard deviation of the border band / 64
    "foreground_area",  # share of pixels > 24 Lab units from the border colour
    "foreground_box_fill",  # area of the box around those pixels / image area
    "edge_density",  # Canny edge pixels / all pixels
    "edge_centre",  # edge density in the central 50 % box
    "edge_border",  # edge density in the border band
    "texture_fill",  # share of 8x8 grid cells with edge density > 4 %
    "laplacian_log",  # log1p of the Laplacian's variance
    "colourfulness",  # Hasler-Suesstrunk colourfulness / 100
    "grey_entropy",  # entropy of the 64-bin grey histogram / 6
    "saliency_area",  # share of pixels over the Otsu threshold of spectral-residual saliency
    "saliency_spread",  # spatial standard deviation of the salient pixels (image = 1 x 1)
    "saliency_offset",  # distance of the saliency centroid from the centre (corner = 1)
    "grid_vertical",  # best interior column: longest unbroken strong-gradient run / height
    "grid_horizontal",  # best interior row: longest unbroken strong-gradient run / width
    "grid_vertical_peak",  # best interior column's edge coverage minus the median column's
    "grid_horizontal_peak",  # same for rows
    "text_area_ratio",  # OCR: union of line boxes / image area
    "text_lines_log",  # OCR: log1p(number of lines)
    "text_chars_log",  # OCR: log1p(number of characters)
    "text_line_height",  # OCR: tallest line's height / image height
    "faces",  # frontal faces found (capped at 4)
    "face_area",  # largest face's box / image area
    "skin_share",  # share of pixels in a YCrCb skin-tone range
    "cls_top1",  # classifier: top-1 probability
    "cls_entropy",  # classifier: entropy / log(1000)
    "cls_apparel",  # classifier: mass on garment and accessory classes
    "cls_people",  # classifier: mass on classes that are people (groom, ballplayer, diver) or worn
    "cls_text",  # classifier: mass on text-like classes (web site, menu, book jacket...)
    "cls_place",  # classifier: mass on place classes (shops, rooms, buildings, landscapes)
    "cls_texture",  # classifier: mass on texture classes (wool, velvet, honeycomb...)
    "text_big_area",  # OCR: union of boxes of lines taller than 4 % of the image / image area
    "text_extent",  # OCR: box around all lines / image area (text spread over the picture)
    "text_height_share",  # OCR: summed line heights / image height (capped at 2)
    "profile_faces",  # profile faces (LBP cascade) found (capped at 4)
    "skin_blob",  # largest connected skin-tone region / image area
)


def _names(text: str) -> frozenset[str]:
    return frozenset(name.strip() for name in text.split(",") if name.strip())


# ImageNet classes by the first name on their labels.txt line.
_APPAREL = _names(
    """abaya, academic gown, apron, bikini, bonnet, bow tie, brassiere, cardigan, cloak, cowboy hat,
    feather boa, fur coat, gown, hoopskirt, jean, jersey, kimono, lab coat, maillot, military uniform,
    miniskirt, overskirt, pajama, poncho, sarong, sock, sombrero, stole, suit, sunglass, sunglasses,
    sweatshirt, swimming trunks, trench coat, vestment, wig, Windsor tie, running shoe, Loafer, sandal,
    cowboy boot, clog, handbag, purse, backpack, mitten, necklace, bulletproof vest, chain mail,
    breastplate, mortarboard, shower cap, crash helmet"""
)
_PEOPLE = _names("groom, ballplayer, scuba diver, wig, sunglasses, sunglass, military uniform, academic gown")
_TEXT = _names(
    """web site, book jacket, comic book, menu, envelope, packet, carton, street sign, scoreboard,
    crossword puzzle, binder, notebook, slide rule, jigsaw puzzle, digital clock, screen, monitor,
    television, rule"""
)
_PLACE = _names(
    """alp, cliff, coral reef, geyser, lakeside, promontory, sandbar, seashore, valley, volcano, library,
    restaurant, dining table, home theater, patio, boathouse, palace, church, monastery, mosque, castle,
    dome, triumphal arch, greenhouse, bookshop, shoe shop, toyshop, grocery store, barbershop, butcher shop,
    bakery, confectionery, tobacco shop, cinema, planetarium, prison, steel arch bridge, suspension bridge,
    picket fence, park bench, fountain, tile roof, studio couch, four-poster, wardrobe, bannister,
    window shade, sliding door, theater curtain, cliff dwelling, lumbermill, shoji, streetcar,
    passenger car, parking meter"""
)
_TEXTURE = _names(
    """wool, velvet, dishrag, handkerchief, quilt, window screen, chain mail, honeycomb, doormat, maze,
    shower curtain, bath towel, paper towel, mosquito net, fur coat, stole, sleeping bag, knot, chain"""
)
_GROUPS = (_APPAREL, _PEOPLE, _TEXT, _PLACE, _TEXTURE)


class SceneInputError(ValueError):
    """The image cannot be analysed (empty, corrupt, wrong dtype or shape)."""


@dataclass(frozen=True)
class SceneResult:
    """The chosen class, its probability, every class's probability and the signals behind them."""

    scene: SceneClass
    confidence: float
    probabilities: tuple[tuple[SceneClass, float], ...]
    signals: tuple[tuple[str, float], ...]

    def signal(self, name: str) -> float:
        return dict(self.signals)[name]


class Combiner(Protocol):
    """Turns feature rows [N, len(FEATURE_NAMES)] into class probabilities [N, len(CLASSES)]."""

    def predict(self, features: Floats) -> Floats: ...


class LightGBMCombiner:
    """The trained LightGBM model, read from its text file (the default ships in the package)."""

    def __init__(self, path: Path = DEFAULT_MODEL) -> None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"no scene model at {path}: train it with `creativeloop train scene`")
        self.booster = lightgbm.Booster(model_file=str(path))
        names = tuple(self.booster.feature_name())
        if names != FEATURE_NAMES:
            raise ValueError(f"{path} was trained on other features ({len(names)}); retrain it")

    def predict(self, features: Floats) -> Floats:
        probabilities = self.booster.predict(np.asarray(features, dtype=np.float64), num_threads=1)
        return np.asarray(probabilities, dtype=np.float32).reshape(len(features), len(CLASSES))


class RepositoryCombiner:
    """The same model served from the model repository (input ``features``, output ``probabilities``)."""

    def __init__(self, client: ModelClient, model: str = COMBINER_MODEL) -> None:
        self.client = client
        self.model = model

    def predict(self, features: Floats) -> Floats:
        outputs = self.client.infer(self.model, {"features": features.astype(np.float32)}, ["probabilities"])
        return np.asarray(outputs["probabilities"], dtype=np.float32).reshape(len(features), len(CLASSES))


# -- image helpers ------------------------------------------------------------------------------


def decode(image: bytes | npt.NDArray[Any]) -> Pixels:
    """BGR uint8 pixels from encoded bytes or an array (grey and BGRA are converted)."""
    if isinstance(image, bytes | bytearray | memoryview):
        try:
            return decode_image(bytes(image), formats=None).pixels
        except ImageRejected as error:
            raise SceneInputError(error.reason) from error
    if not isinstance(image, np.ndarray):
        raise SceneInputError(f"{type(image).__name__}, expected encoded bytes or a uint8 array")
    if image.dtype != np.uint8 or image.size == 0:
        raise SceneInputError(
            f"array of dtype {image.dtype} and shape {image.shape}, expected non-empty uint8"
        )
    if image.ndim == 2:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2BGR), dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise SceneInputError(f"shape {image.shape}, expected HxW, HxWx3 or HxWx4")


def resize_long(image: Pixels, side: int) -> Pixels:
    """A copy whose long side is ``side`` (area filter shrinking, linear enlarging)."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(image, size, interpolation=interpolation), dtype=np.uint8)


def _band(height: int, width: int, share: float = 0.06) -> npt.NDArray[np.bool_]:
    size = max(2, round(min(height, width) * share))
    band = np.zeros((height, width), dtype=bool)
    band[:size], band[-size:], band[:, :size], band[:, -size:] = True, True, True, True
    return band


def _centre(height: int, width: int) -> tuple[slice, slice]:
    return slice(height // 4, height - height // 4), slice(width // 4, width - width // 4)


# -- signals ------------------------------------------------------------------------------------


def background_signals(work: Pixels) -> dict[str, float]:
    """How plain the border is and how much of the picture stands out from it."""
    height, width = work.shape[:2]
    lab = cv2.cvtColor(work, cv2.COLOR_BGR2LAB).astype(np.float32)
    band = _band(height, width)
    border = lab[band]
    median = np.median(border, axis=0)
    distance = np.linalg.norm(lab - median, axis=2)
    foreground = (distance > 24).astype(np.uint8)
    foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    points = cv2.findNonZero(foreground)
    box_fill = 0.0
    if points is not None:
        _x, _y, w, h = cv2.boundingRect(points)
        box_fill = (w * h) / float(width * height)
    return {
        "aspect_log": math.log(width / height),
        "border_plain": float(np.mean(distance[band] < 12)),
        "border_spread": float(np.mean(np.std(border, axis=0))) / 64.0,
        "foreground_area": float(np.mean(foreground)),
        "foreground_box_fill": box_fill,
    }


def edge_signals(work: Pixels) -> dict[str, float]:
    """Edge density where it matters, texture coverage, sharpness, colour and tonal spread."""
    grey = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)
    height, width = grey.shape
    edges = cv2.Canny(grey, 60, 150) > 0
    rows, cols = _centre(height, width)
    cells = [
        float(np.mean(edges[r * height // 8 : (r + 1) * height // 8, c * width // 8 : (c + 1) * width // 8]))
        for r in range(8)
        for c in range(8)
    ]
    b, g, r = (work[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = math.hypot(float(rg.std()), float(yb.std())) + 0.3 * math.hypot(
        float(rg.mean()), float(yb.mean())
    )
    histogram = np.bincount((grey // 4).ravel(), minlength=64).astype(np.float64)
    histogram /= histogram.sum()
    nonzero = histogram[histogram > 0]
    return {
        "edge_density": float(np.mean(edges)),
        "edge_centre": float(np.mean(edges[rows, cols])),
        "edge_border": float(np.mean(edges[_band(height, width)])),
        "texture_fill": float(np.mean(np.array(cells) > 0.04)),
        "laplacian_log": math.log1p(float(cv2.Laplacian(grey, cv2.CV_32F).var())),
        "colourfulness": colourfulness / 100.0,
        "grey_entropy": float(-(nonzero * np.log2(nonzero)).sum()) / 6.0,
    }


@lru_cache(maxsize=1)
def _saliency() -> Any:
    saliency: Any = cv2.saliency  # contrib module: no type stubs
    return saliency.StaticSaliencySpectralResidual_create()


def saliency_signals(work: Pixels) -> dict[str, float]:
    """Where attention goes: one compact region (product shots) or all over (scenes, collages)."""
    ok, salient = _saliency().computeSaliency(work)
    if not ok:
        return {"saliency_area": 0.0, "saliency_spread": 0.0, "saliency_offset": 0.0}
    smap = np.asarray(salient, dtype=np.float32)
    scaled = cv2.normalize(smap, np.empty_like(smap), 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    _t, mask = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ys, xs = np.nonzero(mask)
    height, width = mask.shape
    if len(xs) == 0:
        return {"saliency_area": 0.0, "saliency_spread": 0.0, "saliency_offset": 0.0}
    fx, fy = xs / float(width), ys / float(height)
    offset = math.hypot(float(fx.mean()) - 0.5, float(fy.mean()) - 0.5) / math.hypot(0.5, 0.5)
    return {
        "saliency_area": float(len(xs)) / float(width * height),
        "saliency_spread": math.hypot(float(fx.std()), float(fy.std())),
        "saliency_offset": offset,
    }


def _longest_runs(strong: npt.NDArray[np.uint8]) -> Floats:
    """Per column: the longest unbroken vertical run of ones, as a share of the height."""
    run = np.zeros(strong.shape[1], dtype=np.int32)
    best = np.zeros_like(run)
    for row in strong:
        run = (run + 1) * row
        np.maximum(best, run, out=best)
    return best.astype(np.float32) / float(strong.shape[0])


def grid_signals(work: Pixels) -> dict[str, float]:
    """Collage tile borders: straight edges running unbroken across the image at an interior column/row.

    ``grid_*`` is the best interior column's (row's) longest unbroken run of strong gradient,
    within one pixel, over the image height (width): a tile border runs the whole way, texture
    and architecture break up. ``grid_*_peak`` is how far that column's coverage stands above
    the median column's (a lone line, not an all-over texture). The outer 10 % is ignored.
    """
    grey = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY).astype(np.float32)
    out: dict[str, float] = {}
    for name, transpose in (("vertical", False), ("horizontal", True)):
        plane = grey.T if transpose else grey
        gradient = np.abs(cv2.Sobel(np.ascontiguousarray(plane), cv2.CV_32F, 1, 0, ksize=3))
        strong = np.asarray(cv2.dilate((gradient > 40).astype(np.uint8), np.ones((1, 3), np.uint8)), np.uint8)
        runs = _longest_runs(strong)
        coverage = strong.mean(axis=0)
        inner = slice(len(runs) // 10, len(runs) - len(runs) // 10)
        out[f"grid_{name}"] = float(runs[inner].max())
        out[f"grid_{name}_peak"] = float(coverage[inner].max() - np.median(coverage))
    return out


@lru_cache(maxsize=4)
def _cascade(name: str) -> cv2.CascadeClassifier:
    path = name if name.startswith("/") else HAAR_DIR / name
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise FileNotFoundError(f"no Haar cascade at {path} (install the Debian package opencv-data)")
    return cascade


def people_signals(image: Pixels) -> dict[str, float]:
    """Frontal (Haar) and profile (LBP) faces on a FACE_SIDE copy, and skin-coloured pixels: their
    share and their largest connected region (a face, an arm)."""
    small = resize_long(image, FACE_SIDE)
    grey = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
    area = float(grey.shape[0] * grey.shape[1])
    faces = _cascade("haarcascade_frontalface_alt2.xml").detectMultiScale(
        grey, scaleFactor=1.1, minNeighbors=5, minSize=(20, 20)
    )
    profiles = _cascade(PROFILE_CASCADE).detectMultiScale(
        grey, scaleFactor=1.1, minNeighbors=4, minSize=(20, 20)
    )
    largest = max((float(w * h) for _x, _y, w, h in faces), default=0.0)
    ycrcb = cv2.cvtColor(small, cv2.COLOR_BGR2YCrCb)
    skin = cv2.inRange(ycrcb, (40, 138, 77), (240, 173, 127))
    blob = 0.0
    count, _labels, stats, _c = cv2.connectedComponentsWithStats(
        cv2.morphologyEx(skin, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)), connectivity=8
    )
    if count > 1:
        blob = float(stats[1:, cv2.CC_STAT_AREA].max()) / area
    return {
        "faces": float(min(len(faces), 4)),
        "face_area": largest / area,
        "skin_share": float(np.count_nonzero(skin)) / area,
        "profile_faces": float(min(len(profiles), 4)),
        "skin_blob": blob,
    }


def text_signals(ocr: OcrResult) -> dict[str, float]:
    """How much of the picture is text, from the OCR result of the same image.

    Lines without a letter or digit are left out (the recogniser reads a big plain shape as
    "●" or "#"), so the signals are the same whether or not the caller filtered them already.
    """
    lines = [line for line in ocr.lines if any(ch.isalnum() for ch in line.text)]
    tallest = 0.0
    for line in lines:
        ys = [y for _x, y in line.box]
        tallest = max(tallest, (max(ys) - min(ys)) / max(1, ocr.height))
    ratio = (
        ocr.text_area_ratio if len(lines) == len(ocr.lines) else text_area_ratio(lines, ocr.width, ocr.height)
    )
    height = max(1, ocr.height)
    tall = [line for line in lines if _line_height(line) / height >= 0.04]
    extent = 0.0
    if lines:
        xs = [x for line in lines for x, _y in line.box]
        ys = [y for line in lines for _x, y in line.box]
        extent = (max(xs) - min(xs)) * (max(ys) - min(ys)) / float(max(1, ocr.width) * height)
    return {
        "text_area_ratio": ratio,
        "text_lines_log": math.log1p(len(lines)),
        "text_chars_log": math.log1p(sum(len(line.text) for line in lines)),
        "text_line_height": tallest,
        "text_big_area": text_area_ratio(tall, ocr.width, ocr.height) if tall else 0.0,
        "text_extent": min(1.0, extent),
        "text_height_share": min(2.0, sum(_line_height(line) for line in lines) / height),
    }


def _line_height(line: OcrLine) -> float:
    ys = [y for _x, y in line.box]
    return max(ys) - min(ys)


def classifier_signals(probabilities: Floats, groups: Sequence[npt.NDArray[np.intp]]) -> dict[str, float]:
    """Confidence and where the ImageNet probability mass sits."""
    p = np.clip(probabilities.astype(np.float64), 1e-12, 1.0)
    entropy = float(-(p * np.log(p)).sum()) / math.log(len(p))
    masses = [float(probabilities[idx].sum()) for idx in groups]
    names = ("cls_apparel", "cls_people", "cls_text", "cls_place", "cls_texture")
    return {
        "cls_top1": float(probabilities.max()),
        "cls_entropy": entropy,
        **dict(zip(names, masses, strict=True)),
    }


def label_groups(labels: Sequence[str]) -> list[npt.NDArray[np.intp]]:
    """Class indices of each signal group, matched on each label's first name."""
    first = [label.split(",")[0].strip() for label in labels]
    return [
        np.array([i for i, name in enumerate(first) if name in group], dtype=np.intp) for group in _GROUPS
    ]


def image_signals(image: Pixels) -> dict[str, float]:
    """Every signal that needs only the pixels (no model): background, edges, saliency, grid, people."""
    work = resize_long(image, WORK_SIDE)
    return {
        **background_signals(work),
        **edge_signals(work),
        **saliency_signals(work),
        **grid_signals(work),
        **people_signals(image),
    }


def feature_row(signals: Mapping[str, float]) -> Floats:
    """Signals in FEATURE_NAMES order (a missing one is a bug: fail loudly)."""
    return np.array([signals[name] for name in FEATURE_NAMES], dtype=np.float32)


# -- the classifier -----------------------------------------------------------------------------


class SceneClassifier:
    """Signals from pixels, OCR and the ImageNet classifier, combined by the trained model.

    Pass the OCR results when the caller has them already (the understanding service reads text
    anyway); otherwise the given `OcrPipeline` runs. Thread-safe; calls block.
    """

    def __init__(
        self,
        client: ModelClient,
        classifier_labels: Sequence[str],
        combiner: Combiner,
        *,
        ocr: OcrPipeline | None = None,
        classifier_model: str = CLASSIFIER_MODEL,
        batch_size: int = 16,
    ) -> None:
        self.client = client
        self.combiner = combiner
        self.ocr = ocr
        self.classifier_model = classifier_model
        self._groups = label_groups(classifier_labels)
        limit = client.spec(classifier_model).max_batch_size
        self.batch_size = min(batch_size, limit) if limit > 0 else 1

    @classmethod
    def from_repository(
        cls,
        client: ModelClient,
        repository: Path,
        *,
        combiner: Combiner | None = None,
        ocr: OcrPipeline | None = None,
    ) -> SceneClassifier:
        """Labels from ``image_classifier/labels.txt``; the packaged LightGBM model unless given."""
        labels = read_labels(Path(repository) / CLASSIFIER_MODEL / "labels.txt")
        return cls(client, labels, combiner or LightGBMCombiner(), ocr=ocr)

    def signals(
        self,
        images: Sequence[bytes | npt.NDArray[Any]],
        ocr_results: Sequence[OcrResult] | None = None,
        timings: dict[str, float] | None = None,
        classifier_probabilities: Sequence[Floats] | None = None,
    ) -> list[dict[str, float]]:
        """Every signal of every image, by name (what the combiner sees, and what tests probe)."""

        def tick(stage: str, started: float) -> float:
            now = time.perf_counter()
            if timings is not None:
                timings[stage] = timings.get(stage, 0.0) + now - started
            return now

        start = time.perf_counter()
        pixels = [decode(image) for image in images]
        if ocr_results is None:
            if self.ocr is None:
                raise ValueError("no OCR results given and no OcrPipeline to read the text")
            ocr_results = self.ocr.read(pixels)
            start = tick("ocr", start)
        if len(ocr_results) != len(pixels):
            raise ValueError(f"{len(ocr_results)} OCR results for {len(pixels)} images")
        rows = [image_signals(p) for p in pixels]
        start = tick("pixels", start)
        probabilities = classifier_probabilities  # callers that ran the classifier pass its output
        if probabilities is None:
            probabilities = self._classify(pixels)
            start = tick("classifier", start)
        if len(probabilities) != len(pixels):
            raise ValueError(f"{len(probabilities)} classifier outputs for {len(pixels)} images")
        for row, ocr, probs in zip(rows, ocr_results, probabilities, strict=True):
            row.update(text_signals(ocr))
            row.update(classifier_signals(probs, self._groups))
        return rows

    def classify(
        self,
        images: Sequence[bytes | npt.NDArray[Any]],
        ocr_results: Sequence[OcrResult] | None = None,
        timings: dict[str, float] | None = None,
        classifier_probabilities: Sequence[Floats] | None = None,
    ) -> list[SceneResult]:
        rows = self.signals(images, ocr_results, timings, classifier_probabilities)
        if not rows:
            return []
        probabilities = self.combiner.predict(np.stack([feature_row(r) for r in rows]))
        return [result_from(row, probs) for row, probs in zip(rows, probabilities, strict=True)]

    def _classify(self, pixels: Sequence[Pixels]) -> list[Floats]:
        crops = [prepare_image(p, "bgr") for p in pixels]
        out: list[Floats] = []
        for start in range(0, len(crops), self.batch_size):
            batch = np.stack(crops[start : start + self.batch_size])
            result = self.client.infer(self.classifier_model, {"image": batch}, ["probabilities"])
            out += list(np.asarray(result["probabilities"], dtype=np.float32))
        return out


def result_from(signals: Mapping[str, float], probabilities: Floats) -> SceneResult:
    """The most probable class (ties go to the earlier class in CLASSES) with rounded figures."""
    best = int(np.argmax(probabilities))
    return SceneResult(
        scene=CLASSES[best],
        confidence=round(float(probabilities[best]), 5),
        probabilities=tuple((c, round(float(p), 5)) for c, p in zip(CLASSES, probabilities, strict=True)),
        signals=tuple((name, round(float(signals[name]), 6)) for name in FEATURE_NAMES),
    )
