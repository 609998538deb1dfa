"""Build a ContentProfile from a Product: the one path both the RPC and the stream take.

Text evidence (title, attributes, category, reviews) and image evidence (classifier labels) are
fused into ranked tags; images get OCR, scene, main-product box and mask, aesthetics and their own
admission; the product's admission adds ad-law checks of the title and OCR text. Deterministic:
the same product version and models give the same profile.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from creativeloop.kit.assets import asset_store_from_settings
from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.models.client import ModelClient
from creativeloop.understanding.admission import AdmissionThresholds, ImageEvidence, judge_product
from creativeloop.understanding.analysis_cache import AnalysisCache
from creativeloop.understanding.analyzer import ANALYSIS_VERSION, ImageAnalyzer, StageTimer
from creativeloop.understanding.fusion import FusedTag, fuse_tags
from creativeloop.understanding.images import load_images
from creativeloop.understanding.polarity import ChineseReviewsMissing, Polarity, load_polarity
from creativeloop.understanding.settings import UnderstandingSettings
from creativeloop.understanding.text_tags import (
    ReviewText,
    TagSource,
    detect_language,
    selling_points,
    text_tags,
)
from creativeloop.v1 import common_pb2

TAG_SOURCE_TO_PROTO = {
    TagSource.TITLE: common_pb2.TAG_SOURCE_TITLE,
    TagSource.REVIEW: common_pb2.TAG_SOURCE_REVIEW,
    TagSource.IMAGE: common_pb2.TAG_SOURCE_IMAGE,
    TagSource.CATEGORY: common_pb2.TAG_SOURCE_CATEGORY,
    TagSource.ATTRIBUTE: common_pb2.TAG_SOURCE_ATTRIBUTE,
}


def check_product(product: common_pb2.Product, settings: UnderstandingSettings) -> None:
    """Raise InvalidEvent with a reason for input no profile should be built from."""
    if not product.product_id:
        raise InvalidEvent("missing product.product_id")
    if not product.title.strip():
        raise InvalidEvent("empty product.title")
    if len(product.title) > settings.max_title_chars:
        raise InvalidEvent(
            f"product.title has {len(product.title)} characters, limit {settings.max_title_chars}"
        )
    if len(product.images) > settings.max_images:
        raise InvalidEvent(f"{len(product.images)} images, limit {settings.max_images}")
    if len(product.reviews) > settings.max_reviews:
        raise InvalidEvent(f"{len(product.reviews)} reviews, limit {settings.max_reviews}")
    for index, image in enumerate(product.images):
        if not image.uri and not image.content:
            raise InvalidEvent(f"images[{index}] has neither uri nor content")
        if len(image.content) > settings.max_image_bytes:
            raise InvalidEvent(
                f"images[{index}] is {len(image.content)} bytes, limit {settings.max_image_bytes}"
            )


def thresholds(settings: UnderstandingSettings) -> AdmissionThresholds:
    return AdmissionThresholds(
        min_width=settings.admission_min_width,
        min_height=settings.admission_min_height,
        min_edge_sharpness=settings.admission_min_edge_sharpness,
        max_text_area_ratio=settings.admission_max_text_area_ratio,
        min_aesthetic_score=settings.admission_min_aesthetic_score,
        block_on_warnings=settings.admission_block_on_warnings,
    )


def models_digest(repository: Path) -> str:
    """Short hash of the repository manifest: the models part of the pipeline version."""
    try:
        return hashlib.sha256((repository / "manifest.json").read_bytes()).hexdigest()[:12]
    except OSError:
        return "no-manifest"


class ProfileBuilder:
    """Holds the models, caches and corpora one understanding process needs."""

    def __init__(self, settings: UnderstandingSettings, client: ModelClient | None, repository: Path) -> None:
        self.settings = settings
        self.assets = asset_store_from_settings(settings.common)
        self.pipeline_version = f"{ANALYSIS_VERSION}+models-{models_digest(repository)}"
        cache = (
            AnalysisCache(settings.common.asset_dir / "analysis", self.pipeline_version)
            if settings.cache_analyses
            else None
        )
        self.analyzer = ImageAnalyzer(client, repository, self.assets, cache) if client is not None else None
        self.thresholds = thresholds(settings)
        self.polarity: Polarity | None
        try:
            self.polarity = load_polarity(settings.data_dir)
        except ChineseReviewsMissing:
            self.polarity = None  # a seed word list stands in (see text_tags.selling_points)

    def build(
        self, product: common_pb2.Product, timer: StageTimer | None = None
    ) -> common_pb2.ContentProfile:
        check_product(product, self.settings)
        settings = self.settings
        language = product.language or detect_language(product.title)
        images = load_images(product, self.assets, settings.max_image_bytes, settings.max_image_pixels)
        analyses = self.analyzer.analyse(images, timer) if self.analyzer is not None and images else []
        reviews = [ReviewText(r.text, r.rating or None, r.title) for r in product.reviews]
        evidence = text_tags(product.title, product.category, dict(product.attributes), reviews, language)
        image_labels = [[(t.text, t.confidence) for t in a.tags] for a in analyses]
        fused = fuse_tags(evidence, image_labels, language=language, limit=settings.max_tags)
        points = selling_points(reviews, language=language, polarity=self.polarity, max_points=5)
        ocr_text = "\n".join(line.text for a in analyses for line in a.ocr)
        verdict = judge_product(
            product.title,
            [
                ImageEvidence(
                    a.width,
                    a.height,
                    a.measurements["edge_sharpness"],
                    a.aesthetic_score,
                    a.text_area_ratio,
                    "\n".join(line.text for line in a.ocr),
                )
                for a in analyses
            ],
            self.thresholds,
            language=language,
        )
        for analysis, image_verdict in zip(analyses, verdict.images, strict=True):
            analysis.admission.CopyFrom(
                common_pb2.Admission(
                    admitted=image_verdict.admitted, reason_codes=list(image_verdict.reasons)
                )
            )
        return common_pb2.ContentProfile(
            product_id=product.product_id,
            product_version=product.version,
            title=product.title.strip(),
            category=product.category,
            price=product.price,
            # Profiles travel on Kafka: keep media by reference, never inline bytes.
            images=[
                common_pb2.Media(uri=m.uri, sha256=m.sha256, mime_type=m.mime_type) for m in product.images
            ],
            videos=[
                common_pb2.Media(
                    uri=product.video.uri, sha256=product.video.sha256, mime_type=product.video.mime_type
                )
            ]
            if product.video.uri
            else [],
            tags=[
                common_pb2.Tag(
                    text=tag.text,
                    source=TAG_SOURCE_TO_PROTO[tag.source],
                    confidence=tag.confidence,
                    evidence=[
                        common_pb2.TagEvidence(source=TAG_SOURCE_TO_PROTO[s.source], confidence=s.confidence)
                        for s in tag.sources
                    ],
                )
                for tag in fused
            ],
            selling_points=[p.text for p in points]
            or [t.text for t in fused if t.source != TagSource.CATEGORY][:5],
            admission=common_pb2.Admission(
                admitted=verdict.admitted,
                reason_codes=list(verdict.reasons),
                reasons=[common_pb2.AdmissionReason(code=code) for code in verdict.reasons],
            ),
            language=language,
            pipeline_version=self.pipeline_version,
            image_analyses=analyses,
            signal_confidences=signal_confidences(analyses, fused),
            ocr_text=ocr_text,
        )


def signal_confidences(
    analyses: list[common_pb2.ImageAnalysis], fused: Sequence[FusedTag]
) -> dict[str, float]:
    """Mean confidence of each signal over the images (and of the top tags), for downstream weighting."""
    result: dict[str, float] = {}
    if analyses:
        lines = [line.confidence for a in analyses for line in a.ocr]
        result["ocr"] = round(sum(lines) / len(lines), 4) if lines else 0.0
        result["scene"] = round(sum(a.scene_confidence for a in analyses) / len(analyses), 4)
        result["product_box"] = round(sum(a.product_confidence for a in analyses) / len(analyses), 4)
        result["aesthetics"] = round(sum(a.aesthetic_score for a in analyses) / len(analyses) / 100.0, 4)
    top = [t.confidence for t in fused[:5]]
    result["tags"] = round(sum(top) / len(top), 4) if top else 0.0
    return result
