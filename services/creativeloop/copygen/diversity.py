"""Near-duplicate removal and maximal marginal relevance (MMR) over copy candidates.

Similarity is token overlap (Jaccard of lower-cased word sets; character bigrams for CJK),
cheap and good enough to tell "Love this dress!" from "Love this dress" and from "Perfect
summer top". MMR (Carbonell & Goldstein, 1998) picks, one at a time, the candidate maximising
`lam * score - (1 - lam) * max similarity to those already picked`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
_WORD = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]")
_CJK = re.compile(r"[\u3400-\u9fff]")
DUPLICATE = 0.75


def words(text: str) -> list[str]:
    """Lower-cased words (apostrophes kept: "don't"), in order."""
    return re.findall(r"[a-z0-9']+", text.casefold())


def tokens(text: str) -> frozenset[str]:
    """Word set for spaced text, character bigrams (plus words) for CJK."""
    parts = _WORD.findall(text.casefold())
    words = {p for p in parts if not _CJK.fullmatch(p)}
    han = "".join(p for p in parts if _CJK.fullmatch(p))
    bigrams = {han[i : i + 2] for i in range(len(han) - 1)} or set(han)
    return frozenset(words | bigrams)


def similarity(a: str, b: str) -> float:
    ta, tb = tokens(a), tokens(b)
    if not ta or not tb:
        return 1.0 if a.casefold().strip() == b.casefold().strip() else 0.0
    return len(ta & tb) / len(ta | tb)


def mmr(
    items: Sequence[T], score: Callable[[T], float], text: Callable[[T], str], k: int, lam: float = 0.7
) -> list[tuple[T, float]]:
    """Up to `k` items in MMR order with their marginal value; near-duplicates (>= DUPLICATE) dropped."""
    pool = sorted(items, key=lambda it: (-score(it), text(it)))
    chosen: list[tuple[T, float]] = []
    while pool and len(chosen) < k:
        best, best_value = None, float("-inf")
        for item in pool:
            redundancy = max((similarity(text(item), text(c)) for c, _ in chosen), default=0.0)
            value = lam * score(item) - (1.0 - lam) * redundancy
            if value > best_value:
                best, best_value = item, value
        assert best is not None
        pool.remove(best)
        chosen.append((best, best_value))
        pool = [it for it in pool if similarity(text(it), text(best)) < DUPLICATE]
    return chosen
