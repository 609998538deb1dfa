"""Shot scores: a weighted sum of sampled-frame features, plus an embedding per shot.

A shot's score is the mean of its samples' scores; the per-sample scores are kept so the
selector can trim a long shot to its best stretch. Product presence comes from the product's
colour model (classical); when a model embedder and a product image are given, the cosine
similarity between the shot's keyframe and the product image is averaged in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from creativeloop.videogen.analyse import Analysis
from creativeloop.videogen.embed import Embedder, ModelEmbedder
from creativeloop.videogen.features import FrameFeatures
from creativeloop.videogen.segment import Shot

Floats = npt.NDArray[np.float32]
FEATURES = ("quality", "motion", "product", "text", "faces")
#: Cosine similarity of model embeddings below this means "unrelated" (0), 1 means identical.
_MODEL_SIMILARITY_FLOOR = 0.3
#: Samples this close to a shot's ends may show a transition: not used as keyframes if avoidable.
_EDGE_FRAMES = 8


@dataclass(frozen=True)
class Weights:
    quality: float = 1.0
    motion: float = 0.5
    product: float = 1.5
    text: float = -0.5
    faces: float = 0.3

    def combine(self, values: dict[str, float]) -> float:
        return float(sum(getattr(self, name) * values[name] for name in FEATURES))


@dataclass
class ScoredShot:
    shot: Shot
    score: float
    features: dict[str, float]
    #: (frame, score) of each sample inside the shot, in frame order.
    samples: list[tuple[int, float]]
    #: The best sample's frame: the shot's keyframe (embeddings, poster, contact sheet).
    keyframe: int
    descriptor: Floats = field(default_factory=lambda: np.zeros(1, np.float32))


def _sample_values(sample: FrameFeatures, faces: float) -> dict[str, float]:
    return {
        "quality": sample.quality,
        "motion": sample.motion,
        "product": sample.product,
        "text": sample.text,
        "faces": faces if math.isnan(sample.faces) else sample.faces,
    }


def _samples_of(shot: Shot, samples: list[FrameFeatures]) -> list[FrameFeatures]:
    inside = [s for s in samples if shot.start <= s.frame < shot.end]
    if inside or not samples:
        return inside
    middle = (shot.start + shot.end) / 2
    return [min(samples, key=lambda s: abs(s.frame - middle))]


def _keyframe(shot: Shot, per_sample: list[tuple[int, float]]) -> int:
    """The best sample away from the shot's edges (where fades and dissolves blend shots)."""
    margin = min(_EDGE_FRAMES, shot.frames // 4)
    inner = [p for p in per_sample if shot.start + margin <= p[0] < shot.end - margin] or per_sample
    return max(inner, key=lambda p: p[1])[0] if inner else (shot.start + shot.end) // 2


def score_shots(
    analysis: Analysis,
    weights: Weights,
    embedder: Embedder,
    product_image: npt.NDArray[np.uint8] | None = None,
) -> list[ScoredShot]:
    """Score every shot of `analysis`; descriptors come from `embedder` on the keyframes."""
    scored: list[ScoredShot] = []
    for shot in analysis.shots:
        inside = _samples_of(shot, analysis.samples)
        face_values = [s.faces for s in inside if not math.isnan(s.faces)]
        faces = float(np.mean(face_values)) if face_values else 0.0
        values = [_sample_values(s, faces) for s in inside]
        means = {name: float(np.mean([v[name] for v in values])) if values else 0.0 for name in FEATURES}
        per_sample = [(s.frame, weights.combine(v)) for s, v in zip(inside, values, strict=True)]
        keyframe = _keyframe(shot, per_sample)
        scored.append(ScoredShot(shot, weights.combine(means), means, per_sample, keyframe))
    if not scored:
        return scored
    keyframes = [analysis.keyframes[s.keyframe] for s in scored if s.keyframe in analysis.keyframes]
    if len(keyframes) == len(scored):
        descriptors = embedder.embed(keyframes)
        for shot_score, descriptor in zip(scored, descriptors, strict=True):
            shot_score.descriptor = descriptor
    if product_image is not None and isinstance(embedder, ModelEmbedder) and len(keyframes) == len(scored):
        reference = embedder.embed([product_image])[0]
        for shot_score in scored:
            cosine = float(shot_score.descriptor @ reference)
            similar = min(1.0, max(0.0, (cosine - _MODEL_SIMILARITY_FLOOR) / (1 - _MODEL_SIMILARITY_FLOOR)))
            shot_score.features["product_similarity"] = similar
            blended = 0.5 * shot_score.features["product"] + 0.5 * similar
            shot_score.score += weights.product * (blended - shot_score.features["product"])
            shot_score.features["product"] = blended
    for shot_score in scored:
        shot_score.features["score"] = shot_score.score
    return scored
