"""Fuse tag evidence from title, attributes, category, reviews and image classifier labels.

Each source gives a confidence for a tag (`text_tags.TextTag`, or an image label's probability
x the image source's reliability). Sources are treated as independent witnesses and combined by
**noisy-OR**:

    fused = 1 - prod_s (1 - c_s)      (c_s = the best confidence source s gives the tag)

so a tag seen in the title (0.9) and in an image (0.8 x p) always ranks above either alone, extra
sources can only raise it, and it stays in [0, 1]. Within one source the best evidence counts
(three photos of the same shirt are not three independent witnesses). Image labels are ImageNet
classes; `IMAGENET_PRODUCTS` maps the ones that name goods to product words in English and
Chinese, plus broader words they support at a discount ('jersey, T-shirt' -> "t-shirt", and
"top" at 0.7 of it), so that the image can corroborate a title that says "top". Deterministic:
ties break on the number of sources, then the tag text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from creativeloop.understanding.text_tags import SOURCE_CONFIDENCE, TagSource, TextTag

#: Share of an image word's confidence that its broader words ("top" for "t-shirt") get.
BROADER_FACTOR = 0.7
#: ImageNet labels with no product mapping: kept (English copy only) at this share, since the
#: classifier may still name the goods ("teddy bear") but more often names the background.
UNMAPPED_FACTOR = 0.5
#: Order in which sources break ties and are listed.
SOURCE_ORDER = (TagSource.TITLE, TagSource.ATTRIBUTE, TagSource.IMAGE, TagSource.CATEGORY, TagSource.REVIEW)


def _words(text: str) -> frozenset[str]:
    """A word list written as one space-separated string (easier to review than a list literal)."""
    return frozenset(text.split())


@dataclass(frozen=True)
class ProductWord:
    en: str
    zh: str
    broader: tuple[str, ...] = ()


def _p(en: str, zh: str, *broader: str) -> ProductWord:
    return ProductWord(en, zh, broader)


#: ImageNet-1k class (its first synonym, lower case, as in ILSVRC2012 class lists) -> product word.
IMAGENET_PRODUCTS: Mapping[str, ProductWord] = {
    "jersey": _p("t-shirt", "T恤", "top", "tee"),
    "sweatshirt": _p("sweatshirt", "卫衣", "top", "hoodie"),
    "cardigan": _p("cardigan", "开衫", "sweater"),
    "jean": _p("jeans", "牛仔裤", "pants", "denim"),
    "miniskirt": _p("skirt", "短裙", "mini"),
    "overskirt": _p("skirt", "半身裙"),
    "hoopskirt": _p("skirt", "半身裙"),
    "gown": _p("dress", "连衣裙", "gown"),
    "abaya": _p("dress", "长袍", "abaya"),
    "kimono": _p("kimono", "和服", "robe"),
    "trench coat": _p("trench coat", "风衣", "coat", "jacket"),
    "fur coat": _p("coat", "大衣", "fur"),
    "suit": _p("suit", "西装", "blazer"),
    "poncho": _p("poncho", "斗篷"),
    "pajama": _p("pajamas", "睡衣", "sleepwear"),
    "brassiere": _p("bra", "文胸", "bralette"),
    "bikini": _p("bikini", "比基尼", "swimsuit"),
    "maillot": _p("swimsuit", "泳衣"),
    "swimming trunks": _p("swim trunks", "泳裤", "swimwear"),
    "stole": _p("scarf", "围巾", "wrap"),
    "bow tie": _p("bow tie", "领结"),
    "windsor tie": _p("tie", "领带"),
    "apron": _p("apron", "围裙"),
    "sock": _p("socks", "袜子"),
    "cowboy boot": _p("boots", "靴子", "shoes"),
    "running shoe": _p("sneakers", "运动鞋", "shoes"),
    "loafer": _p("loafers", "乐福鞋", "shoes"),
    "sandal": _p("sandals", "凉鞋", "shoes"),
    "clog": _p("clogs", "木底鞋", "shoes"),
    "cowboy hat": _p("hat", "帽子"),
    "sombrero": _p("hat", "帽子"),
    "bonnet": _p("hat", "帽子"),
    "mitten": _p("mittens", "手套", "gloves"),
    "backpack": _p("backpack", "双肩包", "bag"),
    "purse": _p("handbag", "手提包", "bag"),
    "wallet": _p("wallet", "钱包"),
    "sunglasses": _p("sunglasses", "太阳镜", "eyewear"),
    "sunglass": _p("sunglasses", "太阳镜", "eyewear"),
    "digital watch": _p("watch", "手表"),
    "necklace": _p("necklace", "项链", "jewelry"),
    "lipstick": _p("lipstick", "口红", "makeup"),
    "lotion": _p("lotion", "乳液", "skincare"),
    "sunscreen": _p("sunscreen", "防晒霜", "skincare"),
    "perfume": _p("perfume", "香水"),
    "face powder": _p("face powder", "粉饼", "makeup"),
    "hair spray": _p("hair spray", "发胶"),
    "coffee mug": _p("mug", "马克杯", "cup"),
    "water bottle": _p("water bottle", "水杯", "bottle"),
    "teapot": _p("teapot", "茶壶"),
    "cellular telephone": _p("phone", "手机", "smartphone"),
    "laptop": _p("laptop", "笔记本电脑", "computer"),
    "notebook": _p("laptop", "笔记本电脑", "computer"),
    "computer keyboard": _p("keyboard", "键盘"),
    "mouse": _p("mouse", "鼠标"),
    "monitor": _p("monitor", "显示器"),
    "loudspeaker": _p("speaker", "音箱"),
    "pillow": _p("pillow", "枕头"),
    "quilt": _p("quilt", "被子", "bedding"),
    "studio couch": _p("sofa", "沙发"),
    "dining table": _p("table", "餐桌"),
    "folding chair": _p("chair", "椅子"),
    "teddy": _p("teddy bear", "毛绒玩具", "toy"),
}

#: Spellings of one tag (after case folding); plurals are handled by `canonical`.
ALIASES: Mapping[str, str] = {
    "tee": "t-shirt",
    "tees": "t-shirt",
    "tshirt": "t-shirt",
    "t shirt": "t-shirt",
    "colour": "color",
    "grey": "gray",
    "jean": "jeans",
    "sneaker": "sneakers",
    "pyjamas": "pajamas",
}
#: Words that are plural in form only (a pair of jeans), or end in s anyway.
_KEEP_S = _words(
    "jeans pants shorts leggings trousers sunglasses pajamas glasses tights overalls sneakers "
    "boots sandals loafers clogs socks mittens gloves dress canvas chiffon linen cashmere "
    "swimwear bus lens gas yes this plus"
)


@dataclass(frozen=True)
class SourceConfidence:
    source: TagSource
    confidence: float
    text: str  # the tag as that source wrote it


@dataclass(frozen=True)
class FusedTag:
    """A tag with every source that supports it (best first) and the noisy-OR of their confidences."""

    text: str
    confidence: float
    sources: tuple[SourceConfidence, ...]

    @property
    def source(self) -> TagSource:
        """The strongest source (what a single-source `Tag` message would record)."""
        return self.sources[0].source


def canonical(text: str) -> str:
    """The key tags are merged on: NFKC, case-folded, single spaces, aliases, naive singular."""
    key = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip(" -_.,;:")
    key = ALIASES.get(key, key)
    words = key.split(" ")
    last = words[-1]
    if last.isascii() and last.isalpha() and len(last) > 3 and last not in _KEEP_S:
        if last.endswith("ies"):
            last = last[:-3] + "y"
        elif last.endswith(("ches", "shes", "sses", "xes")):
            last = last[:-2]
        elif last.endswith("s") and not last.endswith(("ss", "us", "is")):
            last = last[:-1]
    key = " ".join([*words[:-1], last])
    return ALIASES.get(key, key)


def _label_synonyms(label: str) -> list[str]:
    return [s.strip().casefold() for s in label.split(",") if s.strip()]


def image_tags(
    image_labels: Sequence[Sequence[tuple[str, float]]],
    language: str = "en",
    min_probability: float = 0.05,
) -> list[TextTag]:
    """Image classifier output ((label, probability) per image) as image-source tags.

    A mapped label gives its product word at probability x the image source's reliability and its
    broader words at `BROADER_FACTOR` of that; an unmapped label gives its first synonym at
    `UNMAPPED_FACTOR` (English only: an English ImageNet word cannot support Chinese copy).
    Labels under `min_probability` and non-finite probabilities are ignored.
    """
    base = SOURCE_CONFIDENCE[TagSource.IMAGE]
    best: dict[str, float] = {}
    for labels in image_labels:
        for label, probability in labels:
            if not isinstance(probability, int | float) or not 0.0 <= probability <= 1.0:
                continue
            if probability < min_probability:
                continue
            synonyms = _label_synonyms(str(label))
            if not synonyms:
                continue
            product = next((IMAGENET_PRODUCTS[s] for s in synonyms if s in IMAGENET_PRODUCTS), None)
            found: list[tuple[str, float]] = []
            if product is not None:
                word = product.zh if language == "zh" else product.en
                found.append((word, base * probability))
                if language != "zh":
                    found.extend((b, base * probability * BROADER_FACTOR) for b in product.broader)
            elif language != "zh":
                found.append((synonyms[0], base * probability * UNMAPPED_FACTOR))
            for word, confidence in found:
                best[word] = max(best.get(word, 0.0), confidence)
    return [
        TextTag(word, TagSource.IMAGE, round(confidence, 4))
        for word, confidence in sorted(best.items(), key=lambda item: (-item[1], item[0]))
    ]


def noisy_or(confidences: Iterable[float]) -> float:
    """1 - prod(1 - c): the chance at least one independent witness is right."""
    miss = 1.0
    for c in confidences:
        miss *= 1.0 - max(0.0, min(1.0, c))
    return 1.0 - miss


def fuse_tags(
    text_evidence: Sequence[TextTag],
    image_labels: Sequence[Sequence[tuple[str, float]]] = (),
    *,
    language: str = "en",
    limit: int = 20,
    min_probability: float = 0.05,
) -> list[FusedTag]:
    """Ranked tags from all evidence: noisy-OR over sources (see the module docstring), best first.

    `text_evidence` is `text_tags.text_tags(...)` output (any sources, image tags included if
    already converted); `image_labels` is the image classifier's (label, probability) list per
    image. Empty input gives an empty list.
    """
    evidence = [*text_evidence, *image_tags(image_labels, language, min_probability)]
    per_key: dict[str, dict[TagSource, SourceConfidence]] = {}
    for tag in evidence:
        key = canonical(tag.text)
        if not key or not 0.0 < tag.confidence <= 1.0:
            continue
        sources = per_key.setdefault(key, {})
        known = sources.get(tag.source)
        if known is None or tag.confidence > known.confidence:
            sources[tag.source] = SourceConfidence(tag.source, tag.confidence, tag.text)
    fused = []
    for key, sources in per_key.items():
        ordered = tuple(sorted(sources.values(), key=lambda s: (-s.confidence, SOURCE_ORDER.index(s.source))))
        display = _display(key, ordered)
        fused.append(FusedTag(display, round(noisy_or(s.confidence for s in ordered), 4), ordered))
    fused.sort(key=lambda t: (-t.confidence, -len(t.sources), SOURCE_ORDER.index(t.source), t.text))
    return fused[:limit]


def _display(key: str, sources: Sequence[SourceConfidence]) -> str:
    """How to write the tag: the canonical key, except a text source's own spelling when it only
    differs in case or spacing (keeps "T恤" rather than "t恤" for Chinese)."""
    for s in sources:
        if s.source != TagSource.IMAGE and re.sub(r"\s+", " ", s.text).casefold().strip() == key:
            return s.text.strip()
    return key
