"""Train the ``aesthetics`` ranker from controlled degradations of real photos, export it to ONNX.

No labelled aesthetics data ships offline, but *ordered* data can be made: a real photo is better
than a blurred, noisy, JPEG-blocked, under- or over-exposed, highlight-clipped, flattened or
badly cropped (kept small, or enlarged back to full size) copy of itself, and a stronger
degradation is worse than a milder one. Each (photo, degradation kind) chain ``original > level 1
> level 2 > level 3`` is one LambdaRank query; one more query per kind
mixes all training photos (every original above every level-3 copy of any photo), so scores are
comparable across pictures, not only within one. The raw ranker output is mapped to 0..100 by a
logistic curve calibrated on the training set (median original -> 80, median level 3 -> 20),
and that mapping is appended to the ONNX graph, so the served model returns the score itself.

Photos come from packages that install offline, split by photo (never by degraded copy):
Debian ``opencv-doc`` sample photos, ``scikit-image`` and ``scikit-learn`` data.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper
from scipy.stats import spearmanr

from creativeloop.datasets.cutouts import load_picture, stable_seed
from creativeloop.understanding.aesthetics import (
    FEATURE_NAMES,
    INPUT_NAME,
    N_FEATURES,
    OUTPUT_NAME,
    analysis_image,
    features,
)
from creativeloop.understanding.product_box import Image

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # the variable above must be set before import

#: Photos the ranker learns from: photo references (`creativeloop.datasets.photos`) and studio
#: product shots (``product:<cut-out>:<backdrop>``, `creativeloop.datasets.cutouts.product_shot`).
TRAIN_PHOTOS: tuple[str, ...] = (
    "opencv-doc:data/aero1.jpg",
    "opencv-doc:data/aero3.jpg",
    "opencv-doc:data/apple.jpg",
    "opencv-doc:data/board.jpg",
    "opencv-doc:data/ela_original.jpg",
    "opencv-doc:data/fruits.jpg",
    "opencv-doc:data/graf1.png",
    "opencv-doc:data/home.jpg",
    "opencv-doc:data/leuvenA.jpg",
    "opencv-doc:data/left.jpg",
    "opencv-doc:data/messi5.jpg",
    "opencv-doc:data/orange.jpg",
    "opencv-doc:data/rubberwhale1.png",
    "opencv-doc:data/squirrel_cls.jpg",
    "opencv-doc:data/stuff.jpg",
    "opencv-doc:alphamat/input_images/plant.jpg",
    "opencv-doc:hfs/data/001.jpg",
    "opencv-doc:text/scenetext01.jpg",
    "opencv-doc:text/scenetext02.jpg",
    "opencv-doc:text/scenetext04.jpg",
    "opencv-doc:text/scenetext05.jpg",
    "skimage:astronaut.png",
    "skimage:chelsea.png",
    "skimage:motorcycle_left.png",
    "sklearn:china.jpg",
    # Product shots on studio white / grey: clipped white backgrounds are not over-exposure.
    "product:dress:white",
    "product:jeans:grey",
    "product:coat:white",
    "product:sweater:white",
    "product:apple-shape:white",
    "product:car-shape:grey",
    "product:plant:white",
    "product:garment/tank/Black:white",
    "product:garment/blouse/Pink/Silk:grey",
    "product:garment/jumpsuit/Olive:white",
    "product:garment/shorts/Khaki/Denim:white",
    "product:garment/cardigan/Mustard/Knit:grey",
    "product:garment/maxi/Teal//Floral:white",
)
#: Photos the ranker never sees: the quality report and the tests measure on these.
HELD_OUT_PHOTOS: tuple[str, ...] = (
    "opencv-doc:data/baboon.jpg",
    "opencv-doc:data/building.jpg",
    "opencv-doc:data/butterfly.jpg",
    "opencv-doc:data/smarties.png",
    "opencv-doc:hfs/data/000.jpg",
    "opencv-doc:hfs/data/002.jpg",
    "opencv-doc:text/scenetext03.jpg",
    "opencv-doc:text/scenetext06.jpg",
    "skimage:coffee.png",
    "skimage:rocket.jpg",
    "sklearn:flower.jpg",
    "product:skirt:white",
    "product:tee:grey",
    "product:key-shape:white",
    "product:bird-shape:grey",
)

#: Degradation kinds and the strength of levels 1, 2, 3 (see `degrade` for units).
DEGRADATIONS: dict[str, tuple[float, float, float]] = {
    "blur": (1.2, 2.5, 4.5),  # Gaussian sigma, pixels at analysis size
    "noise": (7.0, 15.0, 30.0),  # Gaussian sigma, grey levels
    "jpeg": (30.0, 12.0, 4.0),  # JPEG quality
    "underexposure": (0.45, 0.22, 0.10),  # gain in linear light
    "overexposure": (1.8, 3.0, 5.0),  # gain in linear light (clips)
    "low_contrast": (0.6, 0.35, 0.18),  # contrast factor around the mean
    "bad_crop": (0.72, 0.55, 0.40),  # kept share of each side, anchored at a corner
    "crop_zoom": (0.75, 0.58, 0.42),  # kept share, at a corner or an edge, enlarged back to full size
    "clipped_highlights": (235.0, 205.0, 175.0),  # grey level at which every channel hits white
}
LEVELS = 3


def load_photo(ref: str) -> Image:
    """A photo at analysis size: degradations are applied at the scale features are measured."""
    return analysis_image(load_picture(ref))


def _gain_linear(image: Image, gain: float) -> Image:
    linear = (image.astype(np.float32) / 255.0) ** 2.2
    out = np.clip(linear * gain, 0.0, 1.0) ** (1.0 / 2.2)
    return np.asarray(np.clip(out * 255.0 + 0.5, 0, 255), dtype=np.uint8)


def degrade(image: Image, kind: str, level: int, seed: int = 0) -> Image:
    """``image`` made worse by ``kind`` at ``level`` (1 mild .. 3 strong); level 0 is a copy."""
    if kind not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {kind!r}; known: {sorted(DEGRADATIONS)}")
    if not 0 <= level <= LEVELS:
        raise ValueError(f"level must be 0..{LEVELS}, got {level}")
    if level == 0:
        return image.copy()
    strength = DEGRADATIONS[kind][level - 1]
    if kind == "blur":
        return np.asarray(cv2.GaussianBlur(image, (0, 0), strength), dtype=np.uint8)
    if kind == "noise":
        rng = np.random.default_rng(seed)
        noisy = image.astype(np.float32) + rng.normal(0.0, strength, image.shape).astype(np.float32)
        return np.asarray(np.clip(noisy + 0.5, 0, 255), dtype=np.uint8)
    if kind == "jpeg":
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(strength)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR), dtype=np.uint8)
    if kind in ("underexposure", "overexposure"):
        return _gain_linear(image, strength)
    if kind == "low_contrast":
        mean = image.reshape(-1, 3).mean(axis=0)
        flat = mean + strength * (image.astype(np.float32) - mean)
        return np.asarray(np.clip(flat + 0.5, 0, 255), dtype=np.uint8)
    if kind == "clipped_highlights":
        return clip_highlights(image, strength)
    if kind == "crop_zoom":
        return crop_zoom(image, strength, seed)
    # bad_crop
    h, w = image.shape[:2]
    ch, cw = max(16, round(h * strength)), max(16, round(w * strength))
    corner = seed % 4  # which corner the crop keeps, so the subject slides off-frame
    y0 = 0 if corner in (0, 1) else h - ch
    x0 = 0 if corner in (0, 2) else w - cw
    return image[y0 : y0 + ch, x0 : x0 + cw].copy()


def clip_highlights(image: Image, white: float) -> Image:
    """Highlights pushed to white: each channel follows itself up to ``white - 70``, then rises
    steeply to 255 at ``white`` and clips above (mid-tones and shadows stay as they were)."""
    knee = white - 70.0
    values = image.astype(np.float32)
    steep = knee + (values - knee) * (255.0 - knee) / (white - knee)
    out = np.where(values <= knee, values, steep)
    return np.asarray(np.clip(out + 0.5, 0, 255), dtype=np.uint8)


def crop_zoom(image: Image, share: float, seed: int) -> Image:
    """A crop keeping ``share`` of the picture at a corner or along one edge (by ``seed``), enlarged
    back to the original size: the subject slides off the frame and detail gets soft."""
    h, w = image.shape[:2]
    ch, cw = max(16, round(h * share)), max(16, round(w * share))
    place = seed % 8
    if place < 4:  # a corner
        y0 = 0 if place in (0, 1) else h - ch
        x0 = 0 if place in (0, 2) else w - cw
    else:  # the middle of one edge
        y0 = {4: 0, 5: h - ch}.get(place, (h - ch) // 2)
        x0 = {6: 0, 7: w - cw}.get(place, (w - cw) // 2)
    crop = image[y0 : y0 + ch, x0 : x0 + cw]
    return np.asarray(cv2.resize(crop, (w, h), interpolation=cv2.INTER_CUBIC), dtype=np.uint8)


@dataclass(frozen=True)
class Dataset:
    """Feature rows with their photo, degradation kind and level (0 = original)."""

    X: npt.NDArray[np.float32]
    photo: tuple[str, ...]
    kind: tuple[str, ...]  # "original" for level 0
    level: npt.NDArray[np.int32]


def build_dataset(
    refs: Sequence[str],
    kinds: Sequence[str] | None = None,
    featurise: Callable[[Image], npt.NDArray[np.float32]] = features,
) -> Dataset:
    """One row per original and per (kind, level) copy of each photo."""
    chosen = list(DEGRADATIONS) if kinds is None else list(kinds)
    rows: list[npt.NDArray[np.float32]] = []
    photos: list[str] = []
    kind_of: list[str] = []
    levels: list[int] = []
    for ref in refs:
        original = load_photo(ref)
        rows.append(featurise(original))
        photos.append(ref)
        kind_of.append("original")
        levels.append(0)
        for kind in chosen:
            for level in range(1, LEVELS + 1):
                rows.append(featurise(degrade(original, kind, level, seed=stable_seed(ref, kind, level))))
                photos.append(ref)
                kind_of.append(kind)
                levels.append(level)
    X = np.stack(rows).astype(np.float32) if rows else np.zeros((0, N_FEATURES), np.float32)
    return Dataset(X, tuple(photos), tuple(kind_of), np.asarray(levels, dtype=np.int32))


def ranking_queries(data: Dataset) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int32], list[int]]:
    """LambdaRank rows, relevance labels and query sizes: one chain per (photo, kind), plus one
    cross-photo query per kind (originals vs their level-3 copies)."""
    originals = {p: i for i, (p, k) in enumerate(zip(data.photo, data.kind, strict=True)) if k == "original"}
    kinds = sorted({k for k in data.kind if k != "original"})
    index: list[int] = []
    labels: list[int] = []
    sizes: list[int] = []
    for photo, original in originals.items():
        for kind in kinds:
            chain = [i for i in range(len(data.photo)) if data.photo[i] == photo and data.kind[i] == kind]
            members = [original, *chain]
            index.extend(members)
            labels.extend(LEVELS - int(data.level[i]) for i in members)
            sizes.append(len(members))
    for kind in kinds:
        worst = [i for i in range(len(data.photo)) if data.kind[i] == kind and data.level[i] == LEVELS]
        members = [*originals.values(), *worst]
        index.extend(members)
        labels.extend(1 if data.level[i] == 0 else 0 for i in members)
        sizes.append(len(members))
    return data.X[index], np.asarray(labels, dtype=np.int32), sizes


@dataclass(frozen=True)
class Calibration:
    """score = 100 * sigmoid((raw - centre) / scale)."""

    centre: float
    scale: float

    def apply(self, raw: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        return 100.0 / (1.0 + np.exp(-(np.asarray(raw, np.float64) - self.centre) / self.scale))


def calibrate(raw: npt.NDArray[np.floating], level: npt.NDArray[np.int32]) -> Calibration:
    """Median original -> 80, median most-degraded copy -> 20 (on the training set)."""
    good = float(np.median(raw[level == 0]))
    bad = float(np.median(raw[level == LEVELS]))
    if good <= bad:
        raise ValueError(f"ranker does not separate originals ({good:.3f}) from degraded ({bad:.3f})")
    return Calibration(
        centre=round((good + bad) / 2.0, 6), scale=round((good - bad) / (2.0 * math.log(4.0)), 6)
    )


#: 10 leaves / 20 rows per leaf: chosen by 5-fold cross-validation by photo over all 53 photos
#: (training and held-out) among 4/7/10/15 leaves, 15-30 rows, 300-600 rounds, on the 26 features
#: and 9 degradations (mean Spearman within photo 0.879 against 0.856 with 4 leaves).
LGB_PARAMS: dict[str, object] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "ndcg_eval_at": [4],
    "learning_rate": 0.05,
    "num_leaves": 10,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "num_threads": 1,  # with deterministic: same bytes on every machine
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
NUM_ROUNDS = 300


@dataclass(frozen=True)
class TrainedRanker:
    booster: object  # lightgbm.Booster (kept untyped: lightgbm ships no stubs)
    calibration: Calibration
    rows: int
    queries: int

    def raw(self, X: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        predict = self.booster.predict  # type: ignore[attr-defined]
        return np.asarray(predict(np.asarray(X, np.float32).astype(np.float64)), dtype=np.float64)

    def score(self, X: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Native 0..100 scores: what the ONNX model must reproduce."""
        return self.calibration.apply(self.raw(X))


def train(data: Dataset, seed: int = 0, rounds: int = NUM_ROUNDS) -> TrainedRanker:
    X, y, sizes = ranking_queries(data)
    params = {**LGB_PARAMS, "seed": seed, "label_gain": list(range(LEVELS + 1))}
    dataset = lgb.Dataset(X, label=y, group=sizes, feature_name=list(FEATURE_NAMES), free_raw_data=False)
    booster = lgb.train(params, dataset, num_boost_round=rounds)
    raw = np.asarray(booster.predict(data.X.astype(np.float64)), dtype=np.float64)
    return TrainedRanker(booster, calibrate(raw, data.level), rows=len(y), queries=len(sizes))


def to_onnx(ranker: TrainedRanker) -> bytes:
    """ONNX bytes: the LightGBM trees (onnxmltools) followed by the 0..100 calibration."""
    # onnxmltools: the `models` extra (build time only).
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    model = convert_lightgbm(
        ranker.booster,
        name="aesthetics",
        initial_types=[(INPUT_NAME, FloatTensorType([None, N_FEATURES]))],
        zipmap=False,
        target_opset=15,
    )
    graph = model.graph
    raw_name = graph.output[0].name
    constants = {
        "cal_centre": ranker.calibration.centre,
        "cal_scale": ranker.calibration.scale,
        "cal_hundred": 100.0,
    }
    for name, value in constants.items():
        graph.initializer.append(helper.make_tensor(name, TensorProto.FLOAT, [], [value]))
    graph.node.extend(
        [
            helper.make_node("Sub", [raw_name, "cal_centre"], ["cal_shifted"], name="cal_sub"),
            helper.make_node("Div", ["cal_shifted", "cal_scale"], ["cal_scaled"], name="cal_div"),
            helper.make_node("Sigmoid", ["cal_scaled"], ["cal_unit"], name="cal_sigmoid"),
            helper.make_node("Mul", ["cal_unit", "cal_hundred"], [OUTPUT_NAME], name="cal_mul"),
        ]
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None, 1]))
    model.doc_string = "CreativeLoop aesthetics: LightGBM LambdaRank over FEATURE_NAMES, 0..100 score"
    # onnxmltools lists the opsets in set order, which varies with PYTHONHASHSEED: sorted by domain,
    # every build writes the same bytes.
    opsets = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    model.opset_import.extend(helper.make_opsetid(domain, version) for domain, version in opsets)
    del model.metadata_props[:]
    model.metadata_props.append(
        onnx.StringStringEntryProto(key="feature_names", value=",".join(FEATURE_NAMES))
    )
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def onnx_scores(model_bytes: bytes, X: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Run the exported bytes with onnxruntime on the CPU (for the export check)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    (out,) = session.run([OUTPUT_NAME], {INPUT_NAME: np.asarray(X, dtype=np.float32)})
    return np.asarray(out, dtype=np.float32).reshape(-1)


@dataclass(frozen=True)
class KindReport:
    """How scores follow degradation level for one kind (or all kinds)."""

    within: float  # mean Spearman(score, -level) over (photo, kind) chains of 4
    pooled: float  # Spearman(score, -level) over all rows of the kind, across photos
    pairs: float  # share of (original, degraded copy) pairs scored in the right order


@dataclass(frozen=True)
class EvaluationReport:
    kinds: dict[str, KindReport]
    overall_within: float
    overall_pooled: float
    overall_pairs: float


def _spearman(a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]) -> float:
    """scipy's Spearman rho (average ranks for ties); 0 where it is undefined (a constant input)."""
    value = float(spearmanr(a, b).statistic)
    return 0.0 if math.isnan(value) else value


def evaluate(data: Dataset, scores: npt.NDArray[np.floating]) -> EvaluationReport:
    """Spearman correlation of ``scores`` with quality order (original > level 1 > 2 > 3)."""
    scores = np.asarray(scores, dtype=np.float64)
    quality = -data.level.astype(np.float64)
    kinds: dict[str, KindReport] = {}
    all_within: list[float] = []
    all_pairs: list[bool] = []
    for kind in sorted({k for k in data.kind if k != "original"}):
        within: list[float] = []
        pairs: list[bool] = []
        rows: list[int] = []
        for photo in sorted(set(data.photo)):
            chain = [
                i
                for i, (p, k) in enumerate(zip(data.photo, data.kind, strict=True))
                if p == photo and k in ("original", kind)
            ]
            if len(chain) < 2:
                continue
            rows += chain
            within.append(_spearman(scores[chain], quality[chain]))
            original = next(i for i in chain if data.level[i] == 0)
            pairs += [bool(scores[original] > scores[i]) for i in chain if i != original]
        kinds[kind] = KindReport(
            float(np.mean(within)), _spearman(scores[rows], quality[rows]), float(np.mean(pairs))
        )
        all_within += within
        all_pairs += pairs
    return EvaluationReport(
        kinds=kinds,
        overall_within=float(np.mean(all_within)) if all_within else 0.0,
        overall_pooled=_spearman(scores, quality),
        overall_pairs=float(np.mean(all_pairs)) if all_pairs else 0.0,
    )
