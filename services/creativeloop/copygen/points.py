"""Rank the selling points copy may use: the profile's own list, its tags, never an ad-law breach.

`ContentProfile.selling_points` comes best first from the understanding stage (review phrases
scored by mentions x positivity, `understanding.text_tags.selling_points`); tags add attribute,
review and title evidence with a fused confidence. A phrase found in both gets both scores. The
category itself is no selling point ("dresses" sells nothing), and a phrase the compliance
checker objects to is dropped here, before any generator can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from creativeloop.compliance import check
from creativeloop.v1 import common_pb2

#: Weight of a listed selling point at rank r: LIST_WEIGHT * LIST_DECAY ** r.
LIST_WEIGHT, LIST_DECAY = 1.0, 0.85
#: How much a tag's confidence counts, by the source that saw it best.
TAG_WEIGHTS = {
    common_pb2.TAG_SOURCE_ATTRIBUTE: 0.8,
    common_pb2.TAG_SOURCE_REVIEW: 0.7,
    common_pb2.TAG_SOURCE_TITLE: 0.5,
    common_pb2.TAG_SOURCE_IMAGE: 0.4,
}
MAX_POINT_CHARS = 24


@dataclass(frozen=True)
class RankedPoint:
    text: str
    score: float
    sources: tuple[str, ...] = field(default=())


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def rank_points(profile: common_pb2.ContentProfile, language: str, limit: int = 6) -> list[RankedPoint]:
    """Up to `limit` distinct, compliant selling points, best first (deterministic)."""
    scores: dict[str, float] = {}
    surface: dict[str, str] = {}
    sources: dict[str, list[str]] = {}
    category = {_key(p) for p in profile.category.replace(">", "/").split("/") if p.strip()}

    def add(text: str, score: float, source: str) -> None:
        key = _key(text)
        if not key or len(key) > MAX_POINT_CHARS or key in category:
            return
        surface.setdefault(key, " ".join(text.split()))
        scores[key] = scores.get(key, 0.0) + score
        sources.setdefault(key, []).append(source)

    for rank, text in enumerate(profile.selling_points):
        add(text, LIST_WEIGHT * LIST_DECAY**rank, "selling_points")
    for tag in profile.tags:
        weight = TAG_WEIGHTS.get(tag.source, 0.0)
        if weight:
            add(tag.text, weight * float(tag.confidence), common_pb2.TagSource.Name(tag.source).lower())
    ranked = sorted(scores, key=lambda k: (-scores[k], k))
    chosen: list[RankedPoint] = []
    for key in ranked:
        if check(surface[key], language=language):
            continue
        if any(key in _key(c.text) or _key(c.text) in key for c in chosen):
            continue  # "soft cotton" already says "cotton"
        chosen.append(RankedPoint(surface[key], round(scores[key], 4), tuple(dict.fromkeys(sources[key]))))
        if len(chosen) == limit:
            break
    return chosen
