"""Tags from product text. The skeleton reads titles, categories and attributes; review phrases,
Chinese segmentation and image tags join with the full understanding pipeline."""

from __future__ import annotations

import re
from collections.abc import Iterable

from creativeloop.v1 import common_pb2

_WORD = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)
_CJK = re.compile(r"[\u4e00-\u9fff]+")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "this",
        "that",
        "to",
        "with",
        "new",
        "sale",
        "hot",
        "free",
        "best",
        "women",
        "women's",
        "men",
        "men's",
    ]
)

_SOURCE_CONFIDENCE: dict[common_pb2.TagSource, float] = {
    common_pb2.TAG_SOURCE_TITLE: 0.9,
    common_pb2.TAG_SOURCE_ATTRIBUTE: 0.8,
    common_pb2.TAG_SOURCE_CATEGORY: 0.7,
}


def title_terms(text: str) -> list[str]:
    """Lower-cased content words of `text`, in order, without stopwords or duplicates.

    Runs of CJK characters are kept whole (proper segmentation comes with jieba later).
    """
    terms: list[str] = []
    for match in re.finditer(f"{_WORD.pattern}|{_CJK.pattern}", text):
        term = match.group(0).lower().strip("'-")
        if len(term) < 2 or term in STOPWORDS or term in terms:
            continue
        terms.append(term)
    return terms


def extract_tags(product: common_pb2.Product, max_tags: int) -> list[common_pb2.Tag]:
    """Tags with source and confidence; a term found in several sources keeps its best
    confidence and gains a little for each corroborating source."""
    found: dict[str, tuple[common_pb2.TagSource, float, int]] = {}

    def add(terms: Iterable[str], source: common_pb2.TagSource) -> None:
        for rank, term in enumerate(terms):
            confidence = _SOURCE_CONFIDENCE[source] * (1.0 - 0.02 * rank)
            if term in found:
                best_source, best, seen = found[term]
                if confidence > best:
                    best_source, best = source, confidence
                found[term] = (best_source, best, seen + 1)
            else:
                found[term] = (source, confidence, 1)

    add(title_terms(product.title), common_pb2.TAG_SOURCE_TITLE)
    add(title_terms(" ".join(product.attributes.values())), common_pb2.TAG_SOURCE_ATTRIBUTE)
    add(title_terms(product.category.replace("/", " ")), common_pb2.TAG_SOURCE_CATEGORY)
    scored = [
        (min(1.0, confidence + 0.05 * (seen - 1)), term, source)
        for term, (source, confidence, seen) in found.items()
    ]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [
        common_pb2.Tag(text=term, source=source, confidence=round(confidence, 4))
        for confidence, term, source in scored[:max_tags]
    ]
