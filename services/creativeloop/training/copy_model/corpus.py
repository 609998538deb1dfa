"""Training pairs for the copy generator: (review text + class/department) -> the review's title.

Only reviews rated 4 or 5 with a title are used: ad copy should sound like a happy customer,
not like "Some major design flaws". The split is by Clothing ID (a product is in exactly one
of train / held-out), drawn with a seeded permutation of the sorted ids, so it is the same on
every machine. The serving side builds the same kind of source text from a content profile
(`creativeloop.copygen.tokenizer.source_text`), so training and serving inputs share one format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from creativeloop.copygen.tokenizer import source_text
from creativeloop.datasets.reviews import load_reviews, read_reviews

MIN_RATING = 4
HELD_OUT_SHARE = 0.1


@dataclass(frozen=True)
class Pair:
    clothing_id: int
    source: str
    target: str
    class_name: str
    review: str


@dataclass(frozen=True)
class Split:
    train: list[Pair]
    held_out: list[Pair]


def load_pairs(data_dir: Path) -> list[Pair]:
    """Every usable (source, title) pair in corpus order (raises ReviewDataMissing without data)."""
    pairs = []
    for row in read_reviews(load_reviews(data_dir)):
        if row.rating < MIN_RATING or not row.title.strip():
            continue
        pairs.append(
            Pair(
                clothing_id=row.clothing_id,
                source=source_text(row.class_name, row.department, row.text),
                target=" ".join(row.title.split()),
                class_name=row.class_name,
                review=row.text,
            )
        )
    return pairs


def split_by_product(pairs: Sequence[Pair], seed: int, held_out_share: float = HELD_OUT_SHARE) -> Split:
    """Hold out whole products: ids ranked by a seeded permutation, the first share held out."""
    ids = np.array(sorted({p.clothing_id for p in pairs}))
    order = np.random.default_rng(seed).permutation(len(ids))
    held = {int(i) for i in ids[order[: max(1, round(len(ids) * held_out_share))]]}
    return Split(
        train=[p for p in pairs if p.clothing_id not in held],
        held_out=[p for p in pairs if p.clothing_id in held],
    )
