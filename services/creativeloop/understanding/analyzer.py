"""Per-image understanding: OCR, classifier tags, scene, main product, aesthetics, measurements.

Every model call goes through the `ModelClient` (embedded or Triton, a setting); images of one
product share the OCR and classifier batches. Results are cached by content hash, so an
unchanged image costs one file read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from creativeloop.kit.assets import AssetStore
from creativeloop.kit.models.client import ModelClient
from creativeloop.kit.models.image_classifier import ImageClassifier
from creativeloop.understanding.admission import measure_image
from creativeloop.understanding.aesthetics import AestheticScorer
from creativeloop.understanding.analysis_cache import AnalysisCache
from creativeloop.understanding.fusion import image_tags
from creativeloop.understanding.images import LoadedImage
from creativeloop.understanding.ocr import OcrPipeline, OcrResult, text_area_ratio
from creativeloop.understanding.product_box import locate_product
from creativeloop.understanding.scene import SceneClass, SceneClassifier
from creativeloop.v1 import common_pb2

# The models the analysis calls: what service health checks before it says SERVING.
REQUIRED_MODELS = ("ocr_det", "ocr_cls", "ocr_rec", "image_classifier", "aesthetics")
# Bump when the analysis code changes meaning; model changes are covered by the manifest digest.
ANALYSIS_VERSION = "analysis-2"

SCENE_TO_PROTO = {
    SceneClass.PLAIN_PRODUCT: common_pb2.SCENE_CLASS_PLAIN_PRODUCT,
    SceneClass.LIFESTYLE: common_pb2.SCENE_CLASS_LIFESTYLE,
    SceneClass.PERSON: common_pb2.SCENE_CLASS_PERSON,
    SceneClass.DETAIL_CLOSEUP: common_pb2.SCENE_CLASS_DETAIL_CLOSEUP,
    SceneClass.TEXT_POSTER: common_pb2.SCENE_CLASS_TEXT_POSTER,
    SceneClass.COLLAGE: common_pb2.SCENE_CLASS_COLLAGE,
}


@dataclass
class StageTimer:
    """Seconds spent per stage, summed over calls (for the benchmark and the logs)."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, started: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - started
        return now


def words_only(result: OcrResult) -> OcrResult:
    """Keep lines with at least two letters or digits. The recogniser reads a big plain shape as
    "●" and a garment's silhouette as "A", "X" or "M" (measured on the demo catalogue); such reads
    are not text on the picture and must not count towards its text area."""
    lines = tuple(line for line in result.lines if sum(ch.isalnum() for ch in line.text) >= 2)
    ratio = text_area_ratio(lines, result.width, result.height) if lines else 0.0
    return OcrResult(lines, result.width, result.height, ratio)


class ImageAnalyzer:
    def __init__(
        self,
        client: ModelClient,
        repository: Path,
        assets: AssetStore,
        cache: AnalysisCache | None,
        *,
        language: str = "en",
    ) -> None:
        self.ocr = OcrPipeline.from_repository(client, repository)
        self.classifier = ImageClassifier(client, repository / "image_classifier" / "labels.txt")
        self.scene = SceneClassifier.from_repository(client, repository)
        self.aesthetics = AestheticScorer(client)
        self.assets = assets
        self.cache = cache
        self.language = language

    def analyse(
        self, images: Sequence[LoadedImage], timer: StageTimer | None = None
    ) -> list[common_pb2.ImageAnalysis]:
        """One ImageAnalysis per image, in order; cached ones are not recomputed."""
        timer = timer or StageTimer()
        results: dict[int, common_pb2.ImageAnalysis] = {}
        todo: list[LoadedImage] = []
        for image in images:
            cached = self.cache.get(image.sha256) if self.cache is not None else None
            if cached is not None:
                cached.image_index = image.index
                results[image.index] = cached
            else:
                todo.append(image)
        if todo:
            for image, analysis in zip(todo, self._compute(todo, timer), strict=True):
                if self.cache is not None:
                    self.cache.put(image.sha256, analysis)
                results[image.index] = analysis
        return [results[image.index] for image in images]

    def _compute(self, images: Sequence[LoadedImage], timer: StageTimer) -> list[common_pb2.ImageAnalysis]:
        pixels = [image.bgr for image in images]
        start = time.perf_counter()
        ocr = [words_only(result) for result in self.ocr.read(pixels)]
        start = timer.add("ocr", start)
        classes = self.classifier.classify(pixels)
        start = timer.add("classifier", start)
        # The classifier's full distribution feeds the scene signals: one classifier call per image.
        scenes = self.scene.classify(
            pixels,
            ocr,
            classifier_probabilities=[c.probabilities for c in classes if c.probabilities is not None],
        )
        start = timer.add("scene", start)
        analyses = []
        for image, text, labels, scene in zip(images, ocr, classes, scenes, strict=True):
            start = time.perf_counter()
            # Text and badges read on the picture are not the product (issue 16).
            box = locate_product(image.bgr, text_boxes=[line.box for line in text.lines])
            start = timer.add("product_box", start)
            evidence = measure_image(
                image.bgr, scorer=self.aesthetics, text_area_ratio=text.text_area_ratio, ocr_text=text.text
            )
            start = timer.add("aesthetics", start)
            mask_uri, mask_sha = self.assets.put(box.mask_png(), "image/png")
            x, y, w, h = box.box_normalised
            tags = [
                common_pb2.Tag(text=t.text, source=common_pb2.TAG_SOURCE_IMAGE, confidence=t.confidence)
                for t in image_tags([labels.top], self.language)
            ]
            analyses.append(
                common_pb2.ImageAnalysis(
                    image_index=image.index,
                    sha256=image.sha256,
                    width=image.width,
                    height=image.height,
                    ocr=[
                        common_pb2.OcrLine(
                            text=line.text,
                            confidence=round(line.confidence, 4),
                            quad=line.quad(image.width, image.height),
                        )
                        for line in text.lines
                    ],
                    text_area_ratio=round(text.text_area_ratio, 4),
                    scene=SCENE_TO_PROTO[scene.scene],
                    scene_confidence=scene.confidence,
                    product_box=common_pb2.Box(x=x, y=y, width=w, height=h),
                    product_mask=common_pb2.Media(uri=mask_uri, sha256=mask_sha, mime_type="image/png"),
                    product_confidence=round(box.confidence, 4),
                    aesthetic_score=round(evidence.aesthetic_score or 0.0, 2),
                    tags=tags,
                    measurements={
                        "edge_sharpness": round(evidence.edge_sharpness, 3),
                        "product_fill_ratio": round(box.fill_ratio, 4),
                        **{f"scene.{name}": value for name, value in scene.signals},
                    },
                )
            )
            timer.add("assemble", start)
        return analyses
