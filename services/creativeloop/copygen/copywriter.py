"""Template copywriting: a content profile in, ranked and explained copy candidates out.

Each `CopyTemplate` is a pattern over a few slots filled from the profile; a template is used
only when every slot it names has a value. Slots:

    {title}            the product title (the one slot that may be shortened to fit)
    {point} {Point}    a selling point, as given / capitalised
    {point2} {Point2}  the next selling point
    {category}         the last level of the category path, lower-cased ({Category}: capitalised)
    {price}            the formatted price, e.g. "$59.99" (only when the profile has a price)

A template with selling point slots yields one draft per selling point (best first), scored
`prior * POINT_DECAY ** rank`. Drafts are de-duplicated on their normalised text; then each
further draft from an already used template is discounted by `REPEAT_PENALTY`, so the top of
the list mixes templates. Everything is deterministic: the same profile gives the same
candidates, in the same order, with the same ids.

>>> from creativeloop.v1 import common_pb2
>>> profile = common_pb2.ContentProfile(
...     title="Flowy Linen Summer Dress", category="Women / Dresses",
...     selling_points=["linen", "flowy"],
...     price=common_pb2.Price(currency="USD", amount_micros=59_990_000))
>>> [c.text for c in write_copy(profile, language="en", max_candidates=3, max_length=40)]
['Flowy Linen Summer Dress, only $59.99', 'Linen & flowy: Flowy Linen Summer Dress', 'Discover linen dresses']
"""

from __future__ import annotations

import hashlib
import re
import string
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from creativeloop.kit.money import format_price
from creativeloop.v1 import common_pb2

Language = Literal["en", "zh"]

#: Score factor per rank of the selling point a draft uses (the best point scores highest).
POINT_DECAY = 0.9
#: Score factor for each earlier candidate from the same template (diversity).
REPEAT_PENALTY = 0.8
#: Selling points considered per template.
MAX_POINTS = 3
#: A title is never shortened below this many characters; the draft is skipped instead.
MIN_TITLE_CHARS = 4
GENERATOR = "template"

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
_TRAILING = " ,;:-–—/&|·，、：；"
_DANGLING = frozenset(
    ("a", "an", "and", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the", "to", "with")
)


@dataclass(frozen=True)
class CopyTemplate:
    template_id: str
    pattern: str
    #: Prior quality of the template, 0..1; the score of its best draft.
    prior: float
    language: Language

    @property
    def slots(self) -> frozenset[str]:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.pattern) if name)


TEMPLATES: dict[Language, tuple[CopyTemplate, ...]] = {
    "en": (
        CopyTemplate("en-title-price", "{title}, only {price}", 0.9, "en"),
        CopyTemplate("en-points-title", "{Point} & {point2}: {title}", 0.85, "en"),
        CopyTemplate("en-discover", "Discover {point} {category}", 0.8, "en"),
        CopyTemplate("en-shop-now", "Shop the {title} today", 0.75, "en"),
        CopyTemplate("en-category-price", "{Category} from {price}", 0.7, "en"),
        CopyTemplate("en-new-in", "New in: {title}", 0.65, "en"),
        CopyTemplate("en-title", "{title}", 0.5, "en"),
    ),
    "zh": (
        CopyTemplate("zh-title-price", "{title}，到手价{price}", 0.9, "zh"),
        CopyTemplate("zh-points-title", "{point}·{point2}｜{title}", 0.85, "zh"),
        CopyTemplate("zh-discover", "发现{point}好物：{title}", 0.8, "zh"),
        CopyTemplate("zh-shop-now", "立即抢购{title}", 0.75, "zh"),
        CopyTemplate("zh-title", "{title}", 0.5, "zh"),
    ),
}


def resolve_language(requested: int, profile_language: str) -> Language:
    """The request's language if it names one, else the profile's ("zh*" -> zh, else en)."""
    if requested == common_pb2.COPY_LANGUAGE_ZH:
        return "zh"
    if requested == common_pb2.COPY_LANGUAGE_EN:
        return "en"
    return "zh" if profile_language.lower().startswith("zh") else "en"


def copy_id(template_id: str, text: str) -> str:
    """Short, stable id of one piece of copy from one template."""
    return hashlib.sha256(f"{template_id}\n{text}".encode()).hexdigest()[:16]


def template_of(candidate: common_pb2.CopyCandidate) -> str:
    """The template id named in a template candidate's reason ("template <id>[ with ...]")."""
    kind, _, rest = candidate.reason.partition(" ")
    return rest.split(" ", 1)[0] if kind == "template" else ""


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters: on a word boundary for spaced text, between
    characters for CJK; empty when not even the first word fits."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    window = text[: limit + 1]
    if " " in window:
        cut = window[: window.rfind(" ")]
    elif _CJK.search(window):
        cut = text[:limit]
    else:
        return ""
    words = cut.rstrip(_TRAILING).split(" ")
    while len(words) > 1 and words[-1].casefold() in _DANGLING:
        words.pop()  # "Dress with Pockets and" -> "Dress with Pockets"
    return " ".join(words).rstrip(_TRAILING)


def _category(profile: common_pb2.ContentProfile) -> str:
    levels = [part.strip() for part in re.split(r"[/>|]", profile.category) if part.strip()]
    return levels[-1] if levels else ""


@dataclass(frozen=True)
class _Draft:
    template: CopyTemplate
    text: str
    score: float
    point: str


def _bindings(
    template: CopyTemplate, base: dict[str, str], points: list[str]
) -> Iterator[tuple[dict[str, str], int, str]]:
    """Slot values for each way `template` can be filled: (values, point rank, point)."""
    slots = template.slots
    if any(not base.get(slot) for slot in slots if slot in base):
        return
    if not slots & {"point", "Point", "point2", "Point2"}:
        yield base, 0, ""
        return
    category = base["category"].casefold()
    for rank, point in enumerate(points[:MAX_POINTS]):
        if "category" in slots and (
            category.startswith(point.casefold()) or point.casefold().startswith(category)
        ):
            continue  # "Discover dress dresses"
        values = {**base, "point": point, "Point": _capitalise(point)}
        if slots & {"point2", "Point2"}:
            if rank + 1 >= len(points):
                continue
            values["point2"] = points[rank + 1]
            values["Point2"] = _capitalise(points[rank + 1])
        yield values, rank, point


def _fit(template: CopyTemplate, values: dict[str, str], max_length: int) -> str | None:
    """The filled template within `max_length`, shortening the title if it has one."""
    text = _collapse(template.pattern.format(**values))
    if len(text) <= max_length:
        return text
    if "title" not in template.slots:
        return None
    budget = max_length - (len(text) - len(values["title"]))
    title = shorten(values["title"], budget)
    if len(title) < min(MIN_TITLE_CHARS, len(values["title"])):
        return None
    text = _collapse(template.pattern.format(**{**values, "title": title}))
    return text if len(text) <= max_length else None


def write_copy(
    profile: common_pb2.ContentProfile,
    *,
    language: Language,
    max_candidates: int,
    max_length: int,
) -> list[common_pb2.CopyCandidate]:
    """Up to `max_candidates` distinct candidates of at most `max_length` characters, best first."""
    points: list[str] = []
    seen: set[str] = set()
    for raw in profile.selling_points:
        point = _collapse(raw)
        if point and point.casefold() not in seen:
            seen.add(point.casefold())
            points.append(point)
    category = _category(profile)
    base = {
        "title": _collapse(profile.title),
        "category": category.lower() if language == "en" else category,
        "Category": _capitalise(category),
        "price": format_price(profile.price),
    }
    best: dict[str, _Draft] = {}
    for template in TEMPLATES[language]:
        for values, rank, point in _bindings(template, base, points):
            text = _fit(template, values, max_length)
            if text is None:
                continue
            draft = _Draft(template, text, template.prior * POINT_DECAY**rank, point)
            key = text.casefold()
            if key not in best or draft.score > best[key].score:
                best[key] = draft
    ordered = sorted(best.values(), key=lambda d: (-d.score, d.text))
    uses: Counter[str] = Counter()
    ranked: list[tuple[float, _Draft]] = []
    for draft in ordered:
        ranked.append((draft.score * REPEAT_PENALTY ** uses[draft.template.template_id], draft))
        uses[draft.template.template_id] += 1
    ranked.sort(key=lambda item: (-item[0], item[1].text))
    return [
        common_pb2.CopyCandidate(
            copy_id=copy_id(draft.template.template_id, draft.text),
            text=draft.text,
            score=round(score, 6),
            reason=f"template {draft.template.template_id}"
            + (f" with selling point {draft.point!r}" if draft.point else ""),
            generator=GENERATOR,
        )
        for score, draft in ranked[:max_candidates]
    ]
