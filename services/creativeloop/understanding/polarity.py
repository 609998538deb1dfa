"""The Chinese word polarity table that ranks Chinese selling points (naive-Bayes positivity).

The table is built at install time from a Chinese review corpus (`creativeloop.datasets.zh_reviews`,
run by ``creativeloop data fetch``) and read here, by the understanding service; nothing here
downloads or builds anything at run time.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

POLARITY_FILE = "zh_review_polarity.json"
POLARITY_FORMAT = 1
FETCH_COMMAND = "creativeloop data fetch"


class ChineseReviewsMissing(FileNotFoundError):
    """The Chinese review corpus or its polarity table is not in the data directory."""


@dataclass(frozen=True)
class Polarity:
    """Per-word document counts in positive and negative reviews: a naive-Bayes positivity.

    `positivity(words)` = P(positive | words present) with add-one smoothing and an even prior
    (the corpus is not balanced, and a phrase's polarity should not inherit that), in [0, 1];
    0.5 for words the table has never seen.
    """

    n_pos: int
    n_neg: int
    counts: Mapping[str, tuple[int, int]]

    def log_odds(self, word: str) -> float:
        pos, neg = self.counts.get(word, (0, 0))
        if pos == 0 and neg == 0:
            return 0.0
        return math.log((pos + 1) / (self.n_pos + 2)) - math.log((neg + 1) / (self.n_neg + 2))

    def positivity(self, words: Iterable[str]) -> float:
        total = sum(self.log_odds(word) for word in dict.fromkeys(words))
        total = max(-30.0, min(30.0, total))
        return 1.0 / (1.0 + math.exp(-total))

    @classmethod
    def from_documents(cls, documents: Iterable[tuple[Iterable[str], bool]], min_documents: int) -> Polarity:
        """Count each word once per document; keep words seen in at least `min_documents`."""
        pos_df: Counter[str] = Counter()
        neg_df: Counter[str] = Counter()
        n_pos = n_neg = 0
        for words, positive in documents:
            unique = set(words)
            if positive:
                n_pos += 1
                pos_df.update(unique)
            else:
                n_neg += 1
                neg_df.update(unique)
        counts = {
            word: (pos_df[word], neg_df[word])
            for word in sorted(set(pos_df) | set(neg_df))
            if pos_df[word] + neg_df[word] >= min_documents
        }
        return cls(n_pos=n_pos, n_neg=n_neg, counts=counts)

    def to_json(self, source: str = "") -> bytes:
        payload = {
            "format": POLARITY_FORMAT,
            "source": source,
            "n_pos": self.n_pos,
            "n_neg": self.n_neg,
            "counts": {word: list(pair) for word, pair in sorted(self.counts.items())},
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, content: bytes) -> Polarity:
        data = json.loads(content)
        if data.get("format") != POLARITY_FORMAT:
            raise ValueError(f"polarity table format {data.get('format')!r}, expected {POLARITY_FORMAT}")
        counts = {str(w): (int(p), int(n)) for w, (p, n) in data["counts"].items()}
        return cls(n_pos=int(data["n_pos"]), n_neg=int(data["n_neg"]), counts=counts)


def load_polarity(data_dir: Path) -> Polarity:
    """The Chinese polarity table built at install time; `ChineseReviewsMissing` names the fetch
    command when it is absent."""
    table = data_dir / POLARITY_FILE
    if not table.is_file():
        raise ChineseReviewsMissing(
            f"Chinese review polarity table not found at {table}: run `{FETCH_COMMAND} --data-dir {data_dir}`"
        )
    return Polarity.from_json(table.read_bytes())
