"""Read the text on ad images: PP-OCR (detect, orient, recognise), served through a `ModelClient`.

The three networks are rapidocr's own ONNX files (PP-OCRv6 small detector, v2 angle classifier,
PP-OCRv6 small recogniser), served from the model repository as ``ocr_det``, ``ocr_cls`` and
``ocr_rec``. Only the inference calls are ours: every pre- and post-processing step (image
loading, resizing, DB box extraction, box ordering, perspective crops, CTC decoding) is imported
from rapidocr itself, so results match ``rapidocr.RapidOCR()`` and stay correct when rapidocr's
maintainers fix those steps. Nothing here imports onnxruntime: the same code runs embedded or
against a Triton server.

Crops of every image in a call go through the angle classifier and the recogniser together,
sorted by aspect ratio and padded to a common width per batch, as rapidocr does for one image.
"""

from __future__ import annotations

import copy
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeAlias, cast

import cv2
import numpy as np
import numpy.typing as npt
from rapidocr.ch_ppocr_cls.main import TextClassifier
from rapidocr.ch_ppocr_cls.utils import ClsPostProcess
from rapidocr.ch_ppocr_det.main import TextDetector
from rapidocr.ch_ppocr_det.utils import DBPostProcess, DetPreProcess
from rapidocr.ch_ppocr_rec.main import TextRecognizer
from rapidocr.ch_ppocr_rec.utils import CTCLabelDecode
from rapidocr.utils.load_image import LoadImage
from rapidocr.utils.process_img import (
    apply_vertical_padding,
    get_rotate_crop_image,
    map_boxes_to_original,
    resize_image_within_bounds,
)

from creativeloop.kit.models.client import ModelClient
from creativeloop.kit.models.errors import ModelError
from creativeloop.understanding.reading_order import bounding_rect, reading_order

Image: TypeAlias = "bytes | npt.NDArray[Any]"
Point: TypeAlias = tuple[float, float]
Box: TypeAlias = tuple[Point, Point, Point, Point]
Array: TypeAlias = npt.NDArray[Any]

DET_MODEL = "ocr_det"
CLS_MODEL = "ocr_cls"
REC_MODEL = "ocr_rec"
#: Stage names in `OcrPipeline.read`'s ``timings``.
STAGES = ("load", "det", "cls", "rec")


class OcrInputError(ValueError):
    """The image cannot be read (empty, corrupt, wrong dtype or shape); the message says which."""


@dataclass(frozen=True)
class OcrLine:
    """One line of text: what it says, the recogniser's mean character probability, and where.

    ``box`` is four (x, y) points in the original image's pixels, clockwise from top-left.
    """

    text: str
    confidence: float
    box: Box

    def quad(self, width: int, height: int) -> tuple[float, ...]:
        """x0, y0 ... x3, y3 as fractions of the image: the contract's ``OcrLine.quad``."""
        return tuple(round(v / s, 5) for x, y in self.box for v, s in ((x, width), (y, height)))


@dataclass(frozen=True)
class OcrResult:
    """All lines of one image, in reading order: top to bottom, left to right, and the columns of a
    multi-column layout one after another (`OcrSettings.reading_order`)."""

    lines: tuple[OcrLine, ...]
    width: int
    height: int
    #: Share of the image covered by the union of the line boxes (0..1): "how text-heavy".
    text_area_ratio: float

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass(frozen=True)
class OcrSettings:
    """rapidocr 3.10.0's defaults (its config.yaml); change them only together with a re-measure."""

    text_score: float = 0.5
    min_side_len: int = 30
    max_side_len: int = 2000
    min_height: int = 30
    width_height_ratio: float = 8
    det_limit_side_len: int = 736
    det_limit_type: str = "min"
    det_thresh: float = 0.3
    det_box_thresh: float = 0.5
    det_max_candidates: int = 1000
    det_unclip_ratio: float = 1.6
    det_use_dilation: bool = True
    det_score_mode: str = "fast"
    #: Images whose resized shapes agree share a detector call, up to this many.
    det_batch: int = 4
    use_cls: bool = True
    cls_image_shape: tuple[int, int, int] = (3, 48, 192)
    #: Crops per classifier call (any grouping gives the same result: inputs are fixed-size).
    cls_batch: int = 32
    cls_thresh: float = 0.9
    cls_labels: tuple[str, ...] = ("0", "180")
    #: Read a crop the classifier turned also the way it was and keep the surer reading (by more
    #: than this margin); False: rapidocr's behaviour.
    cls_recheck: bool = True
    cls_recheck_margin: float = 0.02
    rec_image_shape: tuple[int, int, int] = (3, 48, 320)
    #: Where the recogniser's best Chinese character is outside GB 2312 (a traditional or rare
    #: form, "減" for "减") and a GB 2312 character scores at least this share of it at the same
    #: step, read the GB 2312 one: ads here are in simplified Chinese. 0: off (rapidocr's reading).
    prefer_simplified: float = 0.1
    #: rapidocr's recogniser groups: an image's crops, sorted by aspect ratio, padded per group.
    rec_batch: int = 6
    #: Most crops per recogniser call: equal-width groups of all images in a call are merged.
    rec_call_batch: int = 32
    #: Ad-text clean-up after recognition (`clean_lines`, `merge_fragments`): bullets and icons
    #: are not text, a line the detector cut in two is one line. False: rapidocr's lines as they are.
    clean_lines: bool = True
    #: Shrink each line's box to the ink inside it (`tighten`): the detector's boxes are padded
    #: (unclip ratio), by about 40 % of the text height. False: the detector's boxes.
    tight_boxes: bool = True
    #: "columns": a multi-column layout's columns are read one after another
    #: (`creativeloop.understanding.reading_order`); "rapidocr": its top-to-bottom, left-to-right order.
    reading_order: str = "columns"
    det_model: str = DET_MODEL
    cls_model: str = CLS_MODEL
    rec_model: str = REC_MODEL

    @classmethod
    def rapidocr(cls) -> OcrSettings:
        """rapidocr's pipeline exactly: none of the ad-layout steps (tight boxes, re-reading
        turned crops, clean-up, column order)."""
        return cls(
            tight_boxes=False,
            cls_recheck=False,
            clean_lines=False,
            reading_order="rapidocr",
            prefer_simplified=0.0,
        )


def load_dictionary(repository: Path, model: str = REC_MODEL) -> list[str]:
    """The recogniser's characters, one per line of ``<repository>/<model>/labels.txt``.

    The service needs this file even when Triton serves the model: the network returns class
    indices, and only this list says which character each index is.
    """
    path = Path(repository) / model / "labels.txt"
    if not path.is_file():
        raise ModelError(model, f"no character dictionary at {path} (build the model repository)")
    return path.read_text(encoding="utf-8").splitlines()


@dataclass
class _Page:
    """One image on its way through the pipeline."""

    original: Array
    image: Array  # resized and padded, what the detector saw
    op_record: dict[str, Any]
    boxes: Array | None = None
    crops: list[Array] = field(default_factory=list)
    texts: list[tuple[str, float]] = field(default_factory=list)
    flipped: list[int] = field(default_factory=list)  # crops the angle classifier turned


class OcrPipeline:
    """Detector, angle classifier and recogniser, called by name through any `ModelClient`.

    Thread-safe: it keeps no per-call state. Calls block; from async code run `read` in an
    executor (the pre- and post-processing is CPU work too, not only the model calls).
    """

    def __init__(
        self, client: ModelClient, dictionary: Sequence[str], settings: OcrSettings | None = None
    ) -> None:
        self.client = client
        self.settings = settings or OcrSettings()
        s = self.settings
        self._loader: Any = LoadImage()  # type: ignore[no-untyped-call]
        self._det_pre = DetPreProcess(
            s.det_limit_side_len, s.det_limit_type, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]
        )
        self._det_post = DBPostProcess(
            thresh=s.det_thresh,
            box_thresh=s.det_box_thresh,
            max_candidates=s.det_max_candidates,
            unclip_ratio=s.det_unclip_ratio,
            score_mode=s.det_score_mode,
            use_dilation=s.det_use_dilation,
        )
        self._cls_post = ClsPostProcess(list(s.cls_labels))
        # CTCLabelDecode inserts the CTC blank and the space into the list it is given: pass a copy.
        self._decoder = CTCLabelDecode(character=list(dictionary))
        self._classes = len(self._decoder.character)
        self._rare_chinese, self._common_chinese = chinese_classes(self._decoder.character)
        # rapidocr's resize-and-pad steps are methods that read one attribute of their instance.
        self._cls_shape: Any = SimpleNamespace(cls_image_shape=list(s.cls_image_shape))
        self._rec_shape: Any = SimpleNamespace(rec_image_shape=list(s.rec_image_shape))

    @classmethod
    def from_repository(
        cls, client: ModelClient, repository: Path, settings: OcrSettings | None = None
    ) -> OcrPipeline:
        """A pipeline whose character dictionary comes from the repository's ``ocr_rec/labels.txt``."""
        chosen = settings or OcrSettings()
        return cls(client, load_dictionary(repository, chosen.rec_model), chosen)

    # -- public API ---------------------------------------------------------------------------

    def read_one(self, image: Image) -> OcrResult:
        return self.read([image])[0]

    def read(self, images: Sequence[Image], timings: dict[str, float] | None = None) -> list[OcrResult]:
        """OCR every image; crops of all images share the classifier and recogniser batches.

        ``image`` is encoded bytes (PNG, JPEG, WebP...) or a decoded uint8 array in OpenCV's
        BGR order (grey and BGRA are accepted). ``timings``, when given, gains the seconds
        spent per stage (`STAGES`), summed over the images.
        """
        clock = _Clock(timings)
        with clock("load"):
            pages = [self._prepare(index, image) for index, image in enumerate(images)]
        with clock("det"):
            self._detect(pages)
        crops = [(page, i) for page in pages for i in range(len(page.crops))]
        with clock("cls"):
            if self.settings.use_cls and crops:
                self._classify(crops)
        with clock("rec"):
            if crops:
                self._recognise(crops)
                if self.settings.cls_recheck:
                    self._recheck_flipped(pages)
            results = [self._result(page) for page in pages]
        return results

    # -- stages -------------------------------------------------------------------------------

    def _prepare(self, index: int, image: Image) -> _Page:
        original = self._load(index, image)
        s = self.settings
        resized, ratio_h, ratio_w = resize_image_within_bounds(original, s.min_side_len, s.max_side_len)
        op_record: dict[str, Any] = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
        padded, op_record = apply_vertical_padding(resized, op_record, s.width_height_ratio, s.min_height)
        return _Page(original=original, image=padded, op_record=op_record)

    def _load(self, index: int, image: Image) -> Array:
        """rapidocr's own loader (so colour handling matches it), behind clear input checks."""
        if isinstance(image, bytes | bytearray | memoryview):
            if len(image) == 0:
                raise OcrInputError(f"image {index}: empty bytes")
            content: bytes | Array = bytes(image)
        elif isinstance(image, np.ndarray):
            if image.dtype != np.uint8:
                raise OcrInputError(f"image {index}: dtype {image.dtype}, expected uint8")
            if (
                image.ndim not in (2, 3)
                or image.size == 0
                or (image.ndim == 3 and image.shape[2] not in (1, 3, 4))
            ):
                raise OcrInputError(f"image {index}: shape {image.shape}, expected HxW, HxWx3 or HxWx4")
            content = image
        else:
            raise OcrInputError(
                f"image {index}: {type(image).__name__}, expected encoded bytes or a uint8 array"
            )
        try:
            loaded: Array = self._loader(content)
        except Exception as error:  # PIL and rapidocr raise many types for bad bytes
            raise OcrInputError(f"image {index}: cannot decode ({type(error).__name__}: {error})") from error
        if loaded.ndim != 3 or loaded.shape[0] < 2 or loaded.shape[1] < 2:
            raise OcrInputError(f"image {index}: {loaded.shape[:2]} pixels is too small to read")
        return np.ascontiguousarray(loaded)

    def _detect(self, pages: list[_Page]) -> None:
        """One detector call per group of images whose network inputs have the same shape."""
        tensors = []
        for page in pages:
            tensor = self._det_pre(page.image)
            if tensor is None:
                raise OcrInputError(
                    f"image of {page.original.shape[:2]} pixels cannot be resized for the detector"
                )
            tensors.append(tensor)
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, tensor in enumerate(tensors):
            groups.setdefault(tensor.shape, []).append(index)
        limit = self._batch_limit(self.settings.det_model, self.settings.det_batch)
        for members in groups.values():
            for start in range(0, len(members), limit):
                chunk = members[start : start + limit]
                maps = self._infer(self.settings.det_model, np.concatenate([tensors[i] for i in chunk]))
                for row, index in enumerate(chunk):
                    self._boxes(pages[index], maps[row : row + 1])

    def _boxes(self, page: _Page, prob_map: Array) -> None:
        height, width = page.image.shape[:2]
        boxes, _scores = self._det_post(prob_map, (height, width))
        if len(boxes) == 0:
            return
        page.boxes = TextDetector.sorted_boxes(boxes)
        page.crops = [get_rotate_crop_image(page.image, copy.deepcopy(box)) for box in page.boxes]
        if self.settings.tight_boxes:
            page.boxes = np.stack(
                [tighten(box, crop) for box, crop in zip(page.boxes, page.crops, strict=True)]
            )

    def _classify(self, crops: list[tuple[_Page, int]]) -> None:
        """Turn upside-down crops the right way up (rapidocr's TextClassifier, batched across images).

        Every crop is resized and padded to the same 48x192 input whatever its batch, so crops of
        all images can share calls without changing any result.
        """
        s = self.settings
        images = [page.crops[i] for page, i in crops]
        limit = self._batch_limit(s.cls_model, s.cls_batch)
        for start in range(0, len(images), limit):
            rows = range(start, min(start + limit, len(images)))
            batch = np.stack([TextClassifier.resize_norm_img(self._cls_shape, images[i]) for i in rows])
            labels = self._cls_post(self._infer(s.cls_model, batch.astype(np.float32)))
            for row, (label, score) in zip(rows, labels, strict=True):
                if "180" in label and score > s.cls_thresh:
                    page, i = crops[row]
                    page.crops[i] = cv2.rotate(page.crops[i], cv2.ROTATE_180)
                    page.flipped.append(i)

    def _recognise(self, crops: list[tuple[_Page, int]]) -> None:
        """CTC-decode every crop, each padded exactly as rapidocr pads it when reading its image alone.

        rapidocr sorts an image's crops by aspect ratio and pads each group of ``rec_batch`` to the
        widest crop in it (never below 320 px); padding changes what the recogniser reads, so we
        keep those groups per image and only merge groups of equal padded width across images
        into shared calls. The result for an image is then the same alone or in a batch.
        """
        pages = _group_by_page(crops)
        reads = self._read_groups([[crops[i][0].crops[crops[i][1]] for i in indices] for indices in pages])
        texts: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        for indices, group in zip(pages, reads, strict=True):
            for index, read in zip(indices, group, strict=True):
                texts[index] = read
        for (page, _i), read in zip(crops, texts, strict=True):
            page.texts.append(read)

    def _recheck_flipped(self, pages: Sequence[_Page]) -> None:
        """Read each crop the angle classifier turned once more the way it was, and keep the
        reading the recogniser is surer of: the classifier turns short words on a tilted sticker
        ("¥99" read as "66夫", "No ads" as "spe oN")."""
        flipped = [(page, i) for page in pages for i in page.flipped]
        if not flipped:
            return
        by_page: dict[int, list[int]] = {}
        for k, (page, _i) in enumerate(flipped):
            by_page.setdefault(id(page), []).append(k)
        groups = list(by_page.values())
        reads = self._read_groups(
            [
                [cv2.rotate(flipped[k][0].crops[flipped[k][1]], cv2.ROTATE_180) for k in group]
                for group in groups
            ]
        )
        for group, group_reads in zip(groups, reads, strict=True):
            for k, (text, score) in zip(group, group_reads, strict=True):
                page, i = flipped[k]
                if score > page.texts[i][1] + self.settings.cls_recheck_margin:
                    page.texts[i] = (text, score)

    def _read_groups(self, groups: Sequence[Sequence[Array]]) -> list[list[tuple[str, float]]]:
        """Text and confidence of every crop of every group (one group per image), padded per image."""
        s = self.settings
        _channels, height, width = s.rec_image_shape
        by_width: dict[int, list[tuple[tuple[int, int], Array]]] = {}
        for g, images in enumerate(groups):
            ratios = [img.shape[1] / float(img.shape[0]) for img in images]
            order = [int(k) for k in np.argsort(np.array(ratios))]
            for start in range(0, len(order), s.rec_batch):
                members = order[start : start + s.rec_batch]
                max_ratio = max([width / height] + [ratios[k] for k in members])
                for k in members:
                    tensor = TextRecognizer.resize_norm_img(self._rec_shape, images[k], max_ratio)
                    by_width.setdefault(tensor.shape[-1], []).append(((g, k), tensor))
        out: list[list[tuple[str, float]]] = [[("", 0.0)] * len(images) for images in groups]
        limit = self._batch_limit(s.rec_model, s.rec_call_batch)
        for rows in by_width.values():
            for start in range(0, len(rows), limit):
                chunk = rows[start : start + limit]
                preds = self._infer(s.rec_model, np.stack([t for _, t in chunk]).astype(np.float32))
                if preds.shape[-1] != self._classes:
                    raise ModelError(
                        s.rec_model,
                        f"returns {preds.shape[-1]} classes but the dictionary has {self._classes} "
                        "(blank and space included): labels.txt does not belong to this model",
                    )
                if s.prefer_simplified > 0:
                    preds = prefer_common(
                        preds, self._rare_chinese, self._common_chinese, s.prefer_simplified
                    )
                lines, _words = self._decoder(preds, False)
                for ((g, k), _tensor), (text, score) in zip(chunk, lines, strict=True):
                    out[g][k] = (str(text), float(score))
        return out

    def _result(self, page: _Page) -> OcrResult:
        """Map boxes back to the original pixels; drop empty and low-confidence lines (as rapidocr)."""
        height, width = page.original.shape[:2]
        lines: list[OcrLine] = []
        if page.boxes is not None:
            boxes = map_boxes_to_original(page.boxes.astype(np.float32), page.op_record, height, width)
            for box, (text, score) in zip(boxes, page.texts, strict=True):
                if not text.strip() or score < self.settings.text_score:
                    continue
                points = tuple((round(float(x), 2), round(float(y), 2)) for x, y in box)
                lines.append(OcrLine(text=text, confidence=round(score, 5), box=cast(Box, points)))
        if self.settings.clean_lines:
            lines = merge_fragments(clean_lines(lines))
        if self.settings.reading_order == "columns":
            lines = [lines[i] for i in reading_order([bounding_rect(line.box) for line in lines])]
        return OcrResult(tuple(lines), width, height, text_area_ratio(lines, width, height))

    # -- model calls --------------------------------------------------------------------------

    def _batch_limit(self, model: str, wanted: int) -> int:
        most = self.client.spec(model).max_batch_size
        return max(1, min(wanted, most) if most > 0 else wanted)

    def _infer(self, model: str, batch: Array) -> Array:
        """The model's only input in, its only output back (names come from its config)."""
        spec = self.client.spec(model)
        outputs = self.client.infer(model, {spec.inputs[0].name: batch}, [spec.outputs[0].name])
        return outputs[spec.outputs[0].name]


def _group_by_page(crops: Sequence[tuple[_Page, int]]) -> list[list[int]]:
    """Indices into ``crops`` per page, in page order."""
    groups: dict[int, list[int]] = {}
    for index, (page, _i) in enumerate(crops):
        groups.setdefault(id(page), []).append(index)
    return list(groups.values())


def text_area_ratio(lines: Sequence[OcrLine], width: int, height: int) -> float:
    """Union of the line boxes over the image area, rasterised (overlapping boxes count once)."""
    if not lines or width <= 0 or height <= 0:
        return 0.0
    mask = np.zeros((height, width), dtype=np.uint8)
    polygons = [np.round(np.array(line.box)).astype(np.int32) for line in lines]
    cv2.fillPoly(mask, polygons, 1)
    return round(float(np.count_nonzero(mask)) / float(width * height), 5)


# -- characters ----------------------------------------------------------------------------------


def _gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def chinese_classes(characters: Sequence[str]) -> tuple[Array, Array]:
    """Per recogniser class: a CJK ideograph outside GB 2312 (traditional or rare forms), and one
    inside it (the simplified characters mainland ads use)."""
    cjk = [len(ch) == 1 and 0x4E00 <= ord(ch) <= 0x9FFF for ch in characters]
    common = [c and _gb2312(ch) for c, ch in zip(cjk, characters, strict=True)]
    rare = np.array([c and not g for c, g in zip(cjk, common, strict=True)], dtype=bool)
    return rare, np.array(common, dtype=bool)


def prefer_common(preds: Array, rare: Array, common: Array, share: float) -> Array:
    """CTC step probabilities [N, T, C] where each step whose best class is a rare Chinese form
    and whose best common (GB 2312) character scores at least ``share`` of it reads the common one
    (the two probabilities swap, so the line's confidence is unchanged)."""
    best = preds.argmax(axis=2)
    rows, steps = np.nonzero(rare[best])
    if len(rows) == 0:
        return preds
    out = np.array(preds, copy=True)
    for n, t in zip(rows, steps, strict=True):
        step = out[n, t]
        top = int(best[n, t])
        alternative = int(np.argmax(np.where(common, step, -1.0)))
        if step[alternative] >= share * step[top]:
            step[top], step[alternative] = step[alternative], step[top]
    return out


# -- boxes ---------------------------------------------------------------------------------------


def ink_extent(crop: Array) -> tuple[float, float, float, float]:
    """Where the text's ink is in a line crop, as fractions (left, top, right, bottom).

    Otsu splits the crop in two; the ink is the class that touches the crop's border less (the
    detector pads its boxes with background). Rows and columns count as ink from 4 % of the
    fullest one; (0, 0, 1, 1) when that leaves nothing sensible.
    """
    grey = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    height, width = grey.shape[:2]
    if height < 6 or width < 6:
        return (0.0, 0.0, 1.0, 1.0)
    _t, binary = cv2.threshold(np.ascontiguousarray(grey), 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    border = np.concatenate([binary[0], binary[-1], binary[:, 0], binary[:, -1]])
    ink = binary if float(border.mean()) < 0.5 else 1 - binary
    rows = ink.sum(axis=1).astype(np.float64)
    cols = ink.sum(axis=0).astype(np.float64)
    if rows.max() <= 0:
        return (0.0, 0.0, 1.0, 1.0)
    ys = np.flatnonzero(rows >= 0.04 * rows.max())
    xs = np.flatnonzero(cols >= 0.04 * cols.max())
    top, bottom, left, right = ys[0] / height, (ys[-1] + 1) / height, xs[0] / width, (xs[-1] + 1) / width
    if bottom - top < 0.3 or right - left < 0.3:
        return (0.0, 0.0, 1.0, 1.0)
    return (float(left), float(top), float(right), float(bottom))


def tighten(box: Array, crop: Array) -> Array:
    """``box`` (4 points, clockwise from top-left) shrunk to the ink of its crop; unchanged for a
    vertical line (its crop was turned a quarter) or a crop without a clear ink extent."""
    points = np.asarray(box, dtype=np.float32)
    width = max(np.linalg.norm(points[0] - points[1]), np.linalg.norm(points[2] - points[3]))
    height = max(np.linalg.norm(points[0] - points[3]), np.linalg.norm(points[1] - points[2]))
    if width <= 0 or height / width >= 1.5:
        return points
    left, top, right, bottom = ink_extent(crop)

    def at(u: float, v: float) -> Array:
        upper = points[0] + (points[1] - points[0]) * u
        lower = points[3] + (points[2] - points[3]) * u
        return np.asarray(upper + (lower - upper) * v, dtype=np.float32)

    return np.stack([at(left, top), at(right, top), at(right, bottom), at(left, bottom)]).astype(np.float32)


# -- ad-text clean-up ----------------------------------------------------------------------------

#: Glyphs that decorate ad text (bullets, ticks, stars, arrows) without being part of it.
_DECORATION = frozenset("•·")
#: A line with a single letter or digit is kept only when the recogniser is this sure of it: the
#: recogniser reads a garment as "M" or "A" and a bullet as "中" at lower confidence (measured on
#: `creativeloop.datasets.ad_layouts`).
SINGLE_CHARACTER_CONFIDENCE = 0.99


def _decoration(ch: str) -> bool:
    return ch in _DECORATION or unicodedata.category(ch) == "So"


def _shrink(box: Box, start: float, stop: float) -> Box:
    """The part of a line's quad between fractions ``start`` and ``stop`` of its length."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = box

    def along(ax: float, ay: float, bx: float, by: float, t: float) -> Point:
        return (round(ax + (bx - ax) * t, 2), round(ay + (by - ay) * t, 2))

    return (
        along(x0, y0, x1, y1, start),
        along(x0, y0, x1, y1, stop),
        along(x3, y3, x2, y2, stop),
        along(x3, y3, x2, y2, start),
    )


def clean_lines(lines: Sequence[OcrLine]) -> list[OcrLine]:
    """Drop what is not ad text and trim decorations off what is.

    - leading and trailing bullets, ticks, stars and arrows (Unicode "other symbols") go, and the
      box shrinks by their share of the line's characters;
    - a line left without a letter or digit goes (an icon read as "●");
    - a line with one letter or digit goes unless read with `SINGLE_CHARACTER_CONFIDENCE`;
    - "0" between letters of a Latin word is the letter O ("0FF" -> "OFF", "0ff" -> "Off").
    """
    out: list[OcrLine] = []
    for line in lines:
        text = line.text
        start = 0
        while start < len(text) and (_decoration(text[start]) or text[start].isspace()):
            start += 1
        stop = len(text)
        while stop > start and (_decoration(text[stop - 1]) or text[stop - 1].isspace()):
            stop -= 1
        core = text[start:stop]
        alnum = sum(ch.isalnum() for ch in core)
        if alnum == 0 or (alnum == 1 and line.confidence < SINGLE_CHARACTER_CONFIDENCE):
            continue
        core = _LETTER_ZERO.sub(_letter_o, core)
        box = (
            line.box
            if (start, stop) == (0, len(text))
            else _shrink(line.box, start / len(text), stop / len(text))
        )
        out.append(OcrLine(core, line.confidence, box))
    return out


#: A Latin word with a zero among its letters ("0FF", "0ff", "C0TTON"), not a number ("50%", "B2B0").
_LETTER_ZERO = re.compile(r"(?<![\w])(?=[A-Za-z0]*[A-Za-z]{2})[A-Za-z0]*0[A-Za-z0]*(?![\w])")


def _letter_o(match: re.Match[str]) -> str:
    word = match.group(0)
    letters = [ch for ch in word if ch.isalpha()]
    upper = sum(ch.isupper() for ch in letters) * 2 > len(letters)
    chars = list(word)
    for i, ch in enumerate(chars):
        if ch == "0":
            later = next((c for c in chars[i + 1 :] if c.isalpha()), "")
            chars[i] = "O" if upper or (i == 0 and later.islower() and not upper) else "o"
    return "".join(chars)


#: Fragments of one line: heights within this ratio, overlapping by this share of the smaller
#: height, and at most this many line heights apart.
_FRAGMENT_HEIGHT_RATIO = 1.35
_FRAGMENT_OVERLAP = 0.6
_FRAGMENT_GAP = 0.5


def merge_fragments(lines: Sequence[OcrLine]) -> list[OcrLine]:
    """Join boxes the detector cut out of one horizontal line (a wide letter gap, a dropped
    first character), left to right; lines of different size or further apart stay apart."""
    merged = list(lines)
    changed = True
    while changed:
        changed = False
        rects = [bounding_rect(line.box) for line in merged]
        order = sorted(range(len(merged)), key=lambda i: rects[i][0])
        for ia in order:
            a = rects[ia]
            for ib in order:
                b = rects[ib]
                if ia == ib or b[0] < a[0]:
                    continue
                ha, hb = a[3] - a[1], b[3] - b[1]
                if min(ha, hb) <= 0 or max(ha, hb) / min(ha, hb) > _FRAGMENT_HEIGHT_RATIO:
                    continue
                overlap = min(a[3], b[3]) - max(a[1], b[1])
                gap = b[0] - a[2]
                if overlap < _FRAGMENT_OVERLAP * min(ha, hb) or not -0.8 * ha <= gap <= _FRAGMENT_GAP * ha:
                    continue
                if b[2] <= a[2] or not (_flat(merged[ia].box) and _flat(merged[ib].box)):
                    continue  # b inside a, or a tilted line
                first, second = merged[ia], merged[ib]
                text = _join(first.text, second.text, gap, a[2] - a[0], ha)
                joined = OcrLine(
                    text,
                    min(first.confidence, second.confidence),
                    _rect_box((min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))),
                )
                merged = [line for k, line in enumerate(merged) if k not in (ia, ib)] + [joined]
                changed = True
                break
            if changed:
                break
    return merged


def _join(first: str, second: str, gap: float, first_width: float, height: float) -> str:
    """The text of two fragments of a line; where the boxes overlap, characters both read once."""
    if gap < 0 and first:
        # Characters the overlap can hold, from the first fragment's character width.
        room = int(-gap / max(1.0, first_width / len(first))) + 1
        for k in range(min(room, len(first), len(second)), 0, -1):
            if first[-k:] == second[:k]:
                return first + second[k:]
    space = " " if gap > 0.25 * height and first[-1:].isascii() and second[:1].isascii() else ""
    return first + space + second


def _flat(box: Box) -> bool:
    """Whether a line's quad is (nearly) horizontal: fragments are joined only then."""
    (x0, y0), (x1, y1) = box[0], box[1]
    return abs(y1 - y0) <= 0.1 * max(1.0, abs(x1 - x0))


def _rect_box(rect: tuple[float, float, float, float]) -> Box:
    x0, y0, x1, y1 = (round(v, 2) for v in rect)
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


class _Clock:
    """Adds elapsed seconds per stage into a caller's dict (or does nothing)."""

    def __init__(self, sink: dict[str, float] | None) -> None:
        self._sink = sink
        self._stage = ""
        self._start = 0.0

    def __call__(self, stage: str) -> _Clock:
        self._stage = stage
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        if self._sink is not None:
            self._sink[self._stage] = self._sink.get(self._stage, 0.0) + time.perf_counter() - self._start
