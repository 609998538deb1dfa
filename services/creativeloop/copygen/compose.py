"""From a profile to the final candidates: generate, filter by law and length, dedupe, diversify.

    ranked selling points -> model drafts (English, when the model is in the repository)
                          + template drafts (always; the only source for Chinese)
    -> fit to the slot (shorten at word boundaries) -> ad-law check (any finding: dropped)
    -> near-duplicates dropped -> MMR order -> top N, each with its explanation

Nothing that `creativeloop.compliance.check` objects to and nothing over the slot's limit
leaves this function; the checks run on the final text, after shortening.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, replace

from creativeloop.compliance import check, lexicon_version
from creativeloop.copygen.copywriter import Language, copy_id, shorten, template_of, write_copy
from creativeloop.copygen.diversity import mmr, tokens, words
from creativeloop.copygen.generator import GENERATOR, CopyModel, profile_seed, profile_source
from creativeloop.copygen.points import RankedPoint, rank_points
from creativeloop.copygen.slots import Slot, fits
from creativeloop.v1 import common_pb2, copygen_pb2

#: A model draft's score: prior * (MODEL_FLOOR + (1 - MODEL_FLOOR) * per-token probability), where the
#: prior is the model's `rank_weight` (the tiny smoke-test model ranks below the templates).
MODEL_FLOOR = 0.8
MIN_MODEL_CHARS = 8
TEMPLATE_POOL = 30
#: Review titles can be lukewarm ("Not for me", "Runs small"): no ad says that.
NEGATIVE = frozenset(
    {"not", "no", "never", "don't", "didn't", "doesn't", "wasn't", "isn't", "won't", "but", "meh"}
    | {"disappointed", "disappointing", "disappointment", "ok", "okay", "return", "returned", "returning"}
    | {"cheap", "poor", "bad", "small", "big", "huge", "tight", "itchy", "sadly", "unfortunately"}
    | {"wanted", "hoped", "almost", "size", "sizing"}
)
#: Letters, digits, spaces and plain punctuation only, no runs of punctuation (";;;", "!!!!").
PLAIN = re.compile(r"^(?!.*[^\w\s]{3})[\w\s'!?,.&-]+$")


@dataclass(frozen=True)
class Draft:
    text: str
    quality: float
    source: str  # "vae" | "template"
    variant: str  # template id or latent kind
    points: tuple[str, ...]


@dataclass
class Composition:
    candidates: list[common_pb2.CopyCandidate]
    explanations: list[copygen_pb2.CandidateExplanation]
    dropped_compliance: int = 0
    dropped_length: int = 0


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _points_in(text: str, points: list[RankedPoint]) -> tuple[str, ...]:
    words = tokens(text)
    return tuple(p.text for p in points if tokens(p.text) and tokens(p.text) <= words)


def fit_for_ads(text: str) -> bool:
    """A model draft worth showing: no negative, hedging or sizing word, no word twice in a row,
    plain punctuation only."""
    found = words(text)
    if not PLAIN.match(text) or any(w in NEGATIVE for w in found):
        return False
    return all(a != b for a, b in itertools.pairwise(found))


def model_drafts(
    model: CopyModel, profile: common_pb2.ContentProfile, points: list[RankedPoint], slot: Slot, samples: int
) -> list[Draft]:
    source = profile_source(profile, [p.text for p in points])
    drafts = []
    for row in model.generate(source, samples=samples, seed=profile_seed(profile)):
        text = shorten(_capitalise(row.text.strip()), slot.max_chars)
        if len(text) < MIN_MODEL_CHARS or not fit_for_ads(text):
            continue
        quality = model.rank_weight * (MODEL_FLOOR + (1 - MODEL_FLOOR) * math.exp(row.logprob))
        drafts.append(Draft(text, round(quality, 6), GENERATOR, row.latent, _points_in(text, points)))
    return drafts


def template_drafts(
    profile: common_pb2.ContentProfile, points: list[RankedPoint], language: Language, slot: Slot
) -> list[Draft]:
    ranked = common_pb2.ContentProfile()
    ranked.CopyFrom(profile)
    del ranked.selling_points[:]
    ranked.selling_points.extend(p.text for p in points)
    written = write_copy(
        ranked, language=language, max_candidates=TEMPLATE_POOL, max_length=slot.limit(language)
    )
    return [Draft(c.text, c.score, "template", template_of(c), _points_in(c.text, points)) for c in written]


def compose(
    profile: common_pb2.ContentProfile,
    *,
    language: Language,
    slot: Slot,
    max_candidates: int,
    model: CopyModel | None,
    model_samples: int,
    diversity: float,
) -> Composition:
    points = rank_points(profile, language)
    drafts = template_drafts(profile, points, language, slot)
    if model is not None and language == "en":
        drafts = model_drafts(model, profile, points, slot, model_samples) + drafts
    kept: list[Draft] = []
    result = Composition([], [])
    for draft in drafts:
        if not fits(draft.text, slot):
            text = shorten(draft.text, slot.limit(draft.text))
            if not fits(text, slot):
                result.dropped_length += 1
                continue
            draft = replace(draft, text=text)
        if check(draft.text, language=language):
            result.dropped_compliance += 1
            continue
        kept.append(draft)
    chosen = mmr(kept, lambda d: d.quality, lambda d: d.text, max_candidates, lam=1.0 - diversity)
    version = lexicon_version()
    model_version = model.version if model is not None else ""
    floor = math.inf
    for draft, value in chosen:
        floor = min(floor, value)
        cid = copy_id(
            draft.variant if draft.source == "template" else f"{GENERATOR}:{model_version}", draft.text
        )
        reason = (
            f"template {draft.variant}"
            if draft.source == "template"
            else f"model {GENERATOR} ({draft.variant})"
        ) + (f" with selling point {draft.points[0]!r}" if draft.points else "")
        result.candidates.append(
            common_pb2.CopyCandidate(
                copy_id=cid,
                text=draft.text,
                score=round(max(floor, 0.0), 6),
                reason=reason,
                generator=draft.source,
            )
        )
        result.explanations.append(
            copygen_pb2.CandidateExplanation(
                copy_id=cid,
                source=draft.source,
                variant=draft.variant,
                selling_points=list(draft.points),
                quality=draft.quality,
                compliance_checked=True,
                lexicon_version=version,
                length=len(draft.text),
                length_limit=slot.limit(draft.text),
                model_version=model_version if draft.source == GENERATOR else "",
            )
        )
    return result
