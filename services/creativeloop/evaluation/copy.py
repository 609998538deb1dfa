"""How good is the generated copy? Held-out reviews, their real titles as the reference.

    creativeloop eval copy [--repository deploy/model-repository] [--reviews 300]

For reviews of products the model never saw (the Clothing-ID split of `corpus.py`), each system
writes headlines for the `headline` slot (<= 30 characters) and is scored against the review's
real title:

- **model**: the learned generator's first surviving candidate (posterior mean, greedy, first)
  after the ad-law, length and `fit_for_ads` filters; diversity over all K candidates per review;
- **copygen**: the whole service path (model + templates, filters, MMR), top-1;
- **template**: templates only, fed with what understanding would give (class name as the
  title, selling points mined from the review by `text_tags.selling_points`);
- **first sentence**: the review's first sentence, cut at a word boundary to the slot.

Figures: ROUGE-L F1 (word LCS, lower-cased), distinct-1/2 (unique n-grams / n-grams over all
candidates), the share of candidates that pass the ad-law check, slot length violations, and
the share of raw model drafts the filters dropped. When the repository has no copy generator,
the tiny profile is built into a temporary repository first.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from creativeloop.compliance import check
from creativeloop.copygen.compose import fit_for_ads
from creativeloop.copygen.copywriter import shorten
from creativeloop.copygen.generator import ENCODER, MODELS, CopyModel
from creativeloop.copygen.service import Generators, compose_copy
from creativeloop.copygen.settings import CopygenSettings
from creativeloop.copygen.slots import SLOTS
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.training.copy_model.corpus import Pair, load_pairs, split_by_product
from creativeloop.training.repository.builder import build_repository
from creativeloop.understanding.text_tags import ReviewText, selling_points
from creativeloop.v1 import common_pb2

SLOT = SLOTS["headline"]
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased words (Lin, 2004), beta = 1."""
    a, b = words(candidate), words(reference)
    if not a or not b:
        return 0.0
    row = [0] * (len(b) + 1)
    for x in a:
        previous = 0
        for j, y in enumerate(b, start=1):
            previous, row[j] = row[j], previous + 1 if x == y else max(row[j], row[j - 1])
    lcs = row[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def distinct(texts: Sequence[str], n: int) -> float:
    grams = [tuple(w[i : i + n]) for w in map(words, texts) for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@dataclass
class Scores:
    name: str
    top1: list[str] = field(default_factory=list)
    pooled: list[str] = field(default_factory=list)
    rouge: list[float] = field(default_factory=list)
    drafts: int = 0
    dropped: int = 0

    def add(self, reference: str, candidates: list[str]) -> None:
        best = candidates[0] if candidates else ""
        self.top1.append(best)
        self.pooled += candidates
        self.rouge.append(rouge_l(best, reference))

    def row(self) -> str:
        texts = [t for t in self.pooled if t]
        compliant = np.mean([not check(t, language="en") for t in texts]) if texts else float("nan")
        over = sum(len(t) > SLOT.limit(t) for t in texts)
        dropped = f"{self.dropped / self.drafts:.1%}" if self.drafts else "-"
        cells = [
            self.name,
            f"{np.mean(self.rouge):.3f}",
            f"{distinct(texts, 1):.3f}",
            f"{distinct(texts, 2):.3f}",
            f"{distinct(self.top1, 2):.3f}",
            f"{compliant:.1%}",
            str(over),
            f"{np.mean([len(t) for t in self.top1]):.1f}",
            f"{len(texts) / max(len(self.top1), 1):.1f}",
            dropped,
        ]
        return "| " + " | ".join(cells) + " |"


def first_sentence(review: str) -> str:
    sentence = re.split(r"(?<=[.!?])\s+", review.strip(), maxsplit=1)[0].rstrip(".!? ")
    return shorten(sentence, SLOT.max_chars)


def review_profile(pair: Pair, index: int) -> common_pb2.ContentProfile:
    """What understanding would know about the product of one review (no product title exists)."""
    points = [p.text for p in selling_points([ReviewText(pair.review, 5)], language="en")]
    department = pair.source.split("|", 1)[1].split(":", 1)[0].strip()
    return common_pb2.ContentProfile(
        product_id=f"q{index}",
        product_version=1,
        title=pair.class_name,
        category=f"{department} / {pair.class_name}",
        selling_points=points,
        language="en",
    )


def ensure_repository(named: Path) -> Path:
    """``named`` when it holds the copy generator, else a temporary repository with the tiny profile
    built into it."""
    if (named / ENCODER / "config.pbtxt").is_file():
        return named
    tmp = Path(tempfile.mkdtemp(prefix="copygen-quality-"))
    build_repository(tmp, only=list(MODELS), docs_dir=None, log=lambda _: None)
    return tmp


def evaluate(
    repository: Path, data_dir: Path, reviews: int, samples: int, seed: int
) -> tuple[str, list[Scores], list[str]]:
    split = split_by_product(load_pairs(data_dir), seed)
    rng = np.random.default_rng(seed)
    held = [split.held_out[i] for i in sorted(rng.choice(len(split.held_out), reviews, replace=False))]
    client = EmbeddedModelClient(repository)
    model = CopyModel(client, repository)
    settings = CopygenSettings(models={"repository": repository}, model_samples=samples)
    generators = Generators(settings, client)
    systems = {k: Scores(k) for k in ("model", "copygen (model + templates)", "template", "first sentence")}
    for index, pair in enumerate(held):
        rows = model.generate(pair.source, samples=samples, seed=seed + index)
        raw = [shorten(r.text[:1].upper() + r.text[1:], SLOT.max_chars) for r in rows]
        kept = [t for t in raw if t and fit_for_ads(t) and not check(t, language="en")]
        systems["model"].drafts += len(raw)
        systems["model"].dropped += len(raw) - len(kept)
        systems["model"].add(pair.target, kept)
        profile = review_profile(pair, index)
        _, full = compose_copy(profile, settings, slot="headline", max_candidates=4, generators=generators)
        systems["copygen (model + templates)"].add(pair.target, [c.text for c in full.candidates])
        _, plain = compose_copy(profile, settings, slot="headline", max_candidates=4, templates_only=True)
        systems["template"].add(pair.target, [c.text for c in plain.candidates])
        systems["first sentence"].add(pair.target, [first_sentence(pair.review)])
    client.close()
    return model.version, list(systems.values()), [p.target for p in held]


def markdown(
    version: str, repository: Path, reviews: int, systems: Sequence[Scores], references: Sequence[str]
) -> str:
    """The systems table and ten examples, as `evaluate`'s results print."""
    lines = [
        f"model {version} from {repository}; {reviews} held-out reviews; slot headline (<= 30 chars)\n",
        "| system | ROUGE-L F1 (top-1) | distinct-1 | distinct-2 | distinct-2 of top-1s | compliant "
        "| over length | mean chars | candidates per review | model drafts dropped |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [system.row() for system in systems]
    lines.append("\nexamples (reference -> model | copygen top-1 | template | first sentence):")
    for i in range(min(10, len(references))):
        lines.append(f"- {references[i]!r} -> " + " | ".join(repr(s.top1[i]) for s in systems))
    return "\n".join(lines)
